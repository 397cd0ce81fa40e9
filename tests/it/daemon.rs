//! `sosik run`, the real binary, as a service: it polls on its own, serves what it stored,
//! stops cleanly on SIGTERM, shrugs off the signals it does not act on, and after a restart
//! serves every stored story even when the publishers are gone.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

use crate::free_port;
use crate::server::{Response, TestServer};

fn config(dir: &std::path::Path, port: u16, server: &TestServer) -> std::path::PathBuf {
    let text = format!(
        r#"
[store]
path = "{db}"
[server]
listen = "127.0.0.1:{port}"
[poll]
interval = "1s"
min_interval = "1s"
timeout = "3s"
[sources.one]
url = "{one}"
[sources.two]
url = "{two}"
[sources.three]
url = "{three}"
[outputs.all]
limit = 100
"#,
        db = dir.join("db").display(),
        one = server.url("/one"),
        two = server.url("/two"),
        three = server.url("/three"),
    );
    let path = dir.join("sosik.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// GETs `path` from the daemon; `None` while it is not answering.
async fn get(port: u16, path: &str) -> Option<String> {
    let response = reqwest::get(format!("http://127.0.0.1:{port}{path}"))
        .await
        .ok()?;
    response.status().is_success().then_some(())?;
    response.text().await.ok()
}

/// Polls `path` until `ready` holds; a bounded wait (a guard against hangs, not a timing
/// assertion).
pub(crate) async fn wait_for(
    port: u16,
    path: &str,
    what: &str,
    ready: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(body) = get(port, path).await
            && ready(&body)
        {
            return body;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) fn start(config: &std::path::Path) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_sosik"))
        .args(["--config", config.to_str().unwrap(), "run"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// Sends `signal` (a `kill` option: "-HUP") to the process `pid`.
pub(crate) fn send(signal: &str, pid: u32) {
    assert!(
        std::process::Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .unwrap()
            .success(),
        "kill {signal} {pid}"
    );
}

/// A daemon whose stderr (its log) is collected as it comes, for tests that read the log.
pub(crate) struct LoggedDaemon {
    pub child: tokio::process::Child,
    log: Arc<Mutex<String>>,
    reader: tokio::task::JoinHandle<()>,
}

impl LoggedDaemon {
    /// Spawns `command` with stderr piped into the collected log.
    pub fn spawn(mut command: tokio::process::Command) -> LoggedDaemon {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        let reader = tokio::spawn(async move {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = stderr.read(&mut chunk).await {
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&chunk[..n]));
            }
        });
        LoggedDaemon { child, log, reader }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("the daemon is still running")
    }

    /// The log so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits (bounded) until the log contains `needle`; fails at once if the daemon ends.
    pub async fn wait_for_log(&mut self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.log().contains(needle) {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "the daemon ended ({status}) before logging {needle:?}:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "gave up waiting for {needle:?} in the log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (bounded) for the process to end, then for the whole log.
    pub async fn exited(mut self) -> (std::process::ExitStatus, String) {
        let status = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("the daemon ends")
            .unwrap();
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.reader).await;
        (status, self.log())
    }
}

/// `sosik --config CONFIG run`, logging at info.
pub(crate) fn run_command(config: &std::path::Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_sosik"));
    command
        .args(["--config", config.to_str().unwrap(), "run"])
        .env("RUST_LOG", "info");
    command
}

pub(crate) async fn sigterm_and_wait(
    child: &mut tokio::process::Child,
) -> (std::process::ExitStatus, Duration) {
    let pid = child.id().unwrap().to_string();
    let sent = Instant::now();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    // Generous bound: the daemon's own grace is 5 s for polls plus HTTP draining.
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("the daemon stops after SIGTERM")
        .unwrap();
    (status, sent.elapsed())
}

pub(crate) fn feed(name: &str, items: usize) -> String {
    let links: Vec<(String, String)> = (0..items)
        .map(|i| {
            (
                format!("{name} story {i}"),
                format!("https://news.test.kr/{name}/{i}"),
            )
        })
        .collect();
    crate::rss_of(name, &links)
}

#[tokio::test]
async fn the_daemon_polls_serves_stops_cleanly_and_serves_after_a_restart() {
    let items = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(2));
    let count = items.clone();
    let server = TestServer::start(move |req| {
        let n = count.load(std::sync::atomic::Ordering::SeqCst);
        match req.path.as_str() {
            "/one" => Response::ok("application/rss+xml", feed("one", n)),
            "/two" => Response::ok("application/rss+xml", feed("two", 2)),
            _ => Response::ok("application/rss+xml", feed("three", 2)),
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = config(dir.path(), port, &server);
    let mut daemon = start(&config);

    // It polls all three on its own.
    let body = wait_for(port, "/feeds/all.xml", "six stories", |b| {
        b.matches("<item>").count() == 6
    })
    .await;
    assert!(body.contains("one story 1") && body.contains("three story 0"));

    // A new item appears without a restart.
    items.store(3, std::sync::atomic::Ordering::SeqCst);
    wait_for(port, "/feeds/all.xml", "the new story", |b| {
        b.contains("one story 2")
    })
    .await;
    let metrics = wait_for(port, "/metrics", "metrics", |_| true).await;
    assert!(
        metrics.contains("sosik_fetches_total{outcome=\"stored\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("sosik_stories_new_total{source=\"one\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("sosik_fetch_duration_seconds_count"),
        "{metrics}"
    );
    assert!(server.requests().len() >= 4, "polled more than once");

    let (status, took) = sigterm_and_wait(&mut daemon).await;
    assert_eq!(status.code(), Some(0), "exit 0 after SIGTERM");
    assert!(took < Duration::from_secs(10), "stopped in {took:?}");

    // Publishers gone: a restarted daemon still serves every stored story.
    server.stop();
    let mut daemon = start(&config);
    let body = wait_for(
        port,
        "/feeds/all.xml",
        "stored stories after restart",
        |b| b.matches("<item>").count() == 7,
    )
    .await;
    assert!(body.contains("one story 2"));
    let sources = wait_for(port, "/healthz", "health", |_| true).await;
    assert!(sources.contains("\"stories\":7"), "{sources}");
    let (status, _) = sigterm_and_wait(&mut daemon).await;
    assert_eq!(status.code(), Some(0));
}

/// Regression (issue 12): SIGHUP, SIGUSR1 and SIGUSR2 ended the daemon at once (exit 129, 138,
/// 140) with no shutdown and no store flush, and systemd counts a SIGHUP exit as clean. Now
/// SIGUSR1 and SIGUSR2 are logged and ignored and SIGHUP reloads the config (issue 14): the
/// daemon keeps serving and polling, and SIGTERM still stops it cleanly.
#[tokio::test]
async fn sighup_and_sigusr_are_logged_and_the_daemon_keeps_running() {
    let server = TestServer::start(|req| {
        let name = req.path.trim_start_matches('/').to_owned();
        Response::ok("application/rss+xml", feed(&name, 2))
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = config(dir.path(), port, &server);
    let mut daemon = LoggedDaemon::spawn(run_command(&config));
    wait_for(port, "/feeds/all.xml", "six stories", |b| {
        b.matches("<item>").count() == 6
    })
    .await;

    for (signal, name) in [
        ("-HUP", "SIGHUP"),
        ("-USR1", "SIGUSR1"),
        ("-USR2", "SIGUSR2"),
    ] {
        send(signal, daemon.pid());
        daemon.wait_for_log(&format!("signal=\"{name}\"")).await;
        assert!(
            daemon.child.try_wait().unwrap().is_none(),
            "the daemon ended on {name}:\n{}",
            daemon.log()
        );
        assert!(
            get(port, "/healthz").await.is_some(),
            "HTTP answers after {name}"
        );
    }
    assert!(
        daemon.log().contains("config reloaded") && daemon.log().contains("nothing changed"),
        "{}",
        daemon.log()
    );
    // Polls go on: another full round of the three sources arrives after the signals.
    let before = server.requests().len();
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.requests().len() < before + 3 {
        assert!(
            Instant::now() < deadline,
            "polling stopped after the signals"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    send("-TERM", daemon.pid());
    let (status, log) = daemon.exited().await;
    assert_eq!(status.code(), Some(0), "exit 0 after SIGTERM:\n{log}");
    assert!(
        log.contains("sosik stopped"),
        "the shutdown is logged:\n{log}"
    );
}

/// Stories first seen longer ago than `store.retention` are forgotten when the daemon starts,
/// before it serves anything.
#[tokio::test]
async fn retention_runs_when_the_daemon_starts() {
    use chrono::{Duration as Days, Utc};
    use sosik::model::{Identity, SourceId, SourceState, Story, StorySource};
    use sosik::store::{Store, StoreOptions};

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let now = Utc::now();
    {
        let store = Store::open(&StoreOptions {
            path: db.clone(),
            cache_capacity: 8 << 20,
        })
        .unwrap();
        let id = SourceId::new("mk").unwrap();
        let stories: Vec<Story> = [(1, 40), (2, 35), (3, 1)]
            .into_iter()
            .map(|(n, days_ago)| {
                let at = now - Days::days(days_ago);
                let mut s = Story {
                    identity: Identity::Link(format!("https://www.mk.co.kr/news/{n}")),
                    link: Some(format!("https://www.mk.co.kr/news/{n}")),
                    title: format!("기사 {n}"),
                    summary: None,
                    content: None,
                    authors: vec![],
                    categories: vec![],
                    published: at,
                    updated: at,
                    first_seen: at,
                    lang: None,
                    guid: None,
                    sources: vec![],
                };
                s.sources = vec![StorySource {
                    id: id.clone(),
                    fingerprint: s.fingerprint(),
                }];
                s
            })
            .collect();
        // None of them is in the source's latest document, so none is protected.
        store
            .commit_one(id, stories, SourceState::default(), now)
            .unwrap();
        store.close().unwrap();
    }
    let port = free_port();
    let config = dir.path().join("sosik.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[store]
path = "{db}"
retention = "30d"
[server]
listen = "127.0.0.1:{port}"
[sources.mk]
url = "http://127.0.0.1:9/never"
enabled = false
[outputs.all]
limit = 100
"#,
            db = db.display()
        ),
    )
    .unwrap();
    let mut daemon = start(&config);
    // The first answer already counts only the story seen a day ago.
    let health = wait_for(port, "/healthz", "health", |_| true).await;
    assert!(health.contains("\"stories\":1"), "{health}");
    let feed = wait_for(port, "/feeds/all.xml", "the feed", |_| true).await;
    assert!(
        feed.contains("기사 3") && !feed.contains("기사 1"),
        "{feed}"
    );
    let (status, _) = sigterm_and_wait(&mut daemon).await;
    assert_eq!(status.code(), Some(0));
}
