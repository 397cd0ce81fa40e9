//! The `sosik` command line: parses arguments, sets up logging, loads the config and calls the
//! library. The only place `anyhow` is used; no logic lives here beyond presentation.

mod cli;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sosik::commands::Request;

/// What `--help` says after the commands: what scripts and service managers rely on.
const AFTER_HELP: &str = "\
Exit codes:
  0  success (for poll: every source succeeded; a 304 counts)
  1  poll: at least one source failed (the table says which and why);
     remove: no such source; add: no feed found, several found (--pick), already configured;
     reload: the config is invalid (the daemon keeps running on the one it had)
  2  fatal: a bad config, an unusable store, a bad argument

The store and the daemon:
  One process opens the store (store.path) at a time. While `sosik run` holds it, sources,
  items, render, export, poll and reload ask the daemon over STORE/control.sock (mode 0600)
  and print what they print without it; add, remove and import edit the file and have the
  daemon reload it. A second `run` on the same store exits 2. A corrupt store is moved aside (PATH.corrupt-TIME) and a fresh one started. When the disk
  fails (full, refused, gone), the daemon keeps serving, re-opens the store once it can, and
  exits 2 after store.fault_exit_after (10m) of failing.

Signals (run):
  SIGTERM, SIGINT  stop scheduling, let polls finish (5 s at most), drain HTTP, flush, exit 0
                   (exit 2, saying what could not be written, when the disk fails the flush)
  SIGHUP           reload the config, as `sosik reload` does (an invalid one is logged and
                   the old one kept)
  SIGUSR1/SIGUSR2  logged and ignored

The config is --config PATH, else $SOSIK_CONFIG, else config/sosik.toml; SOSIK__SECTION__KEY
variables override its keys.";

/// sosik (소식): polls news feeds, dedupes stories, republishes filtered feeds.
#[derive(Debug, Parser)]
#[command(name = "sosik", version, about, long_about = None, after_help = AFTER_HELP)]
struct Args {
    /// Config file (default: $SOSIK_CONFIG, else config/sosik.toml).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon: scheduler and HTTP server (the default).
    Run,
    /// Fetch these sources (all when none) once, now, and store them.
    Poll {
        /// Source ids.
        ids: Vec<String>,
    },
    /// Print an output feed, byte-identical to what HTTP serves.
    Render {
        /// Output name.
        name: String,
        /// rss, atom or json.
        #[arg(long, default_value = "rss")]
        format: String,
    },
    /// Stored stories, newest first.
    Items {
        /// Only stories in this output (its sources and filter).
        #[arg(long, conflicts_with = "source")]
        output: Option<String>,
        /// Only stories from this source.
        #[arg(long)]
        source: Option<String>,
        /// At most this many.
        #[arg(long)]
        limit: Option<usize>,
        /// JSON Lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One line per configured source: last fetch, status, validators, next poll, errors.
    Sources {
        /// JSON Lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Fetch, decode, parse and normalize one feed without storing it. Needs no config.
    Inspect {
        /// A file path or an http(s)/file URL; the source's URL when omitted with --source.
        #[arg(required_unless_present = "source")]
        target: Option<String>,
        /// Read it as this configured source does (its time zone, its URL by default).
        #[arg(long)]
        source: Option<String>,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Validate the config and print its sources and outputs.
    Check,
    /// Print the sources as OPML 2.0, as /sources.opml serves it.
    Export,
    /// Add every feed of an OPML file (from another reader) as a source.
    Import {
        /// The OPML file.
        file: std::path::PathBuf,
        /// Tag every imported source with this too (repeatable).
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
    },
    /// Add a feed, or the feed a page links to, as a source in the config file.
    Add(cli::AddArgs),
    /// Remove a source from the config file (its stories stay until retention).
    Remove {
        /// The source's id.
        id: String,
    },
    /// Make the running daemon re-read its config (as SIGHUP does); validate it when none runs.
    Reload,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let command = args.command.unwrap_or(Command::Run);
    if matches!(command, Command::Reload) {
        // The daemon validates the file: an invalid one is its answer (exit 1), not ours.
        let file = sosik::config::Config::locate(args.config.as_deref());
        init_logging(None, false);
        return block_on(16, cli::reload(&file));
    }
    let config = match load_config(args.config.as_deref(), &command) {
        Ok(config) => config,
        Err(code) => return code,
    };
    init_logging(config.as_ref(), matches!(command, Command::Run));
    if let Some(config) = &config {
        for warning in &config.warnings {
            match command {
                Command::Check => eprintln!("warning: {warning}"),
                Command::Run => tracing::warn!("{warning}"),
                _ => {}
            }
        }
    }
    // Blocking threads do parsing and store writes; more of them than fetches in flight only
    // adds memory (each thread gets its own allocator arena), never throughput.
    let concurrency = config.as_ref().map_or(16, |c| c.poll.concurrency);
    block_on(concurrency, dispatch(command, config))
}

/// Runs `work` on a multi-threaded runtime and turns its result into the exit code.
fn block_on(
    concurrency: usize,
    work: impl std::future::Future<Output = anyhow::Result<ExitCode>>,
) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(concurrency.clamp(2, 64) + 2)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(work);
    // A store write stuck on a failing disk must not hold the exit: blocking-pool threads
    // still inside sled are left behind (each shutdown step has already given up on them).
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(code) => code,
        // A reader that closed the pipe (`sosik items | head`) wants no more: end quietly.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", sosik::commands::sentence(&e));
            ExitCode::from(2)
        }
    }
}

