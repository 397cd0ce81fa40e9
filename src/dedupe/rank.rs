//! Which copy speaks for a story: the ranking of SPEC "Stories, not links", pure.
//!
//! Owns the order among copies of one story and the decoding-damage detector it starts with.
//! Used by [`super::decide`] among copies that share an identity, and meant to be reused among
//! copies of one event that have different links. Never looks at the clock or the store: the
//! rank of a copy is a function of the copy and its source's priority, so the chosen copy is
//! the same whatever order the copies arrived in.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::model::StoryCopy;

/// `[sources.ID] priority` of every source (default 0): higher speaks first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Priorities(Arc<HashMap<String, i64>>);

impl Priorities {
    /// The priorities `(source id, priority)` name; unnamed sources have 0.
    pub fn new(pairs: impl IntoIterator<Item = (String, i64)>) -> Priorities {
        let map: HashMap<String, i64> = pairs.into_iter().filter(|(_, p)| *p != 0).collect();
        Priorities(Arc::new(map))
    }

    /// `source`'s priority; 0 when not configured.
    pub fn of(&self, source: &str) -> i64 {
        self.0.get(source).copied().unwrap_or(0)
    }
}

/// Whether `text` shows decoding damage: U+FFFD, a C1 control character (U+0080–U+009F), or
/// UTF-8 read as Latin-1 or windows-1252 (`Ã©`, `â€™`, `ì\u{9d}`…): a character that was a
/// UTF-8 lead byte followed by characters that were the continuation bytes it needs, together
/// valid UTF-8. Clean text in any script (Korean, emoji, French `café»`) is never damaged.
pub fn damaged(text: &str) -> bool {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{FFFD}' || ('\u{80}'..='\u{9F}').contains(&c) {
            return true;
        }
        let needed = match c {
            '\u{C2}'..='\u{DF}' => 1,
            '\u{E0}'..='\u{EF}' => 2,
            '\u{F0}'..='\u{F4}' => 3,
            _ => continue,
        };
        let mut bytes = [c as u8, 0, 0, 0];
        let mut ahead = chars.clone();
        let complete = (1..=needed).all(|i| match ahead.next().and_then(single_byte_of) {
            Some(b) if (0x80..=0xBF).contains(&b) => {
                bytes[i] = b;
                true
            }
            _ => false,
        });
        if complete && std::str::from_utf8(&bytes[..=needed]).is_ok() {
            return true;
        }
    }
    false
}

/// The byte a character was when UTF-8 was read as windows-1252 (or Latin-1): U+0080–U+00FF
/// themselves, and windows-1252's own characters for 0x80–0x9F.
fn single_byte_of(c: char) -> Option<u8> {
    if ('\u{80}'..='\u{FF}').contains(&c) {
        return Some(c as u32 as u8);
    }
    const CP1252: [(char, u8); 27] = [
        ('€', 0x80),
        ('‚', 0x82),
        ('ƒ', 0x83),
        ('„', 0x84),
        ('…', 0x85),
        ('†', 0x86),
        ('‡', 0x87),
        ('ˆ', 0x88),
        ('‰', 0x89),
        ('Š', 0x8A),
        ('‹', 0x8B),
        ('Œ', 0x8C),
        ('Ž', 0x8E),
        ('‘', 0x91),
        ('’', 0x92),
        ('“', 0x93),
        ('”', 0x94),
        ('•', 0x95),
        ('–', 0x96),
        ('—', 0x97),
        ('˜', 0x98),
        ('™', 0x99),
        ('š', 0x9A),
        ('›', 0x9B),
        ('œ', 0x9C),
        ('ž', 0x9E),
        ('Ÿ', 0x9F),
    ];
    CP1252.iter().find(|(k, _)| *k == c).map(|(_, b)| *b)
}

/// What orders copies: the better copy sorts first ([`Ord`]: `a < b` when `a` speaks before
/// `b`). Built by [`Rank::of`], or by hand for copies that are not [`StoryCopy`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rank<'a> {
    /// The copy shows decoding damage ([`damaged`]).
    pub damaged: bool,
    /// Its source's priority.
    pub priority: i64,
    /// Characters of title + summary + content.
    pub chars: usize,
    /// When its source first sent it.
    pub first_seen: DateTime<Utc>,
    /// Its source's id.
    pub source: &'a str,
}

