//! The story store: the only importer of sled.
//!
//! Owns tree names, key encoding, versioned records, atomic commits and the indexes. One poll
//! of one source is one atomic sled batch (its stories and its state together), so a crash
//! leaves either the whole poll or none of it. It knows nothing of HTTP or feeds; what counts
//! as new or edited is `dedupe`'s pure rule, which the store runs under its single writer
//! lock, so two sources committing the same story merge instead of overwriting each other.
//!
//! Layout (schema 4): one record per story, because sled's cost is per record written.
//! - tree `meta`: `schema` → layout version (u32 BE); `created` → when the store was created
//!   (or first opened by a release that records it); `served/NAME.EXT` → the last version of
//!   an output feed the publish side served in that format (its ETag and Last-Modified), so
//!   Last-Modified moves exactly when the bytes do, across restarts. The index snapshot.
//! - tree `data`: `S` + first-seen time (µs, u64 BE) + story key (16 bytes) → story record
//!   (header, then body: every source's copy, and which one speaks); `C` + source id →
//!   source-state record (with the guid aliases of its last document). One tree, so one batch covers
//!   a poll. The time prefix keeps a poll's new stories side by side in the tree (they share
//!   their first-seen time), so sled rewrites a few leaves per batch instead of one per story;
//!   a story's first-seen time never changes, and the in-memory index gives it for any key.
//!
//! The newest-first indexes (all stories, per source) live in memory ([`index`]). A clean close
//! writes them to `meta` as a snapshot tagged with the data generation (`G` in `data`, bumped
//! in every batch that changes stories); an open whose generation matches loads the snapshot,
//! any other open (after a crash, say) rebuilds the indexes from the record headers. Schemas 1
//! (four trees with on-disk indexes), 2 (story keys without the time prefix) and 3 (one copy
//! per story record) are migrated at open.
//!
//! Rooms: this file holds the public types, the `Store` handle, key encoding and the data
//! generation; `open.rs` opening (recovery, migration dispatch, the snapshot), closing and
//! flushing; `commit.rs` the one commit path (prepare, then a group commit: stage, apply);
//! `read.rs` every read; `prune.rs` the per-source cap and retention; `alias.rs` finding a story by its guid;
//! `clusters.rs` the clusters of copies of one event; `story_record.rs` story records,
//! `legacy.rs` older ones; `records.rs` the other on-disk records; `index.rs` the in-memory indexes; `migrate.rs` older layouts.

mod alias;
mod clusters;
mod commit;
mod fault;
mod index;
mod legacy;
mod migrate;
mod open;
mod prune;
mod read;
mod records;
mod reopen;
mod story_record;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Utc};
use sled::IVec;

use crate::dedupe::Priorities;
use crate::model::{SourceId, SourceState, Story, StoryKey};
pub use clusters::Cluster;
#[cfg(test)]
pub(crate) use fault::Injected;
pub use fault::{Fault, FaultKind, FaultObserver};
use index::Index;
pub use records::RecordError;

/// The on-disk layout version this release reads and writes.
pub const SCHEMA_VERSION: u32 = 4;

/// sled's background flush interval: a commit is on disk at most this long after it returns,
/// and concurrent polls share each fsync instead of queueing one each.
pub const FLUSH_EVERY_MS: u64 = 100;

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
    /// sled found the database corrupt ([`Store::open`] moves it aside and starts afresh).
    #[error("cannot open the store at {path}: corrupt ({reason})")]
    Corrupt {
        /// The sled directory.
        path: String,
        /// What sled found.
        reason: String,
    },
    /// Another process holds the database's file lock.
    #[error("cannot open the store at {path}: another sosik process is using it")]
    Locked {
        /// The sled directory.
        path: String,
    },
    /// A read or write failed.
    #[error("store I/O failed: {}", fault::sentence(*kind, reason))]
    Io {
        /// What kind of failure.
        kind: FaultKind,
        /// Its cause, said once.
        reason: String,
    },
    /// A stored record could not be read.
    #[error("a stored record is unreadable: {0}")]
    Record(#[from] RecordError),
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        let (kind, reason) = fault::classify(&e);
        StoreError::Io { kind, reason }
    }
}

