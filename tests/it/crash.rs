//! Crash safety (issue 5): the real binary ingests a few hundred generated feeds and is killed
//! with SIGKILL at several moments, as `sosik poll` and as the daemon. After every kill the
//! store must reopen as it is (never moved aside as corrupt), list every story exactly once,
//! keep its indexes consistent, and have lost nothing it held before; a source whose state
//! says a poll was committed must have all of that poll's stories. A last, uninterrupted poll
//! must then complete the set: exactly the distinct stories the generator wrote.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sosik::model::SourceId;
use sosik::store::{Store, StoreOptions};

use crate::free_port;

const FEEDS: usize = 300;
const ITEMS: usize = 20;
/// Items per feed that are shared with a neighbour: feed `i` carries shared blocks `i` and
/// `i + 1`, so every block is in two feeds.
const SHARED: usize = 3;
/// When each run is killed, after it starts. Runs alternate between `sosik poll` and
/// `sosik run`. A run that finishes first is simply not killed.
const KILL_AFTER_MS: [u64; 7] = [30, 80, 150, 250, 350, 500, 700];
/// A hang guard for the final, uninterrupted poll: far above what it takes.
const POLL_LIMIT: Duration = Duration::from_secs(120);

fn source_id(i: usize) -> String {
    format!("f{i:03}")
}

fn shared_link(block: usize, j: usize) -> String {
    format!("https://crash.test/shared/{block}/{j}")
}

/// Writes the feeds and the config; returns, per canonical link, the sources that carry it.
fn generate(dir: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let feeds = dir.join("feeds");
    std::fs::create_dir_all(&feeds).unwrap();
    let mut expected: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut config = format!(
        "[store]\npath = \"{}\"\n\n[server]\nlisten = \"127.0.0.1:{}\"\n\n",
        dir.join("db").display(),
        free_port()
    );
    for i in 0..FEEDS {
        let id = source_id(i);
        let mut items: Vec<(String, String)> = Vec::with_capacity(ITEMS);
        for j in 0..SHARED {
            // The same story, once with a tracking parameter: one identity.
            items.push((format!("shared {i}/{j}"), shared_link(i, j)));
            let next = shared_link(i + 1, j);
            items.push((
                format!("shared {}/{j}", i + 1),
                format!("{next}?utm_source=f{i}"),
            ));
            for link in [shared_link(i, j), next] {
                expected.entry(link).or_default().insert(id.clone());
            }
        }
        for j in items.len()..ITEMS {
            let link = format!("https://crash.test/{id}/{j}");
            items.push((format!("story {id}/{j}"), link.clone()));
            expected.entry(link).or_default().insert(id.clone());
        }
        let pairs: Vec<(&str, &str)> = items
            .iter()
            .map(|(t, l)| (t.as_str(), l.as_str()))
            .collect();
        std::fs::write(feeds.join(format!("{id}.xml")), crate::rss(&id, &pairs)).unwrap();
        config.push_str(&format!(
            "[sources.{id}]\nurl = \"file:feeds/{id}.xml\"\n\n"
        ));
    }
    std::fs::write(dir.join("sosik.toml"), config).unwrap();
    expected
}

