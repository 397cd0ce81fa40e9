//! Timestamps as publishers write them: RFC 822/2822 (with `+09:00`-style offsets and zone
//! names such as KST), RFC 3339/ISO 8601, and offset-less forms read in the source's zone.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// Parses `text` as a timestamp; offset-less forms are read in `zone`.
pub fn parse_date(text: &str, zone: Tz) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if text.is_empty() || text.len() > 64 {
        return None;
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(text) {
        return Some(d.with_timezone(&Utc));
    }
    rfc2822(text)
        .or_else(|| iso_like(text, zone))
        .or_else(|| rfc2822_without_zone(text, zone))
}

/// RFC 822/2822, made lenient: the weekday is dropped (publishers get it wrong), `+09:00`
/// becomes `+0900`, and common zone names are mapped to offsets.
fn rfc2822(text: &str) -> Option<DateTime<Utc>> {
    // Most dates are already valid: read them without the copies the cleaning makes.
    if let Ok(d) = DateTime::parse_from_rfc2822(text.trim()) {
        return Some(d.with_timezone(&Utc));
    }
    let cleaned = clean_rfc2822(text)?;
    DateTime::parse_from_rfc2822(&cleaned)
        .ok()
        .map(|d| d.with_timezone(&Utc))
        .or_else(|| {
            // Full month names ("3 February 2025 09:00:00 +0900").
            DateTime::parse_from_str(&cleaned, "%d %B %Y %H:%M:%S %z")
                .or_else(|_| DateTime::parse_from_str(&cleaned, "%d %B %Y %H:%M %z"))
                .ok()
                .map(|d| d.with_timezone(&Utc))
        })
}

fn clean_rfc2822(text: &str) -> Option<String> {
    let without_weekday = match text.split_once(',') {
        Some((day, rest)) if day.trim().chars().all(|c| c.is_ascii_alphabetic()) => rest.trim(),
        _ => text,
    };
    let mut parts: Vec<String> = without_weekday
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let last = parts.last_mut()?;
    if let Some(offset) = zone_name_offset(last) {
        *last = offset.to_owned();
    } else if last.len() == 6
        && (last.starts_with('+') || last.starts_with('-'))
        && last.as_bytes()[3] == b':'
    {
        last.remove(3);
    }
    Some(parts.join(" "))
}

fn zone_name_offset(name: &str) -> Option<&'static str> {
    Some(match name.to_ascii_uppercase().as_str() {
        "KST" => "+0900",
        "JST" => "+0900",
        "UTC" | "Z" => "+0000",
        "CET" => "+0100",
        "CEST" => "+0200",
        _ => return None,
    })
}

/// ISO-like forms: `2025-02-03T09:00:00` with or without offset, a space instead of `T`,
/// `.`/`/` separators, optional seconds and fractions, or a bare date.
fn iso_like(text: &str, zone: Tz) -> Option<DateTime<Utc>> {
    let normalized: String = text
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i < 10 && (c == '.' || c == '/') {
                '-'
            } else {
                c
            }
        })
        .collect();
    let normalized = normalized.replacen(' ', "T", 1);
    if let Ok(d) = DateTime::parse_from_rfc3339(&normalized) {
        return Some(d.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M:%S%z",
        "%Y-%m-%dT%H:%M%z",
        "%Y-%m-%dT%H:%M:%S%.fT%z",
    ] {
        if let Ok(d) =
            DateTime::<FixedOffset>::parse_from_str(&normalized.replace("T+", "+"), format)
        {
            return Some(d.with_timezone(&Utc));
        }
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(&normalized, format) {
            return local(naive, zone);
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(&normalized, "%Y-%m-%d") {
        return local(date.and_hms_opt(0, 0, 0)?, zone);
    }
    None
}

/// RFC 822 layout with no zone at all: `Mon, 03 Feb 2025 09:00:00`.
fn rfc2822_without_zone(text: &str, zone: Tz) -> Option<DateTime<Utc>> {
    let cleaned = clean_rfc2822(text)?;
    for format in ["%d %b %Y %H:%M:%S", "%d %b %Y %H:%M", "%d %B %Y %H:%M:%S"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(&cleaned, format) {
            return local(naive, zone);
        }
    }
    None
}

fn local(naive: NaiveDateTime, zone: Tz) -> Option<DateTime<Utc>> {
    // In a DST gap or overlap, the earliest reading is as good as any.
    zone.from_local_datetime(&naive)
        .earliest()
        .map(|d| d.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishers_date_forms_parse() {
        let seoul = chrono_tz::Asia::Seoul;
        let cases = [
            (
                "Mon, 03 Feb 2025 09:00:00 +0900",
                "2025-02-03T00:00:00+00:00",
            ),
            (
                "Mon, 03 Feb 2025 09:00:00 +09:00",
                "2025-02-03T00:00:00+00:00",
            ),
            ("Mon, 03 Feb 2025 09:00:00 KST", "2025-02-03T00:00:00+00:00"),
            ("Sun, 03 Feb 2025 09:00:00 GMT", "2025-02-03T09:00:00+00:00"),
            ("03 Feb 2025 09:00 +0900", "2025-02-03T00:00:00+00:00"),
            ("Mon, 03 Feb 2025 09:00:00", "2025-02-03T00:00:00+00:00"),
            (
                "3 February 2025 09:00:00 +0900",
                "2025-02-03T00:00:00+00:00",
            ),
            ("2025-02-03T09:00:00+09:00", "2025-02-03T00:00:00+00:00"),
            ("2022-07-31T06:39:00.000Z", "2022-07-31T06:39:00+00:00"),
            ("2025-02-03 09:00:00", "2025-02-03T00:00:00+00:00"),
            ("2025-02-03 09:00", "2025-02-03T00:00:00+00:00"),
            ("2025.02.03 09:00:00", "2025-02-03T00:00:00+00:00"),
            ("2025-02-03T09:00:00", "2025-02-03T00:00:00+00:00"),
            ("2025-02-03 09:00:00+0900", "2025-02-03T00:00:00+00:00"),
            ("2025-02-03", "2025-02-02T15:00:00+00:00"),
        ];
        for (input, expected) in cases {
            let parsed = parse_date(input, seoul).map(|d| d.to_rfc3339());
            assert_eq!(parsed.as_deref(), Some(expected), "{input}");
        }
    }

    #[test]
    fn the_zone_only_applies_without_an_offset() {
        let utc = parse_date("2025-02-03 09:00:00", chrono_tz::UTC).unwrap();
        let seoul = parse_date("2025-02-03 09:00:00", chrono_tz::Asia::Seoul).unwrap();
        assert_eq!((utc - seoul).num_hours(), 9);
        assert_eq!(
            parse_date("2025-02-03T09:00:00Z", chrono_tz::Asia::Seoul),
            parse_date("2025-02-03T09:00:00Z", chrono_tz::UTC)
        );
    }

    #[test]
    fn nonsense_is_none() {
        for input in [
            "",
            "yesterday",
            "2025-13-45",
            "Mon, 99 Foo 2025",
            &"9".repeat(200),
        ] {
            assert_eq!(parse_date(input, chrono_tz::UTC), None, "{input}");
        }
    }
}
