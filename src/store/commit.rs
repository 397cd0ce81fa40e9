//! The one commit path: [`Store::prepare`] (any thread), then [`Store::commit_group`] (the
//! writer): each poll staged on its own against the store and the polls staged before it,
//! then the whole group applied in one sled batch. Also a source's state saved alone.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sled::IVec;

use super::records::encode_source;
use super::story_record::{
    self, StoryHeader, decode_held, encode_held, encode_story, header_of, held_header, join_record,
    split_record,
};
use super::{
    CommitCounts, Committed, PollCommit, Prepared, Store, StoreError, alias, state_key, story_key,
};
use crate::dedupe::{self, Change, Priorities, Shortcut};
use crate::model::{SourceId, SourceState, Story, StoryKey};

/// What a group commit will write: story records by key (the latest staged version, at its
/// first-seen time), records that moved away from an older first-seen time, the index
/// headers in the order they were staged, and each poll's source state.
#[derive(Default)]
struct Group {
    pending: HashMap<StoryKey, (i64, IVec)>,
    removals: Vec<[u8; 25]>,
    written: Vec<(StoryKey, story_record::StoryHeader)>,
    states: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Group {
    /// Adds one poll's story writes, once the whole poll could be judged.
    fn add(&mut self, staged: Vec<Staged>) {
        for Staged {
            key,
            record,
            header,
            moved_from,
        } in staged
        {
            if let Some(old) = moved_from {
                self.removals.push(story_key(&key, old));
            }
            self.pending.insert(key, (header.first_seen, record));
            self.written.push((key, header));
        }
    }
}

/// One story write of a poll being staged.
struct Staged {
    key: StoryKey,
    record: IVec,
    header: story_record::StoryHeader,
    moved_from: Option<i64>,
}

/// What one story of a poll comes to, as counted.
enum Verdict {
    New,
    Updated,
    Unchanged,
}

impl CommitCounts {
    fn count(&mut self, verdict: Verdict) {
        match verdict {
            Verdict::New => self.new += 1,
            Verdict::Updated => self.updated += 1,
            Verdict::Unchanged => self.unchanged += 1,
        }
    }
}

impl Store {
    /// The part of a commit that needs no writer: every story's key, and the record of each
    /// story the store does not hold yet, encoded as it will be written if it is still new at
    /// commit time. Any thread; takes the index's read lock only.
    pub fn prepare(&self, stories: &[Story]) -> Prepared {
        let keys: Vec<StoryKey> = stories.iter().map(Story::key).collect();
        let known: Vec<bool> = {
            let index = self.read_index();
            keys.iter().map(|k| index.contains(k)).collect()
        };
        let new = stories
            .iter()
            .zip(known)
            .map(|(story, known)| (!known).then(|| (encode_story(story).into(), header_of(story))))
            .collect();
        Prepared { keys, new }
    }

    /// Commits polls, each atomically (every story and the source's new state, with the
    /// state's counts of this commit), all in one sled batch, in order: a story two of them
    /// carry is judged by the second against the first's version, exactly as if the first had
    /// committed alone before it. A story already stored is judged by [`dedupe::shortcut`]
    /// from its record's header when that settles it, else by [`dedupe::decide`] against the
    /// stored version; one not stored is new, and is written as prepared, without a copy. A
    /// story stored between [`Store::prepare`] and this is judged like any other.
    ///
    /// One result per poll, in order. A poll whose stored records cannot be read fails alone
    /// and writes nothing; a failed write fails them all. sled makes every batch durable with
    /// two log writes of its own (`pin_log`), so a writer with several polls waiting commits
    /// them together rather than one batch each.
    pub fn commit_group(&self, polls: Vec<PollCommit>) -> Vec<Result<Committed, StoreError>> {
        let _writer = self.writer_turn();
        // sled's handles once for the group, not once a story: a re-open waits for the turn.
        let data = match self.data() {
            Ok(data) => data,
            Err(e) => {
                let (kind, reason) = io_of(self.noted(e));
                let failed = || StoreError::Io {
                    kind,
                    reason: reason.clone(),
                };
                return polls.iter().map(|_| Err(failed())).collect();
            }
        };
        let mut group = Group::default();
        let mut results: Vec<Result<Committed, StoreError>> = polls
            .into_iter()
            .map(|poll| self.stage(&data, poll, &mut group))
            .collect();
        // sled writes on into the files of a store directory removed under it (they are
        // open): those commits would be gone at the next start, so none is made.
        let applied = self.present().and_then(|()| self.apply_group(group));
        if let Err(e) = applied {
            let (kind, reason) = io_of(self.noted(e));
            for result in results.iter_mut().filter(|r| r.is_ok()) {
                *result = Err(StoreError::Io {
                    kind,
                    reason: reason.clone(),
                });
            }
        }
        results
    }

