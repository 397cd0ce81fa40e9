//! The figures a news text states, by kind: amounts, counts, percentages, quarters, days,
//! months, years, scores, model codes. Copies of one event state the same figures; two texts
//! that state different figures of one kind (3분기 and 4분기, 3일 and 4일, 2,501.23 and
//! 2,488.10) tell different events however alike their words are.
//!
//! Korean numerals with units are read as numbers (`1조2000억`, `1조2천억` and `1.2조` are one
//! value; `2만5천명` is 25,000 people), and so are English scales (`$1.2 billion`, `$1.2bn`).

use std::collections::BTreeMap;

/// A text's figures: for each kind (a unit such as `원`, `%`, `분기`, `일`, `$`, or `""` for a
/// bare number, `code` for model names like `h100`), the values stated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    kinds: BTreeMap<String, Vec<f64>>,
}

impl Figures {
    /// Whether both texts state figures of some kind and share none of that kind: different
    /// events. A follow-up that adds a figure still shares the first one.
    pub fn conflict(&self, other: &Figures) -> bool {
        self.kinds.iter().any(|(kind, values)| {
            other.kinds.get(kind).is_some_and(|theirs| {
                !values
                    .iter()
                    .any(|v| theirs.iter().any(|t| same_value(*v, *t)))
            })
        })
    }

    /// How many figures both state (of the same kind and value).
    pub fn shared(&self, other: &Figures) -> usize {
        // A weekday says little that two different events would not share.
        let kinds = self.kinds.iter().filter(|(kind, _)| *kind != "weekday");
        let both = kinds.filter_map(|(kind, values)| Some((values, other.kinds.get(kind)?)));
        both.map(|(ours, theirs)| {
            (ours.iter())
                .filter(|v| theirs.iter().any(|t| same_value(**v, *t)))
                .count()
        })
        .sum()
    }

    /// How many figures were found.
    pub fn len(&self) -> usize {
        self.kinds.values().map(Vec::len).sum()
    }

    /// Whether none was found.
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    fn add(&mut self, kind: &str, value: f64) {
        let values = self.kinds.entry(kind.to_owned()).or_default();
        if !values.iter().any(|v| same_value(*v, value)) {
            values.push(value);
        }
    }
}

fn same_value(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Units that name what a number counts, longest first where one is a prefix of another.
const KO_UNITS: &[&str] = &[
    "퍼센트",
    "분기",
    "가구",
    "달러",
    "포인트",
    "원",
    "명",
    "개",
    "건",
    "대",
    "곳",
    "일",
    "월",
    "년",
    "시",
    "분",
    "초",
    "점",
    "위",
    "배",
    "회",
    "차",
    "세",
    "호",
    "층",
    "톤",
    "주",
    "승",
    "패",
    "골",
];

const EN_UNITS: &[(&str, &str)] = &[
    ("percent", "%"),
    ("per cent", "%"),
    ("points", "pts"),
    ("point", "pts"),
    ("pts", "pts"),
    ("people", "people"),
    ("units", "units"),
    ("games", "games"),
    ("runs", "runs"),
    ("goals", "goals"),
    ("won", "원"),
    ("yen", "yen"),
    ("euros", "€"),
    ("euro", "€"),
    ("dollars", "$"),
    ("pounds", "£"),
    ("barrels", "barrels"),
    ("bpd", "barrels"),
    ("jobs", "people"),
    ("employees", "people"),
    ("workers", "people"),
    ("staff", "people"),
    ("vehicles", "units"),
    ("cars", "units"),
];

const SCALES: &[(&str, f64)] = &[
    ("trillion", 1e12),
    ("billion", 1e9),
    ("million", 1e6),
    ("bn", 1e9),
    ("mn", 1e6),
    ("tn", 1e12),
];

const ORDINALS: &[(&str, f64)] = &[
    ("first", 1.0),
    ("second", 2.0),
    ("third", 3.0),
    ("fourth", 4.0),
];

const WEEKDAYS: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

const MONTHS: &[&str] = &[
    "jan",
    "january",
    "feb",
    "february",
    "mar",
    "march",
    "apr",
    "april",
    "may",
    "jun",
    "june",
    "jul",
    "july",
    "aug",
    "august",
    "sep",
    "sept",
    "september",
    "oct",
    "october",
    "nov",
    "november",
    "dec",
    "december",
];

/// The figures of `text` (already NFKC-folded and lower-cased; see [`super::text`]).
pub fn figures(text: &str) -> Figures {
    // Thousands separators go: `2,501.23` is one number.
    let raw: Vec<char> = text.chars().collect();
    let chars: Vec<char> = (0..raw.len())
        .filter(|&i| {
            !(raw[i] == ','
                && i > 0
                && raw[i - 1].is_ascii_digit()
                && raw.get(i + 1).is_some_and(char::is_ascii_digit))
        })
        .map(|i| raw[i])
        .collect();
    let mut out = Figures::default();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if !c.is_ascii_digit() {
            if c.is_ascii_alphabetic() {
                i = word(&chars, i, &mut out);
            } else {
                i += 1;
            }
            continue;
        }
        // A model code: letters right before the digits (`h100`, `s24`, `q3`).
        if i > 0 && chars[i - 1].is_ascii_alphabetic() {
            i += 1;
            continue;
        }
        i = number(&chars, i, &mut out);
    }
    out
}

