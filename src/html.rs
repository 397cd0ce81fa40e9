//! Plain text out of HTML, shared by normalization (titles, digests), filtering (matching
//! summaries and content) and rendering (JSON Feed's plain-text `summary`).
//!
//! Not an HTML parser: a scanner that drops tags (block boundaries become a space, inline tags
//! vanish so `<b>삼</b>성` reads "삼성"), skips comments, and decodes character references. It
//! copes with anything: quoted `>` inside attributes, unknown entities (kept as written), a `<`
//! that starts no tag. Pure, no I/O.

use std::borrow::Cow;

/// Elements whose boundaries separate words, so `<p>a</p><p>b</p>` reads "a b", not "ab".
const BLOCK_ELEMENTS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "td",
    "th",
    "tr",
    "ul",
];

/// The text of an HTML fragment: tags removed, references decoded, whitespace kept as it is.
/// Text without `<` or `&` is returned borrowed.
pub fn html_text(html: &str) -> Cow<'_, str> {
    scan(html, Tags::All)
}

/// Text that should be plain but that publishers escape twice or mark up anyway, as RSS
/// titles often are (`[책&amp;amp;생각]` in the XML, `<b>속보</b>` in a CDATA section): character
/// references decoded, tags of known HTML elements dropped, whitespace collapsed. Anything else
/// between angle brackets stays, so `Vec<String>` or `Nice <gorilla>` read as written.
pub fn loose_text_to_text(text: &str) -> String {
    collapse_whitespace(&scan(text, Tags::KnownHtml))
}

/// Which `<…>` spans [`scan`] drops.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tags {
    /// Every tag: the input is HTML.
    All,
    /// Only tags naming an HTML element: the input is text that may carry stray markup.
    KnownHtml,
}

fn scan(html: &str, tags: Tags) -> Cow<'_, str> {
    if !html.contains(['<', '&']) {
        return Cow::Borrowed(html);
    }
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find(['<', '&']) {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        if rest.starts_with("<!--") {
            rest = rest.find("-->").map_or("", |end| &rest[end + 3..]);
        } else if rest.starts_with('<') {
            match tag_end(rest) {
                TagEnd::At(end) if tags == Tags::All || is_html_tag(&rest[1..end]) => {
                    if is_block_tag(&rest[1..end]) {
                        out.push(' ');
                    }
                    rest = &rest[end + 1..];
                }
                // Not a tag, or (in loose text) not an HTML one: `<` stays as text.
                TagEnd::At(_) | TagEnd::NotATag => {
                    out.push('<');
                    rest = &rest[1..];
                }
                // No `>` ends this tag: keep the rest as text rather than look again from
                // every later `<`, which takes time quadratic in the length (`<a<a<a…`).
                TagEnd::Unterminated => break,
            }
        } else {
            rest = push_reference(&mut out, rest);
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Writes the character reference at the start of `rest` (which begins with `&`) to `out`, or
/// the `&` itself when none is there; returns what follows.
pub(crate) fn push_reference<'a>(out: &mut String, rest: &'a str) -> &'a str {
    match decode_reference(rest) {
        Some((c, len)) => {
            out.push(c);
            &rest[len..]
        }
        None => {
            out.push('&');
            &rest[1..]
        }
    }
}

/// [`html_text`] with runs of whitespace collapsed to one space and the ends trimmed.
pub fn html_to_text(html: &str) -> String {
    collapse_whitespace(&html_text(html))
}

/// Collapses runs of whitespace to one space and trims.
pub fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Where the tag that may start a string ends.
enum TagEnd {
    /// The index of the closing `>`.
    At(usize),
    /// The `<` starts no tag (`3 < 4`).
    NotATag,
    /// A tag starts, and no `>` outside quotes follows: it runs to the end of the input.
    Unterminated,
}

