//! The router called directly (`oneshot`, no socket) for every route, and once over a real
//! socket on 127.0.0.1.

use std::io::Read;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use bytes::Bytes;
use tower::ServiceExt;

use super::conditional::http_date;
use super::*;
use crate::publish::fixtures::{Fixture, commit, commit_titled, day, fixture, story};
use crate::render::Format;

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(&name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).unwrap()
    }
}

/// A fixture with two IT stories and one economy story, and its router.
fn app() -> (Fixture, AppState, Router) {
    let fx = fixture();
    commit(
        &fx.store,
        "mk-all",
        &[
            story("mk-all", "it/1", "반도체 <신기록>", 1, &["IT·과학"]),
            story("mk-all", "economy/2", "금리", 2, &["경제"]),
            story("mk-all", "it/3", "새 스마트폰 & 태블릿", 3, &[]),
        ],
        day(3),
    );
    // The clock stands still on day 3: Last-Modified is when a version was first served.
    let publisher = Publisher::with_clock(fx.config.clone(), fx.store.clone(), Arc::new(|| day(3)));
    let state = AppState::new(publisher, Arc::new(Metrics::new()));
    let router = router(state.clone());
    (fx, state, router)
}

async fn call(router: &Router, method: Method, uri: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    Answer {
        status,
        headers,
        body,
    }
}

async fn get(router: &Router, uri: &str, headers: &[(&str, &str)]) -> Answer {
    call(router, Method::GET, uri, headers).await
}

