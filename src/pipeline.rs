//! `ingest(source)`: the one function that chains fetch → decode → parse → normalize →
//! dedupe → store for one source, and records the outcome in the source's state.
//!
//! CPU work (decode, parse, normalize) and sled writes run on the blocking pool, so a parser
//! panic becomes this source's error and never stalls the async workers. A failure is recorded
//! (status, sentence, consecutive count, next poll after backoff) and never touches what is
//! already stored.

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use url::Url;

use crate::config::{Config, SourceConfig};
use crate::decode::{DecodeError, decode};
use crate::fetch::{
    FetchError, FetchOutcome, FetchRequest, FetchSettings, Fetched, Fetcher, ResponseMeta,
};
use crate::metrics::{Metrics, OutcomeLabels, SourceLabels};
use crate::model::{SourceId, SourceState, Story};
use crate::normalize::{Context, normalize};
use crate::parse::{ChannelHints, ParseError, ParseOptions, parse};
use crate::schedule::{self, Clock, Hints, Limits, Policy};
use crate::store::{CommitCounts, PollCommit, Prepared, Store, StoreError};
use crate::workers::{Batcher, Workers};

/// Why one poll of one source failed.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Fetching failed.
    #[error("{0}")]
    Fetch(#[from] FetchError),
    /// The body could not be decoded.
    #[error("{0}")]
    Decode(#[from] DecodeError),
    /// The body is not a feed we can read.
    #[error("{0}")]
    Parse(#[from] ParseError),
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// A bug: the work for this source panicked. Caught, so the others go on.
    #[error("internal error while processing this source: {0}")]
    Panicked(String),
}

/// How one poll ended.
#[derive(Debug)]
pub enum PollOutcome {
    /// A document was read and committed.
    Stored {
        /// HTTP status (200) or 200 for files.
        status: u16,
        /// What the commit did.
        counts: CommitCounts,
        /// Stories in the document after in-document dedupe and caps.
        items: usize,
        /// The charset used.
        encoding: &'static str,
    },
    /// 304: nothing changed.
    NotModified,
    /// The source is gone (410) and is no longer polled.
    Gone,
    /// The poll failed.
    Failed(IngestError),
}

impl PollOutcome {
    /// Whether this poll counts as a success for `sosik poll`'s exit code.
    pub fn is_success(&self) -> bool {
        matches!(self, PollOutcome::Stored { .. } | PollOutcome::NotModified)
    }

    /// Whether the poll stored a new or edited story.
    pub fn changed(&self) -> bool {
        matches!(self, PollOutcome::Stored { counts, .. } if counts.new + counts.updated > 0)
    }

    /// The label of `sosik_fetches_total`.
    pub fn label(&self) -> &'static str {
        match self {
            PollOutcome::Stored { .. } => "stored",
            PollOutcome::NotModified => "not_modified",
            PollOutcome::Gone => "gone",
            PollOutcome::Failed(IngestError::Panicked(_)) => "panicked",
            PollOutcome::Failed(_) => "failed",
        }
    }
}

/// One source's poll, for reports, logs and the scheduler.
#[derive(Debug)]
pub struct PollReport {
    /// The source.
    pub source: SourceId,
    /// What happened.
    pub outcome: PollOutcome,
    /// Wall time of the whole poll.
    pub elapsed: Duration,
    /// When this source is due again; `None` when it is gone.
    pub next_poll: Option<DateTime<Utc>>,
    /// Failures since the last success, this one included.
    pub consecutive_errors: u32,
}

impl schedule::Scheduled for PollReport {
    fn next_poll(&self) -> Option<DateTime<Utc>> {
        self.next_poll
    }
}

/// Everything one poll needs, shared by all polls of a process. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Ingest {
    config: Arc<Config>,
    store: Store,
    fetcher: Fetcher,
    limits: Limits,
    policy: Policy,
    clock: Clock,
    metrics: Option<Arc<Metrics>>,
    /// Decode, parse, normalize and encode run here: one niced thread per core.
    workers: Workers,
    /// The store has one writer: commits run on this one thread, queued as tasks instead of
    /// threads blocked on the store's writer lock; the polls waiting when it is free are
    /// committed together, in one sled batch ([`Store::commit_group`]).
    writer: Batcher<Commit, Result<Committed, StoreError>>,
}

