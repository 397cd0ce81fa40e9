//! `sosik reload` and SIGHUP: a valid config is applied without a restart (a source added by
//! hand is polled, an added output is served at once, a changed filter changes the bytes and
//! the ETag), an invalid one changes nothing and says which key, and `server.listen` is named
//! as needing a restart.

use super::{Setup, has_sample, stop, wait_until};
use crate::daemon::send;
use crate::rss;
use crate::server::{Response, TestServer};

const OK: &str = "sosik_config_reloads_total{result=\"ok\"}";
const ERROR: &str = "sosik_config_reloads_total{result=\"error\"}";

/// A publisher of one feed per path, two stories each: "하나 …" and "둘 …".
async fn publisher() -> TestServer {
    TestServer::start(|req| {
        let name = req.path.trim_start_matches('/');
        Response::ok(
            "application/rss+xml",
            rss(
                name,
                &[
                    (
                        &format!("하나 {name}"),
                        &format!("https://news.test.kr/{name}/1"),
                    ),
                    (
                        &format!("둘 {name}"),
                        &format!("https://news.test.kr/{name}/2"),
                    ),
                ],
            ),
        )
    })
    .await
}

const PICKED: &str = "[outputs.picked]\nfilter = 'title:\"하나\"'\n";

/// A daemon's world with source `a` polled once (so the daemon polls nothing on its own).
async fn polled(server: &TestServer) -> Setup {
    let setup = Setup::new(&[("a", &server.url("/a"))], PICKED);
    let first = setup.sosik(&["poll"]).await;
    assert_eq!(first.code, Some(0), "{first}");
    setup
}

fn requested(server: &TestServer, path: &str) -> bool {
    server.requests().iter().any(|r| r.path == path)
}

#[tokio::test]
async fn reload_without_a_daemon_validates_and_says_no_daemon_is_running() {
    let setup = Setup::new(&[("a", "https://news.test.kr/rss")], PICKED);
    let run = setup.sosik(&["reload"]).await;
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stdout.contains("no daemon"), "{run}");

    setup.write(
        &setup
            .text()
            .replace("[poll]\n", "[poll]\nintervall = \"5m\"\n"),
    );
    let run = setup.sosik(&["reload"]).await;
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stderr.contains("intervall"),
        "the bad key is named:\n{run}"
    );
}

#[tokio::test]
async fn reload_applies_a_source_an_output_and_a_filter_edited_by_hand() {
    let server = publisher().await;
    let setup = polled(&server).await;
    let daemon = setup.start().await;
    let before = setup.fetch("/feeds/picked.xml").await;
    assert_eq!(before.status, 200, "{}", before.body);
    assert!(
        before.body.contains("하나 a") && !before.body.contains("둘 a"),
        "{}",
        before.body
    );
    assert_eq!(setup.fetch("/feeds/extra.xml").await.status, 404);

    let edited = setup.text().replace("title:\"하나\"", "title:\"둘\"")
        + &format!(
            "\n[outputs.extra]\ntitle = \"추가\"\n\n[sources.hand-added]\nurl = \"{}\"\n",
            server.url("/hand")
        );
    setup.write(&edited);
    let run = setup.sosik(&["reload"]).await;
    assert_eq!(run.code, Some(0), "{run}\ndaemon log:\n{}", daemon.log());
    let first = run.stdout.lines().next().unwrap_or_default();
    assert!(first.starts_with("reloaded "), "{run}");
    for changed in ["hand-added", "extra", "picked"] {
        assert!(
            run.stdout.contains(changed),
            "the answer names {changed}:\n{run}"
        );
    }

    // Outputs apply at once: no wait.
    let extra = setup.fetch("/feeds/extra.xml").await;
    assert_eq!(
        extra.status, 200,
        "the added output is served: {}",
        extra.body
    );
    let after = setup.fetch("/feeds/picked.xml").await;
    assert!(
        after.body.contains("둘 a") && !after.body.contains("하나 a"),
        "{}",
        after.body
    );
    assert!(before.etag.is_some(), "feeds carry an ETag");
    assert_ne!(before.etag, after.etag, "a changed filter changes the ETag");

    wait_until("the daemon to poll the source added by hand", || {
        requested(&server, "/hand")
    })
    .await;
    let metrics = setup.metrics().await;
    assert!(has_sample(&metrics, OK, 1), "{metrics}");
    stop(daemon).await;
}

