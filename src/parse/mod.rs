//! UTF-8 text to a parsed feed: the only importer of `feed_rs::parser`.
//!
//! Builds a fresh feed-rs parser per document (a reused one panics after some errors, and it
//! is not `Sync`), with our own timestamp parser (offset-less dates in the source's zone) and
//! an id generator that generates nothing, so an item without a guid has an empty id instead
//! of one of feed-rs's made-up ones. A panic inside feed-rs or quick-xml is caught and becomes
//! this document's error. Before feed-rs, which holds a whole document's items in memory, a
//! linear pass ([`cap`]) leaves only the newest `max_items` items in the text. A second, cheap
//! pass ([`extras`]) reads what feed-rs drops: `dc:subject` categories and the channel's
//! scheduling hints. Never touches the network.

mod cap;
mod compat;
mod dates;
mod extras;

use std::panic::{AssertUnwindSafe, catch_unwind};

use feed_rs::parser::{ParseErrorKind, ParseFeedError};

use chrono::{DateTime, Utc};
use url::Url;

pub use dates::parse_date;
pub use extras::{ChannelHints, Extras};

/// The feed model normalization works from (re-exported so only this module names
/// `feed_rs` paths for parsing).
pub use feed_rs::model::Feed;

/// Options for one document.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// The document's URL after redirects: the base for relative links.
    pub base_url: Option<Url>,
    /// Zone for timestamps without an offset.
    pub timezone: chrono_tz::Tz,
    /// Most items read: only the newest this many reach feed-rs (`store.max_items_per_source`).
    pub max_items: usize,
}

/// A parsed document.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// feed-rs's model of the document.
    pub feed: Feed,
    /// The format, as people name it: `RSS 2.0`, `Atom 1.0`, `JSON Feed`…
    pub format: &'static str,
    /// What feed-rs does not read, item by item.
    pub extras: Extras,
}

/// Why a document is not a feed we can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// An HTML page came where a feed was expected (a moved feed, a login wall, an error page).
    #[error("got an HTML page, not a feed")]
    Html,
    /// Bytes that are no text at all (an image, an archive, noise): no parser's complaint
    /// about them would mean anything to a person.
    #[error("got binary data, not a feed")]
    Binary,
    /// XML or JSON that is not a feed, or not well-formed.
    #[error("not a valid feed: {0}")]
    Invalid(String),
    /// The parser crashed on this input; the panic was caught.
    #[error("the feed parser crashed on this document: {0}")]
    Crashed(String),
}

/// Parses a decoded document.
pub fn parse(text: &str, options: &ParseOptions) -> Result<Parsed, ParseError> {
    if looks_binary(text) {
        return Err(ParseError::Binary);
    }
    if looks_like_html(text) {
        return Err(ParseError::Html);
    }
    // feed-rs holds every item in memory: cap them first (see `cap`).
    let capped = cap::newest_items(text, options.max_items, options.timezone);
    let text = capped.as_deref().unwrap_or(text);
    // Legacy formats (Atom 0.3, RSS 0.90, Userland's RSS 2.0 namespace) are read as what they
    // became.
    let rewritten = compat::has_legacy_namespace(text)
        .then(|| guarded(|| compat::rewrite(text)))
        .flatten();
    let source = rewritten.as_deref().unwrap_or(text);
    let legacy = rewritten.as_ref().and_then(|_| compat::legacy_format(text));
    let first = parse_feed_rs(source, options);
    // Second chances, each for one known weakness of feed-rs, only when it failed that way.
    let retry = match &first {
        // One Atom title typed `text/plain` rejects the whole document: fix the types.
        Ok(Err(ParseFeedError::ParseError(ParseErrorKind::UnknownMimeType { .. }))) => {
            guarded(|| compat::rewrite(source))
        }
        // feed-rs slices an author's text on bytes around an email address and panics when a
        // character such as `·` touches it: set such addresses apart.
        Err(_) => guarded(|| compat::space_out_emails(source)),
        _ => None,
    };
    if let Some(fixed) = retry
        && let Ok(Ok(feed)) = parse_feed_rs(&fixed, options)
    {
        return Ok(finish(&fixed, feed, legacy));
    }
    let feed = match first {
        Ok(Ok(feed)) => feed,
        Ok(Err(e)) => return Err(ParseError::Invalid(e.to_string())),
        Err(message) => return Err(ParseError::Crashed(message)),
    };
    Ok(finish(source, feed, legacy))
}

