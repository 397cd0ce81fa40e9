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

/// A tmpfs mounted for one test, unmounted when dropped. Mounting needs root (CI runs as
/// root); elsewhere [`Tmpfs::mount`] says the test is skipped and why.
pub(crate) struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// A tmpfs of `size` (a `mount -o size=` value) on a fresh directory; `None`, with a
    /// notice, when this process may not mount.
    pub fn mount(size: &str, test: &str) -> Option<Tmpfs> {
        let uid = Command::new("id").arg("-u").output().unwrap();
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            eprintln!("skipped {test}: mounting a small tmpfs needs root");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .unwrap();
        if !mounted.status.success() {
            let why = String::from_utf8_lossy(&mounted.stderr);
            eprintln!("skipped {test}: cannot mount a tmpfs: {}", why.trim());
            return None;
        }
        Some(Tmpfs { dir })
    }

    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Fills the file system: a file written until the disk refuses.
    pub fn fill(&self) {
        use std::io::Write;
        let mut file = std::fs::File::create(self.path().join("filler")).unwrap();
        let chunk = vec![0x55u8; 64 << 10];
        loop {
            if let Err(e) = file.write_all(&chunk) {
                assert_eq!(e.raw_os_error(), Some(28), "{e}");
                return;
            }
        }
    }

    /// Grows the file system to `size`, as an operator gives a full disk room again.
    pub fn grow(&self, size: &str) {
        let grown = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.path())
            .status()
            .unwrap();
        assert!(grown.success(), "remount");
    }

    /// Fills the file system but for `room` bytes.
    pub fn fill_but(&self, room: u64) {
        self.fill();
        let filler = std::fs::OpenOptions::new()
            .write(true)
            .open(self.path().join("filler"))
            .unwrap();
        let len = filler.metadata().unwrap().len();
        filler.set_len(len.saturating_sub(room)).unwrap();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// A server with `one` and `two`, each `items` stories (read at each request).
async fn two_feeds(items: std::sync::Arc<std::sync::atomic::AtomicUsize>) -> TestServer {
    TestServer::start(move |req| {
        let n = items.load(std::sync::atomic::Ordering::SeqCst);
        let name = req.path.trim_start_matches('/');
        Response::ok("application/rss+xml", feed(name, n))
    })
    .await
}

/// Sends SIGTERM to the daemon and waits for it: its exit status, how long it took, its log.
async fn terminate(daemon: LoggedDaemon) -> (std::process::ExitStatus, Duration, String) {
    crate::daemon::send("-TERM", daemon.pid());
    let sent = std::time::Instant::now();
    let (status, log) = daemon.exited().await;
    (status, sent.elapsed(), log)
}

/// Regression (issue 19): SIGTERM with the store directory deleted under the daemon hung
/// after "HTTP shutting down". Now polls fail saying so (once in the log), and shutdown says
/// what it could not write and exits non-zero, well within 10 s.
#[tokio::test]
async fn sigterm_with_the_store_directory_deleted_exits_non_zero_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let Running {
        items,
        server: _server,
        port,
        mut daemon,
        ..
    } = running_in(dir.path(), "").await;

    std::fs::remove_dir_all(dir.path().join("db")).unwrap();
    items.store(4, std::sync::atomic::Ordering::SeqCst);
    daemon.wait_for_log("the store's files are gone").await;
    let health = wait_for(port, "/healthz", "degraded", |b| {
        b.contains("\"kind\":\"gone\"")
    })
    .await;
    assert!(health.contains("\"status\":\"degraded\""), "{health}");
    // Still serving what it holds.
    let feed = wait_for(port, "/feeds/all.xml", "the feed", |_| true).await;
    assert_eq!(feed.matches("<item>").count(), 6, "{feed}");

    let (status, took, log) = terminate(daemon).await;
    assert!(took < Duration::from_secs(10), "stopped in {took:?}");
    assert_eq!(status.code(), Some(2), "{log}");
    assert!(
        log.contains("could not write the index snapshot and last changes of the store at"),
        "{log}"
    );
    assert!(log.contains("was removed"), "{log}");
    assert_eq!(
        log.matches("the store cannot write").count(),
        1,
        "the fault is logged once: {log}"
    );
}

