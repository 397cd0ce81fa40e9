//! Opening: layouts refused and migrated, the index from its snapshot or a scan, a store
//! in use, a corrupt store moved aside.

use super::super::{legacy, story_record};
use super::*;

#[test]
fn a_newer_layout_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = raw(dir.path());
        db.open_tree("meta")
            .unwrap()
            .insert("schema", &99u32.to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    // Waiting out the raw handle's file lock, which sled releases on a background thread.
    let err = try_open_err(dir.path());
    assert!(err.to_string().contains("layout version 99"), "{err}");
}

#[test]
fn a_layout_1_store_is_migrated_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let a = story("mk", 1, "옛 기사", 2);
    let state = SourceState {
        etag: Some("\"e\"".into()),
        ..Default::default()
    };
    {
        let db = raw(dir.path());
        db.open_tree("meta")
            .unwrap()
            .insert("schema", &1u32.to_be_bytes())
            .unwrap();
        db.open_tree("stories")
            .unwrap()
            .insert(a.key().0, super::super::legacy::encode_story_v1(&a))
            .unwrap();
        db.open_tree("by_time").unwrap().insert(b"x", b"").unwrap();
        db.open_tree("sources")
            .unwrap()
            .insert(b"mk", records::encode_source(&state))
            .unwrap();
        db.flush().unwrap();
    }
    {
        let store = open(dir.path());
        assert_eq!(titles(&store), vec!["옛 기사"]);
        assert_eq!(
            store
                .source_state(&SourceId::new("mk").unwrap())
                .unwrap()
                .unwrap()
                .etag,
            state.etag
        );
        assert_eq!(titles_for(&store, "mk").len(), 1);
        store.flush_blocking().unwrap();
    }
    // Reopening finds layout 2 and no layout-1 trees.
    let db = raw(dir.path());
    let names: Vec<_> = db
        .tree_names()
        .into_iter()
        .map(|n| String::from_utf8_lossy(&n).into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n == "stories" || n == "by_time"),
        "{names:?}"
    );
    assert_eq!(schema(&db), SCHEMA_VERSION);
}

