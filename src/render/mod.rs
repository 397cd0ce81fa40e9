//! Rendering: one output feed's stories -> RSS 2.0, Atom 1.0 or JSON Feed 1.1 bytes.
//!
//! This module owns the three output formats: their element choices, URLs, dates and escaping.
//! It is pure. It never reads the store, the config or the network, and never asks for the
//! current time: everything it writes comes from its arguments, so the same input always gives
//! the same bytes. That matters twice: HTTP ETags are hashes of these bytes, and `sosik render`
//! must print exactly what HTTP serves.
//!
//! The caller chooses and orders the stories (newest first, already filtered and limited);
//! rendering keeps that order.

mod atom;
mod json;
mod rss;
mod text;

#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::model::{SourceId, Story};

/// The name written in each feed's generator element.
const GENERATOR: &str = "sosik";

/// One of the three formats an output feed is served in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// RSS 2.0, served as `/feeds/NAME.xml`.
    Rss,
    /// Atom 1.0 (RFC 4287), served as `/feeds/NAME.atom`.
    Atom,
    /// JSON Feed 1.1, served as `/feeds/NAME.json`.
    Json,
}

impl Format {
    /// Every format, in the order the index page lists them.
    pub const ALL: [Format; 3] = [Format::Rss, Format::Atom, Format::Json];

    /// The HTTP `Content-Type` of this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml; charset=utf-8",
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::Json => "application/feed+json",
        }
    }

    /// The file extension in the feed's URL path (`xml`, `atom` or `json`), without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Rss => "xml",
            Format::Atom => "atom",
            Format::Json => "json",
        }
    }

    /// The format served under a URL extension (`xml`, `atom`, `json`), if any.
    pub fn from_extension(extension: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.extension() == extension)
    }

    /// The name used on the command line (`rss`, `atom`, `json`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Rss => "rss",
            Format::Atom => "atom",
            Format::Json => "json",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A format name that is not `rss`, `atom` or `json`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown feed format {0:?}; use rss, atom or json")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    /// Reads a command-line format name: `rss`, `atom` or `json`, in lower case.
    fn from_str(s: &str) -> Result<Format, UnknownFormat> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

/// What an output feed says about itself: everything rendering needs besides the stories.
#[derive(Debug, Clone, Copy)]
pub struct FeedMeta<'a> {
    /// The output's name from the config (`[outputs.NAME]`); it names the feed's URLs.
    pub name: &'a str,
    /// The feed's title, plain text.
    pub title: &'a str,
    /// The feed's description, plain text; may be empty.
    pub description: &'a str,
    /// The server's public base URL without a trailing slash, e.g. `http://127.0.0.1:8080`.
    pub base_url: &'a str,
    /// How long readers may cache the feed, in minutes (RSS `<ttl>`); `None` or 0 writes none.
    pub ttl_minutes: Option<u32>,
    /// When the feed last changed. The caller decides (the newest `updated` among the stories,
    /// or a fixed time for an empty feed), because rendering never reads the clock. Atom
    /// always writes it; RSS writes `lastBuildDate` only when the feed has stories.
    pub updated: DateTime<Utc>,
}

impl FeedMeta<'_> {
    /// The feed's own URL in `format`: `{base_url}/feeds/{name}.{extension}`.
    pub fn feed_url(&self, format: Format) -> String {
        format!("{}/feeds/{}.{}", self.base(), self.name, format.extension())
    }

    /// The HTML page the feed belongs to: the server's index page, `{base_url}/`.
    pub fn home_page_url(&self) -> String {
        format!("{}/", self.base())
    }

    /// The base URL without trailing slashes, so a stray one never doubles in a path.
    fn base(&self) -> &str {
        self.base_url.trim_end_matches('/')
    }
}

/// What a feed says about a source a story came from: RSS `<source url="…">title</source>`,
/// and the Atom author of last resort.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    /// The source's title (its configured title, else the id).
    pub title: String,
    /// The URL sosik polls for this source, when it may be published (`http`/`https`);
    /// `None` for a `file:` source, whose URL is a local path. RSS's `<source>` requires a
    /// URL, so items of such a source carry none.
    pub url: Option<String>,
}

/// Another copy of an item's story: the same event told by another source under its own link
/// (SPEC "Stories, not links"), named in the item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherCopy {
    /// The copy's link.
    pub link: Option<String>,
    /// What its source is called (its title, else its id).
    pub source: String,
    /// The copy's own title.
    pub title: String,
}

/// One item of an output feed: its story, as its chosen copy tells it, and the story's other
/// copies.
#[derive(Debug, Clone, Copy)]
pub struct Item<'a> {
    /// The story.
    pub story: &'a Story,
    /// Its other copies, in the order they are named.
    pub copies: &'a [OtherCopy],
}

/// Renders one output feed in `format`, one item per story.
///
/// `stories` are written in the order given. `source_info` looks up what to say about a
/// story's first source; a source it does not know is simply not mentioned. Deterministic:
/// equal arguments give equal bytes.
pub fn render<'s>(
    format: Format,
    meta: &FeedMeta<'_>,
    stories: &[Story],
    source_info: impl Fn(&SourceId) -> Option<&'s SourceInfo>,
) -> Vec<u8> {
    let items: Vec<Item<'_>> = (stories.iter())
        .map(|story| Item { story, copies: &[] })
        .collect();
    render_items(format, meta, &items, source_info)
}

/// Renders one output feed in `format` from items that may name other copies of their story
/// (RSS: a closing paragraph of the description; Atom: `link rel="related"`; JSON Feed:
/// `_sosik.copies`).
pub fn render_items<'s>(
    format: Format,
    meta: &FeedMeta<'_>,
    items: &[Item<'_>],
    source_info: impl Fn(&SourceId) -> Option<&'s SourceInfo>,
) -> Vec<u8> {
    let first_source = |story: &Story| story.sources.first().and_then(|s| source_info(&s.id));
    match format {
        Format::Rss => rss::render(meta, items, first_source),
        Format::Atom => atom::render(meta, items, first_source),
        Format::Json => json::render(meta, items),
    }
}
