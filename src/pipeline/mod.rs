//! `ingest(source)`: one poll of one source, every stage in order, read top to bottom in
//! [`Ingest::ingest`]: load the source's state → fetch → decode → parse → normalize → prepare
//! the records → commit stories and state together → record the outcome.
//!
//! Rooms: `read.rs` decodes, parses and normalizes a document (the same path for polls,
//! `inspect` and the conformance tests); `writer.rs` is the store's one writer, committing the
//! polls that finish together as one group; `report.rs` is what a poll gives back and the one
//! place its metrics and log line are written. The source state's transitions are methods on
//! [`SourceState`] (`model.rs`).
//!
//! CPU work (decode, parse, normalize, encode) runs on the niced CPU workers and commits on the
//! writer thread, so a parser panic becomes this source's error and never stalls the async
//! workers. A failure is recorded (status, sentence, consecutive count, next poll after
//! backoff) and never touches what is already stored.

pub mod merge;
mod read;
mod report;
mod tuning;
mod writer;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use url::Url;

use crate::config::{Config, SourceConfig};
use crate::fetch::{FetchError, FetchOutcome, FetchRequest, Fetched, Fetcher, ResponseMeta};
use crate::metrics::Metrics;
use crate::model::{SourceId, SourceState};
use crate::schedule::{self, Clock, Hints, Policy};
use crate::store::{PollCommit, Store};
use crate::workers::Workers;

pub use read::{Document, read_document};
pub use report::{IngestError, PollOutcome, PollReport};
pub use tuning::fetch_settings;

use self::tuning::{Tuning, cpu_threads};

use self::writer::Writer;

/// Everything one poll needs, shared by all polls of a process. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Ingest {
    /// The config polls read, swapped whole by a reload ([`Ingest::reconfigure`]): a poll
    /// takes the source it is given and reads the rest once, so it never sees half of each.
    config: Arc<ArcSwap<Config>>,
    store: Store,
    /// The fetcher, limits and interval bounds of `[poll]`, rebuilt when a reload changes it;
    /// a poll in flight keeps the ones it started with.
    tuning: Arc<ArcSwap<Tuning>>,
    clock: Clock,
    metrics: Option<Arc<Metrics>>,
    /// Decode, parse, normalize and encode run here: one niced thread per core.
    workers: Workers,
    /// The store has one writer: commits run on this one thread, queued as tasks instead of
    /// threads blocked on the store's writer lock; the polls waiting when it is free are
    /// committed together, in one sled batch.
    writer: Writer,
    /// The merge window's stories: each poll's new stories join their event's cluster.
    merger: merge::Merger,
}

impl Ingest {
    /// Builds the fetcher, limits, CPU workers and the store's writer from `config`.
    pub fn new(config: Arc<Config>, store: Store) -> Result<Ingest, FetchError> {
        Ok(Ingest {
            tuning: Arc::new(ArcSwap::from_pointee(Tuning::new(&config)?)),
            clock: Clock::System,
            metrics: None,
            workers: Workers::new(cpu_threads()),
            writer: writer::writer(store.clone(), config.store.max_items_per_source),
            merger: merge::Merger::rebuild(&store, config.store.merge_window, Utc::now())
                .unwrap_or_else(|e| {
                    tracing::error!(error = %e, "cannot read the merge window's stories; merging from new ones only");
                    merge::Merger::empty(config.store.merge_window)
                }),
            store,
            config: Arc::new(ArcSwap::new(config)),
        })
    }

    /// Runs on `config` from now on: polls that start later read its sources' settings and
    /// its `[poll]` (a new HTTP client and limits when that changed); polls in flight finish
    /// on what they started with. `store.*` is not applied (the store stays open as it is).
    pub fn reconfigure(&self, config: Arc<Config>) -> Result<(), FetchError> {
        if self.tuning.load().from != format!("{:?}", config.poll) {
            self.tuning.store(Arc::new(Tuning::new(&config)?));
        }
        self.config.store(config);
        Ok(())
    }

