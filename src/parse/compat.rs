//! Feeds feed-rs refuses or misreads, rewritten into the RSS and Atom it reads.
//!
//! - **Atom 0.3** (namespace `http://purl.org/atom/ns#`; Blogger and many blogs of 2004–2006
//!   still serve it): feed-rs reads the root but, the namespace being another, none of the
//!   entries, so the feed silently has no stories. We move it to the Atom 1.0 namespace and
//!   rename what RFC 4287 renamed (`issued` → `published`, `modified` → `updated`,
//!   `tagline` → `subtitle`, `copyright` → `rights`, a person's `url` → `uri`). Its text
//!   constructs say what they hold with a MIME `type` and a `mode` (`xml`, `escaped`,
//!   `base64`); they get Atom 1.0's `text`/`html`/`xhtml`, and base64 ones are dropped.
//! - **RSS 0.90** (RDF with the namespace `http://my.netscape.com/rdf/simple/0.9/`) and RSS 2.0
//!   under **Userland's early namespace** (`http://backend.userland.com/rss2`): the same
//!   elements as RSS 1.0 and 2.0 in a namespace feed-rs does not know, so again no items. The
//!   namespace is declared as RSS 1.0's, which feed-rs reads for both.
//! - **Atom 1.0 text constructs typed with a MIME type** (`text/plain`,
//!   `application/xhtml+xml`, anything else): RFC 4287 allows only `text`, `html` and `xhtml`,
//!   and feed-rs rejects the whole document for one such title. They get the nearest allowed
//!   type; `application/octet-stream` (base64) ones are dropped.
//!
//! - **An email address touching a non-ASCII character** in an author (`홍길동·hong@mk.co.kr`):
//!   feed-rs cuts the name off the address one byte away from it and panics inside the `·`,
//!   losing the whole document. Only after such a crash, every address in the document gets an
//!   ASCII space between it and a non-ASCII neighbour ([`space_out_emails`]).
//!
//! The rewrite copies the document verbatim except the start and end tags it changes, so
//! everything else (text, CDATA, comments, other namespaces) reaches feed-rs untouched.

use std::sync::OnceLock;

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::reader::NsReader;
use regex::Regex;

const ATOM03: &str = "http://purl.org/atom/ns#";
const ATOM10: &str = "http://www.w3.org/2005/Atom";
const RSS090: &str = "http://my.netscape.com/rdf/simple/0.9/";
const RSS10: &str = "http://purl.org/rss/1.0/";

/// Namespaces declared anew: the legacy one, the one feed-rs reads in its place.
const ALIASES: &[(&str, &str)] = &[
    (ATOM03, ATOM10),
    (RSS090, RSS10),
    ("http://backend.userland.com/rss2", RSS10),
    ("http://backend.userland.com/rss", RSS10),
];

/// Whether `text` declares one of the namespaces [`rewrite`] moves (a cheap test before it).
pub(super) fn has_legacy_namespace(text: &str) -> bool {
    ALIASES
        .iter()
        .any(|(legacy, _)| memchr::memmem::find(text.as_bytes(), legacy.as_bytes()).is_some())
}

/// The name of the legacy format `text` is in, for `inspect`, when feed-rs would name it
/// after its successor.
pub(super) fn legacy_format(text: &str) -> Option<&'static str> {
    if text.contains(ATOM03) {
        Some("Atom 0.3")
    } else if text.contains(RSS090) {
        Some("RSS 0.90")
    } else {
        None
    }
}

/// What becomes of one element.
enum Action {
    /// Copied as written.
    Keep,
    /// Written anew: the new start tag, and the name its end tag takes.
    Rewrite { tag: String, name: String },
    /// Left out with everything inside it.
    Drop,
}

