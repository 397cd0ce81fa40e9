//! The in-memory indexes: newest-first over all stories and per source, plus what each story
//! needs for caps and retention. Built from the story records' headers when the store opens and
//! kept in step with every write, so they never live on disk and can never disagree with the
//! stories there. About 140 bytes per story, built in one go at open.

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;

use smallvec::SmallVec;

use crate::model::{SourceId, StoryKey};

use super::story_record::StoryHeader;

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
    /// the map's slots stay small (a story's slot is paid for every story, and the map keeps
    /// spare slots too).
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

/// The sources of stories carried by more than two, past the first two (rare).
type More = HashMap<StoryKey, Box<[u32]>>;

/// Every source of the story `key`: its entry's, then those kept in `more`.
fn sources_of<'a>(key: &StoryKey, e: &'a Entry, more: &'a More) -> impl Iterator<Item = u32> + 'a {
    let inline = e.sources.iter().copied().filter(|&n| n != NO_SOURCE);
    inline.chain(more.get(key).into_iter().flat_map(|m| m.iter().copied()))
}

/// Source ids interned to small numbers, which index entries use instead.
#[derive(Debug, Default, Clone)]
struct Names {
    ids: Vec<SourceId>,
    numbers: HashMap<SourceId, u32>,
}

impl Names {
    fn number(&mut self, id: &SourceId) -> u32 {
        if let Some(n) = self.numbers.get(id) {
            return *n;
        }
        let n = self.ids.len() as u32;
        self.ids.push(id.clone());
        self.numbers.insert(id.clone(), n);
        n
    }

    /// The numbers of a header's sources. Headers come from our own records; an id that
    /// fails the rules is skipped.
    fn of(&mut self, header: &StoryHeader) -> SmallVec<[u32; 2]> {
        header
            .sources
            .iter()
            .filter_map(|(id, _)| SourceId::new(id).ok())
            .map(|id| self.number(&id))
            .collect()
    }
}

/// One story as an index is built from: key, published, first seen, source numbers.
type Row = (StoryKey, i64, i64, SmallVec<[u32; 2]>);

/// Collects stories' headers for an index built in one go ([`Index::dense`]), as the store
/// does when it opens without a snapshot.
#[derive(Default)]
pub(super) struct Builder {
    names: Names,
    rows: Vec<Row>,
}

impl Builder {
    pub(super) fn add(&mut self, key: StoryKey, header: &StoryHeader) {
        let sources = self.names.of(header);
        self.rows
            .push((key, header.published, header.first_seen, sources));
    }

    pub(super) fn build(self) -> Index {
        Index::dense(self.names, self.rows)
    }
}

/// Newest-first indexes over the stored stories.
#[derive(Debug, Default)]
pub(super) struct Index {
    names: Names,
    by_time: BTreeSet<Slot>,
    /// One set per interned source, by number.
    by_source: Vec<BTreeSet<Slot>>,
    entries: HashMap<StoryKey, Entry>,
    more: More,
}

