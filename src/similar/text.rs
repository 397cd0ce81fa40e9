//! The text two copies of a story are compared on: the title and the opening of the summary,
//! without what outlets add around the news (leading tags such as `[단독]` and `[종합2보]`,
//! bylines such as `(서울=연합뉴스) 홍길동 기자 =` and `[매일경제 김철수 기자]`, e-mail
//! addresses, copyright lines such as `ⓒ … 무단전재 및 재배포 금지`, wire datelines such as
//! `SEOUL, Dec 3 (Reuters) -`), folded (NFKC, lower case, middle dots and punctuation to
//! spaces) so that spelling differences of no meaning do not count.

use std::sync::LazyLock;

use regex::Regex;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

/// How much of the summary's opening counts: enough for the lede, not the whole article, whose
/// later paragraphs outlets rewrite most.
pub const OPENING_CHARS: usize = 160;

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("a valid pattern")
}

/// Leading tags of a title: `[단독]`, `【속보】`, `(종합)`, `UPDATE 1-`, `BREAKING:`.
static TITLE_TAGS: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)^(?:\s*(?:\[[^\]]{1,12}\]|【[^】]{1,12}】|\((?:종합|속보|단독|2보|3보|1보|상보|포토|영상)[^)]{0,6}\)|update \d+-|(?:breaking|exclusive|wrapup \d+)\s*[:-]))+\s*",
    )
});

/// A title's trailing outlet name: ` - 매일경제`, ` | Reuters`.
static TITLE_TAIL: LazyLock<Regex> =
    LazyLock::new(|| re(r"\s+[-|:]\s+[^\s\-|:]{1,20}(?:\s[^\s\-|:]{1,12})?\s*$"));

/// Bylines and credits anywhere in a summary.
static BYLINES: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        // (서울=연합뉴스) 홍길동 기자 = / (세종=뉴스1) 김민준 이서연 기자 =
        r"[(【\[][^()【】\[\]=]{1,12}=[^()【】\[\]]{1,12}[)】\]]\s*(?:[가-힣]{2,4}\s*){0,3}(?:기자|특파원)?\s*=?|",
        // [매일경제 김철수 기자] / [이데일리 홍길동 기자]
        r"\[[^\]]{0,20}(?:기자|특파원|뉴스|경제|일보|신문)[^\]]{0,10}\]|",
        // 홍길동 기자 hong@example.co.kr / 홍길동 기자 =
        r"(?:[가-힣]{2,4}\s+)?(?:기자|특파원)\s*(?:[\w.+-]+@[\w.-]+|=)|",
        r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|",
        r"https?://\S+|",
        // SEOUL, Dec 3 (Reuters) - / (Reuters) - / (AP) —
        r"^(?:[A-Z][A-Za-z .,]{0,30}\d{0,2}\s*)?\((?:Reuters|AP|AFP|Bloomberg|Yonhap|[A-Z][A-Za-z]{1,15})\)\s*[-–—]\s*|",
        // By Jane Doe | / By Jane Doe,
        r"^By\s+[A-Z][\w.'-]*(?:\s+[A-Z][\w.'-]*){0,3}\s*[|,–—-]\s*"
    ))
});

/// Where a copyright or credit line starts: everything after it is the outlet's, not the news.
static COPYRIGHT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)(?:ⓒ|©|\(c\)\s|copyright|all rights reserved|무단\s*전재|재배포\s*금지|저작권자|<저작권)",
    )
});

/// Title and opening, cleaned of what outlets add and folded: the text copies are compared on.
pub fn match_text(title: &str, summary: &str) -> String {
    let (title, opening) = (clean_title(title), opening(summary));
    if opening.is_empty() {
        return title;
    }
    format!("{title} {opening}")
}

/// The title without its tags and trailing outlet name, folded.
pub fn clean_title(title: &str) -> String {
    let title = title.trim();
    // The regexes only where they can match: a tag leads with a bracket or a word such as
    // UPDATE, a trailing outlet name follows ` - `, ` | ` or ` : `.
    let tagged =
        title.starts_with(['[', '【', '(']) || title.starts_with(|c: char| c.is_ascii_alphabetic());
    let title = match tagged {
        true => TITLE_TAGS.replace(title, ""),
        false => title.into(),
    };
    let tailed = title.contains(" - ") || title.contains(" | ") || title.contains(" : ");
    let title = match tailed {
        true => TITLE_TAIL.replace(&title, "").into_owned(),
        false => title.into_owned(),
    };
    fold(&title)
}

