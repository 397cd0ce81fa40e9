//! Table tests over small feeds written here.

use chrono::TimeZone;

use super::*;
use crate::parse::{ParseOptions, parse};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap()
}

fn run(source: &str, url: &str, xml: &str) -> Normalized {
    let feed_url = Url::parse(url).unwrap();
    let parsed = parse(
        xml,
        &ParseOptions {
            base_url: Some(feed_url.clone()),
            timezone: chrono_tz::Asia::Seoul,
            // Normalize's own cap is what these tests check.
            max_items: usize::MAX,
        },
    )
    .unwrap();
    let ctx = Context {
        source: SourceId::new(source).unwrap(),
        feed_url: Some(feed_url),
        now: now(),
        max_items: 100,
    };
    normalize(&parsed, &ctx)
}

fn rss(items: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
<title>매일경제</title><link>https://www.mk.co.kr/</link><description>d</description>{items}</channel></rss>"#
    )
}

#[test]
fn guidless_items_are_identified_by_their_link() {
    let n = run(
        "mk",
        "https://www.mk.co.kr/rss/40300001/",
        &rss(
            "<item><title>a</title><link>https://www.mk.co.kr/news/it/1</link></item>
         <item><title>b</title><link>https://www.mk.co.kr/news/it/2</link></item>",
        ),
    );
    let ids: Vec<_> = n.stories.iter().map(|s| s.identity.clone()).collect();
    assert_eq!(
        ids,
        vec![
            Identity::Link("https://www.mk.co.kr/news/it/1".into()),
            Identity::Link("https://www.mk.co.kr/news/it/2".into()),
        ]
    );
}

#[test]
fn the_same_link_with_tracking_parameters_in_two_feeds_is_one_identity() {
    let a = run(
        "mk-all",
        "https://www.mk.co.kr/rss/40300001/",
        &rss(
            "<item><title>이재용·올트먼 내일 회동</title><link>https://www.mk.co.kr/news/it/11?utm_source=rss&amp;utm_medium=all</link><guid>100</guid></item>",
        ),
    );
    let b = run(
        "mk-it",
        "https://www.mk.co.kr/rss/50300009/",
        &rss(
            "<item><title>이재용·올트먼 내일 회동</title><link>HTTPS://WWW.MK.CO.KR/news/it/11#comments</link><guid>it-100</guid></item>",
        ),
    );
    assert_eq!(a.stories[0].key(), b.stories[0].key());
    assert_eq!(
        a.stories[0].link.as_deref(),
        Some("https://www.mk.co.kr/news/it/11")
    );
}

#[test]
fn an_edited_title_of_a_guidless_item_keeps_its_identity() {
    let before = run(
        "mk",
        "https://www.mk.co.kr/rss/",
        &rss("<item><title>초안 제목</title><link>https://www.mk.co.kr/news/1</link></item>"),
    );
    let after = run(
        "mk",
        "https://www.mk.co.kr/rss/",
        &rss("<item><title>고친 제목</title><link>https://www.mk.co.kr/news/1</link></item>"),
    );
    assert_eq!(before.stories[0].key(), after.stories[0].key());
    assert_ne!(
        before.stories[0].fingerprint(),
        after.stories[0].fingerprint()
    );
}

#[test]
fn items_sharing_one_link_stay_separate_stories() {
    // With guids: the guid names each.
    let n = run(
        "blog",
        "https://blog.example.kr/rss",
        &rss(
            "<item><title>a</title><link>https://blog.example.kr/</link><guid>1</guid></item>
         <item><title>b</title><link>https://blog.example.kr/</link><guid>2</guid></item>
         <item><title>c</title><link>https://blog.example.kr/</link><guid>3</guid></item>",
        ),
    );
    assert_eq!(n.stories.len(), 3);
    assert!(
        n.stories
            .iter()
            .all(|s| matches!(s.identity, Identity::Guid { .. }))
    );
    // Without guids: title and summary tell them apart.
    let n = run("blog", "https://blog.example.kr/rss", &rss(
        "<item><title>a</title><link>https://blog.example.kr/</link><description>x</description></item>
         <item><title>b</title><link>https://blog.example.kr/</link><description>x</description></item>",
    ));
    assert_eq!(n.stories.len(), 2);
    assert!(
        n.stories
            .iter()
            .all(|s| matches!(s.identity, Identity::Content { .. }))
    );
    assert_ne!(n.stories[0].key(), n.stories[1].key());
}

