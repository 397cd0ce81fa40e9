//! The in-memory indexes: newest-first over all stories and per source, plus what each story
//! needs for caps and retention. Built from the story records' headers when the store opens and
//! kept in step with every write, so they never live on disk and can never disagree with the
//! stories there. About 100 bytes per story.

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;

use smallvec::SmallVec;

use crate::model::{SourceId, StoryKey};

use super::records::StoryHeader;

/// The index written at a clean close, so the next open need not read every story record
/// (which would pull the whole store through sled's cache). Valid only for the data generation
/// it names.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct IndexSnapshot {
    pub(super) generation: u64,
    names: Vec<String>,
    entries: Vec<([u8; 16], i64, i64, Vec<u32>)>,
}

/// A position in a time index: published (µs) and key, ordered by time then key.
pub(super) type Slot = (i64, StoryKey);

#[derive(Debug, Clone)]
struct Entry {
    published: i64,
    first_seen: i64,
    /// Its first two sources, [`NO_SOURCE`] where there are fewer; any more are in
    /// [`Index::more`]. Inline, so a story costs the map no allocation of its own (one would
    /// sit among the memory a round of polls frees and keep its pages from going back), and
    /// the map's slots stay small (40 bytes: 70,000 stories take 128k of them).
    sources: [u32; 2],
}

/// An empty place in [`Entry::sources`].
const NO_SOURCE: u32 = u32::MAX;

impl Entry {
    fn new(published: i64, first_seen: i64, sources: &[u32]) -> (Entry, Option<Box<[u32]>>) {
        let first = |i: usize| sources.get(i).copied().unwrap_or(NO_SOURCE);
        let entry = Entry {
            published,
            first_seen,
            sources: [first(0), first(1)],
        };
        let more = sources.get(2..).filter(|m| !m.is_empty()).map(Box::from);
        (entry, more)
    }
}

/// Every source of a story: its entry's, then those kept in [`Index::more`].
fn sources_of<'a>(e: &'a Entry, more: Option<&'a [u32]>) -> impl Iterator<Item = u32> + 'a {
    let inline = e.sources.iter().copied().filter(|&n| n != NO_SOURCE);
    inline.chain(more.unwrap_or_default().iter().copied())
}

/// Newest-first indexes over the stored stories.
#[derive(Debug, Default)]
pub(super) struct Index {
    /// Interned source ids; index entries name sources by position here.
    names: Vec<SourceId>,
    numbers: HashMap<SourceId, u32>,
    by_time: BTreeSet<Slot>,
    by_source: Vec<BTreeSet<Slot>>,
    entries: HashMap<StoryKey, Entry>,
    /// The sources of stories carried by more than two, past the first two (rare).
    more: HashMap<StoryKey, Box<[u32]>>,
}

impl Index {
    fn number(&mut self, id: &SourceId) -> u32 {
        if let Some(n) = self.numbers.get(id) {
            return *n;
        }
        let n = self.names.len() as u32;
        self.names.push(id.clone());
        self.numbers.insert(id.clone(), n);
        self.by_source.push(BTreeSet::new());
        n
    }

    /// Records (or re-records) a story from its header.
    pub(super) fn insert(&mut self, key: StoryKey, header: &StoryHeader) {
        self.remove(&key);
        let mut sources: SmallVec<[u32; 2]> = SmallVec::with_capacity(header.sources.len());
        for (id, _) in &header.sources {
            // Headers come from our own records; an id that fails the rules is skipped.
            if let Ok(id) = SourceId::new(id) {
                let n = self.number(&id);
                self.by_source[n as usize].insert((header.published, key));
                sources.push(n);
            }
        }
        self.by_time.insert((header.published, key));
        let (entry, more) = Entry::new(header.published, header.first_seen, &sources);
        self.entries.insert(key, entry);
        if let Some(more) = more {
            self.more.insert(key, more);
        }
    }

    /// Forgets a story.
    pub(super) fn remove(&mut self, key: &StoryKey) {
        if let Some(old) = self.entries.remove(key) {
            self.by_time.remove(&(old.published, *key));
            let more = self.more.remove(key);
            for n in sources_of(&old, more.as_deref()) {
                self.by_source[n as usize].remove(&(old.published, *key));
            }
        }
    }

    /// When a story was first seen (µs), if it is stored: part of its record's key.
    pub(super) fn first_seen(&self, key: &StoryKey) -> Option<i64> {
        self.entries.get(key).map(|e| e.first_seen)
    }

