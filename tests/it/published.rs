//! What the real `sosik run` publishes, across restarts (issue 12, items 3, 4, 6 and 10):
//! Last-Modified moves exactly when the bytes do, empty outputs are not dated 1970, health
//! and metrics tell failing sources from the start, and no published document shows a
//! `file:` URL.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;

use crate::cli::{sosik, text};
use crate::daemon::{sigterm_and_wait, start, wait_for};
use crate::free_port;
use crate::server::{Response, TestServer};

/// An RSS document whose items are (title, link, category).
fn rss(items: &[(&str, &str, &str)]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>local</title><link>https://news.test.kr/</link><description>d</description>\n",
    );
    for (i, (title, link, category)) in items.iter().enumerate() {
        out.push_str(&format!(
            "<item><title>{title}</title><link>{link}</link><category>{category}</category>\
             <pubDate>Thu, 26 Nov 2026 0{i}:00:00 +0900</pubDate></item>\n"
        ));
    }
    out.push_str("</channel></rss>\n");
    out
}

/// Writes `sosik.toml` in `dir`: its store in `dir/db`, listening on `port`, polling every
/// hour (so a restart polls nothing: every source's next poll is stored), plus `rest`.
fn write(dir: &Path, port: u16, rest: &str) -> PathBuf {
    let text = format!(
        "[store]\npath = \"{db}\"\nretention = \"0s\"\n[server]\nlisten = \"127.0.0.1:{port}\"\n\
         [poll]\ninterval = \"1h\"\ntimeout = \"3s\"\n{rest}",
        db = dir.join("db").display()
    );
    let path = dir.join("sosik.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A client that neither follows proxies nor keeps connections to a daemon that restarts.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

async fn fetch(port: u16, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = client().get(format!("http://127.0.0.1:{port}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
        .to_owned()
}

fn parse_date(value: &str) -> SystemTime {
    httpdate::parse_http_date(value).unwrap_or_else(|e| panic!("{value}: {e}"))
}

/// Waits until the daemon answers `/healthz`, without asking for any feed.
async fn until_up(port: u16) {
    wait_for(port, "/healthz", "the daemon to answer", |_| true).await;
}

#[tokio::test]
async fn a_changed_output_gets_a_later_last_modified_and_an_unchanged_one_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("feed.xml");
    std::fs::write(
        &feed,
        rss(&[
            ("알파 기사", "https://news.test.kr/a", "IT·과학"),
            ("베타 기사", "https://news.test.kr/b", "경제"),
        ]),
    )
    .unwrap();
    let port = free_port();
    let with_filter = |filter: &str| {
        write(
            dir.path(),
            port,
            &format!(
                "[sources.local]\nurl = \"file:feed.xml\"\n\
                 [outputs.news]\nfilter = '{filter}'\n"
            ),
        )
    };

    // Filter A: the first poll (at start) stores both stories; the feed shows one.
    let config = with_filter("title:알파");
    let mut daemon = start(&config);
    wait_for(port, "/feeds/news.atom", "the first poll", |b| {
        b.contains("알파 기사")
    })
    .await;
    let first = fetch(port, "/feeds/news.atom", &[]).await;
    let (lm_a, etag_a) = (header(&first, "last-modified"), header(&first, "etag"));
    assert_eq!(
        fetch(port, "/feeds/news.atom", &[("if-modified-since", &lm_a)])
            .await
            .status(),
        StatusCode::NOT_MODIFIED
    );
    assert_eq!(sigterm_and_wait(&mut daemon).await.0.code(), Some(0));

    // Filter B, same store, no poll: other bytes. A client holding only the old
    // Last-Modified must get them, with a strictly later Last-Modified.
    let config = with_filter("title:베타");
    let mut daemon = start(&config);
    until_up(port).await;
    let changed = fetch(port, "/feeds/news.atom", &[("if-modified-since", &lm_a)]).await;
    assert_eq!(changed.status(), StatusCode::OK, "the bytes changed");
    let (lm_b, etag_b) = (header(&changed, "last-modified"), header(&changed, "etag"));
    assert_ne!(etag_b, etag_a);
    assert!(parse_date(&lm_b) > parse_date(&lm_a), "{lm_b} after {lm_a}");
    let body_b = changed.text().await.unwrap();
    assert!(
        body_b.contains("베타 기사") && !body_b.contains("알파 기사"),
        "{body_b}"
    );
    assert_eq!(sigterm_and_wait(&mut daemon).await.0.code(), Some(0));

    // `sosik render` prints the bytes HTTP served.
    let config_arg = config.to_str().unwrap();
    let rendered = sosik(&["--config", config_arg, "render", "news", "--format", "atom"]).await;
    assert_eq!(
        rendered.status.code(),
        Some(0),
        "{}",
        text(&rendered.stderr)
    );
    assert_eq!(text(&rendered.stdout), body_b);

    // Nothing changed: the same Last-Modified after yet another restart, and a 304 for it.
    let mut daemon = start(&config);
    until_up(port).await;
    let same = fetch(port, "/feeds/news.atom", &[("if-modified-since", &lm_b)]).await;
    assert_eq!(same.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&same, "last-modified"), lm_b);
    let full = fetch(port, "/feeds/news.atom", &[]).await;
    assert_eq!(
        (header(&full, "last-modified"), header(&full, "etag")),
        (lm_b.clone(), etag_b.clone())
    );
    // If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2): an old tag gets the feed.
    let stale = fetch(
        port,
        "/feeds/news.atom",
        &[("if-none-match", &etag_a), ("if-modified-since", &lm_b)],
    )
    .await;
    assert_eq!(stale.status(), StatusCode::OK);
    assert_eq!(sigterm_and_wait(&mut daemon).await.0.code(), Some(0));
}

#[tokio::test]
async fn an_empty_output_is_not_dated_1970_in_any_format_or_header() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("feed.xml"),
        rss(&[("기사", "https://news.test.kr/a", "경제")]),
    )
    .unwrap();
    let port = free_port();
    let config = write(
        dir.path(),
        port,
        "[sources.local]\nurl = \"file:feed.xml\"\n\
         [outputs.nothing]\nfilter = 'title:\"없는 말\"'\n",
    );
    let started = SystemTime::now() - Duration::from_secs(2);
    let mut daemon = start(&config);
    until_up(port).await;
    for extension in ["xml", "atom", "json"] {
        let path = format!("/feeds/nothing.{extension}");
        let answer = fetch(port, &path, &[]).await;
        assert_eq!(answer.status(), StatusCode::OK, "{path}");
        let last_modified = header(&answer, "last-modified");
        assert!(
            parse_date(&last_modified) >= started,
            "{path}: Last-Modified {last_modified}"
        );
        let body = answer.text().await.unwrap();
        assert!(!body.contains("1970"), "{path}: {body}");
        match extension {
            "xml" => assert!(!body.contains("lastBuildDate"), "{body}"),
            "atom" => {
                let feed = atom_syndication::Feed::read_from(body.as_bytes()).unwrap();
                let updated = SystemTime::from(feed.updated().to_utc());
                assert!(updated >= started, "Atom updated {}", feed.updated());
            }
            _ => {}
        }
    }
    assert_eq!(sigterm_and_wait(&mut daemon).await.0.code(), Some(0));
}