/// A daemon polling two feeds of three stories each into a store in `dir`, once it holds all
/// six; `store_extra` is added to its `[store]` table.
struct Running {
    /// How many items each feed serves from now on.
    items: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    server: TestServer,
    port: u16,
    config: std::path::PathBuf,
    daemon: LoggedDaemon,
}

async fn running_in(dir: &std::path::Path, store_extra: &str) -> Running {
    let items = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(3));
    let server = two_feeds(items.clone()).await;
    let port = free_port();
    let config = config(dir, port, &server);
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replacen("[store]\n", &format!("[store]\n{store_extra}"), 1);
    std::fs::write(&config, text).unwrap();
    let daemon = LoggedDaemon::spawn(run_command(&config));
    wait_for(port, "/healthz", "six stories", |b| {
        b.contains("\"stories\":6")
    })
    .await;
    Running {
        items,
        server,
        port,
        config,
        daemon,
    }
}

/// Regression (issue 19): SIGTERM on a full disk hung after "HTTP shutting down". Now the
/// daemon says what it could not write and exits non-zero within 10 s. Root only (tmpfs).
#[tokio::test]
async fn sigterm_with_a_full_disk_exits_non_zero_naming_it() {
    let test = "sigterm_with_a_full_disk_exits_non_zero_naming_it";
    let Some(disk) = Tmpfs::mount("8m", test) else {
        return;
    };
    let Running {
        items,
        server: _server,
        mut daemon,
        ..
    } = running_in(disk.path(), "").await;

    disk.fill();
    items.store(40, std::sync::atomic::Ordering::SeqCst);
    daemon.wait_for_log("the disk is full").await;
    let (status, took, log) = terminate(daemon).await;
    assert!(took < Duration::from_secs(10), "stopped in {took:?}");
    assert_ne!(status.code(), Some(0), "{log}");
    assert!(
        log.contains("could not write the index snapshot and last changes of the store at"),
        "{log}"
    );
}

