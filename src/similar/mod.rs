//! Near-duplicate news: whether two stories from different sources, with different links and
//! wording, tell one event (SPEC "Stories, not links"). Pure: no store, no clock.
//!
//! A story's [`Fingerprint`] is taken from its title and the opening of its summary
//! ([`text::match_text`]: tags, bylines and copyright lines removed, folded), as a set of
//! character n-gram hashes, so Korean needs no word tokenizer (`번역을` and `번역` share
//! their n-grams), and the figures it states ([`figures`]). Two fingerprints are one event
//! when their n-grams overlap enough, weighted so that rare n-grams say more than common
//! ones ([`Weights`]), and they state no conflicting figures.

pub mod figures;
pub mod text;

use std::collections::HashMap;

pub use figures::Figures;

/// Characters per n-gram.
pub const GRAM: usize = 3;

/// A story's text as near-duplicate detection sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fingerprint {
    /// The n-grams' hashes, sorted, without repeats.
    pub grams: Vec<u32>,
    /// The title's n-grams' hashes, sorted, without repeats.
    pub title_grams: Vec<u32>,
    /// The figures stated.
    pub figures: Figures,
}

impl Fingerprint {
    /// The fingerprint of a story's title and summary (plain text).
    pub fn of(title: &str, summary: &str) -> Fingerprint {
        let text = text::match_text(title, summary);
        let title_only = text::match_text(title, "");
        Fingerprint {
            grams: grams(&text),
            title_grams: grams(&title_only),
            figures: figures::figures(&text),
        }
    }
}

/// The hashes of `text`'s character n-grams, spaces left out (Korean spacing varies by outlet),
/// sorted and without repeats.
pub fn grams(text: &str) -> Vec<u32> {
    let chars: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    let mut out: Vec<u32> = chars.windows(GRAM).map(hash).collect();
    if out.is_empty() && !chars.is_empty() {
        out.push(hash(&chars));
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn hash(chars: &[char]) -> u32 {
    let mut h: u64 = 0x9E37_79B9_7F4A_7C15;
    for &c in chars {
        h ^= u64::from(c);
        h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        h ^= h >> 31;
    }
    (h >> 32) as u32
}

/// How much each n-gram says: `ln(N / df)` over the stories seen, so an n-gram every story has
/// (`했다`, `the `) counts little and a name or a rare word counts much.
#[derive(Debug, Clone, Default)]
pub struct Weights {
    df: HashMap<u32, u32>,
    docs: u32,
}

impl Weights {
    /// Counts the n-grams of one more story.
    pub fn add(&mut self, grams: &[u32]) {
        self.docs += 1;
        for g in grams {
            *self.df.entry(*g).or_default() += 1;
        }
    }

    /// The weight of n-gram `g`.
    pub fn weight(&self, g: u32) -> f64 {
        let df = self.df.get(&g).copied().unwrap_or(0).max(1);
        (f64::from(self.docs.max(2)) / f64::from(df)).ln().max(0.1)
    }
}

/// How alike two fingerprints' texts are, and whether their figures conflict.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Likeness {
    /// Weighted Jaccard of the whole texts' n-grams, 0 to 1.
    pub text: f64,
    /// Weighted overlap of the titles' n-grams (shared over the smaller title), 0 to 1.
    pub title: f64,
    /// The texts state different figures of one kind.
    pub conflict: bool,
}

impl Likeness {
    /// Compares `a` and `b` with `weights`.
    pub fn of(a: &Fingerprint, b: &Fingerprint, weights: &Weights) -> Likeness {
        let (shared, union, _, _) = weighed(&a.grams, &b.grams, weights);
        let (t_shared, _, t_a, t_b) = weighed(&a.title_grams, &b.title_grams, weights);
        Likeness {
            text: if union > 0.0 { shared / union } else { 0.0 },
            title: if t_a.min(t_b) > 0.0 {
                t_shared / t_a.min(t_b)
            } else {
                0.0
            },
            conflict: a.figures.conflict(&b.figures),
        }
    }
}

/// The weights of the n-grams shared, in either, in `a` and in `b` (both sorted).
fn weighed(a: &[u32], b: &[u32], w: &Weights) -> (f64, f64, f64, f64) {
    let (mut i, mut j) = (0, 0);
    let (mut shared, mut union, mut in_a, mut in_b) = (0.0, 0.0, 0.0, 0.0);
    while i < a.len() || j < b.len() {
        let (x, y) = (a.get(i), b.get(j));
        match (x, y) {
            (Some(x), Some(y)) if x == y => {
                let weight = w.weight(*x);
                shared += weight;
                union += weight;
                in_a += weight;
                in_b += weight;
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x < y => {
                let weight = w.weight(*x);
                union += weight;
                in_a += weight;
                i += 1;
            }
            (Some(x), None) => {
                let weight = w.weight(*x);
                union += weight;
                in_a += weight;
                i += 1;
            }
            (_, Some(y)) => {
                let weight = w.weight(*y);
                union += weight;
                in_b += weight;
                j += 1;
            }
            (None, None) => break,
        }
    }
    (shared, union, in_a, in_b)
}
