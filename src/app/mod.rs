//! The daemon: builds every part from the config, owns cancellation and the shutdown order,
//! and spawns the long-lived tasks.
//!
//! Shutdown order (SIGTERM/SIGINT): stop scheduling; let in-flight polls finish within
//! [`FETCH_GRACE`]; drain HTTP; end the CPU workers and then the store's writer (after the
//! commits queued to it) within [`WORKER_GRACE`]; flush and close the store within
//! [`CLOSE_GRACE`] (past it, or on a failed write, `run` returns an error naming what could
//! not be written). Nothing here exits the process.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::model::{SourceId, SourceState};
use crate::pipeline::{Ingest, PollReport};
use crate::publish::Publisher;
use crate::schedule::{self, Clock};
use crate::serve;
use crate::signals::Signals;
use crate::store::{Store, StoreError, StoreOptions};

mod daemon;
mod poll;
pub mod reload;
mod retention;

pub use daemon::Daemon;
use poll::select_sources;
pub use poll::{PollRun, poll_now};
use retention::{retention_loop, startup_retention};

/// How long in-flight polls may take to finish after a shutdown signal.
pub const FETCH_GRACE: Duration = Duration::from_secs(5);

/// How long the CPU workers and the store's writer may take to end at shutdown: the writer
/// finishes the commits queued to it, a worker the document it is reading.
pub const WORKER_GRACE: Duration = Duration::from_secs(5);

/// How long the store may take to write its index snapshot and flush at shutdown. On a
/// failing disk sled can wait for ever; past this the daemon says what it could not write and
/// exits non-zero (well within the unit's `TimeoutStopSec`).
pub const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// How often retention scans the store.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// Why the daemon could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The HTTP client could not start.
    #[error("{0}")]
    Fetch(#[from] crate::fetch::FetchError),
    /// Another daemon holds the store.
    #[error(
        "another sosik is already running on the store at {path}: stop it first, or give this one another store.path (the CLI reaches the running one through {path}/control.sock)"
    )]
    AlreadyRunning {
        /// The store's directory.
        path: String,
    },
    /// `poll` named a source the config does not have.
    #[error("no source {id:?} in {file}")]
    UnknownSource {
        /// The id asked for.
        id: String,
        /// The config file.
        file: String,
    },
    /// The store could not be closed cleanly: its index snapshot and the writes since the
    /// last flush may be lost (the next start rebuilds the index from the records).
    #[error("could not write the index snapshot and last changes of the store at {path}: {reason}")]
    Close {
        /// The store's directory.
        path: String,
        /// Why.
        reason: String,
    },
    /// The store kept failing for `store.fault_exit_after`.
    #[error("{0}")]
    StoreFailing(#[from] crate::recovery::GaveUp),
    /// The HTTP server could not bind or failed.
    #[error("the HTTP server on {addr} failed: {reason}")]
    Server {
        /// The listen address.
        addr: String,
        /// Why.
        reason: String,
    },
}

