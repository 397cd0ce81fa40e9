//! sosik (소식, "news"): a feed aggregation daemon.
//!
//! The library holds every stage; `main.rs` is a thin CLI over it. Data flows one way:
//!
//! ```text
//! schedule -> fetch -> decode -> parse -> normalize -> dedupe -> store   (ingest side)
//! store -> filter -> render -> serve                                     (publish side)
//! ```
//!
//! See ARCHITECTURE.md for the codemap and the invariants each module keeps.

pub mod app;
pub mod commands;
pub mod config;
#[cfg(unix)]
pub mod control;
pub mod decode;
pub mod dedupe;
pub mod discover;
pub mod fetch;
pub mod filter;
pub mod html;
pub mod import;
pub mod inspect;
pub mod metrics;
pub mod model;
pub mod normalize;
pub mod parse;
pub mod pipeline;
pub mod publish;
pub mod recovery;
pub mod render;
pub mod schedule;
pub mod serve;
mod signals;
pub mod similar;
pub mod store;
pub mod workers;

/// The message of a task that panicked, or why it did not finish.
pub(crate) fn join_message(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(panic) => panic_message(&*panic),
        Err(e) => e.to_string(),
    }
}

/// The message of a caught panic: the `&str` or `String` it was raised with.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic without a message".to_owned())
}

/// The candidate closest to `word` (case-insensitive edit distance, at most 2), for "did you
/// mean" hints in error messages.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let word = word.to_lowercase();
    candidates
        .map(|c| (edit_distance(&word, &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = above;
        }
    }
    row[b.len()]
}
