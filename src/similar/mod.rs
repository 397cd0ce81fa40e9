//! Near-duplicate news: whether two stories from different sources, with different links and
//! wording, tell one event (SPEC "Stories, not links"). Pure: no store, no clock.
//!
//! A story's [`Fingerprint`] is taken from its title and the opening of its summary
//! ([`text::match_text`]: tags, bylines and copyright lines removed, folded), as a set of
//! character n-gram hashes, so Korean needs no word tokenizer (`번역을` and `번역` share
//! their n-grams), and the figures it states ([`figures`]). Two fingerprints are one event
//! when their n-grams overlap enough, weighted so that rare n-grams say more than common
//! ones ([`Weights`]), neither title names much that the other story never mentions, and
//! they state no conflicting figures ([`Likeness::same_event`]).

pub mod figures;
pub mod index;
pub mod text;

use std::collections::HashMap;

pub use figures::Figures;

/// Characters per n-gram of CJK text.
pub const GRAM: usize = 2;

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
        let (title, opening) = (text::clean_title(title), text::opening(summary));
        let title_grams = grams(&title);
        let text = format!("{title} {opening}");
        let mut all = title_grams.clone();
        all.extend(grams(&opening));
        all.sort_unstable();
        all.dedup();
        Fingerprint {
            grams: all,
            title_grams,
            figures: figures::figures(&text),
        }
    }
}

/// The hashes of `text`'s grams, sorted and without repeats: in Hangul and other CJK text,
/// each word's character bigrams (so `번역을` and `번역` share `번역`, and no tokenizer is
/// needed); in Latin text, each word cut to its first [`STEM`] letters (`unveils` and
/// `unveiled` meet), since letter n-grams of English say little.
pub fn grams(text: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for word in text.split_whitespace() {
        let chars: Vec<char> = word.chars().collect();
        let mut run_start = 0;
        while run_start < chars.len() {
            let cjk = is_cjk(chars[run_start]);
            let run_end = (run_start..chars.len())
                .find(|&j| is_cjk(chars[j]) != cjk)
                .unwrap_or(chars.len());
            let run = &chars[run_start..run_end];
            if cjk && run.len() >= GRAM {
                out.extend(run.windows(GRAM).map(hash));
            } else if cjk {
                out.push(hash(run));
            } else if !run
                .iter()
                .any(|c| c.is_ascii_digit() || !c.is_alphanumeric())
            {
                // Numbers are the figures' to compare, spelled as they may be.
                out.push(hash(&run[..run.len().min(STEM)]) ^ 1);
            }
            run_start = run_end;
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Letters of a Latin word that count.
pub const STEM: usize = 5;

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{1100}'..='\u{11FF}' | '\u{3040}'..='\u{30FF}' | '\u{3130}'..='\u{318F}' | '\u{3400}'..='\u{9FFF}' | '\u{AC00}'..='\u{D7AF}' | '\u{F900}'..='\u{FAFF}')
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

/// How much each gram says, by how rare it is.
pub trait Weigh {
    /// The weight of gram `g`.
    fn weight(&self, g: u32) -> f64;
}

impl Weigh for Weights {
    fn weight(&self, g: u32) -> f64 {
        Weights::weight(self, g)
    }
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
        idf(self.docs, df)
    }
}

/// Stories assumed besides those counted, none of them with the gram: without them a window of
/// a few stories would call every gram two copies share common, and weigh it least.
pub const BACKGROUND: f64 = 1000.0;

/// The weight of a gram `df` of `docs` stories have: `ln((docs + BACKGROUND) / df)`.
pub fn idf(docs: u32, df: u32) -> f64 {
    ((f64::from(docs) + BACKGROUND) / f64::from(df.max(1))).ln()
}

/// How alike two fingerprints' texts are, and whether their figures conflict.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Likeness {
    /// Weighted Jaccard of the whole texts' n-grams, 0 to 1.
    pub text: f64,
    /// Weighted overlap of the whole texts' n-grams (shared over the smaller text), 0 to 1.
    pub overlap: f64,
    /// Weighted overlap of the titles' n-grams (shared over the smaller title), 0 to 1.
    pub title: f64,
    /// Figures both texts state.
    pub shared_figures: usize,
    /// The share (by weight) of each title that the other text lacks entirely, the smaller of
    /// the two: two titles that each name something the other story never mentions tell
    /// different events (the same teams and score in two competitions).
    pub novel: f64,
    /// The texts state different figures of one kind.
    pub conflict: bool,
}

/// How much a title's novelty (what it names that the other story never mentions) counts
/// against the texts' overlap.
pub const NOVELTY_COST: f64 = 2.5;
/// How much each figure both texts state (up to three) counts for them.
pub const SHARED_FIGURE_BONUS: f64 = 0.05;
/// The score at and above which two stories tell one event. The three numbers were chosen on
/// `tests/data/merge/pairs.jsonl` (README: "Merging stories") for no merged hard negative, with
/// a margin, and recall as high as that allows.
pub const SAME_EVENT: f64 = -0.15;

impl Likeness {
    /// `overlap − NOVELTY_COST × novel + SHARED_FIGURE_BONUS × min(shared figures, 3)`.
    pub fn score(&self) -> f64 {
        self.overlap - NOVELTY_COST * self.novel
            + SHARED_FIGURE_BONUS * self.shared_figures.min(3) as f64
    }

    /// Whether this much likeness is one event: no conflicting figures, and a score of at
    /// least [`SAME_EVENT`].
    pub fn same_event(&self) -> bool {
        !self.conflict && self.score() >= SAME_EVENT
    }

    /// Compares `a` and `b` with `weights`.
    pub fn of(a: &Fingerprint, b: &Fingerprint, weights: &impl Weigh) -> Likeness {
        let (shared, union, in_a, in_b) = weighed(&a.grams, &b.grams, weights);
        let (t_shared, _, t_a, t_b) = weighed(&a.title_grams, &b.title_grams, weights);
        let ratio = |x: f64, y: f64| if y > 0.0 { x / y } else { 0.0 };
        Likeness {
            text: ratio(shared, union),
            overlap: ratio(shared, in_a.min(in_b)),
            title: ratio(t_shared, t_a.min(t_b)),
            shared_figures: a.figures.shared(&b.figures),
            novel: novelty(&a.title_grams, &b.grams, weights).min(novelty(
                &b.title_grams,
                &a.grams,
                weights,
            )),
            conflict: a.figures.conflict(&b.figures),
        }
    }
}

/// The share, by weight, of `title`'s grams that `text` lacks.
fn novelty(title: &[u32], text: &[u32], w: &impl Weigh) -> f64 {
    let (shared, _, in_title, _) = weighed(title, text, w);
    if in_title > 0.0 {
        1.0 - shared / in_title
    } else {
        0.0
    }
}

/// The weights of the n-grams shared, in either, in `a` and in `b` (both sorted).
fn weighed(a: &[u32], b: &[u32], w: &impl Weigh) -> (f64, f64, f64, f64) {
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
