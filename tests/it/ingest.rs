//! The ingest pipeline against a real HTTP server and a real sled store.

use std::sync::Arc;

use sosik::config::Config;
use sosik::model::SourceId;
use sosik::pipeline::{Ingest, PollOutcome};

use crate::server::{Response, TestServer};
use crate::{rss, write_config};

struct Fixture {
    _dir: tempfile::TempDir,
    config: Arc<Config>,
    ingest: Ingest,
}

fn fixture(sources: &[(&str, &str)], extra: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), sources, extra);
    let (config, ingest) = crate::ingest_for(&path);
    Fixture {
        _dir: dir,
        config,
        ingest,
    }
}

impl Fixture {
    async fn poll(&self, id: &str) -> PollOutcome {
        self.ingest
            .ingest(self.config.source(id).unwrap())
            .await
            .outcome
    }

    fn titles(&self) -> Vec<String> {
        self.ingest
            .store()
            .newest()
            .map(|s| s.unwrap().title)
            .collect()
    }

    fn state(&self, id: &str) -> sosik::model::SourceState {
        self.ingest
            .store()
            .source_state(&SourceId::new(id).unwrap())
            .unwrap()
            .unwrap()
    }
}

fn counts(outcome: &PollOutcome) -> (u32, u32, u32) {
    match outcome {
        PollOutcome::Stored { counts, .. } => (counts.new, counts.updated, counts.unchanged),
        other => panic!("expected a stored document, got {other:?}"),
    }
}

#[tokio::test]
async fn the_second_poll_sends_validators_and_a_304_changes_nothing() {
    let feed = rss(
        "mk",
        &[
            ("a", "https://news.test.kr/1"),
            ("b", "https://news.test.kr/2"),
        ],
    );
    let server = TestServer::start(move |req| {
        if req.headers.get("if-none-match").map(String::as_str) == Some("\"v1\"") {
            return Response::status(304).header("ETag", "\"v1\"");
        }
        Response::ok("application/rss+xml", feed.clone())
            .header("ETag", "\"v1\"")
            .header("Last-Modified", "Thu, 26 Nov 2026 00:00:00 GMT")
    })
    .await;
    let f = fixture(&[("mk", &server.url("/rss"))], "");

    assert_eq!(counts(&f.poll("mk").await), (2, 0, 0));
    let state = f.state("mk");
    assert_eq!(state.etag.as_deref(), Some("\"v1\""));
    assert_eq!(state.last_status, Some(200));

    assert!(matches!(f.poll("mk").await, PollOutcome::NotModified));
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[1].headers.get("if-none-match").map(String::as_str),
        Some("\"v1\"")
    );
    assert_eq!(
        requests[1]
            .headers
            .get("if-modified-since")
            .map(String::as_str),
        Some("Thu, 26 Nov 2026 00:00:00 GMT")
    );
    assert!(
        requests[0].headers["user-agent"].starts_with("sosik/"),
        "our User-Agent is sent"
    );
    assert_eq!(f.state("mk").last_status, Some(304));
    assert_eq!(f.titles().len(), 2);
}

#[tokio::test]
async fn a_changed_feed_updates_stories_in_place() {
    let server = TestServer::start(|_| {
        Response::ok("text/xml", rss("mk", &[("초안", "https://news.test.kr/1")]))
    })
    .await;
    let f = fixture(&[("mk", &server.url("/rss"))], "");
    assert_eq!(counts(&f.poll("mk").await), (1, 0, 0));
    server.respond(|_| {
        Response::ok(
            "text/xml",
            rss(
                "mk",
                &[
                    ("고친 제목", "https://news.test.kr/1?utm_source=rss"),
                    ("new", "https://news.test.kr/2"),
                ],
            ),
        )
    });
    assert_eq!(counts(&f.poll("mk").await), (1, 1, 0));
    assert_eq!(
        f.titles(),
        vec!["new".to_owned(), "고친 제목".to_owned()],
        "newest first, edited in place"
    );
}

