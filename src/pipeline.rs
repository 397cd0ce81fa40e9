//! `ingest(source)`: the one function that chains fetch → decode → parse → normalize →
//! dedupe → store for one source, and records the outcome in the source's state.
//!
//! CPU work (decode, parse, normalize) and sled writes run on the blocking pool, so a parser
//! panic becomes this source's error and never stalls the async workers. A failure is recorded
//! (status, sentence, consecutive count) and never touches what is already stored.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use url::Url;

use crate::config::{Config, SourceConfig};
use crate::decode::{DecodeError, decode};
use crate::dedupe::decide;
use crate::fetch::{
    FetchError, FetchOutcome, FetchRequest, FetchSettings, Fetched, Fetcher, ResponseMeta,
};
use crate::model::{SourceId, SourceState, Story};
use crate::normalize::{Context, normalize};
use crate::parse::{ParseError, ParseOptions, parse};
use crate::schedule::{self, Limits};
use crate::store::{CommitCounts, Store, StoreError};

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
}

/// One source's poll, for reports and logs.
#[derive(Debug)]
pub struct PollReport {
    /// The source.
    pub source: SourceId,
    /// What happened.
    pub outcome: PollOutcome,
    /// Wall time of the whole poll.
    pub elapsed: Duration,
}

/// Everything one poll needs, shared by all polls of a process.
#[derive(Debug, Clone)]
pub struct Ingest {
    config: Arc<Config>,
    store: Store,
    fetcher: Fetcher,
    limits: Limits,
}

impl Ingest {
    /// Builds the fetcher and limits from `config`.
    pub fn new(config: Arc<Config>, store: Store) -> Result<Ingest, FetchError> {
        let fetcher = Fetcher::new(fetch_settings(&config))?;
        let limits = Limits::new(config.poll.concurrency, config.poll.per_host_concurrency);
        Ok(Ingest {
            config,
            store,
            fetcher,
            limits,
        })
    }

    /// The store polls commit to.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Polls `source` once: fetch, decode, parse, normalize, dedupe and commit, then record
    /// the outcome in its state. Never panics; never loses stored stories.
    #[tracing::instrument(skip_all, fields(source = %source.id))]
    pub async fn ingest(&self, source: &SourceConfig) -> PollReport {
        let started = Instant::now();
        let outcome = match self.try_ingest(source).await {
            Ok(outcome) => outcome,
            Err(error) => PollOutcome::Failed(error),
        };
        match &outcome {
            PollOutcome::Stored { counts, items, .. } => {
                tracing::info!(new = counts.new, updated = counts.updated, items, "polled")
            }
            PollOutcome::NotModified => tracing::debug!(status = 304, "not modified"),
            PollOutcome::Gone => tracing::warn!(status = 410, "the feed is gone; polling stopped"),
            PollOutcome::Failed(error) => tracing::warn!(%error, "poll failed"),
        }
        PollReport {
            source: source.id.clone(),
            outcome,
            elapsed: started.elapsed(),
        }
    }

    async fn try_ingest(&self, source: &SourceConfig) -> Result<PollOutcome, IngestError> {
        let mut state = self
            .blocking({
                let (store, id) = (self.store.clone(), source.id.clone());
                move || store.source_state(&id)
            })
            .await??
            .unwrap_or_default();
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

        let fetched = {
            let _permits = self.limits.acquire(&url).await;
            self.fetcher.fetch(&request).await
        };
        let now = Utc::now();
        state.last_fetch = Some(now);
        match fetched {
            Ok(FetchOutcome::NotModified(meta)) => {
                self.record_success(source, &mut state, &meta, now);
                self.save(source, state).await?;
                Ok(PollOutcome::NotModified)
            }
            Ok(FetchOutcome::Fetched(fetched)) => match self
                .store_document(source, state.clone(), fetched, now)
                .await
            {
                Ok(outcome) => Ok(outcome),
                Err(error) => {
                    self.record_failure(source, &mut state, &error, now);
                    self.save(source, state).await?;
                    Err(error)
                }
            },
            Err(error) => {
                let gone = error.status() == Some(410);
                let error = IngestError::Fetch(error);
                self.record_failure(source, &mut state, &error, now);
                state.gone = gone;
                self.save(source, state).await?;
                if gone {
                    Ok(PollOutcome::Gone)
                } else {
                    Err(error)
                }
            }
        }
    }

    async fn store_document(
        &self,
        source: &SourceConfig,
        mut state: SourceState,
        fetched: Fetched,
        now: DateTime<Utc>,
    ) -> Result<PollOutcome, IngestError> {
        let status = fetched.meta.status;
        let meta = fetched.meta.clone();
        let config = self.config.clone();
        let id = source.id.clone();
        let timezone = source.timezone;
        let doc = self
            .blocking(move || {
                read_document(
                    &fetched,
                    &id,
                    timezone,
                    now,
                    config.store.max_items_per_source,
                )
            })
            .await??;
        self.record_success(source, &mut state, &meta, now);
        state.title = doc.title.clone();
        state.current = doc.stories.iter().map(Story::key).collect();
        let items = doc.stories.len();
        let encoding = doc.encoding;
        let (store, id, max) = (
            self.store.clone(),
            source.id.clone(),
            self.config.store.max_items_per_source,
        );
        let counts = self
            .blocking(move || {
                let counts = store
                    .commit_poll(&id, &doc.stories, &state, &|old, new| decide(old, new, now))?;
                let protect: HashSet<_> = state.current.iter().copied().collect();
                store.enforce_cap(&id, max, &protect)?;
                Ok::<_, StoreError>(counts)
            })
            .await??;
        self.store.flush().await?;
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
        let poll = &self.config.poll;
        state.next_poll = Some(schedule::next_after_success(
            now,
            source.interval,
            poll.min_interval,
            poll.max_interval,
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
        let poll = &self.config.poll;
        state.next_poll = Some(schedule::next_after_failure(
            now,
            source.interval,
            state.consecutive_errors,
            retry_after,
            poll.min_interval,
            poll.max_interval,
        ));
    }

    async fn save(&self, source: &SourceConfig, state: SourceState) -> Result<(), IngestError> {
        let (store, id) = (self.store.clone(), source.id.clone());
        self.blocking(move || store.save_state(&id, &state))
            .await??;
        self.store.flush().await?;
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
        Ok(panic) => panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into()),
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
    Ok(Document {
        title: normalized.title,
        format: parsed.format,
        encoding: decoded.encoding,
        stories: normalized.stories,
    })
}

/// `sosik inspect`: fetch or read one feed and normalize it without storing anything.
pub async fn inspect(config: &Config, target: &str) -> Result<Document, IngestError> {
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
    let fetcher = Fetcher::new(fetch_settings(config))?;
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
    let max = config.store.max_items_per_source;
    tokio::task::spawn_blocking(move || {
        read_document(&fetched, &source, chrono_tz::UTC, Utc::now(), max)
    })
    .await
    .map_err(|e| IngestError::Panicked(join_message(e)))?
}
