//! The compiled filter tree and its evaluation against one story.
//!
//! Needles are normalized once, when a term is built; a story's fields are normalized lazily,
//! at most once per [`Node::eval`] call, and only the fields some term asks for.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::fmt;

use regex::{Regex, RegexBuilder};

use super::TagLookup;
use super::text::{html_text, normalize, normalize_cow};
use crate::model::Story;

/// Cap on one compiled regex (and on its lazy DFA cache), so a hostile or careless config
/// cannot make a filter eat memory. Generous for any realistic pattern, Unicode classes included.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A story field a term can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    Title,
    Summary,
    Content,
    /// Title, summary and content; the default when a term names no field.
    Text,
    Author,
    Category,
    Link,
    Source,
    Tag,
    Lang,
}

impl Field {
    pub(crate) const ALL: [Field; 10] = [
        Field::Title,
        Field::Summary,
        Field::Content,
        Field::Text,
        Field::Author,
        Field::Category,
        Field::Link,
        Field::Source,
        Field::Tag,
        Field::Lang,
    ];

    /// The field spelled `name`, in any ASCII case.
    pub(crate) fn from_name(name: &str) -> Option<Field> {
        Field::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Summary => "summary",
            Field::Content => "content",
            Field::Text => "text",
            Field::Author => "author",
            Field::Category => "category",
            Field::Link => "link",
            Field::Source => "source",
            Field::Tag => "tag",
            Field::Lang => "lang",
        }
    }
}

/// What a term looks for.
#[derive(Clone)]
enum Pattern {
    /// A word or phrase, normalized.
    Text(String),
    /// `/regex/`: the pattern as written (for display) and compiled.
    Regex(String, Regex),
}

impl Pattern {
    /// For substring fields: the needle occurs somewhere in `hay`.
    fn occurs_in(&self, hay: &str) -> bool {
        match self {
            Pattern::Text(needle) => hay.contains(needle.as_str()),
            Pattern::Regex(_, re) => re.is_match(hay),
        }
    }

    /// For whole-value fields: the needle is all of `hay`. A regex still searches; anchor it
    /// with `^…$` to match a whole value.
    fn equals(&self, hay: &str) -> bool {
        match self {
            Pattern::Text(needle) => hay == needle,
            Pattern::Regex(_, re) => re.is_match(hay),
        }
    }

    /// For `lang:`: the needle is the whole tag or its leading subtags, so `ko` matches `ko` and
    /// `ko-kr` but not `kok`.
    fn lang_prefix(&self, hay: &str) -> bool {
        match self {
            Pattern::Text(needle) => hay
                .strip_prefix(needle.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('-')),
            Pattern::Regex(_, re) => re.is_match(hay),
        }
    }
}

/// One `field:value` test.
#[derive(Clone)]
pub(crate) struct Term {
    field: Field,
    pattern: Pattern,
}

impl Term {
    /// A word or phrase term; `raw` is the text as written, unescaped.
    pub(crate) fn text(field: Field, raw: &str) -> Term {
        let mut needle = normalize(raw).into_owned();
        if field == Field::Lang {
            needle = needle.replace('_', "-");
        }
        Term {
            field,
            pattern: Pattern::Text(needle),
        }
    }

    /// A `/regex/` term; `raw` is the pattern with `\/` already unescaped. The error is a short
    /// reason, without position.
    pub(crate) fn regex(field: Field, raw: &str) -> Result<Term, String> {
        let regex = RegexBuilder::new(&normalize_regex_literals(raw))
            .case_insensitive(true)
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| regex_error_reason(&e))?;
        Ok(Term {
            field,
            pattern: Pattern::Regex(raw.to_owned(), regex),
        })
    }

    fn matches(&self, hay: &Haystack<'_>) -> bool {
        let p = &self.pattern;
        let story = hay.story;
        match self.field {
            Field::Title => p.occurs_in(hay.title()),
            Field::Summary => hay.summary().is_some_and(|s| p.occurs_in(s)),
            Field::Content => hay.content().is_some_and(|s| p.occurs_in(s)),
            Field::Text => {
                p.occurs_in(hay.title())
                    || hay.summary().is_some_and(|s| p.occurs_in(s))
                    || hay.content().is_some_and(|s| p.occurs_in(s))
            }
            Field::Author => hay.authors().iter().any(|a| p.occurs_in(a)),
            Field::Link => hay.link().is_some_and(|l| p.occurs_in(l)),
            Field::Category => hay.categories().iter().any(|c| p.equals(c)),
            Field::Source => story
                .sources
                .iter()
                .any(|s| p.equals(&normalize(s.id.as_str()))),
            Field::Tag => story
                .sources
                .iter()
                .flat_map(|s| hay.tags.tags(&s.id))
                .any(|t| p.equals(&normalize(t))),
            Field::Lang => hay.lang().is_some_and(|l| p.lang_prefix(l)),
        }
    }
}

