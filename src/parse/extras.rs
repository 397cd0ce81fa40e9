//! What feed-rs leaves out, read in one streaming pass over the decoded XML: `dc:subject`
//! per item (a category in RSS 1.0 and in many Korean RSS 2.0 feeds) and the channel's
//! scheduling hints (`sy:updatePeriod`/`sy:updateFrequency`, `skipHours`, `skipDays`, `ttl`).

use quick_xml::events::Event;
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::reader::NsReader;

const DC: &str = "http://purl.org/dc/elements/1.1/";
const SY: &str = "http://purl.org/rss/1.0/modules/syndication/";

/// Most items scanned; past that feed-rs's entries and ours could not be matched anyway.
const MAX_ITEMS: usize = 100_000;

/// Per-item and channel facts feed-rs does not keep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extras {
    /// One entry per top-level `<item>`/`<entry>`, in document order.
    pub items: Vec<ItemExtras>,
    /// Channel-level scheduling hints.
    pub hints: ChannelHints,
}

/// What one item carries besides feed-rs's model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemExtras {
    /// `dc:subject` values, trimmed, in order.
    pub subjects: Vec<String>,
}

/// How often the publisher says the feed changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelHints {
    /// RSS `<ttl>`, minutes.
    pub ttl_minutes: Option<u32>,
    /// `sy:updatePeriod`: hourly, daily, weekly, monthly, yearly.
    pub update_period: Option<String>,
    /// `sy:updateFrequency`: times per period.
    pub update_frequency: Option<u32>,
    /// `skipHours/hour`: hours (0–23, GMT) not to poll.
    pub skip_hours: Vec<u8>,
    /// `skipDays/day`: weekday names not to poll.
    pub skip_days: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Capture {
    Subject,
    Ttl,
    UpdatePeriod,
    UpdateFrequency,
    SkipHour,
    SkipDay,
}

/// Whether `text` can hold anything [`scan`] reads: a cheap substring test that spares most
/// documents a second XML pass. `<ttl>` alone does not count: feed-rs reads it.
pub(super) fn worth_scanning(text: &str) -> bool {
    [
        "subject>",
        "skipHours",
        "skipDays",
        "updatePeriod",
        "updateFrequency",
    ]
    .iter()
    .any(|marker| memchr::memmem::find(text.as_bytes(), marker.as_bytes()).is_some())
}

