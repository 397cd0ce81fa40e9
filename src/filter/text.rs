//! Text normalization shared by needles (once, at parse time) and haystacks (per match).
//!
//! Both sides go through the same [`normalize`], so equality and substring tests compare like
//! with like: NFKC, the Korean middle-dot variants folded to one character, lowercase, and runs
//! of whitespace collapsed to one space. Most stored text (ASCII, or Hangul already in NFKC) is
//! unchanged by all of that, so the common case returns the input borrowed, without allocating.

use std::borrow::Cow;

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

/// The one middle dot every variant folds to.
const MIDDLE_DOT: char = '\u{00B7}';

/// Whether `c` is one of the middle dots Korean publishers use interchangeably in names such as
/// "IT·과학": U+00B7 ·, U+318D ㆍ (the Hangul letter araea, typed by Korean IMEs as a dot),
/// U+30FB ・, U+2027 ‧ and U+FF65 ･.
fn is_middle_dot(c: char) -> bool {
    matches!(
        c,
        '\u{00B7}' | '\u{318D}' | '\u{30FB}' | '\u{2027}' | '\u{FF65}'
    )
}

fn fold_dot(c: char) -> char {
    if is_middle_dot(c) { MIDDLE_DOT } else { c }
}

/// Whether lowercasing leaves `c` as it is.
fn is_lowercase_stable(c: char) -> bool {
    let mut lower = c.to_lowercase();
    lower.next() == Some(c) && lower.next().is_none()
}

/// Whether [`normalize`] would return `s` unchanged; a cheap scan, so the common case allocates
/// nothing.
fn is_normalized(s: &str) -> bool {
    let mut prev_space = false;
    for c in s.chars() {
        if c == ' ' {
            if prev_space {
                return false;
            }
            prev_space = true;
            continue;
        }
        prev_space = false;
        if c.is_ascii() {
            if c.is_ascii_uppercase() || c.is_ascii_whitespace() {
                return false;
            }
        } else if c.is_whitespace()
            || (is_middle_dot(c) && c != MIDDLE_DOT)
            || !is_lowercase_stable(c)
        {
            return false;
        }
    }
    s.is_ascii() || is_nfkc_quick(s.chars()) == IsNormalized::Yes
}

/// The comparable form of `s`: NFKC, middle dots folded, lowercase, whitespace runs collapsed
/// to one space (never trimmed, so a needle's deliberate leading space still counts).
pub(crate) fn normalize(s: &str) -> Cow<'_, str> {
    if is_normalized(s) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    if s.is_ascii() {
        push_normalized(&mut out, s.chars());
    } else {
        // Fold before NFKC too: NFKC maps U+318D to the conjoining vowel U+119E, which is no
        // longer recognizable as a dot.
        push_normalized(&mut out, s.chars().map(fold_dot).nfkc());
    }
    Cow::Owned(out)
}

/// [`normalize`] for text that may already be owned, reusing the allocation when possible.
pub(crate) fn normalize_cow(s: Cow<'_, str>) -> Cow<'_, str> {
    match s {
        Cow::Borrowed(b) => normalize(b),
        Cow::Owned(o) if is_normalized(&o) => Cow::Owned(o),
        Cow::Owned(o) => Cow::Owned(normalize(&o).into_owned()),
    }
}

fn push_normalized(out: &mut String, chars: impl Iterator<Item = char>) {
    let mut prev_space = false;
    for c in chars {
        if c.is_whitespace() {
            if !prev_space {
                out.push(' ');
            }
            prev_space = true;
            continue;
        }
        prev_space = false;
        // NFKC maps U+FF65 to U+30FB, so fold after it as well as before.
        let c = fold_dot(c);
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
    }
}

pub(crate) use crate::html::html_text;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_table() {
        let cases = [
            ("plain ascii", "plain ascii"),
            ("MiXeD Case", "mixed case"),
            ("tabs\tand\n\nnewlines  here", "tabs and newlines here"),
            ("ＩＴ", "it"),
            ("ＡＢＣ１２３", "abc123"),
            ("IT·과학", "it·과학"),
            ("ITㆍ과학", "it·과학"),
            ("IT・과학", "it·과학"),
            ("IT‧과학", "it·과학"),
            ("IT･과학", "it·과학"),
            ("이재용·올트먼", "이재용·올트먼"),
            ("a\u{3000}b", "a b"),
            ("a\u{00A0}\u{00A0}b", "a b"),
            ("ΣΑΣ", "σασ"),
            ("㈜삼성", "(주)삼성"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(input), want, "normalize({input:?})");
        }
    }

    #[test]
    fn already_normal_text_is_borrowed() {
        for s in [
            "plain ascii",
            "이재용·올트먼 내일 회동, 오픈ai",
            "it·과학",
            "",
        ] {
            assert!(
                matches!(normalize(s), Cow::Borrowed(_)),
                "{s:?} should not allocate"
            );
        }
        for s in ["Upper", "ㆍ", "ＩＴ", "two  spaces", "tab\t", "회동…"] {
            assert!(
                matches!(normalize(s), Cow::Owned(_)),
                "{s:?} needs normalizing"
            );
        }
    }

    #[test]
    fn normalize_cow_matches_normalize() {
        for s in ["ＩＴ ㆍ 과학", "already", "Upper"] {
            assert_eq!(normalize_cow(Cow::Owned(s.to_owned())), normalize(s));
        }
    }

    #[test]
    fn html_text_table() {
        let cases = [
            ("no markup", "no markup"),
            ("<p>first</p><p>second</p>", " first  second "),
            ("<b>삼</b>성<em>전자</em>", "삼성전자"),
            ("a<br>b<br/>c", "a b c"),
            ("<A HREF=\"x\">link</A> text", "link text"),
            (
                "AT&amp;T &lt;tag&gt; &quot;q&quot; &#39;s&#x27;",
                "AT&T <tag> \"q\" 's'",
            ),
            ("IT&middot;과학 &#12685;", "IT·과학 ㆍ"),
            ("a&nbsp;b", "a\u{00A0}b"),
            ("&unknown; & alone &#xZZ;", "&unknown; & alone &#xZZ;"),
            ("x<!-- hidden <b> -->y", "xy"),
            ("broken <tag", "broken <tag"),
            ("&#1114112; &#0;", "&#1114112; &#0;"),
        ];
        for (input, want) in cases {
            assert_eq!(html_text(input), want, "html_text({input:?})");
        }
    }
}
