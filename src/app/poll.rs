//! `sosik poll` without a daemon: the sources selected, polled at once, retention, the close.

use std::sync::Arc;

use chrono::Utc;

use super::{AppError, WORKER_GRACE, close_store};
use crate::config::Config;
use crate::pipeline::Ingest;
use crate::store::{Store, StoreOptions};

/// What `sosik poll` did: one report per source polled, in the config's order.
#[derive(Debug)]
pub struct PollRun {
    /// One per source polled, in the config's order.
    pub reports: Vec<Arc<crate::pipeline::PollReport>>,
    /// Stories stored after the polls.
    pub stored: usize,
    /// Stories forgotten by retention after the polls.
    pub forgotten: usize,
    /// Why the store could not be closed cleanly after the polls (a full disk, say): the
    /// polls' reports stand, but what they stored may not all be on disk.
    pub close_error: Option<String>,
}

/// The sources `ids` names, in the config's order and without repeats (every enabled one
/// when `ids` is empty); an id the config does not have is an error naming it.
pub(crate) fn select_sources(
    config: &Config,
    ids: &[String],
) -> Result<Vec<crate::config::SourceConfig>, AppError> {
    for id in ids {
        if config.source(id).is_none() {
            return Err(AppError::UnknownSource {
                id: id.clone(),
                file: config.file.display().to_string(),
            });
        }
    }
    let wanted = |s: &&crate::config::SourceConfig| match ids {
        [] => s.enabled,
        ids => ids.iter().any(|id| id == s.id.as_str()),
    };
    Ok(config.sources.iter().filter(wanted).cloned().collect())
}

/// Polls the sources `ids` (every enabled one when empty) once, now, into the store, then
/// applies retention and flushes; `done` hears of each poll as it ends (for a progress bar).
pub async fn poll_now(
    config: Arc<Config>,
    ids: &[String],
    done: impl FnMut(&crate::pipeline::PollReport),
) -> Result<PollRun, AppError> {
    let selected = select_sources(&config, ids)?;
    let store = Store::open(&StoreOptions::from(&config.store))?;
    let ingest = Ingest::new(config.clone(), store.clone())?;
    let reports = ingest.ingest_all(&selected, done).await;
    let (forgotten, mut close_error) = retain_after_poll(&store, config.store.retention);
    // Config order, so the table reads like the config.
    let order: std::collections::HashMap<_, _> = config
        .sources
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.clone(), i))
        .collect();
    let mut reports: Vec<_> = reports.into_iter().map(Arc::new).collect();
    reports.sort_by_key(|r| order.get(&r.source).copied());
    let stored = store.len();
    ingest.stop(WORKER_GRACE).await;
    if let Err(e) = close_store(store).await {
        close_error = Some(e.to_string());
    }
    Ok(PollRun {
        reports,
        stored,
        forgotten,
        close_error,
    })
}

/// Retention after `sosik poll`'s polls (offline or in the daemon): how many stories it forgot,
/// and why it failed. On a failing store the polls have said so, one sentence each; retention
/// and the close or flush then fail the same way, which is reported once, after them.
pub(super) fn retain_after_poll(
    store: &Store,
    retention: Option<std::time::Duration>,
) -> (usize, Option<String>) {
    match store.apply_retention(Utc::now(), retention) {
        Ok(forgotten) => (forgotten, None),
        Err(e) => (0, Some(e.to_string())),
    }
}
