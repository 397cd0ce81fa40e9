//! Tests on real sled databases in temporary directories.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::records::{self, join_record, split_record};
use super::*;
use crate::model::{Identity, StorySource};

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, 0, 0, 0).unwrap()
}

/// Opens the store in `dir`, waiting out its file lock (see [`while_locked`]).
fn open(dir: &Path) -> Store {
    let options = StoreOptions {
        path: dir.join("db"),
        cache_capacity: 8 << 20,
    };
    while_locked(|| Store::open(&options))
}

/// Opens the sled database under the store in `dir` directly, waiting out its file lock.
fn raw(dir: &Path) -> sled::Db {
    while_locked(|| sled::open(dir.join("db")))
}

/// `attempt`, retried while it fails on the store's file lock: sled releases the lock from a
/// background thread after the last handle goes, so a test that reopens at once may find it
/// still held for a moment. Two seconds at most.
fn while_locked<T, E: std::fmt::Debug + std::fmt::Display>(
    attempt: impl Fn() -> Result<T, E>,
) -> T {
    let locked = |e: &E| {
        let e = e.to_string();
        e.contains("another sosik process") || e.contains("could not acquire lock")
    };
    for _ in 0..100 {
        match attempt() {
            Err(e) if locked(&e) => std::thread::sleep(Duration::from_millis(20)),
            other => return other.unwrap(),
        }
    }
    attempt().unwrap()
}

fn story(source: &str, n: u32, title: &str, day: u32) -> Story {
    let mut s = Story {
        identity: Identity::Link(format!("https://www.mk.co.kr/news/{n}")),
        link: Some(format!("https://www.mk.co.kr/news/{n}")),
        title: title.into(),
        summary: None,
        content: None,
        authors: vec![],
        categories: vec![],
        published: at(day),
        updated: at(day),
        first_seen: at(day),
        lang: None,
        sources: vec![],
    };
    s.sources = vec![StorySource {
        id: SourceId::new(source).unwrap(),
        fingerprint: s.fingerprint(),
    }];
    s
}

fn commit(store: &Store, source: &str, stories: &[Story], now: DateTime<Utc>) -> CommitCounts {
    let id = SourceId::new(source).unwrap();
    let state = poll_state(stories);
    store
        .commit_one(id, stories.to_vec(), state, now)
        .unwrap()
        .counts
}

/// A poll of `stories` by `source` for [`Store::commit_group`], prepared by `store`.
fn poll(store: &Store, source: &str, stories: &[Story], now: DateTime<Utc>) -> PollCommit {
    PollCommit {
        source: SourceId::new(source).unwrap(),
        stories: stories.to_vec(),
        prepared: store.prepare(stories),
        state: poll_state(stories),
        now,
    }
}

/// The state a poll of `stories` commits: their keys as the source's current document.
fn poll_state(stories: &[Story]) -> SourceState {
    SourceState {
        current: stories.iter().map(Story::key).collect(),
        ..Default::default()
    }
}

fn titles(store: &Store) -> Vec<String> {
    store.newest().map(|s| s.unwrap().title).collect()
}

/// The titles of one source's stories, newest first.
fn titles_for(store: &Store, source: &str) -> Vec<String> {
    store
        .newest_for_source(&SourceId::new(source).unwrap())
        .map(|s| s.unwrap().title)
        .collect()
}

/// The layout version a raw sled store records.
fn schema(db: &sled::Db) -> u32 {
    let v = db
        .open_tree("meta")
        .unwrap()
        .get("schema")
        .unwrap()
        .unwrap();
    u32::from_be_bytes(v.as_ref().try_into().unwrap())
}

#[test]
fn a_commit_stores_stories_newest_first_and_the_source_state() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let counts = commit(
        &store,
        "mk",
        &[story("mk", 1, "old", 1), story("mk", 2, "new", 3)],
        at(3),
    );
    assert_eq!(
        counts,
        CommitCounts {
            new: 2,
            updated: 0,
            unchanged: 0
        }
    );
    assert_eq!(titles(&store), vec!["new", "old"]);
    let state = store
        .source_state(&SourceId::new("mk").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!((state.last_new, state.current.len()), (2, 2));
}

