//! RSS 2.0 through the `rss` crate, with the Atom (`atom:link rel="self"`), Dublin Core
//! (`dc:creator`, `dc:language`) and content (`content:encoded`) extensions.

use ::rss::extension::atom::{AtomExtension, Link};
use ::rss::extension::dublincore::DublinCoreExtension;
use ::rss::{Category, Channel, Guid, Item, Source};

use super::text::safe;
use super::{FeedMeta, Format, GENERATOR, Item as Told, OtherCopy, SourceInfo};
use crate::html::escape;
use crate::model::Story;

/// The whole RSS document, pretty-printed, ending in a newline.
pub(super) fn render<'s>(
    meta: &FeedMeta<'_>,
    items: &[Told<'_>],
    first_source: impl Fn(&Story) -> Option<&'s SourceInfo>,
) -> Vec<u8> {
    let channel = Channel {
        title: safe(meta.title),
        link: meta.home_page_url(),
        description: safe(meta.description),
        // An empty feed was never built from anything; RSS lets it say nothing.
        last_build_date: (!items.is_empty()).then(|| meta.updated.to_rfc2822()),
        generator: Some(GENERATOR.to_owned()),
        // RSS defines no meaning for 0, and validators reject it.
        ttl: meta.ttl_minutes.filter(|&m| m > 0).map(|m| m.to_string()),
        atom_ext: Some(AtomExtension {
            links: vec![Link {
                href: meta.feed_url(Format::Rss),
                rel: "self".to_owned(),
                mime_type: Some("application/rss+xml".to_owned()),
                ..Link::default()
            }],
        }),
        items: items
            .iter()
            .map(|told| item(told.story, told.copies, first_source(told.story)))
            .collect(),
        ..Channel::default()
    };
    // The writer is a Vec, and quick-xml fails only when the writer does.
    let mut out = channel
        .pretty_write_to(Vec::new(), b' ', 2)
        .expect("writing RSS into a Vec cannot fail");
    out.push(b'\n');
    out
}

/// One `<item>`.
///
/// The guid's `isPermaLink` comes from the story's identity. The rss crate writes the
/// attribute only when it is `false`: RSS 2.0 defines an absent `isPermaLink` as `true`.
fn item(story: &Story, copies: &[OtherCopy], source: Option<&SourceInfo>) -> Item {
    let (guid, permalink) = story.identity.republished_guid();
    // RSS has one description; readers that know content:encoded show the full text from it.
    // It ends with the story's other copies: RSS has one `<source>`, the chosen copy's.
    let told = story.summary.as_deref().or(story.content.as_deref());
    let description = match (told, also(copies)) {
        (told, None) => told.map(str::to_owned),
        (None, Some(also)) => Some(also),
        (Some(told), Some(also)) => Some(format!("{told}\n{also}")),
    };
    let dublin_core = DublinCoreExtension {
        creators: story.authors.iter().map(|a| safe(a)).collect(),
        languages: story.lang.iter().map(|l| safe(l)).collect(),
        ..DublinCoreExtension::default()
    };
    let has_dublin_core = !dublin_core.creators.is_empty() || !dublin_core.languages.is_empty();
    Item {
        title: Some(safe(&story.title)),
        link: story.link.as_deref().map(safe),
        description: description.as_deref().map(safe),
        categories: story
            .categories
            .iter()
            .map(|c| Category {
                name: safe(c),
                domain: None,
            })
            .collect(),
        guid: Some(Guid {
            value: safe(&guid),
            permalink,
        }),
        pub_date: Some(story.published.to_rfc2822()),
        // `url` is required: a source without a publishable URL is not named here.
        source: source.and_then(|s| {
            Some(Source {
                url: safe(s.url.as_deref()?),
                title: Some(safe(&s.title)),
            })
        }),
        content: story.content.as_deref().map(safe),
        dublin_core_ext: has_dublin_core.then_some(dublin_core),
        ..Item::default()
    }
}

/// The paragraph naming the other copies: `<p>Also: <a href="…">Source</a> (their title), …</p>`.
fn also(copies: &[OtherCopy]) -> Option<String> {
    if copies.is_empty() {
        return None;
    }
    let named: Vec<String> = copies
        .iter()
        .map(|c| {
            let (source, title) = (escape(&c.source), escape(&c.title));
            match &c.link {
                Some(link) => format!("<a href=\"{}\">{source}</a> ({title})", escape(link)),
                None => format!("{source} ({title})"),
            }
        })
        .collect();
    Some(format!("<p>Also: {}</p>", named.join(", ")))
}
