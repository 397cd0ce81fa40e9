//! Storage faults with the real binary (issue 19): a store sled cannot read back is moved
//! aside and a fresh one started, by `run` and by the offline commands alike.

use std::process::Command;
use std::time::Duration;

use crate::daemon::{LoggedDaemon, feed, run_command, sigterm_and_wait, wait_for};
use crate::free_port;
use crate::server::{Response, TestServer};

/// A config in `dir` for the daemon on `port` polling `one` and `two` from `server` every
/// second.
pub(crate) fn config(dir: &std::path::Path, port: u16, server: &TestServer) -> std::path::PathBuf {
    let text = format!(
        "[store]\npath = \"{db}\"\n[server]\nlisten = \"127.0.0.1:{port}\"\n\
         [poll]\ninterval = \"1s\"\nmin_interval = \"1s\"\ntimeout = \"3s\"\n\
         [sources.one]\nurl = \"{one}\"\n[sources.two]\nurl = \"{two}\"\n\
         [outputs.all]\nlimit = 5000\n",
        db = dir.join("db").display(),
        one = server.url("/one"),
        two = server.url("/two"),
    );
    let path = dir.join("sosik.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Flips 64 bytes in every 64 KiB of sled's data file in the store `db`.
fn flip_across(db: &std::path::Path) {
    let path = db.join("db");
    let mut bytes = std::fs::read(&path).unwrap();
    let len = bytes.len();
    assert!(
        len > 64 << 10,
        "a store of {len} bytes is too small to damage"
    );
    for start in (32 << 10..len).step_by(64 << 10) {
        for b in &mut bytes[start..(start + 64).min(len)] {
            *b ^= 0x5a;
        }
    }
    std::fs::write(&path, bytes).unwrap();
}

/// The store directories moved aside in `dir`.
fn aside(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("db.corrupt-"))
        .collect()
}

/// Polls that build the damaged store.
const ROUNDS: usize = 8;

/// Regression (issue 19): bytes flipped in `data/db` made sled panic while opening ("tried to
/// serialize Uninitialized"), so `run`, `items` and `poll` exited 101 and a supervised daemon
/// restarted into the same panic for ever. Now the store is moved aside, named in the log,
/// and `run` starts afresh and polls everything again; `items` answers from a fresh store.
#[tokio::test]
async fn a_store_sled_cannot_read_is_moved_aside_and_run_starts_afresh() {
    // Rounds of new stories, so sled's log spans many segments and pages.
    let round = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = round.clone();
    let long = "긴 제목 ".repeat(40);
    let server = TestServer::start(move |req| {
        let round = seen.load(std::sync::atomic::Ordering::SeqCst);
        let items: Vec<(String, String)> = (round * 300..round * 300 + 300)
            .map(|i| {
                (
                    format!("{i} {long}"),
                    format!("https://news.test.kr/one/{i}"),
                )
            })
            .collect();
        match req.path.as_str() {
            "/one" => Response::ok("application/rss+xml", crate::rss_of("one", &items)),
            _ => Response::ok("application/rss+xml", feed("two", 3)),
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = config(dir.path(), port, &server);
    for n in 0..ROUNDS {
        round.store(n, std::sync::atomic::Ordering::SeqCst);
        // Asynchronously: the test server answers on this test's runtime.
        let polled = tokio::process::Command::new(env!("CARGO_BIN_EXE_sosik"))
            .args(["--config", config.to_str().unwrap(), "poll"])
            .output()
            .await
            .unwrap();
        assert!(polled.status.success(), "{polled:?}");
    }
    let copy = tempfile::tempdir().unwrap();
    let copied = Command::new("cp")
        .arg("-r")
        .arg(dir.path().join("db"))
        .arg(copy.path().join("db"))
        .status()
        .unwrap();
    assert!(copied.success());
    flip_across(&dir.path().join("db"));
    flip_across(&copy.path().join("db"));

    // `items` over the damaged copy: no panic, a fresh (empty) store, the old one kept.
    let items_config = copy.path().join("sosik.toml");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        &dir.path().join("db").display().to_string(),
        &copy.path().join("db").display().to_string(),
    );
    std::fs::write(&items_config, text).unwrap();
    let items = Command::new(env!("CARGO_BIN_EXE_sosik"))
        .args(["--config", items_config.to_str().unwrap(), "items"])
        .output()
        .unwrap();
    let stderr = crate::cli::text(&items.stderr);
    assert_eq!(items.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(aside(copy.path()).len(), 1, "{stderr}");

    // `run`: says where the old store went, starts afresh, and polls everything again.
    let mut daemon = LoggedDaemon::spawn(run_command(&config));
    daemon.wait_for_log("moving it aside").await;
    let moved = aside(dir.path());
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert!(daemon.log().contains(&moved[0]), "{}", daemon.log());
    wait_for(port, "/healthz", "the sources polled again", |b| {
        b.contains(&format!("\"stories\":{}", 300 + 3))
    })
    .await;
    let (status, took) = sigterm_and_wait(&mut daemon.child).await;
    assert_eq!(status.code(), Some(0));
    assert!(took < Duration::from_secs(10), "stopped in {took:?}");
}
