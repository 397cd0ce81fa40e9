//! What is special to RSS and Atom: raw markup, the rss crate's validation, RFC 4287 rules.

use ::rss::validation::Validate;

use super::*;

#[test]
fn rss_marks_permalinks_self_link_and_first_source() {
    let out = render_with(Format::Rss, &meta(), &stories());
    let raw = text(&out);
    let must_contain = [
        // RSS 2.0 defines an absent isPermaLink as true; the rss crate writes only "false".
        "<guid>https://www.mk.co.kr/news/it/11111111</guid>",
        r#"<guid isPermaLink="false">urn:sosik:"#,
        r#"<atom:link href="http://127.0.0.1:8080/feeds/it-science.xml" rel="self" type="application/rss+xml"/>"#,
        r#"xmlns:atom="http://www.w3.org/2005/Atom""#,
        r#"<source url="https://www.mk.co.kr/rss/40300001/">매일경제 전체뉴스</source>"#,
        r#"<source url="https://blog.example/feed?x=1&amp;y=2">A &amp; B blog</source>"#,
        "<dc:creator>김기자</dc:creator>",
        "<dc:language>ko</dc:language>",
        "<ttl>15</ttl>",
        "<generator>sosik</generator>",
        "<lastBuildDate>Mon, 3 Feb 2025 02:00:00 +0000</lastBuildDate>",
        "<pubDate>Mon, 3 Feb 2025 00:00:00 +0000</pubDate>",
    ];
    for needle in must_contain {
        assert!(raw.contains(needle), "RSS lacks {needle}:\n{raw}");
    }
    assert!(!raw.contains(r#"isPermaLink="true""#), "{raw}");
    assert_eq!(raw.matches(r#"isPermaLink="false""#).count(), 2, "{raw}");
    assert_eq!(
        raw.matches("<source ").count(),
        2,
        "an unknown source is not mentioned"
    );

    let channel = ::rss::Channel::read_from(&out[..]).unwrap();
    let permalinks: Vec<_> = channel
        .items()
        .iter()
        .map(|i| i.guid().unwrap().is_permalink())
        .collect();
    assert_eq!(permalinks, [true, false, false]);
    let sources: Vec<_> = channel
        .items()
        .iter()
        .map(|i| i.source().map(|s| s.url()))
        .collect();
    assert_eq!(
        sources,
        [
            Some("https://www.mk.co.kr/rss/40300001/"),
            Some("https://blog.example/feed?x=1&y=2"),
            None
        ]
    );
}

#[test]
fn rss_passes_the_rss_crate_validation() {
    let empty: &[Story] = &[];
    let table = [("three stories", stories()), ("no stories", empty.to_vec())];
    for (name, stories) in table {
        let out = render_with(Format::Rss, &meta(), &stories);
        let channel = ::rss::Channel::read_from(&out[..]).unwrap_or_else(|e| panic!("{name}: {e}"));
        channel.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(channel.title(), FEED_TITLE, "{name}");
        assert_eq!(channel.items().len(), stories.len(), "{name}");
    }
}

#[test]
fn rss_names_no_source_without_a_publishable_url() {
    // A `file:` source: the publisher gives it a title but no URL (issue 12, item 10).
    let local = SourceInfo {
        title: "로컬 피드".into(),
        url: None,
    };
    let out = render(Format::Rss, &meta(), &stories(), |_| Some(&local));
    let raw = text(&out);
    assert!(!raw.contains("<source"), "{raw}");
    let channel = ::rss::Channel::read_from(&out[..]).unwrap();
    channel.validate().unwrap();
    // Atom still names the source as the author of last resort, without any URL.
    let atom = render(Format::Atom, &meta(), &stories(), |_| Some(&local));
    assert!(
        text(&atom).contains("<name>로컬 피드</name>"),
        "{}",
        text(&atom)
    );
}

#[test]
fn an_empty_rss_feed_has_no_build_date() {
    // Issue 12, item 4: an empty feed used to say it was built on 1 Jan 1970.
    let empty = render_with(Format::Rss, &meta(), &[]);
    let channel = ::rss::Channel::read_from(&empty[..]).unwrap();
    assert_eq!(channel.last_build_date(), None, "{}", text(&empty));
    let full = render_with(Format::Rss, &meta(), &stories());
    let channel = ::rss::Channel::read_from(&full[..]).unwrap();
    assert_eq!(
        channel.last_build_date(),
        Some("Mon, 3 Feb 2025 02:00:00 +0000")
    );
}

#[test]
fn rss_ttl_is_written_only_when_positive() {
    for (ttl, want) in [(Some(15), Some("15")), (Some(0), None), (None, None)] {
        let meta = FeedMeta {
            ttl_minutes: ttl,
            ..meta()
        };
        let channel = ::rss::Channel::read_from(&render_with(Format::Rss, &meta, &[])[..]).unwrap();
        assert_eq!(channel.ttl(), want, "ttl {ttl:?}");
    }
}

#[test]
fn atom_keeps_rfc_4287_rules() {
    for stories in [stories(), vec![]] {
        let out = render_with(Format::Atom, &meta(), &stories);
        let feed = atom_syndication::Feed::read_from(&out[..]).unwrap();
        assert_eq!(feed.id(), "http://127.0.0.1:8080/feeds/it-science.atom");
        assert_eq!(
            feed.updated(),
            &meta().updated.fixed_offset(),
            "not the 1970 default"
        );
        assert_eq!(feed.entries().len(), stories.len());
        for entry in feed.entries() {
            // An author (we set none at the feed level); content or an alternate link.
            assert!(!entry.authors().is_empty(), "{}", entry.id());
            let alternate = entry.links().iter().any(|l| l.rel() == "alternate");
            assert!(entry.content().is_some() || alternate, "{}", entry.id());
            if let Some(summary) = entry.summary() {
                assert_eq!(
                    summary.r#type,
                    atom_syndication::TextType::Html,
                    "{}",
                    entry.id()
                );
            }
            if let Some(content) = entry.content() {
                assert_eq!(content.content_type(), Some("html"), "{}", entry.id());
            }
        }
    }
    let raw = render_with(Format::Atom, &meta(), &stories());
    assert!(
        text(&raw).contains(r#"<content xml:lang="ko" type="html">"#),
        "{}",
        text(&raw)
    );
}
