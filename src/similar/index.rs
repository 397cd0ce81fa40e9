//! The stories inside the merge window, indexed by their rarest grams, so a new story finds
//! the stories that may tell its event without comparing it with every one. Memory per story
//! is fixed ([`Index::bytes_per_story`]); the gram rarity is counted in a fixed-size sketch.
//!
//! Each story is filed under its [`RARE_GRAMS`] rarest grams (by how many stories in the
//! window have them, at its insertion): the names, places and words particular to its event,
//! which another copy of the event shares. A gram's postings are a chain through the entries,
//! newest first, so filing costs no allocation; entries leave in first-seen order as the
//! window moves, and chains simply end at the first entry gone.

use std::collections::{HashMap, VecDeque};

use super::{Fingerprint, Weigh, idf};
use crate::model::StoryKey;

/// Grams a story is filed under.
pub const RARE_GRAMS: usize = 4;

/// No entry.
const NONE: u32 = u32::MAX;

/// A gram more recent stories have than this is not looked up (sketch counts saturate at 255).
const COMMON: u32 = 64;

/// Entries walked per gram at most, newest first: a gram many stories are filed under says
/// little, and walking all of them would make a busy window quadratic.
const CHAIN: usize = 32;

/// How often each gram occurs among recent stories: a count-min sketch of two rows of
/// saturating 8-bit counters, halved each time as many stories as it holds have been added
/// again, so old stories fade out. Fixed size whatever the window holds.
#[derive(Debug, Clone)]
pub struct Sketch {
    rows: [Vec<u8>; 2],
    docs: u32,
    since_decay: u32,
    decay_every: u32,
}

impl Sketch {
    /// A sketch of `2 × 2^bits` counters that halves after `decay_every` stories.
    pub fn new(bits: u32, decay_every: u32) -> Sketch {
        Sketch {
            rows: [vec![0; 1 << bits], vec![0; 1 << bits]],
            docs: 0,
            since_decay: 0,
            decay_every: decay_every.max(1),
        }
    }

    fn slots(&self, g: u32) -> [usize; 2] {
        let mask = self.rows[0].len() - 1;
        let h = u64::from(g).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        [(h as usize) & mask, ((h >> 32) as usize) & mask]
    }

    /// Counts one more story's grams.
    pub fn add(&mut self, grams: &[u32]) {
        for &g in grams {
            let [a, b] = self.slots(g);
            self.rows[0][a] = self.rows[0][a].saturating_add(1);
            self.rows[1][b] = self.rows[1][b].saturating_add(1);
        }
        self.docs += 1;
        self.since_decay += 1;
        if self.since_decay >= self.decay_every {
            for row in &mut self.rows {
                row.iter_mut().for_each(|c| *c /= 2);
            }
            self.docs /= 2;
            self.since_decay = 0;
        }
    }

    /// How many recent stories have `g` (an over-estimate, never under).
    pub fn df(&self, g: u32) -> u32 {
        let [a, b] = self.slots(g);
        u32::from(self.rows[0][a].min(self.rows[1][b]))
    }

    /// The sketch's size in bytes.
    pub fn bytes(&self) -> usize {
        self.rows[0].len() * 2
    }
}

impl Weigh for Sketch {
    fn weight(&self, g: u32) -> f64 {
        let df = self.df(g).max(1);
        idf(self.docs, df)
    }
}

#[derive(Debug, Clone)]
struct Entry {
    key: StoryKey,
    /// Seconds since the Unix epoch.
    first_seen: i64,
    source: u16,
    grams: [u32; RARE_GRAMS],
    /// For each of `grams`, the next older entry filed under it.
    next: [u32; RARE_GRAMS],
}

/// The stories inside the merge window.
#[derive(Debug, Clone)]
pub struct Index {
    window: i64,
    entries: VecDeque<Entry>,
    /// The id of `entries[0]`; ids grow by one per insertion.
    base: u32,
    /// Each gram's newest entry.
    heads: HashMap<u32, u32>,
    /// Ids of entries evicted since heads were last swept.
    evicted: usize,
    sources: HashMap<String, u16>,
    sketch: Sketch,
}

/// A story in the window that may tell the same event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// Its key.
    pub key: StoryKey,
    /// How many of the new story's rare grams it is filed under.
    pub grams: usize,
}

impl Index {
    /// An empty index of stories first seen within `window_secs` of each other.
    pub fn new(window_secs: i64) -> Index {
        Index {
            window: window_secs,
            entries: VecDeque::new(),
            base: 0,
            heads: HashMap::new(),
            evicted: 0,
            sources: HashMap::new(),
            // 2 × 256 KiB; halved after each 20,000 stories.
            sketch: Sketch::new(18, 20_000),
        }
    }

