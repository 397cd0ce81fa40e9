//! Finding a story by any of its keys (SPEC "Story identity and dedupe", second stage): its
//! identity's key, else its guid's. A guid finds the story stored under that guid, or the
//! story the source's last document had under it (the source state's `aliases`), so an item
//! whose link changed from one poll to the next is the same story. Pure: what is stored is
//! asked through `known`.

use std::collections::{HashMap, HashSet};

use crate::model::{Identity, SourceId, SourceState, Story, StoryKey};

/// The key of `story`'s guid in `source`, when it has one that is unique in its document.
pub(super) fn guid_key(story: &Story, source: &SourceId) -> Option<StoryKey> {
    let guid = story.guid.as_ref()?;
    let identity = Identity::Guid {
        source: source.clone(),
        guid: guid.clone(),
    };
    Some(identity.key())
}

/// The key each story of a poll is judged as: its own (`keys`) when the store knows it or
/// nothing else is found, else the story its guid finds. Two stories of one document never
/// land on one stored story: a story found as another item's own key, or already found by an
/// earlier item, is not found by a guid again.
pub(super) fn resolve(
    stories: &[Story],
    keys: &[StoryKey],
    source: &SourceId,
    previous: &[(StoryKey, StoryKey)],
    known: impl Fn(&StoryKey) -> bool,
) -> Vec<StoryKey> {
    let previous: HashMap<StoryKey, StoryKey> = previous.iter().copied().collect();
    let mut taken: HashSet<StoryKey> = keys.iter().copied().collect();
    stories
        .iter()
        .zip(keys)
        .map(|(story, own)| {
            if known(own) {
                return *own;
            }
            let found = guid_key(story, source).and_then(|guid| {
                [Some(guid), previous.get(&guid).copied()]
                    .into_iter()
                    .flatten()
                    .find(|k| k != own && known(k) && !taken.contains(k))
            });
            match found {
                Some(key) => {
                    taken.insert(key);
                    key
                }
                None => *own,
            }
        })
        .collect()
}

/// The source's state after a poll whose stories were judged as `resolved`: its current keys
/// are the stories as stored, and its aliases each guid's story when that is another key.
pub(super) fn remember(
    state: &mut SourceState,
    stories: &[Story],
    resolved: &[StoryKey],
    source: &SourceId,
) {
    let own: HashMap<StoryKey, StoryKey> = stories
        .iter()
        .zip(resolved)
        .map(|(s, r)| (s.key(), *r))
        .collect();
    for key in &mut state.current {
        if let Some(stored) = own.get(key) {
            *key = *stored;
        }
    }
    state.aliases = stories
        .iter()
        .zip(resolved)
        .filter_map(|(story, stored)| {
            let guid = guid_key(story, source)?;
            (guid != *stored).then_some((guid, *stored))
        })
        .collect();
}