/// The config, with every problem printed (exit 2) when it is invalid. `inspect` reads a feed
/// the way a source would, so it needs no config: it uses the config when one is named or
/// present, the defaults (`None`) otherwise.
fn load_config(
    named: Option<&std::path::Path>,
    command: &Command,
) -> Result<Option<sosik::config::Config>, ExitCode> {
    let optional = matches!(command, Command::Inspect { source: None, .. })
        && named.is_none()
        && std::env::var_os("SOSIK_CONFIG").is_none_or(|v| v.is_empty());
    let file = sosik::config::Config::locate(named);
    if optional && !file.exists() {
        return Ok(None);
    }
    sosik::config::Config::load(&file).map(Some).map_err(|e| {
        for problem in &e.problems {
            eprintln!("error: {problem}");
        }
        ExitCode::from(2)
    })
}

/// Runs `command`.
async fn dispatch(
    command: Command,
    config: Option<sosik::config::Config>,
) -> anyhow::Result<ExitCode> {
    if let Command::Inspect {
        target,
        source,
        json,
    } = command
    {
        return cli::inspect(config.as_ref(), target, source, json).await;
    }
    let config = config.expect("loaded for every command but inspect and reload");
    match command {
        Command::Run => cli::run(config).await,
        Command::Poll { ids } => cli::through_daemon(config, Request::Poll { ids }).await,
        Command::Render { name, format } => {
            cli::through_daemon(config, Request::Render { name, format }).await
        }
        Command::Items {
            output,
            source,
            limit,
            json,
        } => {
            let request = Request::Items {
                output,
                source,
                limit,
                json,
            };
            cli::through_daemon(config, request).await
        }
        Command::Sources { json } => cli::through_daemon(config, Request::Sources { json }).await,
        Command::Export => cli::through_daemon(config, Request::Export).await,
        Command::Check => cli::check(&config),
        Command::Import { file, tags } => cli::import(&config, &file, &tags).await,
        Command::Add(args) => cli::add(&config, args).await,
        Command::Remove { id } => cli::remove(&config, &id).await,
        Command::Inspect { .. } | Command::Reload => unreachable!("handled above"),
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Logs go to stderr. The daemon logs at `[log] level`; one-shot commands only warn, so their
/// stdout stays clean. `RUST_LOG` wins over both.
fn init_logging(config: Option<&sosik::config::Config>, daemon: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match config {
        Some(config) if daemon => config.log.level.clone(),
        // A poll's failure is on its line of the table: its log line would only repeat it
        // (and the daemon answering for the CLI logs it in its own log).
        _ => "warn,sosik::pipeline::report=error".to_owned(),
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let format = config.map_or(sosik::config::LogFormat::Text, |c| c.log.format);
    match format {
        sosik::config::LogFormat::Json => builder.json().init(),
        sosik::config::LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
    // A panic is caught where it happens (one source's error); log it instead of letting the
    // default hook print a bare backtrace banner into the middle of a report.
    std::panic::set_hook(Box::new(|info| {
        tracing::error!(panic = %info, "caught a panic");
    }));
}
