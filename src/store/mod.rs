//! The story store: the only importer of sled.
//!
//! Owns tree names, key encoding, versioned records, atomic commits and the indexes. One poll
//! of one source is one atomic sled batch (its stories and its state together), so a crash
//! leaves either the whole poll or none of it. It knows nothing of HTTP or feeds; what counts
//! as new or edited is `dedupe`'s pure rule, which the store runs under its single writer
//! lock, so two sources committing the same story merge instead of overwriting each other.
//!
//! Layout (schema 3): one record per story, because sled's cost is per record written.
//! - tree `meta`: `schema` → layout version (u32 BE); `created` → when the store was created
//!   (or first opened by a release that records it); `served/NAME.EXT` → the last version of
//!   an output feed the publish side served in that format (its ETag and Last-Modified), so
//!   Last-Modified moves exactly when the bytes do, across restarts. The index snapshot.
//! - tree `data`: `S` + first-seen time (µs, u64 BE) + story key (16 bytes) → story record
//!   (header, then body); `C` + source id → source-state record. One tree, so one batch covers
//!   a poll. The time prefix keeps a poll's new stories side by side in the tree (they share
//!   their first-seen time), so sled rewrites a few leaves per batch instead of one per story;
//!   a story's first-seen time never changes, and the in-memory index gives it for any key.
//!
//! The newest-first indexes (all stories, per source) live in memory ([`index`]). A clean close
//! writes them to `meta` as a snapshot tagged with the data generation (`G` in `data`, bumped
//! in every batch that changes stories); an open whose generation matches loads the snapshot,
//! any other open (after a crash, say) rebuilds the indexes from the record headers. Schemas 1
//! (four trees with on-disk indexes) and 2 (story keys without the time prefix) are migrated at
//! open.

mod index;
mod migrate;
mod records;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sled::IVec;

use crate::dedupe::{self, Change, Shortcut};
use crate::model::{SourceId, SourceState, Story, StoryKey};
use index::{Index, Slot};
pub use records::RecordError;
use records::{
    decode_created, decode_header, decode_served, decode_source, decode_story, encode_created,
    encode_served, encode_source, encode_story, header_of, join_record, micros, split_record,
};

/// The on-disk layout version this release reads and writes.
pub const SCHEMA_VERSION: u32 = 3;

/// sled's background flush interval: a commit is on disk at most this long after it returns,
/// and concurrent polls share each fsync instead of queueing one each.
pub const FLUSH_EVERY_MS: u64 = 100;

/// Keys per page when walking an index; the index lock is held only while a page is taken.
const PAGE: usize = 64;

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

/// A poll's stories made ready for [`Store::commit_prepared`] by [`Store::prepare`].
#[derive(Debug)]
pub struct Prepared {
    keys: Vec<StoryKey>,
    /// Per story: its record and index header if it is new, else `None`. The record is already
    /// the buffer sled keeps, copied on the preparing thread rather than the writer's.
    new: Vec<Option<(IVec, records::StoryHeader)>>,
}

impl Prepared {
    /// The stories' keys, in their order.
    pub fn keys(&self) -> &[StoryKey] {
        &self.keys
    }
}

/// One source's poll for [`Store::commit_group`]: what [`Store::commit_prepared`] takes.
#[derive(Debug)]
pub struct PollCommit<'a> {
    /// The source polled.
    pub source: &'a SourceId,
    /// Its document's stories.
    pub stories: &'a [Story],
    /// [`Store::prepare`] of `stories`.
    pub prepared: Prepared,
    /// The source's state after this poll.
    pub state: &'a SourceState,
    /// The poll's time.
    pub now: DateTime<Utc>,
}

/// What a group commit will write: story records by key (the latest staged version, at its
/// first-seen time), records that moved away from an older first-seen time, the index
/// headers in the order they were staged, and each poll's source state.
#[derive(Default)]
struct Group {
    pending: HashMap<StoryKey, (i64, IVec)>,
    removals: Vec<[u8; 25]>,
    written: Vec<(StoryKey, records::StoryHeader)>,
    states: Vec<(Vec<u8>, Vec<u8>)>,
}

