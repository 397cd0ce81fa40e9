//! Finding the feeds behind a URL (`sosik add`): the URL itself when it reads as a feed, else
//! the page's `<link rel="alternate">` feeds and the common feed paths on its origin, each
//! candidate fetched and kept only when it reads as a feed.
//!
//! The HTML side is a small attribute scanner over `<link>` and `<base>` tags, not an HTML
//! parser: feed links sit in a page's head, written plainly. It never edits the config (that is
//! `config::edit`) and stores nothing.

use chrono::Utc;
use url::Url;

use crate::decode::decode;
use crate::fetch::{FetchError, FetchOutcome, FetchRequest, Fetched, Fetcher};
use crate::model::SourceId;
use crate::pipeline::read_document;

/// The paths tried on a page's origin after its `<link>` feeds, in this order.
pub const COMMON_PATHS: &[&str] = &[
    "/rss",
    "/rss/",
    "/feed",
    "/rss.xml",
    "/feed.xml",
    "/atom.xml",
    "/index.xml",
];

/// Most feed links of one page checked: each is a fetch, and a page is not trusted to be small.
pub const MAX_LINKS: usize = 16;

/// The `type`s of a `<link rel="alternate">` that names a feed.
const FEED_TYPES: &[&str] = &[
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/json",
];

/// A URL that answered with a feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    /// The URL to configure: the one asked for, or where permanent redirects led.
    pub url: Url,
    /// The URL that answered, after every redirect.
    pub final_url: Url,
    /// The feed's own title.
    pub title: Option<String>,
}

/// What [`find_feeds`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    /// Whether the URL itself is a feed (then `feeds` is that one feed).
    pub direct: bool,
    /// The feeds found, links first, then common paths; one per final URL.
    pub feeds: Vec<Feed>,
}

/// Fetches `url`; a feed is the answer itself, anything else is searched as an HTML page.
/// Only fetching `url` itself can fail: a candidate that cannot be fetched or read is no feed.
pub async fn find_feeds(
    fetcher: &Fetcher,
    url: &Url,
    max_items: usize,
) -> Result<Discovery, FetchError> {
    let fetched = fetch(fetcher, url).await?;
    if let Some(feed) = as_feed(url, fetched.clone(), max_items).await {
        return Ok(Discovery {
            direct: true,
            feeds: vec![feed],
        });
    }
    let page = fetched
        .meta
        .final_url
        .clone()
        .unwrap_or_else(|| url.clone());
    let text = decode(&fetched.body, fetched.content_type.as_deref(), None)
        .map(|d| d.text)
        .unwrap_or_default();
    let checks = candidates(&text, &page)
        .into_iter()
        .map(|candidate| async move {
            let fetched = fetch(fetcher, &candidate).await.ok()?;
            as_feed(&candidate, fetched, max_items).await
        });
    let mut feeds: Vec<Feed> = Vec::new();
    for feed in futures_util::future::join_all(checks)
        .await
        .into_iter()
        .flatten()
    {
        if !feeds.iter().any(|f| f.final_url == feed.final_url) {
            feeds.push(feed);
        }
    }
    Ok(Discovery {
        direct: false,
        feeds,
    })
}

async fn fetch(fetcher: &Fetcher, url: &Url) -> Result<Fetched, FetchError> {
    let request = FetchRequest {
        url: Some(url.clone()),
        ..Default::default()
    };
    match fetcher.fetch(&request).await? {
        FetchOutcome::Fetched(fetched) => Ok(fetched),
        FetchOutcome::NotModified(_) => unreachable!("no validators were sent"),
    }
}

/// `fetched` read as a feed (on a blocking thread: parsing is CPU work), or `None`.
async fn as_feed(asked: &Url, fetched: Fetched, max_items: usize) -> Option<Feed> {
    let final_url = fetched
        .meta
        .final_url
        .clone()
        .unwrap_or_else(|| asked.clone());
    let url = fetched
        .meta
        .moved_to
        .clone()
        .unwrap_or_else(|| asked.clone());
    let source = SourceId::new("add").expect("a valid id");
    let document = tokio::task::spawn_blocking(move || {
        read_document(&fetched, &source, chrono_tz::UTC, Utc::now(), max_items).ok()
    })
    .await
    .ok()??;
    Some(Feed {
        url,
        final_url,
        title: document.title,
    })
}