#[test]
fn guid_identities_are_scoped_to_their_source() {
    let xml = rss("<item><title>a</title><guid>42</guid></item>");
    let a = run("one", "https://a.kr/rss", &xml);
    let b = run("two", "https://b.kr/rss", &xml);
    assert_ne!(a.stories[0].key(), b.stories[0].key());
}

#[test]
fn repeated_items_in_one_document_are_dropped() {
    let n = run(
        "k",
        "https://k.kr/rss",
        &rss(
            "<item><title>a</title><guid>1</guid><link>https://k.kr/a</link></item>
         <item><title>a again</title><guid>1</guid><link>https://k.kr/a</link></item>",
        ),
    );
    assert_eq!((n.stories.len(), n.duplicates), (1, 1));
    assert_eq!(n.stories[0].title, "a", "the first occurrence wins");
}

#[test]
fn categories_come_from_every_place() {
    let n = run(
        "mk",
        "https://www.mk.co.kr/rss/",
        &rss(
            "<item><title>a</title><link>https://www.mk.co.kr/1</link><category>IT·과학</category><category> IT·과학 </category><dc:subject>모바일</dc:subject><category>software</category><category>Software</category><category>SOFTWARE</category></item>",
        ),
    );
    assert_eq!(
        n.stories[0].categories,
        // Repeats differing only in case are one category, spelled as it first came.
        vec![
            "IT·과학".to_owned(),
            "software".to_owned(),
            "모바일".to_owned()
        ]
    );

    let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:t</id><updated>2025-01-01T00:00:00Z</updated>
        <entry><title>e</title><id>urn:e</id><updated>2025-01-01T00:00:00Z</updated><link href="https://a.kr/e"/>
        <category term="it" label="IT·과학"/></entry></feed>"#;
    assert_eq!(
        run("a", "https://a.kr/atom", atom).stories[0].categories,
        vec!["it".to_owned(), "IT·과학".to_owned()]
    );

    let json = r#"{"version":"https://jsonfeed.org/version/1.1","title":"j","items":[
        {"id":"1","url":"https://j.kr/1","title":"j1","content_text":"x","tags":["경제","IT"]}]}"#;
    assert_eq!(
        run("j", "https://j.kr/feed.json", json).stories[0].categories,
        vec!["경제".to_owned(), "IT".to_owned()]
    );
}

#[test]
fn dates_in_the_future_and_missing_dates_become_first_seen() {
    let n = run("d", "https://d.kr/rss", &rss(
        "<item><title>future</title><link>https://d.kr/1</link><pubDate>Mon, 01 Jan 2035 00:00:00 +0900</pubDate></item>
         <item><title>none</title><link>https://d.kr/2</link></item>
         <item><title>kst</title><link>https://d.kr/3</link><pubDate>Fri, 27 Nov 2026 09:00:00 +09:00</pubDate></item>
         <item><title>soon</title><link>https://d.kr/4</link><pubDate>Fri, 27 Nov 2026 23:00:00 +0000</pubDate></item>",
    ));
    assert_eq!(n.stories[0].published, now());
    assert_eq!(n.stories[1].published, now());
    assert_eq!(
        n.stories[2].published,
        Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap()
    );
    assert_eq!(
        n.stories[3].published,
        Utc.with_ymd_and_hms(2026, 11, 27, 23, 0, 0).unwrap(),
        "within a day is believed"
    );
}

