//! Publishing: which stored stories an output feed shows, rendered once per store change.
//!
//! This module owns the publish side's selection rule (an output's sources, its filter, its
//! limit, newest first), the feed's "last changed" time, what a feed says about each source,
//! the ETag, and the cache of rendered bytes. It reads the store and never writes it; it never
//! does HTTP (`serve/` turns a [`Rendered`] into a response) and never reads the clock, so the
//! same store gives the same bytes, and `sosik render` prints exactly what HTTP serves.
//!
//! Caching: rendered bytes are kept per (output, format) and tagged with a generation number.
//! The ingest side calls [`Publisher::invalidate`] after a poll that changed the store; until
//! then a request finds its bytes in the cache and does no store read, filtering or rendering.
//! Misses render one at a time, so a burst of requests right after an invalidation renders
//! each feed once.
//!
//! Choices the SPEC leaves open:
//! - Selection merges the per-source time indexes of the output's sources (so an output of one
//!   source among many never walks everyone's stories), newest `published` first, a story
//!   carried by several of them once. Ties are broken by story key, as the store orders them.
//! - The walk is bounded: after [`scan_budget`] stories (`max(limit * 200, 20_000)`), the feed
//!   holds whatever matched so far. A filter that matches almost nothing over a huge store
//!   thus costs a bounded amount of work per render, at the price of missing matches older
//!   than the budget.
//! - A feed's "last changed" time (the feed's `updated` element and HTTP `Last-Modified`) is the
//!   latest `updated` or `first_seen` among the stories it shows: a story first stored today
//!   changes the feed today even when its publisher dated it yesterday. An empty feed uses
//!   [`EMPTY_FEED_UPDATED`], a constant, so it renders the same bytes every time.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use chrono::{DateTime, Utc};

use crate::config::{Config, OutputConfig};
use crate::model::{SourceId, Story};
use crate::render::{self, FeedMeta, Format, SourceInfo};
use crate::store::{Store, StoreError};

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod tests;

/// The "last changed" time of a feed with no stories: the Unix epoch, so an empty feed is
/// byte-for-byte the same on every render.
pub const EMPTY_FEED_UPDATED: DateTime<Utc> = DateTime::UNIX_EPOCH;

/// How many stories one render may examine for an output with this `limit`:
/// `max(limit * 200, 20_000)`. Bounds the cost of a filter that rarely matches.
pub fn scan_budget(limit: usize) -> usize {
    limit.saturating_mul(200).max(20_000)
}

/// One output feed rendered in one format, ready to serve.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The feed document. Cloning shares the bytes.
    pub bytes: Bytes,
    /// A strong entity tag: a quoted hex BLAKE3 hash of `bytes`, e.g. `"3f…a1"`.
    pub etag: String,
    /// When the feed last changed (see the module notes); an HTTP `Last-Modified`.
    pub last_modified: DateTime<Utc>,
    /// The HTTP `Content-Type` of the format.
    pub content_type: &'static str,
    /// How many stories the feed holds.
    pub items: usize,
}

/// Why an output could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// No output has this name.
    #[error("no output is named {0:?}")]
    UnknownOutput(String),
    /// Reading the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Renders output feeds from the store, with a cache that lives until the next
/// [`Publisher::invalidate`]. Cheap to clone: clones share the cache.
#[derive(Clone)]
pub struct Publisher {
    inner: Arc<Inner>,
}

struct Inner {
    config: Arc<Config>,
    store: Store,
    /// Bumped by `invalidate`; cache entries of an older generation are stale.
    generation: AtomicU64,
    /// Keyed by the output's index in `config.outputs` and the format.
    cache: Mutex<HashMap<(usize, Format), Cached>>,
    /// Held while rendering, so concurrent misses render once.
    rendering: Mutex<()>,
    /// The story count, with the generation it was counted at (sled counts by scanning).
    count: Mutex<Option<(u64, usize)>>,
    /// Renders actually performed (cache misses), for tests and metrics.
    renders: AtomicU64,
}

struct Cached {
    generation: u64,
    rendered: Rendered,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("store", &self.inner.store)
            .field("generation", &self.generation())
            .finish_non_exhaustive()
    }
}

impl Publisher {
    /// A publisher over `store` for the outputs of `config`, with an empty cache.
    pub fn new(config: Arc<Config>, store: Store) -> Publisher {
        Publisher {
            inner: Arc::new(Inner {
                config,
                store,
                generation: AtomicU64::new(0),
                cache: Mutex::new(HashMap::new()),
                rendering: Mutex::new(()),
                count: Mutex::new(None),
                renders: AtomicU64::new(0),
            }),
        }
    }

    /// The configuration this publisher serves.
    pub fn config(&self) -> &Arc<Config> {
        &self.inner.config
    }

    /// The store this publisher reads.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Marks every cached feed stale. The ingest side calls this after a commit that changed
    /// stories (new, edited, pruned); the next request of each feed renders it again.
    pub fn invalidate(&self) {
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The current cache generation: how many times [`Publisher::invalidate`] was called.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }

    /// How many renders were performed rather than served from the cache.
    pub fn renders(&self) -> u64 {
        self.inner.renders.load(Ordering::Relaxed)
    }