/// One document through a fresh feed-rs parser (a reused one panics after some errors); a
/// panic is caught and becomes its message.
fn parse_feed_rs(
    text: &str,
    options: &ParseOptions,
) -> Result<Result<Feed, ParseFeedError>, String> {
    let timezone = options.timezone;
    let parser = feed_rs::parser::Builder::new()
        .base_uri(options.base_url.as_ref().map(Url::as_str))
        .sanitize_content(false)
        .id_generator(|_, _, _| String::new())
        .timestamp_parser(move |s| dates::parse_date(s, timezone))
        .build();
    catch_unwind(AssertUnwindSafe(|| parser.parse(text.as_bytes())))
        .map_err(|p| crate::panic_message(&*p))
}

/// Runs a rewrite, a panic inside quick-xml counting as "no rewrite".
fn guarded(rewrite: impl FnOnce() -> Option<String>) -> Option<String> {
    catch_unwind(AssertUnwindSafe(rewrite)).ok().flatten()
}

fn finish(text: &str, feed: Feed, legacy: Option<&'static str>) -> Parsed {
    let extras = match feed.feed_type {
        feed_rs::model::FeedType::JSON => Extras::default(),
        // The second pass only when the document holds something it reads.
        _ if !extras::worth_scanning(text) => Extras::default(),
        _ => catch_unwind(AssertUnwindSafe(|| extras::scan(text))).unwrap_or_default(),
    };
    Parsed {
        format: legacy.unwrap_or_else(|| format_name(&feed)),
        feed,
        extras,
    }
}

fn format_name(feed: &Feed) -> &'static str {
    use feed_rs::model::FeedType;
    match feed.feed_type {
        FeedType::Atom => "Atom 1.0",
        FeedType::JSON => "JSON Feed",
        FeedType::RSS0 => "RSS 0.9x",
        FeedType::RSS1 => "RSS 1.0",
        FeedType::RSS2 => "RSS 2.0",
    }
}

/// Whether the document's start is binary data: a NUL, or more than one control character in
/// sixteen. XML and JSON allow neither, so no feed is turned away by this; a feed with a stray
/// control character in a title still reaches the parser.
fn looks_binary(text: &str) -> bool {
    let mut chars = 0;
    let mut controls = 0;
    for c in text.chars().take(1024) {
        chars += 1;
        match c {
            '\0' => return true,
            '\t' | '\n' | '\r' => {}
            c if c.is_ascii_control() => controls += 1,
            _ => {}
        }
    }
    controls * 16 > chars
}

/// Whether the document is an HTML page: its first tag is a doctype or `<html>`.
fn looks_like_html(text: &str) -> bool {
    let mut rest = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    // Skip a declaration and comments, which both XML and HTML may start with.
    loop {
        if rest.starts_with("<?") {
            rest = rest.find("?>").map_or("", |i| &rest[i + 2..]);
        } else if rest.starts_with("<!--") {
            rest = rest.find("-->").map_or("", |i| &rest[i + 3..]);
        } else {
            break;
        }
        rest = rest.trim_start();
    }
    let head: String = rest
        .chars()
        .take(14)
        .collect::<String>()
        .to_ascii_lowercase();
    head.starts_with("<!doctype html") || head.starts_with("<html")
}

