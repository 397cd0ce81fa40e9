//! feed-rs's model to our [`Story`]: identity, canonical links, dates, categories, clean text.
//!
//! Pure: no I/O, and "now" is passed in. Owns the identity rule of SPEC.md (canonical link
//! when unique within the document, else the feed's guid scoped to the source, else a hash of
//! the source, normalized title and summary; never feed-rs's generated ids) and everything that
//! makes two spellings of one item compare equal.

mod canonical;
mod simple;
pub mod text;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use feed_rs::model::{Entry, Feed, Text};
use url::Url;

pub use canonical::canonical_link;

use crate::model::{Identity, SourceId, Story, StorySource};
use crate::parse::{Extras, Parsed, latest_plausible};
use text::{
    Sanitizer, collapse_whitespace, escape_html, html_to_text, loose_text_to_text, truncate,
};

/// Longest title kept, in bytes; the rest of a runaway title is cut.
const MAX_TITLE: usize = 1_000;
/// Longest summary or content kept, in bytes, before sanitizing.
const MAX_HTML: usize = 512 * 1024;
/// Most categories and authors kept per story.
const MAX_LIST: usize = 32;

/// What normalization needs besides the document.
#[derive(Debug, Clone)]
pub struct Context {
    /// The source being read.
    pub source: SourceId,
    /// The document's URL after redirects.
    pub feed_url: Option<Url>,
    /// The time of this poll: first-seen time of new stories.
    pub now: DateTime<Utc>,
    /// Most stories kept from one document: the newest this many.
    pub max_items: usize,
}

/// A normalized document.
#[derive(Debug, Clone)]
pub struct Normalized {
    /// The feed's own title, plain text.
    pub title: Option<String>,
    /// The feed's home page, absolute.
    pub link: Option<String>,
    /// Stories, one per identity, in document order (then capped to the newest `max_items`).
    pub stories: Vec<Story>,
    /// Items dropped as duplicates of an earlier item in the same document.
    pub duplicates: usize,
}

/// Turns a parsed document into stories.
pub fn normalize(parsed: &Parsed, ctx: &Context) -> Normalized {
    let feed = &parsed.feed;
    let channel_link = feed_link(feed, ctx.feed_url.as_ref());
    // Relative URLs resolve against the document (feed-rs already applied xml:base); a file://
    // document's links are relative to the site it describes, so use its channel link.
    let base = match &ctx.feed_url {
        Some(url) if matches!(url.scheme(), "http" | "https") => Some(url.clone()),
        _ => channel_link.as_deref().and_then(|l| Url::parse(l).ok()),
    };
    let sanitizer = Sanitizer::new(base.as_ref());
    let feed_authors = people(&feed.authors);

    let drafts: Vec<Draft> = feed
        .entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            draft(
                entry,
                subjects(&parsed.extras, feed, i),
                base.as_ref(),
                &sanitizer,
                feed,
                &feed_authors,
                ctx,
            )
        })
        .collect();

    let identities = identities(&drafts, ctx);
    let (mut stories, duplicates) = unique_stories(drafts, identities, ctx);
    keep_newest(&mut stories, ctx.max_items);

    Normalized {
        title: feed
            .title
            .as_ref()
            .map(plain_text)
            .filter(|t| !t.is_empty()),
        link: channel_link,
        stories,
        duplicates,
    }
}

/// Each draft's identity: its link when no other item in this document uses it, else its guid
/// (scoped to the source), else a digest of its title and summary.
fn identities(drafts: &[Draft], ctx: &Context) -> Vec<Identity> {
    let mut link_counts: HashMap<&str, usize> = HashMap::new();
    for d in drafts {
        if let Some(link) = &d.story_link {
            *link_counts.entry(link.as_str()).or_default() += 1;
        }
    }
    drafts
        .iter()
        .map(|d| match &d.story_link {
            Some(link) if link_counts[link.as_str()] == 1 => Identity::Link(link.clone()),
            _ if !d.guid.is_empty() => Identity::Guid {
                source: ctx.source.clone(),
                guid: d.guid.clone(),
            },
            _ => Identity::Content {
                source: ctx.source.clone(),
                digest: content_digest(&d.story.title, d.story.summary.as_deref()),
            },
        })
        .collect()
}

