//! Whether an incoming story is new, an edit, another source's copy, or nothing new: pure.
//!
//! Owns the merge rule of SPEC.md: one identity is one story whichever sources carry it; it
//! remembers every source; an edit (title, summary, content or categories changed) updates it
//! in place with a new `updated` time. An edit is judged per source, against the version that
//! same source sent last, so two outlets wording one story differently never flip it back and
//! forth. Never writes: the store calls [`decide`] under its writer lock, before its batch.

use chrono::{DateTime, Utc};

use crate::model::Story;

/// What to do with an incoming story.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Not stored yet: store it.
    New(Story),
    /// This source changed the story's text or categories: store the new version.
    Updated(Story),
    /// Same text, but the stored record learns something (another source carries it, or this
    /// source's fingerprint moved): store it, but it is not an edit.
    Merged(Story),
    /// Nothing to store.
    Unchanged,
}

/// What [`decide`] answers when the stored story's sources settle it, without its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shortcut {
    /// [`Change::Unchanged`].
    Unchanged,
    /// [`Change::Merged`] with the stored story as it is, plus the incoming source appended.
    AddSource,
}

/// [`decide`]'s answer from the stored story's `(source id, fingerprint)` pairs alone, when
/// they settle it: the incoming source already carries this exact version (unchanged), or has
/// never carried the story (another source's copy: the source is added). `None` when the
/// source sent a different version: only the text can say whether that is an edit. Lets the
/// store judge most known stories from a record's header, without decoding its body.
pub fn shortcut<'a>(
    stored: impl IntoIterator<Item = (&'a str, u64)>,
    incoming: &Story,
) -> Option<Shortcut> {
    let Some(from) = incoming.sources.first() else {
        return Some(Shortcut::Unchanged);
    };
    match stored.into_iter().find(|(id, _)| *id == from.id.as_str()) {
        Some((_, fingerprint)) if fingerprint == from.fingerprint => Some(Shortcut::Unchanged),
        Some(_) => None,
        None => Some(Shortcut::AddSource),
    }
}

/// Decides what `incoming` (fresh from one source, carrying exactly that source in
/// `sources`) means against the `stored` version, at time `now`. The sources settle most
/// cases ([`shortcut`]); only a source that sent a different version needs the text.
pub fn decide(stored: Option<&Story>, incoming: &Story, now: DateTime<Utc>) -> Change {
    let Some(stored) = stored else {
        return Change::New(incoming.clone());
    };
    let pairs = stored
        .sources
        .iter()
        .map(|s| (s.id.as_str(), s.fingerprint));
    match shortcut(pairs, incoming) {
        Some(Shortcut::Unchanged) => return Change::Unchanged,
        Some(Shortcut::AddSource) => {
            let mut next = stored.clone();
            next.sources.extend(incoming.sources.first().cloned());
            return Change::Merged(next);
        }
        None => {}
    }
    // The source carries the story, and sent another version of it.
    let mut next = stored.clone();
    if let Some(from) = incoming.sources.first()
        && let Some(kept) = next.sources.iter_mut().find(|s| s.id == from.id)
    {
        kept.fingerprint = from.fingerprint;
    }
    if stored.fingerprint() == incoming.fingerprint() {
        return Change::Merged(next);
    }
    next.title = incoming.title.clone();
    next.summary = incoming.summary.clone();
    next.content = incoming.content.clone();
    next.categories = incoming.categories.clone();
    next.authors = incoming.authors.clone();
    if next.link.is_none() {
        next.link = incoming.link.clone();
    }
    next.updated = now.max(stored.updated);
    Change::Updated(next)
}

