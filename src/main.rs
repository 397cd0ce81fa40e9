//! The `sosik` command line: parses arguments, sets up logging, loads the config and calls the
//! library. The only place `anyhow` is used; no logic lives here beyond presentation.

mod cli;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// sosik (소식): polls news feeds, dedupes stories, republishes filtered feeds.
#[derive(Debug, Parser)]
#[command(name = "sosik", version, about, long_about = None)]
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
    /// Fetch, decode, parse and normalize one feed without storing it.
    Inspect {
        /// A file path or an http(s)/file URL.
        target: String,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Validate the config and print its sources and outputs.
    Check,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let command = args.command.unwrap_or(Command::Run);
    let file = sosik::config::Config::locate(args.config.as_deref());
    let config = match sosik::config::Config::load(&file) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let daemon = matches!(command, Command::Run);
    init_logging(&config, daemon);
    // Blocking threads do parsing and store writes; more of them than fetches in flight only
    // adds memory (each thread gets its own allocator arena), never throughput.
    let blocking = config.poll.concurrency.clamp(2, 64) + 2;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(blocking)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async move {
        match command {
            Command::Run => cli::run(config).await,
            Command::Poll { ids } => cli::poll(config, ids).await,
            Command::Render { name, format } => cli::render(config, &name, &format),
            Command::Items {
                output,
                source,
                limit,
                json,
            } => cli::items(config, output, source, limit, json),
            Command::Sources { json } => cli::sources(config, json),
            Command::Inspect { target, json } => cli::inspect(config, &target, json).await,
            Command::Check => cli::check(&config),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Logs go to stderr. The daemon logs at `[log] level`; one-shot commands only warn, so their
/// stdout stays clean. `RUST_LOG` wins over both.
fn init_logging(config: &sosik::config::Config, daemon: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if daemon {
        config.log.level.clone()
    } else {
        "warn".to_owned()
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log.format {
        sosik::config::LogFormat::Json => builder.json().init(),
        sosik::config::LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
    // A panic is caught where it happens (one source's error); log it instead of letting the
    // default hook print a bare backtrace banner into the middle of a report.
    std::panic::set_hook(Box::new(|info| {
        tracing::error!(panic = %info, "caught a panic");
    }));
}