/// Runs the daemon until SIGTERM or SIGINT.
pub async fn run(config: Arc<Config>) -> Result<(), AppError> {
    let signals = Signals::listen();
    let store = Store::open(&StoreOptions::from(&config.store)).map_err(already_running)?;
    let metrics = Arc::new(Metrics::new());
    let counted = metrics.clone();
    store.observe_faults(Arc::new(move |kind| counted.store_error(kind)));
    // One scan of the sources' states gives the metrics their series and the scheduler its
    // due times; freed before the retention pass, whose scratch is given back below.
    let states = stored_states(&config, &store);
    seed_source_metrics(&config, &states, &metrics);
    let due = initial_due(&config, &states, Utc::now());
    drop(states);
    let ingest = Ingest::new(config.clone(), store.clone())?.with_metrics(metrics.clone());
    startup_retention(&ingest);
    let publisher = Publisher::new(config.clone(), store.clone());
    let shutdown = CancellationToken::new();
    let (schedule, control) = tokio::sync::mpsc::unbounded_channel();
    let daemon = Arc::new(Daemon::new(
        config.clone(),
        ingest.clone(),
        publisher.clone(),
        metrics.clone(),
        schedule,
    ));
    let (hup, hups) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(signals.watch(shutdown.clone(), hup));
    tokio::spawn(reload_on_sighup(daemon.clone(), hups));

    let http_stop = CancellationToken::new();
    let server = start_http(&config, &publisher, metrics.clone(), &http_stop).await?;
    let control_socket = start_control(&config, &daemon, &http_stop);
    tracing::info!(
        sources = config.sources.len(),
        outputs = config.outputs.len(),
        store = %config.store.path.display(),
        listen = %config.server.listen,
        "sosik started"
    );

    let recovery = spawn_recovery(&config, &store, &publisher, &shutdown);
    let retention = tokio::spawn(retention_loop(
        ingest.clone(),
        publisher.clone(),
        shutdown.clone(),
    ));
    schedule_polls(
        due, &daemon, &ingest, &publisher, &metrics, control, &shutdown,
    )
    .await;

    // Scheduling has stopped and polls are done or abandoned: drain HTTP, then flush.
    let _ = retention.await;
    let gave_up = recovery.await.ok().flatten();
    let stopping = Stopping {
        http_stop,
        server,
        control_socket,
        ingest,
        store,
    };
    stopping.finish(gave_up).await
}

/// The scheduler's loop over the sources, keyed by id, until `shutdown`: each poll reads its
/// source from the daemon's config as it starts (so a reload's changes apply from the next
/// poll), and `control` carries the reloads' additions and removals and `sosik poll`'s asks.
async fn schedule_polls(
    due: Vec<(SourceId, Option<DateTime<Utc>>)>,
    daemon: &Arc<Daemon>,
    ingest: &Ingest,
    publisher: &Publisher,
    metrics: &Metrics,
    control: tokio::sync::mpsc::UnboundedReceiver<schedule::Control<SourceId, PollReport>>,
    shutdown: &CancellationToken,
) {
    let panics = metrics
        .fetches
        .get_or_create(&crate::metrics::OutcomeLabels {
            outcome: "panicked",
        })
        .clone();
    let timing = schedule::Timing {
        clock: Clock::System,
        grace: FETCH_GRACE,
        retry_after_panic: daemon.config().poll.min_interval,
    };
    let hooks = schedule::Hooks {
        poll: |id: &SourceId| {
            let source = daemon.config().source(id.as_str())?.clone();
            let ingest = ingest.clone();
            Some(async move { ingest.ingest(&source).await })
        },
        on_done: |id: &SourceId, result: Result<&PollReport, &str>| match result {
            // Any poll that stored something makes the cached feeds stale.
            Ok(report) if report.outcome.changed() => publisher.invalidate(),
            Ok(_) => {}
            Err(message) => {
                panics.inc();
                tracing::error!(source = %id, panic = message, "a poll panicked; retrying later");
            }
        },
        // A round of polls leaves the allocator holding what its documents and stories took;
        // the daemon idles until the next round, so give it back (BENCHMARKS.md: idle memory).
        on_idle: || drop(tokio::task::spawn_blocking(release_freed_memory)),
    };
    schedule::run_controlled(due, timing, shutdown.clone(), control, hooks).await;
}

/// Reloads the config at each SIGHUP, as `sosik reload` does (the outcome is logged).
async fn reload_on_sighup(daemon: Arc<Daemon>, mut hups: tokio::sync::mpsc::UnboundedReceiver<()>) {
    while hups.recv().await.is_some() {
        // Logged and counted inside.
        let _ = daemon.reload().await;
    }
}