    /// Counts polls, fetch times and stories in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Ingest {
        self.metrics = Some(metrics);
        self
    }

    /// The store polls commit to.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The config polls run on now.
    pub fn config(&self) -> Arc<Config> {
        self.config.load_full()
    }

    /// Stops the CPU workers and then the store's writer (after the commits queued to it), and
    /// joins their threads for at most `within`; whether they all ended. Call once no poll
    /// runs, before the store is closed, so no commit can come after the close.
    pub async fn stop(&self, within: Duration) -> bool {
        let (workers, writer) = (self.workers.clone(), self.writer.clone());
        let deadline = Instant::now() + within;
        let joined = tokio::task::spawn_blocking(move || {
            let workers = workers.stop(deadline);
            writer.stop(deadline) && workers
        });
        joined.await.unwrap_or(false)
    }

    /// Polls `source` once: fetch, decode, parse, normalize, dedupe and commit, then record
    /// the outcome and the next due time in its state. Never panics; never loses stored
    /// stories.
    pub async fn ingest(&self, source: &SourceConfig) -> PollReport {
        self.ingest_with(source, None).await
    }

    /// Polls every source in `sources` at once (within `poll.concurrency`), calling `done` as
    /// each poll ends; the reports come back in the order the polls ended. Reads every
    /// source's state in one trip to the blocking pool first instead of one trip per poll.
    pub async fn ingest_all(
        &self,
        sources: &[SourceConfig],
        mut done: impl FnMut(&PollReport),
    ) -> Vec<PollReport> {
        let mut states = self.load_states(sources).await;
        let mut polls = tokio::task::JoinSet::new();
        for source in sources {
            let (ingest, source) = (self.clone(), source.clone());
            let known = states.remove(&source.id);
            polls.spawn(async move { ingest.ingest_with(&source, known).await });
        }
        let mut reports = Vec::with_capacity(sources.len());
        while let Some(joined) = polls.join_next().await {
            // `ingest_with` catches its own panics; a task can only fail if it was aborted.
            if let Ok(report) = joined {
                done(&report);
                reports.push(report);
            }
        }
        reports
    }

    /// The poll, its one panic boundary, and its report.
    #[tracing::instrument(name = "ingest", skip_all, fields(source = %source.id))]
    async fn ingest_with(&self, source: &SourceConfig, known: Option<SourceState>) -> PollReport {
        let started = Instant::now();
        // A panic anywhere in the poll (the CPU workers and the writer catch their own and
        // answer with it) becomes this source's error, recorded like any other.
        let (outcome, state) = match AssertUnwindSafe(self.poll(source, known))
            .catch_unwind()
            .await
        {
            Ok(done) => done,
            Err(panic) => {
                let error = IngestError::Panicked(crate::panic_message(&*panic));
                self.record_panic(source, error).await
            }
        };
        let report = PollReport {
            source: source.id.clone(),
            next_poll: if state.gone { None } else { state.next_poll },
            consecutive_errors: state.consecutive_errors,
            outcome,
            elapsed: started.elapsed(),
        };
        report::record_poll(&report, self.metrics.as_deref());
        report
    }

    /// One poll, stage by stage; returns the outcome and the state it left (saved, unless the
    /// store failed).
    async fn poll(
        &self,
        source: &SourceConfig,
        known: Option<SourceState>,
    ) -> (PollOutcome, SourceState) {
        // The source's state: validators, redirects, errors so far.
        let mut state = match known {
            Some(state) => state,
            None => match self.load_state(&source.id).await {
                Ok(state) => state,
                Err(error) => return (PollOutcome::Failed(error), SourceState::default()),
            },
        };
        state.follow_config(source.url.as_str());
        let url = state
            .moved_to
            .as_deref()
            .and_then(|u| Url::parse(u).ok())
            .unwrap_or_else(|| source.url.clone());

        // Fetch, conditionally. The poll's permit is held to the end: `poll.concurrency`
        // bounds the documents in memory, not only the connections; the host's is freed as
        // soon as the fetch is done.
        let tuning = self.tuning.load_full();
        let mut permits = tuning.limits.acquire(&url).await;
        let fetched = self.fetch(&tuning.fetcher, url, &state).await;
        permits.release_host();
        let now = self.clock.now();
        state.last_fetch = Some(now);
        let outcome = match fetched {
            Ok(FetchOutcome::NotModified(meta)) => {
                self.succeeded(source, &mut state, &meta, now);
                PollOutcome::NotModified
            }
            // Decode → parse → normalize → prepare → commit; the commit saves the state.
            Ok(FetchOutcome::Fetched(fetched)) => {
                match self.read_and_commit(source, &mut state, fetched, now).await {
                    Ok(outcome) => return (outcome, state),
                    Err(error) => {
                        self.failed(source, &mut state, &error, now);
                        PollOutcome::Failed(error)
                    }
                }
            }
            Err(error) => {
                let gone = error.status() == Some(410);
                let error = IngestError::Fetch(error);
                self.failed(source, &mut state, &error, now);
                state.gone = gone;
                if gone {
                    PollOutcome::Gone
                } else {
                    PollOutcome::Failed(error)
                }
            }
        };
        match self.save(&source.id, state.clone()).await {
            Ok(()) => (outcome, state),
            Err(error) => (PollOutcome::Failed(error), state),
        }
    }

    /// The conditional GET (or file read), timed.
    async fn fetch(
        &self,
        fetcher: &Fetcher,
        url: Url,
        state: &SourceState,
    ) -> Result<FetchOutcome, FetchError> {
        let request = FetchRequest {
            url: Some(url),
            etag: state.etag.clone(),
            last_modified: state.last_modified.clone(),
        };
        let started = Instant::now();
        let fetched = fetcher.fetch(&request).await;
        if let Some(metrics) = &self.metrics {
            metrics
                .fetch_seconds
                .observe(started.elapsed().as_secs_f64());
        }
        fetched
    }

    /// Reads the document and commits its stories with the state it leads to. `state` is left
    /// as it was unless the commit succeeds, so a failed commit neither advances the
    /// validators (the next poll would get a 304 for stories never stored) nor resets the
    /// count of consecutive errors.
    async fn read_and_commit(
        &self,
        source: &SourceConfig,
        state: &mut SourceState,
        fetched: Fetched,
        now: DateTime<Utc>,
    ) -> Result<PollOutcome, IngestError> {
        let meta = fetched.meta.clone();
        let max = self.config.load().store.max_items_per_source;
        let (id, timezone) = (source.id.clone(), source.timezone);
        // Decode, parse and normalize on the niced CPU workers, and encode the stories'
        // records there too, so the store's writer only writes.
        let store = self.store.clone();
        let (doc, prepared) = self
            .workers
            .run(move || {
                let doc = read_document(&fetched, &id, timezone, now, max)?;
                let prepared = store.prepare(&doc.stories);
                Ok::<_, IngestError>((doc, prepared))
            })
            .await
            .map_err(worker_error)??;
        let mut next = state.clone();
        // The document's own rhythm (`<ttl>`, `sy:update*`, `skipHours`, `skipDays`), kept so
        // polls answered 304 still honour it.
        let rhythm = Hints::from_channel(
            doc.hints.ttl_minutes,
            doc.hints.update_period.as_deref(),
            doc.hints.update_frequency,
            &doc.hints.skip_hours,
            &doc.hints.skip_days,
        );
        next.remember_rhythm(rhythm.feed_interval, rhythm.skip_hours, rhythm.skip_days);
        self.succeeded(source, &mut next, &meta, now);
        next.title = doc.title;
        next.current = prepared.keys().to_vec();
        let (items, encoding) = (doc.stories.len(), doc.encoding);
        let commit = PollCommit {
            source: source.id.clone(),
            stories: doc.stories,
            prepared,
            state: next,
            now,
            priorities: self.config.load().priorities(),
        };
        // What `prepare` found unknown to the store; merged below once stored.
        let unknown = commit.prepared.unknown();
        let committed = self.writer.run(commit).await.map_err(worker_error)??;
        self.merge_new(committed.stories, unknown).await;
        *state = committed.state;
        Ok(PollOutcome::Stored {
            status: meta.status,
            counts: committed.counts,
            items,
            encoding,
        })
    }

    /// A 200 or 304: the state's success, and the next poll from the source's interval and
    /// the publisher's hints.
    fn succeeded(
        &self,
        source: &SourceConfig,
        state: &mut SourceState,
        meta: &ResponseMeta,
        now: DateTime<Utc>,
    ) {
        state.succeeded(
            now,
            meta.status,
            meta.etag.as_deref(),
            meta.last_modified.as_deref(),
        );
        if let Some(moved) = &meta.moved_to {
            state.moved(moved.as_str(), source.url.as_str());
        }
        let hints = Hints {
            max_age: meta.cache.max_age,
            expires: meta.cache.expires,
            feed_interval: state.feed_interval_secs.map(Duration::from_secs),
            skip_hours: state.skip_hours,
            skip_days: state.skip_days,
        };
        let mut rng = fastrand::Rng::new();
        let next = schedule::after_success(&self.policy(), source.interval, &hints, now, &mut rng);
        state.next_poll = Some(next);
    }

    /// The interval bounds polls run on now.
    fn policy(&self) -> Policy {
        self.tuning.load().policy
    }

    /// A failure: the state's error, and the next poll after backoff (or `Retry-After`).
    fn failed(
        &self,
        source: &SourceConfig,
        state: &mut SourceState,
        error: &IngestError,
        now: DateTime<Utc>,
    ) {
        let (status, retry_after) = match error {
            IngestError::Fetch(FetchError::Status {
                status,
                retry_after,
                ..
            }) => (Some(*status), *retry_after),
            // The server answered; its document was the problem.
            IngestError::Decode(_) | IngestError::Parse(_) => (state.last_status, None),
            _ => (None, None),
        };
        state.failed(error.to_string(), status);
        // A store that cannot write, or workers that are stopping, are not the source's
        // failure: its interval is not doubled for them, so once the store is re-opened every
        // source is polled at its usual pace rather than hours later.
        let backoff_errors = match error {
            IngestError::Store(_) | IngestError::WorkerGone(_) => 1,
            _ => state.consecutive_errors,
        };
        let mut rng = fastrand::Rng::new();
        let next = schedule::after_failure(
            &self.policy(),
            source.interval,
            backoff_errors,
            retry_after,
            now,
            &mut rng,
        );
        state.next_poll = Some(next);
    }

    /// A poll that panicked: recorded in the source's state like any failure.
    async fn record_panic(
        &self,
        source: &SourceConfig,
        error: IngestError,
    ) -> (PollOutcome, SourceState) {
        let mut state = self.load_state(&source.id).await.unwrap_or_default();
        let now = self.clock.now();
        state.last_fetch = Some(now);
        self.failed(source, &mut state, &error, now);
        if let Err(e) = self.save(&source.id, state.clone()).await {
            tracing::error!(error = %e, "cannot record a panic in the source's state");
        }
        (PollOutcome::Failed(error), state)
    }

    async fn load_state(&self, id: &SourceId) -> Result<SourceState, IngestError> {
        let (store, id) = (self.store.clone(), id.clone());
        Ok(self
            .blocking(move || store.source_state(&id))
            .await??
            .unwrap_or_default())
    }

    /// Every source's state in one trip; a source whose state cannot be read here is left
    /// out (its poll reads it again and reports the error).
    async fn load_states(&self, sources: &[SourceConfig]) -> HashMap<SourceId, SourceState> {
        let store = self.store.clone();
        let ids: Vec<SourceId> = sources.iter().map(|s| s.id.clone()).collect();
        let read = self.blocking(move || {
            ids.into_iter()
                .filter_map(|id| {
                    let state = store.source_state(&id).ok()?.unwrap_or_default();
                    Some((id, state))
                })
                .collect()
        });
        read.await.unwrap_or_default()
    }

    async fn save(&self, id: &SourceId, state: SourceState) -> Result<(), IngestError> {
        let (store, id) = (self.store.clone(), id.clone());
        // Bookkeeping only (validators, timings, the last error): no fsync of its own. sled
        // makes it durable within its flush interval; lost, it only costs one extra fetch.
        self.blocking(move || store.save_state(&id, &state))
            .await??;
        Ok(())
    }

    /// Runs `work` on the blocking pool; a panic becomes [`IngestError::Panicked`].
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, IngestError> {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| IngestError::Panicked(crate::join_message(e)))
    }
}

/// A worker's failure: its work panicked, or the worker is gone.
fn worker_error(error: crate::workers::WorkerError) -> IngestError {
    match error {
        crate::workers::WorkerError::Panicked(message) => IngestError::Panicked(message),
        crate::workers::WorkerError::Gone(message) => IngestError::WorkerGone(message),
    }
}