/// Most polls committed in one group: more than `poll.concurrency` never wait at once anyway.
const MAX_COMMIT_GROUP: usize = 64;

/// How long the writer waits for more polls after the first of a group. sled pays two log
/// writes per batch whatever its size, so on a cold poll of 2,000 sources a millisecond's
/// wait (groups of two or three) saves more than it costs; a lone poll is a millisecond later.
const COMMIT_LINGER: Duration = Duration::from_millis(1);

/// One poll's stories on their way to the writer.
struct Commit {
    source: SourceId,
    stories: Vec<Story>,
    prepared: Prepared,
    state: SourceState,
    now: DateTime<Utc>,
}

/// A committed poll: what the commit did, the state it saved, and the stories, handed back to
/// be freed off the writer's thread.
type Committed = (CommitCounts, SourceState, Vec<Story>);

/// The writer's work: a group of polls committed together, then each source's cap kept.
fn commit_polls(
    store: &Store,
    max: usize,
    commits: Vec<Commit>,
) -> Vec<Result<Committed, StoreError>> {
    let (commits, prepared): (Vec<_>, Vec<_>) = commits
        .into_iter()
        .map(|c| ((c.source, c.stories, c.state, c.now), c.prepared))
        .unzip();
    let polls = commits
        .iter()
        .zip(prepared)
        .map(|((source, stories, state, now), prepared)| PollCommit {
            source,
            stories,
            prepared,
            state,
            now: *now,
        })
        .collect();
    let results = store.commit_group(polls);
    commits
        .into_iter()
        .zip(results)
        .map(|((source, stories, state, _), result)| {
            let counts = result?;
            let protect: HashSet<_> = state.current.iter().copied().collect();
            store.enforce_cap(&source, max, &protect)?;
            Ok((counts, state, stories))
        })
        .collect()
}