    /// One poll committed alone: [`Store::prepare`], then [`Store::commit_group`] of it,
    /// every source at priority 0.
    pub fn commit_one(
        &self,
        source: SourceId,
        stories: Vec<Story>,
        state: SourceState,
        now: DateTime<Utc>,
    ) -> Result<Committed, StoreError> {
        let prepared = self.prepare(&stories);
        let poll = PollCommit {
            source,
            stories,
            prepared,
            state,
            now,
            priorities: Priorities::default(),
        };
        self.commit_group(vec![poll])
            .pop()
            .expect("one result per poll")
    }

    /// Saves a source's state alone (a 304, a failure).
    pub fn save_state(&self, source: &SourceId, state: &SourceState) -> Result<(), StoreError> {
        let _writer = self.writer_turn();
        let saved = (self.faults.write_allowed().map_err(StoreError::from)).and_then(|()| {
            Ok(self
                .data()?
                .insert(state_key(source), encode_source(state))?)
        });
        saved.map_err(|e| self.noted(e))?;
        Ok(())
    }

    /// Decides one poll's writes against the store and the polls staged before it in `group`,
    /// and adds them to `group` only when the whole poll could be judged. The state saved is
    /// the poll's with this commit's counts: the store owns `last_new` and `last_updated`.
    fn stage(
        &self,
        data: &sled::Tree,
        poll: PollCommit,
        group: &mut Group,
    ) -> Result<Committed, StoreError> {
        let PollCommit {
            source,
            stories,
            prepared,
            mut state,
            now,
            priorities,
        } = poll;
        // Prepared from other stories (a caller's bug): prepared again, rather than trusted.
        let prepared = if prepared.keys.len() == stories.len() {
            prepared
        } else {
            self.prepare(&stories)
        };
        let (resolved, first_seen): (Vec<StoryKey>, Vec<Option<i64>>) = {
            let index = self.read_index();
            let known = |k: &StoryKey| group.pending.contains_key(k) || index.contains(k);
            let resolved = alias::resolve(&stories, &prepared.keys, &source, &state.aliases, known);
            let first_seen = resolved.iter().map(|k| index.first_seen(k)).collect();
            (resolved, first_seen)
        };
        let mut counts = CommitCounts::default();
        let mut staged: Vec<Staged> = Vec::new();
        let items = stories.iter().zip(&prepared.keys).zip(&resolved);
        for (((incoming, own), key), (new, first_seen)) in
            items.zip(prepared.new.into_iter().zip(first_seen))
        {
            let (verdict, write) = match stored_version(data, group, key, first_seen)? {
                Some((first_seen, bytes)) => {
                    let stored = Stored {
                        key: *key,
                        first_seen,
                        bytes: &bytes,
                        by_own_key: own == key,
                    };
                    judge(incoming, stored, now, &priorities)?
                }
                // Not stored: new (`decide`'s contract), written as prepared, without a copy.
                None => {
                    let (record, header) =
                        new.unwrap_or_else(|| (encode_story(incoming).into(), header_of(incoming)));
                    let write = Staged {
                        key: *key,
                        record,
                        header,
                        moved_from: None,
                    };
                    (Verdict::New, Some(write))
                }
            };
            counts.count(verdict);
            staged.extend(write);
        }
        alias::remember(&mut state, &stories, &resolved, &source);
        state.last_new = counts.new;
        state.last_updated = counts.updated;
        group
            .states
            .push((state_key(&source), encode_source(&state)));
        group.add(staged);
        Ok(Committed {
            source,
            counts,
            state,
            stories,
        })
    }

