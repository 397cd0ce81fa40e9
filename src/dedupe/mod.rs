//! Whether an incoming story is new, an edit, another source's copy, or nothing new: pure.
//!
//! Owns the merge rule of SPEC.md: one identity is one story whichever sources carry it; it
//! remembers every source; an edit (title, summary, content or categories changed) updates it
//! in place with a new `updated` time. An edit is judged per source, against the version that
//! same source sent last, so two outlets wording one story differently never flip it back and
//! forth. Never writes: the store calls [`decide`] under its writer lock, before its batch.

mod rank;

use chrono::{DateTime, Utc};

pub use rank::{Priorities, Rank, choose, damaged};

use crate::model::{Story, StoryCopy, StorySource};

/// A story as the store keeps it: its visible fields (the chosen copy's, wholesale) and every
/// source's copy it holds. A source may have no copy (a record from before copies were kept:
/// only its first source's copy is known); its copy is kept from its next change on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The visible story.
    pub story: Story,
    /// The copies, at most one per source.
    pub copies: Vec<StoryCopy>,
}

impl Held {
    /// A story seen for the first time: its one copy is its own.
    pub fn first(incoming: &Story) -> Held {
        let copies = incoming
            .sources
            .first()
            .map(|s| StoryCopy::of(incoming, s.id.clone()))
            .into_iter()
            .collect();
        Held {
            story: incoming.clone(),
            copies,
        }
    }

    /// Makes the best copy under `priorities` speak for the story: its fields wholesale, its
    /// source first among the sources (the others keep their order).
    pub fn choose(&mut self, priorities: &Priorities) {
        let Some(best) = choose(&self.copies, priorities) else {
            return;
        };
        let copy = &self.copies[best];
        copy.speak_for(&mut self.story);
        if let Some(at) = self.story.sources.iter().position(|s| s.id == copy.source) {
            let speaker = self.story.sources.remove(at);
            self.story.sources.insert(0, speaker);
        }
    }
}

/// What to do with an incoming story.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Not stored yet: store it.
    New(Held),
    /// The visible story changed (an edit, or another copy now speaks for it): store it.
    Updated(Held),
    /// The visible story is the same, but the stored record learns something (another
    /// source's copy, a source's edit of a copy that does not speak): store it, not an edit.
    Merged(Held),
    /// Nothing to store.
    Unchanged,
}

/// What [`decide`] answers when the stored story's sources settle it, without its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shortcut {
    /// [`Change::Unchanged`], as long as the priorities the copy was chosen under still hold.
    Unchanged,
    /// A source new to the story: its copy joins the others (the text decides what speaks).
    AddSource,
}

/// [`decide`]'s answer from the stored story's `(source id, fingerprint)` pairs alone, when
/// they settle it: the incoming source already carries this exact version (unchanged), or has
/// never carried the story (another source's copy joins). `None` when the source sent a
/// different version: only the text can say whether that is an edit. Lets the store skip most
/// known stories from a record's header, without decoding its body.
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
/// `sources`) means against the `stored` story, at time `now`, choosing the copy that speaks
/// under `priorities`. An edit is judged per source: the source's copy is replaced by what
/// it sent (its `updated` becomes `now` when its title, summary, content or categories
/// changed); the story is [`Change::Updated`] when its visible fields changed, whichever copy
/// made them change.
pub fn decide(
    stored: Option<&Held>,
    incoming: &Story,
    now: DateTime<Utc>,
    priorities: &Priorities,
) -> Change {
    let Some(stored) = stored else {
        return Change::New(Held::first(incoming));
    };
    let Some(from) = incoming.sources.first() else {
        return Change::Unchanged;
    };
    let pairs = stored
        .story
        .sources
        .iter()
        .map(|s| (s.id.as_str(), s.fingerprint));
    let mut next = stored.clone();
    match shortcut(pairs, incoming) {
        // The same text under another link (a story found by its guid): the copy follows.
        Some(Shortcut::Unchanged)
            if next
                .copies
                .iter()
                .any(|c| c.source == from.id && c.link != incoming.link) =>
        {
            keep_edit(&mut next, from, incoming, now)
        }
        Some(Shortcut::Unchanged) => {}
        Some(Shortcut::AddSource) => {
            next.story.sources.push(from.clone());
            next.copies.push(StoryCopy::of(incoming, from.id.clone()));
            // First seen when its first copy was (copies arrive in time order, so this only
            // moves when a caller replays older copies).
            next.story.first_seen = next.story.first_seen.min(incoming.first_seen);
        }
        None => keep_edit(&mut next, from, incoming, now),
    }
    next.choose(priorities);
    if next == *stored {
        Change::Unchanged
    } else if next.story.fingerprint() != stored.story.fingerprint()
        || next.story.link != stored.story.link
        || next.story.authors != stored.story.authors
    {
        Change::Updated(next)
    } else {
        Change::Merged(next)
    }
}

/// The source `from` sent another version of the story: its fingerprint and its copy follow.
fn keep_edit(next: &mut Held, from: &StorySource, incoming: &Story, now: DateTime<Utc>) {
    if let Some(kept) = next.story.sources.iter_mut().find(|s| s.id == from.id) {
        kept.fingerprint = from.fingerprint;
    }
    let mut copy = StoryCopy::of(incoming, from.id.clone());
    match next.copies.iter_mut().find(|c| c.source == from.id) {
        Some(old) => {
            copy.first_seen = old.first_seen;
            copy.updated = if old.fingerprint() == copy.fingerprint() {
                old.updated
            } else {
                now.max(old.updated)
            };
            *old = copy;
        }
        // A source whose copy was not kept (an old record): an edit from now on.
        None => {
            copy.updated = now.max(next.story.updated);
            next.copies.push(copy);
        }
    }
}

#[cfg(test)]
mod tests;
