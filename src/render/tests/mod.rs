//! Table tests for the renderers: every output is read back by independent parsers (feed-rs,
//! the rss crate with validation, atom_syndication, serde_json) and checked field by field.
//! The fixtures are our own writing. Tests over every format live here; `xml` checks what is
//! special to RSS and Atom, `json_feed` the JSON Feed schema rules.

mod json_feed;
mod xml;

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::model::{Identity, SourceId, StorySource};

const FEED_TITLE: &str = "IT·과학 <소식> & more";
const KOREAN_TITLE: &str = "이재용·올트먼 내일 회동…오픈AI, 삼성에 투자 요청할 듯";
const SUMMARY_0: &str = "<p>삼성 &amp; 오픈AI <b>협력</b></p>";
const CONTENT_0: &str = "<p>본문 전체 🙂 with ]]> inside</p>";
const CONTENT_1: &str = "<p>only content &lt;here&gt;</p>";
const SUMMARY_2: &str = "<p>요약만</p>";

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 2, 3, h, m, 0).unwrap()
}

fn meta() -> FeedMeta<'static> {
    FeedMeta {
        name: "it-science",
        title: FEED_TITLE,
        description: "매일경제 IT·과학 기사",
        base_url: "http://127.0.0.1:8080",
        ttl_minutes: Some(15),
        updated: at(2, 0),
    }
}

fn source(id: &str) -> StorySource {
    StorySource {
        id: SourceId::new(id).unwrap(),
        fingerprint: 0,
    }
}

/// A link identity with everything; a guid identity with content only and a tricky title; a
/// content identity with no link, summary only, and a source the lookup does not know.
fn stories() -> Vec<Story> {
    let link = "https://www.mk.co.kr/news/it/11111111";
    vec![
        Story {
            identity: Identity::Link(link.into()),
            link: Some(link.into()),
            title: KOREAN_TITLE.into(),
            summary: Some(SUMMARY_0.into()),
            content: Some(CONTENT_0.into()),
            authors: vec!["김기자".into(), "이기자".into()],
            categories: vec!["IT·과학".into(), "경제".into()],
            published: at(0, 0),
            updated: at(1, 30),
            first_seen: at(0, 5),
            lang: Some("ko".into()),
            guid: None,
            sources: vec![source("mk-all"), source("blog")],
        },
        Story {
            identity: Identity::Guid {
                source: SourceId::new("blog").unwrap(),
                guid: "p-42".into(),
            },
            link: Some("https://blog.example/a?x=1&y=2".into()),
            title: "Tags <b> & \"quotes\" 🙂".into(),
            summary: None,
            content: Some(CONTENT_1.into()),
            authors: vec![],
            categories: vec![],
            published: at(0, 30),
            updated: at(0, 30),
            first_seen: at(0, 31),
            lang: None,
            guid: None,
            sources: vec![source("blog")],
        },
        Story {
            identity: Identity::Content {
                source: SourceId::new("x").unwrap(),
                digest: "d".into(),
            },
            link: None,
            title: "제목만".into(),
            summary: Some(SUMMARY_2.into()),
            content: None,
            authors: vec![],
            categories: vec!["c".into()],
            published: at(1, 0),
            updated: at(1, 10),
            first_seen: at(1, 0),
            lang: None,
            guid: None,
            sources: vec![source("unknown")],
        },
    ]
}

fn source_infos() -> BTreeMap<SourceId, SourceInfo> {
    let info = |title: &str, url: &str| SourceInfo {
        title: title.into(),
        url: Some(url.into()),
    };
    BTreeMap::from([
        (
            SourceId::new("mk-all").unwrap(),
            info("매일경제 전체뉴스", "https://www.mk.co.kr/rss/40300001/"),
        ),
        (
            SourceId::new("blog").unwrap(),
            info("A & B blog", "https://blog.example/feed?x=1&y=2"),
        ),
    ])
}

fn render_with(format: Format, meta: &FeedMeta<'_>, stories: &[Story]) -> Vec<u8> {
    let infos = source_infos();
    render(format, meta, stories, |id| infos.get(id))
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("feeds are UTF-8")
}

#[test]
fn formats_have_names_types_and_extensions() {
    let table = [
        (
            Format::Rss,
            "rss",
            "xml",
            "application/rss+xml; charset=utf-8",
        ),
        (
            Format::Atom,
            "atom",
            "atom",
            "application/atom+xml; charset=utf-8",
        ),
        (Format::Json, "json", "json", "application/feed+json"),
    ];
    for (format, name, ext, content_type) in table {
        assert_eq!(name.parse::<Format>(), Ok(format));
        assert_eq!(format.to_string(), name);
        assert_eq!(format.extension(), ext);
        assert_eq!(Format::from_extension(ext), Some(format));
        assert_eq!(format.content_type(), content_type);
        assert_eq!(
            meta().feed_url(format),
            format!("http://127.0.0.1:8080/feeds/it-science.{ext}")
        );
    }
    for bad in ["", "RSS", "xml", "rss2"] {
        let err = bad.parse::<Format>().unwrap_err();
        assert!(err.to_string().contains("use rss, atom or json"), "{err}");
    }
    assert_eq!(Format::from_extension("rss"), None);
}

