//! Layout migrations, run at open. Layout 1 (this project's first days) kept four trees:
//! `stories`, `by_time`, `by_source` (on-disk indexes) and `sources`. Layout 2 keeps one record
//! per story in `data` and builds the indexes in memory. Layout 3 keys those records by
//! first-seen time before the story key. Layout 4 keeps every source's copy in a story
//! record (version 3); an older record's one copy is its first source's.

use super::legacy::{self, decode_story_v1, decode_story_v2};
use super::records::micros;
use super::story_record::encode_story;
use super::{SCHEMA_VERSION, story_key};
use crate::model::StoryKey;

/// Records moved per batch by [`from_v2`]: bounds the memory a migration holds.
const MOVES_PER_BATCH: usize = 10_000;

const V1_TREES: [&str; 4] = ["stories", "by_time", "by_source", "sources"];

/// Copies layout-1 stories and source states into `data` (with layout-3 keys) in one atomic
/// batch, records the current layout, and drops the old trees. Safe to repeat: a crash before
/// the version is written redoes the copy, which overwrites with the same records.
pub(super) fn from_v1(db: &sled::Db, meta: &sled::Tree, data: &sled::Tree) -> Result<(), String> {
    let stories = db.open_tree("stories").map_err(|e| e.to_string())?;
    let sources = db.open_tree("sources").map_err(|e| e.to_string())?;
    let mut batch = sled::Batch::default();
    let (mut moved, mut skipped) = (0usize, 0usize);
    for entry in stories.iter() {
        let (k, v) = entry.map_err(|e| e.to_string())?;
        match decode_story_v1(&v) {
            Ok(story) if k.len() == 16 => {
                let key = StoryKey(k.as_ref().try_into().expect("16 bytes"));
                batch.insert(
                    &story_key(&key, micros(story.first_seen)),
                    encode_story(&story),
                );
                moved += 1;
            }
            _ => skipped += 1,
        }
    }
    for entry in sources.iter() {
        let (k, v) = entry.map_err(|e| e.to_string())?;
        let mut key = vec![b'C'];
        key.extend_from_slice(&k);
        batch.insert(key, v);
    }
    data.apply_batch(batch).map_err(|e| e.to_string())?;
    finish(meta, 1, moved, skipped)?;
    drop_v1_leftovers(db)
}

/// Moves every layout-2 story record (`S` + story key) to its layout-3 key (`S` + first-seen
/// time + story key), a bounded batch at a time, then rewrites them as version 3 (as
/// [`from_v3`] does) and records the layout. Each batch moves records atomically and the old
/// keys are the only ones it looks for, so a crash midway is finished by the next open. The
/// index and its snapshot are unchanged: same stories, same headers.
pub(super) fn from_v2(meta: &sled::Tree, data: &sled::Tree) -> Result<(), String> {
    // The old keys first (17 bytes each), so each record is read once.
    let mut old = Vec::new();
    for key in data.scan_prefix(b"S").keys() {
        let key = key.map_err(|e| e.to_string())?;
        if key.len() == 17 {
            old.push(key);
        }
    }
    let (mut moved, mut skipped) = (0usize, 0usize);
    for chunk in old.chunks(MOVES_PER_BATCH) {
        let mut batch = sled::Batch::default();
        for k in chunk {
            let Some(v) = data.get(k).map_err(|e| e.to_string())? else {
                continue;
            };
            batch.remove(k);
            match legacy::split_v2(&v) {
                Ok((header, _)) => {
                    let key = StoryKey(k[1..].try_into().expect("16 bytes"));
                    batch.insert(&story_key(&key, header.first_seen), v);
                    moved += 1;
                }
                // Unreadable under layout 2 as well: nothing to keep.
                Err(_) => skipped += 1,
            }
        }
        data.apply_batch(batch).map_err(|e| e.to_string())?;
    }
    tracing::info!(
        moved,
        skipped,
        "moved the story records of layout 2 to layout 3"
    );
    from_v3(meta, data)
}

/// Rewrites every version-2 story record (one copy) as version 3 under the same key, its one
/// copy attributed to its first source, a bounded batch at a time, then records the layout.
/// Only version-2 records are looked for, so a crash midway is finished by the next open. The
/// headers keep their published time, first-seen time and sources: the index and its
/// snapshot stay valid.
pub(super) fn from_v3(meta: &sled::Tree, data: &sled::Tree) -> Result<(), String> {
    let mut old = Vec::new();
    for entry in data.scan_prefix(b"S") {
        let (key, value) = entry.map_err(|e| e.to_string())?;
        if value.first() == Some(&legacy::STORY_V2) {
            old.push(key);
        }
    }
    let (mut moved, mut skipped) = (0usize, 0usize);
    for chunk in old.chunks(MOVES_PER_BATCH) {
        let mut batch = sled::Batch::default();
        for k in chunk {
            let Some(v) = data.get(k).map_err(|e| e.to_string())? else {
                continue;
            };
            match decode_story_v2(&v) {
                Ok(story) => {
                    batch.insert(k, encode_story(&story));
                    moved += 1;
                }
                // Unreadable: left as it is, skipped at open like any unreadable record.
                Err(_) => skipped += 1,
            }
        }
        data.apply_batch(batch).map_err(|e| e.to_string())?;
    }
    finish(meta, 3, moved, skipped)
}

/// Records the current layout once the records are moved, and makes it durable (a sled flush
/// covers every tree).
fn finish(meta: &sled::Tree, from: u32, moved: usize, skipped: usize) -> Result<(), String> {
    meta.insert("schema", &SCHEMA_VERSION.to_be_bytes())
        .map_err(|e| e.to_string())?;
    meta.flush().map_err(|e| e.to_string())?;
    tracing::info!(
        moved,
        skipped,
        "migrated the store from layout {from} to layout {SCHEMA_VERSION}"
    );
    Ok(())
}

/// Drops layout-1 trees a crash left behind after a finished migration.
pub(super) fn drop_v1_leftovers(db: &sled::Db) -> Result<(), String> {
    let names: Vec<Vec<u8>> = db.tree_names().into_iter().map(|n| n.to_vec()).collect();
    for tree in V1_TREES {
        if names.iter().any(|n| n == tree.as_bytes()) {
            db.drop_tree(tree).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}