    /// The cached render of `name` in `format` when it is current: no store access, no
    /// rendering, only a lock. `None` when a call to [`Publisher::render`] is needed (which
    /// may block on the store).
    pub fn render_cached(&self, name: &str, format: Format) -> Option<Rendered> {
        let index = self
            .inner
            .config
            .outputs
            .iter()
            .position(|o| o.name == name)?;
        self.cached((index, format), self.generation())
    }

    /// The output `name` in `format`: from the cache when nothing changed since it was
    /// rendered, else selected, filtered and rendered now. Blocking (store reads): call it from
    /// `spawn_blocking` in async code.
    pub fn render(&self, name: &str, format: Format) -> Result<Rendered, PublishError> {
        let config = &self.inner.config;
        let (index, output) = config
            .outputs
            .iter()
            .enumerate()
            .find(|(_, o)| o.name == name)
            .ok_or_else(|| PublishError::UnknownOutput(name.to_owned()))?;
        let key = (index, format);
        if let Some(hit) = self.cached(key, self.generation()) {
            return Ok(hit);
        }
        // One render at a time: a burst of requests after an invalidation renders each feed
        // once, and renders never compete with each other for a small server's cores.
        let _rendering = lock(&self.inner.rendering);
        // Read the generation before the store: cached bytes are never older than their tag.
        let generation = self.generation();
        if let Some(hit) = self.cached(key, generation) {
            return Ok(hit);
        }
        let rendered = self.render_now(output, format, scan_budget(output.limit))?;
        self.inner.renders.fetch_add(1, Ordering::Relaxed);
        let entry = Cached {
            generation,
            rendered: rendered.clone(),
        };
        lock(&self.inner.cache).insert(key, entry);
        Ok(rendered)
    }

    fn cached(&self, key: (usize, Format), generation: u64) -> Option<Rendered> {
        lock(&self.inner.cache)
            .get(&key)
            .filter(|c| c.generation == generation)
            .map(|c| c.rendered.clone())
    }

    /// Number of stories stored, counted once per generation (sled counts by scanning).
    /// Blocking.
    pub fn story_count(&self) -> usize {
        let generation = self.generation();
        let mut count = lock(&self.inner.count);
        match *count {
            Some((g, n)) if g == generation => n,
            _ => {
                let n = self.inner.store.len();
                *count = Some((generation, n));
                n
            }
        }
    }

    /// What feeds say about each configured source: its configured title, else the title its
    /// feed gave at the last poll, else its id; and its configured URL. Blocking.
    pub fn source_info(&self) -> Result<BTreeMap<SourceId, SourceInfo>, PublishError> {
        let mut out = BTreeMap::new();
        for source in &self.inner.config.sources {
            let title = match &source.title {
                Some(title) => title.clone(),
                None => self
                    .inner
                    .store
                    .source_state(&source.id)?
                    .and_then(|state| state.title)
                    .filter(|t| !t.trim().is_empty())
                    .unwrap_or_else(|| source.id.to_string()),
            };
            let info = SourceInfo {
                title,
                url: source.url.to_string(),
            };
            out.insert(source.id.clone(), info);
        }
        Ok(out)
    }

    fn render_now(
        &self,
        output: &OutputConfig,
        format: Format,
        budget: usize,
    ) -> Result<Rendered, PublishError> {
        let stories = self.select(output, budget)?;
        let updated = stories
            .iter()
            .map(|s| s.updated.max(s.first_seen))
            .max()
            .unwrap_or(EMPTY_FEED_UPDATED);
        let sources = self.source_info()?;
        let meta = FeedMeta {
            name: &output.name,
            title: &output.title,
            description: &output.description,
            base_url: &self.inner.config.server.base_url,
            ttl_minutes: None,
            updated,
        };
        let bytes = render::render(format, &meta, &stories, |id| sources.get(id));
        Ok(Rendered {
            etag: etag_of(&bytes),
            bytes: Bytes::from(bytes),
            last_modified: updated,
            content_type: format.content_type(),
            items: stories.len(),
        })
    }

    /// The stories `output` shows, newest first: carried by one of its sources, passing its
    /// filter, at most `limit`, examining at most `budget` stories.
    fn select(&self, output: &OutputConfig, budget: usize) -> Result<Vec<Story>, StoreError> {
        let store = &self.inner.store;
        let config = &*self.inner.config;
        // The store walks its newest-first index and skips other sources' stories in memory,
        // so only this output's candidates are read.
        let mut walk = store.newest_among(&output.sources);
        let mut picked = Vec::new();
        let mut scanned = 0;
        while picked.len() < output.limit {
            if scanned == budget {
                tracing::debug!(
                    output = %output.name,
                    scanned,
                    picked = picked.len(),
                    "stopped selecting: scan budget reached"
                );
                break;
            }
            let Some(story) = walk.next().transpose()? else {
                break;
            };
            scanned += 1;
            if output.filter.matches(&story, config) {
                picked.push(story);
            }
        }
        Ok(picked)
    }
}

/// A strong ETag: the quoted hex of the first 16 bytes of the BLAKE3 hash of `bytes`.
fn etag_of(bytes: &[u8]) -> String {
    let hash = blake3::hash(bytes);
    let hex: String = hash.as_bytes()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("\"{hex}\"")
}

/// A poisoned lock only means another thread panicked while holding it; every value stored
/// behind these locks is written whole, so the data is still consistent.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