/// Scans `text`; stops quietly at the first XML error with what it has so far.
pub(super) fn scan(text: &str) -> Extras {
    let mut extras = Extras::default();
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<String> = Vec::new();
    let mut item_depth: Option<usize> = None;
    let mut capture: Option<(Capture, usize)> = None;
    let mut value = String::new();
    while let Ok((ns, event)) = reader.read_resolved_event() {
        let ns_is = |uri: &str| matches!(ns, ResolveResult::Bound(Namespace(n)) if n == uri);
        match event {
            Event::Start(e) => {
                let local = e.local_name().as_ref().to_owned();
                let parent = stack.last().map(String::as_str).unwrap_or("");
                let in_item = item_depth.is_some();
                let target = match local.as_str() {
                    "item" | "entry" if !in_item => {
                        if extras.items.len() >= MAX_ITEMS {
                            break;
                        }
                        extras.items.push(ItemExtras::default());
                        item_depth = Some(stack.len() + 1);
                        None
                    }
                    "subject" if in_item && ns_is(DC) => Some(Capture::Subject),
                    "ttl" if !in_item && parent == "channel" => Some(Capture::Ttl),
                    "updatePeriod" if !in_item && ns_is(SY) => Some(Capture::UpdatePeriod),
                    "updateFrequency" if !in_item && ns_is(SY) => Some(Capture::UpdateFrequency),
                    "hour" if parent == "skipHours" => Some(Capture::SkipHour),
                    "day" if parent == "skipDays" => Some(Capture::SkipDay),
                    _ => None,
                };
                stack.push(local);
                if let Some(target) = target {
                    capture = Some((target, stack.len()));
                    value.clear();
                }
            }
            Event::Text(t) if capture.is_some() => value.push_str(&t.xml10_content()),
            Event::CData(t) if capture.is_some() => value.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if capture.is_some() => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    value.push(c);
                } else {
                    match r.as_ref() {
                        "amp" => value.push('&'),
                        "lt" => value.push('<'),
                        "gt" => value.push('>'),
                        "quot" => value.push('"'),
                        "apos" => value.push('\''),
                        _ => {}
                    }
                }
            }
            Event::End(_) => {
                if let Some((target, depth)) = capture
                    && depth == stack.len()
                {
                    finish(&mut extras, target, value.trim());
                    capture = None;
                }
                stack.pop();
                if item_depth.is_some_and(|d| stack.len() < d) {
                    item_depth = None;
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    extras
}

fn finish(extras: &mut Extras, target: Capture, value: &str) {
    if value.is_empty() {
        return;
    }
    let hints = &mut extras.hints;
    match target {
        Capture::Subject => {
            if let Some(item) = extras.items.last_mut() {
                item.subjects.push(value.to_owned());
            }
        }
        Capture::Ttl => hints.ttl_minutes = value.parse().ok(),
        Capture::UpdatePeriod => hints.update_period = Some(value.to_ascii_lowercase()),
        Capture::UpdateFrequency => hints.update_frequency = value.parse().ok().filter(|f| *f > 0),
        Capture::SkipHour => {
            if let Some(hour) = value.parse::<u8>().ok().filter(|h| *h < 24) {
                hints.skip_hours.push(hour);
            }
        }
        Capture::SkipDay => hints.skip_days.push(value.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dc_subjects_are_read_per_item() {
        let xml = r#"<?xml version="1.0"?>
        <rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"
             xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">
          <channel><title>t</title><ttl>30</ttl>
            <sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency>
            <skipHours><hour>1</hour><hour>2</hour></skipHours>
            <skipDays><day>Sunday</day></skipDays>
            <item><title>a</title><dc:subject>IT&amp;과학</dc:subject><dc:subject><![CDATA[경제]]></dc:subject></item>
            <item><title>b</title></item>
            <item><title>c</title><subject>not dc</subject><dc:subject> 증권 </dc:subject></item>
          </channel></rss>"#;
        let extras = scan(xml);
        let subjects: Vec<Vec<String>> = extras.items.iter().map(|i| i.subjects.clone()).collect();
        assert_eq!(
            subjects,
            vec![
                vec!["IT&과학".to_owned(), "경제".to_owned()],
                vec![],
                vec!["증권".to_owned()]
            ]
        );
        assert_eq!(extras.hints.ttl_minutes, Some(30));
        assert_eq!(extras.hints.update_period.as_deref(), Some("hourly"));
        assert_eq!(extras.hints.update_frequency, Some(2));
        assert_eq!(extras.hints.skip_hours, vec![1, 2]);
        assert_eq!(extras.hints.skip_days, vec!["Sunday".to_owned()]);
    }

    #[test]
    fn rss1_items_outside_the_channel_count() {
        let xml = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
            xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
            <channel rdf:about="x"><title>t</title><items><rdf:Seq><rdf:li resource="a"/></rdf:Seq></items></channel>
            <item rdf:about="a"><title>a</title><dc:subject>정치</dc:subject></item>
        </rdf:RDF>"#;
        let extras = scan(xml);
        assert_eq!(extras.items.len(), 1);
        assert_eq!(extras.items[0].subjects, vec!["정치".to_owned()]);
    }

    #[test]
    fn documents_without_markers_are_not_scanned_and_those_with_are() {
        assert!(!worth_scanning(
            "<rss><channel><ttl>5</ttl><item><title>a</title></item></channel></rss>"
        ));
        for marker in [
            "<dc:subject>x</dc:subject>",
            "<skipHours>",
            "<skipDays>",
            "<sy:updatePeriod>",
            "<sy:updateFrequency>",
        ] {
            assert!(worth_scanning(&format!("<rss>{marker}</rss>")), "{marker}");
        }
    }

    #[test]
    fn broken_xml_keeps_what_was_read() {
        let extras = scan(
            r#"<rss xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><item><dc:subject>a</dc:subject></item><item><"#,
        );
        assert_eq!(extras.items[0].subjects, vec!["a".to_owned()]);
    }
}
