//! `add`, `remove` and `import` edit the config file the same way with a daemon running as
//! with none (same stdout, same exit code, same bytes in the file), and then the daemon
//! reloads (said on stderr): what was added is polled within seconds, what was removed is no longer served.

use super::{Run, Setup, assert_same, stop};
use crate::rss;
use crate::server::{Response, TestServer};

/// What a config-editing command did: how it ended and the file it left.
fn edited(run: Run, setup: &Setup) -> (Run, String) {
    (run, setup.text())
}

/// The same exit code, stdout and file both ways; stderr says, only through the daemon, that
/// it reloaded (stdout is what the edit did, whoever runs).
fn assert_same_edit(what: &str, offline: &(Run, String), online: &(Run, String)) {
    assert!(offline.0.stderr.is_empty(), "{}", offline.0);
    assert!(
        online.0.stderr.starts_with("the daemon running on ")
            && online.0.stderr.contains(" reloaded "),
        "{}",
        online.0
    );
    let quiet = Run {
        stderr: String::new(),
        ..online.0.clone()
    };
    assert_same(what, &offline.0, &quiet);
    assert!(
        offline.1 == online.1,
        "`{what}` wrote a different file through the daemon.\nwith no daemon:\n{}\nthrough the daemon:\n{}",
        offline.1,
        online.1
    );
}

/// A server with a feed at each of `feeds` and a blog page at `/blog/` whose head links
/// `feed.xml` (relative: `/blog/feed.xml`).
async fn publisher(feeds: &'static [&'static str]) -> TestServer {
    TestServer::start(move |req| match req.path.as_str() {
        "/blog/" => Response::ok(
            "text/html; charset=utf-8",
            "<!DOCTYPE html>\n<html><head><title>블로그</title>\n<link rel=\"alternate\" type=\"application/rss+xml\" href=\"feed.xml\">\n</head><body><p>글</p></body></html>\n",
        ),
        path if path == "/blog/feed.xml" || feeds.contains(&path) => Response::ok(
            "application/rss+xml",
            rss(path, &[("글 하나", &format!("https://news.test.kr{path}/1"))]),
        ),
        _ => Response::status(404),
    })
    .await
}

fn requests_to(server: &TestServer, path: &str) -> usize {
    server.requests().iter().filter(|r| r.path == path).count()
}

/// `sources --json`'s line for `id`, if listed.
fn source_line(run: &Run, id: &str) -> Option<serde_json::Value> {
    run.stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["id"] == id)
}

#[tokio::test]
async fn add_by_a_page_url_edits_alike_and_the_daemon_polls_the_new_feed() {
    let server = publisher(&["/base.xml"]).await;
    let setup = Setup::new(
        &[("base", &server.url("/base.xml"))],
        "[outputs.all]\nlimit = 100\n",
    );
    let original = setup.text();
    let first = setup.sosik(&["poll"]).await;
    assert_eq!(first.code, Some(0), "{first}");

    let page = server.url("/blog/");
    let feed = server.url("/blog/feed.xml");
    let before = requests_to(&server, "/blog/feed.xml");
    let offline = edited(setup.sosik(&["add", &page]).await, &setup);
    let checks = requests_to(&server, "/blog/feed.xml") - before;
    assert_eq!(offline.0.code, Some(0), "{}", offline.0);
    assert_eq!(offline.0.stdout, format!("added 127-0-0-1 {feed}\n"));
    assert!(
        offline
            .1
            .contains(&format!("[sources.127-0-0-1]\nurl = \"{feed}\"\n")),
        "{}",
        offline.1
    );
    let removed = setup.sosik(&["remove", "127-0-0-1"]).await;
    assert_eq!(removed.code, Some(0), "{removed}");
    assert_eq!(setup.text(), original, "remove gives the file back");

    let daemon = setup.start().await;
    let before = requests_to(&server, "/blog/feed.xml");
    let online = edited(setup.sosik(&["add", &page]).await, &setup);
    assert_same_edit("add PAGE", &offline, &online);

    // The daemon reloads and polls the new source on its own, beyond add's own checks.
    super::wait_until("the daemon to poll the added feed", || {
        requests_to(&server, "/blog/feed.xml") > before + checks
    })
    .await;
    let sources = setup
        .sosik_until(
            &["sources", "--json"],
            "a last fetch for the added source",
            |run| source_line(run, "127-0-0-1").is_some_and(|l| !l["last_fetch"].is_null()),
        )
        .await;
    assert_eq!(sources.code, Some(0), "{sources}");
    let table = setup.sosik(&["sources"]).await;
    let line = table
        .stdout
        .lines()
        .find(|l| l.starts_with("127-0-0-1 "))
        .unwrap_or_else(|| panic!("the added source is listed:\n{table}"));
    assert_ne!(
        line.split_whitespace().nth(1),
        Some("never"),
        "LAST FETCH: {line}"
    );
    stop(daemon).await;
}