    /// Writes a group's staged polls in one batch and brings the index up to date.
    fn apply_group(&self, group: Group) -> Result<(), StoreError> {
        let Group {
            pending,
            removals,
            written,
            states,
        } = group;
        if states.is_empty() {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        // Removals first: a later write of the same key wins.
        for key in &removals {
            batch.remove(key);
        }
        for (key, (first_seen, record)) in pending {
            batch.insert(&story_key(&key, first_seen), record);
        }
        for (key, value) in states {
            batch.insert(key, value);
        }
        let generation = self.next_generation(&mut batch, !written.is_empty());
        self.apply(batch, generation)?;
        let mut index = self.write_index();
        for (key, header) in &written {
            index.insert(*key, header);
        }
        Ok(())
    }
}

/// A story the store (or the group) already holds: its key, first-seen time and record.
struct Stored<'a> {
    key: StoryKey,
    first_seen: i64,
    bytes: &'a [u8],
    /// Found by the incoming story's own key, not by its guid.
    by_own_key: bool,
}

/// Judges a story the store (or the group) already holds: what it counts as, and what to
/// write, if anything.
fn judge(
    incoming: &Story,
    stored: Stored<'_>,
    now: DateTime<Utc>,
    priorities: &Priorities,
) -> Result<(Verdict, Option<Staged>), StoreError> {
    let Stored {
        key,
        first_seen,
        bytes,
        by_own_key,
    } = stored;
    // Most known stories are one source sending the same version again: settled by the
    // record's header alone (no body to decompress, decode or re-encode), as long as the
    // priorities its copy was chosen under still hold.
    let (mut header, body) = split_record(bytes)?;
    let pairs = header.sources.iter().map(|(id, f)| (id.as_str(), *f));
    // Found by its guid, the story may have another link now: only the copy can say.
    let settled = by_own_key && dedupe::shortcut(pairs, incoming) == Some(Shortcut::Unchanged);
    if settled && header.chosen_under(priorities) {
        return Ok((Verdict::Unchanged, None));
    }
    let held = decode_held(bytes)?;
    let (verdict, next) = match dedupe::decide(Some(&held), incoming, now, priorities) {
        Change::New(s) => (Verdict::New, s),
        Change::Updated(s) => (Verdict::Updated, s),
        Change::Merged(s) => (Verdict::Unchanged, s),
        // The priorities moved without moving the choice: the header learns them.
        Change::Unchanged if settled => {
            header = held_header(&held, priorities);
            let write = Staged {
                key,
                record: join_record(&header, body).into(),
                header,
                moved_from: None,
            };
            return Ok((Verdict::Unchanged, Some(write)));
        }
        Change::Unchanged => return Ok((Verdict::Unchanged, None)),
    };
    let header: StoryHeader = held_header(&next, priorities);
    // Not done by `decide` today; if it ever is, the record moves.
    let moved_from = (header.first_seen != first_seen).then_some(first_seen);
    let write = Staged {
        key,
        record: encode_held(&next, priorities).into(),
        header,
        moved_from,
    };
    Ok((verdict, Some(write)))
}

/// The version of `key` a poll is judged against, with its first-seen time: a poll's earlier in
/// this group, else the store's (read only when the index knows the story).
fn stored_version(
    data: &sled::Tree,
    group: &Group,
    key: &StoryKey,
    first_seen: Option<i64>,
) -> Result<Option<(i64, IVec)>, StoreError> {
    if let Some((first_seen, record)) = group.pending.get(key) {
        return Ok(Some((*first_seen, record.clone())));
    }
    let Some(first_seen) = first_seen else {
        return Ok(None);
    };
    let stored = data.get(story_key(key, first_seen))?;
    Ok(stored.map(|bytes| (first_seen, bytes)))
}

/// A store error as the I/O failure it makes every poll of a group: its kind and sentence.
fn io_of(error: StoreError) -> (super::FaultKind, String) {
    match error {
        StoreError::Io { kind, reason } => (kind, reason),
        other => (super::FaultKind::Io, other.to_string()),
    }
}