impl Ingest {
    /// Builds the fetcher and limits from `config`.
    pub fn new(config: Arc<Config>, store: Store) -> Result<Ingest, FetchError> {
        let fetcher = Fetcher::new(fetch_settings(&config))?;
        let limits = Limits::new(config.poll.concurrency, config.poll.per_host_concurrency);
        let policy = Policy::new(config.poll.min_interval, config.poll.max_interval);
        let writer = {
            let (store, max) = (store.clone(), config.store.max_items_per_source);
            Batcher::new(
                "sosik-writer",
                MAX_COMMIT_GROUP,
                COMMIT_LINGER,
                move |commits| commit_polls(&store, max, commits),
            )
        };
        Ok(Ingest {
            config,
            store,
            fetcher,
            limits,
            policy,
            clock: Clock::System,
            metrics: None,
            workers: Workers::new(cpu_threads()),
            writer,
        })
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

    /// The config this ingest was built from.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// Polls `source` once: fetch, decode, parse, normalize, dedupe and commit, then record
    /// the outcome and the next due time in its state. Never panics; never loses stored
    /// stories.
    pub async fn ingest(&self, source: &SourceConfig) -> PollReport {
        self.ingest_from(source, None).await
    }

    /// [`Ingest::ingest`] from the source's state as the caller already read it (`None`: read
    /// it first). `sosik poll` reads every state in one trip to the blocking pool instead of
    /// one trip per poll: two fewer thread hand-offs per source (−3% on a cold poll of 2,000).
    #[tracing::instrument(name = "ingest", skip_all, fields(source = %source.id))]
    pub async fn ingest_from(
        &self,
        source: &SourceConfig,
        known: Option<SourceState>,
    ) -> PollReport {
        let started = Instant::now();
        // A panic in the async part of a poll (the blocking parts are caught where they run)
        // becomes this source's error, recorded like any other.
        let (outcome, state) = match AssertUnwindSafe(self.poll_once(source, known))
            .catch_unwind()
            .await
        {
            Ok(done) => done,
            Err(panic) => {
                self.record_panic(source, crate::panic_message(&*panic))
                    .await
            }
        };
        match &outcome {
            PollOutcome::Stored {
                counts,
                items,
                status,
                ..
            } => {
                tracing::info!(
                    status,
                    new = counts.new,
                    updated = counts.updated,
                    items,
                    "polled"
                )
            }
            PollOutcome::NotModified => tracing::debug!(status = 304, "not modified"),
            PollOutcome::Gone => tracing::warn!(status = 410, "the feed is gone; polling stopped"),
            PollOutcome::Failed(error) => {
                tracing::warn!(%error, errors = state.consecutive_errors, "poll failed")
            }
        }
        if let Some(metrics) = &self.metrics {
            let labels = SourceLabels {
                source: source.id.to_string(),
            };
            metrics
                .fetches
                .get_or_create(&OutcomeLabels {
                    outcome: outcome.label(),
                })
                .inc();
            if let PollOutcome::Stored { counts, .. } = &outcome {
                metrics
                    .stories_new
                    .get_or_create(&labels)
                    .inc_by(u64::from(counts.new));
                metrics
                    .stories_updated
                    .get_or_create(&labels)
                    .inc_by(u64::from(counts.updated));
            }
            metrics
                .consecutive_errors
                .get_or_create(&labels)
                .set(i64::from(state.consecutive_errors));
        }
        PollReport {
            source: source.id.clone(),
            next_poll: if state.gone { None } else { state.next_poll },
            consecutive_errors: state.consecutive_errors,
            outcome,
            elapsed: started.elapsed(),
        }
    }

    /// Every source's state, read in one trip to the blocking pool, for
    /// [`Ingest::ingest_from`]: `None` where a state cannot be read here (its poll reads it
    /// again and reports the error).
    pub async fn known_states(&self, sources: &[SourceConfig]) -> Vec<Option<SourceState>> {
        let (store, ids): (_, Vec<SourceId>) = (
            self.store.clone(),
            sources.iter().map(|s| s.id.clone()).collect(),
        );
        let read = self
            .blocking(move || {
                ids.iter()
                    .map(|id| store.source_state(id).ok().map(Option::unwrap_or_default))
                    .collect()
            })
            .await;
        read.unwrap_or_else(|_| vec![None; sources.len()])
    }

    /// One poll; returns the outcome and the state it left (saved, unless the store failed).
    async fn poll_once(
        &self,
        source: &SourceConfig,
        known: Option<SourceState>,
    ) -> (PollOutcome, SourceState) {
        let loaded = match known {
            Some(state) => Ok(state),
            None => self.load_state(source).await,
        };
        let mut state = match loaded {
            Ok(state) => state,
            Err(error) => return (PollOutcome::Failed(error), SourceState::default()),
        };
        let configured = source.url.as_str();
        if state
            .moved_from
            .as_deref()
            .is_some_and(|from| from != configured)
        {
            // The config names a new URL: the old redirect and validators no longer apply.
            state.moved_to = None;
            state.moved_from = None;
            state.etag = None;
            state.last_modified = None;
        }
        let url = state
            .moved_to
            .as_deref()
            .and_then(|u| Url::parse(u).ok())
            .unwrap_or_else(|| source.url.clone());
        let request = FetchRequest {
            url: Some(url.clone()),
            etag: state.etag.clone(),
            last_modified: state.last_modified.clone(),
        };

        // Held for the whole poll: `poll.concurrency` bounds the documents in memory, not only
        // the connections. The host slot is freed as soon as the fetch is done.
        let mut permits = self.limits.acquire(&url).await;
        let started = Instant::now();
        let fetched = self.fetcher.fetch(&request).await;
        if let Some(metrics) = &self.metrics {
            metrics
                .fetch_seconds
                .observe(started.elapsed().as_secs_f64());
        }
        permits.release_host();
        let now = self.clock.now();
        state.last_fetch = Some(now);
        let outcome = match fetched {
            Ok(FetchOutcome::NotModified(meta)) => {
                self.record_success(source, &mut state, &meta, now);
                PollOutcome::NotModified
            }
            Ok(FetchOutcome::Fetched(fetched)) => {
                match self.store_document(source, &mut state, fetched, now).await {
                    // The commit saved the state already.
                    Ok(outcome) => return (outcome, state),
                    Err(error) => {
                        self.record_failure(source, &mut state, &error, now);
                        PollOutcome::Failed(error)
                    }
                }
            }
            Err(error) => {
                let gone = error.status() == Some(410);
                let error = IngestError::Fetch(error);
                self.record_failure(source, &mut state, &error, now);
                state.gone = gone;
                if gone {
                    PollOutcome::Gone
                } else {
                    PollOutcome::Failed(error)
                }
            }
        };
        match self.save(source, state.clone()).await {
            Ok(()) => (outcome, state),
            Err(error) => (PollOutcome::Failed(error), state),
        }
    }

    async fn record_panic(
        &self,
        source: &SourceConfig,
        message: String,
    ) -> (PollOutcome, SourceState) {
        let error = IngestError::Panicked(message);
        let mut state = self.load_state(source).await.unwrap_or_default();
        let now = self.clock.now();
        state.last_fetch = Some(now);
        self.record_failure(source, &mut state, &error, now);
        if let Err(e) = self.save(source, state.clone()).await {
            tracing::error!(error = %e, "cannot record a panic in the source's state");
        }
        (PollOutcome::Failed(error), state)
    }

    async fn load_state(&self, source: &SourceConfig) -> Result<SourceState, IngestError> {
        let (store, id) = (self.store.clone(), source.id.clone());
        Ok(self
            .blocking(move || store.source_state(&id))
            .await??
            .unwrap_or_default())
    }

    async fn store_document(
        &self,
        source: &SourceConfig,
        state: &mut SourceState,
        fetched: Fetched,
        now: DateTime<Utc>,
    ) -> Result<PollOutcome, IngestError> {
        let status = fetched.meta.status;
        let meta = fetched.meta.clone();
        let max = self.config.store.max_items_per_source;
        let (id, timezone) = (source.id.clone(), source.timezone);
        // Read on the niced CPU workers, and encode the new stories' records there too, so
        // the store's writer only writes.
        let store = self.store.clone();
        let (doc, prepared) = self
            .workers
            .run(move || {
                read_document(&fetched, &id, timezone, now, max).map(|doc| {
                    let prepared = store.prepare(&doc.stories);
                    (doc, prepared)
                })
            })
            .await
            .map_err(IngestError::Panicked)??;
        // The state this document leads to, committed with its stories; the caller's is left
        // as it was unless the commit succeeds, so a failed commit neither advances the
        // validators (the next poll would get a 304 for stories never stored) nor resets the
        // count of consecutive errors.
        let mut next = state.clone();
        remember_channel_hints(&mut next, &doc.hints);
        self.record_success(source, &mut next, &meta, now);
        next.title = doc.title;
        next.current = prepared.keys().to_vec();
        let items = doc.stories.len();
        let encoding = doc.encoding;
        let commit = Commit {
            source: source.id.clone(),
            stories: doc.stories,
            prepared,
            state: next,
            now,
        };
        let (counts, next, stories) = self
            .writer
            .run(commit)
            .await
            .map_err(IngestError::Panicked)??;
        // The stories are freed here, off the writer's thread. (Handing them to the CPU
        // workers to free measured slower: glibc's arenas.)
        drop(stories);
        *state = next;
        state.last_new = counts.new;
        state.last_updated = counts.updated;
        Ok(PollOutcome::Stored {
            status,
            counts,
            items,
            encoding,
        })
    }

    fn record_success(
        &self,
        source: &SourceConfig,
        state: &mut SourceState,
        meta: &ResponseMeta,
        now: DateTime<Utc>,
    ) {
        state.last_success = Some(now);
        state.last_status = Some(meta.status);
        state.last_error = None;
        state.consecutive_errors = 0;
        state.gone = false;
        if meta.status != 304 || meta.etag.is_some() || meta.last_modified.is_some() {
            // A 304 may omit validators; keep the ones we hold then.
            state.etag = meta.etag.clone();
            state.last_modified = meta.last_modified.clone();
        }
        if let Some(moved) = &meta.moved_to {
            state.moved_to = Some(moved.to_string());
            state.moved_from = Some(source.url.to_string());
        }
        let hints = Hints {
            max_age: meta.cache.max_age,
            expires: meta.cache.expires,
            feed_interval: state.feed_interval_secs.map(Duration::from_secs),
            skip_hours: state.skip_hours,
            skip_days: state.skip_days,
        };
        let mut rng = fastrand::Rng::new();
        state.next_poll = Some(schedule::after_success(
            &self.policy,
            source.interval,
            &hints,
            now,
            &mut rng,
        ));
    }

    fn record_failure(
        &self,
        source: &SourceConfig,
        state: &mut SourceState,
        error: &IngestError,
        now: DateTime<Utc>,
    ) {
        state.consecutive_errors = state.consecutive_errors.saturating_add(1);
        state.last_error = Some(error.to_string());
        let (status, retry_after) = match error {
            IngestError::Fetch(FetchError::Status {
                status,
                retry_after,
                ..
            }) => (Some(*status), *retry_after),
            IngestError::Decode(_) | IngestError::Parse(_) => (state.last_status, None),
            _ => (None, None),
        };
        state.last_status = status;
        let mut rng = fastrand::Rng::new();
        state.next_poll = Some(schedule::after_failure(
            &self.policy,
            source.interval,
            state.consecutive_errors,
            retry_after,
            now,
            &mut rng,
        ));
    }

    async fn save(&self, source: &SourceConfig, state: SourceState) -> Result<(), IngestError> {
        let (store, id) = (self.store.clone(), source.id.clone());
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
            .map_err(|e| IngestError::Panicked(join_message(e)))
    }

    /// Forgets stories first seen longer ago than `store.retention`, except those still in
    /// some source's latest document. Returns how many were forgotten.
    pub fn apply_retention(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let Some(retention) = self.config.store.retention else {
            return Ok(0);
        };
        let mut protect = HashSet::new();
        for (_, state) in self.store.source_states()? {
            protect.extend(state.current);
        }
        self.store.prune_older_than(now, retention, &protect)
    }
}

/// Keeps the document's own rhythm (`<ttl>`, `sy:update*`, `skipHours`, `skipDays`) in the
/// source's state, so polls answered 304 still honour it.
fn remember_channel_hints(state: &mut SourceState, channel: &ChannelHints) {
    let hints = Hints::from_channel(
        channel.ttl_minutes,
        channel.update_period.as_deref(),
        channel.update_frequency,
        &channel.skip_hours,
        &channel.skip_days,
    );
    state.feed_interval_secs = hints.feed_interval.map(|d| d.as_secs());
    state.skip_hours = hints.skip_hours;
    state.skip_days = hints.skip_days;
}

/// How many documents are read (decoded, parsed, normalized) at once: one per core.
fn cpu_threads() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

/// The settings a [`Fetcher`] needs, from `[poll]`.
pub fn fetch_settings(config: &Config) -> FetchSettings {
    FetchSettings {
        timeout: config.poll.timeout,
        max_body_bytes: config.poll.max_body_bytes,
        user_agent: config.poll.user_agent.clone(),
    }
}

fn join_message(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(panic) => crate::panic_message(&*panic),
        Err(e) => e.to_string(),
    }
}

