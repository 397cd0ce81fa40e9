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
mod dates;
mod extras;

use std::panic::{AssertUnwindSafe, catch_unwind};

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
    let timezone = options.timezone;
    let parser = feed_rs::parser::Builder::new()
        .base_uri(options.base_url.as_ref().map(Url::as_str))
        .sanitize_content(false)
        .id_generator(|_, _, _| String::new())
        .timestamp_parser(move |s| dates::parse_date(s, timezone))
        .build();
    let result = catch_unwind(AssertUnwindSafe(|| parser.parse(text.as_bytes())));
    let feed = match result {
        Ok(Ok(feed)) => feed,
        Ok(Err(e)) => return Err(ParseError::Invalid(e.to_string())),
        Err(panic) => return Err(ParseError::Crashed(panic_message(&panic))),
    };
    let extras = match feed.feed_type {
        feed_rs::model::FeedType::JSON => Extras::default(),
        _ => catch_unwind(AssertUnwindSafe(|| extras::scan(text))).unwrap_or_default(),
    };
    Ok(Parsed {
        format: format_name(&feed),
        feed,
        extras,
    })
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

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_owned()
    }
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