impl StoreError {
    /// The kind of storage fault this is; `None` for what is no fault of the storage (a
    /// layout refused, a store in use, one unreadable record).
    pub fn fault_kind(&self) -> Option<FaultKind> {
        match self {
            StoreError::Io { kind, .. } => Some(*kind),
            StoreError::Corrupt { .. } => Some(FaultKind::Corrupt),
            StoreError::Open { .. } | StoreError::Locked { .. } | StoreError::Record(_) => None,
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

/// A poll's stories made ready for a commit by [`Store::prepare`].
#[derive(Debug)]
pub struct Prepared {
    keys: Vec<StoryKey>,
    /// Per story: its record and index header if it is new, else `None`. The record is already
    /// the buffer sled keeps, copied on the preparing thread rather than the writer's.
    new: Vec<Option<(IVec, story_record::StoryHeader)>>,
}

impl Prepared {
    /// The stories' keys, in their order.
    pub fn keys(&self) -> &[StoryKey] {
        &self.keys
    }

    /// Per story, in their order: whether the store did not hold it when it was prepared.
    pub fn unknown(&self) -> Vec<bool> {
        self.new.iter().map(Option::is_some).collect()
    }
}

/// One source's poll for [`Store::commit_group`], owning all it carries.
#[derive(Debug)]
pub struct PollCommit {
    /// The source polled.
    pub source: SourceId,
    /// Its document's stories.
    pub stories: Vec<Story>,
    /// [`Store::prepare`] of `stories`.
    pub prepared: Prepared,
    /// The source's state after this poll; the commit writes its counts (`last_new`,
    /// `last_updated`), nothing else.
    pub state: SourceState,
    /// The poll's time.
    pub now: DateTime<Utc>,
    /// `[sources.ID] priority` of every source, from the config at commit time: which copy
    /// speaks for a story several sources carry. A changed priority re-chooses at the
    /// story's next commit by any of its sources.
    pub priorities: Priorities,
}

/// A committed poll, handed back whole: its stories come back so the caller can free them
/// off the writer's thread.
#[derive(Debug)]
pub struct Committed {
    /// The source polled.
    pub source: SourceId,
    /// What the commit did.
    pub counts: CommitCounts,
    /// The source's state as saved, the counts of this commit included.
    pub state: SourceState,
    /// The poll's stories.
    pub stories: Vec<Story>,
}

/// The last version of one output feed served in one format: what the publish side compares
/// a new render with to decide whether the feed changed (and its Last-Modified must move).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedVersion {
    /// The strong ETag of the bytes served, quotes included.
    pub etag: String,
    /// The HTTP Last-Modified those bytes were served with (whole seconds).
    pub last_modified: DateTime<Utc>,
}

/// The last storage fault the store recovered from in the process ([`Store::last_fault`]):
/// what `sosik sources` shows after a daemon rode out a full disk, say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastFault {
    /// Its kind's label ([`FaultKind::label`]).
    pub kind: String,
    /// Its kind and cause, as `/healthz` said them.
    pub reason: String,
    /// When the store began failing.
    pub since: DateTime<Utc>,
    /// When it was re-opened and wrote again.
    pub until: DateTime<Utc>,
}

/// Settings for opening a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// The sled directory.
    pub path: PathBuf,
    /// sled's page cache in bytes.
    pub cache_capacity: u64,
}

/// An open store. Cheap to clone (sled handles and the indexes are shared).
#[derive(Clone)]
pub struct Store {
    /// sled's handles, shared by every clone and replaced whole when the store is re-opened
    /// after a fault ([`Store::reopen`]); `None` while a re-open could not finish.
    handles: Arc<RwLock<Option<Handles>>>,
    /// sled's page cache in bytes, for a re-open.
    cache_capacity: u64,
    /// The data generation: bumped, in the same batch, by every write that changes stories.
    generation: Arc<AtomicU64>,
    index: Arc<RwLock<Index>>,
    path: PathBuf,
    /// When the store was created (see [`Store::created`]).
    created: DateTime<Utc>,
    /// One writer at a time: commits read, decide and write under it, so concurrent polls
    /// sharing a story merge.
    writer: Arc<Mutex<()>>,
    /// The current storage fault and who hears of each error.
    faults: Arc<fault::Faults>,
}

