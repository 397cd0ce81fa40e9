use chrono::TimeZone;
use proptest::prelude::*;

use super::*;
use crate::model::{Identity, SourceId, StorySource};

fn at(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, h, 0, 0).unwrap()
}

fn story(source: &str, title: &str, first_seen: DateTime<Utc>) -> Story {
    let mut s = Story {
        identity: Identity::Link("https://www.mk.co.kr/news/it/11".into()),
        link: Some("https://www.mk.co.kr/news/it/11".into()),
        title: title.into(),
        summary: Some("요약".into()),
        content: None,
        authors: vec![],
        categories: vec!["IT·과학".into()],
        published: at(1),
        updated: at(1),
        first_seen,
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

fn none() -> Priorities {
    Priorities::default()
}

fn held(change: Change) -> Held {
    match change {
        Change::New(h) | Change::Updated(h) | Change::Merged(h) => h,
        Change::Unchanged => panic!("expected a change"),
    }
}

#[test]
fn a_story_not_stored_is_new() {
    let s = story("mk-all", "a", at(2));
    assert_eq!(
        decide(None, &s, at(2), &none()),
        Change::New(Held::first(&s))
    );
    assert_eq!(Held::first(&s).story, s);
}

#[test]
fn the_same_version_again_is_unchanged() {
    let s = Held::first(&story("mk-all", "a", at(2)));
    let again = story("mk-all", "a", at(3));
    assert_eq!(decide(Some(&s), &again, at(3), &none()), Change::Unchanged);
}

#[test]
fn an_edit_updates_in_place() {
    let stored = Held::first(&story("mk-all", "초안", at(2)));
    let edit = story("mk-all", "고친 제목", at(5));
    let Change::Updated(next) = decide(Some(&stored), &edit, at(5), &none()) else {
        panic!("an edited title must be an update");
    };
    assert_eq!(next.story.title, "고친 제목");
    assert_eq!(next.story.first_seen, at(2), "first seen never moves");
    assert_eq!(next.story.updated, at(5));
    assert_eq!(next.story.key(), stored.story.key());
    assert_eq!(next.story.sources.len(), 1);
    assert_eq!(next.story.sources[0].fingerprint, next.story.fingerprint());
    assert_eq!(next.copies.len(), 1);
}

#[test]
fn a_second_source_is_remembered_and_the_better_copy_speaks() {
    let stored = Held::first(&story("mk-all", "a", at(2)));
    let longer = story("mk-it", "a, worded otherwise", at(4));
    let next = held(decide(Some(&stored), &longer, at(4), &none()));
    let ids: Vec<_> = next.story.sources.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        vec!["mk-it", "mk-all"],
        "the speaking copy's source first"
    );
    assert_eq!(
        next.story.title, "a, worded otherwise",
        "the longer copy speaks"
    );
    assert_eq!(next.copies.len(), 2);
    // Polling both again with their own unchanged versions changes nothing.
    let again = story("mk-all", "a", at(6));
    assert_eq!(
        decide(Some(&next), &again, at(6), &none()),
        Change::Unchanged
    );
    let again = story("mk-it", "a, worded otherwise", at(6));
    assert_eq!(
        decide(Some(&next), &again, at(6), &none()),
        Change::Unchanged
    );
    // A priority moves the choice, at the next decision.
    let first = Priorities::new([("mk-all".to_owned(), 1)]);
    let again = story("mk-all", "a", at(6));
    let chosen = held(decide(Some(&next), &again, at(6), &first));
    assert_eq!(chosen.story.title, "a");
}

#[test]
fn a_damaged_copy_never_speaks_over_a_clean_one() {
    let clean = story("b", "삼성전자 실적", at(3));
    let damaged = story(
        "a",
        "ì\u{9d}´ìž¬ìš© 삼성전자 실적 발표, 훨씬 긴 제목",
        at(2),
    );
    let one = held(decide(Some(&Held::first(&damaged)), &clean, at(3), &none()));
    let other = held(decide(Some(&Held::first(&clean)), &damaged, at(3), &none()));
    assert_eq!(one.story.title, "삼성전자 실적");
    assert_eq!(other.story.title, "삼성전자 실적");
}

#[test]
fn an_edit_of_a_copy_that_does_not_speak_is_no_edit_of_the_story() {
    let stored = Held::first(&story("mk-all", "a long title that speaks", at(2)));
    let next = held(decide(
        Some(&stored),
        &story("mk-it", "b", at(3)),
        at(3),
        &none(),
    ));
    let edit = story("mk-it", "c", at(4));
    let Change::Merged(after) = decide(Some(&next), &edit, at(4), &none()) else {
        panic!("a silent copy's edit is merged, not an update");
    };
    assert_eq!(after.story, {
        let mut s = next.story.clone();
        s.sources[1].fingerprint = edit.fingerprint();
        s
    });
}

/// One source's copy for the order-independence property: its source, text, damage and
/// when it was first seen (intrinsic to the copy, whatever the arrival order).
fn copy_story(source: usize, words: usize, damaged: bool, authors: bool) -> Story {
    let first_seen = at(2) + chrono::Duration::minutes(source as i64);
    let mut title = "가나다 ".repeat(words);
    if damaged {
        title.push_str("Ã©");
    }
    let mut s = story(&format!("s{source}"), title.trim(), first_seen);
    s.updated = first_seen;
    s.published = first_seen - chrono::Duration::minutes(7 * source as i64);
    if authors {
        s.authors = vec![format!("기자{source}")];
    }
    s.sources[0].fingerprint = s.fingerprint();
    s
}

/// Copies `(source, words, damaged, authors)`, an arrival order, and each source's priority.
type Arrivals = (Vec<(usize, usize, bool, bool)>, Vec<usize>, Vec<i64>);

fn copies_in_two_orders() -> impl Strategy<Value = Arrivals> {
    (2usize..=4)
        .prop_flat_map(|n| {
            let copies = prop::collection::vec((1usize..4, any::<bool>(), any::<bool>()), n);
            let order = Just((0..n).collect::<Vec<_>>()).prop_shuffle();
            let priorities = prop::collection::vec(-1i64..2, n);
            (copies, order, priorities)
        })
        .prop_map(|(copies, order, priorities)| {
            let copies = copies
                .into_iter()
                .enumerate()
                .map(|(i, (w, d, a))| (i, w, d, a))
                .collect();
            (copies, order, priorities)
        })
}

fn arrive(stories: &[Story], order: &[usize], priorities: &Priorities) -> Held {
    let mut stored: Option<Held> = None;
    for &i in order {
        let incoming = &stories[i];
        match decide(stored.as_ref(), incoming, incoming.first_seen, priorities) {
            Change::New(h) | Change::Updated(h) | Change::Merged(h) => stored = Some(h),
            Change::Unchanged => {}
        }
    }
    stored.expect("at least one copy")
}

proptest! {
    /// The story (every visible field, and the speaking source) is the same whatever order
    /// 2–4 sources' copies (some damaged, of different lengths and priorities) arrive in.
    #[test]
    fn the_speaking_copy_does_not_depend_on_arrival_order(
        (copies, order, ranks) in copies_in_two_orders()
    ) {
        let stories: Vec<Story> = copies
            .iter()
            .map(|&(s, w, d, a)| copy_story(s, w, d, a))
            .collect();
        let priorities = Priorities::new(
            ranks.iter().enumerate().map(|(i, p)| (format!("s{i}"), *p)),
        );
        let in_order = arrive(&stories, &(0..stories.len()).collect::<Vec<_>>(), &priorities);
        let shuffled = arrive(&stories, &order, &priorities);
        let visible = |h: &Held| {
            let mut s = h.story.clone();
            s.sources.sort_by(|a, b| a.id.cmp(&b.id));
            (s, h.story.sources[0].id.clone())
        };
        prop_assert_eq!(visible(&in_order), visible(&shuffled));
        // And it is the best copy by the rule.
        let best = stories
            .iter()
            .map(|s| StoryCopy::of(s, s.sources[0].id.clone()))
            .min_by(|a, b| Rank::of(a, &priorities).cmp(&Rank::of(b, &priorities)))
            .unwrap();
        prop_assert_eq!(&in_order.story.title, &best.title);
        prop_assert_eq!(&in_order.story.sources[0].id, &best.source);
    }

    /// The sources rule, written out: a source new to the story is added to it; the same
    /// version from the same source changes nothing; another version from the same source
    /// updates that source's fingerprint (and is an edit or a merge).
    #[test]
    fn decide_follows_the_sources_rule(
        stored_sources in prop::collection::btree_set(0..4u8, 1..4),
        from in 0..4u8,
        wording in 0..3u8,
    ) {
        let mut stored: Option<Held> = None;
        for id in &stored_sources {
            let s = story(&format!("s{id}"), "제목", at(2));
            stored = Some(held_or(stored.clone(), decide(stored.as_ref(), &s, at(2), &none())));
        }
        let stored = stored.unwrap();
        let incoming = story(&format!("s{from}"), &format!("제목 {wording}"), at(3));
        let sent = incoming.sources[0].clone();
        let change = decide(Some(&stored), &incoming, at(3), &none());
        match stored.story.sources.iter().find(|s| s.id == sent.id) {
            None => {
                let next = held(change.clone());
                prop_assert_eq!(next.story.sources.len(), stored.story.sources.len() + 1);
                prop_assert!(next.story.sources.contains(&sent));
            }
            Some(kept) if kept.fingerprint == sent.fingerprint => {
                prop_assert_eq!(change.clone(), Change::Unchanged)
            }
            Some(_) => {
                let next = held(change.clone());
                let kept = next.story.sources.iter().find(|s| s.id == sent.id).unwrap();
                prop_assert_eq!(kept.fingerprint, sent.fingerprint);
                prop_assert_eq!(next.story.sources.len(), stored.story.sources.len());
            }
        }
        // Whenever the shortcut answers, it is what `decide` answered.
        let pairs = stored.story.sources.iter().map(|s| (s.id.as_str(), s.fingerprint));
        match shortcut(pairs, &incoming) {
            Some(Shortcut::Unchanged) => prop_assert_eq!(change, Change::Unchanged),
            Some(Shortcut::AddSource) => prop_assert!(!matches!(change, Change::Unchanged)),
            None => prop_assert!(!matches!(change, Change::Unchanged | Change::New(_))),
        }
    }
}

fn held_or(stored: Option<Held>, change: Change) -> Held {
    match change {
        Change::Unchanged => stored.unwrap(),
        other => held(other),
    }
}
