//! The story store: the only importer of sled.
//!
//! Owns tree names, key encoding, versioned records and atomic commits. One poll of one
//! source is one sled transaction over every tree it touches (stories, both time indexes and
//! the source's state), so a crash leaves either the whole poll or none of it. It knows
//! nothing of HTTP or feeds; what counts as new or edited is decided by the caller's pure
//! function (`dedupe::decide`), run inside the transaction so two sources committing the
//! same story at once merge instead of overwriting each other.
//!
//! Trees:
//! - `meta`: `schema` → format version (u32 BE).
//! - `stories`: story key (16 bytes) → story record.
//! - `by_time`: published (8 bytes, sortable) + story key → empty. Newest-first listing.
//! - `by_source`: source id + `\0` + published + story key → empty. Per-source listing, caps.
//! - `sources`: source id → source-state record.

mod records;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};

use crate::dedupe::Change;
use crate::model::{SourceId, SourceState, Story, StoryKey};
pub use records::RecordError;
use records::{
    decode_source, decode_story, encode_source, encode_story, key_of_index, source_prefix, time_key,
};

/// The on-disk layout version this release reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// A store failure, naming the store's path.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened.
    #[error("cannot open the store at {path}: {reason}")]
    Open {
        /// The sled directory.
        path: String,
        /// Why.
        reason: String,
    },
    /// A read or write failed.
    #[error("store I/O failed: {0}")]
    Io(String),
    /// A stored record could not be read.
    #[error("a stored record is unreadable: {0}")]
    Record(#[from] RecordError),
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError::Io(e.to_string())
    }
}

impl From<TransactionError<StoreError>> for StoreError {
    fn from(e: TransactionError<StoreError>) -> Self {
        match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => e.into(),
        }
    }
}

/// What a poll's commit did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitCounts {
    /// Stories stored for the first time.
    pub new: u32,
    /// Stories edited in place.
    pub updated: u32,
    /// Stories already stored as they are (including another source's copy).
    pub unchanged: u32,
}

/// Settings for opening a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// The sled directory.
    pub path: PathBuf,
    /// sled's page cache in bytes.
    pub cache_capacity: u64,
}