#[test]
fn a_trailing_slash_in_base_url_never_doubles() {
    for base_url in ["http://127.0.0.1:8080", "http://127.0.0.1:8080/"] {
        let meta = FeedMeta { base_url, ..meta() };
        assert_eq!(meta.home_page_url(), "http://127.0.0.1:8080/", "{base_url}");
        let want = "http://127.0.0.1:8080/feeds/it-science.atom";
        assert_eq!(meta.feed_url(Format::Atom), want, "{base_url}");
    }
}

#[test]
fn feed_level_fields_read_back_with_feed_rs() {
    let meta = meta();
    let home = "http://127.0.0.1:8080/".to_owned();
    let url = |format| meta.feed_url(format);
    // (format, feed updated as feed-rs reads it, (href, rel) links that must be present)
    let table = [
        (
            Format::Rss,
            Some(meta.updated),
            [(home.clone(), "alternate"), (url(Format::Rss), "self")],
        ),
        (
            Format::Atom,
            Some(meta.updated),
            [(home.clone(), "alternate"), (url(Format::Atom), "self")],
        ),
        (
            Format::Json,
            None,
            [
                (home.clone(), "alternate"),
                (url(Format::Json), "alternate"),
            ],
        ),
    ];
    for (format, updated, links) in table {
        let feed = feed_rs::parser::parse(&render_with(format, &meta, &stories())[..])
            .unwrap_or_else(|e| panic!("{format}: {e}"));
        assert_eq!(
            feed.title.map(|t| t.content).as_deref(),
            Some(FEED_TITLE),
            "{format}"
        );
        let description = feed.description.map(|t| t.content);
        assert_eq!(description.as_deref(), Some(meta.description), "{format}");
        assert_eq!(feed.updated, updated, "{format}");
        for (href, rel) in links {
            let found = feed
                .links
                .iter()
                .any(|l| l.href == href && l.rel.as_deref().unwrap_or("alternate") == rel);
            assert!(
                found,
                "{format}: no link {href} rel={rel} in {:?}",
                feed.links
            );
        }
        assert_eq!(feed.entries.len(), 3, "{format}");
    }
}

/// (format, story index, authors, summary, content) as feed-rs should read an entry back.
type EntryRow = (
    Format,
    usize,
    &'static [&'static str],
    Option<&'static str>,
    Option<&'static str>,
);

#[test]
fn entries_read_back_with_feed_rs() {
    let meta = meta();
    let stories = stories();
    let both = &["김기자", "이기자"][..];
    let table: [EntryRow; 9] = [
        (Format::Rss, 0, both, Some(SUMMARY_0), Some(CONTENT_0)),
        (Format::Rss, 1, &[], Some(CONTENT_1), Some(CONTENT_1)),
        (Format::Rss, 2, &[], Some(SUMMARY_2), None),
        (Format::Atom, 0, both, Some(SUMMARY_0), Some(CONTENT_0)),
        (Format::Atom, 1, &["A & B blog"], None, Some(CONTENT_1)),
        (
            Format::Atom,
            2,
            &[FEED_TITLE],
            Some(SUMMARY_2),
            Some(SUMMARY_2),
        ),
        (
            Format::Json,
            0,
            both,
            Some("삼성 & 오픈AI 협력"),
            Some(CONTENT_0),
        ),
        (Format::Json, 1, &[], None, Some(CONTENT_1)),
        (Format::Json, 2, &[], Some("요약만"), Some(SUMMARY_2)),
    ];
    for (format, i, authors, summary, content) in table {
        let feed = feed_rs::parser::parse(&render_with(format, &meta, &stories)[..]).unwrap();
        let (story, entry) = (&stories[i], &feed.entries[i]);
        let ctx = format!("{format} story {i}");
        assert_eq!(entry.id, story.identity.republished_guid().0, "{ctx}");
        assert_eq!(
            entry.title.as_ref().map(|t| t.content.as_str()),
            Some(story.title.as_str()),
            "{ctx}"
        );
        let links: Vec<_> = entry.links.iter().map(|l| l.href.as_str()).collect();
        assert_eq!(
            links,
            story.link.as_deref().into_iter().collect::<Vec<_>>(),
            "{ctx}"
        );
        assert_eq!(entry.published, Some(story.published), "{ctx}");
        // RSS items have no updated time; feed-rs copies pubDate.
        let updated = if format == Format::Rss {
            story.published
        } else {
            story.updated
        };
        assert_eq!(entry.updated, Some(updated), "{ctx}");
        let categories: Vec<_> = entry.categories.iter().map(|c| c.term.as_str()).collect();
        assert_eq!(categories, story.categories, "{ctx}");
        let names: Vec<_> = entry
            .authors
            .iter()
            .map(|a| a.name.as_deref().unwrap_or(""))
            .collect();
        assert_eq!(names, authors, "{ctx}");
        assert_eq!(
            entry.summary.as_ref().map(|t| t.content.as_str()),
            summary,
            "{ctx}"
        );
        let body = entry.content.as_ref().and_then(|c| c.body.as_deref());
        assert_eq!(body, content, "{ctx}");
    }
}