impl Index {
    /// Records (or re-records) a story from its header.
    pub(super) fn insert(&mut self, key: StoryKey, header: &StoryHeader) {
        self.remove(&key);
        let sources = self.names.of(header);
        self.by_source
            .resize_with(self.names.ids.len(), BTreeSet::new);
        for &n in &sources {
            self.by_source[n as usize].insert((header.published, key));
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
            let sources: SmallVec<[u32; 2]> = sources_of(key, &old, &self.more).collect();
            self.more.remove(key);
            for n in sources {
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
            Some(id) => match self.names.numbers.get(id) {
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
            .filter_map(|id| self.names.numbers.get(id).copied())
            .collect();
        if wanted.is_empty() {
            return Vec::new();
        }
        let upper = before.map_or(Bound::Unbounded, Bound::Excluded);
        self.by_time
            .range((Bound::Unbounded, upper))
            .rev()
            .filter(|(_, key)| {
                self.entries
                    .get(key)
                    .is_some_and(|e| sources_of(key, e, &self.more).any(|n| wanted.contains(&n)))
            })
            .take(n)
            .copied()
            .collect()
    }

    /// Stories `source` carries beyond its newest `max`, oldest first.
    pub(super) fn beyond(&self, source: &SourceId, max: usize) -> Vec<StoryKey> {
        let Some(n) = self.names.numbers.get(source) else {
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
            names: self.names.ids.iter().map(|n| n.to_string()).collect(),
            entries: self
                .entries
                .iter()
                .map(|(key, e)| {
                    let sources = sources_of(key, e, &self.more).collect();
                    (key.0, e.published, e.first_seen, sources)
                })
                .collect(),
        }
    }

    /// An index rebuilt from a snapshot; `None` when the snapshot does not hold together.
    pub(super) fn from_snapshot(snapshot: IndexSnapshot) -> Option<Index> {
        let mut names = Names::default();
        let mut numbers = Vec::with_capacity(snapshot.names.len());
        for name in &snapshot.names {
            numbers.push(names.number(&SourceId::new(name).ok()?));
        }
        let rows = snapshot
            .entries
            .into_iter()
            .map(|(key, published, first_seen, sources)| {
                let sources = sources
                    .into_iter()
                    .map(|n| numbers.get(n as usize).copied())
                    .collect::<Option<_>>()?;
                Some((StoryKey(key), published, first_seen, sources))
            })
            .collect::<Option<Vec<Row>>>()?;
        Some(Index::dense(names, rows))
    }

    /// Builds an index in one go: the map sized once, the time indexes sorted and then built
    /// bottom-up with full nodes (stories inserted one by one leave them half full).
    fn dense(names: Names, rows: Vec<Row>) -> Index {
        let mut entries = HashMap::with_capacity(rows.len());
        let mut more = More::new();
        let mut per_source: Vec<Vec<Slot>> = vec![Vec::new(); names.ids.len()];
        let mut by_time = Vec::with_capacity(rows.len());
        for (key, published, first_seen, sources) in rows {
            for &n in &sources {
                per_source[n as usize].push((published, key));
            }
            by_time.push((published, key));
            let (entry, extra) = Entry::new(published, first_seen, &sources);
            entries.insert(key, entry);
            if let Some(extra) = extra {
                more.insert(key, extra);
            }
        }
        // `BTreeSet: FromIterator` sorts, then builds bottom-up.
        Index {
            names,
            by_time: by_time.into_iter().collect(),
            by_source: per_source.into_iter().map(BTreeSet::from_iter).collect(),
            entries,
            more,
        }
    }

    /// Stories first seen at or after `since` (µs), oldest first.
    pub(super) fn first_seen_since(&self, since: i64) -> Vec<StoryKey> {
        let mut found: Vec<(i64, StoryKey)> = (self.entries.iter())
            .filter(|(_, e)| e.first_seen >= since)
            .map(|(key, e)| (e.first_seen, *key))
            .collect();
        found.sort_unstable();
        found.into_iter().map(|(_, key)| key).collect()
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
            priorities: Vec::new(),
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

    /// A distinct key per number.
    fn key(n: u32) -> StoryKey {
        let mut key = [7u8; 16];
        key[..4].copy_from_slice(&n.to_le_bytes());
        StoryKey(key)
    }

    #[test]
    fn an_index_built_in_one_go_answers_every_query_as_one_built_story_by_story() {
        let mut index = Index::default();
        // The headers the index holds, for the build from headers (the store's scan).
        let mut live: HashMap<StoryKey, StoryHeader> = HashMap::new();
        let mut rng = fastrand::Rng::with_seed(6);
        let names = ["a", "b", "c", "d"];
        for i in 0..3000u32 {
            let sources: Vec<&str> = names.iter().copied().filter(|_| rng.u8(..) < 100).collect();
            let sources = if sources.is_empty() {
                vec!["a"]
            } else {
                sources
            };
            let h = header(rng.i64(0..1_000_000), &sources);
            index.insert(key(i), &h);
            live.insert(key(i), h);
            if i % 7 == 0 {
                // Re-inserted under another time, or removed: both leave holes.
                if i % 2 == 0 {
                    index.remove(&key(i / 2));
                    live.remove(&key(i / 2));
                } else {
                    let h = header(rng.i64(0..1_000_000), &["d"]);
                    index.insert(key(i / 2), &h);
                    live.insert(key(i / 2), h);
                }
            }
        }
        let mut scanned = Builder::default();
        for (key, header) in &live {
            scanned.add(*key, header);
        }
        let from_headers = scanned.build();
        let from_snapshot = Index::from_snapshot(index.to_snapshot(1)).unwrap();
        for dense in [&from_headers, &from_snapshot] {
            assert_dense_answers_as(dense, &index, &names);
        }
    }

    /// `dense` answers every query as `index` does.
    fn assert_dense_answers_as(dense: &Index, index: &Index, names: &[&str]) {
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
                // A story's third and fourth sources are kept apart from its entry.
                let among = |i: &Index| i.page_among(std::slice::from_ref(id), before, 5000);
                assert_eq!(among(dense), among(index), "{id}");
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
        // And a snapshot reads back to the same index.
        let back = Index::from_snapshot(index.to_snapshot(1)).unwrap();
        assert_eq!(back.page(None, None, usize::MAX), all);
    }
}