#[test]
fn edits_update_in_place_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        commit(&store, "mk", &[story("mk", 1, "초안", 1)], at(1));
        let counts = commit(&store, "mk", &[story("mk", 1, "고친 제목", 1)], at(2));
        assert_eq!(counts.updated, 1);
        store.flush_blocking().unwrap();
    }
    let store = open(dir.path());
    assert_eq!(titles(&store), vec!["고친 제목"]);
    assert_eq!(store.len(), 1);
    let s = store.get(&story("mk", 1, "", 1).key()).unwrap().unwrap();
    assert_eq!((s.first_seen, s.updated), (at(1), at(2)));
}

#[test]
fn one_story_from_two_sources_is_stored_once_and_listed_for_both() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    commit(&store, "mk-all", &[story("mk-all", 1, "a", 1)], at(1));
    let counts = commit(&store, "mk-it", &[story("mk-it", 1, "a", 1)], at(1));
    assert_eq!(
        counts,
        CommitCounts {
            new: 0,
            updated: 0,
            unchanged: 1
        }
    );
    assert_eq!(store.len(), 1);
    for source in ["mk-all", "mk-it"] {
        assert_eq!(titles_for(&store, source).len(), 1, "{source}");
    }
    assert_eq!(
        store.newest().count(),
        1,
        "the time index holds one entry per story"
    );
}

#[test]
fn the_cap_keeps_the_newest_per_source_and_spares_shared_stories() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let a: Vec<Story> = (1..=5)
        .map(|d| story("a", d, &format!("a{d}"), d))
        .collect();
    commit(&store, "a", &a, at(5));
    commit(&store, "b", &[story("b", 1, "a1", 1)], at(5));
    let removed = store
        .enforce_cap(&SourceId::new("a").unwrap(), 2, &HashSet::new())
        .unwrap();
    assert_eq!(removed, 3);
    // a1 is still carried by b, so it stays, listed for b only.
    assert_eq!(titles(&store), vec!["a5", "a4", "a1"]);
    assert_eq!(titles_for(&store, "a").len(), 2);
}

#[test]
fn retention_forgets_old_stories_but_not_ones_still_in_a_feed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    commit(
        &store,
        "a",
        &[
            story("a", 1, "old", 1),
            story("a", 2, "kept", 1),
            story("a", 3, "young", 20),
        ],
        at(20),
    );
    let protect: HashSet<_> = [story("a", 2, "", 1).key()].into();
    let removed = store
        .prune_older_than(at(25), Duration::from_secs(10 * 86_400), &protect)
        .unwrap();
    assert_eq!(removed, 1);
    assert_eq!(titles(&store), vec!["young", "kept"]);
    assert_eq!(titles_for(&store, "a").len(), 2);
}

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
    let err = Store::open(&StoreOptions {
        path: dir.path().join("db"),
        cache_capacity: 8 << 20,
    })
    .unwrap_err();
    assert!(err.to_string().contains("layout version 99"), "{err}");
}

#[test]
fn records_round_trip() {
    let mut s = story("mk", 7, "제목", 3);
    s.identity = Identity::Guid {
        source: SourceId::new("mk").unwrap(),
        guid: "g".into(),
    };
    s.summary = Some("<p>요약</p>".into());
    s.categories = vec!["IT·과학".into()];
    s.authors = vec!["기자".into()];
    s.lang = Some("ko".into());
    assert_eq!(
        records::decode_story(&records::encode_story(&s)).unwrap(),
        s
    );
    // The body is written in lz4_flex's size-prepended form, byte for byte (LZ4 is
    // deterministic), so stores written before the encoder took sized buffers read the same.
    let long = "<p>긴 본문, 반복되는 문장. A long body that compresses.</p>".repeat(40);
    for content in [None, Some(String::new()), Some(long)] {
        s.content = content;
        let record = records::encode_story(&s);
        let (_, body) = split_record(&record).unwrap();
        let plain = lz4_flex::decompress_size_prepended(body).unwrap();
        assert_eq!(lz4_flex::compress_prepend_size(&plain), body);
        assert_eq!(records::decode_story(&record).unwrap(), s);
    }
    let state = SourceState {
        etag: Some("\"x\"".into()),
        next_poll: Some(at(4)),
        consecutive_errors: 3,
        current: vec![s.key()],
        ..Default::default()
    };
    assert_eq!(
        records::decode_source(&records::encode_source(&state)).unwrap(),
        state
    );
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
            .insert(a.key().0, records::encode_story_v1(&a))
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

/// Two sled 0.34 deadlocks hung `sosik poll` over a few hundred sources: `flush_async` runs on
/// sled's own 7 IO threads, and once they all hold a flush waiting for a write queued behind
/// them every flush waits forever (sled #1308, #1241); and a flush holds a read guard of sled's
/// concurrency lock while it waits for those threads, so a write queued for the write guard
/// blocks every new reader. Hundreds of polls committing, capping and flushing at once must
/// all finish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_commits_and_flushes_never_deadlock() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut polls = tokio::task::JoinSet::new();
    for source in 0..300u32 {
        let store = store.clone();
        polls.spawn(async move {
            let id = format!("s{source}");
            let stories: Vec<Story> = (0..20)
                .map(|n| story(&id, source * 100 + n, "t", 1 + n % 20))
                .collect();
            let committed = store.clone();
            tokio::task::spawn_blocking(move || {
                commit(&committed, &id, &stories, at(21));
                let protect = stories.iter().map(Story::key).collect();
                committed
                    .enforce_cap(&SourceId::new(&id).unwrap(), 10, &protect)
                    .unwrap();
            })
            .await
            .unwrap();
            store.flush().await.unwrap();
        });
    }
    let all = async {
        while let Some(poll) = polls.join_next().await {
            poll.unwrap();
        }
    };
    // A hang guard: the whole thing takes about a second.
    if tokio::time::timeout(std::time::Duration::from_secs(60), all)
        .await
        .is_err()
    {
        // Dropping the last handle would flush, and hang in the same deadlock.
        std::mem::forget(store);
        panic!("commits and flushes deadlocked");
    }
    assert_eq!(store.len(), 300 * 20);
}