#[test]
fn empty_feeds_are_valid_in_every_format() {
    for format in Format::ALL {
        let out = render_with(format, &meta(), &[]);
        let feed = feed_rs::parser::parse(&out[..]).unwrap_or_else(|e| panic!("{format}: {e}"));
        assert!(feed.entries.is_empty(), "{format}");
        assert_eq!(
            feed.title.map(|t| t.content).as_deref(),
            Some(FEED_TITLE),
            "{format}"
        );
    }
}

#[test]
fn rendering_is_deterministic_and_keeps_the_given_order() {
    let mut reversed = stories();
    reversed.reverse();
    for format in Format::ALL {
        let first = render_with(format, &meta(), &stories());
        assert_eq!(first, render_with(format, &meta(), &stories()), "{format}");
        let ids = |bytes: &[u8]| -> Vec<String> {
            feed_rs::parser::parse(bytes)
                .unwrap()
                .entries
                .into_iter()
                .map(|e| e.id)
                .collect()
        };
        let mut want: Vec<_> = stories()
            .iter()
            .map(|s| s.identity.republished_guid().0)
            .collect();
        assert_eq!(ids(&first), want, "{format}");
        want.reverse();
        assert_eq!(
            ids(&render_with(format, &meta(), &reversed)),
            want,
            "{format}"
        );
    }
}

#[test]
fn characters_xml_forbids_do_not_break_xml_feeds() {
    let mut story = stories().remove(0);
    story.title = "제목\u{8}에 제어\u{1}문자".into();
    story.summary = Some("<p>a\u{0}b</p>".into());
    for format in Format::ALL {
        let out = render_with(format, &meta(), std::slice::from_ref(&story));
        let feed = feed_rs::parser::parse(&out[..]).unwrap_or_else(|e| panic!("{format}: {e}"));
        let title = feed.entries[0].title.as_ref().map(|t| t.content.as_str());
        let want = if format == Format::Json {
            story.title.as_str()
        } else {
            "제목에 제어문자"
        };
        assert_eq!(title, Some(want), "{format}");
    }
}

#[test]
fn a_merged_item_names_its_other_copies_in_every_format() {
    let stories = stories();
    let copies = [
        OtherCopy {
            link: Some("https://news.example.kr/a?x=1&y=2".into()),
            source: "연합 <뉴스>".into(),
            title: "삼성전자 투자 & 증설".into(),
        },
        OtherCopy {
            link: None,
            source: "Wire".into(),
            title: "No link".into(),
        },
    ];
    let items = [
        Item {
            story: &stories[0],
            copies: &copies,
        },
        Item {
            story: &stories[1],
            copies: &[],
        },
    ];
    let infos = source_infos();
    let render =
        |format| text(&render_items(format, &meta(), &items, |id| infos.get(id))).to_owned();
    let rss = render(Format::Rss);
    // One <source> per item, the chosen copy's; the others close the description, escaped.
    assert_eq!(rss.matches("<source ").count(), 2, "{rss}");
    assert!(
        rss.contains("</p>\n<p>Also: <a href=\"https://news.example.kr/a?x=1&amp;y=2\">연합 &lt;뉴스&gt;</a> (삼성전자 투자 &amp; 증설), Wire (No link)</p>]]></description>"),
        "{rss}"
    );
    let parsed = feed_rs::parser::parse(rss.as_bytes()).unwrap();
    assert_eq!(parsed.entries.len(), 2);
    let atom = render(Format::Atom);
    assert!(
        atom.contains(r#"<link href="https://news.example.kr/a?x=1&amp;y=2" rel="related" type="text/html" title="연합 &lt;뉴스&gt;: 삼성전자 투자 &amp; 증설"/>"#),
        "{atom}"
    );
    assert_eq!(
        atom.matches("rel=\"related\"").count(),
        1,
        "a copy without a link has none"
    );
    let json: serde_json::Value = serde_json::from_str(&render(Format::Json)).unwrap();
    assert_eq!(
        json["items"][0]["_sosik"]["copies"],
        serde_json::json!([
            {"url": "https://news.example.kr/a?x=1&y=2", "source": "연합 <뉴스>", "title": "삼성전자 투자 & 증설"},
            {"source": "Wire", "title": "No link"}
        ])
    );
    assert!(json["items"][1]["_sosik"].get("copies").is_none());
}
