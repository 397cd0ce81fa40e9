//! Presentation of each command: tables for people, JSON Lines for scripts. Every command's
//! work is a library call; this file only formats and picks exit codes.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Result, bail};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;

use sosik::config::Config;
use sosik::inspect::InspectOptions;
use sosik::model::{SourceId, Story};
use sosik::pipeline::{PollOutcome, PollReport};
use sosik::store::{Store, StoreOptions};

mod edit;
pub use edit::{AddArgs, add, export, import, remove};

pub(crate) fn open_store(config: &Config) -> Result<Store> {
    Ok(Store::open(&StoreOptions::from(&config.store))?)
}

pub async fn run(config: Config) -> Result<ExitCode> {
    sosik::app::run(Arc::new(config)).await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn poll(config: Config, ids: Vec<String>) -> Result<ExitCode> {
    let progress = indicatif::ProgressBar::new(0);
    if std::io::stderr().is_terminal() {
        progress.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} polling [{bar:30}] {pos}/{len} {msg}",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
    } else {
        progress.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let total = if ids.is_empty() {
        config.sources.iter().filter(|s| s.enabled).count()
    } else {
        ids.len()
    };
    progress.set_length(total as u64);
    let run = sosik::app::poll_now(Arc::new(config), &ids, |report| {
        progress.set_message(report.source.to_string());
        progress.inc(1);
    })
    .await?;
    progress.finish_and_clear();

    let reports = &run.reports;
    let mut out = std::io::stdout().lock();
    print_poll_table(&mut out, reports)?;
    let failed = reports.iter().filter(|r| !r.outcome.is_success()).count();
    let (new, updated) = reports.iter().fold((0, 0), |(n, u), r| match &r.outcome {
        PollOutcome::Stored { counts, .. } => (n + counts.new, u + counts.updated),
        _ => (n, u),
    });
    writeln!(
        out,
        "{} sources: {} ok, {} failed; {new} new, {updated} updated; {} stories stored{}",
        reports.len(),
        reports.len() - failed,
        failed,
        run.stored,
        if run.forgotten > 0 {
            format!(" ({} past retention forgotten)", run.forgotten)
        } else {
            String::new()
        }
    )?;
    if let Some(error) = &run.close_error {
        eprintln!("error: {error}");
    }
    Ok(if failed == 0 && run.close_error.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_poll_table(out: &mut impl Write, reports: &[PollReport]) -> std::io::Result<()> {
    let width = reports
        .iter()
        .map(|r| r.source.as_str().len())
        .max()
        .unwrap_or(6)
        .max(6);
    writeln!(
        out,
        "{:width$}  {:<8} {:>5} {:>8} {:>6} {:>7}  DETAIL",
        "SOURCE", "RESULT", "NEW", "UPDATED", "ITEMS", "TIME"
    )?;
    for r in reports {
        let time = format!("{:.2}s", r.elapsed.as_secs_f64());
        match &r.outcome {
            PollOutcome::Stored {
                status,
                counts,
                items,
                encoding,
            } => writeln!(
                out,
                "{:width$}  {:<8} {:>5} {:>8} {:>6} {:>7}  {encoding}",
                r.source.as_str(),
                format!("ok {status}"),
                counts.new,
                counts.updated,
                items,
                time
            )?,
            PollOutcome::NotModified => writeln!(
                out,
                "{:width$}  {:<8} {:>5} {:>8} {:>6} {:>7}  not modified",
                r.source.as_str(),
                "ok 304",
                "-",
                "-",
                "-",
                time
            )?,
            PollOutcome::Gone => writeln!(
                out,
                "{:width$}  {:<8} {:>5} {:>8} {:>6} {:>7}  the feed is gone (410); polling stopped",
                r.source.as_str(),
                "gone",
                "-",
                "-",
                "-",
                time
            )?,
            PollOutcome::Failed(e) => writeln!(
                out,
                "{:width$}  {:<8} {:>5} {:>8} {:>6} {:>7}  {e}",
                r.source.as_str(),
                "failed",
                "-",
                "-",
                "-",
                time
            )?,
        }
    }
    Ok(())
}

pub fn render(config: Config, name: &str, format: &str) -> Result<ExitCode> {
    let format: sosik::render::Format = format
        .parse()
        .map_err(|_| anyhow::anyhow!("--format must be rss, atom or json, not {format:?}"))?;
    let config = Arc::new(config);
    let store = open_store(&config)?;
    let rendered = sosik::publish::Publisher::new(config, store).render(name, format)?;
    std::io::stdout().lock().write_all(&rendered.bytes)?;
    Ok(ExitCode::SUCCESS)
}

pub fn items(
    config: Config,
    output: Option<String>,
    source: Option<String>,
    limit: Option<usize>,
    json: bool,
) -> Result<ExitCode> {
    let config = Arc::new(config);
    let store = open_store(&config)?;
    let limit = limit.unwrap_or(usize::MAX);
    let publisher = sosik::publish::Publisher::new(config.clone(), store.clone());
    let stories: Box<dyn Iterator<Item = Result<Story, sosik::store::StoreError>>> =
        match (&output, &source) {
            // What the output draws on, as the publisher selects it, without its limit:
            // `items` lists everything unless `--limit`.
            (Some(name), _) => {
                if config.output(name).is_none() {
                    bail!("no output {name:?} in {}", config.file.display())
                }
                Box::new(publisher.stories(name)?)
            }
            (None, Some(id)) => {
                let Some(src) = config.source(id) else {
                    bail!("no source {id:?} in {}", config.file.display())
                };
                Box::new(store.newest_for_source(&src.id))
            }
            (None, None) => Box::new(store.newest()),
        };
    let mut out = std::io::stdout().lock();
    for story in stories.take(limit) {
        let story = story?;
        if json {
            writeln!(out, "{}", story_json(&story))?;
        } else {
            let sources: Vec<&str> = story.sources.iter().map(|s| s.id.as_str()).collect();
            writeln!(
                out,
                "{}  [{}]  {}  {}",
                local_time(story.published, None),
                sources.join(","),
                story.title,
                story.link.as_deref().unwrap_or("-")
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A time for people: minutes and the zone's offset, in `zone` or else the machine's own zone
/// (`TZ`), e.g. `2025-02-03 18:00 +09:00`.
fn local_time(t: DateTime<Utc>, zone: Option<chrono_tz::Tz>) -> String {
    const FORMAT: &str = "%Y-%m-%d %H:%M %:z";
    match zone {
        Some(zone) => t.with_timezone(&zone).format(FORMAT).to_string(),
        None => t.with_timezone(&chrono::Local).format(FORMAT).to_string(),
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn story_json(story: &Story) -> serde_json::Value {
    let sources: Vec<&str> = story.sources.iter().map(|s| s.id.as_str()).collect();
    json!({
        "id": story.identity.republished_guid().0,
        "link": story.link,
        "title": story.title,
        "published": rfc3339(story.published),
        "updated": rfc3339(story.updated),
        "categories": story.categories,
        "authors": story.authors,
        "sources": sources,
    })
}

pub fn sources(config: Config, json: bool) -> Result<ExitCode> {
    let store = open_store(&config)?;
    let mut out = std::io::stdout().lock();
    let ago = |t: Option<DateTime<Utc>>| t.map_or("never".to_owned(), rfc3339);
    let mut rows = Vec::new();
    for source in &config.sources {
        let state = store.source_state(&source.id)?.unwrap_or_default();
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
        print_table(&mut out, &header, &rows)?;
        print_past_fault(&mut out, &store)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The storage fault a daemon rode out, if any, after the sources' table: their polls could
/// not record their failures meanwhile.
fn print_past_fault(out: &mut impl Write, store: &Store) -> Result<()> {
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

/// Columns padded to their widest cell (counted in characters), two spaces apart; the last
/// column, free text, is not padded.
fn print_table<const N: usize>(
    out: &mut impl Write,
    header: &[String; N],
    rows: &[[String; N]],
) -> std::io::Result<()> {
    let mut widths = [0; N];
    for row in std::iter::once(header).chain(rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < N {
                let pad = widths[i] - cell.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

pub async fn inspect(
    config: Option<&Config>,
    target: Option<String>,
    source: Option<String>,
    json: bool,
) -> Result<ExitCode> {
    let (poll, store) = match config {
        Some(c) => (c.poll.clone(), c.store.clone()),
        None => Default::default(),
    };
    let mut options = InspectOptions::new(&poll, &store);
    let mut zone = None;
    let target = match (&source, config) {
        (Some(id), Some(config)) => {
            let Some(src) = config.source(id) else {
                bail!("no source {id:?} in {}", config.file.display())
            };
            options.timezone = src.timezone;
            zone = Some(src.timezone);
            target.unwrap_or_else(|| src.url.to_string())
        }
        _ => target.expect("clap requires a target without --source"),
    };
    let doc = match sosik::inspect::inspect(&options, &target).await {
        Ok(doc) => doc,
        // Name the feed once: some errors already do ("could not read FILE: …").
        Err(e) if e.to_string().contains(target.as_str()) => return Err(e.into()),
        Err(e) => return Err(anyhow::Error::new(e).context(format!("cannot read {target}"))),
    };
    let mut out = std::io::stdout().lock();
    if json {
        let items: Vec<_> = doc
            .stories
            .iter()
            .map(|s| {
                json!({
                    "id": s.identity.republished_guid().0,
                    "link": s.link,
                    "title": s.title,
                    "published": rfc3339(s.published),
                    "categories": s.categories,
                    "authors": s.authors,
                    "summary": s.summary,
                })
            })
            .collect();
        writeln!(
            out,
            "{}",
            json!({"title": doc.title, "format": doc.format, "encoding": doc.encoding, "items": items})
        )?;
    } else {
        writeln!(
            out,
            "title:    {}",
            doc.title.as_deref().unwrap_or("(none)")
        )?;
        writeln!(out, "format:   {}", doc.format)?;
        writeln!(out, "encoding: {}", doc.encoding)?;
        writeln!(out, "items:    {}", doc.stories.len())?;
        for s in &doc.stories {
            let categories = if s.categories.is_empty() {
                String::new()
            } else {
                format!("  [{}]", s.categories.join(", "))
            };
            writeln!(
                out,
                "  {}  {}{}\n      {}",
                local_time(s.published, zone),
                s.title,
                categories,
                s.link.as_deref().unwrap_or("-")
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn check(config: &Config) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "config {} is valid", config.file.display())?;
    writeln!(
        out,
        "store: {} (retention {}, {} stories per source)",
        config.store.path.display(),
        config
            .store
            .retention
            .map_or("forever".into(), |d| humantime::format_duration(d)
                .to_string()),
        config.store.max_items_per_source
    )?;
    let resolved = config.server.listen.to_string();
    writeln!(
        out,
        "server: {}{} ({})",
        config.server.listen_name,
        if resolved == config.server.listen_name {
            String::new()
        } else {
            format!(" = {resolved}")
        },
        config.server.base_url
    )?;
    writeln!(out, "sources ({}):", config.sources.len())?;
    for s in &config.sources {
        writeln!(
            out,
            "  {}  {}  every {}{}{}",
            s.id,
            s.url,
            humantime::format_duration(s.interval),
            if s.tags.is_empty() {
                String::new()
            } else {
                format!("  tags: {}", s.tags.join(", "))
            },
            if s.enabled { "" } else { "  (disabled)" }
        )?;
    }
    writeln!(out, "outputs ({}):", config.outputs.len())?;
    for o in &config.outputs {
        let sources: Vec<&str> = o.sources.iter().map(SourceId::as_str).collect();
        writeln!(
            out,
            "  {}  \"{}\"  sources: {}  filter: {}  limit {}",
            o.name,
            o.title,
            sources.join(", "),
            if o.filter.is_match_all() {
                "(everything)".to_owned()
            } else {
                o.filter.to_string()
            },
            o.limit
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