#[tokio::test]
async fn remove_edits_alike_and_the_daemon_drops_the_source() {
    let server = publisher(&["/keep.xml", "/drop.xml"]).await;
    let drop_url = server.url("/drop.xml");
    let setup = Setup::new(
        &[("keep", &server.url("/keep.xml")), ("drop", &drop_url)],
        "[outputs.all]\nlimit = 100\n",
    );
    let original = setup.text();
    let first = setup.sosik(&["poll"]).await;
    assert_eq!(first.code, Some(0), "{first}");

    let offline = edited(setup.sosik(&["remove", "drop"]).await, &setup);
    assert_eq!(offline.0.code, Some(0), "{}", offline.0);
    assert!(!offline.1.contains("[sources.drop]"), "{}", offline.1);
    setup.write(&original);

    let daemon = setup.start().await;
    let opml = setup.fetch("/sources.opml").await;
    assert!(
        opml.body.contains(&drop_url),
        "served before: {}",
        opml.body
    );
    let online = edited(setup.sosik(&["remove", "drop"]).await, &setup);
    assert_same_edit("remove drop", &offline, &online);

    setup
        .sosik_until(&["sources"], "`drop` to leave `sosik sources`", |run| {
            run.code == Some(0)
                && run.stdout.lines().any(|l| l.starts_with("keep "))
                && !run.stdout.lines().any(|l| l.starts_with("drop "))
        })
        .await;
    setup
        .fetch_until(
            "/sources.opml",
            "the daemon to stop serving `drop`",
            |opml| opml.status == 200 && !opml.body.contains(&drop_url),
        )
        .await;
    stop(daemon).await;
}

#[tokio::test]
async fn import_of_nested_folders_edits_alike_and_the_daemon_polls_the_imported_feeds() {
    let server = publisher(&["/base.xml", "/x.xml", "/y.xml"]).await;
    let setup = Setup::new(
        &[("base", &server.url("/base.xml"))],
        "[outputs.all]\nlimit = 100\n",
    );
    let original = setup.text();
    let opml = setup.dir.path().join("subscriptions.opml");
    std::fs::write(
        &opml,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\"><head><title>구독</title></head><body>\n  <outline text=\"과학\">\n    <outline text=\"엑스\" xmlUrl=\"{}\"/>\n    <outline text=\"와이\" xmlUrl=\"{}\"/>\n  </outline>\n</body></opml>\n",
            server.url("/x.xml"),
            server.url("/y.xml")
        ),
    )
    .unwrap();
    let opml = opml.to_str().unwrap();
    let first = setup.sosik(&["poll"]).await;
    assert_eq!(first.code, Some(0), "{first}");

    let before = requests_to(&server, "/x.xml");
    let offline = edited(setup.sosik(&["import", opml]).await, &setup);
    let checks = requests_to(&server, "/x.xml") - before;
    assert_eq!(offline.0.code, Some(0), "{}", offline.0);
    assert!(
        offline.0.stdout.contains("2 added, 0 skipped"),
        "{}",
        offline.0
    );
    assert!(offline.1.contains("tags = [\"과학\"]"), "{}", offline.1);
    assert!(offline.1.contains("title = \"엑스\""), "{}", offline.1);
    setup.write(&original);

    let daemon = setup.start().await;
    let (x, y) = (
        requests_to(&server, "/x.xml"),
        requests_to(&server, "/y.xml"),
    );
    let online = edited(setup.sosik(&["import", opml]).await, &setup);
    assert_same_edit("import FILE.opml", &offline, &online);
    super::wait_until("the daemon to poll both imported feeds", || {
        requests_to(&server, "/x.xml") > x + checks && requests_to(&server, "/y.xml") > y + checks
    })
    .await;
    stop(daemon).await;
}