/// Layout 3 kept one copy per story record (version 2): it opens as layout 4 with that copy
/// attributed to the story's first source, every source kept, and the copies chosen among
/// from the next commit on.
#[test]
fn a_layout_3_store_is_migrated_with_one_copy_per_story() {
    let dir = tempfile::tempdir().unwrap();
    let mut shared = story("mk", 1, "삼성 회동", 1);
    let other = story("it", 1, "삼성 회동", 1).sources[0].clone();
    shared.sources.push(other);
    let alone = story("mk", 2, "둘", 2);
    {
        let db = raw(dir.path());
        let data = db.open_tree("data").unwrap();
        for s in [&shared, &alone] {
            let at = super::super::story_key(&s.key(), s.first_seen.timestamp_micros());
            data.insert(at, legacy::encode_story_v2(s)).unwrap();
        }
        db.open_tree("meta")
            .unwrap()
            .insert("schema", &3u32.to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    let store = open(dir.path());
    assert_eq!(store.get(&shared.key()).unwrap().unwrap(), shared);
    assert_eq!(store.get(&alone.key()).unwrap().unwrap(), alone);
    // The second source edits its copy to a longer one: it now speaks for the story.
    let longer = story("it", 1, "삼성 회동, 더 긴 제목", 3);
    assert_eq!(commit(&store, "it", &[longer], at(3)).updated, 1);
    let now = store.get(&shared.key()).unwrap().unwrap();
    assert_eq!(now.title, "삼성 회동, 더 긴 제목");
    let ids: Vec<&str> = now.sources.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["it", "mk"], "the speaking copy's source first");
    store.flush_blocking().unwrap();
    drop(store);
    assert_eq!(schema(&raw(dir.path())), SCHEMA_VERSION);
}

/// Layout 2 keyed story records by the story key alone; layout 3 puts the first-seen time
/// first. A layout-2 store, including one whose migration a crash interrupted (some records
/// already moved), opens with every story readable and only layout-3 keys left.
#[test]
fn a_layout_2_store_is_migrated_at_open_even_when_half_done() {
    for moved_before in [0, 2] {
        let dir = tempfile::tempdir().unwrap();
        let stories = [
            story("mk", 1, "하나", 1),
            story("mk", 2, "둘", 2),
            story("mk", 3, "셋", 3),
            story("mk", 4, "넷", 4),
        ];
        {
            let store = open(dir.path());
            for (day, s) in (1..).zip(&stories) {
                commit(&store, "mk", std::slice::from_ref(s), at(day));
            }
            store.close().unwrap();
        }
        {
            // Rewrite it as layout 2 (all but `moved_before` records under their old keys).
            let db = raw(dir.path());
            let data = db.open_tree("data").unwrap();
            let records: Vec<_> = data.scan_prefix(b"S").map(Result::unwrap).collect();
            assert_eq!(records.len(), 4);
            for (k, v) in &records {
                let old = story_record::decode_story(v).unwrap();
                data.insert(k, legacy::encode_story_v2(&old)).unwrap();
            }
            for (k, _) in records.into_iter().skip(moved_before) {
                assert_eq!(k.len(), 25);
                let v = data.get(&k).unwrap().unwrap();
                let mut old = vec![b'S'];
                old.extend_from_slice(&k[9..]);
                data.remove(&k).unwrap();
                data.insert(old, v).unwrap();
            }
            db.open_tree("meta")
                .unwrap()
                .insert("schema", &2u32.to_be_bytes())
                .unwrap();
            db.flush().unwrap();
        }
        {
            let store = open(dir.path());
            assert_eq!(titles(&store), vec!["넷", "셋", "둘", "하나"]);
            for s in &stories {
                assert_eq!(store.get(&s.key()).unwrap().unwrap().title, s.title);
            }
            // Still writable: a new story and a merge.
            commit(
                &store,
                "it",
                &[story("it", 4, "넷", 4), story("it", 5, "다섯", 5)],
                at(5),
            );
            assert_eq!(store.len(), 5);
            store.flush_blocking().unwrap();
        }
        let db = raw(dir.path());
        let keys: Vec<usize> = db
            .open_tree("data")
            .unwrap()
            .scan_prefix(b"S")
            .map(|e| e.unwrap().0.len())
            .collect();
        assert_eq!(keys, vec![25; 5], "moved before: {moved_before}");
        assert_eq!(schema(&db), SCHEMA_VERSION);
    }
}

#[test]
fn indexes_are_rebuilt_from_records_at_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        commit(
            &store,
            "a",
            &[story("a", 1, "one", 1), story("a", 2, "two", 3)],
            at(3),
        );
        commit(
            &store,
            "b",
            &[story("b", 2, "two", 3), story("b", 3, "three", 2)],
            at(3),
        );
        store.flush_blocking().unwrap();
    }
    let store = open(dir.path());
    assert_eq!(titles(&store), vec!["two", "three", "one"]);
    assert_eq!(store.len(), 3);
    assert_eq!(titles_for(&store, "b"), vec!["two", "three"]);
}

#[test]
fn a_clean_close_leaves_an_index_snapshot_that_a_later_write_makes_stale() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        commit(
            &store,
            "a",
            &[story("a", 1, "one", 1), story("a", 2, "two", 2)],
            at(2),
        );
        store.close().unwrap();
    }
    {
        // Opened from the snapshot: same answers as a scan.
        let store = open(dir.path());
        assert_eq!(titles(&store), vec!["two", "one"]);
        // A write after the snapshot, then a crash (no close): the snapshot must not be used.
        commit(&store, "a", &[story("a", 3, "three", 3)], at(3));
        store.flush_blocking().unwrap();
    }
    let store = open(dir.path());
    assert_eq!(
        titles(&store),
        vec!["three", "two", "one"],
        "a stale snapshot is never trusted"
    );
    assert_eq!(titles_for(&store, "a").len(), 3);
}

#[test]
fn a_garbled_snapshot_falls_back_to_a_scan() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        commit(&store, "a", &[story("a", 1, "one", 1)], at(1));
        store.close().unwrap();
    }
    {
        let db = raw(dir.path());
        db.open_tree("meta")
            .unwrap()
            .insert("index", &[1u8, 0xff, 0xff, 0xff][..])
            .unwrap();
        db.flush().unwrap();
    }
    assert_eq!(titles(&open(dir.path())), vec!["one"]);
}

