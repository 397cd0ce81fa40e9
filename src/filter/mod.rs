//! The filter language of an output's `filter` (SPEC "Filters"): parser, compiled matcher and
//! errors with positions.
//!
//! This module owns the grammar, the meaning of each field, and the text normalization that
//! makes `category:"IT·과학"` match `ITㆍ과학`. It is pure: no I/O, no config reading, no store
//! access. Source tags come in through [`TagLookup`], since they live in the config.
//!
//! Choices the SPEC leaves open:
//! - A word with a colon whose prefix is not a field name (`http://x`, `10:30`, `foo:bar`) is a
//!   plain word searched in `text`. Field names are case-insensitive; `AND`, `OR` and `NOT` are
//!   keywords only in upper case and as whole words (`NOT(a)` negates, `NOTa` is a word).
//! - `source:`, `tag:` and `category:` compare whole values; `lang:` matches a whole language
//!   tag or its leading subtags (`ko` matches `ko` and `ko-KR`, not `kok`; `_` counts as `-`);
//!   every other field matches substrings. A story without the field (no link, no lang) never
//!   matches a term on it, so `-lang:en` keeps stories of unknown language.
//! - Text is compared after NFKC, folding the Korean middle dots to U+00B7, lowercasing and
//!   collapsing whitespace runs to one space; summary and content are reduced to their text
//!   first (tags stripped, common entities decoded).
//! - A `/regex/` is case-insensitive and searches the normalized text of each value, also for
//!   whole-value fields (anchor with `^…$`). Its non-ASCII literals are normalized the same way.
//!   Flags (`/x/i`) are an error rather than a second term.
//! - In a `"phrase"`, `\"` is a quote and `\\` a backslash. Empty phrases and regexes are errors.

mod matcher;
mod parse;
mod text;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;

use crate::model::{SourceId, Story};

use self::matcher::{Haystack, Node};

/// A compiled output filter. Cheap to share across threads and to run over many stories.
///
/// `Display` prints the filter as written; `Debug` also shows the parsed tree.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// The filter as written, for display and equality.
    src: String,
    /// `None` for the empty filter, which matches everything.
    root: Option<Node>,
}

impl Filter {
    /// Parses and compiles a filter. An empty or all-whitespace filter matches every story.
    pub fn parse(src: &str) -> Result<Filter, FilterError> {
        let root = parse::parse(src)?;
        Ok(Filter {
            src: src.to_owned(),
            root,
        })
    }

    /// Whether `story` passes the filter; `tags` gives each source's configured tags, for
    /// `tag:` terms.
    pub fn matches(&self, story: &Story, tags: &dyn TagLookup) -> bool {
        match &self.root {
            None => true,
            Some(root) => root.eval(&Haystack::new(story, tags)),
        }
    }

    /// Whether this is the empty filter, so a caller can skip matching altogether.
    pub fn is_match_all(&self) -> bool {
        self.root.is_none()
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.src)
    }
}

/// Two filters are equal when they are written the same.
impl PartialEq for Filter {
    fn eq(&self, other: &Filter) -> bool {
        self.src == other.src
    }
}

impl Eq for Filter {}

/// Why a filter does not parse, and where: `col` is 1-based and counts characters, not bytes.
///
/// Displays as `col 14: expected ')'`; the config layer prefixes the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("col {col}: {message}")]
pub struct FilterError {
    /// 1-based column of the offending character, in characters; one past the end when the
    /// filter ended too soon.
    pub col: usize,
    /// What is wrong, as a short phrase.
    pub message: String,
}

/// Where `tag:` terms find a source's tags, which the config holds.
pub trait TagLookup {
    /// The tags configured for `source`; empty for a source this lookup does not know.
    fn tags(&self, source: &SourceId) -> &[String];
}

impl<S: BuildHasher> TagLookup for HashMap<SourceId, Vec<String>, S> {
    fn tags(&self, source: &SourceId) -> &[String] {
        self.get(source).map_or(&[], Vec::as_slice)
    }
}

impl TagLookup for BTreeMap<SourceId, Vec<String>> {
    fn tags(&self, source: &SourceId) -> &[String] {
        self.get(source).map_or(&[], Vec::as_slice)
    }
}
