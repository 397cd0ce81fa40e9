//! The daemon: builds every part from the config, owns cancellation and the shutdown order,
//! and spawns the long-lived tasks.
//!
//! Shutdown order (SIGTERM/SIGINT): stop scheduling; let in-flight polls finish within
//! [`FETCH_GRACE`]; drain HTTP; flush the store. Nothing here exits the process.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::pipeline::{Ingest, PollReport};
use crate::publish::Publisher;
use crate::serve;
use crate::store::{Store, StoreError, StoreOptions};

/// How long in-flight polls may take to finish after a shutdown signal.
pub const FETCH_GRACE: Duration = Duration::from_secs(5);

/// Longest sleep of the scheduler loop, so housekeeping runs even when no source is due.
const MAX_IDLE: Duration = Duration::from_secs(60);

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
    let store = Store::open(&StoreOptions {
        path: config.store.path.clone(),
        cache_capacity: config.store.cache_capacity,
    })?;
    let ingest = Ingest::new(config.clone(), store.clone())?;
    let publisher = Publisher::new(config.clone(), store.clone());
    let shutdown = CancellationToken::new();
    tokio::spawn(signal_watch(shutdown.clone()));

    let addr = config.server.listen;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| AppError::Server {
            addr: addr.to_string(),
            reason: e.to_string(),
        })?;
    let http_stop = CancellationToken::new();
    let router = serve::router(serve::AppState::new(
        publisher.clone(),
        Arc::new(serve::Metrics::new()),
    ));
    let server = tokio::spawn(serve::serve(
        listener,
        router,
        http_stop.clone().cancelled_owned(),
    ));

    tracing::info!(
        sources = config.sources.len(),
        outputs = config.outputs.len(),
        store = %config.store.path.display(),
        listen = %addr,
        "sosik started"
    );
    // Any poll that stored something, and any retention pass that forgot something, makes the
    // cached feeds stale.
    schedule_loop(&config, &ingest, &shutdown, || publisher.invalidate()).await;
    // Scheduling has stopped and polls are done or abandoned: drain HTTP, then flush.
    http_stop.cancel();
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "the HTTP server failed"),
        Err(e) => tracing::error!(error = %e, "the HTTP server task died"),
    }
    store.flush().await?;
    tracing::info!("sosik stopped");
    Ok(())
}

async fn signal_watch(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for SIGTERM");
                    let _ = ctrl_c.await;
                    shutdown.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
    shutdown.cancel();
}

/// Polls every due source, sleeps until the next is due, until `shutdown`.
async fn schedule_loop(
    config: &Config,
    ingest: &Ingest,
    shutdown: &CancellationToken,
    on_change: impl Fn(),
) {
    let mut running: JoinSet<PollReport> = JoinSet::new();
    let mut in_flight = std::collections::HashSet::new();
    let mut last_retention: Option<std::time::Instant> = None;
    loop {
        let now = Utc::now();
        let mut next_wake = now + chrono::Duration::from_std(MAX_IDLE).expect("small");
        for source in config.sources.iter().filter(|s| s.enabled) {
            if in_flight.contains(&source.id) {
                continue;
            }
            let state = match ingest.store().source_state(&source.id) {
                Ok(state) => state.unwrap_or_default(),
                Err(e) => {
                    tracing::error!(source = %source.id, error = %e, "cannot read source state");
                    continue;
                }
            };
            if state.gone {
                continue;
            }
            match state.next_poll {
                Some(due) if due > now => next_wake = next_wake.min(due),
                _ => {
                    in_flight.insert(source.id.clone());
                    let (ingest, source) = (ingest.clone(), source.clone());
                    running.spawn(async move { ingest.ingest(&source).await });
                }
            }
        }
        let sleep = (next_wake - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(sleep) => {}
            Some(done) = running.join_next(), if !running.is_empty() => {
                match done {
                    Ok(report) => {
                        in_flight.remove(&report.source);
                        if report.outcome.changed() {
                            on_change();
                        }
                    }
                    Err(e) => {
                        // A panic outside the pipeline's own guards; the source is retried
                        // on the next pass since its state was not advanced.
                        tracing::error!(error = %e, "a poll task died");
                        in_flight.clear();
                    }
                }
            }
        }
        if last_retention.is_none_or(|t| t.elapsed() >= RETENTION_EVERY) {
            last_retention = Some(std::time::Instant::now());
            match ingest.apply_retention(Utc::now()) {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(forgotten = n, "retention");
                    on_change();
                }
                Err(e) => tracing::error!(error = %e, "retention failed"),
            }
        }
    }
    // Stop scheduling; give in-flight polls a grace period, then abandon them (their commits
    // are atomic, so an abandoned poll leaves nothing half-written).
    let drain = async { while running.join_next().await.is_some() {} };
    if tokio::time::timeout(FETCH_GRACE, drain).await.is_err() {
        tracing::warn!("in-flight polls did not finish within {FETCH_GRACE:?}; abandoning them");
        running.abort_all();
    }
}