    pub(super) fn contains(&self, key: &StoryKey) -> bool {
        self.entries.contains_key(key)
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Up to `n` keys older than `before` (all when `None`), newest first, over all stories or
    /// one source's.
    pub(super) fn page(
        &self,
        source: Option<&SourceId>,
        before: Option<Slot>,
        n: usize,
    ) -> Vec<Slot> {
        let set = match source {
            None => &self.by_time,
            Some(id) => match self.numbers.get(id) {
                Some(n) => &self.by_source[*n as usize],
                None => return Vec::new(),
            },
        };
        let upper = before.map_or(Bound::Unbounded, Bound::Excluded);
        set.range((Bound::Unbounded, upper))
            .rev()
            .take(n)
            .copied()
            .collect()
    }

    /// Up to `n` keys older than `before`, newest first, of stories carried by any of
    /// `sources`. Skipping other stories costs a hash lookup, not a read.
    pub(super) fn page_among(
        &self,
        sources: &[SourceId],
        before: Option<Slot>,
        n: usize,
    ) -> Vec<Slot> {
        let wanted: Vec<u32> = sources
            .iter()
            .filter_map(|id| self.numbers.get(id).copied())
            .collect();
        if wanted.is_empty() {
            return Vec::new();
        }
        let upper = before.map_or(Bound::Unbounded, Bound::Excluded);
        self.by_time
            .range((Bound::Unbounded, upper))
            .rev()
            .filter(|(_, key)| {
                self.entries.get(key).is_some_and(|e| {
                    sources_of(e, self.more.get(key).map(|m| &**m)).any(|n| wanted.contains(&n))
                })
            })
            .take(n)
            .copied()
            .collect()
    }

    /// Stories `source` carries beyond its newest `max`, oldest first.
    pub(super) fn beyond(&self, source: &SourceId, max: usize) -> Vec<StoryKey> {
        let Some(n) = self.numbers.get(source) else {
            return Vec::new();
        };
        let set = &self.by_source[*n as usize];
        set.iter()
            .take(set.len().saturating_sub(max))
            .map(|(_, key)| *key)
            .collect()
    }

    /// The index as plain data, for a snapshot.
    pub(super) fn to_snapshot(&self, generation: u64) -> IndexSnapshot {
        IndexSnapshot {
            generation,
            names: self.names.iter().map(|n| n.to_string()).collect(),
            entries: self
                .entries
                .iter()
                .map(|(key, e)| {
                    let sources = sources_of(e, self.more.get(key).map(|m| &**m)).collect();
                    (key.0, e.published, e.first_seen, sources)
                })
                .collect(),
        }
    }

    /// An index rebuilt from a snapshot; `None` when the snapshot does not hold together.
    pub(super) fn from_snapshot(snapshot: IndexSnapshot) -> Option<Index> {
        let mut names = Index::default();
        let mut numbers = Vec::with_capacity(snapshot.names.len());
        for name in &snapshot.names {
            numbers.push(names.number(&SourceId::new(name).ok()?));
        }
        let mut entries = HashMap::with_capacity(snapshot.entries.len());
        let mut more = HashMap::new();
        for (key, published, first_seen, sources) in snapshot.entries {
            let sources = sources
                .into_iter()
                .map(|n| numbers.get(n as usize).copied())
                .collect::<Option<SmallVec<[u32; 2]>>>()?;
            let (entry, extra) = Entry::new(published, first_seen, &sources);
            entries.insert(StoryKey(key), entry);
            if let Some(extra) = extra {
                more.insert(StoryKey(key), extra);
            }
        }
        Some(Index::dense(names.names, names.numbers, entries, more))
    }

    /// The same index, built densely: stories inserted one by one leave the time indexes'
    /// nodes half full, a bulk build fills them.
    pub(super) fn compacted(&self) -> Index {
        let mut entries = HashMap::with_capacity(self.entries.len());
        entries.extend(self.entries.iter().map(|(k, e)| (*k, e.clone())));
        let more = self.more.clone();
        Index::dense(self.names.clone(), self.numbers.clone(), entries, more)
    }

    /// Builds the time indexes from `entries` in one pass each: sorted, then bulk-built, so
    /// their nodes are full.
    fn dense(
        names: Vec<SourceId>,
        numbers: HashMap<SourceId, u32>,
        entries: HashMap<StoryKey, Entry>,
        more: HashMap<StoryKey, Box<[u32]>>,
    ) -> Index {
        let mut per_source: Vec<Vec<Slot>> = vec![Vec::new(); names.len()];
        for (key, e) in &entries {
            for n in sources_of(e, more.get(key).map(|m| &**m)) {
                per_source[n as usize].push((e.published, *key));
            }
        }
        // `BTreeSet: FromIterator` sorts, then builds bottom-up with full nodes.
        let by_time = entries.iter().map(|(k, e)| (e.published, *k)).collect();
        let by_source = per_source
            .into_iter()
            .map(|slots| slots.into_iter().collect())
            .collect();
        Index {
            names,
            numbers,
            by_time,
            by_source,
            entries,
            more,
        }
    }

    /// Stories first seen before `cutoff` (µs).
    pub(super) fn first_seen_before(&self, cutoff: i64) -> Vec<StoryKey> {
        self.entries
            .iter()
            .filter(|(_, e)| e.first_seen < cutoff)
            .map(|(key, _)| *key)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(published: i64, sources: &[&str]) -> StoryHeader {
        StoryHeader {
            published,
            first_seen: published,
            sources: sources.iter().map(|s| ((*s).to_owned(), 0)).collect(),
        }
    }

    #[test]
    fn pages_walk_newest_first_and_reinsertion_moves_a_story() {
        let mut index = Index::default();
        for (i, t) in [5, 1, 9, 3].into_iter().enumerate() {
            index.insert(StoryKey([i as u8; 16]), &header(t, &["a"]));
        }
        let times = |page: Vec<Slot>| page.into_iter().map(|(t, _)| t).collect::<Vec<_>>();
        let first = index.page(None, None, 2);
        assert_eq!(times(first.clone()), vec![9, 5]);
        assert_eq!(
            times(index.page(None, first.last().copied(), 10)),
            vec![3, 1]
        );
        // Re-inserting with a new time and source moves it in every index.
        index.insert(StoryKey([1; 16]), &header(20, &["b"]));
        assert_eq!(times(index.page(None, None, 1)), vec![20]);
        assert_eq!(
            index
                .page(Some(&SourceId::new("a").unwrap()), None, 10)
                .len(),
            3
        );
        assert_eq!(
            index
                .page(Some(&SourceId::new("b").unwrap()), None, 10)
                .len(),
            1
        );
        assert_eq!(index.len(), 4);
        assert_eq!(index.beyond(&SourceId::new("a").unwrap(), 1).len(), 2);
        index.remove(&StoryKey([1; 16]));
        assert!(
            index
                .page(Some(&SourceId::new("b").unwrap()), None, 10)
                .is_empty()
        );
        assert_eq!(index.first_seen_before(4).len(), 1);
    }

    #[test]
    fn a_compacted_index_answers_every_query_as_the_original() {
        let mut index = Index::default();
        let mut rng = fastrand::Rng::with_seed(6);
        let names = ["a", "b", "c", "d"];
        for i in 0..3000u32 {
            let key = StoryKey([
                (i % 251) as u8,
                (i / 251) as u8,
                1,
                2,
                3,
                4,
                5,
                6,
                7,
                8,
                9,
                10,
                11,
                12,
                13,
                14,
            ]);
            let sources: Vec<&str> = names.iter().copied().filter(|_| rng.u8(..) < 100).collect();
            let sources = if sources.is_empty() {
                vec!["a"]
            } else {
                sources
            };
            index.insert(key, &header(rng.i64(0..1_000_000), &sources));
            if i % 7 == 0 {
                // Re-inserted under another time, or removed: both leave holes.
                let old = StoryKey([
                    (i / 2 % 251) as u8,
                    (i / 2 / 251) as u8,
                    1,
                    2,
                    3,
                    4,
                    5,
                    6,
                    7,
                    8,
                    9,
                    10,
                    11,
                    12,
                    13,
                    14,
                ]);
                if i % 2 == 0 {
                    index.remove(&old);
                } else {
                    index.insert(old, &header(rng.i64(0..1_000_000), &["d"]));
                }
            }
        }
        let dense = index.compacted();
        assert_eq!(dense.len(), index.len());
        let ids: Vec<SourceId> = names.iter().map(|n| SourceId::new(n).unwrap()).collect();
        let all = index.page(None, None, usize::MAX);
        assert_eq!(all.len(), index.len());
        for before in [None, Some(all[all.len() / 3]), Some(all[all.len() - 1])] {
            assert_eq!(dense.page(None, before, 100), index.page(None, before, 100));
            for id in &ids {
                let (d, o) = (
                    dense.page(Some(id), before, 5000),
                    index.page(Some(id), before, 5000),
                );
                assert!(!o.is_empty() || before.is_some());
                assert_eq!(d, o, "{id}");
            }
            assert_eq!(
                dense.page_among(&ids[1..3], before, 500),
                index.page_among(&ids[1..3], before, 500)
            );
        }
        for id in &ids {
            assert_eq!(dense.beyond(id, 10), index.beyond(id, 10));
        }
        for (_, key) in &all {
            assert_eq!(dense.first_seen(key), index.first_seen(key));
        }
        assert_eq!(
            dense.first_seen_before(500_000).len(),
            index.first_seen_before(500_000).len()
        );
        // And a snapshot of either reads back to the same index.
        let back = Index::from_snapshot(index.to_snapshot(1)).unwrap();
        assert_eq!(back.page(None, None, usize::MAX), all);
    }
}
