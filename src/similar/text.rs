//! The text two copies of a story are compared on: the title and the opening of the summary,
//! without what outlets add around the news (leading tags such as `[단독]` and `[종합2보]`,
//! bylines such as `(서울=연합뉴스) 홍길동 기자 =` and `[매일경제 김철수 기자]`, e-mail
//! addresses, copyright lines such as `ⓒ … 무단전재 및 재배포 금지`, wire datelines such as
//! `SEOUL, Dec 3 (Reuters) -`), folded (NFKC, lower case, middle dots and punctuation to
//! spaces) so that spelling differences of no meaning do not count.

use std::sync::LazyLock;

use regex::Regex;
use unicode_normalization::UnicodeNormalization;

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
    let title = TITLE_TAGS.replace(title.trim(), "");
    let title = TITLE_TAIL.replace(&title, "");
    let summary = BYLINES.replace_all(summary.trim(), " ");
    let summary = match COPYRIGHT.find(&summary) {
        Some(m) => &summary[..m.start()],
        None => &summary[..],
    };
    let opening: String = summary.trim().chars().take(OPENING_CHARS).collect();
    fold(&format!("{title} {opening}"))
}

/// NFKC, lower case, middle dots and punctuation to spaces, whitespace collapsed. Digits, the
/// decimal point, thousands separators, score dashes (`2-3`), `%` and currency signs stay:
/// they make the figures.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = true;
    let chars: Vec<char> = text.nfkc().flat_map(char::to_lowercase).collect();
    for (i, &c) in chars.iter().enumerate() {
        let between_digits = |c: char| {
            i > 0
                && chars[i - 1].is_ascii_digit()
                && chars.get(i + 1).is_some_and(char::is_ascii_digit)
                && matches!(c, '.' | ',' | '-' | ':' | '–')
        };
        let keep =
            c.is_alphanumeric() || matches!(c, '%' | '$' | '€' | '£' | '₩') || between_digits(c);
        if keep {
            out.push(c);
            space = false;
        } else if !space {
            out.push(' ');
            space = true;
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