impl<'a> Rank<'a> {
    /// The rank of `copy` under `priorities`.
    pub fn of(copy: &'a StoryCopy, priorities: &Priorities) -> Rank<'a> {
        let texts = [
            Some(copy.title.as_str()),
            copy.summary.as_deref(),
            copy.content.as_deref(),
        ];
        let listed = copy.authors.iter().chain(&copy.categories);
        Rank {
            damaged: texts.iter().flatten().any(|t| damaged(t))
                || listed.into_iter().any(|t| damaged(t)),
            priority: priorities.of(copy.source.as_str()),
            chars: texts.iter().flatten().map(|t| t.chars().count()).sum(),
            first_seen: copy.first_seen,
            source: copy.source.as_str(),
        }
    }
}

impl Ord for Rank<'_> {
    /// Undamaged first, then the higher priority, the longer text, the earlier first-seen,
    /// the smaller source id.
    fn cmp(&self, other: &Self) -> Ordering {
        self.damaged
            .cmp(&other.damaged)
            .then(other.priority.cmp(&self.priority))
            .then(other.chars.cmp(&self.chars))
            .then(self.first_seen.cmp(&other.first_seen))
            .then(self.source.cmp(other.source))
    }
}

impl PartialOrd for Rank<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The index of the copy that speaks for a story among `copies`; `None` when there are none.
pub fn choose(copies: &[StoryCopy], priorities: &Priorities) -> Option<usize> {
    (0..copies.len())
        .min_by(|a, b| Rank::of(&copies[*a], priorities).cmp(&Rank::of(&copies[*b], priorities)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_text_is_never_damaged() {
        for clean in [
            "",
            "삼성전자, 3분기 영업이익 9조원…반도체 회복",
            "[단독] 한국은행 기준금리 동결 · 물가 2%대",
            "Apple’s “new” chip — 10% faster…",
            "café » crème «déjà vu» naïve façade Ärger Übung ß",
            "emoji 🎉🚀👍🏽 and 👨‍👩‍👧",
            "日本語のテキスト、中文文本",
            "Ñandú ¿qué? ¡sí! © ® ° ± µ",
            "ÀÉÎÕÜ àéîõü",
        ] {
            assert!(!damaged(clean), "{clean:?} is clean");
        }
    }

    #[test]
    fn decoding_damage_is_seen() {
        for bad in [
            "caf\u{FFFD} au lait",
            "title with \u{85} a C1 control",
            "cafÃ© au lait",
            "premiÃ¨re fois",
            "Appleâ€™s chip",
            "ì\u{9d}´ìž¬ìš©",
            "ë\u{8b}¤",
            "Â·",
        ] {
            assert!(damaged(bad), "{bad:?} is damaged");
        }
        // Korean UTF-8 read as windows-1252.
        let (mojibake, _, _) = encoding_rs::WINDOWS_1252.decode("이재용 회장".as_bytes());
        assert!(damaged(&mojibake), "{mojibake:?}");
    }

    fn copy(source: &str, title: &str) -> StoryCopy {
        let at = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 12, 1, 0, 0, 0).unwrap();
        StoryCopy {
            source: crate::model::SourceId::new(source).unwrap(),
            link: None,
            title: title.into(),
            summary: None,
            content: None,
            authors: vec![],
            categories: vec![],
            published: at,
            updated: at,
            first_seen: at,
            lang: None,
        }
    }

    #[test]
    fn the_ranking_goes_damage_priority_length_age_id() {
        let none = Priorities::default();
        let copies = [copy("a", "caf\u{FFFD} long long long"), copy("b", "café")];
        assert_eq!(choose(&copies, &none), Some(1), "damage first");
        let copies = [copy("a", "short"), copy("b", "much longer")];
        assert_eq!(choose(&copies, &none), Some(1), "longer text");
        let high = Priorities::new([("a".to_owned(), 5)]);
        assert_eq!(choose(&copies, &high), Some(0), "priority before length");
        let copies = [copy("b", "same"), copy("a", "same")];
        assert_eq!(choose(&copies, &none), Some(1), "smaller id last");
        let mut older = copy("c", "same");
        older.first_seen -= chrono::Duration::hours(1);
        let copies = [copy("a", "same"), older];
        assert_eq!(choose(&copies, &none), Some(1), "earlier first-seen");
        assert_eq!(choose(&[], &none), None);
    }
}