#[tokio::test]
async fn feeds_are_served_in_three_formats_with_validators() {
    let (_fx, state, router) = app();
    for format in Format::ALL {
        let uri = format!("/feeds/it-science.{}", format.extension());
        let answer = get(&router, &uri, &[]).await;
        let rendered = state.publisher.render("it-science", format).unwrap();
        assert_eq!(answer.status, StatusCode::OK, "{uri}");
        assert_eq!(answer.header(header::CONTENT_TYPE), format.content_type());
        assert_eq!(
            answer.body, rendered.bytes,
            "{uri}: what `sosik render` prints"
        );
        assert_eq!(answer.header(header::ETAG), rendered.etag);
        assert_eq!(
            answer.header(header::LAST_MODIFIED),
            "Tue, 03 Nov 2026 12:00:00 GMT"
        );
        assert_eq!(
            answer.header(header::LAST_MODIFIED),
            http_date(rendered.last_modified)
        );
        assert_eq!(answer.header(header::CACHE_CONTROL), "public, max-age=60");
        assert_eq!(answer.header(header::VARY), "accept-encoding");
        assert_eq!(answer.header(header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    }
    let rss = get(&router, "/feeds/it-science.xml", &[]).await.text();
    assert!(
        rss.contains("새 스마트폰 &amp; 태블릿") && !rss.contains("금리"),
        "{rss}"
    );
}

#[tokio::test]
async fn if_none_match_answers_304_and_takes_precedence() {
    let (_fx, _state, router) = app();
    let uri = "/feeds/it-science.atom";
    let etag = get(&router, uri, &[]).await.header(header::ETAG).to_owned();
    let weak = format!("W/{etag}");
    let list = format!("\"stale\", {etag}");
    for value in [etag.as_str(), weak.as_str(), list.as_str(), "*"] {
        let answer = get(&router, uri, &[("if-none-match", value)]).await;
        assert_eq!(
            answer.status,
            StatusCode::NOT_MODIFIED,
            "If-None-Match: {value}"
        );
        assert!(answer.body.is_empty());
        assert_eq!(answer.header(header::ETAG), etag);
        assert!(answer.headers.contains_key(header::LAST_MODIFIED));
        assert_eq!(answer.header(header::VARY), "accept-encoding");
    }
    // A stale tag gets the feed, even with an If-Modified-Since that alone would be a 304.
    let answer = get(
        &router,
        uri,
        &[
            ("if-none-match", "\"stale\""),
            ("if-modified-since", "Fri, 31 Dec 9999 23:59:59 GMT"),
        ],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(!answer.body.is_empty());
}

#[tokio::test]
async fn if_modified_since_answers_304_until_the_feed_changes() {
    let (fx, state, router) = app();
    let uri = "/feeds/it-science.json";
    let first = get(&router, uri, &[]).await;
    let last_modified = first.header(header::LAST_MODIFIED).to_owned();
    let answer = get(&router, uri, &[("if-modified-since", &last_modified)]).await;
    assert_eq!(answer.status, StatusCode::NOT_MODIFIED);
    assert_eq!(answer.header(header::ETAG), first.header(header::ETAG));
    let earlier = get(
        &router,
        uri,
        &[("if-modified-since", "Mon, 02 Nov 2026 12:00:00 GMT")],
    )
    .await;
    assert_eq!(earlier.status, StatusCode::OK);

    // A new story, once the ingest side invalidates, defeats both old validators, and moves
    // Last-Modified a second past the old one although the clock has not moved.
    commit(
        &fx.store,
        "mk-all",
        &[story("mk-all", "it/9", "새 소식", 9, &[])],
        day(9),
    );
    state.publisher.invalidate();
    let etag = first.header(header::ETAG);
    for (name, value) in [
        ("if-none-match", etag),
        ("if-modified-since", last_modified.as_str()),
    ] {
        let answer = get(&router, uri, &[(name, value)]).await;
        assert_eq!(answer.status, StatusCode::OK, "{name}");
        assert!(answer.text().contains("새 소식"));
        assert_ne!(answer.header(header::ETAG), etag);
        assert_eq!(
            answer.header(header::LAST_MODIFIED),
            "Tue, 03 Nov 2026 12:00:01 GMT"
        );
    }
}

/// Undoes a content coding.
type Decoder = fn(&[u8]) -> Vec<u8>;

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn unbrotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli_decompressor::Decompressor::new(bytes, 4096)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[tokio::test]
async fn gzip_and_br_when_accepted_each_with_its_own_etag() {
    let (_fx, _state, router) = app();
    let uri = "/feeds/everything.xml";
    let plain = get(&router, uri, &[]).await;
    assert!(!plain.headers.contains_key(header::CONTENT_ENCODING));
    let tag = plain.header(header::ETAG).trim_matches('"').to_owned();
    for (coding, decode) in [("gzip", gunzip as Decoder), ("br", unbrotli)] {
        let answer = get(&router, uri, &[("accept-encoding", coding)]).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.header(header::CONTENT_ENCODING), coding);
        assert_eq!(decode(&answer.body), plain.body, "{coding}");
        assert_ne!(answer.body, plain.body);
        let variant = format!("\"{tag}-{coding}\"");
        assert_eq!(answer.header(header::ETAG), variant);
        assert_eq!(answer.header(header::VARY), "accept-encoding");
        // The variant's tag revalidates, whatever the client now accepts.
        for accept in [coding, "identity"] {
            let again = get(
                &router,
                uri,
                &[("if-none-match", &variant), ("accept-encoding", accept)],
            )
            .await;
            assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{coding}/{accept}");
            assert_eq!(again.header(header::ETAG), variant);
        }
    }
    // Preferences are honoured: gzip rated above br.
    let answer = get(&router, uri, &[("accept-encoding", "br;q=0.5, gzip")]).await;
    assert_eq!(answer.header(header::CONTENT_ENCODING), "gzip");
}

#[tokio::test]
async fn unknown_names_and_traversal_attempts_are_plain_404s() {
    let (_fx, _state, router) = app();
    for uri in [
        "/feeds/nope.xml",
        "/feeds/it-science.html",
        "/feeds/it-science",
        "/feeds/",
        "/feeds/it-science.xml/more",
        "/feeds/../Cargo.toml",
        "/feeds/%2e%2e%2fCargo.toml.xml",
        "/feeds/..%2f..%2fCargo.toml.json",
        "/feeds/%2e%2e/Cargo.toml",
        "/feeds/%ff.xml",
        "/Cargo.toml",
        "/src/lib.rs",
        "/index.html",
    ] {
        let answer = get(&router, uri, &[]).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(
            answer.header(header::CONTENT_TYPE),
            "text/plain; charset=utf-8"
        );
        assert_eq!(answer.text(), "not found\n", "{uri}");
    }
}

#[tokio::test]
async fn the_index_lists_every_output_escaped_with_subscribe_links() {
    let (_fx, _state, router) = app();
    let answer = get(&router, "/", &[]).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.header(header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    assert!(
        answer
            .header(header::CONTENT_SECURITY_POLICY)
            .contains("default-src 'none'")
    );
    let html = answer.text();
    assert!(html.starts_with("<!doctype html>"));
    assert!(
        html.contains("<h2>Everything &lt;&amp;&gt; &quot;quoted&quot;</h2>"),
        "{html}"
    );
    assert!(!html.contains("<&>"));
    assert!(html.contains("<h2>IT·과학</h2>\n<p>매일경제 IT·과학 기사</p>"));
    assert!(
        html.contains("2 stories · updated Tue, 03 Nov 2026 12:00:00 GMT"),
        "{html}"
    );
    assert!(html.contains("3 stories"));
    for extension in ["xml", "atom", "json"] {
        let link = format!("href=\"http://127.0.0.1:8080/feeds/it-science.{extension}\"");
        assert!(html.contains(&link), "{link}");
    }
    assert!(!html.contains("src="), "no external assets");
}

#[tokio::test]
async fn healthz_reports_story_and_source_counts() {
    let (_fx, _state, router) = app();
    let answer = get(&router, "/healthz", &[]).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header(header::CONTENT_TYPE), "application/json");
    let status: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(
        status,
        serde_json::json!({
            "status": "ok", "store": { "status": "ok" }, "stories": 3, "sources": 3,
            "failing": 0, "failing_sources": []
        })
    );
}

/// Issue 19: with the disk full, `/healthz` said "ok" while every poll failed. The store's
/// fault shows with its kind and reason (said once), the status is "degraded", and each
/// error counts in `sosik_store_errors_total{kind="full"}`.
#[tokio::test]
async fn healthz_says_degraded_with_the_store_fault_and_metrics_count_it() {
    let (fx, state, router) = app();
    let metrics = state.metrics.clone();
    fx.store
        .observe_faults(Arc::new(move |kind| metrics.store_error(kind)));
    fx.store
        .inject_disk(Some(crate::store::Injected { after: 0, code: 28 }));
    let id = crate::model::SourceId::new("hani").unwrap();
    for _ in 0..2 {
        let err = fx.store.save_state(&id, &Default::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "store I/O failed: the disk is full: No space left on device (os error 28)"
        );
    }
    let answer = get(&router, "/healthz", &[]).await;
    assert_eq!(answer.status, StatusCode::OK, "liveness: still 200");
    let status: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(status["status"], "degraded", "{status}");
    assert_eq!(status["store"]["status"], "degraded", "{status}");
    assert_eq!(status["store"]["kind"], "full", "{status}");
    assert_eq!(
        status["store"]["reason"],
        "the disk is full: No space left on device (os error 28)"
    );
    let answer = get(&router, "/metrics", &[]).await;
    let text = String::from_utf8(answer.body.to_vec()).unwrap();
    assert!(
        text.contains("sosik_store_errors_total{kind=\"full\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("sosik_store_errors_total{kind=\"gone\"} 0"),
        "{text}"
    );

    // Space back: the next flush that works clears the fault.
    fx.store.inject_disk(None);
    fx.store.flush_blocking().unwrap();
    let answer = get(&router, "/healthz", &[]).await;
    let status: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(status["status"], "ok", "{status}");
}

/// Issue 19: sled can refuse even reads once a write failed (and a store between re-opens
/// has nothing to read): `/healthz` still answers 200, degraded, saying why.
#[tokio::test]
async fn healthz_answers_degraded_when_the_store_cannot_be_read() {
    let (fx, _state, router) = app();
    fx.store.lose_handles();
    let answer = get(&router, "/healthz", &[]).await;
    assert_eq!(answer.status, StatusCode::OK, "liveness: still 200");
    let status: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(status["status"], "degraded", "{status}");
    assert_eq!(status["store"]["status"], "degraded", "{status}");
    let reason = status["store"]["reason"].as_str().unwrap();
    assert!(reason.contains("the store is being re-opened"), "{reason}");
}

#[tokio::test]
async fn healthz_says_degraded_with_the_sources_whose_last_poll_failed() {
    // Issue 12, item 6: "ok" while every source failed.
    let (fx, _state, router) = app();
    let failed = crate::model::SourceState {
        consecutive_errors: 2,
        last_error: Some("the server answered 500".into()),
        ..Default::default()
    };
    for id in ["hani", "mk-it"] {
        let id = crate::model::SourceId::new(id).unwrap();
        fx.store.save_state(&id, &failed).unwrap();
    }
    let answer = get(&router, "/healthz", &[]).await;
    assert_eq!(answer.status, StatusCode::OK, "liveness: still 200");
    let status: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(
        status,
        serde_json::json!({
            "status": "degraded", "store": { "status": "ok" }, "stories": 3, "sources": 3,
            "failing": 2, "failing_sources": ["hani", "mk-it"]
        })
    );
}

#[tokio::test]
async fn metrics_count_stories_and_requests_by_route() {
    let (_fx, _state, router) = app();
    get(&router, "/feeds/it-science.xml", &[]).await;
    get(&router, "/feeds/it-science.xml", &[]).await;
    get(&router, "/feeds/nope.xml", &[]).await;
    get(&router, "/wp-login.php", &[]).await;
    let answer = get(&router, "/metrics", &[]).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        answer
            .header(header::CONTENT_TYPE)
            .starts_with("application/openmetrics-text")
    );
    let text = answer.text();
    for line in [
        "sosik_stories 3",
        "sosik_sources 3",
        r#"sosik_http_requests_total{route="/feeds/{file}",status="200"} 2"#,
        r#"sosik_http_requests_total{route="/feeds/{file}",status="404"} 1"#,
        r#"sosik_http_requests_total{route="unmatched",status="404"} 1"#,
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} in\n{text}");
    }
    assert!(text.ends_with("# EOF\n"));
}

#[tokio::test]
async fn sources_opml_lists_configured_sources_with_tags() {
    let (fx, _state, router) = app();
    commit_titled(&fx.store, "mk-it", &[], day(3), Some("MK IT"));
    let answer = get(&router, "/sources.opml", &[]).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.header(header::CONTENT_TYPE),
        "text/x-opml; charset=utf-8"
    );
    let text = answer.text();
    assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"));
    let document = opml::OPML::from_str(&text).unwrap();
    assert_eq!(document.version, "2.0");
    let outlines: Vec<_> = document
        .body
        .outlines
        .iter()
        .map(|o| (o.text.as_str(), o.xml_url.as_deref(), o.category.as_deref()))
        .collect();
    assert_eq!(
        outlines,
        [
            ("한겨레", Some("https://www.hani.co.kr/rss/"), Some("hani")),
            (
                "매일경제 전체뉴스",
                Some("https://www.mk.co.kr/rss/40300001/"),
                Some("mk,economy")
            ),
            ("MK IT", Some("https://www.mk.co.kr/rss/50300009/"), None),
        ]
    );
}