#[tokio::test]
async fn an_html_page_or_a_500_is_the_sources_error_and_others_still_ingest() {
    let server = TestServer::start(|req| match req.path.as_str() {
        "/good" => Response::ok(
            "text/xml",
            rss("good", &[("kept", "https://news.test.kr/k")]),
        ),
        "/html" => Response::ok(
            "text/html",
            "<!DOCTYPE html><html><body>Moved</body></html>",
        ),
        _ => Response::status(500),
    })
    .await;
    let f = fixture(
        &[
            ("good", &server.url("/good")),
            ("html", &server.url("/html")),
            ("broken", &server.url("/500")),
        ],
        "",
    );
    let (good, html, broken) = tokio::join!(f.poll("good"), f.poll("html"), f.poll("broken"));
    assert_eq!(counts(&good), (1, 0, 0));
    assert!(matches!(html, PollOutcome::Failed(_)));
    assert!(matches!(broken, PollOutcome::Failed(_)));
    let html = f.state("html");
    assert_eq!(
        html.last_error.as_deref(),
        Some("got an HTML page, not a feed")
    );
    assert_eq!(html.consecutive_errors, 1);
    let broken = f.state("broken");
    assert_eq!(broken.last_status, Some(500));
    assert!(
        broken.last_error.as_deref().unwrap().contains("500"),
        "{broken:?}"
    );
    assert!(broken.next_poll.is_some());
    // A second failure counts up, and what was stored stays.
    f.poll("broken").await;
    assert_eq!(f.state("broken").consecutive_errors, 2);
    assert_eq!(f.titles(), vec!["kept".to_owned()]);
}

#[tokio::test]
async fn the_same_story_in_two_feeds_is_stored_once_with_both_sources() {
    let server = TestServer::start(|req| match req.path.as_str() {
        "/all" => Response::ok(
            "text/xml",
            rss(
                "all",
                &[
                    ("삼성", "https://news.test.kr/it/1?utm_source=all"),
                    ("경제", "https://news.test.kr/e/2"),
                ],
            ),
        ),
        _ => Response::ok(
            "text/xml",
            rss("it", &[("삼성", "https://NEWS.test.kr/it/1#top")]),
        ),
    })
    .await;
    let f = fixture(
        &[
            ("mk-all", &server.url("/all")),
            ("mk-it", &server.url("/it")),
        ],
        "",
    );
    f.poll("mk-all").await;
    assert_eq!(counts(&f.poll("mk-it").await), (0, 0, 1));
    let stories: Vec<_> = f.ingest.store().newest().map(Result::unwrap).collect();
    assert_eq!(stories.len(), 2);
    let shared = stories.iter().find(|s| s.title == "삼성").unwrap();
    let ids: Vec<_> = shared.sources.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, vec!["mk-all", "mk-it"]);
}

#[tokio::test]
async fn euc_kr_declared_only_in_the_http_header_is_decoded() {
    let text = rss(
        "매일경제",
        &[(
            "이재용·올트먼 내일 회동…오픈AI, 삼성에 투자 요청할 듯",
            "https://news.test.kr/it/1",
        )],
    )
    .replace(" encoding=\"UTF-8\"", "");
    let (bytes, _, _) = encoding_rs::EUC_KR.encode(&text);
    let bytes = bytes.into_owned();
    let server = TestServer::start(move |_| {
        Response::ok("application/rss+xml; charset=euc-kr", bytes.clone())
    })
    .await;
    let f = fixture(&[("mk", &server.url("/rss"))], "");
    match f.poll("mk").await {
        PollOutcome::Stored { encoding, .. } => assert_eq!(encoding, "EUC-KR"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        f.titles(),
        vec!["이재용·올트먼 내일 회동…오픈AI, 삼성에 투자 요청할 듯".to_owned()]
    );
}

#[tokio::test]
async fn gzip_bodies_are_decompressed_and_the_limit_counts_decompressed_bytes() {
    use std::io::Write;
    let small = rss("z", &[("zipped", "https://news.test.kr/z")]);
    // 300 kB of spaces compress to almost nothing but exceed max_body_bytes (200 kB) expanded.
    let bomb = format!("{}{}", " ".repeat(300_000), small);
    let gzip = |text: &str| {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(text.as_bytes()).unwrap();
        enc.finish().unwrap()
    };
    let (small_gz, bomb_gz) = (gzip(&small), gzip(&bomb));
    assert!(bomb_gz.len() < 200_000);
    let server = TestServer::start(move |req| {
        let body = if req.path == "/bomb" {
            bomb_gz.clone()
        } else {
            small_gz.clone()
        };
        Response::ok("text/xml", body).header("Content-Encoding", "gzip")
    })
    .await;
    let f = fixture(
        &[("z", &server.url("/small")), ("bomb", &server.url("/bomb"))],
        "",
    );
    assert_eq!(counts(&f.poll("z").await), (1, 0, 0));
    assert!(server.requests()[0].headers["accept-encoding"].contains("gzip"));
    assert!(matches!(f.poll("bomb").await, PollOutcome::Failed(_)));
    assert!(
        f.state("bomb")
            .last_error
            .unwrap()
            .contains("larger than 200000 bytes")
    );
}

#[tokio::test]
async fn a_permanent_redirect_is_remembered_and_followed_next_time() {
    let server = TestServer::start(|req| match req.path.as_str() {
        "/old" => Response::status(301).header("Location", "/new"),
        _ => Response::ok("text/xml", rss("moved", &[("a", "https://news.test.kr/a")])),
    })
    .await;
    let f = fixture(&[("m", &server.url("/old"))], "");
    assert_eq!(counts(&f.poll("m").await), (1, 0, 0));
    assert_eq!(
        f.state("m").moved_to.as_deref(),
        Some(server.url("/new").as_str())
    );
    f.poll("m").await;
    let paths: Vec<_> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, vec!["/old", "/new", "/new"]);
}