/// One story write of a poll being staged.
struct Staged {
    key: StoryKey,
    record: IVec,
    header: records::StoryHeader,
    moved_from: Option<i64>,
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
    db: sled::Db,
    meta: sled::Tree,
    data: sled::Tree,
    /// The data generation: bumped, in the same batch, by every write that changes stories.
    generation: Arc<AtomicU64>,
    index: Arc<RwLock<Index>>,
    path: PathBuf,
    /// When the store was created (see [`Store::created`]).
    created: DateTime<Utc>,
    /// One writer at a time: commits read, decide and write under it, so concurrent polls
    /// sharing a story merge.
    writer: Arc<Mutex<()>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

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

fn state_key(source: &SourceId) -> Vec<u8> {
    let mut out = Vec::with_capacity(source.as_str().len() + 1);
    out.push(b'C');
    out.extend_from_slice(source.as_str().as_bytes());
    out
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
            .flush_every_ms(Some(FLUSH_EVERY_MS))
            .open()
            .map_err(|e| match e {
                sled::Error::Corruption { .. } => open_err(format!("corrupt ({e})")),
                sled::Error::Io(io) if io.to_string().contains("lock") => {
                    open_err("another sosik process is using it".into())
                }
                other => open_err(other.to_string()),
            })?;
        let meta = db.open_tree("meta").map_err(|e| open_err(e.to_string()))?;
        let data = db.open_tree("data").map_err(|e| open_err(e.to_string()))?;
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
                match version {
                    1 => migrate::from_v1(&db, &meta, &data).map_err(|e| {
                        open_err(format!(
                            "migrating layout 1 to {SCHEMA_VERSION} failed: {e}"
                        ))
                    })?,
                    2 => migrate::from_v2(&meta, &data).map_err(|e| {
                        open_err(format!(
                            "migrating layout 2 to {SCHEMA_VERSION} failed: {e}"
                        ))
                    })?,
                    SCHEMA_VERSION => {
                        migrate::drop_v1_leftovers(&db).map_err(|e| open_err(e.to_string()))?
                    }
                    _ => {
                        return Err(open_err(format!(
                            "it has layout version {version}, and this sosik reads version {SCHEMA_VERSION}"
                        )));
                    }
                }
            }
        }
        let generation = match data.get(GENERATION).map_err(|e| open_err(e.to_string()))? {
            Some(v) => v
                .as_ref()
                .try_into()
                .map(u64::from_be_bytes)
                .unwrap_or(u64::MAX),
            None => 0,
        };
        let created = created_at(&meta).map_err(|e| open_err(e.to_string()))?;
        let index = match load_snapshot(&meta, generation) {
            Some(index) => index,
            None => scan_index(&data, &shown)?,
        };
        Ok(Store {
            db,
            meta,
            data,
            generation: Arc::new(AtomicU64::new(generation)),
            index: Arc::new(RwLock::new(index)),
            path: options.path.clone(),
            created,
            writer: Arc::default(),
        })
    }

    fn read_index(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_index(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Commits one poll of `source`, made at `now`, atomically: every story and the source's
    /// new state, in one batch. A story already stored is judged by [`dedupe::shortcut`] from
    /// its record's header when that settles it, else by [`dedupe::decide`] against the stored
    /// version; one not stored is new, and is written without a copy.
    ///
    /// [`Store::prepare`] then [`Store::commit_prepared`]; a pipeline calls the two apart, so
    /// the encoding runs beside the writer instead of inside it.
    pub fn commit_poll(
        &self,
        source: &SourceId,
        stories: &[Story],
        state: &SourceState,
        now: DateTime<Utc>,
    ) -> Result<CommitCounts, StoreError> {
        let prepared = self.prepare(stories);
        self.commit_prepared(source, stories, prepared, state, now)
    }

    /// The part of a commit that needs no writer: every story's key, and the record of each
    /// story the store does not hold yet, encoded as it will be written if it is still new at
    /// commit time. Any thread; takes the index's read lock only.
    pub fn prepare(&self, stories: &[Story]) -> Prepared {
        let keys: Vec<StoryKey> = stories.iter().map(Story::key).collect();
        let known: Vec<bool> = {
            let index = self.read_index();
            keys.iter().map(|k| index.contains(k)).collect()
        };
        let new = stories
            .iter()
            .zip(known)
            .map(|(story, known)| (!known).then(|| (encode_story(story).into(), header_of(story))))
            .collect();
        Prepared { keys, new }
    }

    /// Commits `stories` as [`Store::commit_poll`] does, from what [`Store::prepare`] made of
    /// the same slice. A story stored between the two is judged like any other.
    pub fn commit_prepared(
        &self,
        source: &SourceId,
        stories: &[Story],
        prepared: Prepared,
        state: &SourceState,
        now: DateTime<Utc>,
    ) -> Result<CommitCounts, StoreError> {
        let poll = PollCommit {
            source,
            stories,
            prepared,
            state,
            now,
        };
        self.commit_group(vec![poll])
            .pop()
            .expect("one result per poll")
    }

    /// Commits several polls in one sled batch (a group commit), each as
    /// [`Store::commit_prepared`] would, in order: a story two of them carry is judged by the
    /// second against the first's version. Each poll is still all or nothing: one whose stored
    /// records cannot be read fails alone and writes nothing; a failed write fails them all.
    ///
    /// sled makes every batch durable with two log writes of its own (`pin_log`), so a writer
    /// with several polls waiting commits them together rather than one batch each.
    pub fn commit_group(
        &self,
        polls: Vec<PollCommit<'_>>,
    ) -> Vec<Result<CommitCounts, StoreError>> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let mut group = Group::default();
        let mut results: Vec<Result<CommitCounts, StoreError>> = polls
            .into_iter()
            .map(|poll| self.stage(poll, &mut group))
            .collect();
        if let Err(e) = self.apply_group(group) {
            for result in results.iter_mut().filter(|r| r.is_ok()) {
                *result = Err(StoreError::Io(e.to_string()));
            }
        }
        results
    }

    /// Decides one poll's writes against the store and the polls staged before it in `group`,
    /// and adds them to `group` only when the whole poll could be judged.
    fn stage(&self, poll: PollCommit<'_>, group: &mut Group) -> Result<CommitCounts, StoreError> {
        let PollCommit {
            source,
            stories,
            prepared,
            state,
            now,
        } = poll;
        // Prepared from another slice (a caller's bug): prepared again, rather than trusted.
        let prepared = if prepared.keys.len() == stories.len() {
            prepared
        } else {
            self.prepare(stories)
        };
        let mut counts = CommitCounts::default();
        let mut staged: Vec<Staged> = Vec::new();
        let first_seen: Vec<Option<i64>> = {
            let index = self.read_index();
            prepared.keys.iter().map(|k| index.first_seen(k)).collect()
        };
        let items = stories.iter().zip(prepared.keys).zip(prepared.new);
        for (((incoming, key), new), first_seen) in items.zip(first_seen) {
            // The version to judge against: a poll's earlier in this group, else the store's.
            // Only stories one of them knows need a read and a decision.
            let from_sled;
            let stored: Option<(i64, &[u8])> = match group.pending.get(&key) {
                Some((first_seen, record)) => Some((*first_seen, &record[..])),
                None => match first_seen {
                    Some(first_seen) => {
                        from_sled = self.data.get(story_key(&key, first_seen))?;
                        from_sled.as_deref().map(|bytes| (first_seen, bytes))
                    }
                    None => None,
                },
            };
            let Some((first_seen, bytes)) = stored else {
                // Not stored: new (`decide`'s contract), written as prepared, without a copy.
                counts.new += 1;
                let (record, header) =
                    new.unwrap_or_else(|| (encode_story(incoming).into(), header_of(incoming)));
                staged.push(Staged {
                    key,
                    record,
                    header,
                    moved_from: None,
                });
                continue;
            };
            // Most known stories are settled by the record's header alone (the same version
            // again, or another source's copy): no body to decompress, decode or re-encode.
            let (header, body) = split_record(bytes)?;
            let pairs = header.sources.iter().map(|(id, f)| (id.as_str(), *f));
            match dedupe::shortcut(pairs, incoming) {
                Some(Shortcut::Unchanged) => {
                    counts.unchanged += 1;
                    continue;
                }
                Some(Shortcut::AddSource) => {
                    counts.unchanged += 1;
                    let mut header = header.clone();
                    if let Some(from) = incoming.sources.first() {
                        header.sources.push((from.id.to_string(), from.fingerprint));
                    }
                    let record = join_record(&header, body).into();
                    staged.push(Staged {
                        key,
                        record,
                        header,
                        moved_from: None,
                    });
                    continue;
                }
                None => {}
            }
            let next = match dedupe::decide(Some(&decode_story(bytes)?), incoming, now) {
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
            let header = header_of(&next);
            // Not done by `decide` today; if it ever is, the record moves.
            let moved_from = (header.first_seen != first_seen).then_some(first_seen);
            let record = encode_story(&next).into();
            staged.push(Staged {
                key,
                record,
                header,
                moved_from,
            });
        }
        let mut state = state.clone();
        state.last_new = counts.new;
        state.last_updated = counts.updated;
        group
            .states
            .push((state_key(source), encode_source(&state)));
        for Staged {
            key,
            record,
            header,
            moved_from,
        } in staged
        {
            if let Some(old) = moved_from {
                group.removals.push(story_key(&key, old));
            }
            group.pending.insert(key, (header.first_seen, record));
            group.written.push((key, header));
        }
        Ok(counts)
    }

    /// Writes a group's staged polls in one batch and brings the index up to date.
    fn apply_group(&self, group: Group) -> Result<(), StoreError> {
        let Group {
            pending,
            removals,
            written,
            states,
        } = group;
        if states.is_empty() {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        // Removals first: a later write of the same key wins.
        for key in &removals {
            batch.remove(key);
        }
        for (key, (first_seen, record)) in pending {
            batch.insert(&story_key(&key, first_seen), record);
        }
        for (key, value) in states {
            batch.insert(key, value);
        }
        let generation = self.next_generation(&mut batch, !written.is_empty());
        self.data.apply_batch(batch)?;
        self.generation.store(generation, Ordering::SeqCst);
        let mut index = self.write_index();
        for (key, header) in &written {
            index.insert(*key, header);
        }
        Ok(())
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

    /// Writes the indexes to `meta`, so the next open need not read every story. Call at a
    /// clean close; a crash afterwards is harmless (a later write makes the snapshot stale).
    pub fn close(&self) -> Result<(), StoreError> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let snapshot = self
            .read_index()
            .to_snapshot(self.generation.load(Ordering::SeqCst));
        let mut bytes = vec![SNAPSHOT_V1];
        bytes = postcard::to_extend(&snapshot, bytes).expect("an index snapshot always serializes");
        self.meta.insert(SNAPSHOT, bytes)?;
        self.db.flush()?;
        Ok(())
    }

    /// Saves a source's state alone (a 304, a failure).
    pub fn save_state(&self, source: &SourceId, state: &SourceState) -> Result<(), StoreError> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.data.insert(state_key(source), encode_source(state))?;
        Ok(())
    }

    /// A source's state, if it was ever polled. An unreadable state record (say, from an
    /// older development build) is logged and treated as absent: it only holds validators and
    /// timings, which the next poll rebuilds, and stories never depend on it.
    pub fn source_state(&self, source: &SourceId) -> Result<Option<SourceState>, StoreError> {
        match self.data.get(state_key(source))? {
            Some(bytes) => match decode_source(&bytes) {
                Ok(state) => Ok(Some(state)),
                Err(e) => {
                    tracing::warn!(source = %source, error = %e, "unreadable source state; starting it afresh");
                    Ok(None)
                }
            },
            None => Ok(None),
        }
    }

    /// The version of output `output` last served as `extension` (`xml`, `atom`, `json`), if
    /// any. An unreadable record is logged and treated as absent: the next render then counts
    /// as a change, which only moves Last-Modified forward.
    pub fn served(
        &self,
        output: &str,
        extension: &str,
    ) -> Result<Option<ServedVersion>, StoreError> {
        match self.meta.get(served_key(output, extension))? {
            Some(bytes) => match decode_served(&bytes) {
                Ok(served) => Ok(Some(served)),
                Err(e) => {
                    tracing::warn!(output, format = extension, error = %e, "unreadable served-version record; ignoring it");
                    Ok(None)
                }
            },
            None => Ok(None),
        }
    }

    /// Records the version of `output` just served as `extension`. Durable within sled's
    /// flush interval, like every write.
    pub fn save_served(
        &self,
        output: &str,
        extension: &str,
        served: &ServedVersion,
    ) -> Result<(), StoreError> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.meta
            .insert(served_key(output, extension), encode_served(served))?;
        Ok(())
    }

    /// When this store was created: recorded at its first open (a store made by an earlier
    /// release gets the time this release first opened it), never changed afterwards. A fixed
    /// date for documents that must carry one when nothing else dates them.
    pub fn created(&self) -> DateTime<Utc> {
        self.created
    }

    /// One story by key.
    pub fn get(&self, key: &StoryKey) -> Result<Option<Story>, StoreError> {
        let Some(first_seen) = self.read_index().first_seen(key) else {
            return Ok(None);
        };
        match self.data.get(story_key(key, first_seen))? {
            Some(bytes) => Ok(Some(decode_story(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Every story, newest published first.
    pub fn newest(&self) -> impl Iterator<Item = Result<Story, StoreError>> + '_ {
        self.walk(None)
    }

    /// One source's stories, newest published first.
    pub fn newest_for_source(
        &self,
        source: &SourceId,
    ) -> impl Iterator<Item = Result<Story, StoreError>> + '_ {
        self.walk(Some(source.clone()))
    }

    /// Stories carried by any of `sources`, newest published first, each once.
    pub fn newest_among(
        &self,
        sources: &[SourceId],
    ) -> impl Iterator<Item = Result<Story, StoreError>> + '_ {
        let sources = sources.to_vec();
        self.walk_pages(move |index, before| index.page_among(&sources, before, PAGE))
    }

    /// Walks an index newest-first a page at a time, reading each story as it goes.
    fn walk(
        &self,
        source: Option<SourceId>,
    ) -> impl Iterator<Item = Result<Story, StoreError>> + '_ {
        self.walk_pages(move |index, before| index.page(source.as_ref(), before, PAGE))
    }

    /// Reads stories page by page; `page_of(index, before)` gives the next slots, newest first.
    fn walk_pages<'a>(
        &'a self,
        page_of: impl Fn(&Index, Option<Slot>) -> Vec<Slot> + 'a,
    ) -> impl Iterator<Item = Result<Story, StoreError>> + 'a {
        let mut page: std::vec::IntoIter<Slot> = Vec::new().into_iter();
        let mut cursor: Option<Slot> = None;
        let mut done = false;
        std::iter::from_fn(move || {
            loop {
                if let Some(slot) = page.next() {
                    cursor = Some(slot);
                    match self.get(&slot.1) {
                        Ok(Some(story)) => return Some(Ok(story)),
                        // Removed since the page was taken.
                        Ok(None) => continue,
                        Err(e) => return Some(Err(e)),
                    }
                }
                if done {
                    return None;
                }
                let next = page_of(&self.read_index(), cursor);
                done = next.len() < PAGE;
                if next.is_empty() {
                    return None;
                }
                page = next.into_iter();
            }
        })
    }

    /// Number of stories stored.
    pub fn len(&self) -> usize {
        self.read_index().len()
    }

    /// Whether no story is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
        let excess: Vec<StoryKey> = self
            .read_index()
            .beyond(source, max)
            .into_iter()
            .filter(|key| !protect.contains(key))
            .collect();
        self.forget(&excess, Some(source))?;
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
        let old: Vec<StoryKey> = self
            .read_index()
            .first_seen_before(micros(cutoff))
            .into_iter()
            .filter(|key| !protect.contains(key))
            .collect();
        self.forget(&old, None)?;
        Ok(old.len())
    }

    /// Forgets stories first seen longer ago than `retention` (`None`: keep everything),
    /// except those still in some source's latest document: they would come back as new at
    /// the next poll. Returns how many were forgotten.
    pub fn apply_retention(
        &self,
        now: DateTime<Utc>,
        retention: Option<Duration>,
    ) -> Result<usize, StoreError> {
        let Some(retention) = retention else {
            return Ok(0);
        };
        let mut protect = HashSet::new();
        for (_, state) in self.source_states()? {
            protect.extend(state.current);
        }
        self.prune_older_than(now, retention, &protect)
    }

    /// Removes `source` from these stories (or every source, with `None`), deleting a story
    /// when none is left. One batch.
    fn forget(&self, keys: &[StoryKey], source: Option<&SourceId>) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let mut batch = sled::Batch::default();
        let mut kept = Vec::new();
        let mut deleted = Vec::new();
        for key in keys {
            let Some(first_seen) = self.read_index().first_seen(key) else {
                continue;
            };
            let Some(mut story) = self.get(key)? else {
                continue;
            };
            match source {
                Some(id) => story.sources.retain(|s| &s.id != id),
                None => story.sources.clear(),
            }
            if story.sources.is_empty() {
                batch.remove(&story_key(key, first_seen));
                deleted.push(*key);
            } else {
                batch.insert(&story_key(key, first_seen), encode_story(&story));
                kept.push((*key, header_of(&story)));
            }
        }
        let generation = self.next_generation(&mut batch, true);
        self.data.apply_batch(batch)?;
        self.generation.store(generation, Ordering::SeqCst);
        let mut index = self.write_index();
        for key in &deleted {
            index.remove(key);
        }
        for (key, header) in &kept {
            index.insert(*key, header);
        }
        Ok(())
    }

    /// Every source state stored, by id. Unreadable ones are skipped, as in `source_state`.
    pub fn source_states(&self) -> Result<Vec<(String, SourceState)>, StoreError> {
        let mut out = Vec::new();
        for entry in self.data.scan_prefix(b"C") {
            let (k, v) = entry?;
            if let Ok(state) = decode_source(&v) {
                out.push((String::from_utf8_lossy(&k[1..]).into_owned(), state));
            }
        }
        Ok(out)
    }

    /// Writes everything to disk, on tokio's blocking pool.
    ///
    /// Never sled's `flush_async`: that runs on sled's own pool of 7 IO threads, and once they
    /// all hold a flush waiting for a write queued behind them, every flush waits forever
    /// (sled 0.34.7, issues #1308 and #1241). Flushes also take the writer's turn: sled's flush
    /// holds a read guard of its concurrency lock while it waits for its IO threads, and a
    /// batch queued for the write guard would block every new reader, those threads included.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.flush_blocking())
            .await
            .map_err(|e| StoreError::Io(format!("the flush task failed: {e}")))?
    }

    /// Writes everything to disk, blocking, in the writer's turn (see [`Store::flush`]).
    pub fn flush_blocking(&self) -> Result<(), StoreError> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.db.flush()?;
        Ok(())
    }

    /// The directory this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
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
/// Prefix of served-version keys in `meta`.
const SERVED_PREFIX: &str = "served/";