/// An open store. Cheap to clone (sled handles are shared).
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    stories: sled::Tree,
    by_time: sled::Tree,
    by_source: sled::Tree,
    sources: sled::Tree,
    path: PathBuf,
    /// Taken by every write and flush, so they run one at a time (see [`Store::writing`]).
    writes: Arc<Mutex<()>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (or creates) the store. A corrupt store is moved aside to `PATH.corrupt-TIME`,
    /// loudly, and a fresh one is started: the sources are in the config, so the next poll
    /// rebuilds it.
    pub fn open(options: &StoreOptions) -> Result<Store, StoreError> {
        match Self::try_open(options) {
            Err(StoreError::Open { reason, .. }) if reason.starts_with("corrupt") => {
                let aside = aside_path(&options.path);
                tracing::error!(
                    path = %options.path.display(),
                    aside = %aside.display(),
                    %reason,
                    "the store is corrupt; moving it aside and starting a fresh one"
                );
                std::fs::rename(&options.path, &aside).map_err(|e| StoreError::Open {
                    path: options.path.display().to_string(),
                    reason: format!("it is corrupt and could not be moved aside: {e}"),
                })?;
                Self::try_open(options)
            }
            other => other,
        }
    }

    fn try_open(options: &StoreOptions) -> Result<Store, StoreError> {
        let shown = options.path.display().to_string();
        let open_err = |reason: String| StoreError::Open {
            path: shown.clone(),
            reason,
        };
        let db = sled::Config::new()
            .path(&options.path)
            .cache_capacity(options.cache_capacity)
            .mode(sled::Mode::LowSpace)
            .open()
            .map_err(|e| match e {
                sled::Error::Corruption { .. } => open_err(format!("corrupt ({e})")),
                sled::Error::Io(io) if io.to_string().contains("lock") => {
                    open_err("another sosik process is using it".into())
                }
                other => open_err(other.to_string()),
            })?;
        let tree = |name: &str| db.open_tree(name).map_err(|e| open_err(e.to_string()));
        let meta = tree("meta")?;
        match meta.get("schema").map_err(|e| open_err(e.to_string()))? {
            None => {
                meta.insert("schema", &SCHEMA_VERSION.to_be_bytes())
                    .map_err(|e| open_err(e.to_string()))?;
            }
            Some(v) => {
                let version = v
                    .as_ref()
                    .try_into()
                    .map(u32::from_be_bytes)
                    .unwrap_or(u32::MAX);
                if version != SCHEMA_VERSION {
                    return Err(open_err(format!(
                        "it has layout version {version}, and this sosik reads version {SCHEMA_VERSION}"
                    )));
                }
            }
        }
        Ok(Store {
            stories: tree("stories")?,
            by_time: tree("by_time")?,
            by_source: tree("by_source")?,
            sources: tree("sources")?,
            db,
            path: options.path.clone(),
            writes: Arc::new(Mutex::new(())),
        })
    }

    /// The write turn. sled 0.34's flush holds a read guard of its process-wide concurrency
    /// lock while it waits for its I/O threads to write; a transaction queued for the write
    /// guard then blocks every new reader, the I/O threads' other flush jobs included, and
    /// nothing moves again (`sosik poll` over 300 local feeds hung every time). Writes and
    /// flushes taking turns never leave a transaction waiting behind a flush. Reads need no
    /// turn. Nothing is guarded but the turn itself, so a panic while holding it (a bug in a
    /// `decide` closure) leaves nothing to repair.
    fn writing(&self) -> MutexGuard<'_, ()> {
        self.writes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Commits one poll of `source` atomically: every story (judged by `decide` against what
    /// is stored) and the source's new state.
    pub fn commit_poll(
        &self,
        source: &SourceId,
        stories: &[Story],
        state: &SourceState,
        decide: &dyn Fn(Option<&Story>, &Story) -> Change,
    ) -> Result<CommitCounts, StoreError> {
        let _turn = self.writing();
        let counts = (&self.stories, &self.by_time, &self.by_source, &self.sources).transaction(
            |(t_stories, t_time, t_source, t_sources)| {
                let mut counts = CommitCounts::default();
                for incoming in stories {
                    let key = incoming.key();
                    let stored = match t_stories.get(key.0)? {
                        Some(bytes) => Some(decode_story(&bytes).map_err(|e| abort(e.into()))?),
                        None => None,
                    };
                    let next = match decide(stored.as_ref(), incoming) {
                        Change::New(s) => {
                            counts.new += 1;
                            s
                        }
                        Change::Updated(s) => {
                            counts.updated += 1;
                            s
                        }
                        Change::Merged(s) => {
                            counts.unchanged += 1;
                            s
                        }
                        Change::Unchanged => {
                            counts.unchanged += 1;
                            continue;
                        }
                    };
                    if let Some(old) = &stored {
                        unindex(t_time, t_source, old, &key)?;
                    }
                    t_stories.insert(&key.0, encode_story(&next))?;
                    index(t_time, t_source, &next, &key)?;
                }
                let mut state = state.clone();
                state.last_new = counts.new;
                state.last_updated = counts.updated;
                t_sources.insert(source.as_str().as_bytes(), encode_source(&state))?;
                Ok(counts)
            },
        )?;
        Ok(counts)
    }

    /// Saves a source's state alone (a 304, a failure).
    pub fn save_state(&self, source: &SourceId, state: &SourceState) -> Result<(), StoreError> {
        let _turn = self.writing();
        self.sources
            .insert(source.as_str().as_bytes(), encode_source(state))?;
        Ok(())
    }

    /// A source's state, if it was ever polled.
    pub fn source_state(&self, source: &SourceId) -> Result<Option<SourceState>, StoreError> {
        match self.sources.get(source.as_str().as_bytes())? {
            Some(bytes) => Ok(Some(decode_source(&bytes)?)),
            None => Ok(None),
        }
    }

    /// One story by key.
    pub fn get(&self, key: &StoryKey) -> Result<Option<Story>, StoreError> {
        match self.stories.get(key.0)? {
            Some(bytes) => Ok(Some(decode_story(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Every story, newest published first.
    pub fn newest(&self) -> impl Iterator<Item = Result<Story, StoreError>> + '_ {
        self.resolve(self.by_time.iter().rev())
    }

    /// One source's stories, newest published first.
    pub fn newest_for_source(
        &self,
        source: &SourceId,
    ) -> impl Iterator<Item = Result<Story, StoreError>> + '_ {
        self.resolve(self.by_source.scan_prefix(source_prefix(source)).rev())
    }

    fn resolve<'a>(
        &'a self,
        index: impl Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>> + 'a,
    ) -> impl Iterator<Item = Result<Story, StoreError>> + 'a {
        index.filter_map(move |entry| {
            let (k, _) = match entry {
                Ok(e) => e,
                Err(e) => return Some(Err(e.into())),
            };
            let key = key_of_index(&k)?;
            // An index entry whose story is gone (a crash between two prune steps) is skipped.
            self.get(&key).transpose()
        })
    }

    /// Number of stories stored.
    pub fn len(&self) -> usize {
        self.stories.len()
    }

    /// Whether no story is stored.
    pub fn is_empty(&self) -> bool {
        self.stories.is_empty()
    }

    /// Keeps the newest `max` stories of `source` (never removing `protect`ed ones): older
    /// ones forget this source, and are deleted when no source is left. Returns how many
    /// stories this source let go.
    pub fn enforce_cap(
        &self,
        source: &SourceId,
        max: usize,
        protect: &HashSet<StoryKey>,
    ) -> Result<usize, StoreError> {
        let mut excess = Vec::new();
        for entry in self
            .by_source
            .scan_prefix(source_prefix(source))
            .rev()
            .skip(max)
        {
            let (k, _) = entry?;
            if let Some(key) = key_of_index(&k).filter(|key| !protect.contains(key)) {
                excess.push(key);
            }
        }
        let _turn = self.writing();
        for key in &excess {
            self.drop_source(key, Some(source))?;
        }
        Ok(excess.len())
    }

    /// Deletes stories first seen before `now - retention`, except `protect`ed ones (still in
    /// some source's latest document). Returns how many were deleted.
    pub fn prune_older_than(
        &self,
        now: DateTime<Utc>,
        retention: Duration,
        protect: &HashSet<StoryKey>,
    ) -> Result<usize, StoreError> {
        let cutoff = now - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
        let mut old = Vec::new();
        for entry in self.stories.iter() {
            let (k, v) = entry?;
            let Ok(key) = <[u8; 16]>::try_from(k.as_ref()).map(StoryKey) else {
                continue;
            };
            if protect.contains(&key) {
                continue;
            }
            if decode_story(&v).is_ok_and(|s| s.first_seen < cutoff) {
                old.push(key);
            }
        }
        let _turn = self.writing();
        for key in &old {
            self.drop_source(key, None)?;
        }
        Ok(old.len())
    }

    /// Removes `source` from a story (or every source, with `None`), deleting the story when
    /// none is left. One transaction.
    fn drop_source(&self, key: &StoryKey, source: Option<&SourceId>) -> Result<(), StoreError> {
        (&self.stories, &self.by_time, &self.by_source).transaction(
            |(t_stories, t_time, t_source)| {
                let Some(bytes) = t_stories.get(key.0)? else {
                    // Already gone; clear a dangling per-source entry if there is one.
                    return Ok(());
                };
                let story = decode_story(&bytes).map_err(|e| abort(e.into()))?;
                unindex(t_time, t_source, &story, key)?;
                let mut next = story;
                match source {
                    Some(id) => next.sources.retain(|s| &s.id != id),
                    None => next.sources.clear(),
                }
                if next.sources.is_empty() {
                    t_stories.remove(&key.0)?;
                } else {
                    t_stories.insert(&key.0, encode_story(&next))?;
                    index(t_time, t_source, &next, key)?;
                }
                Ok(())
            },
        )?;
        // A per-source entry left by an interrupted earlier prune is removed here too.
        if let Some(id) = source {
            let stale: Vec<_> = self
                .by_source
                .scan_prefix(source_prefix(id))
                .keys()
                .filter_map(Result::ok)
                .filter(|k| key_of_index(k).as_ref() == Some(key))
                .collect();
            for k in stale {
                self.by_source.remove(k)?;
            }
        }
        Ok(())
    }

    /// Every source state stored, by id.
    pub fn source_states(&self) -> Result<Vec<(String, SourceState)>, StoreError> {
        let mut out = Vec::new();
        for entry in self.sources.iter() {
            let (k, v) = entry?;
            out.push((String::from_utf8_lossy(&k).into_owned(), decode_source(&v)?));
        }
        Ok(out)
    }

    /// Writes everything to disk, on the blocking pool. Never sled's `flush_async`: its jobs
    /// run on sled's own few I/O threads and can take them all (see [`Store::writing`]).
    pub async fn flush(&self) -> Result<(), StoreError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.flush_blocking())
            .await
            .map_err(|e| StoreError::Io(format!("the flush task failed: {e}")))?
    }

    /// Writes everything to disk, blocking.
    pub fn flush_blocking(&self) -> Result<(), StoreError> {
        let _turn = self.writing();
        self.db.flush()?;
        Ok(())
    }

    /// The directory this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn abort(e: StoreError) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(e)
}

type TxResult = Result<(), ConflictableTransactionError<StoreError>>;

fn index(
    t_time: &TransactionalTree,
    t_source: &TransactionalTree,
    story: &Story,
    key: &StoryKey,
) -> TxResult {
    t_time.insert(time_key(&[], story.published, key), &[])?;
    for s in &story.sources {
        t_source.insert(time_key(&source_prefix(&s.id), story.published, key), &[])?;
    }
    Ok(())
}

fn unindex(
    t_time: &TransactionalTree,
    t_source: &TransactionalTree,
    story: &Story,
    key: &StoryKey,
) -> TxResult {
    t_time.remove(time_key(&[], story.published, key))?;
    for s in &story.sources {
        t_source.remove(time_key(&source_prefix(&s.id), story.published, key))?;
    }
    Ok(())
}

fn aside_path(path: &Path) -> PathBuf {
    let stamp = Utc::now().format("%Y%m%dT%H%M%SZ");
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".corrupt-{stamp}"));
    path.with_file_name(name)
}

#[cfg(test)]
mod tests;