#[tokio::test]
async fn a_410_stops_the_source_and_says_so() {
    let server = TestServer::start(|_| Response::status(410)).await;
    let f = fixture(&[("g", &server.url("/gone"))], "");
    assert!(matches!(f.poll("g").await, PollOutcome::Gone));
    let state = f.state("g");
    assert!(state.gone);
    assert!(state.last_error.unwrap().contains("410"));
}

#[tokio::test]
async fn failures_back_off_and_a_success_resets_the_schedule() {
    let server = TestServer::start(|_| Response::status(500)).await;
    // interval 10m within [5m, 24h]; backoff doubles per failure.
    let f = fixture(
        &[("b", &server.url("/rss"))],
        "interval = \"10m\"\nmin_interval = \"5m\"\n",
    );
    let mut waits = Vec::new();
    for _ in 0..3 {
        let before = chrono::Utc::now();
        f.poll("b").await;
        waits.push((f.state("b").next_poll.unwrap() - before).num_seconds());
    }
    // 600 s, 1200 s, 2400 s, each ±10%.
    for (wait, base) in waits.iter().zip([600, 1200, 2400]) {
        assert!(
            (base * 9 / 10 - 1..=base * 11 / 10 + 1).contains(wait),
            "{waits:?}"
        );
    }
    assert_eq!(f.state("b").consecutive_errors, 3);

    server.respond(|_| Response::ok("text/xml", rss("b", &[("back", "https://news.test.kr/b")])));
    let before = chrono::Utc::now();
    assert!(f.poll("b").await.is_success());
    let state = f.state("b");
    assert_eq!(
        (state.consecutive_errors, state.last_error.as_deref()),
        (0, None)
    );
    let wait = (state.next_poll.unwrap() - before).num_seconds();
    assert!(
        (539..=661).contains(&wait),
        "back to the plain interval: {wait}"
    );
}

#[tokio::test]
async fn retry_after_and_publisher_hints_set_the_next_poll() {
    let server = TestServer::start(|req| match req.path.as_str() {
        "/busy" => Response::status(429).header("Retry-After", "7200"),
        "/ttl" => Response::ok(
            "text/xml",
            rss("t", &[("a", "https://news.test.kr/a")]).replace(
                "<description>d</description>",
                "<description>d</description><ttl>90</ttl>",
            ),
        ),
        _ => Response::ok("text/xml", rss("c", &[("c", "https://news.test.kr/c")]))
            .header("Cache-Control", "public, max-age=10800"),
    })
    .await;
    let f = fixture(
        &[
            ("busy", &server.url("/busy")),
            ("ttl", &server.url("/ttl")),
            ("cached", &server.url("/cached")),
        ],
        "interval = \"10m\"\nmin_interval = \"5m\"\n",
    );
    for (id, expected) in [("busy", 7200), ("ttl", 5400), ("cached", 10_800)] {
        let before = chrono::Utc::now();
        f.poll(id).await;
        let state = f.state(id);
        let wait = (state.next_poll.unwrap() - before).num_seconds();
        let (low, high) = if id == "busy" {
            (expected - 1, expected + 2)
        } else {
            (expected * 9 / 10 - 1, expected * 11 / 10 + 1)
        };
        assert!(
            (low..=high).contains(&wait),
            "{id}: waits {wait}s, expected about {expected}s"
        );
    }
    assert_eq!(f.state("busy").last_status, Some(429));
    assert_eq!(
        f.state("ttl").feed_interval_secs,
        Some(5400),
        "the feed's ttl is remembered for 304s"
    );
}