#[cfg(test)]
mod tests {
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
            sources: vec![],
        };
        s.sources = vec![StorySource {
            id: SourceId::new(source).unwrap(),
            fingerprint: s.fingerprint(),
        }];
        s
    }

    #[test]
    fn a_story_not_stored_is_new() {
        let s = story("mk-all", "a", at(2));
        assert_eq!(decide(None, &s, at(2)), Change::New(s));
    }

    #[test]
    fn the_same_version_again_is_unchanged() {
        let s = story("mk-all", "a", at(2));
        assert_eq!(
            decide(Some(&s), &story("mk-all", "a", at(3)), at(3)),
            Change::Unchanged
        );
    }

    #[test]
    fn an_edit_updates_in_place() {
        let stored = story("mk-all", "초안", at(2));
        let Change::Updated(next) =
            decide(Some(&stored), &story("mk-all", "고친 제목", at(5)), at(5))
        else {
            panic!("an edited title must be an update");
        };
        assert_eq!(next.title, "고친 제목");
        assert_eq!(next.first_seen, at(2), "first seen never moves");
        assert_eq!(next.updated, at(5));
        assert_eq!(next.key(), stored.key());
        assert_eq!(next.sources.len(), 1);
        assert_eq!(next.sources[0].fingerprint, next.fingerprint());
    }

    #[test]
    fn a_second_source_is_remembered_without_an_edit() {
        let stored = story("mk-all", "a", at(2));
        let Change::Merged(next) = decide(
            Some(&stored),
            &story("mk-it", "a, worded otherwise", at(4)),
            at(4),
        ) else {
            panic!("another source's copy must merge");
        };
        let ids: Vec<_> = next.sources.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, vec!["mk-all", "mk-it"]);
        assert_eq!(next.title, "a", "the first source's version stays");
        // Polling both again with their own unchanged versions changes nothing.
        assert_eq!(
            decide(Some(&next), &story("mk-all", "a", at(6)), at(6)),
            Change::Unchanged
        );
        assert_eq!(
            decide(
                Some(&next),
                &story("mk-it", "a, worded otherwise", at(6)),
                at(6)
            ),
            Change::Unchanged
        );
    }

    #[test]
    fn the_outcome_of_two_sources_does_not_depend_on_order() {
        let a = story("mk-all", "a", at(2));
        let b = story("mk-it", "a", at(2));
        let ab = match decide(Some(&a), &b, at(3)) {
            Change::Merged(s) => s,
            other => panic!("{other:?}"),
        };
        let ba = match decide(Some(&b), &a, at(3)) {
            Change::Merged(s) => s,
            other => panic!("{other:?}"),
        };
        let mut ids_ab: Vec<_> = ab.sources.iter().map(|s| s.id.clone()).collect();
        let mut ids_ba: Vec<_> = ba.sources.iter().map(|s| s.id.clone()).collect();
        ids_ab.sort();
        ids_ba.sort();
        assert_eq!(ids_ab, ids_ba);
        assert_eq!(ab.fingerprint(), ba.fingerprint());
    }

    proptest! {
        /// The sources rule, written out: a source new to the story is added to it as it is;
        /// the same version from the same source changes nothing; another version from the
        /// same source updates that source's fingerprint (and is an edit or a merge).
        #[test]
        fn decide_follows_the_sources_rule(
            stored_sources in prop::collection::vec((0..4u8, 0..3u64), 0..4),
            from in 0..4u8,
            fingerprint in 0..3u64,
        ) {
            let mut stored = story("s0", "제목", at(2));
            stored.sources = stored_sources
                .iter()
                .map(|(id, fp)| StorySource {
                    id: SourceId::new(&format!("s{id}")).unwrap(),
                    fingerprint: *fp,
                })
                .collect();
            let mut incoming = story("s0", "제목", at(3));
            let sent = StorySource {
                id: SourceId::new(&format!("s{from}")).unwrap(),
                fingerprint,
            };
            incoming.sources = vec![sent.clone()];
            let change = decide(Some(&stored), &incoming, at(3));
            match stored.sources.iter().find(|s| s.id == sent.id) {
                None => {
                    let mut next = stored.clone();
                    next.sources.push(sent);
                    prop_assert_eq!(change, Change::Merged(next));
                }
                Some(kept) if kept.fingerprint == fingerprint => {
                    prop_assert_eq!(change, Change::Unchanged)
                }
                Some(_) => match change {
                    Change::Merged(next) | Change::Updated(next) => {
                        let kept = next.sources.iter().find(|s| s.id == sent.id).unwrap();
                        prop_assert_eq!(kept.fingerprint, fingerprint);
                        prop_assert_eq!(next.sources.len(), stored.sources.len());
                    }
                    other => prop_assert!(false, "{other:?}"),
                },
            }
            // Whenever the shortcut answers, it is what `decide` answered.
            let pairs = stored.sources.iter().map(|s| (s.id.as_str(), s.fingerprint));
            let settled = shortcut(pairs, &incoming);
            let changed = decide(Some(&stored), &incoming, at(3));
            match settled {
                Some(Shortcut::Unchanged) => prop_assert_eq!(changed, Change::Unchanged),
                Some(Shortcut::AddSource) => prop_assert!(matches!(changed, Change::Merged(_))),
                None => prop_assert!(!matches!(changed, Change::Unchanged | Change::New(_))),
            }
        }
    }
}
