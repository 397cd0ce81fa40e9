//! The item cap, applied to the text before feed-rs reads it.
//!
//! feed-rs builds its whole model in memory, about 1.5 KB per item however small the item, so a
//! 10 MB body of tiny items would take hundreds of MB (60,000 items took 90 MB). Keeping only the
//! newest `max` items in the text first makes memory follow `store.max_items_per_source`, not
//! what a publisher sends. "Newest" is by the item's published date, else its updated date;
//! an undated item counts as new, as `normalize` dates it by the poll. Items are cut out of the
//! text whole, so the document stays well-formed, and the rest of it is kept byte for byte.
//! Everything after reads the kept items only: a link is "unique within the document" (the
//! identity rule) among them.
//!
//! Linear: a count of substrings decides whether a document can hold more than `max` items at
//! all; only then does one pass of quick-xml (or serde_json, borrowing each item's raw text)
//! find the items and their dates.

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use quick_xml::events::Event;
use quick_xml::reader::Reader;
use serde_json::value::RawValue;

use super::dates::parse_date;

/// Longest date text read; [`parse_date`] refuses longer ones anyway.
const MAX_DATE_TEXT: usize = 64;

/// `text` with only its newest `max` items, or `None` when it holds no more than `max` (or
/// cannot be read, which the parser then reports).
pub(super) fn newest_items(text: &str, max: usize, zone: Tz) -> Option<String> {
    let start = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if start.starts_with('{') {
        // Every JSON Feed item is an object.
        if start.bytes().filter(|&b| b == b'{').count() <= max.saturating_add(1) {
            return None;
        }
        return json(start, max, zone);
    }
    // Every item element's name contains `item` or `entry` (prefixed or not).
    let count = |name: &str| memchr::memmem::find_iter(text.as_bytes(), name).count();
    if count("item") + count("entry") <= max {
        return None;
    }
    xml(text, max, zone)
}

/// An item's date as a sort key (microseconds); an undated item is newer than any date.
fn newness(date: Option<DateTime<Utc>>) -> i64 {
    date.map_or(i64::MAX, |d| d.timestamp_micros())
}

/// Which of the items with these [`newness`] keys are the newest `max`; `None` when all are
/// kept. Small per item (a document may hold millions of `<item/>`s): 8 bytes of key, 4 of
/// order, 1 of answer.
fn newest(keys: &[i64], max: usize) -> Option<Vec<bool>> {
    if keys.len() <= max {
        return None;
    }
    let count = u32::try_from(keys.len()).ok()?;
    // A stable sort, so among equal dates the earlier item wins, as in `normalize`.
    let mut order: Vec<u32> = (0..count).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(keys[i as usize]));
    let mut keep = vec![false; keys.len()];
    for &i in order.iter().take(max) {
        keep[i as usize] = true;
    }
    Some(keep)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum DateKind {
    Published,
    Updated,
}

fn date_kind(local_name: &str) -> Option<DateKind> {
    match local_name {
        "pubDate" | "published" | "issued" | "date" | "created" => Some(DateKind::Published),
        "updated" | "modified" => Some(DateKind::Updated),
        _ => None,
    }
}