#[test]
fn links_resolve_against_xml_base_and_the_feed_url() {
    let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://www.example.kr/news/">
        <title>t</title><id>urn:t</id><updated>2025-01-01T00:00:00Z</updated>
        <entry><title>e</title><id>urn:e</id><updated>2025-01-01T00:00:00Z</updated><link href="it/7?utm_source=x"/></entry></feed>"#;
    assert_eq!(
        run("a", "https://feeds.example.kr/atom", atom).stories[0]
            .link
            .as_deref(),
        Some("https://www.example.kr/news/it/7")
    );
    let n = run(
        "r",
        "https://www.mk.co.kr/rss/40300001/",
        &rss("<item><title>a</title><link>/news/it/9</link></item>"),
    );
    assert_eq!(
        n.stories[0].link.as_deref(),
        Some("https://www.mk.co.kr/news/it/9")
    );
}

#[test]
fn html_is_sanitized_and_titles_are_plain_text() {
    let n = run(
        "h",
        "https://h.kr/rss",
        &rss(
            r#"<item><title>  삼성   &amp; 오픈AI </title><link>https://h.kr/1</link>
           <description><![CDATA[<p>본문<script>alert(1)</script><img src="/a.png" onerror="x"></p>]]></description>
           <author>bob@h.kr (Bob)</author></item>"#,
        ),
    );
    let s = &n.stories[0];
    assert_eq!(s.title, "삼성 & 오픈AI");
    let summary = s.summary.as_deref().unwrap();
    assert!(
        summary.contains("본문") && summary.contains("https://h.kr/a.png"),
        "{summary}"
    );
    assert!(
        !summary.contains("script") && !summary.contains("onerror"),
        "{summary}"
    );
    assert_eq!(s.authors, vec!["Bob".to_owned()]);
}

/// Regression (gofeed and knews-rss conformance): RSS titles escaped twice, marked up, or
/// carrying control characters reached readers as `&amp;`, `<p>` and U+0008.
#[test]
fn rss_titles_escaped_twice_or_marked_up_read_as_text() {
    let n = run(
        "h",
        "https://h.kr/rss",
        &rss(concat!(
            "<item><title>[책&amp;amp;생각] 띠지 경연대회</title><link>https://h.kr/1</link></item>",
            "<item><title><![CDATA[코로나19&#160;재확진 &quot;격리&quot;]]></title><link>https://h.kr/2</link></item>",
            "<item><title><![CDATA[<b>속보</b> 반도체]]></title><link>https://h.kr/3</link></item>",
            "<item><title>&lt;p&gt;Item Title&lt;/p&gt;</title><link>https://h.kr/4</link></item>",
            "<item><title>Vec&lt;String&gt; ab\u{8}cd\u{1b}[2J</title><link>https://h.kr/5</link></item>",
        )),
    );
    let titles: Vec<&str> = n.stories.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "[책&생각] 띠지 경연대회",
            "코로나19 재확진 \"격리\"",
            "속보 반도체",
            "Item Title",
            "Vec<String> abcd[2J",
        ]
    );
}

#[test]
fn only_the_newest_items_are_kept_past_the_cap() {
    let items: String = (1..=5)
        .map(|d| format!("<item><title>{d}</title><link>https://c.kr/{d}</link><pubDate>2025-01-0{d} 00:00:00</pubDate></item>"))
        .collect();
    let feed_url = Url::parse("https://c.kr/rss").unwrap();
    let parsed = parse(
        &rss(&items),
        &ParseOptions {
            base_url: Some(feed_url.clone()),
            timezone: chrono_tz::UTC,
            max_items: usize::MAX,
        },
    )
    .unwrap();
    let ctx = Context {
        source: SourceId::new("c").unwrap(),
        feed_url: Some(feed_url),
        now: now(),
        max_items: 2,
    };
    let titles: Vec<_> = normalize(&parsed, &ctx)
        .stories
        .into_iter()
        .map(|s| s.title)
        .collect();
    assert_eq!(titles, vec!["4".to_owned(), "5".to_owned()]);
}