/// The drafts as stories of this source, each identity once (the first item wins); and how
/// many items were dropped as duplicates. Drafts are moved into stories, not cloned.
fn unique_stories(
    drafts: Vec<Draft>,
    identities: Vec<Identity>,
    ctx: &Context,
) -> (Vec<Story>, usize) {
    // A guid is a key of its story only when no other item of the document uses it.
    let mut guid_counts: HashMap<&str, usize> = HashMap::new();
    for d in &drafts {
        *guid_counts.entry(d.guid.as_str()).or_default() += 1;
    }
    let unique_guid: Vec<bool> = drafts
        .iter()
        .map(|d| !d.guid.is_empty() && guid_counts[d.guid.as_str()] == 1)
        .collect();
    let mut seen = HashSet::new();
    let mut duplicates = 0;
    let mut stories = Vec::with_capacity(drafts.len());
    for ((d, identity), unique_guid) in drafts.into_iter().zip(identities).zip(unique_guid) {
        if !seen.insert(identity.key()) {
            duplicates += 1;
            continue;
        }
        let mut story = d.story;
        story.identity = identity;
        story.guid = unique_guid.then_some(d.guid);
        story.sources = vec![StorySource {
            id: ctx.source.clone(),
            fingerprint: story.fingerprint(),
        }];
        stories.push(story);
    }
    (stories, duplicates)
}

/// Keeps the newest `max` stories; a stable sort keeps document order among equal dates.
fn keep_newest(stories: &mut Vec<Story>, max: usize) {
    if stories.len() <= max {
        return;
    }
    let mut order: Vec<usize> = (0..stories.len()).collect();
    order.sort_by(|a, b| stories[*b].published.cmp(&stories[*a].published));
    let keep: HashSet<usize> = order.into_iter().take(max).collect();
    let mut i = 0;
    stories.retain(|_| {
        i += 1;
        keep.contains(&(i - 1))
    });
}

/// One item before identity is settled (which needs the whole document).
struct Draft {
    story: Story,
    story_link: Option<String>,
    guid: String,
}

fn draft(
    entry: &Entry,
    subjects: &[String],
    base: Option<&Url>,
    sanitizer: &Sanitizer,
    feed: &Feed,
    feed_authors: &[String],
    ctx: &Context,
) -> Draft {
    let link = entry_link(entry).and_then(|l| canonical_link(l, base));
    let summary = entry.summary.as_ref().and_then(|t| html_of(t, sanitizer));
    let content = entry.content.as_ref().and_then(|c| {
        let body = c.body.as_deref()?;
        let html = if c.content_type.subty().as_str().contains("html") {
            truncate(body, MAX_HTML).to_owned()
        } else {
            escape_html(truncate(body, MAX_HTML))
        };
        sanitizer.clean(&html)
    });
    let mut title = entry.title.as_ref().map(plain_text).unwrap_or_default();
    if title.is_empty() {
        // A title-less item (allowed in RSS) is shown by the start of its text.
        let text = summary
            .as_deref()
            .or(content.as_deref())
            .map(html_to_text)
            .unwrap_or_default();
        title = truncate(&without_controls(text), 120).to_owned();
    }

    let latest = latest_plausible(ctx.now);
    let plausible = |d: Option<DateTime<Utc>>| d.filter(|d| *d <= latest);
    let published = plausible(entry.published)
        .or(plausible(entry.updated))
        .unwrap_or(ctx.now);
    let updated = plausible(entry.updated)
        .filter(|u| *u >= published)
        .unwrap_or(published);

    let mut categories = Vec::new();
    for c in &entry.categories {
        push_unique(&mut categories, &c.term);
        if let Some(label) = &c.label {
            push_unique(&mut categories, label);
        }
    }
    for s in subjects {
        push_unique(&mut categories, s);
    }
    let mut authors = people(&entry.authors);
    if authors.is_empty() {
        authors = feed_authors.to_vec();
    }

    let story = Story {
        identity: Identity::Link(String::new()),
        link: link.clone(),
        title,
        summary,
        content,
        authors,
        categories,
        published,
        updated,
        first_seen: ctx.now,
        lang: entry
            .language
            .clone()
            .or_else(|| feed.language.clone())
            .filter(|l| !l.trim().is_empty()),
        guid: None,
        sources: Vec::new(),
    };
    Draft {
        story,
        story_link: link,
        guid: entry.id.trim().to_owned(),
    }
}