/// The URLs worth checking on the page at `page` whose text is `html`: its feed links
/// (resolved against its `<base href>` and `page`; the first [`MAX_LINKS`]), then
/// [`COMMON_PATHS`] on its origin; each once.
pub fn candidates(html: &str, page: &Url) -> Vec<Url> {
    let tags = scan_tags(html);
    // The first `<base>` with an `href` counts, as in browsers.
    let base = tags
        .iter()
        .filter(|t| t.name == "base")
        .find_map(|t| t.attr("href"))
        .and_then(|href| page.join(href.trim()).ok())
        .unwrap_or_else(|| page.clone());
    let links = tags
        .iter()
        .filter(|t| t.name == "link" && is_feed_link(t))
        .filter_map(|t| base.join(t.attr("href")?.trim()).ok())
        .take(MAX_LINKS);
    let common = COMMON_PATHS
        .iter()
        .filter(|_| matches!(page.scheme(), "http" | "https"))
        .filter_map(|path| page.join(path).ok());
    let mut found: Vec<Url> = Vec::new();
    for url in links.chain(common) {
        let url = without_fragment(url);
        if matches!(url.scheme(), "http" | "https") && !found.contains(&url) {
            found.push(url);
        }
    }
    found
}

fn without_fragment(mut url: Url) -> Url {
    url.set_fragment(None);
    url
}

/// `rel` holds `alternate` (a space-separated, case-insensitive list) and `type` is a feed's.
fn is_feed_link(tag: &Tag) -> bool {
    let alternate = tag.attr("rel").is_some_and(|rel| {
        rel.split_ascii_whitespace()
            .any(|r| r.eq_ignore_ascii_case("alternate"))
    });
    let feed_type = tag.attr("type").is_some_and(|t| {
        let essence = t.split(';').next().unwrap_or_default().trim();
        FEED_TYPES.iter().any(|f| f.eq_ignore_ascii_case(essence))
    });
    alternate && feed_type
}

/// A `<link>` or `<base>` start tag: its lowercase name and attributes (names lowercase,
/// values with character references decoded), in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Tag {
    name: &'static str,
    attrs: Vec<(String, String)>,
}

impl Tag {
    /// The first value of attribute `name`, as HTML keeps the first of a repeated attribute.
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Every `<link>` and `<base>` start tag of `html`, skipping comments and the insides of
/// `<script>` and `<style>` (where a `<link` is text, not a tag).
fn scan_tags(html: &str) -> Vec<Tag> {
    let mut tags = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
            continue;
        }
        let name_len = rest[1..]
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len() - 1);
        let name = rest[1..1 + name_len].to_ascii_lowercase();
        let name = match name.as_str() {
            "link" => "link",
            "base" => "base",
            "script" => "script",
            "style" => "style",
            _ => {
                // Text, another tag, `</…>` or `<!DOCTYPE>`: step over the `<` only, so a
                // stray quote in a tag we do not read cannot hide the links after it.
                rest = &rest[1..];
                continue;
            }
        };
        // A tag cut off by the end of the document is no tag.
        let Some((attrs, after)) = attributes(&rest[1 + name_len..]) else {
            break;
        };
        if matches!(name, "script" | "style") {
            let close = format!("</{name}");
            rest = find_ignoring_case(after, &close).map_or("", |end| &after[end..]);
            continue;
        }
        tags.push(Tag { name, attrs });
        rest = after;
    }
    tags
}

/// Where `needle` (ASCII) first occurs in `haystack`, ignoring ASCII case.
fn find_ignoring_case(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// The attributes at the start of `s` (just after a tag's name) up to the tag's `>`, and the
/// text after it; `None` when the tag never ends.
fn attributes(mut s: &str) -> Option<(Vec<(String, String)>, &str)> {
    let mut attrs = Vec::new();
    loop {
        s = s.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '/');
        if let Some(after) = s.strip_prefix('>') {
            return Some((attrs, after));
        }
        if s.is_empty() {
            return None;
        }
        let name_end = s
            .find(|c: char| c.is_ascii_whitespace() || matches!(c, '=' | '>' | '/'))
            .unwrap_or(s.len());
        let name = s[..name_end].to_ascii_lowercase();
        s = s[name_end..].trim_start_matches(|c: char| c.is_ascii_whitespace());
        let mut value = String::new();
        if let Some(after) = s.strip_prefix('=') {
            s = after.trim_start_matches(|c: char| c.is_ascii_whitespace());
            let raw;
            match s.chars().next() {
                Some(quote @ ('"' | '\'')) => {
                    let inner = &s[1..];
                    let end = inner.find(quote).unwrap_or(inner.len());
                    raw = &inner[..end];
                    s = inner.get(end + 1..).unwrap_or("");
                }
                _ => {
                    let end = s
                        .find(|c: char| c.is_ascii_whitespace() || c == '>')
                        .unwrap_or(s.len());
                    raw = &s[..end];
                    s = &s[end..];
                }
            }
            value = unescape(raw);
        }
        // A stray `=` has no name: it was stepped over, and names nothing.
        if !name.is_empty() {
            attrs.push((name, value));
        }
    }
}