/// A fetched document, decoded, parsed and normalized.
#[derive(Debug)]
pub struct Document {
    /// The feed's title.
    pub title: Option<String>,
    /// `RSS 2.0`, `Atom 1.0`, `JSON Feed`…
    pub format: &'static str,
    /// The charset used.
    pub encoding: &'static str,
    /// The stories.
    pub stories: Vec<Story>,
    /// The channel's scheduling hints.
    pub hints: ChannelHints,
}

/// Decode → parse → normalize, synchronously (call it on a blocking thread). The same path
/// serves `poll`, `inspect` and the conformance tests.
pub fn read_document(
    fetched: &Fetched,
    source: &SourceId,
    timezone: chrono_tz::Tz,
    now: DateTime<Utc>,
    max_items: usize,
) -> Result<Document, IngestError> {
    let url = fetched.meta.final_url.clone();
    let tld = url
        .as_ref()
        .and_then(|u| u.host_str())
        .and_then(|h| h.rsplit('.').next())
        .map(str::to_owned);
    let decoded = decode(
        &fetched.body,
        fetched.content_type.as_deref(),
        tld.as_deref(),
    )?;
    let base_url = url
        .clone()
        .filter(|u| matches!(u.scheme(), "http" | "https"));
    let parsed = parse(
        &decoded.text,
        &ParseOptions {
            base_url,
            timezone,
            max_items,
        },
    )?;
    let normalized = normalize(
        &parsed,
        &Context {
            source: source.clone(),
            feed_url: url,
            now,
            max_items,
        },
    );
    let mut hints = parsed.extras.hints.clone();
    hints.ttl_minutes = hints.ttl_minutes.or(parsed.feed.ttl);
    Ok(Document {
        title: normalized.title,
        format: parsed.format,
        encoding: decoded.encoding,
        stories: normalized.stories,
        hints,
    })
}

