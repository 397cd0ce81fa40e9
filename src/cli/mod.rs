//! Presentation of each command: tables for people, JSON Lines for scripts. Every command's
//! work is a library call; this file only formats and picks exit codes. The commands a
//! running daemon can answer (`sources`, `items`, `render`, `export`, `poll`, `reload`) ask it
//! over its control socket and print its answer; with no daemon they run here, through the
//! same printing code ([`sosik::commands`]).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde_json::json;

use sosik::commands::{Answer, Ctx, Request, local_time, rfc3339};
use sosik::config::Config;
use sosik::inspect::InspectOptions;
use sosik::model::SourceId;
use sosik::store::StoreError;

mod edit;
pub use edit::{AddArgs, add, import, remove};

/// How long a command waits for a store that another process holds while no daemon answers
/// on its socket: a daemon starting (the store open, the socket not yet bound) or stopping
/// (the socket gone, the store still flushing).
const LOCKED_WAIT: Duration = Duration::from_secs(5);

pub async fn run(config: Config) -> Result<ExitCode> {
    sosik::app::run(Arc::new(config)).await?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `request` in the daemon running on this config's store, or here when none runs,
/// and prints what it printed.
pub async fn through_daemon(config: Config, request: Request) -> Result<ExitCode> {
    let store = config.store.path.clone();
    if let Some(answer) = ask(&store, &request).await? {
        return print_answer(&answer);
    }
    let config = Arc::new(config);
    let deadline = Instant::now() + LOCKED_WAIT;
    loop {
        let ran = match &request {
            Request::Poll { ids } => poll(config.clone(), ids.clone()).await,
            request => Ctx::open(config.clone())
                .map_err(anyhow::Error::from)
                .and_then(|ctx| {
                    tokio::task::block_in_place(|| {
                        ctx.read(request, &mut std::io::stdout().lock())
                            .expect("a read-only command")
                    })
                })
                .map(ExitCode::from),
        };
        match ran {
            Err(e) if is_locked(&e) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if let Some(answer) = ask(&store, &request).await? {
                    return print_answer(&answer);
                }
            }
            ran => return ran,
        }
    }
}

/// Whether the store was locked by another process (nothing was done yet then).
fn is_locked(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<StoreError>(),
            Some(StoreError::Locked { .. })
        )
    })
}

async fn ask(store: &std::path::Path, request: &Request) -> Result<Option<Answer>> {
    Ok(sosik::control::ask(store, request).await?)
}

fn print_answer(answer: &Answer) -> Result<ExitCode> {
    std::io::stdout()
        .lock()
        .write_all(answer.stdout.as_bytes())?;
    std::io::stderr()
        .lock()
        .write_all(answer.stderr.as_bytes())?;
    Ok(ExitCode::from(answer.code))
}

/// `sosik reload`: the running daemon re-reads its config (its answer printed); with no
/// daemon, the config is only validated. Reached with the config file unvalidated: an invalid
/// one is the daemon's to refuse (exit 1, naming the key), not a fatal error here.
pub async fn reload(file: &std::path::Path) -> Result<ExitCode> {
    // The file is read once: its store locates the daemon, or it is what is checked.
    let loaded = Config::load(file);
    let store = match &loaded {
        Ok(config) => config.store.path.clone(),
        Err(_) => sosik::config::store_path_of(file),
    };
    if let Some(answer) = ask(&store, &Request::Reload).await? {
        return print_answer(&answer);
    }
    match loaded {
        Ok(config) => {
            println!(
                "no daemon is running on the store at {}; {} is valid and is read when the daemon starts",
                config.store.path.display(),
                file.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            for problem in &e.problems {
                eprintln!("error: {problem}");
            }
            Ok(ExitCode::from(1))
        }
    }
}

/// After `add`, `remove` or `import` changed the config file: the daemon running on this
/// store, if any, reloads it; what it says goes to stderr (stdout says what the edit did,
/// the same with or without a daemon).
pub(crate) async fn tell_daemon(config: &Config) -> Result<()> {
    let Some(answer) = ask(&config.store.path, &Request::Reload).await? else {
        return Ok(());
    };
    if answer.code == 0 {
        eprintln!(
            "the daemon running on {} reloaded {}",
            config.store.path.display(),
            config.file.display()
        );
    } else {
        std::io::stderr()
            .lock()
            .write_all(answer.stderr.as_bytes())?;
        eprintln!("the daemon keeps running on the config it had");
    }
    Ok(())
}

async fn poll(config: Arc<Config>, ids: Vec<String>) -> Result<ExitCode> {
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
    let run = sosik::app::poll_now(config, &ids, |report| {
        progress.set_message(report.source.to_string());
        progress.inc(1);
    })
    .await?;
    progress.finish_and_clear();
    let code = sosik::commands::print_poll(
        &run,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )?;
    Ok(ExitCode::from(code))
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
