//! Opening a store (corrupt-store recovery, migration dispatch, the index from its snapshot or
//! a scan of the records), closing it (the snapshot) and flushing it.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

use super::index::{self, Index};
use super::records::{decode_created, encode_created};
use super::story_record::decode_header;
use super::{
    CREATED, FLUSH_EVERY_MS, GENERATION, Handles, SCHEMA_VERSION, SNAPSHOT, SNAPSHOT_V1, Store,
    StoreError, StoreOptions, key_of_record, migrate,
};

/// What opening the sled database gives: its handles and what was read from them.
pub(super) struct Opened {
    pub(super) handles: Handles,
    pub(super) generation: u64,
    pub(super) index: Index,
    pub(super) created: DateTime<Utc>,
}

impl Store {
    /// Opens (or creates) the store. A corrupt store is moved aside to `PATH.corrupt-TIME`,
    /// loudly, and a fresh one is started: the sources are in the config, so the next poll
    /// rebuilds it.
    pub fn open(options: &StoreOptions) -> Result<Store, StoreError> {
        Ok(Store::from_opened(options, open_recovering(options)?))
    }

    /// Opens the store as it is, without recovery: a corrupt one is [`StoreError::Corrupt`].
    #[cfg(test)]
    pub(super) fn try_open(options: &StoreOptions) -> Result<Store, StoreError> {
        Ok(Store::from_opened(options, try_open_parts(options)?))
    }

    fn from_opened(options: &StoreOptions, opened: Opened) -> Store {
        Store {
            handles: Arc::new(RwLock::new(Some(opened.handles))),
            cache_capacity: options.cache_capacity,
            generation: Arc::new(AtomicU64::new(opened.generation)),
            index: Arc::new(RwLock::new(opened.index)),
            path: options.path.clone(),
            created: opened.created,
            writer: Arc::default(),
            faults: Arc::default(),
        }
    }

    /// Writes the indexes to `meta`, so the next open need not read every story, and flushes.
    /// Call at a clean close; a crash afterwards is harmless (a later write makes the snapshot
    /// stale). A store whose directory was removed writes nothing and says so. On a failing
    /// disk this can wait a long time inside sled: the daemon calls it with a deadline.
    pub fn close(&self) -> Result<(), StoreError> {
        let _writer = self.writer_turn();
        self.present().map_err(|e| self.noted(e))?;
        let snapshot = self
            .read_index()
            .to_snapshot(self.generation.load(Ordering::SeqCst));
        let mut bytes = vec![SNAPSHOT_V1];
        bytes = postcard::to_extend(&snapshot, bytes).expect("an index snapshot always serializes");
        let written = (self.faults.write_allowed().map_err(StoreError::from))
            .and_then(|()| self.handles())
            .and_then(|h| Ok(h.meta.insert(SNAPSHOT, bytes).and_then(|_| h.db.flush())?));
        written.map_err(|e| self.noted(e))?;
        Ok(())
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
            .map_err(|e| StoreError::Io {
                kind: super::FaultKind::Io,
                reason: format!("the flush task failed: {e}"),
            })?
    }

    /// Writes everything to disk, blocking, in the writer's turn (see [`Store::flush`]).
    pub fn flush_blocking(&self) -> Result<(), StoreError> {
        let _writer = self.writer_turn();
        self.present().map_err(|e| self.noted(e))?;
        let flushed = (self.faults.write_allowed().map_err(StoreError::from))
            .and_then(|()| Ok(self.handles()?.db.flush()?));
        flushed.map_err(|e| self.noted(e))?;
        self.faults.cleared();
        Ok(())
    }
}

/// Opens the store, moving a corrupt one aside to `PATH.corrupt-TIME` (loudly) and opening a
/// fresh one in its place.
pub(super) fn open_recovering(options: &StoreOptions) -> Result<Opened, StoreError> {
    match try_open_parts(options) {
        Err(StoreError::Corrupt { reason, .. }) => {
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
            try_open_parts(options)
        }
        other => other,
    }
}