/// The store's creation time from `meta`, recording now (whole seconds) when there is none:
/// a fresh store, or one an earlier release created. An unreadable record is replaced the
/// same way: it only dates documents that have nothing else to date them.
fn created_at(meta: &sled::Tree) -> Result<DateTime<Utc>, StoreError> {
    if let Some(bytes) = meta.get(CREATED)? {
        match decode_created(&bytes) {
            Ok(created) => return Ok(created),
            Err(e) => tracing::warn!(error = %e, "unreadable store creation time; recording now"),
        }
    }
    let now = Utc::now();
    let now = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
    meta.insert(CREATED, encode_created(now))?;
    Ok(now)
}

/// The snapshot's index, when there is one for exactly this data generation.
fn load_snapshot(meta: &sled::Tree, generation: u64) -> Option<Index> {
    let bytes = meta.get(SNAPSHOT).ok()??;
    let (&version, rest) = bytes.split_first()?;
    if version != SNAPSHOT_V1 {
        return None;
    }
    let snapshot: index::IndexSnapshot = postcard::from_bytes(rest).ok()?;
    if snapshot.generation != generation {
        return None;
    }
    Index::from_snapshot(snapshot)
}

/// Rebuilds the indexes from every story record's header.
fn scan_index(data: &sled::Tree, shown: &str) -> Result<Index, StoreError> {
    let mut index = index::Builder::default();
    let mut unreadable = 0usize;
    for entry in data.scan_prefix(b"S") {
        let (k, v) = entry.map_err(|e| StoreError::Open {
            path: shown.to_owned(),
            reason: e.to_string(),
        })?;
        match (key_of_record(&k), decode_header(&v)) {
            (Some(key), Ok(header)) => index.add(key, &header),
            _ => unreadable += 1,
        }
    }
    if unreadable > 0 {
        tracing::warn!(path = %shown, unreadable, "some story records are unreadable and are skipped");
    }
    Ok(index.build())
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
