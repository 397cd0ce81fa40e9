//! The filter language of an output's `filter` (SPEC "Filters"): parser, compiled matcher and
//! errors with positions.
//!
//! This module owns the grammar, the meaning of each field, and the text normalization that
//! makes `category:"IT·과학"` match `ITㆍ과학`. It is pure: no I/O, no config reading, no store
//! access. Source tags come in through [`TagLookup`], since they live in the config.
//!
//! Choices the SPEC leaves open:
//! - A word of letters and a colon whose letters are not a field name (`categroy:IT`) is an
//!   error naming the fields, since searching the text for "categroy:it" is never what was
//!   meant; before `//` it is a URL (`http://x`), and a colon after anything but letters
//!   (`10:30`) is part of a plain word. Field names are case-insensitive; `AND`, `OR` and `NOT`
//!   are keywords only in upper case and as whole words (`NOT(a)` negates, `NOTa` is a word).
//!   A lower-case `and`/`or`/`not` is searched for as a word and reported as a warning.
//! - `source:` and `tag:` values are handed to the config ([`Filter::unknown_references`]),
//!   which knows the sources and tags: naming none of them is a config error.
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
    references: Vec<Reference>,
    warnings: Vec<FilterError>,
}

/// A `source:` or `tag:` term's value, as written, and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// What the value names.
    pub kind: ReferenceKind,
    /// The value as written (unescaped).
    pub value: String,
    /// 1-based column of the value, in characters.
    pub col: usize,
}

/// What a [`Reference`] names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReferenceKind {
    /// A source id (`source:`).
    Source,
    /// A source tag (`tag:`).
    Tag,
}

impl Filter {
    /// Parses and compiles a filter. An empty or all-whitespace filter matches every story.
    pub fn parse(src: &str) -> Result<Filter, FilterError> {
        let parsed = parse::parse(src)?;
        Ok(Filter {
            src: src.to_owned(),
            root: parsed.root,
            references: parsed.references,
            warnings: parsed.warnings,
        })
    }

    /// What is legal but probably not meant, with its column: lower-case `and`, `or`, `not`
    /// read as words.
    pub fn warnings(&self) -> &[FilterError] {
        &self.warnings
    }

    /// The `source:` and `tag:` terms whose value names none of `sources` (ids) or `tags`,
    /// compared as the matcher compares them: each such term can never match anything.
    pub fn unknown_references<'a>(
        &self,
        sources: impl IntoIterator<Item = &'a str> + Clone,
        tags: impl IntoIterator<Item = &'a str> + Clone,
    ) -> Vec<&Reference> {
        fn known<'a>(value: &str, mut names: impl Iterator<Item = &'a str>) -> bool {
            let value = text::normalize(value);
            names.any(|n| text::normalize(n) == value)
        }
        self.references
            .iter()
            .filter(|r| match r.kind {
                ReferenceKind::Source => !known(&r.value, sources.clone().into_iter()),
                ReferenceKind::Tag => !known(&r.value, tags.clone().into_iter()),
            })
            .collect()
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