/// Opens the store as it is, without recovery: a corrupt one is [`StoreError::Corrupt`],
/// whether sled says so or panics while reading it back (sled 0.34 panics with "tried to
/// serialize Uninitialized" on some damaged page tables, issue 19).
fn try_open_parts(options: &StoreOptions) -> Result<Opened, StoreError> {
    let opening = std::panic::AssertUnwindSafe(|| open_as_is(options));
    std::panic::catch_unwind(opening).unwrap_or_else(|panic| {
        Err(StoreError::Corrupt {
            path: options.path.display().to_string(),
            reason: format!(
                "sled failed reading it back: {}",
                crate::panic_message(&*panic)
            ),
        })
    })
}

/// [`try_open_parts`] without its panic boundary.
fn open_as_is(options: &StoreOptions) -> Result<Opened, StoreError> {
    let shown = options.path.display().to_string();
    let open_err = |reason: String| StoreError::Open {
        path: shown.clone(),
        reason,
    };
    let db = open_db(options)?;
    let meta = db.open_tree("meta").map_err(|e| open_err(e.to_string()))?;
    let data = db.open_tree("data").map_err(|e| open_err(e.to_string()))?;
    bring_layout_up_to_date(&db, &meta, &data).map_err(open_err)?;
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
        None => scan_index(&data, &shown).map_err(|e| open_err(e.to_string()))?,
    };
    Ok(Opened {
        handles: Handles { db, meta, data },
        generation,
        index,
        created,
    })
}

/// Opens the sled database itself, telling a corrupt one and a locked one from other failures.
fn open_db(options: &StoreOptions) -> Result<sled::Db, StoreError> {
    let path = options.path.display().to_string();
    sled::Config::new()
        .path(&options.path)
        .cache_capacity(options.cache_capacity)
        .mode(sled::Mode::LowSpace)
        .flush_every_ms(Some(FLUSH_EVERY_MS))
        .open()
        .map_err(|e| match e {
            sled::Error::Corruption { .. } => StoreError::Corrupt {
                path,
                reason: e.to_string(),
            },
            sled::Error::Io(ref io) if is_lock_failure(io) => StoreError::Locked { path },
            other => {
                let (kind, reason) = super::fault::classify(&other);
                StoreError::Open {
                    path,
                    reason: super::fault::sentence(kind, &reason),
                }
            }
        })
}

/// Whether sled failed to take the database's file lock. sled 0.34 gives no kind of its own
/// for it: an `Other` I/O error whose text it writes as "could not acquire lock on …"
/// (`Config::try_lock`), so its text is the one thing to go by, read here and nowhere else.
fn is_lock_failure(io: &std::io::Error) -> bool {
    io.kind() == ErrorKind::Other && io.to_string().starts_with("could not acquire lock")
}

/// Migrates an older layout, drops leftovers of layout 1, records the layout of a fresh
/// store, or refuses a layout this release does not know. The error is the open's reason.
fn bring_layout_up_to_date(
    db: &sled::Db,
    meta: &sled::Tree,
    data: &sled::Tree,
) -> Result<(), String> {
    let Some(v) = meta.get("schema").map_err(|e| e.to_string())? else {
        meta.insert("schema", &SCHEMA_VERSION.to_be_bytes())
            .map_err(|e| e.to_string())?;
        return Ok(());
    };
    let version = v
        .as_ref()
        .try_into()
        .map(u32::from_be_bytes)
        .unwrap_or(u32::MAX);
    let failed = |e: String| format!("migrating layout {version} to {SCHEMA_VERSION} failed: {e}");
    match version {
        1 => migrate::from_v1(db, meta, data).map_err(failed),
        2 => migrate::from_v2(meta, data).map_err(failed),
        3 => migrate::from_v3(meta, data).map_err(failed),
        SCHEMA_VERSION => migrate::drop_v1_leftovers(db),
        _ => Err(format!(
            "it has layout version {version}, and this sosik reads version {SCHEMA_VERSION}"
        )),
    }
}

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
fn scan_index(data: &sled::Tree, shown: &str) -> Result<Index, sled::Error> {
    let mut index = index::Builder::default();
    let mut unreadable = 0usize;
    for entry in data.scan_prefix(b"S") {
        let (k, v) = entry?;
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

/// Where a corrupt store is moved: `PATH.corrupt-TIME`, beside it.
fn aside_path(path: &Path) -> PathBuf {
    let stamp = Utc::now().format("%Y%m%dT%H%M%SZ");
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".corrupt-{stamp}"));
    path.with_file_name(name)
}