/// How `sosik inspect` reads a feed: the fetch limits, the zone of offset-less dates and the
/// item cap, from a source's config or the defaults.
#[derive(Debug, Clone)]
pub struct InspectOptions {
    /// Timeout, body limit, user agent.
    pub fetch: FetchSettings,
    /// The zone of timestamps without an offset.
    pub timezone: chrono_tz::Tz,
    /// The newest items read from the document.
    pub max_items: usize,
}

impl InspectOptions {
    /// The options `config` gives a feed of no source (UTC), or of `source`.
    pub fn new(poll: &crate::config::PollConfig, store: &crate::config::StoreConfig) -> Self {
        InspectOptions {
            fetch: FetchSettings {
                timeout: poll.timeout,
                max_body_bytes: poll.max_body_bytes,
                user_agent: poll.user_agent.clone(),
            },
            timezone: chrono_tz::UTC,
            max_items: store.max_items_per_source,
        }
    }
}

/// `sosik inspect`: fetch or read one feed and normalize it without storing anything.
pub async fn inspect(options: &InspectOptions, target: &str) -> Result<Document, IngestError> {
    let url = match Url::parse(target) {
        Ok(url) if matches!(url.scheme(), "http" | "https" | "file") => url,
        _ => {
            let path = std::fs::canonicalize(target).map_err(|e| FetchError::File {
                path: target.to_owned(),
                reason: e.to_string(),
            })?;
            Url::from_file_path(&path)
                .map_err(|_| FetchError::BadUrl(format!("{target} is not a usable path")))?
        }
    };
    let fetcher = Fetcher::new(options.fetch.clone())?;
    let fetched = match fetcher
        .fetch(&FetchRequest {
            url: Some(url),
            ..Default::default()
        })
        .await?
    {
        FetchOutcome::Fetched(f) => f,
        FetchOutcome::NotModified(_) => unreachable!("no validators were sent"),
    };
    let source = SourceId::new("inspect").expect("a valid id");
    let (max, timezone) = (options.max_items, options.timezone);
    tokio::task::spawn_blocking(move || read_document(&fetched, &source, timezone, Utc::now(), max))
        .await
        .map_err(|e| IngestError::Panicked(join_message(e)))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::fixtures::fixture_with;

    fn feed(title: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>매일경제</title><link>https://www.mk.co.kr/</link>
<item><title>{title}</title><link>https://www.mk.co.kr/news/it/1</link>
<description>오픈AI, 삼성에 투자 요청할 듯</description></item>
</channel></rss>"#
        )
    }

    /// A document whose commit fails must leave the source's state as the last success left
    /// it: validators not advanced (else the next poll gets a 304 for stories never stored),
    /// consecutive errors counted up, not reset.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_commit_leaves_the_source_state_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let doc = dir.path().join("mk.xml");
        std::fs::write(&doc, feed("이재용·올트먼 내일 회동")).unwrap();
        let url = Url::from_file_path(&doc).unwrap();
        let fixture = fixture_with(&format!("[sources.mk]\nurl = \"{url}\"\n"));
        let (config, store) = (&fixture.config, &fixture.store);
        let ingest = Ingest::new(config.clone(), store.clone()).unwrap();
        let source = config.source("mk").unwrap();
        let first = ingest.ingest(source).await;
        assert!(matches!(first.outcome, PollOutcome::Stored { .. }));
        let id = SourceId::new("mk").unwrap();
        let before = store.source_state(&id).unwrap().unwrap();
        assert!(before.last_success.is_some());

        // The story's stored body becomes unreadable and the feed edits the story: judging
        // the edit needs the stored version, so the commit fails.
        store.garble_body(&before.current[0]);
        std::fs::write(&doc, feed("이재용·올트먼 내일 회동 (종합)")).unwrap();
        for failures in 1..=2 {
            let report = ingest.ingest(source).await;
            assert!(
                matches!(report.outcome, PollOutcome::Failed(IngestError::Store(_))),
                "{:?}",
                report.outcome
            );
            let after = store.source_state(&id).unwrap().unwrap();
            assert_eq!(after.consecutive_errors, failures);
            assert_eq!(after.last_success, before.last_success);
            assert_eq!(after.current, before.current);
            assert_eq!(
                (after.etag, after.last_modified),
                (before.etag.clone(), before.last_modified.clone())
            );
        }
    }
}