#[tokio::test]
async fn health_and_metrics_name_failing_sources_from_the_start() {
    let server = TestServer::start(|_| Response::status(500)).await;
    let refused = format!("http://127.0.0.1:{}/feed", free_port());
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write(
        dir.path(),
        port,
        &format!(
            "[sources.broken]\nurl = \"{}\"\n[sources.refused]\nurl = \"{refused}\"\n\
             [outputs.all]\n",
            server.url("/feed")
        ),
    );
    let mut daemon = start(&config);
    // Both fail at their first poll: still alive (200), but degraded, naming them.
    let health = wait_for(port, "/healthz", "both failures", |b| {
        b.contains("\"failing\":2")
    })
    .await;
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(
        health["failing_sources"],
        serde_json::json!(["broken", "refused"])
    );
    assert_eq!(sigterm_and_wait(&mut daemon).await.0.code(), Some(0));

    // After a restart no poll is due for a while (the failures backed off), yet every
    // source's series is there, seeded from its stored state, and health still says so.
    let polls_before = server.requests().len();
    let mut daemon = start(&config);
    until_up(port).await;
    let metrics = fetch(port, "/metrics", &[]).await.text().await.unwrap();
    for id in ["broken", "refused"] {
        for line in [
            format!("sosik_source_consecutive_errors{{source=\"{id}\"}} 1"),
            format!("sosik_stories_new_total{{source=\"{id}\"}} 0"),
            format!("sosik_stories_updated_total{{source=\"{id}\"}} 0"),
        ] {
            assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
        }
    }
    assert!(
        !metrics.contains("sosik_fetches_total{outcome=\"failed\"}"),
        "no poll ran yet:\n{metrics}"
    );
    let health = fetch(port, "/healthz", &[]).await;
    assert_eq!(health.status(), StatusCode::OK);
    let health: serde_json::Value = serde_json::from_str(&health.text().await.unwrap()).unwrap();
    assert_eq!(
        (health["status"].as_str(), health["failing"].as_u64()),
        (Some("degraded"), Some(2))
    );
    assert_eq!(server.requests().len(), polls_before, "nothing polled");
    assert_eq!(sigterm_and_wait(&mut daemon).await.0.code(), Some(0));
}

