//! `sosik sources`: one line per configured source, from its stored state.

use std::io::Write;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Ctx, print_table, rfc3339};
use crate::store::Store;

/// Prints the sources' table (or JSON Lines with `json`); exit code 0.
pub fn print_sources(ctx: &Ctx, json: bool, out: &mut dyn Write) -> anyhow::Result<u8> {
    let ago = |t: Option<DateTime<Utc>>| t.map_or("never".to_owned(), rfc3339);
    let mut rows = Vec::new();
    for source in &ctx.config.sources {
        let state = ctx.store.source_state(&source.id)?.unwrap_or_default();
        let url = state
            .moved_to
            .clone()
            .unwrap_or_else(|| source.url.to_string());
        if json {
            let line = json!({
                "id": source.id.as_str(),
                "url": url,
                "configured_url": source.url.as_str(),
                "moved_to": state.moved_to,
                "title": source.title.clone().or(state.title.clone()),
                "enabled": source.enabled,
                "last_fetch": state.last_fetch.map(rfc3339),
                "last_success": state.last_success.map(rfc3339),
                "status": state.last_status,
                "etag": state.etag,
                "last_modified": state.last_modified,
                "next_poll": state.next_poll.map(rfc3339),
                "consecutive_errors": state.consecutive_errors,
                "last_error": state.last_error,
                "gone": state.gone,
                "stories_new_last_poll": state.last_new,
                "stories_updated_last_poll": state.last_updated,
            });
            writeln!(out, "{line}")?;
            continue;
        }
        let validators = match (&state.etag, &state.last_modified) {
            (Some(_), Some(_)) => "etag+last-modified",
            (Some(_), None) => "etag",
            (None, Some(_)) => "last-modified",
            (None, None) => "none",
        };
        let status = state.last_status.map_or("-".to_owned(), |s| s.to_string());
        let next = if !source.enabled {
            "disabled".to_owned()
        } else if state.gone {
            "never (gone)".to_owned()
        } else {
            state.next_poll.map_or("now".to_owned(), rfc3339)
        };
        let mut error = state.last_error.clone().unwrap_or_else(|| "-".into());
        if let Some(moved) = &state.moved_to {
            error = format!("{error} (moved permanently to {moved})");
        }
        rows.push([
            source.id.to_string(),
            ago(state.last_fetch),
            status,
            validators.to_owned(),
            next,
            state.consecutive_errors.to_string(),
            error,
        ]);
    }
    if !json {
        let header = [
            "SOURCE",
            "LAST FETCH",
            "STATUS",
            "VALIDATORS",
            "NEXT POLL",
            "ERRORS",
            "LAST ERROR",
        ]
        .map(str::to_owned);
        print_table(out, &header, &rows)?;
        print_past_fault(out, &ctx.store)?;
    }
    Ok(0)
}

/// The storage fault a daemon rode out, if any, after the sources' table: their polls could
/// not record their failures meanwhile.
fn print_past_fault(out: &mut dyn Write, store: &Store) -> anyhow::Result<()> {
    if let Some(fault) = store.last_fault()? {
        writeln!(
            out,
            "store: could not write from {} to {} ({})",
            rfc3339(fault.since),
            rfc3339(fault.until),
            fault.reason
        )?;
    }
    Ok(())
}
