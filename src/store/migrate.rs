//! Layout migrations, run at open. Layout 1 (this project's first days) kept four trees:
//! `stories`, `by_time`, `by_source` (on-disk indexes) and `sources`. Layout 2 keeps one record
//! per story in `data` and builds the indexes in memory.

use super::records::{decode_story_v1, encode_story};

const V1_TREES: [&str; 4] = ["stories", "by_time", "by_source", "sources"];

/// Copies layout-1 stories and source states into `data` in one atomic batch, records layout
/// 2, and drops the old trees. Safe to repeat: a crash before the version is written redoes
/// the copy, which overwrites with the same records.
pub(super) fn from_v1(db: &sled::Db, meta: &sled::Tree, data: &sled::Tree) -> Result<(), String> {
    let stories = db.open_tree("stories").map_err(|e| e.to_string())?;
    let sources = db.open_tree("sources").map_err(|e| e.to_string())?;
    let mut batch = sled::Batch::default();
    let (mut moved, mut skipped) = (0usize, 0usize);
    for entry in stories.iter() {
        let (k, v) = entry.map_err(|e| e.to_string())?;
        match decode_story_v1(&v) {
            Ok(story) if k.len() == 16 => {
                let mut key = vec![b'S'];
                key.extend_from_slice(&k);
                batch.insert(key, encode_story(&story));
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
    meta.insert("schema", &super::SCHEMA_VERSION.to_be_bytes())
        .map_err(|e| e.to_string())?;
    db.flush().map_err(|e| e.to_string())?;
    tracing::info!(
        moved,
        skipped,
        "migrated the store from layout 1 to layout 2"
    );
    drop_v1_leftovers(db)
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
