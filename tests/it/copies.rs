//! Issue 20, "Stories, not links", for copies that share an identity, through the real
//! pipeline and a real store: a story found by its guid when its link changes, and the copy
//! that speaks for a story chosen the same whatever order the sources were polled in.

use std::path::Path;
use std::sync::Arc;

use sosik::config::Config;
use sosik::model::Story;
use sosik::pipeline::{Ingest, PollOutcome};

use crate::server::{Response, TestServer};

/// A config for `sources` (id, url, priority) with its store in `dir`.
fn setup(dir: &Path, sources: &[(&str, String, i64)]) -> (Arc<Config>, Ingest) {
    let mut text = format!("[store]\npath = \"{}\"\n\n", dir.join("db").display());
    for (id, url, priority) in sources {
        text.push_str(&format!(
            "[sources.{id}]\nurl = \"{url}\"\npriority = {priority}\n\n"
        ));
    }
    let path = dir.join("sosik.toml");
    std::fs::write(&path, text).unwrap();
    crate::ingest_for(&path)
}

async fn poll(config: &Config, ingest: &Ingest, id: &str) -> (u32, u32, u32) {
    match ingest.ingest(config.source(id).unwrap()).await.outcome {
        PollOutcome::Stored { counts, .. } => (counts.new, counts.updated, counts.unchanged),
        other => panic!("expected a stored document, got {other:?}"),
    }
}

fn stories(ingest: &Ingest) -> Vec<Story> {
    let mut all: Vec<Story> = ingest.store().newest().map(Result::unwrap).collect();
    all.sort_by(|a, b| a.title.cmp(&b.title));
    all
}

/// Two items whose links carry a time parameter that changes at every poll, with guids that
/// stay.
fn ts_feed(ts: u32) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>t</title>\
         <link>https://news.test.kr/</link><description>d</description>\n",
    );
    for id in 1..=2 {
        out.push_str(&format!(
            "<item><title>기사 {id}</title><link>https://news.test.kr/view?id={id}&amp;ts={ts}</link>\
             <guid isPermaLink=\"false\">story-{id}</guid>\
             <pubDate>Thu, 26 Nov 2026 0{id}:00:00 +0900</pubDate></item>\n"
        ));
    }
    out.push_str("</channel></rss>\n");
    out
}

#[tokio::test]
async fn a_story_whose_link_changes_at_every_poll_is_found_by_its_guid() {
    let server = TestServer::start(|_| Response::ok("text/xml", ts_feed(111))).await;
    let dir = tempfile::tempdir().unwrap();
    let (config, ingest) = setup(dir.path(), &[("ts", server.url("/rss"), 0)]);
    assert_eq!(poll(&config, &ingest, "ts").await, (2, 0, 0));
    let first = stories(&ingest);
    let guids: Vec<_> = first
        .iter()
        .map(|s| s.identity.republished_guid())
        .collect();
    for (ts, round) in [(222, 2), (333, 3)] {
        server.respond(move |_| Response::ok("text/xml", ts_feed(ts)));
        let counts = poll(&config, &ingest, "ts").await;
        assert_eq!(counts.0, 0, "round {round}: no new story ({counts:?})");
        let now = stories(&ingest);
        assert_eq!(now.len(), 2, "round {round}: still two stories");
        for (story, guid) in now.iter().zip(&guids) {
            assert_eq!(
                &story.identity.republished_guid(),
                guid,
                "the guid never changes"
            );
            let link = story.link.as_deref().unwrap();
            assert!(
                link.ends_with(&format!("ts={ts}")),
                "updated in place: {link}"
            );
        }
    }
    // Polled again unchanged: nothing new, nothing edited.
    assert_eq!(poll(&config, &ingest, "ts").await.0, 0);
    assert_eq!(stories(&ingest).len(), 2);
}

/// An Atom feed with authors, a clean title and a summary.
fn atom_copy() -> String {
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\
     <title>a</title><id>urn:a</id><updated>2026-11-26T00:00:00Z</updated>\
     <entry><title>삼성전자 3분기 실적</title><id>urn:a:1</id>\
     <link href=\"https://news.test.kr/1\"/><updated>2026-11-26T00:00:00Z</updated>\
     <author><name>홍길동</name></author><summary>반도체 회복</summary></entry></feed>\n"
        .to_owned()
}

/// An RSS feed with the same link, no author, and a title read with the wrong charset.
fn rss_copy() -> String {
    let (mojibake, _, _) = encoding_rs::WINDOWS_1252.decode("삼성전자 3분기 실적, 길게".as_bytes());
    let title = mojibake.replace('&', "&amp;").replace('<', "&lt;");
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>b</title>\
         <link>https://news.test.kr/</link><description>d</description>\
         <item><title>{title}</title><link>https://news.test.kr/1</link>\
         <description>반도체 회복, 더 긴 요약</description></item></channel></rss>\n"
    )
}

#[tokio::test]
async fn the_clean_copy_speaks_whichever_source_was_polled_first() {
    let server = TestServer::start(|req| match req.path.as_str() {
        "/atom" => Response::ok("application/atom+xml", atom_copy()),
        _ => Response::ok("text/xml", rss_copy()),
    })
    .await;
    let mut seen = Vec::new();
    for order in [["z-atom", "a-rss"], ["a-rss", "z-atom"]] {
        let dir = tempfile::tempdir().unwrap();
        let sources = [
            ("z-atom", server.url("/atom"), 0),
            ("a-rss", server.url("/rss"), 0),
        ];
        let (config, ingest) = setup(dir.path(), &sources);
        for id in order {
            poll(&config, &ingest, id).await;
        }
        let all = stories(&ingest);
        assert_eq!(all.len(), 1, "one link, one story");
        let mut story = all.into_iter().next().unwrap();
        assert_eq!(story.title, "삼성전자 3분기 실적");
        assert_eq!(story.authors, vec!["홍길동".to_owned()]);
        assert_eq!(
            story.sources[0].id.as_str(),
            "z-atom",
            "the speaking copy's source"
        );
        story.sources.sort_by(|a, b| a.id.cmp(&b.id));
        // The store's own clock, the one field two runs cannot share.
        story.first_seen = chrono::DateTime::UNIX_EPOCH;
        seen.push(story);
    }
    assert_eq!(seen[0], seen[1], "the same story whatever the order");
}

#[tokio::test]
async fn a_higher_priority_speaks_before_a_longer_copy() {
    let server = TestServer::start(|req| {
        let (title, summary) = match req.path.as_str() {
            "/short" => ("짧은 제목", "요약"),
            _ => ("훨씬 더 긴 제목입니다", "훨씬 더 긴 요약입니다"),
        };
        Response::ok(
            "text/xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>\
                 <title>x</title><link>https://news.test.kr/</link><description>d</description>\
                 <item><title>{title}</title><link>https://news.test.kr/9</link>\
                 <description>{summary}</description></item></channel></rss>\n"
            ),
        )
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let sources = [
        ("long", server.url("/long"), 0),
        ("short", server.url("/short"), 5),
    ];
    let (config, ingest) = setup(dir.path(), &sources);
    poll(&config, &ingest, "short").await;
    poll(&config, &ingest, "long").await;
    assert_eq!(stories(&ingest)[0].title, "짧은 제목");
}