#[tokio::test]
async fn head_requests_get_headers_and_bodies_are_capped() {
    let (_fx, _state, router) = app();
    let answer = call(&router, Method::HEAD, "/feeds/it-science.xml", &[]).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.body.is_empty());
    assert!(answer.headers.contains_key(header::ETAG));

    let request = Request::get("/healthz")
        .header(header::CONTENT_LENGTH, MAX_REQUEST_BODY + 1)
        .body(Body::from(vec![b'x'; MAX_REQUEST_BODY + 1]))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let post = call(&router, Method::POST, "/feeds/it-science.xml", &[]).await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn over_a_socket_a_feed_is_served_and_shutdown_is_graceful() {
    let (_fx, state, router) = app();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, router, async {
        let _ = stopped.await;
    }));

    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let response = client
        .get(format!("http://{addr}/feeds/it-science.xml"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    // reqwest asks for compression and decompresses.
    assert!(
        etag.ends_with("-br\"") || etag.ends_with("-gzip\""),
        "{etag}"
    );
    let body = response.bytes().await.unwrap();
    let rendered = state.publisher.render("it-science", Format::Rss).unwrap();
    assert_eq!(body, rendered.bytes);

    let again = client
        .get(format!("http://{addr}/feeds/it-science.xml"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    // A request head past the cap is refused, not buffered.
    let huge = "x".repeat(MAX_REQUEST_HEAD + 1);
    let refused = client
        .get(format!("http://{addr}/healthz"))
        .header("x-filler", huge)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 431);

    stop.send(()).unwrap();
    let result = tokio::time::timeout(std::time::Duration::from_secs(5), server)
        .await
        .expect("serve returns after the shutdown signal")
        .unwrap();
    assert!(result.is_ok());
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the listener is closed after shutdown"
    );
}

#[tokio::test]
async fn the_index_lists_every_source_with_its_health_failing_first() {
    // Issue 14: `/` shows each source's last success, next poll and last error.
    let (fx, _state, router) = app();
    let failed = crate::model::SourceState {
        consecutive_errors: 2,
        last_error: Some("the server answered 500 <Internal Server Error>".into()),
        last_success: Some(day(1)),
        next_poll: Some(day(4)),
        ..Default::default()
    };
    fx.store
        .save_state(&crate::model::SourceId::new("hani").unwrap(), &failed)
        .unwrap();
    let html = get(&router, "/", &[]).await.text();
    let sources = &html[html.find("<h2>Sources</h2>").expect("a sources section")..];
    assert!(sources.contains("3 sources, 1 failing"), "{sources}");
    let rows: Vec<&str> = sources
        .lines()
        .filter(|l| l.starts_with("<tr class="))
        .collect();
    assert!(
        rows[0].starts_with("<tr class=\"failing\">"),
        "failing first: {sources}"
    );
    assert!(
        rows[0].contains("<td>failing (2 in a row)</td><td>2026-11-01 12:00 UTC</td>"),
        "{}",
        rows[0]
    );
    assert_eq!(
        rows[1],
        "<tr class=\"error\"><td colspan=\"4\">the server answered 500 &lt;Internal Server Error&gt;</td></tr>"
    );
    assert!(
        rows.iter().any(|r| r.starts_with("<tr class=\"ok\">")),
        "{sources}"
    );
    assert!(
        rows.iter().any(|r| r.starts_with("<tr class=\"new\">")),
        "{sources}"
    );
    assert!(sources.find("<h2>Sources</h2>") < sources.find("<footer>"));
}
