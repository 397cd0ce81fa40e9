//! Publishing: which stored stories an output feed shows, rendered once per store change.
//!
//! This module owns the publish side's selection rule (an output's sources, its filter, its
//! limit, newest first), the feed's "last changed" time, what a feed says about each source,
//! the ETag, the HTTP Last-Modified, and the cache of rendered bytes. It never does HTTP
//! (`serve/` turns a [`Rendered`] into a response). It reads the store, and writes only its
//! own served-version records (one per output and format, see Last-Modified below).
//!
//! The bytes never depend on the clock: the same store gives the same bytes, and `sosik render`
//! prints exactly what HTTP serves. The HTTP Last-Modified does read the clock, once per
//! change of the bytes (below); `sosik render` prints only bytes.
//!
//! Caching: rendered bytes are kept per (output, format) and tagged with a generation number.
//! The ingest side calls [`Publisher::invalidate`] after a poll that changed the store; until
//! then a request finds its bytes in the cache and does no store read, filtering or rendering.
//! Misses render one at a time, so a burst of requests right after an invalidation renders
//! each feed once.
//!
//! Last-Modified (issue 12, item 3): it is when these exact bytes were first served, not a
//! time read from the stories, because a feed's bytes also change when its filter, limit,
//! title or a source's title changes, and a client that sends only `If-Modified-Since` must
//! then get the new bytes. The store keeps, per (output, format), the ETag last served and its
//! Last-Modified ([`ServedVersion`]). A render whose ETag equals the record's keeps its
//! Last-Modified, across restarts too; a render whose ETag differs gets
//! `max(now, previous + 1 s)` in whole seconds (HTTP dates' resolution), so a changed feed is
//! always strictly later than any version served before, and the record is replaced. Only in
//! a burst of changes within one second can that run a second or two ahead of the clock.
//! The stories' own times are not used: stored stories were first seen before now, and a
//! publisher's future date must not become a future Last-Modified.
//!
//! Choices the SPEC leaves open:
//! - Selection merges the per-source time indexes of the output's sources (so an output of one
//!   source among many never walks everyone's stories), newest `published` first, a story
//!   carried by several of them once. Ties are broken by story key, as the store orders them.
//! - The walk is bounded: after [`scan_budget`] stories (`max(limit * 200, 20_000)`), the feed
//!   holds whatever matched so far. A filter that matches almost nothing over a huge store
//!   thus costs a bounded amount of work per render, at the price of missing matches older
//!   than the budget.
//! - A feed's own "updated" time (Atom `updated`, RSS `lastBuildDate`) is the latest `updated`
//!   or `first_seen` among the stories it shows: a story first stored today changes the feed
//!   today even when its publisher dated it yesterday. An empty feed has no such time: RSS
//!   leaves `lastBuildDate` out, and Atom, which requires `updated`, gets the store's creation
//!   time ([`Store::created`]), fixed, so an empty feed renders the same bytes every time.
//! - A published document never shows a `file:` URL (issue 12, item 10): those name paths on
//!   this machine. What a feed says about a source is its configured URL only when that is
//!   `http` or `https` (with any user name and password removed); a `file:` source has no
//!   URL to show, so RSS items from it carry no `<source>` element (RSS requires its `url`)
//!   and `/sources.opml` lists it as a plain outline without `xmlUrl`. Atom and JSON Feed
//!   name sources without URLs (Atom's author of last resort is the source's title; JSON
//!   Feed's `_sosik.sources` lists ids).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use bytes::Bytes;
use chrono::{DateTime, Utc};

use crate::config::{Config, OutputConfig};
use crate::model::{SourceId, SourceState};
use crate::render::{self, FeedMeta, Format, SourceInfo};
use crate::store::{ServedVersion, Store, StoreError};

mod opml;
mod select;

pub use select::{Copy, Told, with_copies};

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod tests;

/// Where the publisher reads "now" (for Last-Modified only). Tests fix it.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

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
    /// The HTTP `Last-Modified`: when these bytes were first served, in whole seconds (see
    /// the module notes).
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
    /// The OPML writer failed.
    #[error("writing OPML failed: {0}")]
    Opml(String),
}

