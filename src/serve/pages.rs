//! The small non-feed answers: the index page (`/`), `/healthz` and `/sources.opml`. Each is
//! built in memory from the config, the publisher and the store; none reads a file, and none
//! shows a `file:` URL (a source's URL appears only where [`published_url`] allows it).
//!
//! `/healthz` always answers 200 while the daemon runs (it is a liveness check); its body says
//! whether the sources are healthy: `"status":"degraded"` when any enabled source's last poll
//! failed (its stored state counts consecutive errors), with how many (`failing`) and which
//! (`failing_sources`, the first [`MAX_FAILING_LISTED`] ids in config order), and when the
//! store cannot write (a full disk, say): `"store":{"status":"degraded","kind":…,"reason":…,
//! "since":…}` (else `"store":{"status":"ok"}`).

use crate::html::escape;
use std::fmt::Write as _;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::conditional::http_date;
use super::error::{ServeError, blocking};
use crate::publish::PublishError;
use crate::render::{FeedMeta, Format};

/// How many failing source ids `/healthz` lists; `failing` counts them all.
pub(super) const MAX_FAILING_LISTED: usize = 50;

/// Self-contained: inline styles only, no scripts, nothing fetched from elsewhere.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'";

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;\
padding:0 1rem;color:#222;background:#fff}h1{font-size:1.6rem;margin-bottom:0}\
.lede{color:#666;margin-top:.2rem}section{border-top:1px solid #ddd;padding:.6rem 0}\
h2{font-size:1.15rem;margin:.3rem 0}.meta{color:#666;font-size:.9rem;margin:.2rem 0}\
a{color:#0650a8}.links a{margin-right:.9rem}footer{border-top:1px solid #ddd;\
padding-top:.6rem;font-size:.9rem}table{border-collapse:collapse;width:100%;font-size:.9rem}\
th,td{text-align:left;padding:.25rem .5rem .25rem 0;vertical-align:top}th{color:#666;\
font-weight:normal}tr.failing td:nth-child(2),tr.gone td:nth-child(2){color:#b00020}\
tr.error td{color:#b00020;padding-left:1rem;padding-bottom:.5rem}\
@media(prefers-color-scheme:dark){body{color:#ddd;background:#161616}a{color:#7ab0f0}}";

/// What the index page says about one output.
struct Listing {
    name: String,
    title: String,
    description: String,
    items: usize,
    last_modified: chrono::DateTime<chrono::Utc>,
}

/// How a source's polls go, as `/` and `/healthz` tell it (one rule for both).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Health {
    Ok,
    /// Its last poll failed.
    Failing,
    /// It answered 410: no longer polled.
    Gone,
    Disabled,
    /// Never polled yet.
    New,
}

impl Health {
    fn label(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Failing => "failing",
            Health::Gone => "gone",
            Health::Disabled => "disabled",
            Health::New => "new",
        }
    }

    /// Whether `/healthz` counts the source as one whose last poll failed.
    fn last_poll_failed(self) -> bool {
        matches!(self, Health::Failing | Health::Gone)
    }
}

/// What the index page says about one source: how its polls go.
struct SourceRow {
    id: String,
    title: String,
    /// Its URL, when it may be published (not a `file:` path).
    url: Option<String>,
    health: Health,
    last_success: Option<chrono::DateTime<chrono::Utc>>,
    next_poll: Option<chrono::DateTime<chrono::Utc>>,
    consecutive_errors: u32,
    last_error: Option<String>,
}

/// Every configured source's health, from its stored state. Blocking.
fn source_rows(publisher: &crate::publish::Publisher) -> Result<Vec<SourceRow>, PublishError> {
    let store = publisher.store();
    let mut rows = Vec::new();
    for source in &publisher.config().sources {
        let state = store.source_state(&source.id)?;
        let health = match &state {
            _ if !source.enabled => Health::Disabled,
            None => Health::New,
            Some(s) if s.gone => Health::Gone,
            Some(s) if s.consecutive_errors > 0 => Health::Failing,
            Some(_) => Health::Ok,
        };
        let state = state.unwrap_or_default();
        rows.push(SourceRow {
            id: source.id.to_string(),
            title: crate::publish::source_title(source, Some(&state)),
            url: crate::publish::published_url(&source.url),
            health,
            last_success: state.last_success,
            next_poll: state.next_poll.filter(|_| source.enabled && !state.gone),
            consecutive_errors: state.consecutive_errors,
            last_error: state.last_error,
        });
    }
    Ok(rows)
}

/// `GET /`: every output with its size, last change and subscribe links; every source with its
/// health.
pub(super) async fn index(State(state): State<AppState>) -> Result<Response, ServeError> {
    let publisher = state.publisher.clone();
    let (listings, sources) = blocking(move || {
        let config = publisher.config();
        let mut listings = Vec::with_capacity(config.outputs.len());
        for output in &config.outputs {
            let rendered = publisher.render(&output.name, Format::Rss)?;
            listings.push(Listing {
                name: output.name.clone(),
                title: output.title.clone(),
                description: output.description.clone(),
                items: rendered.items,
                last_modified: rendered.last_modified,
            });
        }
        Ok((listings, source_rows(&publisher)?))
    })
    .await?;
    let mut page = index_page(&state, &listings);
    let footer = page.rfind("<footer>").unwrap_or(page.len());
    page.insert_str(footer, &sources_section(&sources));
    let headers = [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, "public, max-age=60"),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
    ];
    Ok((headers, page).into_response())
}

/// The sources' health as a table a person reads: the failing ones first, then in config order.
fn sources_section(rows: &[SourceRow]) -> String {
    let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or_else(
            || "—".to_owned(),
            |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
        )
    };
    let mut order: Vec<&SourceRow> = rows.iter().collect();
    order.sort_by_key(|r| r.health != Health::Failing);
    let failing = rows.iter().filter(|r| r.health == Health::Failing).count();
    let mut html = String::from("<section class=\"sources\">\n<h2>Sources</h2>\n");
    let _ = writeln!(
        html,
        "<p class=\"meta\">{} sources, {failing} failing</p>",
        rows.len()
    );
    html.push_str(
        "<table><thead><tr><th>source</th><th>health</th><th>last success</th>\
         <th>next poll</th></tr></thead><tbody>\n",
    );
    for row in order {
        let title = match &row.url {
            Some(url) => format!("<a href=\"{}\">{}</a>", escape(url), escape(&row.title)),
            None => escape(&row.title),
        };
        let health = match row.health {
            Health::Failing => format!("failing ({} in a row)", row.consecutive_errors),
            other => other.label().to_owned(),
        };
        let _ = writeln!(
            html,
            "<tr class=\"{}\"><td>{title}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            row.health.label(),
            escape(&health),
            escape(&when(row.last_success)),
            escape(&when(row.next_poll)),
        );
        if let Some(error) = row
            .last_error
            .as_deref()
            .filter(|_| row.health != Health::Ok)
        {
            let _ = writeln!(
                html,
                "<tr class=\"error\"><td colspan=\"4\">{}</td></tr>",
                escape(error)
            );
        }
    }
    html.push_str("</tbody></table>\n</section>\n");
    html
}

fn index_page(state: &AppState, listings: &[Listing]) -> String {
    let base_url = &state.config().server.base_url;
    let mut html = String::with_capacity(2048 + 512 * listings.len());
    html.push_str("<!doctype html>\n<html><head><meta charset=\"utf-8\">\n");
    html.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    html.push_str("<title>sosik</title>\n");
    for listing in listings {
        let url = meta(listing, base_url).feed_url(Format::Atom);
        let _ = writeln!(
            html,
            "<link rel=\"alternate\" type=\"application/atom+xml\" title=\"{}\" href=\"{}\">",
            escape(&listing.title),
            escape(&url)
        );
    }
    let _ = write!(html, "<style>{STYLE}</style>\n</head><body>\n");
    html.push_str("<h1>sosik</h1>\n");
    let _ = writeln!(
        html,
        "<p class=\"lede\">{} feeds from {} sources</p>",
        listings.len(),
        state.config().sources.len()
    );
    for listing in listings {
        let meta = meta(listing, base_url);
        let _ = write!(html, "<section>\n<h2>{}</h2>\n", escape(&listing.title));
        if !listing.description.trim().is_empty() {
            let _ = writeln!(html, "<p>{}</p>", escape(&listing.description));
        }
        let stories = if listing.items == 1 {
            "story"
        } else {
            "stories"
        };
        // The feed's Last-Modified: when its bytes last changed, as HTTP says it.
        let _ = writeln!(
            html,
            "<p class=\"meta\">{} {stories} · updated {}</p>",
            listing.items,
            escape(&http_date(listing.last_modified))
        );
        html.push_str("<p class=\"links\">");
        for (format, label) in [
            (Format::Rss, "RSS"),
            (Format::Atom, "Atom"),
            (Format::Json, "JSON Feed"),
        ] {
            let _ = write!(
                html,
                "<a href=\"{}\" type=\"{}\">{label}</a>",
                escape(&meta.feed_url(format)),
                escape(format.content_type())
            );
        }
        html.push_str("</p>\n</section>\n");
    }
    let base = escape(base_url);
    let _ = writeln!(
        html,
        "<footer><a href=\"{base}/sources.opml\">Sources (OPML)</a> · \
         <a href=\"{base}/healthz\">health</a> · <a href=\"{base}/metrics\">metrics</a></footer>"
    );
    html.push_str("</body></html>\n");
    html
}

/// The listing as rendering sees it, for the feed URLs.
fn meta<'a>(listing: &'a Listing, base_url: &'a str) -> FeedMeta<'a> {
    FeedMeta {
        name: &listing.name,
        title: &listing.title,
        description: &listing.description,
        base_url,
        ttl_minutes: None,
        updated: listing.last_modified,
    }
}

/// `GET /healthz`: always 200; `{"status":"ok"|"degraded","store":{"status":…},
/// "stories":N,"sources":N,"failing":N,"failing_sources":[ids]}` (see the module notes).
pub(super) async fn healthz(State(state): State<AppState>) -> Result<Response, ServeError> {
    let publisher = state.publisher.clone();
    let read = blocking(move || {
        let rows = source_rows(&publisher)?;
        let failing = rows.into_iter().filter(|r| r.health.last_poll_failed());
        Ok(failing.map(|r| r.id).collect::<Vec<_>>())
    })
    .await;
    // sled can refuse even reads once a write failed: still an answer, saying so.
    let (failing, unreadable) = match read {
        Ok(failing) => (failing, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    let stories = state.publisher.story_count();
    let fault = state.store.fault();
    let status = if failing.is_empty() && fault.is_none() && unreadable.is_none() {
        "ok"
    } else {
        "degraded"
    };
    let store = match (&fault, unreadable) {
        (None, None) => serde_json::json!({ "status": "ok" }),
        (None, Some(reason)) => serde_json::json!({ "status": "degraded", "reason": reason }),
        (Some(fault), _) => serde_json::json!({
            "status": "degraded",
            "kind": fault.kind.label(),
            "reason": fault.sentence(),
            "since": fault.since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }),
    };
    let body = serde_json::json!({
        "status": status,
        "store": store,
        "stories": stories,
        "sources": state.config().sources.len(),
        "failing": failing.len(),
        "failing_sources": &failing[..failing.len().min(MAX_FAILING_LISTED)],
    });
    let headers = [
        (header::CONTENT_TYPE, "application/json"),
        (header::CACHE_CONTROL, "no-store"),
    ];
    Ok((headers, body.to_string()).into_response())
}

/// `GET /sources.opml`: OPML 2.0 of the configured sources ([`Publisher::sources_opml`], the
/// same bytes `sosik export` prints).
pub(super) async fn opml(State(state): State<AppState>) -> Result<Response, ServeError> {
    let publisher = state.publisher.clone();
    let body = blocking(move || Ok(publisher.sources_opml()?)).await?;
    let headers = [
        (header::CONTENT_TYPE, "text/x-opml; charset=utf-8"),
        (header::CACHE_CONTROL, "public, max-age=60"),
    ];
    Ok((headers, body).into_response())
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escaping_covers_markup_and_both_quotes() {
        assert_eq!(
            escape(r#"<a href="x">'IT'&과학</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;IT&#39;&amp;과학&lt;/a&gt;"
        );
    }
}