/// The sled database and its two trees.
#[derive(Clone)]
struct Handles {
    db: sled::Db,
    meta: sled::Tree,
    data: sled::Tree,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// Key of the data generation in `data`.
const GENERATION: &[u8] = b"G";
/// Key of the index snapshot in `meta`.
const SNAPSHOT: &[u8] = b"index";
/// Version byte of index snapshots.
const SNAPSHOT_V1: u8 = 1;
/// Key of the store's creation time in `meta`.
const CREATED: &[u8] = b"created";
/// Key of the last storage fault recovered from, in `meta`.
const FAULT: &[u8] = b"fault";
/// Prefix of served-version keys in `meta`.
const SERVED_PREFIX: &str = "served/";

/// A story record's key: `S`, the first-seen time, the story key.
fn story_key(key: &StoryKey, first_seen: i64) -> [u8; 25] {
    let mut out = [0u8; 25];
    out[0] = b'S';
    out[1..9].copy_from_slice(&(first_seen.max(0) as u64).to_be_bytes());
    out[9..].copy_from_slice(&key.0);
    out
}

/// The story key a record's key ends with; `None` for keys of another shape.
fn key_of_record(record_key: &[u8]) -> Option<StoryKey> {
    if record_key.len() != 25 || record_key[0] != b'S' {
        return None;
    }
    Some(StoryKey(record_key[9..].try_into().ok()?))
}

/// The `meta` key of an output's served version in one format: `served/NAME.EXT`.
fn served_key(output: &str, extension: &str) -> Vec<u8> {
    format!("{SERVED_PREFIX}{output}.{extension}").into_bytes()
}

/// A source state's key in `data`: `C` + the source id.
fn state_key(source: &SourceId) -> Vec<u8> {
    let mut out = Vec::with_capacity(source.as_str().len() + 1);
    out.push(b'C');
    out.extend_from_slice(source.as_str().as_bytes());
    out
}

impl Store {
    /// sled's handles now. Reads take them for one operation: a re-open replaces them.
    fn handles(&self) -> Result<Handles, StoreError> {
        let handles = self.handles.read().unwrap_or_else(|e| e.into_inner());
        handles.clone().ok_or_else(|| StoreError::Io {
            kind: self.fault().map_or(FaultKind::Io, |f| f.kind),
            reason: "the store is being re-opened".into(),
        })
    }

    /// The tree of stories and source states.
    fn data(&self) -> Result<sled::Tree, StoreError> {
        Ok(self.handles()?.data)
    }

    /// The tree of the layout version, the creation time, served versions, the snapshot.
    fn meta(&self) -> Result<sled::Tree, StoreError> {
        Ok(self.handles()?.meta)
    }

    fn read_index(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_index(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The writer's turn: every write and flush takes it.
    fn writer_turn(&self) -> std::sync::MutexGuard<'_, ()> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The generation this batch sets: one more when it changes stories (written with it, so
    /// a snapshot of an older generation is never trusted), else the current one.
    fn next_generation(&self, batch: &mut sled::Batch, changes_stories: bool) -> u64 {
        let current = self.generation.load(Ordering::SeqCst);
        if !changes_stories {
            return current;
        }
        let next = current.wrapping_add(1);
        batch.insert(GENERATION, &next.to_be_bytes());
        next
    }

    /// Records a storage fault in the store's fault state (logged once per change of kind,
    /// counted every time) and hands the error back.
    fn noted(&self, error: StoreError) -> StoreError {
        if let Some(kind) = error.fault_kind() {
            let reason = match &error {
                StoreError::Io { reason, .. } => reason.clone(),
                other => other.to_string(),
            };
            self.faults.failed(kind, &reason);
        }
        error
    }

    /// Whether the store's directory is still there: sled keeps writing into the files it
    /// holds open after the directory is removed, and nothing of it would be found again.
    fn present(&self) -> Result<(), StoreError> {
        if self.path.is_dir() {
            return Ok(());
        }
        Err(StoreError::Io {
            kind: FaultKind::Gone,
            reason: format!("the directory {} was removed", self.path.display()),
        })
    }

    /// The store's current storage fault: set by a failed write or flush, cleared when a
    /// flush succeeds again.
    pub fn fault(&self) -> Option<Fault> {
        self.faults.get()
    }

    /// Tests only: the store's writes meet a disk failing as `disk` says (`None`: healthy).
    #[cfg(test)]
    pub(crate) fn inject_disk(&self, disk: Option<Injected>) {
        self.faults.inject(disk);
    }

    /// Tests only: a write stuck on the disk for `stall` (another thread holds the writer's
    /// turn), as sled's can be on a failing disk.
    #[cfg(test)]
    pub(crate) fn stall_writes(&self, stall: std::time::Duration) {
        let (store, (held, taken)) = (self.clone(), std::sync::mpsc::channel());
        std::thread::spawn(move || {
            let _writer = store.writer_turn();
            held.send(()).unwrap();
            std::thread::sleep(stall);
        });
        taken.recv().unwrap();
    }

    /// Tests only: the store as it is between a re-open that failed and the next: no handles,
    /// so every read fails.
    #[cfg(test)]
    pub(crate) fn lose_handles(&self) {
        drop(self.handles.write().unwrap().take());
    }

    /// Sets who hears of every storage error (the daemon's `sosik_store_errors_total`).
    pub fn observe_faults(&self, observer: FaultObserver) {
        self.faults.observe(observer);
    }

    /// Applies a batch to `data` and, once it is written, moves the generation to what
    /// [`Store::next_generation`] set in it.
    fn apply(&self, batch: sled::Batch, generation: u64) -> Result<(), StoreError> {
        self.faults.write_allowed()?;
        self.data()?.apply_batch(batch)?;
        self.generation.store(generation, Ordering::SeqCst);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
