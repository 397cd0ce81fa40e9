//! The commit path: one poll, stories shared between sources, a story stored between
//! prepare and commit, group commits judged as the same polls one by one, and many commits
//! beside flushes.

use proptest::prelude::Strategy;

use super::*;
use crate::dedupe::Priorities;

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

/// The commit's counts are the store's to write: whatever the state handed in says, the state
/// saved, and handed back, carries this commit's, and nothing else of it changes.
#[test]
fn the_state_saved_carries_the_commits_counts_and_is_handed_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    commit(&store, "mk", &[story("mk", 1, "초안", 1)], at(1));
    let stories = vec![story("mk", 1, "고친 제목", 1), story("mk", 2, "둘", 2)];
    let state = SourceState {
        last_new: 7,
        last_updated: 7,
        title: Some("매일경제".into()),
        ..poll_state(&stories)
    };
    let id = SourceId::new("mk").unwrap();
    let committed = store
        .commit_one(id.clone(), stories.clone(), state.clone(), at(2))
        .unwrap();
    assert_eq!(committed.source, id);
    assert_eq!(
        (committed.state.last_new, committed.state.last_updated),
        (1, 1)
    );
    let expected = SourceState {
        last_new: 1,
        last_updated: 1,
        ..state
    };
    assert_eq!(committed.state, expected);
    assert_eq!(store.source_state(&id).unwrap(), Some(expected));
    assert_eq!(committed.stories, stories, "the stories are handed back");
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
            priorities: crate::dedupe::Priorities::default(),
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
    // Equal copies: the smaller source id speaks, whichever was stored first.
    assert_eq!(sources, ["mk-all", "mk-it"]);
    assert_eq!(merged.title, "삼성 회동");
    assert_eq!(merged.link, from_all[0].link);
    assert_eq!(store.len(), 2);
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
    // Equal copies: the smaller source id speaks, whichever came first.
    assert_eq!(sources, ["hankyung", "mk-it"]);
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
        .data()
        .unwrap()
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

/// Issue 19, without root: a disk that fails from the second write on. The failed commit
/// writes nothing and says what failed once, typed; what was committed before stays; the
/// store's fault is set once and cleared by the first flush that works again.
#[test]
fn a_failing_write_fails_the_commit_alone_and_sets_the_fault_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let errors = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = errors.clone();
    store.observe_faults(Arc::new(move |kind| {
        assert_eq!(kind, FaultKind::Full);
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }));
    store.inject_disk(Some(Injected { after: 1, code: 28 }));
    commit(&store, "a", &[story("a", 1, "one", 1)], at(1));
    assert!(store.fault().is_none());
    for n in 2..4 {
        let id = SourceId::new("a").unwrap();
        let stories = [story("a", n, "lost", n)];
        let err = store
            .commit_one(id, stories.to_vec(), poll_state(&stories), at(n))
            .unwrap_err();
        assert!(
            matches!(
                &err,
                StoreError::Io {
                    kind: FaultKind::Full,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "store I/O failed: the disk is full: No space left on device (os error 28)"
        );
    }
    assert_eq!(errors.load(std::sync::atomic::Ordering::SeqCst), 2);
    let fault = store.fault().expect("the store is at fault");
    assert_eq!(fault.kind, FaultKind::Full);
    assert_eq!(
        titles(&store),
        ["one"],
        "nothing of a failed commit is kept"
    );
    assert!(store.flush_blocking().is_err(), "still full");

    store.inject_disk(None);
    store.flush_blocking().unwrap();
    assert!(store.fault().is_none(), "cleared once a flush works");
    commit(&store, "a", &[story("a", 4, "four", 4)], at(4));
    assert_eq!(titles(&store), ["four", "one"]);
}

/// A story of `source` whose link is `n` and whose guid is `guid`.
fn with_guid(source: &str, n: u32, guid: &str, day: u32) -> Story {
    let mut s = story(source, n, &format!("기사 {guid}"), day);
    s.guid = Some(guid.to_owned());
    s
}

#[test]
fn a_story_is_found_by_its_guid_when_its_link_changes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let first = [with_guid("mk", 1, "a", 1), with_guid("mk", 2, "b", 1)];
    commit_keeping_state(&store, "mk", &first, at(1));
    let moved = [with_guid("mk", 11, "a", 2), with_guid("mk", 12, "b", 2)];
    let counts = commit_keeping_state(&store, "mk", &moved, at(2));
    assert_eq!((counts.new, counts.updated), (0, 2));
    assert_eq!(store.len(), 2);
    let a = store.get(&first[0].key()).unwrap().unwrap();
    assert_eq!(a.link, moved[0].link, "updated in place");
    assert_eq!(
        a.identity, first[0].identity,
        "its republished guid never changes"
    );
    // The source's state names the stories as stored, so retention keeps them.
    let state = store
        .source_state(&SourceId::new("mk").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(state.current, vec![first[0].key(), first[1].key()]);
}

#[test]
fn two_items_of_one_document_never_land_on_one_story() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let first = [with_guid("mk", 1, "a", 1), with_guid("mk", 2, "b", 1)];
    commit_keeping_state(&store, "mk", &first, at(1));
    // `a` moved to `b`'s old link (its own key now), and `b` to a new one: `b`'s guid would
    // find the story `a` now lands on, so `b` is a story of its own.
    let moved = [with_guid("mk", 2, "a", 2), with_guid("mk", 3, "b", 2)];
    let counts = commit_keeping_state(&store, "mk", &moved, at(2));
    assert_eq!(counts.new, 1);
    assert_eq!(store.len(), 3);
}