    /// The gram weights: how rare each gram is among recent stories.
    pub fn weights(&self) -> &Sketch {
        &self.sketch
    }

    /// Stories in the window.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the window is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// What one story costs: its entry, and a head per rare gram at most.
    pub fn bytes_per_story() -> usize {
        std::mem::size_of::<Entry>() + RARE_GRAMS * (4 + 4 + 1)
    }

    /// Counts `fp`'s grams in the sketch (call once per story, before [`Index::candidates`]
    /// and [`Index::insert`], so its own grams count).
    pub fn count(&mut self, fp: &Fingerprint) {
        self.sketch.add(&fp.grams);
    }

    /// The stories of other sources in the window around `first_seen` filed under any of
    /// `fp`'s grams, most shared grams first.
    pub fn candidates(&self, source: &str, first_seen: i64, fp: &Fingerprint) -> Vec<Candidate> {
        let own = self.sources.get(source).copied();
        let mut found: Vec<(u32, usize)> = Vec::new();
        for &g in &fp.grams {
            // A gram many recent stories have is no story's rarest: no chain to walk.
            if self.sketch.df(g) > COMMON {
                continue;
            }
            let mut id = self.heads.get(&g).copied().unwrap_or(NONE);
            let mut walked = 0;
            while let Some(entry) = self.entry(id) {
                walked += 1;
                if walked > CHAIN {
                    break;
                }
                if (first_seen - entry.first_seen).abs() <= self.window && Some(entry.source) != own
                {
                    match found.iter_mut().find(|(f, _)| *f == id) {
                        Some((_, n)) => *n += 1,
                        None => found.push((id, 1)),
                    }
                }
                let slot = entry.grams.iter().position(|&x| x == g);
                id = slot.map_or(NONE, |k| entry.next[k]);
            }
        }
        found.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
        (found.into_iter())
            .filter_map(|(id, grams)| {
                Some(Candidate {
                    key: self.entry(id)?.key,
                    grams,
                })
            })
            .collect()
    }

    /// Files a story; then forgets the stories first seen more than the window before it.
    pub fn insert(&mut self, key: StoryKey, source: &str, first_seen: i64, fp: &Fingerprint) {
        let next_source = self.sources.len() as u16;
        let source = *self.sources.entry(source.to_owned()).or_insert(next_source);
        let mut grams = [NONE; RARE_GRAMS];
        let mut next = [NONE; RARE_GRAMS];
        let id = self.base.wrapping_add(self.entries.len() as u32);
        for (k, g) in self.rare(fp).into_iter().enumerate() {
            grams[k] = g;
            next[k] = self.heads.insert(g, id).unwrap_or(NONE);
        }
        self.entries.push_back(Entry {
            key,
            first_seen,
            source,
            grams,
            next,
        });
        self.evict(first_seen - self.window);
    }

    /// Forgets the stories first seen before `before`.
    pub fn evict(&mut self, before: i64) {
        while self.entries.front().is_some_and(|e| e.first_seen < before) {
            self.entries.pop_front();
            self.base = self.base.wrapping_add(1);
            self.evicted += 1;
        }
        // Heads pointing at evicted entries are dead weight: sweep them once as many have
        // gone as remain.
        if self.evicted > self.entries.len().max(1024) {
            let (base, len) = (self.base, self.entries.len() as u32);
            self.heads.retain(|_, id| id.wrapping_sub(base) < len);
            self.heads.shrink_to_fit();
            self.evicted = 0;
        }
    }

    fn entry(&self, id: u32) -> Option<&Entry> {
        if id == NONE {
            return None;
        }
        self.entries.get(id.wrapping_sub(self.base) as usize)
    }

    /// The grams `fp` is filed under: its title's rarest (the names and words particular to its
    /// event, which another copy's title or lede repeats), then its text's; fewest stories
    /// first, ties by value, so the choice is stable.
    fn rare(&self, fp: &Fingerprint) -> Vec<u32> {
        let rank = |grams: &[u32]| {
            let mut ranked: Vec<(u32, u32)> =
                grams.iter().map(|&g| (self.sketch.df(g), g)).collect();
            ranked.sort_unstable();
            ranked.into_iter().map(|(_, g)| g).collect::<Vec<_>>()
        };
        let mut out = rank(&fp.title_grams);
        out.truncate(RARE_GRAMS);
        for g in rank(&fp.grams) {
            if out.len() == RARE_GRAMS {
                break;
            }
            if !out.contains(&g) {
                out.push(g);
            }
        }
        out
    }
}