/// Reads the ASCII word at `i`: a model code (`h100`), a quarter (`q3`, `third quarter`), a
/// month and day (`dec 3`). Returns the index after it.
fn word(chars: &[char], i: usize, out: &mut Figures) -> usize {
    let end = (i..chars.len())
        .find(|&j| !chars[j].is_ascii_alphanumeric())
        .unwrap_or(chars.len());
    let token: String = chars[i..end].iter().collect();
    let has_digit = token.chars().any(|c| c.is_ascii_digit());
    if has_digit {
        if let Some(q) = token.strip_prefix('q').and_then(|n| n.parse::<f64>().ok()) {
            out.add("분기", q);
        } else {
            code(&token, out);
        }
        return end;
    }
    let next = next_word(chars, end);
    if let Some((_, n)) = ORDINALS.iter().find(|(w, _)| *w == token)
        && next.as_deref() == Some("quarter")
    {
        out.add("분기", *n);
    }
    if let Some(day) = WEEKDAYS.iter().position(|w| *w == token) {
        out.add("weekday", day as f64);
        return end;
    }
    if MONTHS.contains(&token.as_str()) {
        // `dec 3`, `december 3`: the day.
        let mut j = end;
        while j < chars.len() && chars[j] == ' ' {
            j += 1;
        }
        let digits: String = chars[j..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        if let Ok(day) = digits.parse::<f64>()
            && (1.0..=31.0).contains(&day)
        {
            out.add("일", day);
            return j + digits.len();
        }
    }
    end
}

fn next_word(chars: &[char], from: usize) -> Option<String> {
    let start = (from..chars.len()).find(|&j| chars[j].is_ascii_alphabetic())?;
    if chars[from..start].iter().any(|c| !c.is_whitespace()) {
        return None;
    }
    let end = (start..chars.len())
        .find(|&j| !chars[j].is_ascii_alphabetic())
        .unwrap_or(chars.len());
    Some(chars[start..end].iter().collect())
}

/// A model code (`h100`, `s24`, `5g`): its letters are its kind, its number the value, so
/// `h100` and `h200` conflict while `s24` and `5g` are unrelated.
fn code(token: &str, out: &mut Figures) {
    let letters: String = token.chars().filter(char::is_ascii_alphabetic).collect();
    let digits: String = token.chars().filter(char::is_ascii_digit).collect();
    out.add(&format!("code:{letters}"), digits.parse().unwrap_or(0.0));
}

/// Reads the number at `i` with its Korean units or English scale and its unit, adds it, and
/// returns the index after it.
fn number(chars: &[char], start: usize, out: &mut Figures) -> usize {
    let currency = start.checked_sub(1).and_then(|j| match chars[j] {
        '$' => Some("$"),
        '€' => Some("€"),
        '£' => Some("£"),
        '₩' => Some("원"),
        _ => None,
    });
    let (mut value, i) = korean_number(chars, start);
    let rest: String = chars[i..chars.len().min(i + 12)].iter().collect();
    let trimmed = rest.trim_start();
    // Letters right after the digits that are no scale or unit word: their own kind, such as
    // `t`, `km`, `nm` or `g` (`4만5천t` and `4만5000t` agree; `5g` and `6g` do not).
    if rest.starts_with(|c: char| c.is_ascii_alphabetic())
        && !SCALES.iter().any(|(w, _)| rest.starts_with(w))
        && !EN_UNITS.iter().any(|(w, _)| rest.starts_with(w))
    {
        let end = (i..chars.len())
            .find(|&j| !chars[j].is_ascii_alphabetic())
            .unwrap_or(chars.len());
        let unit: String = chars[i..end].iter().collect();
        out.add(&format!("unit:{unit}"), value);
        return end;
    }
    // A score or a result: `4-0`, `1:2`, `6-3`.
    if let Some(sep) = chars.get(i)
        && matches!(sep, '-' | ':' | '–')
        && chars.get(i + 1).is_some_and(char::is_ascii_digit)
        && value.fract() == 0.0
    {
        let (other, end) = digits(chars, i + 1);
        if !chars
            .get(end)
            .is_some_and(|c| c.is_ascii_digit() || *c == '.')
        {
            out.add("score", value * 1000.0 + other);
            return end;
        }
    }
    let gap = rest.len() - trimmed.len();
    // English scales: `1.2 billion`, `1.2bn`.
    for (word, scale) in SCALES {
        if trimmed.starts_with(word)
            && !trimmed[word.len()..].starts_with(|c: char| c.is_ascii_alphabetic())
        {
            value *= scale;
            let after: String = rest[gap + word.len()..].trim_start().to_owned();
            let named = EN_UNITS
                .iter()
                .find(|(w, _)| after.starts_with(w))
                .map(|(_, k)| *k);
            out.add(currency.or(named).unwrap_or(""), value);
            return i + gap + word.len();
        }
    }
    if let Some(kind) = currency {
        out.add(kind, value);
        return i;
    }
    if rest.starts_with('%') {
        out.add("%", value);
        return i + 1;
    }
    if let Some(unit) = KO_UNITS.iter().find(|u| rest.starts_with(*u)) {
        let kind = if *unit == "퍼센트" { "%" } else { unit };
        out.add(kind, value);
        return i + unit.chars().count();
    }
    for (word, kind) in EN_UNITS {
        if trimmed.starts_with(word)
            && !trimmed[word.len()..].starts_with(|c: char| c.is_ascii_alphabetic())
        {
            out.add(kind, value);
            return i;
        }
    }
    // An ordinal day or rank in English (`3rd`, `21st`) or a bare number.
    out.add("", value);
    i
}

/// The number at `start`, its Korean units read (`1조2000억`, `2만5천`, `3천`), and the index
/// after it.
fn korean_number(chars: &[char], start: usize) -> (f64, usize) {
    let mut i = start;
    let mut value = 0.0;
    let mut group = 0.0;
    loop {
        let (n, after) = digits(chars, i);
        i = after;
        let mut n = n;
        // Small Korean units multiply within a group: 2천 = 2,000.
        match chars.get(i) {
            Some('천') => {
                n *= 1000.0;
                i += 1;
            }
            Some('백') => {
                n *= 100.0;
                i += 1;
            }
            _ => {}
        }
        let big = match chars.get(i) {
            Some('조') => Some(1e12),
            Some('억') => Some(1e8),
            Some('만') => Some(1e4),
            _ => None,
        };
        match big {
            Some(unit) => {
                value += (group + n) * unit;
                group = 0.0;
                i += 1;
                // Another group follows directly (`1조2000억`, `2만5천`).
                if chars.get(i).is_some_and(char::is_ascii_digit) {
                    continue;
                }
                break;
            }
            None => {
                group += n;
                if chars.get(i).is_some_and(char::is_ascii_digit) {
                    continue;
                }
                value += group;
                break;
            }
        }
    }
    (value, i)
}

/// The decimal number at `i` (thousands separators already removed), and the index after it.
fn digits(chars: &[char], mut i: usize) -> (f64, usize) {
    let start = i;
    while i < chars.len() && chars[i].is_ascii_digit() {
        i += 1;
    }
    if i + 1 < chars.len() && chars[i] == '.' && chars[i + 1].is_ascii_digit() {
        i += 1;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
    }
    let text: String = chars[start..i].iter().collect();
    (text.parse().unwrap_or(0.0), i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(text: &str) -> Figures {
        figures(&super::super::text::fold(text))
    }

    #[test]
    fn korean_numerals_with_units_read_as_one_value() {
        for (a, b) in [
            ("1조2000억원", "1조2천억 원"),
            ("1조2000억원", "1.2조원"),
            ("2만5000명", "2만5천명"),
            ("영업이익 2조4000억원", "영업익 2조4천억원"),
            ("3.5%", "3.5퍼센트"),
        ] {
            assert!(
                !of(a).conflict(&of(b)),
                "{a} / {b}: {:?} {:?}",
                of(a),
                of(b)
            );
        }
    }

    #[test]
    fn different_quarters_days_amounts_and_levels_conflict() {
        for (a, b) in [
            ("3분기 영업이익", "4분기 영업이익"),
            (
                "3일 코스피는 2,501.23에 마감",
                "4일 코스피는 2,488.10에 마감",
            ),
            ("영업이익 2조4000억원", "영업이익 2조8000억원"),
            ("Q3 revenue", "Q4 revenue"),
            ("third quarter profit", "fourth quarter profit"),
            ("revenue of $1.2 billion", "revenue of $1.5 billion"),
            ("stocks fell on Dec 3", "stocks fell on Dec 4"),
            ("Nvidia H100 supply", "Nvidia H200 supply"),
        ] {
            assert!(of(a).conflict(&of(b)), "{a} / {b}: {:?} {:?}", of(a), of(b));
        }
    }

    #[test]
    fn english_scales_and_a_follow_up_with_one_more_figure_agree() {
        assert!(!of("$1.2 billion deal").conflict(&of("$1.2bn deal")));
        assert!(!of("3일 2명 사망").conflict(&of("3일 2명 사망, 5명 부상")));
        assert!(!of("no figures here").conflict(&of("3분기")));
    }
}
