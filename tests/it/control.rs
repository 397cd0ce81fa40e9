//! The CLI beside a running daemon (SPEC "Living with the daemon"): while `sosik run` holds the
//! store, the commands ask it over `<store.path>/control.sock` and print what they print
//! offline; `add`, `remove`, `import`, `reload` and SIGHUP make it re-read its config; a stale
//! socket is replaced, a second daemon is refused, and SIGTERM removes the socket.
//!
//! Each test owns a temporary directory (config, store, socket) and a port. Outputs are
//! compared both ways in the same directory with the same paths: first with no daemon, then
//! with one. The poll interval and its floor are an hour, and every source is polled once
//! offline before a daemon starts, so the daemon polls nothing on its own and the state both
//! ways is the same.

mod edits;
mod lifecycle;
mod reload;
mod same_output;

use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::cli::{sosik, text};
use crate::daemon::{LoggedDaemon, run_command, send};
use crate::free_port;

/// The bound on every wait: a guard against hangs, not a timing assertion.
const WAIT: Duration = Duration::from_secs(20);

/// What one run of the CLI printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}--- stderr\n{}---",
            self.code, self.stdout, self.stderr
        )
    }
}

/// An HTTP answer from the daemon.
#[derive(Debug, Clone)]
pub(crate) struct Fetched {
    pub status: u16,
    pub etag: Option<String>,
    pub body: String,
}

/// One test's world: a temporary directory holding the config and the store, and a port.
pub(crate) struct Setup {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub port: u16,
}

impl Setup {
    /// A config polling `sources` (id, url) hourly, serving on a free port, with `extra` (TOML
    /// tables: outputs…) after the sources.
    pub fn new(sources: &[(&str, &str)], extra: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut text = format!(
            "# written by tests/it/control\n[store]\npath = \"{db}\"\n\n[server]\nlisten = \"127.0.0.1:{port}\"\n\n[poll]\ninterval = \"1h\"\nmin_interval = \"1h\"\ntimeout = \"3s\"\n\n",
            db = dir.path().join("db").display()
        );
        for (id, url) in sources {
            text.push_str(&format!("[sources.{id}]\nurl = \"{url}\"\n\n"));
        }
        text.push_str(extra);
        let config = dir.path().join("sosik.toml");
        std::fs::write(&config, text).unwrap();
        Setup { dir, config, port }
    }

    pub fn store(&self) -> PathBuf {
        self.dir.path().join("db")
    }

    pub fn socket(&self) -> PathBuf {
        self.store().join("control.sock")
    }

    /// The config file's text now.
    pub fn text(&self) -> String {
        std::fs::read_to_string(&self.config).unwrap()
    }

    /// Rewrites the config file by hand.
    pub fn write(&self, text: &str) {
        std::fs::write(&self.config, text).unwrap();
    }

    /// `sosik --config CONFIG ARGS...`.
    pub async fn sosik(&self, args: &[&str]) -> Run {
        let mut all = vec!["--config", self.config.to_str().unwrap()];
        all.extend_from_slice(args);
        let out = sosik(&all).await;
        Run {
            code: out.status.code(),
            stdout: text(&out.stdout),
            stderr: text(&out.stderr),
        }
    }

    /// Runs `args` until `ready` holds for what it printed (bounded); the last run.
    pub async fn sosik_until(
        &self,
        args: &[&str],
        what: &str,
        ready: impl Fn(&Run) -> bool,
    ) -> Run {
        let deadline = Instant::now() + WAIT;
        loop {
            let run = self.sosik(args).await;
            if ready(&run) {
                return run;
            }
            assert!(
                Instant::now() < deadline,
                "gave up waiting for {what}; `sosik {}` last printed:\n{run}",
                args.join(" ")
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// GETs `path` from the daemon; `None` while nothing answers.
    pub async fn get(&self, path: &str) -> Option<Fetched> {
        let response = reqwest::get(format!("http://127.0.0.1:{}{path}", self.port))
            .await
            .ok()?;
        let status = response.status().as_u16();
        let etag = response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.text().await.ok()?;
        Some(Fetched { status, etag, body })
    }

    /// GETs `path` from the daemon, which must answer.
    pub async fn fetch(&self, path: &str) -> Fetched {
        self.get(path)
            .await
            .unwrap_or_else(|| panic!("the daemon does not answer GET {path}"))
    }

    /// GETs `path` until `ready` holds for the answer (bounded); the last answer.
    pub async fn fetch_until(
        &self,
        path: &str,
        what: &str,
        ready: impl Fn(&Fetched) -> bool,
    ) -> Fetched {
        let deadline = Instant::now() + WAIT;
        loop {
            let fetched = self.fetch(path).await;
            if ready(&fetched) {
                return fetched;
            }
            assert!(
                Instant::now() < deadline,
                "gave up waiting for {what}; GET {path} last answered {}:\n{}",
                fetched.status,
                fetched.body
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `/metrics`, which must answer.
    pub async fn metrics(&self) -> String {
        let metrics = self.fetch("/metrics").await;
        assert_eq!(metrics.status, 200, "{}", metrics.body);
        metrics.body
    }

    /// Starts `sosik run` and waits (bounded) until it answers on HTTP and on its socket.
    pub async fn start(&self) -> LoggedDaemon {
        let mut daemon = LoggedDaemon::spawn(run_command(&self.config));
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = daemon.child.try_wait().unwrap() {
                panic!(
                    "the daemon ended ({status}) before it answered:\n{}",
                    daemon.log()
                );
            }
            let http = matches!(self.get("/healthz").await, Some(f) if f.status == 200);
            if http && UnixStream::connect(self.socket()).is_ok() {
                return daemon;
            }
            assert!(
                Instant::now() < deadline,
                "gave up waiting for the daemon to answer on /healthz (up: {http}) and on {}:\n{}",
                self.socket().display(),
                daemon.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// SIGTERM, then the daemon must end with exit 0.
pub(crate) async fn stop(daemon: LoggedDaemon) {
    send("-TERM", daemon.pid());
    let (status, log) = daemon.exited().await;
    assert_eq!(status.code(), Some(0), "exit 0 after SIGTERM:\n{log}");
}

/// Waits (bounded) until `ready` holds.
pub(crate) async fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !ready() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `what` printed the same with no daemon and through one.
pub(crate) fn assert_same(what: &str, offline: &Run, online: &Run) {
    assert!(
        offline == online,
        "`{what}` differs through the daemon.\nwith no daemon:\n{offline}\nthrough the daemon:\n{online}"
    );
}

/// `poll`'s table with its TIME column (`0.01s`) masked, the one part of stdout that varies by
/// run. Stderr is kept: a poll's failures are on their table lines, not logged on stderr, so it
/// is the same both ways too.
pub(crate) fn masked(run: &Run) -> Run {
    let time = regex::Regex::new(r" +\d+\.\d\ds\b").unwrap();
    Run {
        code: run.code,
        stdout: time.replace_all(&run.stdout, " <time>").into_owned(),
        stderr: run.stderr.clone(),
    }
}

/// Whether `metrics` has the series line `series value` exactly.
pub(crate) fn has_sample(metrics: &str, series: &str, value: u64) -> bool {
    let line = format!("{series} {value}");
    metrics.lines().any(|l| l == line)
}
