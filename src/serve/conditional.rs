//! Conditional GET (RFC 9110 §13): `If-None-Match` and `If-Modified-Since` against a feed's
//! ETag and last-changed time. Pure: headers in, a decision out.
//!
//! - `If-None-Match` wins: when present, `If-Modified-Since` is ignored (§13.2.2).
//! - `If-None-Match` compares weakly (§13.1.2): `W/"x"` matches `"x"`. `*` matches, since the
//!   feed exists. A list matches when any member does. A malformed field matches nothing, so
//!   the client gets the full answer.
//! - Tags we issued for compressed variants (`"HASH-gzip"`, `"HASH-br"`) match the current
//!   `HASH`: they name the same document.
//! - `If-Modified-Since` is compared in whole seconds, HTTP dates' precision; an invalid date
//!   or a repeated field is ignored (§13.1.3).

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, header};
use chrono::{DateTime, TimeZone, Utc};

/// The content codings whose variants carry a suffixed tag (see the `serve` module notes).
const VARIANT_SUFFIXES: [&str; 2] = ["gzip", "br"];

/// Whether the client's copy is still current. `Some(tag)` means answer 304 with that ETag
/// (the variant the client named, or `etag` itself); `None` means send the feed.
/// `etag` is our strong tag for the plain representation, quotes included.
pub(super) fn not_modified(
    request: &HeaderMap,
    etag: &str,
    last_modified: DateTime<Utc>,
) -> Option<String> {
    let ours = etag.trim_matches('"');
    let mut if_none_match = request.get_all(header::IF_NONE_MATCH).iter().peekable();
    if if_none_match.peek().is_some() {
        for value in if_none_match {
            let Ok(value) = value.to_str() else { continue };
            if value.trim() == "*" {
                return Some(etag.to_owned());
            }
            let Some(tags) = entity_tags(value) else {
                continue;
            };
            if let Some(tag) = tags.into_iter().find(|t| names_ours(t, ours)) {
                return Some(format!("\"{tag}\""));
            }
        }
        return None;
    }
    let mut since = request.get_all(header::IF_MODIFIED_SINCE).iter();
    let (Some(value), None) = (since.next(), since.next()) else {
        return None;
    };
    let since = httpdate::parse_http_date(value.to_str().ok()?).ok()?;
    let since = since.duration_since(UNIX_EPOCH).ok()?.as_secs();
    let changed = last_modified.timestamp();
    (changed <= i64::try_from(since).unwrap_or(i64::MAX)).then(|| etag.to_owned())
}

/// Whether `tag` (an opaque tag, without quotes) is ours or one of our compressed variants.
fn names_ours(tag: &str, ours: &str) -> bool {
    match tag.strip_prefix(ours) {
        Some("") => true,
        Some(rest) => rest
            .strip_prefix('-')
            .is_some_and(|suffix| VARIANT_SUFFIXES.contains(&suffix)),
        None => false,
    }
}

/// The opaque tags of an `If-None-Match` list (`W/` dropped), or `None` when it is malformed.
fn entity_tags(value: &str) -> Option<Vec<&str>> {
    let mut tags = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return Some(tags);
        }
        rest = rest.strip_prefix("W/").unwrap_or(rest);
        let quoted = rest.strip_prefix('"')?;
        let end = quoted.find('"')?;
        tags.push(&quoted[..end]);
        rest = &quoted[end + 1..];
        if !(rest.is_empty() || rest.starts_with([' ', '\t', ','])) {
            return None;
        }
    }
}

/// An HTTP date (IMF-fixdate) for `time`, clamped to what the format can say: a time before
/// 1970 (a publisher's odd date) is written as the epoch, one after year 9999 as its end.
pub(super) fn http_date(time: DateTime<Utc>) -> String {
    let latest = Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap();
    let time = time.clamp(DateTime::UNIX_EPOCH, latest);
    httpdate::fmt_http_date(SystemTime::from(time))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    const TAG: &str = "\"0123abcd\"";

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn if_none_match_forms() {
        let cases: &[(&str, Option<&str>)] = &[
            ("\"0123abcd\"", Some("\"0123abcd\"")),
            ("W/\"0123abcd\"", Some("\"0123abcd\"")),
            ("\"x\", W/\"y\" ,\"0123abcd\"", Some("\"0123abcd\"")),
            ("\"0123abcd-gzip\"", Some("\"0123abcd-gzip\"")),
            ("\"0123abcd-br\"", Some("\"0123abcd-br\"")),
            ("*", Some(TAG)),
            ("\"0123abcd-zstd\"", None),
            ("\"0123abc\"", None),
            ("\"0123abcdef\"", None),
            ("0123abcd", None),
            ("\"0123abcd", None),
            ("\"a,b\", \"0123abcd\"", Some("\"0123abcd\"")),
            ("\"x\"junk, \"0123abcd\"", None),
            ("", None),
        ];
        for (value, expected) in cases {
            let got = not_modified(&headers(&[(header::IF_NONE_MATCH, value)]), TAG, at(0));
            assert_eq!(got.as_deref(), *expected, "If-None-Match: {value}");
        }
    }

    #[test]
    fn any_of_several_if_none_match_fields_may_match() {
        let map = headers(&[
            (header::IF_NONE_MATCH, "\"old\""),
            (header::IF_NONE_MATCH, "\"0123abcd\""),
        ]);
        assert!(not_modified(&map, TAG, at(0)).is_some());
    }

    #[test]
    fn if_modified_since_compares_whole_seconds() {
        let lm = DateTime::from_timestamp(1_700_000_000, 500_000_000).unwrap();
        let date = |secs| httpdate::fmt_http_date(SystemTime::from(at(secs)));
        let ims =
            |value: &str| not_modified(&headers(&[(header::IF_MODIFIED_SINCE, value)]), TAG, lm);
        assert_eq!(ims(&date(1_700_000_000)).as_deref(), Some(TAG));
        assert_eq!(ims(&date(1_700_000_100)).as_deref(), Some(TAG));
        assert_eq!(ims(&date(1_699_999_999)), None);
        assert_eq!(ims("yesterday"), None);
        // RFC 850 and asctime forms are HTTP dates too.
        assert_eq!(ims("Tuesday, 14-Nov-23 22:13:20 GMT").as_deref(), Some(TAG));
        assert_eq!(ims("Tue Nov 14 22:13:20 2023").as_deref(), Some(TAG));
    }

    #[test]
    fn if_none_match_takes_precedence_over_if_modified_since() {
        let map = headers(&[
            (header::IF_NONE_MATCH, "\"old\""),
            (header::IF_MODIFIED_SINCE, "Fri, 31 Dec 9999 23:59:59 GMT"),
        ]);
        assert_eq!(not_modified(&map, TAG, at(0)), None);
        let twice = headers(&[
            (header::IF_MODIFIED_SINCE, "Fri, 31 Dec 9999 23:59:59 GMT"),
            (header::IF_MODIFIED_SINCE, "Fri, 31 Dec 9999 23:59:59 GMT"),
        ]);
        assert_eq!(not_modified(&twice, TAG, at(0)), None, "a repeated field");
    }

    #[test]
    fn http_dates_are_clamped_to_what_the_format_can_say() {
        assert_eq!(http_date(at(0)), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(at(-86_400)), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            http_date(at(1_700_000_000)),
            "Tue, 14 Nov 2023 22:13:20 GMT"
        );
        let far = Utc.with_ymd_and_hms(20_000, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(http_date(far), "Fri, 31 Dec 9999 23:59:59 GMT");
    }
}
