//! Atom 1.0 (RFC 4287) through `atom_syndication`.
//!
//! Two RFC rules shape the output beyond a field-by-field copy: every entry needs an author
//! (so one without gets its source's title, or the feed's), and an entry without `content`
//! needs an alternate link.

use atom_syndication::{
    Category, Content, Entry, Feed, FixedDateTime, Generator, Link, Person, Text, WriteConfig,
};
use chrono::{DateTime, Utc};

use super::text::safe;
use super::{FeedMeta, Format, GENERATOR, Item, OtherCopy, SourceInfo};
use crate::model::Story;

/// The whole Atom document, pretty-printed, ending in a newline.
pub(super) fn render<'s>(
    meta: &FeedMeta<'_>,
    items: &[Item<'_>],
    first_source: impl Fn(&Story) -> Option<&'s SourceInfo>,
) -> Vec<u8> {
    let self_url = meta.feed_url(Format::Atom);
    let feed = Feed {
        title: Text::plain(safe(meta.title)),
        // The self URL is the one identifier of this feed that stays put.
        id: self_url.clone(),
        // Set explicitly: atom_syndication's default is 1970-01-01.
        updated: fixed(meta.updated),
        generator: Some(Generator {
            value: GENERATOR.to_owned(),
            uri: None,
            version: Some(env!("CARGO_PKG_VERSION").to_owned()),
        }),
        links: vec![
            link(self_url, "self", "application/atom+xml"),
            link(meta.home_page_url(), "alternate", "text/html"),
        ],
        subtitle: (!meta.description.is_empty()).then(|| Text::plain(safe(meta.description))),
        entries: items
            .iter()
            .map(|item| entry(meta, item.story, item.copies, first_source(item.story)))
            .collect(),
        ..Feed::default()
    };
    let config = WriteConfig {
        write_document_declaration: true,
        indent_size: Some(2),
    };
    // The writer is a Vec, and quick-xml fails only when the writer does.
    let mut out = feed
        .write_with_config(Vec::new(), config)
        .expect("writing Atom into a Vec cannot fail");
    out.push(b'\n');
    out
}

/// One `<entry>`.
fn entry(
    meta: &FeedMeta<'_>,
    story: &Story,
    copies: &[OtherCopy],
    source: Option<&SourceInfo>,
) -> Entry {
    let (id, _) = story.identity.republished_guid();
    let lang = story.lang.as_deref().map(safe);
    let html = |value: &str| Text {
        lang: lang.clone(),
        ..Text::html(safe(value))
    };
    // RFC 4287 4.1.2 requires an author. When the publisher named nobody, the outlet the story
    // came from is the most useful name to show; the feed's own title is the last resort.
    let authors = if story.authors.is_empty() {
        vec![person(source.map_or(meta.title, |s| s.title.as_str()))]
    } else {
        story.authors.iter().map(|a| person(a)).collect()
    };
    // RFC 4287 4.1.2: an entry with neither content nor an alternate link is invalid, so such
    // an entry carries its summary (or nothing) as content.
    let content = match (&story.content, &story.link) {
        (Some(content), _) => Some(content.as_str()),
        (None, Some(_)) => None,
        (None, None) => Some(story.summary.as_deref().unwrap_or_default()),
    };
    Entry {
        title: Text {
            lang: lang.clone(),
            ..Text::plain(safe(&story.title))
        },
        id: safe(&id),
        updated: fixed(story.updated),
        published: Some(fixed(story.published)),
        authors,
        categories: story
            .categories
            .iter()
            .map(|c| Category {
                term: safe(c),
                ..Category::default()
            })
            .collect(),
        links: (story.link.iter())
            .map(|href| link(safe(href), "alternate", "text/html"))
            .chain(copies.iter().filter_map(related))
            .collect(),
        summary: story.summary.as_deref().map(html),
        content: content.map(|value| Content {
            lang: lang.clone(),
            value: Some(safe(value)),
            content_type: Some("html".to_owned()),
            ..Content::default()
        }),
        ..Entry::default()
    }
}

/// `<link rel="related" href="…" title="SOURCE: TITLE">` for another copy with a link.
fn related(copy: &OtherCopy) -> Option<Link> {
    Some(Link {
        title: Some(safe(&format!("{}: {}", copy.source, copy.title))),
        ..link(safe(copy.link.as_deref()?), "related", "text/html")
    })
}

fn person(name: &str) -> Person {
    Person {
        name: safe(name),
        ..Person::default()
    }
}

fn link(href: String, rel: &str, mime_type: &str) -> Link {
    Link {
        href,
        rel: rel.to_owned(),
        mime_type: Some(mime_type.to_owned()),
        ..Link::default()
    }
}

fn fixed(time: DateTime<Utc>) -> FixedDateTime {
    time.fixed_offset()
}
