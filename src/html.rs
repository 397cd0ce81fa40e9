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
                Some(end) => {
                    if is_block_tag(&rest[1..end]) {
                        out.push(' ');
                    }
                    rest = &rest[end + 1..];
                }
                None => {
                    out.push('<');
                    rest = &rest[1..];
                }
            }
        } else {
            match decode_reference(rest) {
                Some((c, len)) => {
                    out.push(c);
                    rest = &rest[len..];
                }
                None => {
                    out.push('&');
                    rest = &rest[1..];
                }
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
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

/// The index of the `>` closing the tag that starts `s` (which begins with `<`), skipping
/// quoted attribute values; `None` when `s` does not start a tag.
fn tag_end(s: &str) -> Option<usize> {
    let after = s[1..].chars().next()?;
    if !(after.is_ascii_alphabetic() || after == '/' || after == '!' || after == '?') {
        return None;
    }
    let mut quote = None;
    for (i, c) in s.char_indices().skip(1) {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

/// Whether the tag body (between `<` and `>`) opens or closes a block element.
fn is_block_tag(body: &str) -> bool {
    let name: String = body
        .trim_start_matches('/')
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    BLOCK_ELEMENTS.contains(&name.as_str())
}

/// The character a reference at the start of `s` (which begins with `&`) stands for, and the
/// reference's length in bytes; `None` for anything not understood.
fn decode_reference(s: &str) -> Option<(char, usize)> {
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