/// Renders output feeds from the store, with a cache that lives until the next
/// [`Publisher::invalidate`]. Cheap to clone: clones share the cache.
#[derive(Clone)]
pub struct Publisher {
    inner: Arc<Inner>,
}

struct Inner {
    /// The config served, swapped whole by a reload ([`Publisher::reconfigure`]).
    config: ArcSwap<Config>,
    store: Store,
    /// Bumped by `invalidate`; cache entries of an older generation are stale.
    generation: AtomicU64,
    /// Keyed by the output's name and the format.
    cache: Mutex<HashMap<(String, Format), Cached>>,
    /// Held while rendering, so concurrent misses render once.
    rendering: Mutex<()>,
    /// The story count, with the generation it was counted at (sled counts by scanning).
    count: Mutex<Option<(u64, usize)>>,
    /// Renders actually performed (cache misses), for tests and metrics.
    renders: AtomicU64,
    /// "Now", for the Last-Modified of changed bytes.
    clock: Clock,
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
        Publisher::with_clock(config, store, Arc::new(Utc::now))
    }

    /// A publisher like [`Publisher::new`] that reads "now" from `clock` (tests fix it).
    pub fn with_clock(config: Arc<Config>, store: Store, clock: Clock) -> Publisher {
        Publisher {
            inner: Arc::new(Inner {
                config: ArcSwap::new(config),
                store,
                generation: AtomicU64::new(0),
                cache: Mutex::new(HashMap::new()),
                rendering: Mutex::new(()),
                count: Mutex::new(None),
                renders: AtomicU64::new(0),
                clock,
            }),
        }
    }

    /// The configuration this publisher serves now.
    pub fn config(&self) -> Arc<Config> {
        self.inner.config.load_full()
    }

    /// Serves `config` from now on: added, changed and removed outputs apply at once (every
    /// cached feed is stale, so each is rendered again on its next request, with a new ETag
    /// where its bytes changed). The config is swapped before the generation moves, and a
    /// render reads the generation before the config, so no bytes rendered from the old
    /// config are ever cached as current.
    pub fn reconfigure(&self, config: Arc<Config>) {
        self.inner.config.store(config);
        self.invalidate();
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
        self.cached(&(name.to_owned(), format), self.generation())
    }

    /// The output `name` in `format`: from the cache when nothing changed since it was
    /// rendered, else selected, filtered and rendered now. Blocking (store reads): call it from
    /// `spawn_blocking` in async code.
    pub fn render(&self, name: &str, format: Format) -> Result<Rendered, PublishError> {
        let key = (name.to_owned(), format);
        if let Some(hit) = self.cached(&key, self.generation()) {
            return Ok(hit);
        }
        // One render at a time: a burst of requests after an invalidation renders each feed
        // once, and renders never compete with each other for a small server's cores.
        let _rendering = lock(&self.inner.rendering);
        // Read the generation before the config and the store: cached bytes are never older
        // than their tag.
        let generation = self.generation();
        if let Some(hit) = self.cached(&key, generation) {
            return Ok(hit);
        }
        let config = self.inner.config.load();
        let output = (config.outputs.iter())
            .find(|o| o.name == name)
            .ok_or_else(|| PublishError::UnknownOutput(name.to_owned()))?;
        let fresh = self
            .render_now(output, format, scan_budget(output.limit))
            .and_then(|mut rendered| {
                rendered.last_modified = self.last_modified(output, format, &rendered.etag)?;
                Ok(rendered)
            });
        let rendered = match fresh {
            Ok(rendered) => rendered,
            // The store cannot be read now (re-opened after a storage fault, issue 19): the
            // bytes served last are still the best answer.
            Err(error @ PublishError::Store(_)) => match lock(&self.inner.cache).get(&key) {
                Some(stale) => {
                    tracing::warn!(output = %output.name, %format, %error, "serving the feed as last rendered");
                    return Ok(stale.rendered.clone());
                }
                None => return Err(error),
            },
            Err(error) => return Err(error),
        };
        self.inner.renders.fetch_add(1, Ordering::Relaxed);
        let entry = Cached {
            generation,
            rendered: rendered.clone(),
        };
        lock(&self.inner.cache).insert(key, entry);
        Ok(rendered)
    }

    /// The Last-Modified of the bytes tagged `etag` (see the module notes): the recorded one
    /// when these bytes were served before, else a new one, later than any before, recorded.
    /// Called under the rendering lock, so two renders never race on the record.
    fn last_modified(
        &self,
        output: &OutputConfig,
        format: Format,
        etag: &str,
    ) -> Result<DateTime<Utc>, PublishError> {
        let store = &self.inner.store;
        let previous = store.served(&output.name, format.extension())?;
        if let Some(previous) = &previous
            && previous.etag == etag
        {
            return Ok(previous.last_modified);
        }
        let now = whole_seconds((self.inner.clock)());
        let last_modified = match previous {
            Some(previous) => {
                now.max(whole_seconds(previous.last_modified) + chrono::Duration::seconds(1))
            }
            None => now,
        };
        let served = ServedVersion {
            etag: etag.to_owned(),
            last_modified,
        };
        // Failing to record only costs stability: the next process would count these bytes
        // as a change again and move Last-Modified forward, never back. Not worth a 500.
        if let Err(e) = store.save_served(&output.name, format.extension(), &served) {
            tracing::warn!(output = %output.name, %format, error = %e, "cannot record the served version");
        }
        Ok(last_modified)
    }

    fn cached(&self, key: &(String, Format), generation: u64) -> Option<Rendered> {
        lock(&self.inner.cache)
            .get(key)
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
    /// feed gave at the last poll, else its id; and its configured URL when that may be
    /// published ([`published_url`]). Blocking.
    pub fn source_info(&self) -> Result<BTreeMap<SourceId, SourceInfo>, PublishError> {
        let mut out = BTreeMap::new();
        for source in &self.inner.config.load().sources {
            // The stored state only matters when no title is configured.
            let state = match source.title {
                Some(_) => None,
                None => self.inner.store.source_state(&source.id)?,
            };
            let title = source_title(source, state.as_ref());
            let info = SourceInfo {
                title,
                url: published_url(&source.url),
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
        let told = self.select(output, budget)?;
        // An empty feed is dated by the store's creation: fixed, so its bytes are too.
        let updated = (told.iter().map(|t| &t.story))
            .map(|s| s.updated.max(s.first_seen))
            .max()
            .unwrap_or_else(|| self.inner.store.created());
        let sources = self.source_info()?;
        let config = self.inner.config.load();
        let meta = FeedMeta {
            name: &output.name,
            title: &output.title,
            description: &output.description,
            base_url: &config.server.base_url,
            ttl_minutes: None,
            updated,
        };
        let copies: Vec<Vec<render::OtherCopy>> = (told.iter())
            .map(|t| (t.copies.iter()).map(|c| c.named(&sources)).collect())
            .collect();
        let items: Vec<render::Item<'_>> = (told.iter().zip(&copies))
            .map(|(t, copies)| render::Item {
                story: &t.story,
                copies,
            })
            .collect();
        let bytes = render::render_items(format, &meta, &items, |id| sources.get(id));
        Ok(Rendered {
            etag: etag_of(&bytes),
            bytes: Bytes::from(bytes),
            // Provisional: `render` replaces it with the served version's.
            last_modified: updated,
            content_type: format.content_type(),
            items: told.len(),
        })
    }
}

/// What a source is called where sosik shows it: its configured title, else the title its
/// feed gave at the last poll (`state`), else its id.
pub fn source_title(source: &crate::config::SourceConfig, state: Option<&SourceState>) -> String {
    source
        .title
        .clone()
        .or_else(|| state.and_then(|s| s.title.clone()))
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| source.id.to_string())
}

/// The URL a published document may show for a source polled at `url`: only `http` and
/// `https` URLs, without user name or password. `None` for `file:` (a path on this machine).
pub fn published_url(url: &url::Url) -> Option<String> {
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let mut url = url.clone();
    // Setting these fails only for URLs that cannot have them, which http(s) URLs can.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    Some(url.to_string())
}

/// `time` without its fraction of a second: HTTP dates say whole seconds.
fn whole_seconds(time: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(time.timestamp(), 0).unwrap_or(time)
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
