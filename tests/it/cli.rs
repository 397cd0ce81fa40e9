//! The real `sosik` binary, where the command line is the contract.

use std::process::Output;

use crate::server::{Response, TestServer};
use crate::{rss, write_config};

pub async fn sosik(args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_sosik"))
        .args(args)
        .env_remove("SOSIK_CONFIG")
        .env("NO_COLOR", "1")
        .output()
        .await
        .unwrap()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn poll_exits_1_when_a_source_fails_and_sources_names_the_failure() {
    let server = TestServer::start(|req| match req.path.as_str() {
        "/good" => Response::ok(
            "text/xml",
            rss(
                "good",
                &[
                    ("이재용·올트먼 내일 회동", "https://news.test.kr/it/1"),
                    ("b", "https://news.test.kr/2"),
                ],
            ),
        ),
        "/html" => Response::ok("text/html", "<html><body>login</body></html>"),
        _ => Response::status(500),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &[
            ("good", &server.url("/good")),
            ("html", &server.url("/html")),
            ("broken", &server.url("/x")),
        ],
        "",
    );
    let config = config.to_str().unwrap();

    let out = sosik(&["--config", config, "poll"]).await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    let good_line = stdout.lines().find(|l| l.starts_with("good ")).unwrap();
    assert!(good_line.contains("ok 200"), "{good_line}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("broken ") && l.contains("500")),
        "{stdout}"
    );
    assert!(
        stdout.contains("3 sources: 1 ok, 2 failed; 2 new"),
        "{stdout}"
    );

    let out = sosik(&["--config", config, "sources", "--json"]).await;
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let by_id = |id: &str| lines.iter().find(|l| l["id"] == id).unwrap().clone();
    assert_eq!(by_id("html")["last_error"], "got an HTML page, not a feed");
    assert_eq!(by_id("broken")["status"], 500);
    assert_eq!(by_id("broken")["consecutive_errors"], 1);
    assert_eq!(by_id("good")["consecutive_errors"], 0);

    let out = sosik(&["--config", config, "sources"]).await;
    assert!(
        text(&out.stdout)
            .lines()
            .any(|l| l.starts_with("html ") && l.contains("HTML page"))
    );

    // Polling only the good source succeeds.
    assert_eq!(
        sosik(&["--config", config, "poll", "good"])
            .await
            .status
            .code(),
        Some(0)
    );
}

#[tokio::test]
async fn items_prints_json_lines_with_the_spec_fields() {
    let server = TestServer::start(|_| {
        Response::ok(
            "text/xml",
            rss(
                "t",
                &[
                    ("older", "https://news.test.kr/1"),
                    ("newer", "https://news.test.kr/2?utm_medium=x"),
                ],
            ),
        )
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &[("mk", &server.url("/rss"))], "");
    let config = config.to_str().unwrap();
    assert_eq!(
        sosik(&["--config", config, "poll"]).await.status.code(),
        Some(0)
    );

    let out = sosik(&["--config", config, "items", "--json", "--limit", "1"]).await;
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    let item = &lines[0];
    let mut keys: Vec<_> = item.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "authors",
            "categories",
            "copies",
            "id",
            "link",
            "published",
            "sources",
            "title",
            "updated"
        ]
    );
    assert_eq!(item["title"], "newer", "newest first");
    assert_eq!(item["link"], "https://news.test.kr/2");
    assert_eq!(item["id"], "https://news.test.kr/2");
    assert_eq!(item["published"], "2026-11-25T16:00:00Z");
    assert_eq!(item["sources"], serde_json::json!(["mk"]));
    assert_eq!(
        item["copies"],
        serde_json::json!([]),
        "no other source told it"
    );
    assert_eq!(item["categories"], serde_json::json!(["IT·과학"]));

    let out = sosik(&["--config", config, "items", "--source", "mk"]).await;
    assert_eq!(text(&out.stdout).lines().count(), 2);
    // `render` prints the output feed (filter `category:"IT·과학"` keeps both stories).
    let out = sosik(&["--config", config, "render", "it", "--format", "json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let feed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(feed["version"], "https://jsonfeed.org/version/1.1");
    let titles: Vec<_> = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(titles, ["newer", "older"]);
    let again = sosik(&["--config", config, "render", "it", "--format", "json"]).await;
    assert_eq!(again.stdout, out.stdout, "rendering is deterministic");
    let rss = sosik(&["--config", config, "render", "it"]).await;
    assert!(
        text(&rss.stdout).contains("<guid>https://news.test.kr/2</guid>"),
        "{}",
        text(&rss.stdout)
    );
    assert_eq!(
        sosik(&["--config", config, "render", "ghost"])
            .await
            .status
            .code(),
        Some(2)
    );

    let out = sosik(&["--config", config, "items", "--output", "nope"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no output \"nope\""));
}

#[tokio::test]
async fn check_names_the_bad_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[poll]\ntimeout = \"soon\"\n", "poll.timeout"),
        ("[poll]\ntimeot = \"5s\"\n", "timeot"),
        ("[sources.Bad]\nurl = \"https://a.kr/\"\n", "sources.Bad"),
        ("[sources.a]\nurl = \"ftp://a.kr/\"\n", "sources.a.url"),
        (
            "[sources.a]\nurl = \"https://a.kr/\"\n[outputs.o]\nfilter = 'title:\"과학\" (x'\n",
            "outputs.o.filter: col 14: expected ')'",
        ),
        (
            "[sources.a]\nurl = \"https://a.kr/\"\ntimezone = \"Mars/Base\"\n",
            "sources.a.timezone",
        ),
        ("[outputs.o]\nsources = [\"ghost\"]\n", "outputs.o.sources"),
    ];
    for (body, key) in cases {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, body).unwrap();
        let out = sosik(&["--config", path.to_str().unwrap(), "check"]).await;
        assert_eq!(out.status.code(), Some(2), "{body}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(key), "{body}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let out = sosik(&["--config", "/nonexistent/sosik.toml", "check"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no such config file"));
}

#[tokio::test]
async fn environment_overrides_apply() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &[("a", "https://news.test.kr/rss")], "");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_sosik"))
        .args(["--config", config.to_str().unwrap(), "check"])
        .env("SOSIK__SERVER__LISTEN", "127.0.0.1:9999")
        .env("SOSIK_CONFIG", "/ignored/because/--config/wins.toml")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("server: 127.0.0.1:9999"));
}