/// `text` with legacy namespaces moved, Atom 0.3 turned into Atom 1.0 and mistyped text
/// constructs fixed; `None` when nothing needed a change or the XML is broken (feed-rs then
/// reports its own error).
pub(super) fn rewrite(text: &str) -> Option<String> {
    let mut reader = NsReader::from_str(text);
    let mut out = String::with_capacity(text.len() + 64);
    // Bytes of `text` already copied or replaced.
    let mut copied = 0;
    // Per open element: the name its end tag is written with, if it changed.
    let mut ends: Vec<Option<String>> = Vec::new();
    // While dropping an element: the depth of open elements inside it.
    let mut dropping: Option<usize> = None;
    let mut changed = false;
    loop {
        let start = usize::try_from(reader.buffer_position()).ok()?;
        let (ns, event) = reader.read_resolved_event().ok()?;
        let namespace = match ns {
            ResolveResult::Bound(Namespace(uri)) if uri == ATOM03 => Some(Version::Atom03),
            ResolveResult::Bound(Namespace(uri)) if uri == ATOM10 => Some(Version::Atom10),
            _ => None,
        };
        let end = usize::try_from(reader.buffer_position()).ok()?;
        match event {
            Event::Eof => break,
            Event::Start(_) | Event::Empty(_) | Event::End(_) if dropping.is_some() => {
                let depth = dropping.as_mut().expect("checked");
                match event {
                    Event::Start(_) => *depth += 1,
                    Event::End(_) if *depth == 0 => {
                        dropping = None;
                        copied = end;
                    }
                    Event::End(_) => *depth -= 1,
                    _ => {}
                }
            }
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                match action(e, namespace)? {
                    Action::Keep => {
                        if !empty {
                            ends.push(None);
                        }
                    }
                    Action::Rewrite { tag, name } => {
                        out.push_str(&text[copied..start]);
                        out.push('<');
                        out.push_str(&tag);
                        out.push_str(if empty { "/>" } else { ">" });
                        copied = end;
                        changed = true;
                        if !empty {
                            ends.push(Some(name));
                        }
                    }
                    Action::Drop => {
                        out.push_str(&text[copied..start]);
                        copied = end;
                        changed = true;
                        if !empty {
                            dropping = Some(0);
                        }
                    }
                }
            }
            Event::End(_) => {
                if let Some(Some(name)) = ends.pop() {
                    out.push_str(&text[copied..start]);
                    out.push_str("</");
                    out.push_str(&name);
                    out.push('>');
                    copied = end;
                }
            }
            _ => {}
        }
    }
    out.push_str(text.get(copied..)?);
    changed.then_some(out)
}