fn demo_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo.toml")
}

#[tokio::test]
async fn the_demo_config_publishes_no_file_url() {
    let dir = tempfile::tempdir().unwrap();
    let demo = demo_path();
    let demo = demo.to_str().unwrap();
    let port = free_port();
    let db = dir.path().join("db");
    let env = [
        ("SOSIK__STORE__PATH", db.to_str().unwrap().to_owned()),
        ("SOSIK__SERVER__LISTEN", format!("127.0.0.1:{port}")),
    ];
    let run = |args: Vec<&str>| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_sosik"));
        command
            .args(["--config", demo])
            .args(args)
            .env_remove("SOSIK_CONFIG")
            .envs(env.iter().map(|(k, v)| (k, v)));
        command
    };
    let polled = run(vec!["poll"]).output().await.unwrap();
    assert_eq!(polled.status.code(), Some(0), "{}", text(&polled.stderr));

    let mut documents = Vec::new();
    for output in ["it-science", "korean", "everything"] {
        for format in ["rss", "atom", "json"] {
            let out = run(vec!["render", output, "--format", format])
                .output()
                .await
                .unwrap();
            assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
            documents.push((format!("render {output} {format}"), text(&out.stdout)));
        }
    }
    let everything_rss = &documents[6].1;
    assert!(everything_rss.contains("<item>"), "{everything_rss}");

    let mut daemon = run(vec!["run"])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    until_up(port).await;
    for path in ["/", "/sources.opml", "/feeds/everything.xml", "/healthz"] {
        let answer = fetch(port, path, &[]).await;
        assert_eq!(answer.status(), StatusCode::OK, "{path}");
        documents.push((path.to_owned(), answer.text().await.unwrap()));
    }
    for (what, document) in &documents {
        assert!(!document.contains("file:"), "{what}:\n{document}");
        assert!(!document.contains("config/demo"), "{what}:\n{document}");
    }
    // The OPML still lists every source (a plain outline where there is no URL to give).
    let opml = &documents
        .iter()
        .find(|(w, _)| w == "/sources.opml")
        .unwrap()
        .1;
    let opml = opml::OPML::from_str(opml).unwrap();
    let demo_sources = std::fs::read_to_string(demo_path())
        .unwrap()
        .matches("[sources.")
        .count();
    assert_eq!(opml.body.outlines.len(), demo_sources);
    assert!(opml.body.outlines.iter().all(|o| o.xml_url.is_none()));
    assert_eq!(sigterm_and_wait(&mut daemon).await.0.code(), Some(0));
}