/// Where the tag that starts `s` (which begins with `<`) ends, skipping quoted attribute
/// values.
fn tag_end(s: &str) -> TagEnd {
    let Some(after) = s[1..].chars().next() else {
        return TagEnd::NotATag;
    };
    if !(after.is_ascii_alphabetic() || after == '/' || after == '!' || after == '?') {
        return TagEnd::NotATag;
    }
    let mut quote = None;
    for (i, c) in s.char_indices().skip(1) {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return TagEnd::At(i),
            _ => {}
        }
    }
    TagEnd::Unterminated
}

/// The element name a tag body (between `<` and `>`) names, as written.
fn tag_name(body: &str) -> &str {
    let name = body.trim_start_matches('/');
    let len = name
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    &name[..len]
}

fn is_one_of(name: &str, list: &[&str]) -> bool {
    list.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// Whether the tag body (between `<` and `>`) opens or closes a block element.
fn is_block_tag(body: &str) -> bool {
    is_one_of(tag_name(body), BLOCK_ELEMENTS)
}

/// Elements that never have content (HTML's void elements): they open no level.
const VOID_ELEMENTS: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];

/// Elements an HTML parser closes by itself when a sibling opens (`<p>a<p>b`, `<li>`…), so a
/// run of them, closed or not, is one level.
const SIBLING_CLOSED: &[&str] = &[
    "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "thead", "tbody", "tfoot", "rb",
    "rt", "rp", "rtc",
];

/// Whether elements in `html` nest deeper than `max`, estimated from its tags the way an HTML
/// parser would build the tree (void elements, `<x/>` and sibling-closed elements such as
/// `<p>` open no level of their own). Linear in the length; stops once past `max`.
pub fn nests_deeper_than(html: &str, max: usize) -> bool {
    let mut depth = 0usize;
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        rest = &rest[start..];
        if rest.starts_with("<!--") {
            rest = rest.find("-->").map_or("", |end| &rest[end + 3..]);
            continue;
        }
        match tag_end(rest) {
            TagEnd::At(end) => {
                let body = &rest[1..end];
                let name = tag_name(body);
                let nests = !name.is_empty()
                    && !is_one_of(name, VOID_ELEMENTS)
                    && !is_one_of(name, SIBLING_CLOSED);
                if nests && body.starts_with('/') {
                    depth = depth.saturating_sub(1);
                } else if nests && !body.ends_with('/') {
                    depth += 1;
                    if depth > max {
                        return true;
                    }
                }
                rest = &rest[end + 1..];
            }
            TagEnd::NotATag => rest = &rest[1..],
            TagEnd::Unterminated => break,
        }
    }
    false
}

/// Inline elements that turn up in text fields (besides [`BLOCK_ELEMENTS`]).
const INLINE_ELEMENTS: &[&str] = &[
    "a", "abbr", "b", "big", "cite", "code", "del", "em", "font", "i", "img", "ins", "kbd", "mark",
    "q", "s", "small", "span", "strike", "strong", "sub", "sup", "tt", "u", "wbr",
];

/// Whether the tag body (between `<` and `>`) is exactly an HTML element's start or end tag:
/// its name is a known element, followed by nothing, attributes, or `/`.
fn is_html_tag(body: &str) -> bool {
    let rest = body.strip_prefix('/').unwrap_or(body);
    let name_len = rest
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    let (name, after) = rest.split_at(name_len);
    let name = name.to_ascii_lowercase();
    let known = BLOCK_ELEMENTS.contains(&name.as_str()) || INLINE_ELEMENTS.contains(&name.as_str());
    known && (after.is_empty() || after.starts_with(|c: char| c.is_ascii_whitespace() || c == '/'))
}