/// `s` with its character references decoded (`&amp;` in a query string, most often).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = crate::html::push_reference(&mut out, &rest[at..]);
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(html: &str, page: &str) -> Vec<String> {
        let page = Url::parse(page).unwrap();
        candidates(html, &page)
            .into_iter()
            .filter(|u| !COMMON_PATHS.iter().any(|p| page.join(p).unwrap() == *u))
            .map(String::from)
            .collect()
    }

    #[test]
    fn feed_links_resolve_against_the_page_and_keep_their_order() {
        let html = r#"<!DOCTYPE html><html><head>
            <link rel="stylesheet" href="/style.css">
            <link rel="alternate" type="application/rss+xml" title="All" href="rss/all.xml">
            <link rel="alternate" type="application/atom+xml" href="https://other.kr/atom">
            <link rel="alternate" type="text/html" hreflang="en" href="/en/">
            <link rel="alternate" type="application/feed+json" href="//cdn.kr/feed.json">
            <link rel="alternate" type="application/json" href="/feed.json?a=1&amp;b=2#top">
            </head><body></body></html>"#;
        assert_eq!(
            urls(html, "https://news.kr/section/page.html"),
            [
                "https://news.kr/section/rss/all.xml",
                "https://other.kr/atom",
                "https://cdn.kr/feed.json",
                "https://news.kr/feed.json?a=1&b=2",
            ]
        );
    }

    #[test]
    fn attributes_come_in_any_order_case_and_quoting() {
        let html = "<HEAD><LINK HREF=/a.xml TYPE='Application/RSS+XML' REL=\"Alternate\"/>\
            <link\n\ttype=application/atom+xml\nhref = \"b.xml\" rel='home  ALTERNATE'>\
            <link href=\"/c.xml\" rel=alternate type=\"application/rss+xml; charset=utf-8\" />\
            <link rel=\"alternate stylesheet\" type=\"text/css\" href=\"/d.css\">\
            <link rel=\"feed\" type=\"application/rss+xml\" href=\"/not-alternate.xml\">";
        assert_eq!(
            urls(html, "http://a.kr/x/"),
            [
                "http://a.kr/a.xml",
                "http://a.kr/x/b.xml",
                "http://a.kr/c.xml"
            ]
        );
    }

    #[test]
    fn base_href_is_resolved_against_the_page_and_then_used_for_links() {
        let html = r#"<head><base target="_blank"><BASE HREF="/blog/">
            <base href="/ignored/">
            <link rel="alternate" type="application/rss+xml" href="feed.xml"></head>"#;
        assert_eq!(
            urls(html, "https://a.kr/2026/11/post"),
            ["https://a.kr/blog/feed.xml"]
        );
        let absolute = r#"<base href="https://cdn.a.kr/m/"><link rel=alternate
            type=application/atom+xml href=atom>"#;
        assert_eq!(urls(absolute, "https://a.kr/"), ["https://cdn.a.kr/m/atom"]);
    }

    #[test]
    fn comments_scripts_and_broken_tags_hide_no_links_and_invent_none() {
        let html = r#"<!-- <link rel="alternate" type="application/rss+xml" href="/commented"> -->
            <script>var s = '<link rel="alternate" type="application/rss+xml" href="/script">';</SCRIPT>
            <p>1 < 2 and <linked> text</p><links rel=alternate type=application/rss+xml href=/x>
            <link rel=alternate type="application/rss+xml" href="/real">
            <link rel="alternate" type="application/rss+xml" href="/never-closed"#;
        assert_eq!(urls(html, "https://a.kr/"), ["https://a.kr/real"]);
    }

    #[test]
    fn common_paths_follow_the_links_once_each_on_the_origin() {
        let html = r#"<link rel="alternate" type="application/rss+xml" href="/rss.xml">"#;
        let page = Url::parse("https://a.kr:8443/deep/page?q=1").unwrap();
        let all: Vec<String> = candidates(html, &page)
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(
            all,
            [
                "https://a.kr:8443/rss.xml",
                "https://a.kr:8443/rss",
                "https://a.kr:8443/rss/",
                "https://a.kr:8443/feed",
                "https://a.kr:8443/feed.xml",
                "https://a.kr:8443/atom.xml",
                "https://a.kr:8443/index.xml",
            ]
        );
        let file = Url::parse("file:///tmp/page.html").unwrap();
        assert!(candidates(html, &file).is_empty());
    }

    #[test]
    fn a_page_of_many_links_costs_at_most_max_links_fetches() {
        let html: String = (0..1000)
            .map(|n| format!("<link rel=alternate type=application/rss+xml href=/f{n}.xml>"))
            .collect();
        let page = Url::parse("https://a.kr/").unwrap();
        let all = candidates(&html, &page);
        assert_eq!(all.len(), MAX_LINKS + COMMON_PATHS.len());
        assert_eq!(all[0].as_str(), "https://a.kr/f0.xml");
    }
}