#[tokio::test]
async fn an_invalid_reload_changes_nothing_and_the_fixed_file_applies() {
    let server = publisher().await;
    let setup = polled(&server).await;
    let original = setup.text();
    let mut daemon = setup.start().await;
    let served = setup.fetch("/feeds/picked.xml").await;

    // An unknown key, beside an output that must not appear.
    let bad = original.replace("[poll]\n", "[poll]\nintervall = \"5m\"\n") + "\n[outputs.extra]\n";
    setup.write(&bad);
    let run = setup.sosik(&["reload"]).await;
    assert_eq!(run.code, Some(1), "{run}\ndaemon log:\n{}", daemon.log());
    assert!(
        run.stderr.contains("intervall"),
        "the bad key is named:\n{run}"
    );
    assert!(
        daemon.child.try_wait().unwrap().is_none(),
        "the daemon keeps running"
    );
    let still = setup.fetch("/feeds/picked.xml").await;
    assert_eq!((still.status, &still.body), (200, &served.body));
    assert_eq!(setup.fetch("/feeds/extra.xml").await.status, 404);
    let metrics = setup.metrics().await;
    assert!(has_sample(&metrics, ERROR, 1), "{metrics}");

    // Broken TOML: the line is named, as `check` names it (`FILE:LINE: is not valid TOML`).
    let broken = original.clone() + "\n[outputs.extra\ntitle = \n";
    let line = broken.lines().position(|l| l == "[outputs.extra").unwrap() + 1;
    setup.write(&broken);
    let run = setup.sosik(&["reload"]).await;
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stderr.contains(&format!("sosik.toml:{line}")),
        "line {line} is named:\n{run}"
    );
    assert!(
        daemon.child.try_wait().unwrap().is_none(),
        "the daemon keeps running"
    );
    assert!(has_sample(&setup.metrics().await, ERROR, 2));

    // Fixed: applied.
    setup.write(&(original + "\n[outputs.extra]\n"));
    let run = setup.sosik(&["reload"]).await;
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stdout.starts_with("reloaded "), "{run}");
    assert_eq!(setup.fetch("/feeds/extra.xml").await.status, 200);
    let metrics = setup.metrics().await;
    assert!(
        has_sample(&metrics, OK, 1) && has_sample(&metrics, ERROR, 2),
        "{metrics}"
    );
    stop(daemon).await;
}

#[tokio::test]
async fn a_changed_listen_address_is_named_as_needing_a_restart() {
    let server = publisher().await;
    let setup = polled(&server).await;
    let daemon = setup.start().await;
    let other = crate::free_port();
    setup.write(&setup.text().replace(
        &format!("listen = \"127.0.0.1:{}\"", setup.port),
        &format!("listen = \"127.0.0.1:{other}\""),
    ));
    let run = setup.sosik(&["reload"]).await;
    assert_eq!(run.code, Some(0), "{run}");
    assert!(
        run.stdout.contains("needs a restart") && run.stdout.contains("server.listen"),
        "{run}"
    );
    let health = setup.get("/healthz").await;
    assert!(
        health.is_some_and(|h| h.status == 200),
        "the daemon still answers on its old port"
    );
    stop(daemon).await;
}

#[tokio::test]
async fn sighup_reloads_like_sosik_reload() {
    let server = publisher().await;
    let setup = polled(&server).await;
    let mut daemon = setup.start().await;
    setup.write(&format!(
        "{}\n[sources.by-hup]\nurl = \"{}\"\n",
        setup.text(),
        server.url("/hup")
    ));
    send("-HUP", daemon.pid());
    wait_until("the daemon to poll the source added before SIGHUP", || {
        requested(&server, "/hup")
    })
    .await;
    assert!(
        daemon.child.try_wait().unwrap().is_none(),
        "the daemon keeps running after SIGHUP:\n{}",
        daemon.log()
    );
    let metrics = setup.metrics().await;
    assert!(has_sample(&metrics, OK, 1), "{metrics}");
    stop(daemon).await;
}
