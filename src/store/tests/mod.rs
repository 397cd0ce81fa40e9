//! Tests on real sled databases in temporary directories, one file per room of the store;
//! this one holds what they share, and the records' round trip.

mod commit;
mod open;
mod prune;
mod read;

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::records;
use super::story_record::{self as story_records, join_record, split_record};
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
        guid: None,
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
        priorities: crate::dedupe::Priorities::default(),
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
        story_records::decode_story(&story_records::encode_story(&s)).unwrap(),
        s
    );
    // The body is written in lz4_flex's size-prepended form, byte for byte (LZ4 is
    // deterministic), so stores written before the encoder took sized buffers read the same.
    let long = "<p>긴 본문, 반복되는 문장. A long body that compresses.</p>".repeat(40);
    for content in [None, Some(String::new()), Some(long)] {
        s.content = content;
        let record = story_records::encode_story(&s);
        let (_, body) = split_record(&record).unwrap();
        let plain = lz4_flex::decompress_size_prepended(body).unwrap();
        assert_eq!(lz4_flex::compress_prepend_size(&plain), body);
        assert_eq!(story_records::decode_story(&record).unwrap(), s);
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

/// Every stored story, whole, by key: what two stores are compared by.
fn contents(store: &Store) -> Vec<Story> {
    let mut all: Vec<Story> = store.newest().map(Result::unwrap).collect();
    all.sort_by_key(Story::key);
    all
}

impl Store {
    /// Test support for other modules: makes `key`'s stored body unreadable while its header
    /// (and so the index) stays intact, as a damaged disk block would.
    pub(crate) fn garble_body(&self, key: &StoryKey) {
        let first_seen = self.read_index().first_seen(key).unwrap();
        let at = story_key(key, first_seen);
        let data = self.data().unwrap();
        let bytes = data.get(at).unwrap().unwrap();
        let (header, _) = split_record(&bytes).unwrap();
        let garbled = join_record(&header, b"\xff\xff\xff not an LZ4 block");
        data.insert(at, garbled).unwrap();
    }
}