/// Lets a regex written with the same characters as the stored text still match after both are
/// normalized: each non-ASCII character whose normal form is one character (full-width forms,
/// middle dots, capitals) is replaced by that character, escaped. ASCII is left alone, so regex
/// syntax is never touched; a character that normalizes to several (such as `㈜`) is kept as
/// written, since rewriting it could change what a following quantifier or a class means.
fn normalize_regex_literals(pattern: &str) -> Cow<'_, str> {
    if pattern.is_ascii() {
        return Cow::Borrowed(pattern);
    }
    let mut out = String::with_capacity(pattern.len());
    let mut buf = [0u8; 4];
    for c in pattern.chars() {
        if c.is_ascii() {
            out.push(c);
            continue;
        }
        let normal = normalize(c.encode_utf8(&mut buf));
        let mut chars = normal.chars();
        match (chars.next(), chars.next()) {
            (Some(n), None) => out.push_str(&regex::escape(n.encode_utf8(&mut [0u8; 4]))),
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The regex crate's error, cut to the one line that says why.
fn regex_error_reason(e: &regex::Error) -> String {
    match e {
        regex::Error::CompiledTooBig(limit) => {
            format!("regex is too large once compiled (limit {limit} bytes)")
        }
        regex::Error::Syntax(text) => {
            let why = text
                .lines()
                .rev()
                .find_map(|l| l.trim().strip_prefix("error: "));
            why.unwrap_or("syntax error").to_owned()
        }
        _ => e.to_string(),
    }
}

/// A filter expression: the tree the parser builds.
#[derive(Clone)]
pub(crate) enum Node {
    /// Every child matches.
    And(Vec<Node>),
    /// Some child matches.
    Or(Vec<Node>),
    Not(Box<Node>),
    Term(Term),
}

impl Node {
    /// Whether the story in `hay` satisfies this expression.
    pub(crate) fn eval(&self, hay: &Haystack<'_>) -> bool {
        match self {
            Node::And(nodes) => nodes.iter().all(|n| n.eval(hay)),
            Node::Or(nodes) => nodes.iter().any(|n| n.eval(hay)),
            Node::Not(node) => !node.eval(hay),
            Node::Term(term) => term.matches(hay),
        }
    }
}

/// An s-expression such as `(or text:"a" (and title:"b" (not tag:"c")))`: the structure the
/// parser saw, with needles as normalized, so tests and logs can check both.
impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (op, nodes) = match self {
            Node::Term(Term {
                field,
                pattern: Pattern::Text(needle),
            }) => {
                return write!(f, "{}:{needle:?}", field.name());
            }
            Node::Term(Term {
                field,
                pattern: Pattern::Regex(raw, _),
            }) => {
                return write!(f, "{}:/{raw}/", field.name());
            }
            Node::Not(node) => return write!(f, "(not {node:?})"),
            Node::And(nodes) => ("and", nodes),
            Node::Or(nodes) => ("or", nodes),
        };
        write!(f, "({op}")?;
        for node in nodes {
            write!(f, " {node:?}")?;
        }
        write!(f, ")")
    }
}

/// One story's fields in normalized form, each computed on first use during one match.
pub(crate) struct Haystack<'a> {
    story: &'a Story,
    tags: &'a dyn TagLookup,
    title: OnceCell<Cow<'a, str>>,
    summary: OnceCell<Option<Cow<'a, str>>>,
    content: OnceCell<Option<Cow<'a, str>>>,
    link: OnceCell<Option<Cow<'a, str>>>,
    lang: OnceCell<Option<Cow<'a, str>>>,
    authors: OnceCell<Vec<Cow<'a, str>>>,
    categories: OnceCell<Vec<Cow<'a, str>>>,
}

impl<'a> Haystack<'a> {
    pub(crate) fn new(story: &'a Story, tags: &'a dyn TagLookup) -> Haystack<'a> {
        Haystack {
            story,
            tags,
            title: OnceCell::new(),
            summary: OnceCell::new(),
            content: OnceCell::new(),
            link: OnceCell::new(),
            lang: OnceCell::new(),
            authors: OnceCell::new(),
            categories: OnceCell::new(),
        }
    }

    fn title(&self) -> &str {
        self.title.get_or_init(|| normalize(&self.story.title))
    }

    fn summary(&self) -> Option<&str> {
        let story = self.story;
        let summary = self.summary.get_or_init(|| {
            story
                .summary
                .as_deref()
                .map(|html| normalize_cow(html_text(html)))
        });
        summary.as_deref()
    }

    fn content(&self) -> Option<&str> {
        let story = self.story;
        let content = self.content.get_or_init(|| {
            story
                .content
                .as_deref()
                .map(|html| normalize_cow(html_text(html)))
        });
        content.as_deref()
    }

    fn link(&self) -> Option<&str> {
        self.link
            .get_or_init(|| self.story.link.as_deref().map(normalize))
            .as_deref()
    }

    fn lang(&self) -> Option<&str> {
        let lang = self.lang.get_or_init(|| {
            self.story.lang.as_deref().map(|l| match normalize(l) {
                n if n.contains('_') => Cow::Owned(n.replace('_', "-")),
                n => n,
            })
        });
        lang.as_deref()
    }

    fn authors(&self) -> &[Cow<'a, str>] {
        self.authors
            .get_or_init(|| self.story.authors.iter().map(|a| normalize(a)).collect())
    }

    fn categories(&self) -> &[Cow<'a, str>] {
        self.categories
            .get_or_init(|| self.story.categories.iter().map(|c| normalize(c)).collect())
    }
}
