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

pub(super) use crate::html::html_to_text;

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