/// The newest time a date may claim before it is treated as wrong (SPEC: more than a day in
/// the future).
pub fn latest_plausible(now: DateTime<Utc>) -> DateTime<Utc> {
    now + chrono::Duration::days(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> ParseOptions {
        ParseOptions {
            base_url: Url::parse("https://news.example.kr/rss/").ok(),
            timezone: chrono_tz::Asia::Seoul,
            max_items: 100,
        }
    }

    #[test]
    fn html_pages_are_named_as_such() {
        for page in [
            "<!DOCTYPE html><html><body>moved</body></html>",
            "\n<!-- hi --><html lang=ko><head>",
            "<?xml version=\"1.0\"?>\n<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\">",
        ] {
            assert_eq!(
                parse(page, &opts()).unwrap_err(),
                ParseError::Html,
                "{page}"
            );
        }
    }

    #[test]
    fn items_without_guid_get_no_made_up_id() {
        let xml = r#"<rss version="2.0"><channel><title>t</title>
            <item><title>a</title><link>https://a.kr/1</link></item>
            <item><title>b</title><guid>g-2</guid></item></channel></rss>"#;
        let parsed = parse(xml, &opts()).unwrap();
        assert_eq!(parsed.format, "RSS 2.0");
        assert_eq!(parsed.feed.entries[0].id, "");
        assert_eq!(parsed.feed.entries[1].id, "g-2");
    }

    #[test]
    fn offset_less_dates_are_read_in_the_source_zone() {
        let xml = r#"<rss version="2.0"><channel><title>t</title>
            <item><title>a</title><pubDate>2025-02-03 09:00:00</pubDate></item></channel></rss>"#;
        let parsed = parse(xml, &opts()).unwrap();
        assert_eq!(
            parsed.feed.entries[0].published.unwrap().to_rfc3339(),
            "2025-02-03T00:00:00+00:00"
        );
    }

    /// Regression (gofeed and chardet conformance): an Atom 0.3 feed parsed "successfully"
    /// with no entries at all, so its stories silently never appeared.
    #[test]
    fn atom03_feeds_are_read() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<feed version="0.3" xmlns="http://purl.org/atom/ns#">
<title mode="escaped" type="text/html">블로그</title>
<entry><title mode="escaped" type="text/html">첫 &lt;b&gt;글&lt;/b&gt;</title>
<link rel="alternate" type="text/html" href="http://a.kr/1"/>
<issued>2005-10-20T17:12:00+09:00</issued><id>tag:a.kr,2005:1</id>
<content type="application/xhtml+xml" mode="xml"><div xmlns="http://www.w3.org/1999/xhtml">본문</div></content>
</entry></feed>"#;
        let parsed = parse(xml, &opts()).unwrap();
        assert_eq!(parsed.format, "Atom 0.3");
        assert_eq!(parsed.feed.entries.len(), 1);
        let entry = &parsed.feed.entries[0];
        assert_eq!(entry.title.as_ref().unwrap().content, "첫 <b>글</b>");
        assert_eq!(entry.links[0].href, "http://a.kr/1");
        assert_eq!(
            entry.published.unwrap().to_rfc3339(),
            "2005-10-20T08:12:00+00:00"
        );
        assert!(
            entry
                .content
                .as_ref()
                .unwrap()
                .body
                .as_deref()
                .unwrap()
                .contains("본문")
        );
    }

    /// Regression (chardet conformance): RSS 0.90 (RDF in Netscape's namespace, one of the
    /// "RSS 0.9x" SPEC lists) and RSS 2.0 in Userland's early namespace parsed with no items.
    #[test]
    fn rss090_and_userland_rss_items_are_read() {
        let rss090 = r#"<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://my.netscape.com/rdf/simple/0.9/">
<channel><title>t</title><link>http://a.tw</link><description>d</description></channel>
<item><title>網站更新公告</title><link>http://a.tw/268</link></item></rdf:RDF>"#;
        let parsed = parse(rss090, &opts()).unwrap();
        assert_eq!(parsed.format, "RSS 0.90");
        assert_eq!(parsed.feed.entries.len(), 1);
        assert_eq!(
            parsed.feed.entries[0].title.as_ref().unwrap().content,
            "網站更新公告"
        );
        let userland = r#"<rss version="2.0" xmlns="http://backend.userland.com/rss2"><channel>
<title>t</title><item><title>Награждены</title><link>http://susu.ac.ru/1329</link>
<pubDate>Thu, 29 Dec 2005 00:00:00 +0500</pubDate></item></channel></rss>"#;
        let parsed = parse(userland, &opts()).unwrap();
        assert_eq!(parsed.format, "RSS 2.0");
        assert_eq!(parsed.feed.entries.len(), 1);
        assert!(parsed.feed.entries[0].published.is_some());
    }

    /// Regression (found by tests/properties.rs): an author whose email address touches a
    /// multi-byte character made feed-rs panic, and the whole feed was lost.
    #[test]
    fn an_author_email_touching_a_middle_dot_does_not_lose_the_feed() {
        for author in ["홍길동 기자·hong@mk.co.kr", "hong@mk.co.kr·홍길동 기자"] {
            let xml = format!(
                r#"<rss version="2.0"><channel><title>t</title><item><title>a</title>
<author>{author}</author><link>https://a.kr/1</link></item></channel></rss>"#
            );
            let parsed = parse(&xml, &opts()).unwrap_or_else(|e| panic!("{author}: {e}"));
            let person = &parsed.feed.entries[0].authors[0];
            assert_eq!(person.email.as_deref(), Some("hong@mk.co.kr"), "{author}");
        }
    }

    /// Regression (gofeed conformance): one Atom title typed `text/plain` (a MIME type, not
    /// RFC 4287's `text`) made feed-rs reject the whole feed.
    #[test]
    fn a_mistyped_atom_title_does_not_reject_the_feed() {
        let xml = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<entry><title type="text/plain">a</title><id>1</id><link href="https://a.kr/1"/></entry>
<entry><title>b</title><summary type="application/octet-stream">PHA+</summary><id>2</id></entry>
</feed>"#;
        let parsed = parse(xml, &opts()).unwrap();
        assert_eq!(parsed.format, "Atom 1.0");
        let titles: Vec<_> = parsed
            .feed
            .entries
            .iter()
            .map(|e| e.title.as_ref().unwrap().content.as_str())
            .collect();
        assert_eq!(titles, ["a", "b"]);
        assert!(parsed.feed.entries[1].summary.is_none());
    }

    #[test]
    fn binary_data_is_named_as_such() {
        // What a PNG, a gzip body and noise look like once decoded as a single-byte charset.
        let png = "\u{89}PNG\r\n\u{1a}\n\0\0\0\rIHDR";
        let gzip = "\u{1f}\u{8b}\u{8}\0\0\0\0\0";
        let noise: String = (0..600u32)
            .map(|i| char::from_u32((i * 7919) % 255 + 1).unwrap())
            .collect();
        for doc in [png, gzip, noise.as_str()] {
            assert_eq!(
                parse(doc, &opts()).unwrap_err(),
                ParseError::Binary,
                "{doc:?}"
            );
        }
        assert_eq!(
            ParseError::Binary.to_string(),
            "got binary data, not a feed"
        );
        // One stray control character in a title is the parser's business, not binary data.
        let xml = "<rss version=\"2.0\"><channel><title>t\u{8}</title>\n\
                   <item><title>a</title><link>https://a.kr/1</link></item></channel></rss>";
        assert!(!looks_binary(xml));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for doc in [
            "",
            "hello",
            "<rss version=\"2.0\"><channel><item>",
            "{\"version\": 3}",
            "\u{0}\u{1}<<<",
        ] {
            assert!(parse(doc, &opts()).is_err(), "{doc:?}");
        }
    }
}