/// A pipeline prepares (encodes new stories) away from the writer; a story another source
/// stores in between is still merged, not overwritten by the record prepared as new.
#[test]
fn a_story_stored_between_prepare_and_commit_is_merged() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let from_all = vec![
        story("mk-all", 1, "삼성 회동", 2),
        story("mk-all", 2, "둘", 2),
    ];
    let prepared = store.prepare(&from_all);
    assert_eq!(prepared.keys(), &[from_all[0].key(), from_all[1].key()]);
    // The section feed commits the same story first.
    commit(&store, "mk-it", &[story("mk-it", 1, "삼성 회동", 2)], at(2));
    let committed = store
        .commit_group(vec![PollCommit {
            source: SourceId::new("mk-all").unwrap(),
            stories: from_all.clone(),
            prepared,
            state: SourceState::default(),
            now: at(2),
        }])
        .pop()
        .unwrap()
        .unwrap();
    let counts = committed.counts;
    assert_eq!((counts.new, counts.unchanged), (1, 1));
    assert_eq!(committed.stories, from_all, "the stories are handed back");
    assert_eq!(
        (committed.state.last_new, committed.state.last_updated),
        (1, 0),
        "the state handed back is the one saved, with this commit's counts"
    );
    let merged = store.get(&from_all[0].key()).unwrap().unwrap();
    let sources: Vec<&str> = merged.sources.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(sources, ["mk-it", "mk-all"]);
    // Merged from the record's header: the body is the one stored.
    assert_eq!(merged.title, "삼성 회동");
    assert_eq!(merged.link, from_all[0].link);
    assert_eq!(store.len(), 2);
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
            for (k, v) in records.into_iter().skip(moved_before) {
                assert_eq!(k.len(), 25);
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

/// Every stored story, whole, by key: what two stores are compared by.
fn contents(store: &Store) -> Vec<Story> {
    let mut all: Vec<Story> = store.newest().map(Result::unwrap).collect();
    all.sort_by_key(Story::key);
    all
}

/// The polls of the group tests: two sources sharing stories, a story edited by its source
/// between two polls of one group, and a story stored before the group.
fn group_polls() -> Vec<(&'static str, Vec<Story>, DateTime<Utc>)> {
    let mut edited = story("mk-all", 3, "셋 (수정)", 3);
    edited.summary = Some("<p>고침</p>".into());
    edited.sources[0].fingerprint = edited.fingerprint();
    vec![
        (
            "mk-all",
            vec![story("mk-all", 1, "하나", 2), story("mk-all", 3, "셋", 2)],
            at(3),
        ),
        (
            "mk-it",
            vec![story("mk-it", 1, "하나", 2), story("mk-it", 2, "둘", 2)],
            at(3),
        ),
        ("mk-all", vec![edited, story("mk-all", 0, "영", 1)], at(4)),
        ("hankyung", vec![story("hankyung", 2, "둘", 2)], at(4)),
    ]
}

#[test]
fn a_group_commit_stores_what_the_same_polls_one_by_one_would() {
    let (one_dir, group_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (one, group) = (open(one_dir.path()), open(group_dir.path()));
    let before = story("mk-all", 0, "영", 1);
    for store in [&one, &group] {
        commit(store, "mk-all", std::slice::from_ref(&before), at(1));
    }
    let polls = group_polls();
    let ids: Vec<SourceId> = polls.iter().map(|p| SourceId::new(p.0).unwrap()).collect();

    let one_by_one: Vec<Committed> = polls
        .iter()
        .map(|(source, stories, now)| {
            one.commit_group(vec![poll(&one, source, stories, *now)])
                .pop()
                .unwrap()
                .unwrap()
        })
        .collect();
    let grouped: Vec<Committed> = group
        .commit_group(
            polls
                .iter()
                .map(|(source, stories, now)| poll(&group, source, stories, *now))
                .collect(),
        )
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let counts = |all: &[Committed]| all.iter().map(|c| c.counts).collect::<Vec<_>>();
    assert_eq!(counts(&grouped), counts(&one_by_one));
    let states = |all: &[Committed]| all.iter().map(|c| c.state.clone()).collect::<Vec<_>>();
    assert_eq!(states(&grouped), states(&one_by_one));
    let one_by_one = counts(&one_by_one);
    assert_eq!(
        one_by_one
            .iter()
            .map(|c| (c.new, c.updated, c.unchanged))
            .collect::<Vec<_>>(),
        [(2, 0, 0), (1, 0, 1), (0, 1, 1), (0, 0, 1)],
        "the polls exercise new, shared, edited and already stored stories"
    );
    assert_eq!(contents(&group), contents(&one));
    let shared = group.get(&story("x", 2, "", 1).key()).unwrap().unwrap();
    let sources: Vec<&str> = shared.sources.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(sources, ["mk-it", "hankyung"]);
    for id in &ids {
        assert_eq!(
            group.source_state(id).unwrap(),
            one.source_state(id).unwrap(),
            "{id}"
        );
    }
    // And both read back the same after a reopen (the index came from the same writes).
    drop((one, group));
    let (one, group) = (open(one_dir.path()), open(group_dir.path()));
    assert_eq!(contents(&group), contents(&one));
    assert_eq!(titles(&group), titles(&one));
}

#[test]
fn a_poll_whose_stored_record_is_unreadable_fails_alone_in_its_group() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let garbled = story("mk-all", 1, "하나", 1);
    commit(&store, "mk-all", std::slice::from_ref(&garbled), at(1));
    let first_seen = store.read_index().first_seen(&garbled.key()).unwrap();
    store
        .data
        .insert(story_key(&garbled.key(), first_seen), &b"\x03garbage"[..])
        .unwrap();

    let (all, it) = (
        SourceId::new("mk-all").unwrap(),
        SourceId::new("mk-it").unwrap(),
    );
    let from_all = vec![
        story("mk-all", 1, "하나 (수정)", 1),
        story("mk-all", 5, "다섯", 2),
    ];
    let from_it = vec![story("mk-it", 7, "일곱", 2)];
    let results = store.commit_group(vec![
        poll(&store, "mk-all", &from_all, at(2)),
        poll(&store, "mk-it", &from_it, at(2)),
    ]);

    assert!(
        matches!(&results[0], Err(StoreError::Record(_))),
        "{:?}",
        results[0]
    );
    assert_eq!(results[1].as_ref().unwrap().counts.new, 1);
    assert_eq!(titles_for(&store, "mk-it"), ["일곱"]);
    // Nothing of the failed poll was written: not its new story, not its state.
    assert!(store.get(&from_all[1].key()).unwrap().is_none());
    assert_eq!(
        store.source_state(&all).unwrap().unwrap().current,
        [garbled.key()]
    );
    assert_eq!(
        store.source_state(&it).unwrap().unwrap().current,
        poll_state(&from_it).current
    );
}

impl Store {
    /// Test support for other modules: makes `key`'s stored body unreadable while its header
    /// (and so the index) stays intact, as a damaged disk block would.
    pub(crate) fn garble_body(&self, key: &StoryKey) {
        let first_seen = self.read_index().first_seen(key).unwrap();
        let at = story_key(key, first_seen);
        let bytes = self.data.get(at).unwrap().unwrap();
        let (header, _) = split_record(&bytes).unwrap();
        let garbled = join_record(&header, b"\xff\xff\xff not an LZ4 block");
        self.data.insert(at, garbled).unwrap();
    }
}

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