/// RSS `<item>`s and Atom `<entry>`s (not nested in another item), found the way
/// `extras::scan` finds them. At an XML error, the items found so far are used and the rest of
/// the text is kept as it is.
fn xml(text: &str, max: usize, zone: Tz) -> Option<String> {
    let mut reader = Reader::from_str(text);
    // Each item's byte range and newness.
    let mut items: Vec<(usize, usize, i64)> = Vec::new();
    let mut depth = 0usize;
    // The open item: its depth and where it starts.
    let mut open: Option<(usize, usize)> = None;
    let mut dates: [Option<String>; 2] = [None, None];
    let mut capture: Option<DateKind> = None;
    let mut value = String::new();
    loop {
        let before = reader.buffer_position() as usize;
        let Ok(event) = reader.read_event() else {
            break;
        };
        match event {
            Event::Start(e) => {
                depth += 1;
                let local = e.local_name();
                match open {
                    None if matches!(local.as_ref(), "item" | "entry") => {
                        open = Some((depth, before));
                        dates = [None, None];
                    }
                    Some((item_depth, _)) if depth == item_depth + 1 => {
                        capture = date_kind(local.as_ref());
                        value.clear();
                    }
                    _ => {}
                }
            }
            Event::Empty(e)
                if open.is_none() && matches!(e.local_name().as_ref(), "item" | "entry") =>
            {
                items.push((before, reader.buffer_position() as usize, newness(None)));
            }
            Event::Text(t) if capture.is_some() && value.len() <= MAX_DATE_TEXT => {
                value.push_str(&t.xml10_content());
            }
            Event::CData(t) if capture.is_some() && value.len() <= MAX_DATE_TEXT => {
                value.push_str(&t.xml10_content());
            }
            Event::End(_) => {
                if let Some((item_depth, start)) = open {
                    if let Some(kind) = capture.take().filter(|_| depth == item_depth + 1) {
                        let slot = &mut dates[kind as usize];
                        if slot.is_none() {
                            *slot = Some(value.clone());
                        }
                    }
                    if depth == item_depth {
                        let [published, updated] = std::mem::take(&mut dates);
                        let read = |d: Option<String>| d.and_then(|d| parse_date(&d, zone));
                        let date = read(published).or_else(|| read(updated));
                        items.push((start, reader.buffer_position() as usize, newness(date)));
                        open = None;
                    }
                }
                depth = depth.saturating_sub(1);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let keys: Vec<i64> = items.iter().map(|(_, _, key)| *key).collect();
    let keep = newest(&keys, max)?;
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    for ((start, end, _), kept) in items.iter().zip(keep) {
        if !kept {
            out.push_str(&text[from..*start]);
            from = *end;
        }
    }
    out.push_str(&text[from..]);
    Some(out)
}

/// The dates of a JSON Feed item; every other field is skipped unread.
#[derive(serde::Deserialize)]
struct JsonDates<'a> {
    #[serde(borrow)]
    date_published: Option<Cow<'a, str>>,
    #[serde(borrow)]
    date_modified: Option<Cow<'a, str>>,
}

/// A JSON Feed: its top-level members are kept as they are, `items` only the newest `max`.
fn json(text: &str, max: usize, zone: Tz) -> Option<String> {
    let members: BTreeMap<Cow<'_, str>, &RawValue> = serde_json::from_str(text).ok()?;
    let items: Vec<&RawValue> = serde_json::from_str(members.get("items")?.get()).ok()?;
    let read = |d: Option<Cow<'_, str>>| d.and_then(|d| parse_date(&d, zone));
    let keys: Vec<i64> = items
        .iter()
        .map(|item| {
            let dates: Option<JsonDates> = serde_json::from_str(item.get()).ok();
            newness(dates.and_then(|d| read(d.date_published).or_else(|| read(d.date_modified))))
        })
        .collect();
    let keep = newest(&keys, max)?;
    let mut out = String::with_capacity(text.len());
    out.push('{');
    for (name, value) in &members {
        if name != "items" {
            out.push_str(&serde_json::to_string(name).ok()?);
            out.push(':');
            out.push_str(value.get());
            out.push(',');
        }
    }
    out.push_str("\"items\":[");
    let kept: Vec<&str> = items
        .iter()
        .zip(keep)
        .filter(|(_, kept)| *kept)
        .map(|(item, _)| item.get())
        .collect();
    out.push_str(&kept.join(","));
    out.push_str("]}");
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rss(dates: &[Option<&str>]) -> String {
        let mut out = String::from("<rss version=\"2.0\"><channel><title>t</title>\n");
        for (i, date) in dates.iter().enumerate() {
            out.push_str(&format!("<item><title>i{i}</title>"));
            if let Some(date) = date {
                out.push_str(&format!("<pubDate>{date}</pubDate>"));
            }
            out.push_str("</item>\n");
        }
        out.push_str("</channel></rss>\n");
        out
    }

    fn titles(text: &str) -> Vec<String> {
        text.match_indices("<title>i")
            .map(|(i, _)| text[i + 7..].split('<').next().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn only_the_newest_items_are_left_in_the_text() {
        let doc = rss(&[
            Some("Mon, 02 Feb 2026 00:00:00 +0000"),
            Some("Wed, 04 Feb 2026 00:00:00 +0000"),
            None,
            Some("Tue, 03 Feb 2026 00:00:00 +0000"),
            Some("2026-02-01T00:00:00Z"),
        ]);
        let kept = newest_items(&doc, 3, chrono_tz::UTC).unwrap();
        // Undated counts as new; document order is kept.
        assert_eq!(titles(&kept), ["i1", "i2", "i3"]);
        assert!(kept.starts_with("<rss version=\"2.0\"><channel><title>t</title>\n"));
        assert!(kept.ends_with("</channel></rss>\n"));
        assert_eq!(newest_items(&doc, 5, chrono_tz::UTC), None);
    }

    #[test]
    fn atom_entries_use_published_then_updated_and_broken_xml_keeps_its_tail() {
        let doc = "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title>\
            <entry><title>i0</title><updated>2026-01-01T00:00:00Z</updated></entry>\
            <entry><title>i1</title><published>2026-03-01T00:00:00Z</published>\
              <updated>2025-01-01T00:00:00Z</updated></entry>\
            <entry><title>i2</title><updated>2026-02-01T00:00:00Z</updated></entry>\
            <entry><title>i3</title><updated>2020-02-01T00:00:00Z</updated></entry>\
            </feed></oops>";
        let kept = newest_items(doc, 2, chrono_tz::UTC).unwrap();
        assert_eq!(titles(&kept), ["i1", "i2"]);
        assert!(kept.ends_with("</feed></oops>"), "{kept}");
    }

    #[test]
    fn json_feed_items_are_capped_and_other_members_kept() {
        let doc = r#"{"version":"https://jsonfeed.org/version/1.1","title":"t,{x}",
            "items":[{"id":"a","title":"i0","date_published":"2026-01-01T00:00:00Z"},
                     {"id":"b","title":"i1, \"quoted\" {","date_published":"2026-03-01T00:00:00Z"},
                     {"id":"c","title":"i2","date_modified":"2026-02-01T00:00:00Z"}]}"#;
        let kept = newest_items(doc, 2, chrono_tz::UTC).unwrap();
        let value: serde_json::Value = serde_json::from_str(&kept).unwrap();
        assert_eq!(value["title"], "t,{x}");
        let ids: Vec<_> = value["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["b", "c"]);
    }
}
