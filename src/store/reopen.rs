//! Re-opening the store in the process after a storage fault (issue 19). sled 0.34 returns
//! its first I/O error for ever once a write failed, so a store whose disk filled up never
//! writes again on its own: the daemon probes the disk, and once it takes writes, closes sled
//! and opens the store again, replacing the handles every clone of the store shares.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::open::open_recovering;
use super::records::encode_fault;
use super::{FAULT, PastFault, Store, StoreError, StoreOptions};

/// What the probe writes: more than one segment of sled's log (512 KiB in 0.34), so a disk
/// that takes the probe has room for sled's next writes.
const PROBE_BYTES: usize = 1 << 20;

/// The probe's file, in the store's directory (on the store's file system).
const PROBE_NAME: &str = "sosik-probe";

/// How long a re-open waits for sled to let go of the old handles' file lock (sled releases
/// it on a background thread, and a read in flight may hold the old handles a moment).
const LOCK_WAIT: Duration = Duration::from_secs(2);

impl Store {
    /// Whether the store's disk takes writes again, asked without sled: a file of
    /// [`PROBE_BYTES`] written, synced and removed in the store's directory. A directory that
    /// is gone stays gone (it is not created again here: it may be a file system that went
    /// away, and a fresh store on the one beneath would hide that).
    pub fn probe(&self) -> Result<(), StoreError> {
        self.faults.write_allowed()?;
        let path = self.path.join(PROBE_NAME);
        let written = std::fs::File::create(&path).and_then(|mut file| {
            file.write_all(&vec![0u8; PROBE_BYTES])?;
            file.sync_all()
        });
        let removed = std::fs::remove_file(&path);
        written
            .and(removed)
            .map_err(|e| StoreError::from(sled::Error::Io(e)))
    }

    /// Closes sled and opens the store again, in this process, once [`Store::probe`] says the
    /// disk takes writes: what was committed and flushed before the fault is read back (the
    /// indexes are rebuilt from it), commits work again, and the fault clears (logged once).
    /// A poll whose commit failed meanwhile is simply fetched again: its source state, with
    /// the validators, went with it. Between a failed re-open and the next, reads fail.
    pub fn reopen(&self) -> Result<(), StoreError> {
        self.probe()?;
        let _writer = self.writer_turn();
        // sled's file lock goes with its last handle: ours go first.
        drop(
            self.handles
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        );
        let options = StoreOptions {
            path: self.path.clone(),
            cache_capacity: self.cache_capacity,
        };
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        let opened = loop {
            match open_recovering(&options) {
                Err(StoreError::Locked { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                other => break other?,
            }
        };
        // The fault, recorded for `sosik sources`: sled's first write and flush since the
        // fault, so a store that opens but cannot write yet is not taken for recovered.
        if let Some(fault) = self.fault() {
            let past = PastFault {
                kind: fault.kind.label().to_owned(),
                reason: fault.sentence(),
                since: fault.since,
                until: chrono::Utc::now(),
            };
            let handles = &opened.handles;
            (handles.meta.insert(FAULT, encode_fault(&past))).and_then(|_| handles.db.flush())?;
        }
        *self.write_index() = opened.index;
        self.generation.store(opened.generation, Ordering::SeqCst);
        *self.handles.write().unwrap_or_else(|e| e.into_inner()) = Some(opened.handles);
        self.faults.cleared();
        Ok(())
    }
}
