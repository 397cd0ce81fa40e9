//! Letting stories go: the per-source cap, retention, and the one batch that forgets them.
//! Neither ever removes a story still in some source's latest document (`protect`): it would
//! come back as new at the next poll.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::records::micros;
use super::story_record::{decode_held, encode_held, held_header, split_record};
use super::{Store, StoreError, story_key};
use crate::model::{SourceId, StoryCopy, StoryKey};

impl Store {
    /// Keeps the newest `max` stories of `source` (never removing `protect`ed ones): older
    /// ones forget this source, and are deleted when no source is left. Returns how many
    /// stories this source let go.
    pub fn enforce_cap(
        &self,
        source: &SourceId,
        max: usize,
        protect: &HashSet<StoryKey>,
    ) -> Result<usize, StoreError> {
        let excess: Vec<StoryKey> = self
            .read_index()
            .beyond(source, max)
            .into_iter()
            .filter(|key| !protect.contains(key))
            .collect();
        self.forget(&excess, Some(source))?;
        Ok(excess.len())
    }

    /// Deletes stories first seen before `now - retention`, except `protect`ed ones (still in
    /// some source's latest document). Returns how many were deleted.
    pub fn prune_older_than(
        &self,
        now: DateTime<Utc>,
        retention: Duration,
        protect: &HashSet<StoryKey>,
    ) -> Result<usize, StoreError> {
        let cutoff = now - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
        let old: Vec<StoryKey> = self
            .read_index()
            .first_seen_before(micros(cutoff))
            .into_iter()
            .filter(|key| !protect.contains(key))
            .collect();
        self.forget(&old, None)?;
        Ok(old.len())
    }

    /// Forgets stories first seen longer ago than `retention` (`None`: keep everything),
    /// except those still in some source's latest document: they would come back as new at
    /// the next poll. Returns how many were forgotten.
    pub fn apply_retention(
        &self,
        now: DateTime<Utc>,
        retention: Option<Duration>,
    ) -> Result<usize, StoreError> {
        let Some(retention) = retention else {
            return Ok(0);
        };
        let mut protect = HashSet::new();
        for (_, state) in self.source_states()? {
            protect.extend(state.current);
        }
        self.prune_older_than(now, retention, &protect)
    }

    /// Removes `source` from these stories (or every source, with `None`), deleting a story
    /// when none is left. One batch.
    fn forget(&self, keys: &[StoryKey], source: Option<&SourceId>) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let _writer = self.writer_turn();
        let mut batch = sled::Batch::default();
        let mut kept = Vec::new();
        let mut deleted = Vec::new();
        for key in keys {
            let Some(first_seen) = self.read_index().first_seen(key) else {
                continue;
            };
            let Some(bytes) = self.data()?.get(story_key(key, first_seen))? else {
                continue;
            };
            let (header, _) = split_record(&bytes)?;
            let mut held = decode_held(&bytes)?;
            let gone = |id: &SourceId| source.is_none_or(|s| s == id);
            held.story.sources.retain(|s| !gone(&s.id));
            held.copies.retain(|c| !gone(&c.source));
            if let (Some(next), true) = (held.story.sources.first(), held.copies.is_empty()) {
                // An old record kept one copy, and its source left: what it showed is kept
                // as the next source's copy.
                let copy = StoryCopy::of(&held.story, next.id.clone());
                held.copies.push(copy);
            }
            if held.story.sources.is_empty() {
                batch.remove(&story_key(key, first_seen));
                deleted.push(*key);
            } else {
                // The copy that spoke may be gone: the next speaks, chosen under the
                // priorities the record was last chosen under.
                let priorities = header.recorded_priorities();
                held.choose(&priorities);
                batch.insert(&story_key(key, first_seen), encode_held(&held, &priorities));
                kept.push((*key, held_header(&held, &priorities)));
            }
        }
        self.leave_clusters(&deleted, &mut batch)?;
        let generation = self.next_generation(&mut batch, true);
        self.apply(batch, generation).map_err(|e| self.noted(e))?;
        let mut index = self.write_index();
        for key in &deleted {
            index.remove(key);
        }
        for (key, header) in &kept {
            index.insert(*key, header);
        }
        Ok(())
    }
}
