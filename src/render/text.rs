//! Text helpers shared by the renderers: XML-safe strings and HTML reduced to plain text.

use std::borrow::Cow;

/// Whether XML 1.0 allows `c` in a document at all (the `Char` production). Escaping cannot
/// help with the others: a control character such as U+0008 makes the whole feed ill-formed,
/// and a strict reader then drops every story in it.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// `s` without the characters XML 1.0 forbids; borrowed when there were none.
pub(super) fn xml_safe(s: &str) -> Cow<'_, str> {
    if s.chars().all(is_xml_char) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.chars().filter(|&c| is_xml_char(c)).collect())
    }
}

/// An owned copy of `s` that XML can carry.
pub(super) fn safe(s: &str) -> String {
    xml_safe(s).into_owned()
}

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

/// Plain text from sanitized HTML: tags dropped (block boundaries become spaces), character
/// references decoded, whitespace collapsed. For JSON Feed's `summary`, which is plain text.
///
/// The input is ammonia's output, so there are no scripts or comments to worry about, but the
/// scan still copes with anything: quoted `>` inside attributes, unknown entities (kept as
/// written), a `<` that starts no tag.
pub(super) fn html_to_text(html: &str) -> String {
    let mut raw = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find(['<', '&']) {
        raw.push_str(&rest[..start]);
        rest = &rest[start..];
        if rest.starts_with('<') {
            match tag_end(rest) {
                Some(end) => {
                    if is_block_tag(&rest[1..end]) {
                        raw.push(' ');
                    }
                    rest = &rest[end + 1..];
                }
                None => {
                    raw.push('<');
                    rest = &rest[1..];
                }
            }
        } else {
            match decode_reference(rest) {
                Some((c, len)) => {
                    raw.push(c);
                    rest = &rest[len..];
                }
                None => {
                    raw.push('&');
                    rest = &rest[1..];
                }
            }
        }
    }
    raw.push_str(rest);
    raw.split_whitespace().collect::<Vec<_>>().join(" ")
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
/// reference's length; `None` for anything not understood.
fn decode_reference(s: &str) -> Option<(char, usize)> {
    // Longest understood: `&#x10FFFF;`. Bytes, not a `str` slice: 12 may split a character.
    let end = s.bytes().take(12).position(|b| b == b';')?;
    let name = &s[1..end];
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        _ => {
            let code = if let Some(hex) = name.strip_prefix("#x").or(name.strip_prefix("#X")) {
                u32::from_str_radix(hex, 16).ok()?
            } else {
                name.strip_prefix('#')?.parse().ok()?
            };
            char::from_u32(code)?
        }
    };
    Some((c, end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_safe_drops_only_forbidden_characters() {
        let cases = [
            ("plain 한국어 🙂 <&>", "plain 한국어 🙂 <&>"),
            ("a\u{8}b\u{0}c\u{1F}d", "abcd"),
            ("tab\tnl\ncr\r", "tab\tnl\ncr\r"),
            ("x\u{FFFE}y\u{FFFF}z", "xyz"),
        ];
        for (input, want) in cases {
            assert_eq!(xml_safe(input), want, "input {input:?}");
        }
        assert!(matches!(xml_safe("fine"), Cow::Borrowed(_)));
    }

    #[test]
    fn html_to_text_keeps_words_apart_and_decodes_references() {
        let cases = [
            ("<p>첫 문단</p><p>둘째</p>", "첫 문단 둘째"),
            ("<b>굵게</b>이어짐", "굵게이어짐"),
            ("a<br>b<br/>c", "a b c"),
            (
                "AT&amp;T &lt;tag&gt; &quot;q&quot; &#54620;&#xAD6D;",
                "AT&T <tag> \"q\" 한국",
            ),
            ("a &unknown; b & c", "a &unknown; b & c"),
            ("&한국어한국어한국어", "&한국어한국어한국어"),
            (
                r#"<a href="x?a=1&amp;b=2" title="1 > 0">link</a> text"#,
                "link text",
            ),
            ("3 < 4 and 5 <6", "3 < 4 and 5 <6"),
            ("  lots \n of\t space ", "lots of space"),
            ("unclosed <b", "unclosed <b"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(html_to_text(input), want, "input {input:?}");
        }
    }
}