fn sosik(dir: &Path, command: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_sosik"))
        .args([
            "--config",
            dir.join("sosik.toml").to_str().unwrap(),
            command,
        ])
        .env_remove("SOSIK_CONFIG")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// What the store holds: canonical link → its sources, after checking every invariant that
/// must survive a crash.
fn verify(
    dir: &Path,
    expected: &BTreeMap<String, BTreeSet<String>>,
) -> BTreeMap<String, BTreeSet<String>> {
    let db = dir.join("db");
    let store = Store::open(&StoreOptions {
        path: db.clone(),
        cache_capacity: 16 << 20,
    })
    .expect("the store reopens after SIGKILL");
    let aside: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("corrupt"))
        .collect();
    assert!(aside.is_empty(), "the store was moved aside as corrupt");

    let ids: HashSet<String> = (0..FEEDS).map(source_id).collect();
    let mut held: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut keys = HashSet::new();
    let mut by_source: BTreeMap<String, BTreeSet<[u8; 16]>> = BTreeMap::new();
    for story in store.newest() {
        let story = story.expect("every stored story is readable");
        let key = story.key().0;
        assert!(keys.insert(key), "{:?} is listed twice", story.link);
        let link = story.link.clone().unwrap();
        assert!(expected.contains_key(&link), "unexpected story {link}");
        assert!(!story.sources.is_empty(), "{link} has no source");
        for s in &story.sources {
            assert!(
                ids.contains(s.id.as_str()),
                "{link}: unknown source {}",
                s.id
            );
            by_source
                .entry(s.id.as_str().to_owned())
                .or_default()
                .insert(key);
        }
        let sources = story
            .sources
            .iter()
            .map(|s| s.id.as_str().to_owned())
            .collect();
        assert!(held.insert(link, sources).is_none());
    }
    assert_eq!(keys.len(), store.len(), "by_time lists every story once");

    for i in 0..FEEDS {
        let id = SourceId::new(&source_id(i)).unwrap();
        let listed: Vec<[u8; 16]> = store
            .newest_for_source(&id)
            .map(|s| s.unwrap().key().0)
            .collect();
        let listed_set: BTreeSet<_> = listed.iter().copied().collect();
        assert_eq!(listed.len(), listed_set.len(), "{id}: a story listed twice");
        let from_stories = by_source.remove(id.as_str()).unwrap_or_default();
        assert_eq!(
            listed_set, from_stories,
            "{id}: by_source disagrees with the stories"
        );

        // One poll is one transaction: a committed state comes with all of its stories, and
        // a story naming this source comes with its committed state.
        let committed = store
            .source_state(&id)
            .unwrap()
            .is_some_and(|s| s.last_success.is_some());
        let carried = expected
            .iter()
            .filter(|(_, sources)| sources.contains(id.as_str()))
            .map(|(link, _)| link);
        for link in carried {
            let has = held.get(link).is_some_and(|s| s.contains(id.as_str()));
            assert!(!committed || has, "{id} committed without {link}");
        }
        assert!(
            committed || listed.is_empty(),
            "{id}: stories without a committed poll"
        );
    }
    held
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_any_moment_loses_nothing_committed_and_the_next_poll_completes() {
    let dir = tempfile::tempdir().unwrap();
    let expected = generate(dir.path());
    assert_eq!(
        expected.len(),
        FEEDS * (ITEMS - 2 * SHARED) + (FEEDS + 1) * SHARED
    );

    let mut before: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (round, after_ms) in KILL_AFTER_MS.iter().enumerate() {
        let command = if round % 2 == 0 { "poll" } else { "run" };
        let mut child = sosik(dir.path(), command);
        tokio::time::sleep(Duration::from_millis(*after_ms)).await;
        let finished_first = child.try_wait().unwrap().is_some();
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        let held = tokio::task::spawn_blocking({
            let (dir, expected) = (dir.path().to_owned(), expected.clone());
            move || verify(&dir, &expected)
        })
        .await
        .unwrap();
        eprintln!(
            "crash: {command} killed after {after_ms} ms ({}): {} of {} stories, {} pairs",
            if finished_first {
                "had finished"
            } else {
                "killed"
            },
            held.len(),
            expected.len(),
            held.values().map(BTreeSet::len).sum::<usize>(),
        );
        assert!(finished_first || status.code().is_none(), "{status:?}");
        for (link, sources) in &before {
            let now = held.get(link).unwrap_or_else(|| panic!("{link} was lost"));
            assert!(now.is_superset(sources), "{link} lost a source");
        }
        before = held;
    }

    // Uninterrupted, the next poll completes the rest.
    let started = Instant::now();
    let mut child = sosik(dir.path(), "poll");
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > POLL_LIMIT {
            let _ = child.kill();
            panic!("the final poll did not end within {POLL_LIMIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(0));
    let held = tokio::task::spawn_blocking({
        let (dir, expected) = (dir.path().to_owned(), expected.clone());
        move || verify(&dir, &expected)
    })
    .await
    .unwrap();
    assert_eq!(
        held, expected,
        "every story once, with every source that carries it"
    );
}