/// `text` with an ASCII space between each email address and a non-ASCII character touching
/// it; `None` when there is none. Text-level, so it serves XML and JSON alike; spaces are
/// harmless wherever an address can appear.
pub(super) fn space_out_emails(text: &str) -> Option<String> {
    static EMAIL: OnceLock<Regex> = OnceLock::new();
    // feed-rs's own pattern for an address, with its optional `mailto:`.
    let email = EMAIL.get_or_init(|| {
        Regex::new(r"(?:mailto:)?[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
            .expect("valid regex")
    });
    let mut out = String::new();
    let mut copied = 0;
    for m in email.find_iter(text) {
        let before = text[..m.start()].chars().next_back();
        let after = text[m.end()..].chars().next();
        let space_before = before.is_some_and(|c| !c.is_ascii());
        let space_after = after.is_some_and(|c| !c.is_ascii());
        if !(space_before || space_after) {
            continue;
        }
        out.push_str(&text[copied..m.start()]);
        if space_before {
            out.push(' ');
        }
        out.push_str(m.as_str());
        if space_after {
            out.push(' ');
        }
        copied = m.end();
    }
    if copied == 0 {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Version {
    Atom03,
    Atom10,
}

/// What to do with the element `e`, in namespace `version`; `None` on a broken attribute.
fn action(e: &BytesStart, version: Option<Version>) -> Option<Action> {
    let qname = e.name();
    let qname = qname.as_ref();
    let local = e.local_name();
    let local = local.as_ref();
    let prefix = &qname[..qname.len() - local.len()];

    let mut attributes: Vec<(String, String)> = Vec::new();
    for attribute in e.attributes().with_checks(false) {
        let attribute = attribute.ok()?;
        attributes.push((attribute.key.0.to_owned(), attribute.value.into_owned()));
    }
    let mut changed = false;
    // Declarations of a legacy namespace, wherever they are, now declare its successor.
    for (key, value) in &mut attributes {
        if key != "xmlns" && !key.starts_with("xmlns:") {
            continue;
        }
        if let Some((_, successor)) = ALIASES.iter().find(|(legacy, _)| value.trim() == *legacy) {
            *value = (*successor).to_owned();
            changed = true;
        }
    }

    let mut name = local.to_owned();
    match version {
        Some(Version::Atom03) => {
            if let Some(renamed) = renamed_in_atom10(local) {
                name = renamed.to_owned();
                changed = true;
            }
            if matches!(
                local,
                "title" | "tagline" | "copyright" | "summary" | "content" | "info"
            ) {
                let kind = attr(&attributes, "type");
                let mode = attr(&attributes, "mode");
                match atom03_type(kind.as_deref(), mode.as_deref(), local == "content") {
                    None => return Some(Action::Drop),
                    Some(new) => {
                        attributes.retain(|(k, _)| k != "type" && k != "mode");
                        attributes.push(("type".into(), new));
                        changed = true;
                    }
                }
            }
        }
        Some(Version::Atom10) if matches!(local, "title" | "subtitle" | "rights" | "summary") => {
            if let Some(kind) = attr(&attributes, "type") {
                match atom10_text_type(&kind) {
                    Fix::Keep => {}
                    Fix::Drop => return Some(Action::Drop),
                    Fix::Type(new) => {
                        attributes.retain(|(k, _)| k != "type");
                        attributes.push(("type".into(), new.to_owned()));
                        changed = true;
                    }
                }
            }
        }
        _ => {}
    }
    if !changed {
        return Some(Action::Keep);
    }
    let name = format!("{prefix}{name}");
    let mut tag = name.clone();
    for (key, value) in &attributes {
        // Values are kept escaped as written; only a `"` from a single-quoted value needs
        // escaping inside the double quotes written here.
        tag.push_str(&format!(" {key}=\"{}\"", value.replace('"', "&quot;")));
    }
    Some(Action::Rewrite { tag, name })
}

/// The Atom 1.0 name of an Atom 0.3 element that RFC 4287 renamed.
fn renamed_in_atom10(local: &str) -> Option<&'static str> {
    Some(match local {
        "issued" => "published",
        "modified" => "updated",
        "tagline" => "subtitle",
        "copyright" => "rights",
        "url" => "uri",
        _ => return None,
    })
}

/// The raw value of attribute `key`, trimmed and lowercased.
fn attr(attributes: &[(String, String)], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim().to_ascii_lowercase())
}

/// Atom 1.0's `type` for an Atom 0.3 construct with MIME type `kind` (default `text/plain`)
/// and `mode` (default `xml`); `None` to drop it (base64, which feed-rs cannot read).
fn atom03_type(kind: Option<&str>, mode: Option<&str>, is_content: bool) -> Option<String> {
    let kind = kind.unwrap_or("text/plain");
    let html = kind.contains("html");
    Some(match mode.unwrap_or("xml") {
        "base64" => return None,
        "escaped" => if html { "html" } else { "text" }.to_owned(),
        // Inline XML: markup as child elements.
        _ if html => "xhtml".to_owned(),
        // Content may be any media type; feed-rs reads those as they are.
        _ if is_content && !kind.starts_with("text") => kind.to_owned(),
        _ => "text".to_owned(),
    })
}

enum Fix {
    Keep,
    Type(&'static str),
    Drop,
}

/// The fix for an Atom 1.0 text construct's `type`.
fn atom10_text_type(kind: &str) -> Fix {
    match kind {
        // feed-rs reads these; `text/html` is a common misspelling it tolerates.
        "text" | "html" | "xhtml" | "text/html" => Fix::Keep,
        "application/octet-stream" => Fix::Drop,
        k if k.contains("xhtml") => Fix::Type("xhtml"),
        k if k.contains("html") => Fix::Type("html"),
        _ => Fix::Type("text"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atom03_becomes_atom10() {
        let atom03 = r#"<?xml version="1.0" encoding="UTF-8"?>
<feed version="0.3" xmlns="http://purl.org/atom/ns#" xml:lang="ko">
<title mode="escaped" type="text/html">블로그 &amp;lt;b&amp;gt;</title>
<tagline>t</tagline>
<entry>
<title type="text/plain">첫 글</title>
<link rel="alternate" type="text/html" href="http://a.kr/1"/>
<issued>2005-10-20T17:12:00+09:00</issued>
<modified>2005-10-21T00:12:34Z</modified>
<author><name>Kim</name><url>http://a.kr</url></author>
<content type="application/xhtml+xml" mode="xml"><div xmlns="http://www.w3.org/1999/xhtml">본문 <b>굵게</b></div></content>
<summary type="text/plain" mode="base64">7LKr</summary>
<x:note xmlns:x="urn:x" mode="escaped">kept</x:note>
</entry>
</feed>"#;
        let out = rewrite(atom03).expect("changed");
        let expected = r#"<?xml version="1.0" encoding="UTF-8"?>
<feed version="0.3" xmlns="http://www.w3.org/2005/Atom" xml:lang="ko">
<title type="html">블로그 &amp;lt;b&amp;gt;</title>
<subtitle type="text">t</subtitle>
<entry>
<title type="text">첫 글</title>
<link rel="alternate" type="text/html" href="http://a.kr/1"/>
<published>2005-10-20T17:12:00+09:00</published>
<updated>2005-10-21T00:12:34Z</updated>
<author><name>Kim</name><uri>http://a.kr</uri></author>
<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">본문 <b>굵게</b></div></content>

<x:note xmlns:x="urn:x" mode="escaped">kept</x:note>
</entry>
</feed>"#;
        assert_eq!(out, expected);
    }

    #[test]
    fn atom10_text_constructs_get_an_allowed_type() {
        let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom"><entry>
<title type='text/plain' xml:lang='en'>a "quoted" title</title>
<summary type="application/octet-stream">PHA+eDwvcD4=</summary>
<rights type="application/x-custom">r</rights>
<content type="text/plain">c</content></entry></feed>"#;
        let out = rewrite(atom).expect("changed");
        assert!(
            out.contains(r#"<title xml:lang="en" type="text">a "quoted" title</title>"#),
            "{out}"
        );
        assert!(!out.contains("summary"), "{out}");
        assert!(out.contains(r#"<rights type="text">r</rights>"#), "{out}");
        assert!(
            out.contains(r#"<content type="text/plain">c</content>"#),
            "{out}"
        );
    }

    #[test]
    fn legacy_rss_namespaces_become_rss10() {
        let rss090 = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://my.netscape.com/rdf/simple/0.9/"><channel><title>t</title></channel><item><title>a</title><link>http://a.tw/1</link></item></rdf:RDF>"#;
        assert_eq!(legacy_format(rss090), Some("RSS 0.90"));
        assert_eq!(
            rewrite(rss090).unwrap(),
            rss090.replace("http://my.netscape.com/rdf/simple/0.9/", RSS10)
        );
        let userland = r#"<rss version="2.0" xmlns="http://backend.userland.com/rss2"><channel><title>t</title></channel></rss>"#;
        assert!(has_legacy_namespace(userland));
        assert_eq!(legacy_format(userland), None);
        assert_eq!(
            rewrite(userland).unwrap(),
            userland.replace("http://backend.userland.com/rss2", RSS10)
        );
    }

    #[test]
    fn emails_touching_non_ascii_characters_are_set_apart() {
        assert_eq!(
            space_out_emails("<author>홍길동·hong@mk.co.kr（편집）</author>").as_deref(),
            Some("<author>홍길동· hong@mk.co.kr （편집）</author>")
        );
        assert_eq!(
            space_out_emails(r#"{"name": "기자·mailto:a@b.kr"}"#).as_deref(),
            Some(r#"{"name": "기자· mailto:a@b.kr"}"#)
        );
        assert_eq!(
            space_out_emails("<author>hong@mk.co.kr (홍길동)</author>"),
            None
        );
    }

    #[test]
    fn documents_needing_nothing_or_broken_are_left_alone() {
        let fine =
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><title type="html">x</title></feed>"#;
        assert_eq!(rewrite(fine), None);
        assert_eq!(
            rewrite("<rss><channel><title>x</title></channel></rss>"),
            None
        );
        assert_eq!(
            rewrite(r#"<feed xmlns="http://purl.org/atom/ns#"><title>x</feed>"#),
            None
        );
    }
}