/// Binds the control socket in the store's directory and answers the CLI on it until `stop`;
/// `None`, logged, when it cannot be bound (the daemon still runs; the CLI then says the
/// store is in use).
fn start_control(
    config: &Config,
    daemon: &Arc<Daemon>,
    stop: &CancellationToken,
) -> Option<tokio::task::JoinHandle<()>> {
    #[cfg(unix)]
    {
        let path = crate::control::socket_path(&config.store.path);
        match crate::control::bind(&path) {
            Ok(listener) => Some(tokio::spawn(crate::control::serve(
                listener,
                path,
                daemon.clone(),
                stop.clone(),
            ))),
            Err(e) => {
                tracing::error!(socket = %path.display(), error = %e, "cannot listen on the control socket; the CLI cannot reach this daemon");
                None
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (config, daemon, stop);
        None
    }
}

/// A store locked by another process, at the daemon's start, is another daemon.
fn already_running(error: StoreError) -> AppError {
    match error {
        StoreError::Locked { path } => AppError::AlreadyRunning { path },
        other => other.into(),
    }
}

/// What the shutdown's last steps end, once scheduling has stopped.
struct Stopping {
    http_stop: CancellationToken,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    control_socket: Option<tokio::task::JoinHandle<()>>,
    ingest: Ingest,
    store: Store,
}

impl Stopping {
    /// Drains HTTP, ends the workers and the writer, closes the store; the error is the
    /// recovery's giving up when it gave up, else the close's.
    async fn finish(self, gave_up: Option<crate::recovery::GaveUp>) -> Result<(), AppError> {
        let Stopping {
            http_stop,
            server,
            control_socket,
            ingest,
            store,
        } = self;
        http_stop.cancel();
        match server.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "the HTTP server failed"),
            Err(e) => tracing::error!(error = %e, "the HTTP server task died"),
        }
        if let Some(control) = control_socket {
            let _ = control.await;
        }
        // No poll runs now: end the CPU workers and the writer, so no commit follows the close.
        if !ingest.stop(WORKER_GRACE).await {
            tracing::warn!("worker threads did not end in time; closing the store without them");
        }
        let closed = close_store(store).await;
        if let Some(gave_up) = gave_up {
            if let Err(e) = closed {
                tracing::error!(error = %e, "closing the failing store failed too");
            }
            return Err(gave_up.into());
        }
        closed?;
        tracing::info!("sosik stopped");
        Ok(())
    }
}

/// Starts the task that re-opens the store after a storage fault (polls fail and HTTP serves
/// what it has meanwhile), and gives up after `store.fault_exit_after`.
fn spawn_recovery(
    config: &Config,
    store: &Store,
    publisher: &Publisher,
    shutdown: &CancellationToken,
) -> tokio::task::JoinHandle<Option<crate::recovery::GaveUp>> {
    let publisher = publisher.clone();
    tokio::spawn(crate::recovery::watch(
        store.clone(),
        config.store.fault_exit_after,
        shutdown.clone(),
        // What was committed but not yet on disk when the store failed is gone after the
        // re-open: feeds cached from it are stale.
        move || publisher.invalidate(),
    ))
}

/// Closes the store (index snapshot, flush) on a thread of its own, waiting at most
/// [`CLOSE_GRACE`]. Not on tokio's blocking pool: a close stuck in sled would hold the
/// runtime's shutdown too. A store that failed to close is never dropped (sled's drop flushes
/// again and could wait for ever on the same disk): the process is ending anyway.
async fn close_store(store: Store) -> Result<(), AppError> {
    let path = store.path().display().to_string();
    let failed = |reason: String| AppError::Close {
        path: path.clone(),
        reason,
    };
    let (done, closed) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("sosik-close".into())
        .spawn(move || {
            let result = store.close();
            if result.is_err() {
                std::mem::forget(store);
            }
            let _ = done.send(result);
        })
        .map_err(|e| failed(format!("cannot start a thread to close it: {e}")))?;
    match tokio::time::timeout(CLOSE_GRACE, closed).await {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(e))) => Err(failed(e.to_string())),
        Ok(Err(_)) => Err(failed("closing it panicked".into())),
        Err(_) => Err(failed(format!(
            "the disk did not take them within {} s",
            CLOSE_GRACE.as_secs()
        ))),
    }
}

