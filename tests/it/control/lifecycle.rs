//! The socket's life: private (0600), left behind only by a daemon killed with SIGKILL and
//! then replaced by the next one, removed on SIGTERM; a second daemon on the same store is
//! refused while the first keeps running.

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::Duration;

use super::{Run, Setup, stop};
use crate::rss;
use crate::server::{Response, TestServer};

async fn setup() -> (TestServer, Setup) {
    let server = TestServer::start(|_| {
        Response::ok(
            "application/rss+xml",
            rss("뉴스", &[("소식", "https://news.test.kr/1")]),
        )
    })
    .await;
    let setup = Setup::new(&[("a", &server.url("/a"))], "[outputs.all]\nlimit = 100\n");
    let first = setup.sosik(&["poll"]).await;
    assert_eq!(first.code, Some(0), "{first}");
    (server, setup)
}

/// `sosik --config CONFIG run` to its end (bounded), its output collected.
async fn run_to_end(config: &std::path::Path) -> Run {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sosik"))
        .args(["--config", config.to_str().unwrap(), "run"])
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let out = tokio::time::timeout(super::WAIT, child.wait_with_output())
        .await
        .expect("a second daemon on a store in use ends by itself")
        .unwrap();
    Run {
        code: out.status.code(),
        stdout: crate::cli::text(&out.stdout),
        stderr: crate::cli::text(&out.stderr),
    }
}

#[tokio::test]
async fn sigterm_exits_0_and_removes_the_private_socket() {
    let (_server, setup) = setup().await;
    let daemon = setup.start().await;
    let meta = std::fs::metadata(setup.socket()).unwrap();
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o600,
        "control.sock's mode is {:o}",
        meta.permissions().mode() & 0o777
    );
    stop(daemon).await;
    assert!(
        !setup.socket().exists(),
        "control.sock is removed on shutdown"
    );
    let run = setup.sosik(&["sources"]).await;
    assert_eq!(run.code, Some(0), "offline again:\n{run}");
}

#[tokio::test]
async fn a_socket_left_by_a_killed_daemon_is_replaced() {
    let (_server, setup) = setup().await;
    let mut daemon = setup.start().await;
    daemon.child.start_kill().unwrap();
    tokio::time::timeout(Duration::from_secs(20), daemon.child.wait())
        .await
        .expect("SIGKILL ends the daemon")
        .unwrap();
    assert!(
        setup.socket().exists(),
        "SIGKILL leaves control.sock behind"
    );

    let offline = setup.sosik(&["sources"]).await;
    assert_eq!(
        offline.code,
        Some(0),
        "a stale socket is no daemon:\n{offline}"
    );

    let daemon = setup.start().await;
    let online = setup.sosik(&["sources"]).await;
    assert_eq!(
        online.code,
        Some(0),
        "the new daemon answers on the replaced socket:\n{online}\ndaemon log:\n{}",
        daemon.log()
    );
    super::assert_same("sources", &offline, &online);
    let health = setup.get("/healthz").await.expect("HTTP answers");
    assert_eq!(health.status, 200, "{}", health.body);
    stop(daemon).await;
}

#[tokio::test]
async fn a_second_daemon_on_the_same_store_is_refused_and_the_first_keeps_running() {
    let (_server, setup) = setup().await;
    let mut daemon = setup.start().await;
    let store = setup.store().display().to_string();

    // The same config, and one that differs only in its port: the store is what is in use.
    let other_port = setup.dir.path().join("other-port.toml");
    std::fs::write(
        &other_port,
        setup.text().replace(
            &format!("127.0.0.1:{}", setup.port),
            &format!("127.0.0.1:{}", crate::free_port()),
        ),
    )
    .unwrap();
    for config in [&setup.config, &other_port] {
        let second = run_to_end(config).await;
        assert_eq!(second.code, Some(2), "{}:\n{second}", config.display());
        assert!(
            second.stderr.contains("already running") && second.stderr.contains(&store),
            "the refusal names the store {store}:\n{second}"
        );
    }

    assert!(
        daemon.child.try_wait().unwrap().is_none(),
        "the first daemon keeps running:\n{}",
        daemon.log()
    );
    let health = setup
        .get("/healthz")
        .await
        .expect("the first still answers");
    assert_eq!(health.status, 200);
    let run = setup.sosik(&["sources"]).await;
    assert_eq!(run.code, Some(0), "{run}");
    assert!(
        std::os::unix::net::UnixStream::connect(setup.socket()).is_ok(),
        "the first daemon's socket is still there"
    );
    stop(daemon).await;
}