/// Issue 19: `sosik poll` on a full disk says, per source, that the disk is full, exits 1,
/// and ends. Root only (tmpfs).
#[tokio::test]
async fn poll_on_a_full_disk_fails_each_source_in_one_sentence_and_exits_1() {
    let test = "poll_on_a_full_disk_fails_each_source_in_one_sentence_and_exits_1";
    let Some(disk) = Tmpfs::mount("8m", test) else {
        return;
    };
    // Stories that do not compress to nothing, so a round of them outgrows the room left.
    let round = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = round.clone();
    let server = TestServer::start(move |req| {
        let round = seen.load(std::sync::atomic::Ordering::SeqCst);
        let name = req.path.trim_start_matches('/');
        let mut noise = 0x2545_f491_4f6c_dd1d_u64 ^ round as u64;
        let items: Vec<(String, String)> = (0..round * 2000)
            .map(|i| {
                let words: Vec<String> = (0..24)
                    .map(|_| {
                        noise ^= noise << 13;
                        noise ^= noise >> 7;
                        noise ^= noise << 17;
                        format!("{noise:x}")
                    })
                    .collect();
                let link = format!("https://news.test.kr/{name}/{round}/{i}");
                (words.join(" "), link)
            })
            .collect();
        Response::ok("application/rss+xml", crate::rss_of(name, &items))
    })
    .await;
    let config = config(disk.path(), free_port(), &server);
    let poll = || {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_sosik"));
        command.args(["--config", config.to_str().unwrap(), "poll"]);
        tokio::time::timeout(Duration::from_secs(30), command.output())
    };
    let first = poll().await.expect("poll ends").unwrap();
    assert!(first.status.success(), "{first:?}");

    // Room to open the store, none for a round of 4,000 stories.
    disk.fill_but(1 << 20);
    round.store(1, std::sync::atomic::Ordering::SeqCst);
    let full = poll().await.expect("poll ends on a full disk").unwrap();
    let stdout = crate::cli::text(&full.stdout);
    let stderr = crate::cli::text(&full.stderr);
    assert_eq!(full.status.code(), Some(1), "{stdout}{stderr}");
    for source in ["one", "two"] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(source))
            .unwrap_or_else(|| panic!("no line for {source}: {stdout}"));
        assert!(line.contains("failed"), "{line}");
        assert!(
            line.ends_with(
                "store I/O failed: the disk is full: No space left on device (os error 28)"
            ),
            "{line}"
        );
        assert_eq!(line.matches("store I/O failed").count(), 1, "{line}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Regression (issue 19): once the disk filled, sled returned its first I/O error for ever,
/// so ingestion stayed dead after space came back until someone restarted the daemon, and
/// `/healthz` said "ok" throughout. Now the fault shows in `/healthz` (and is logged once),
/// and when the file system is grown again the daemon re-opens its store by itself and stores
/// every story of the next round, keeping what it had. Root only (tmpfs).
#[tokio::test]
async fn a_full_disk_grown_again_is_recovered_without_a_restart() {
    let test = "a_full_disk_grown_again_is_recovered_without_a_restart";
    let Some(disk) = Tmpfs::mount("8m", test) else {
        return;
    };
    let Running {
        items,
        server: _server,
        port,
        config,
        mut daemon,
    } = running_in(disk.path(), "").await;
    // A reader has the feed: sled may refuse even reads once a write failed, and then the
    // daemon serves the feed as last rendered.
    wait_for(port, "/feeds/all.xml", "the feed", |b| {
        b.matches("<item>").count() == 6
    })
    .await;

    // The disk fills during a round of polls.
    disk.fill();
    items.store(40, std::sync::atomic::Ordering::SeqCst);
    let health = wait_for(port, "/healthz", "degraded", |b| {
        b.contains("\"kind\":\"full\"")
    })
    .await;
    assert!(health.contains("\"status\":\"degraded\""), "{health}");
    assert!(health.contains("No space left on device"), "{health}");
    // Still serving what it holds (polls that sled took before its write failed included).
    let feed = wait_for(port, "/feeds/all.xml", "the feed", |_| true).await;
    assert!(feed.matches("<item>").count() >= 6, "{feed}");

    // Space comes back: no restart.
    disk.grow("64m");
    // (The polls sled took in memory before its write failed counted 80 too, until the
    // re-open read back what reached the disk.)
    wait_for(port, "/healthz", "every story of the next round", |b| {
        b.contains("\"stories\":80") && b.contains("\"status\":\"ok\"")
    })
    .await;
    let log = daemon.log();
    assert_eq!(log.matches("the store cannot write").count(), 1, "{log}");
    assert_eq!(log.matches("the store writes again").count(), 1, "{log}");
    let metrics = wait_for(port, "/metrics", "metrics", |_| true).await;
    assert!(
        !metrics.contains("sosik_store_errors_total{kind=\"full\"} 0"),
        "{metrics}"
    );

    let (status, took) = sigterm_and_wait(&mut daemon.child).await;
    assert_eq!(status.code(), Some(0), "{}", daemon.log());
    assert!(took < Duration::from_secs(10), "stopped in {took:?}");

    // `sources` tells of the fault the daemon rode out.
    let sources = tokio::process::Command::new(env!("CARGO_BIN_EXE_sosik"))
        .args(["--config", config.to_str().unwrap(), "sources"])
        .output()
        .await
        .unwrap();
    let text = crate::cli::text(&sources.stdout);
    assert!(sources.status.success(), "{sources:?}");
    let line = text
        .lines()
        .find(|l| l.starts_with("store: could not write from "))
        .unwrap_or_else(|| panic!("no store line: {text}"));
    assert!(
        line.ends_with("(the disk is full: No space left on device (os error 28))"),
        "{line}"
    );
}

/// Issue 19: a store that keeps failing (its directory deleted, which the daemon never
/// creates again by itself) ends the daemon after `store.fault_exit_after`, non-zero, with one
/// sentence, so the service manager restarts it.
#[tokio::test]
async fn a_store_that_keeps_failing_ends_the_daemon_after_fault_exit_after() {
    let dir = tempfile::tempdir().unwrap();
    let Running {
        items,
        server: _server,
        mut daemon,
        ..
    } = running_in(dir.path(), "fault_exit_after = \"2s\"\n").await;

    std::fs::remove_dir_all(dir.path().join("db")).unwrap();
    items.store(4, std::sync::atomic::Ordering::SeqCst);
    daemon.wait_for_log("the store's files are gone").await;
    let (status, log) = daemon.exited().await;
    assert_eq!(status.code(), Some(2), "{log}");
    let sentence = format!(
        "error: the store at {} kept failing for ",
        dir.path().join("db").display()
    );
    assert!(log.contains(&sentence), "{log}");
    assert!(log.contains("exiting so the service restarts"), "{log}");
}