/// Binds `server.listen` and serves HTTP until `stop`.
async fn start_http(
    config: &Config,
    publisher: &Publisher,
    metrics: Arc<Metrics>,
    stop: &CancellationToken,
) -> Result<tokio::task::JoinHandle<std::io::Result<()>>, AppError> {
    let addr = config.server.listen;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| AppError::Server {
            addr: addr.to_string(),
            reason: e.to_string(),
        })?;
    let router = serve::router(serve::AppState::new(publisher.clone(), metrics));
    Ok(tokio::spawn(serve::serve(
        listener,
        router,
        stop.clone().cancelled_owned(),
    )))
}

/// Every configured source's stored state, in config order, read in one scan of the store at
/// start (`None`: never polled, or its state unreadable, which its next poll rebuilds).
fn stored_states(config: &Config, store: &Store) -> Vec<Option<SourceState>> {
    let mut states: std::collections::HashMap<String, SourceState> = match store.source_states() {
        Ok(states) => states.into_iter().collect(),
        Err(e) => {
            tracing::error!(error = %e, "cannot read the sources' states; polling them now");
            Default::default()
        }
    };
    let ids = config.sources.iter().map(|s| s.id.as_str());
    ids.map(|id| states.remove(id)).collect()
}

/// When each configured source is first due: its persisted next poll, so a restart neither
/// stampedes nor forgets; now for a source never polled; never for a disabled or gone one.
fn initial_due(
    config: &Config,
    states: &[Option<SourceState>],
    now: DateTime<Utc>,
) -> Vec<(SourceId, Option<DateTime<Utc>>)> {
    let sources = config.sources.iter().zip(states);
    let enabled = sources.filter(|(source, _)| source.enabled);
    enabled
        .map(|(source, state)| {
            let at = match state {
                // Gone (410) stays stopped until `sosik poll ID` succeeds on it again.
                Some(state) if state.gone => None,
                Some(state) => Some(state.next_poll.unwrap_or(now)),
                None => Some(now),
            };
            (source.id.clone(), at)
        })
        .collect()
}

/// Gives every configured source its per-source series from its stored state, so `/metrics`
/// shows them from the start rather than from each source's first poll.
fn seed_source_metrics(config: &Config, states: &[Option<SourceState>], metrics: &Metrics) {
    for (source, state) in config.sources.iter().zip(states) {
        let errors = state.as_ref().map_or(0, |s| s.consecutive_errors);
        metrics.seed_source(source.id.as_str(), errors);
    }
}

/// Returns memory the allocator holds but no longer uses to the OS. glibc keeps freed memory
/// of its arenas for reuse, which after opening a large store a long-lived idle daemon would
/// carry for nothing. Elsewhere this does nothing.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own arenas under their locks; it has no
    // preconditions and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 19: SIGTERM while a store write was stuck on the disk hung the daemon after
    /// "HTTP shutting down". The close now gives up after its deadline and says what it could
    /// not write.
    #[tokio::test]
    async fn a_close_stuck_on_the_disk_gives_up_after_its_deadline_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&StoreOptions {
            path: dir.path().join("db"),
            cache_capacity: 8 << 20,
        })
        .unwrap();
        store.stall_writes(Duration::from_secs(30));
        let started = std::time::Instant::now();
        let closing = tokio::time::timeout(Duration::from_secs(20), close_store(store));
        let err = closing.await.expect("the close gives up").unwrap_err();
        assert!(started.elapsed() < CLOSE_GRACE + Duration::from_secs(2));
        assert_eq!(
            err.to_string(),
            format!(
                "could not write the index snapshot and last changes of the store at {}: the disk did not take them within 5 s",
                dir.path().join("db").display()
            )
        );
    }
}