/// The summary's opening without bylines and credits, folded.
pub fn opening(summary: &str) -> String {
    // Bylines lead and credits trail: what lies past the opening's reach is never looked at.
    let reach: String = summary.trim().chars().take(OPENING_CHARS * 3).collect();
    let credited = reach.contains(['=', '@', '(', '[', '【'])
        || reach.contains("기자")
        || reach.contains("By ");
    let summary = match credited {
        true => BYLINES.replace_all(&reach, " "),
        false => std::borrow::Cow::Borrowed(reach.as_str()),
    };
    let summary = match COPYRIGHT.find(&summary) {
        Some(m) => &summary[..m.start()],
        None => &summary[..],
    };
    let opening: String = summary.trim().chars().take(OPENING_CHARS).collect();
    fold(&opening)
}

/// NFKC, lower case, middle dots and punctuation to spaces, whitespace collapsed. Digits, the
/// decimal point, thousands separators, score dashes (`2-3`), `%` and currency signs stay:
/// they make the figures.
pub fn fold(text: &str) -> String {
    // Most news text (Hangul syllables, ASCII) is NFKC already: the quick check skips the
    // normalizer, which cost more than all the rest.
    let stable = |c: char| c.is_ascii() || ('\u{AC00}'..='\u{D7A3}').contains(&c);
    let normalized: std::borrow::Cow<'_, str> =
        if text.chars().all(stable) || is_nfkc_quick(text.chars()) == IsNormalized::Yes {
            text.into()
        } else {
            text.nfkc().collect::<String>().into()
        };
    let chars: Vec<char> = normalized.chars().collect();
    let mut out = String::with_capacity(normalized.len());
    let mut space = true;
    for (i, &c) in chars.iter().enumerate() {
        let kept = match c {
            // The common cases first: Hangul syllables and ASCII.
            '\u{AC00}'..='\u{D7A3}' | 'a'..='z' | '0'..='9' | '%' | '$' => Some(c),
            'A'..='Z' => Some(c.to_ascii_lowercase()),
            '.' | ',' | '-' | ':' | '–'
                if i > 0
                    && chars[i - 1].is_ascii_digit()
                    && chars.get(i + 1).is_some_and(char::is_ascii_digit) =>
            {
                Some(c)
            }
            _ if c.is_ascii() => None,
            '€' | '£' | '₩' => Some(c),
            _ if c.is_alphanumeric() => {
                for lower in c.to_lowercase() {
                    out.push(lower);
                }
                space = false;
                continue;
            }
            _ => None,
        };
        match kept {
            Some(c) => {
                out.push(c);
                space = false;
            }
            None if !space => {
                out.push(' ');
                space = true;
            }
            None => {}
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_bylines_and_copyright_lines_go() {
        let a = match_text(
            "[종합2보] 삼성전자, 3분기 영업익 9조원",
            "(서울=연합뉴스) 홍길동 기자 = 삼성전자가 3분기 영업이익 9조원을 기록했다. ⓒ 연합뉴스, 무단전재 및 재배포 금지",
        );
        let b = match_text(
            "삼성전자, 3분기 영업익 9조원 - 매일경제",
            "[매일경제 김철수 기자] 삼성전자가 3분기 영업이익 9조원을 기록했다. kim@mk.example.kr",
        );
        assert_eq!(a, b);
        assert_eq!(
            a,
            "삼성전자 3분기 영업익 9조원 삼성전자가 3분기 영업이익 9조원을 기록했다"
        );
    }

    #[test]
    fn english_datelines_and_bylines_go() {
        let a = match_text(
            "UPDATE 1-Chipmaker raises outlook",
            "SEOUL, Dec 3 (Reuters) - The chipmaker raised its outlook. All rights reserved.",
        );
        let b = match_text(
            "Chipmaker raises outlook",
            "By Jane Doe | The chipmaker raised its outlook.",
        );
        assert_eq!(a, b);
    }

    #[test]
    fn middle_dots_and_full_width_forms_fold() {
        assert_eq!(fold("IT·과학 ＡＩ 2,501.23%"), "it 과학 ai 2,501.23%");
    }
}