/// A poll committed with the source's stored state carried on, as the pipeline does.
fn commit_keeping_state(
    store: &Store,
    source: &str,
    stories: &[Story],
    now: DateTime<Utc>,
) -> CommitCounts {
    let id = SourceId::new(source).unwrap();
    let mut state = store.source_state(&id).unwrap().unwrap_or_default();
    state.current = stories.iter().map(Story::key).collect();
    store
        .commit_one(id, stories.to_vec(), state, now)
        .unwrap()
        .counts
}

/// One source's copy of one linked story for the order property: `s{source}`'s text of
/// `words` words, damaged or not, first sent `source` minutes after the others' start.
fn copy_of(source: usize, words: usize, damaged: bool) -> Story {
    let mut title = "삼성 ".repeat(words);
    if damaged {
        title.push_str("â€™");
    }
    let mut s = story(&format!("s{source}"), 1, title.trim(), 2);
    let seen = at(2) + chrono::Duration::minutes(source as i64);
    (s.first_seen, s.updated) = (seen, seen);
    s.authors = if source.is_multiple_of(2) {
        vec![format!("기자 {source}")]
    } else {
        vec![]
    };
    s.sources[0].fingerprint = s.fingerprint();
    s
}

/// The stored story after `order`'s polls, sources sorted, and the source that speaks.
fn stored_after(copies: &[Story], order: &[usize], priorities: &Priorities) -> (Story, String) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for &i in order {
        let source = copies[i].sources[0].id.to_string();
        let mut commit = poll(
            &store,
            &source,
            std::slice::from_ref(&copies[i]),
            copies[i].first_seen,
        );
        commit.priorities = priorities.clone();
        store.commit_group(vec![commit]).pop().unwrap().unwrap();
    }
    let mut story = store.get(&copies[0].key()).unwrap().unwrap();
    let speaker = story.sources[0].id.to_string();
    story.sources.sort_by(|a, b| a.id.cmp(&b.id));
    (story, speaker)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// The stored story (every visible field, and the source that speaks) does not depend
    /// on the order in which 2–4 sources' copies (some damaged, of different lengths and
    /// priorities) arrive.
    #[test]
    fn the_stored_story_does_not_depend_on_the_order_copies_arrive_in(
        (copies, order, ranks) in (2usize..=4).prop_flat_map(|n| (
            proptest::collection::vec((1usize..4, proptest::bool::ANY), n),
            proptest::strategy::Just((0..n).collect::<Vec<_>>()).prop_shuffle(),
            proptest::collection::vec(-1i64..2, n),
        ))
    ) {
        let copies: Vec<Story> = copies
            .iter()
            .enumerate()
            .map(|(i, &(words, damaged))| copy_of(i, words, damaged))
            .collect();
        let priorities = Priorities::new(
            ranks.iter().enumerate().map(|(i, p)| (format!("s{i}"), *p)),
        );
        let in_order: Vec<usize> = (0..copies.len()).collect();
        proptest::prop_assert_eq!(
            stored_after(&copies, &in_order, &priorities),
            stored_after(&copies, &order, &priorities)
        );
    }
}

#[test]
fn a_changed_priority_re_chooses_at_the_next_commit_of_an_unchanged_copy() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let (short, long) = (story("a", 1, "짧다", 1), story("b", 1, "훨씬 길다", 1));
    let committed = |source: &str, s: &Story, priorities: Priorities| {
        let mut commit = poll(&store, source, std::slice::from_ref(s), at(2));
        commit.priorities = priorities;
        store
            .commit_group(vec![commit])
            .pop()
            .unwrap()
            .unwrap()
            .counts
    };
    committed("a", &short, Priorities::default());
    committed("b", &long, Priorities::default());
    assert_eq!(store.get(&short.key()).unwrap().unwrap().title, "훨씬 길다");
    // `a` sends the same version again, now with a higher priority: it speaks.
    let first = Priorities::new([("a".to_owned(), 1)]);
    assert_eq!(committed("a", &short, first.clone()).updated, 1);
    assert_eq!(store.get(&short.key()).unwrap().unwrap().title, "짧다");
    // And again: nothing left to do.
    assert_eq!(committed("a", &short, first).unchanged, 1);
}
