//! Served versions and the creation time.

use super::*;

#[test]
fn served_versions_and_the_creation_time_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let created = store.created();
    assert_eq!(created.timestamp_subsec_nanos(), 0, "whole seconds");
    assert_eq!(store.served("it", "xml").unwrap(), None);
    let served = ServedVersion {
        etag: "\"abc\"".into(),
        last_modified: at(3),
    };
    store.save_served("it", "xml", &served).unwrap();
    store.close().unwrap();
    drop(store);

    let store = open(dir.path());
    assert_eq!(store.created(), created, "recorded once, never moved");
    assert_eq!(store.served("it", "xml").unwrap(), Some(served));
    assert_eq!(store.served("it", "atom").unwrap(), None, "per format");
    drop(store);

    // A record this release cannot read counts as absent rather than failing a render.
    let db = raw(dir.path());
    let meta = db.open_tree("meta").unwrap();
    meta.insert("served/it.xml", &[9u8, 1, 2][..]).unwrap();
    meta.flush().unwrap();
    drop((meta, db));
    let store = open(dir.path());
    assert_eq!(store.served("it", "xml").unwrap(), None);
}