/// A store another handle holds (another process, as far as sled's file lock can tell) is
/// refused as locked, in the sentence the user reads, and never taken for a corrupt one.
#[test]
fn a_store_in_use_is_refused_as_locked_and_left_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let held = open(dir.path());
    commit(&held, "a", &[story("a", 1, "one", 1)], at(1));
    let path = dir.path().join("db");
    let err = Store::open(&StoreOptions {
        path: path.clone(),
        cache_capacity: 8 << 20,
    })
    .unwrap_err();
    assert!(matches!(&err, StoreError::Locked { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "cannot open the store at {}: another sosik process is using it",
            path.display()
        )
    );
    assert_eq!(titles(&held), ["one"], "the store in use is untouched");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

/// sled finding its own files corrupt: the store is moved aside to `PATH.corrupt-TIME` and a
/// fresh one opens in its place (the sources are in the config; the next poll rebuilds it).
#[test]
fn a_corrupt_store_is_moved_aside_and_a_fresh_one_opened() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        commit(&store, "a", &[story("a", 1, "one", 1)], at(1));
        store.close().unwrap();
    }
    // sled's settings file, unparseable (the last four bytes are its checksum): sled calls
    // the database corrupt.
    let conf = dir.path().join("db").join("conf");
    std::fs::write(&conf, "not a sled setting\n\0\0\0\0").unwrap();
    let err = try_open_err(dir.path());
    assert!(matches!(&err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(&format!(
            "cannot open the store at {}: corrupt (",
            dir.path().join("db").display()
        )),
        "{err}"
    );

    let store = open(dir.path());
    assert!(store.is_empty(), "a fresh store");
    commit(&store, "a", &[story("a", 2, "two", 2)], at(2));
    assert_eq!(titles(&store), ["two"]);
    let aside: Vec<std::path::PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("db.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(
        std::fs::read(aside[0].join("conf")).unwrap(),
        b"not a sled setting\n\0\0\0\0",
        "the corrupt store is kept aside as it was"
    );
}

/// What opening the store in `dir` without recovery ([`Store::try_open`]) says, waiting out
/// the file lock of its last handle (see [`while_locked`]).
fn try_open_err(dir: &Path) -> StoreError {
    let options = StoreOptions {
        path: dir.join("db"),
        cache_capacity: 8 << 20,
    };
    for _ in 0..100 {
        match Store::try_open(&options) {
            Err(StoreError::Locked { .. }) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return e,
            Ok(_) => panic!("the store opened"),
        }
    }
    panic!("the store stayed locked")
}

/// Bytes flipped across sled's data file: sled 0.34 panics reading it back ("tried to
/// serialize Uninitialized", issue 19). The panic is the store's corruption, not the
/// process's end: the store is moved aside and a fresh one opened.
#[test]
fn a_store_sled_panics_on_is_corrupt_and_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        let long = "기사 ".repeat(60);
        for day in 1..=20u32 {
            let stories: Vec<Story> = (0..200)
                .map(|n| story("a", day * 1000 + n, &format!("{n} {long}"), day))
                .collect();
            commit(&store, "a", &stories, at(day));
        }
        store.close().unwrap();
    }
    flip_across(&dir.path().join("db").join("db"));
    let err = try_open_err(dir.path());
    assert!(matches!(&err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(
        err.to_string().contains("sled failed reading it back"),
        "{err}"
    );

    let store = open(dir.path());
    assert!(store.is_empty(), "a fresh store");
    let aside = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("db.corrupt-")
        })
        .count();
    assert_eq!(aside, 1, "the damaged store is kept aside");
}

/// Flips 64 bytes in every 64 KiB of the file at `path`.
fn flip_across(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let len = bytes.len();
    for start in (32 << 10..len).step_by(64 << 10) {
        for b in &mut bytes[start..(start + 64).min(len)] {
            *b ^= 0x5a;
        }
    }
    std::fs::write(path, bytes).unwrap();
}