/// The item's page: an alternate link, else the first link that is not self/enclosure.
fn entry_link(entry: &Entry) -> Option<&str> {
    let usable = |rel: Option<&str>| {
        !matches!(
            rel,
            Some("self" | "enclosure" | "edit" | "replies" | "related" | "via")
        )
    };
    entry
        .links
        .iter()
        .find(|l| matches!(l.rel.as_deref(), None | Some("alternate")))
        .or_else(|| entry.links.iter().find(|l| usable(l.rel.as_deref())))
        .map(|l| l.href.as_str())
        .filter(|h| !h.trim().is_empty())
}

fn feed_link(feed: &Feed, feed_url: Option<&Url>) -> Option<String> {
    feed.links
        .iter()
        .find(|l| matches!(l.rel.as_deref(), None | Some("alternate")))
        .and_then(|l| canonical_link(&l.href, feed_url))
}

/// `dc:subject`s of entry `i`, when the extras scan saw the same items feed-rs did.
fn subjects<'a>(extras: &'a Extras, feed: &Feed, i: usize) -> &'a [String] {
    if extras.items.len() == feed.entries.len() {
        &extras.items[i].subjects
    } else {
        &[]
    }
}

/// `text/html`, `application/xhtml+xml`: the subtype says it (read without a copy).
fn is_html(text: &Text) -> bool {
    text.content_type.subty().as_str().contains("html")
}

/// A title's text. Titles typed as text are still read loosely (references decoded, stray
/// HTML tags dropped): publishers escape RSS titles twice or put markup in them, and a reader
/// must never show `&amp;` or `<b>`.
fn plain_text(text: &Text) -> String {
    let raw = truncate(&text.content, MAX_TITLE * 4);
    let plain = if is_html(text) {
        html_to_text(raw)
    } else {
        loose_text_to_text(raw)
    };
    truncate(&without_controls(plain), MAX_TITLE).to_owned()
}

/// `text` without control characters (other than whitespace, already collapsed): a title is
/// printed to terminals by `sosik items`, and a U+0008 or an escape sequence has no place in it.
fn without_controls(text: String) -> String {
    if !text.chars().any(char::is_control) {
        return text;
    }
    let kept: String = text.chars().filter(|c| !c.is_control()).collect();
    collapse_whitespace(&kept)
}

fn html_of(text: &Text, sanitizer: &Sanitizer) -> Option<String> {
    let raw = truncate(&text.content, MAX_HTML);
    if is_html(text) {
        sanitizer.clean(raw)
    } else {
        sanitizer.clean(&escape_html(raw))
    }
}

/// Author names: feed-rs reads `bob@x (Bob)` as the name "(Bob)", so parentheses are peeled;
/// a person with only an email is named by it.
fn people(persons: &[feed_rs::model::Person]) -> Vec<String> {
    let mut names = Vec::new();
    for p in persons {
        let name = p.name.as_deref().map(|n| {
            n.trim()
                .trim_start_matches('(')
                .trim_end_matches(')')
                .trim()
        });
        match name.filter(|n| !n.is_empty()).or(p.email.as_deref()) {
            Some(n) => push_unique(&mut names, n),
            None => continue,
        }
    }
    names
}

/// Adds `value` unless an equal one, ignoring case, is there: publishers repeat a category
/// with different capitals (`software`, `Software`), and `category:` matches ignore case
/// anyway. The first spelling stays.
fn push_unique(list: &mut Vec<String>, value: &str) {
    let value = collapse_whitespace(value);
    if value.is_empty() || list.len() >= MAX_LIST {
        return;
    }
    let fold = |s: &str| s.chars().flat_map(char::to_lowercase).collect::<Vec<_>>();
    let folded = fold(&value);
    // Compared without allocating per stored value: most items carry one or two categories.
    let same = |v: &String| {
        v.chars()
            .flat_map(char::to_lowercase)
            .eq(folded.iter().copied())
    };
    if !list.iter().any(same) {
        list.push(value);
    }
}

/// The digest behind a content identity: the lowercased title and the summary's text,
/// whitespace collapsed, so re-wrapping or re-tagging the same words keeps the identity.
fn content_digest(title: &str, summary: Option<&str>) -> String {
    let mut h = blake3::Hasher::new();
    h.update(collapse_whitespace(&title.to_lowercase()).as_bytes());
    h.update(b"\0");
    if let Some(summary) = summary {
        h.update(html_to_text(summary).as_bytes());
    }
    h.finalize().to_hex()[..32].to_owned()
}

#[cfg(test)]
mod tests;