#[tokio::test]
async fn inspect_reports_format_encoding_and_items_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let text_feed =
        rss("매일경제", &[("똠방각하", "https://news.test.kr/1")]).replace("UTF-8", "euc-kr");
    let (bytes, _, _) = encoding_rs::EUC_KR.encode(&text_feed);
    let file = dir.path().join("feed.xml");
    std::fs::write(&file, &bytes).unwrap();
    // No config anywhere: inspect needs none (it runs in a directory without config/).
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_sosik"))
        .args(["inspect", file.to_str().unwrap(), "--json"])
        .current_dir(dir.path())
        .env_remove("SOSIK_CONFIG")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["format"], "RSS 2.0");
    assert_eq!(doc["encoding"], "EUC-KR");
    assert_eq!(doc["title"], "매일경제");
    assert_eq!(doc["items"][0]["title"], "똠방각하");
    assert!(
        std::fs::metadata(dir.path().join("db")).is_err(),
        "inspect stores nothing"
    );
}

/// `sosik poll` reads every source's state before polling (one trip for all): the second poll
/// must still send each source's validators and report the 304s, and a source with no state
/// yet polls as new.
#[tokio::test]
async fn a_second_poll_sends_the_stored_validators_and_reports_not_modified() {
    let server = TestServer::start(|req| {
        let etag = format!("\"v1-{}\"", req.path.trim_start_matches('/'));
        if req.headers.get("if-none-match") == Some(&etag) {
            return Response::status(304).header("ETag", &etag);
        }
        let feed = rss(
            &req.path,
            &[("하나", &format!("https://news.test.kr{}/1", req.path))],
        );
        Response::ok("text/xml", feed).header("ETag", &etag)
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let sources = [("a", server.url("/a")), ("b", server.url("/b"))];
    let config = write_config(
        dir.path(),
        &[("a", &sources[0].1), ("b", &sources[1].1)],
        "",
    );
    let config = config.to_str().unwrap();

    let first = sosik(&["--config", config, "poll"]).await;
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert!(
        text(&first.stdout).contains("2 new"),
        "{}",
        text(&first.stdout)
    );

    let second = sosik(&["--config", config, "poll"]).await;
    let stdout = text(&second.stdout);
    assert_eq!(second.status.code(), Some(0), "{stdout}");
    for id in ["a", "b"] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("{id} ")))
            .unwrap();
        assert!(line.contains("ok 304"), "{line}");
    }
    let sent: Vec<_> = server
        .requests()
        .iter()
        .filter_map(|r| r.headers.get("if-none-match").cloned())
        .collect();
    assert_eq!(
        sent.len(),
        2,
        "only the second poll sends validators: {sent:?}"
    );
}