/// The character a reference at the start of `s` (which begins with `&`) stands for, and the
/// reference's length in bytes; `None` for anything not understood.
pub(crate) fn decode_reference(s: &str) -> Option<(char, usize)> {
    // Longest understood: `&#x10FFFF;`. Bytes, not a `str` slice: 12 may split a character.
    let semi = s.bytes().take(12).position(|b| b == b';')?;
    let body = &s[1..semi];
    let c = if let Some(num) = body.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        // NUL is never text; leave such a reference as written.
        char::from_u32(code).filter(|&c| c != '\0')?
    } else {
        match body {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            "nbsp" => '\u{00A0}',
            "middot" => '\u{00B7}',
            "hellip" => '\u{2026}',
            "ndash" => '\u{2013}',
            "mdash" => '\u{2014}',
            "lsquo" => '\u{2018}',
            "rsquo" => '\u{2019}',
            "ldquo" => '\u{201C}',
            "rdquo" => '\u{201D}',
            _ => return None,
        }
    };
    Some((c, semi + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: RSS titles double-escaped by the publisher (한겨레's `[책&amp;amp;생각]`,
    /// 경향신문's `&amp;#160;`) or carrying markup showed the escapes and tags to readers
    /// (found by the gofeed conformance comparison).
    #[test]
    fn loose_text_decodes_references_and_drops_known_tags_only() {
        let cases = [
            ("[책&amp;생각] 띠지", "[책&생각] 띠지"),
            ("코로나19&#160;재확진", "코로나19 재확진"),
            ("<p>Item Title</p>", "Item Title"),
            ("<b>속보</b> 삼성<br/>전자", "속보 삼성 전자"),
            ("<a href=\"x\">link</a>", "link"),
            ("Vec<String> in Rust", "Vec<String> in Rust"),
            (
                "Nice <gorilla> what's he weigh?",
                "Nice <gorilla> what's he weigh?",
            ),
            ("<pre-release> and <bold>", "<pre-release> and <bold>"),
            ("3 < 4 && AT&T", "3 < 4 && AT&T"),
            // One pass: an escaped tag becomes text, it is not stripped again.
            ("&lt;p&gt;Item&lt;/p&gt;", "<p>Item</p>"),
            ("  a \n b  ", "a b"),
        ];
        for (input, expected) in cases {
            assert_eq!(loose_text_to_text(input), expected, "{input}");
        }
    }

    #[test]
    fn html_text_still_drops_every_tag() {
        assert_eq!(
            html_to_text("Nice <gorilla>x</gorilla> <b>y</b>"),
            "Nice x y"
        );
    }

    #[test]
    fn unterminated_tags_keep_the_rest_as_text() {
        assert_eq!(html_to_text("a <b>bold</b> <i x=\"1"), "a bold <i x=\"1");
        assert_eq!(html_to_text("x<y"), "x<y");
        assert_eq!(html_to_text("3 < 4 <br>five"), "3 < 4 five");
    }

    #[test]
    fn text_of_many_unterminated_tags_takes_linear_time() {
        // 256 KiB of `<a` with no `>`: each scan from a `<` used to run to the end (quadratic:
        // minutes, which the suite's run time would show; no clock is asserted here).
        let html = "<a".repeat(128 * 1024);
        assert_eq!(html_to_text(&html), html);
    }

    #[test]
    fn nesting_depth_counts_elements_that_nest() {
        let deep = format!("{}x{}", "<div>".repeat(300), "</div>".repeat(300));
        assert!(nests_deeper_than(&deep, 256));
        assert!(!nests_deeper_than(&deep, 300));
        // Siblings, void elements, self-closed tags and comments open no level.
        let flat = format!(
            "{}{}{}{}",
            "<p>para".repeat(1000),
            "<li>item<br><img src=\"a.png\">".repeat(1000),
            "<x/>".repeat(1000),
            "<!-- <div> -->".repeat(1000)
        );
        assert!(!nests_deeper_than(&flat, 2));
        // Closed elements: depth goes back down.
        let wide = "<div><span><b>x</b></span></div>".repeat(10_000);
        assert!(!nests_deeper_than(&wide, 3));
        assert!(nests_deeper_than(&wide, 2));
        assert!(!nests_deeper_than("3 < 4 <a", 0));
    }
}
