//! JSON Feed 1.1 (<https://jsonfeed.org/version/1.1>) through our own serde structs: the
//! `jsonfeed` crate knows only 1.0.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::text::html_to_text;
use super::{FeedMeta, Format, Item, OtherCopy};
use crate::model::Story;

const VERSION: &str = "https://jsonfeed.org/version/1.1";

/// The top-level object. Field order is the serialization order, so output is stable.
#[derive(Serialize)]
struct JsonFeed<'a> {
    version: &'static str,
    title: &'a str,
    home_page_url: String,
    feed_url: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    items: Vec<JsonItem<'a>>,
}

#[derive(Serialize)]
struct JsonItem<'a> {
    /// The republished guid, as in RSS and Atom, so a reader switching formats sees no
    /// new items.
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    title: &'a str,
    /// Always present: the spec requires `content_html` or `content_text`.
    content_html: &'a str,
    /// Plain text, as the spec asks; ours is derived from the summary HTML.
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<String>,
    date_published: String,
    date_modified: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<JsonAuthor<'a>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    tags: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    language: Option<&'a str>,
    /// Our extension object (JSON Feed allows keys starting with `_`).
    #[serde(rename = "_sosik")]
    sosik: SosikExtension<'a>,
}

#[derive(Serialize)]
struct JsonAuthor<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct SosikExtension<'a> {
    /// Ids of the sources that carried the story: the one whose copy speaks first, then the
    /// others in first-seen order.
    sources: Vec<&'a str>,
    /// The story's other copies: other sources' links and titles for the same event.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    copies: Vec<JsonCopy<'a>>,
}

#[derive(Serialize)]
struct JsonCopy<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    source: &'a str,
    title: &'a str,
}

/// The whole JSON Feed document, pretty-printed, ending in a newline.
pub(super) fn render(meta: &FeedMeta<'_>, items: &[Item<'_>]) -> Vec<u8> {
    let feed = JsonFeed {
        version: VERSION,
        title: meta.title,
        home_page_url: meta.home_page_url(),
        feed_url: meta.feed_url(Format::Json),
        description: meta.description,
        items: items.iter().map(|i| item(i.story, i.copies)).collect(),
    };
    // Plain structs of strings and vectors: serialization into a Vec cannot fail.
    let mut out = serde_json::to_vec_pretty(&feed).expect("serializing JSON Feed cannot fail");
    out.push(b'\n');
    out
}

fn item<'a>(story: &'a Story, copies: &'a [OtherCopy]) -> JsonItem<'a> {
    let (id, _) = story.identity.republished_guid();
    let content_html = story
        .content
        .as_deref()
        .or(story.summary.as_deref())
        .unwrap_or_default();
    JsonItem {
        id,
        url: story.link.as_deref(),
        title: &story.title,
        content_html,
        summary: story
            .summary
            .as_deref()
            .map(html_to_text)
            .filter(|s| !s.is_empty()),
        date_published: rfc3339(story.published),
        date_modified: rfc3339(story.updated),
        authors: story
            .authors
            .iter()
            .map(|name| JsonAuthor { name })
            .collect(),
        tags: &story.categories,
        language: story.lang.as_deref(),
        sosik: SosikExtension {
            sources: story.sources.iter().map(|s| s.id.as_str()).collect(),
            copies: (copies.iter())
                .map(|c| JsonCopy {
                    url: c.link.as_deref(),
                    source: &c.source,
                    title: &c.title,
                })
                .collect(),
        },
    }
}

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}
