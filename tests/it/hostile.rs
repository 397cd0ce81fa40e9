//! Hostile servers (issue 5): sources that send gzip bombs, endless or oversized bodies, trickle,
//! never answer, loop redirects, rate-limit, fail, or send documents built to hurt a parser.
//!
//! The server is a [`RawServer`] on 127.0.0.1 inside the test process: every answer is bounded
//! in bytes, and every connection in time ([`crate::server::RAW_CONNECTION_LIMIT`]). The main
//! test runs the real `sosik poll` over all of them at once and measures the child's peak RSS.

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use sosik::config::Config;
use sosik::pipeline::{Ingest, PollOutcome};
use sosik::store::{Store, StoreOptions};

use crate::cli::{sosik, text};
use crate::server::{RawAnswer, RawServer, Request, Response, TestServer};

/// `poll.timeout` of the hostile poll: every slow answer must end here.
const POLL_TIMEOUT: &str = "3s";
/// `poll.max_body_bytes` of the hostile poll: large enough that the 9 MB title and the 60,000
/// items reach the parser, so those cases test the parser and not the body limit.
const MAX_BODY: u64 = 12 * 1024 * 1024;
/// `store.max_items_per_source` of the hostile poll.
const MAX_ITEMS: usize = 500;
/// The memory ceiling of issue 5, for the whole `sosik poll` process.
const MAX_RSS_BYTES: u64 = 256 * 1024 * 1024;
/// A hang guard, not a performance assertion: every hostile answer stops at `poll.timeout`
/// (3 s), and parsing the biggest documents takes seconds in a debug build on a busy machine.
const POLL_EXIT_LIMIT: Duration = Duration::from_secs(90);

const NESTING: usize = 200_000;
const MANY_ITEMS: usize = 60_000;
const HUGE_TITLE: usize = 9 * 1000 * 1000;

/// The documents the hostile server hands out, built once.
struct Docs {
    good: Vec<u8>,
    html: Vec<u8>,
    binary: Vec<u8>,
    truncated: Vec<u8>,
    invalid_utf8: Vec<u8>,
    laughs: Vec<u8>,
    nested: Vec<u8>,
    nested_html: Vec<u8>,
    huge_title: Vec<u8>,
    many_items: Vec<u8>,
}

impl Docs {
    fn build() -> Docs {
        let good = crate::rss(
            "good",
            &[
                ("good story one", "https://good.test/1"),
                ("good story two", "https://good.test/2"),
                ("good story three", "https://good.test/3"),
            ],
        )
        .into_bytes();

        // Deterministic noise (xorshift), so a failure reproduces.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let binary: Vec<u8> = (0..64 * 1024)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();

        let items: Vec<(String, String)> = (0..40)
            .map(|i| (format!("item {i}"), format!("https://truncated.test/{i}")))
            .collect();
        let pairs: Vec<(&str, &str)> = items
            .iter()
            .map(|(t, l)| (t.as_str(), l.as_str()))
            .collect();
        let full = crate::rss("truncated", &pairs);
        // Cut in the middle of an item, far from the end: no closing tags at all.
        let cut = full.find("<title>item 23").unwrap() + 10;
        let truncated = full.as_bytes()[..cut].to_vec();

        let mut invalid_utf8 = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>bad bytes</title><link>https://utf8.test/</link><description>d</description>\n<item><title>caf\xC3\x28 \xFF\xFE broken</title><link>https://utf8.test/1</link><description>\xE2\x82 half a euro</description></item>\n".to_vec();
        invalid_utf8.extend_from_slice(b"</channel></rss>\n");

        let mut laughs =
            String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE rss [\n <!ENTITY lol \"lol\">\n");
        laughs.push_str(" <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n");
        for level in 2..=9 {
            let prev = format!("&lol{};", level - 1);
            laughs.push_str(&format!(" <!ENTITY lol{level} \"{}\">\n", prev.repeat(10)));
        }
        laughs.push_str(
            "]>\n<rss version=\"2.0\"><channel><title>&lol9;</title><link>https://laughs.test/</link><description>&lol9;</description>\n<item><title>&lol9;</title><link>https://laughs.test/1</link><description>&lol9;</description></item>\n</channel></rss>\n",
        );

        let mut nested = String::from(
            "<rss version=\"2.0\"><channel><title>deep</title><link>https://nested.test/</link><description>d</description>\n<item><title>deep</title><link>https://nested.test/1</link><description>",
        );
        nested.push_str(&"<x>".repeat(NESTING));
        nested.push_str("bottom");
        nested.push_str(&"</x>".repeat(NESTING));
        nested.push_str("</description></item>\n</channel></rss>\n");

        // The same depth as HTML inside a description: what the sanitizer sees.
        let mut nested_html = String::from(
            "<rss version=\"2.0\"><channel><title>deep html</title><link>https://nested-html.test/</link><description>d</description>\n<item><title>deep html</title><link>https://nested-html.test/1</link><description>",
        );
        nested_html.push_str(&"&lt;div&gt;".repeat(NESTING));
        nested_html.push_str("bottom");
        nested_html.push_str("</description></item>\n</channel></rss>\n");

        let mut huge_title = String::from(
            "<rss version=\"2.0\"><channel><title>huge</title><link>https://huge.test/</link><description>d</description>\n<item><title>",
        );
        huge_title.push_str(&"title ".repeat(HUGE_TITLE / 6));
        huge_title.push_str(
            "</title><link>https://huge.test/1</link></item>\n<item><title>normal</title><link>https://huge.test/2</link></item>\n</channel></rss>\n",
        );

        Docs {
            good,
            html: b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body><form>Please sign in</form></body></html>\n".to_vec(),
            binary,
            truncated,
            invalid_utf8,
            laughs: laughs.into_bytes(),
            nested: nested.into_bytes(),
            nested_html: nested_html.into_bytes(),
            huge_title: huge_title.into_bytes(),
            many_items: many_items(MANY_ITEMS).into_bytes(),
        }
    }
}

/// An RSS 2.0 feed of `n` items whose dates are not in document order: item `i` is published
/// `order(i)` minutes after a base time, so "the newest N" is not "the first N".
fn many_items(n: usize) -> String {
    let mut out = String::with_capacity(n * 120);
    out.push_str("<rss version=\"2.0\"><channel><title>many</title><link>https://many.test/</link><description>d</description>\n");
    let base = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap();
    for i in 0..n {
        let date = base + chrono::Duration::minutes(minute_of(i, n) as i64);
        out.push_str(&format!(
            "<item><title>n{i}</title><link>https://many.test/{i}</link><pubDate>{}</pubDate></item>\n",
            date.to_rfc2822()
        ));
    }
    out.push_str("</channel></rss>\n");
    out
}

/// A permutation of `0..n` (n even): odd positions count up from the middle, even ones count
/// down from it, so the newest items are spread through the document.
fn minute_of(i: usize, n: usize) -> usize {
    if i % 2 == 1 {
        n / 2 + i / 2
    } else {
        n / 2 - 1 - i / 2
    }
}

fn head(status: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// A whole answer with `Content-Length`.
async fn send(mut socket: TcpStream, status: &str, content_type: &str, body: &[u8]) {
    let length = body.len().to_string();
    let head = head(
        status,
        &[("Content-Type", content_type), ("Content-Length", &length)],
    );
    let _ = socket.write_all(&head).await;
    let _ = socket.write_all(body).await;
    let _ = socket.shutdown().await;
}

/// Writes `chunk` over and over until `limit` bytes went out or the client hung up.
async fn repeat(socket: &mut TcpStream, chunk: &[u8], limit: u64) {
    let mut sent = 0u64;
    while sent < limit {
        if socket.write_all(chunk).await.is_err() {
            return;
        }
        sent += chunk.len() as u64;
    }
}

/// The hostile server's answers, by path.
fn answer(req: Request, mut socket: TcpStream, docs: Arc<Docs>) -> RawAnswer {
    Box::pin(async move {
        let xml = "application/rss+xml";
        match req.path.as_str() {
            "/good" => send(socket, "200 OK", xml, &docs.good).await,
            "/gzip-bomb" => {
                let head = head(
                    "200 OK",
                    &[("Content-Type", xml), ("Content-Encoding", "gzip")],
                );
                if socket.write_all(&head).await.is_err() {
                    return;
                }
                // One gzip stream of 2 GiB of zeros (about 2 MB on the wire), compressed as it
                // is sent, so the server only does the work the client makes it do.
                let zeros = vec![0u8; 1 << 20];
                let mut gzip =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                for _ in 0..2048 {
                    gzip.write_all(&zeros).unwrap();
                    let compressed = std::mem::take(gzip.get_mut());
                    if socket.write_all(&compressed).await.is_err() {
                        return;
                    }
                }
                let _ = socket.write_all(&gzip.finish().unwrap()).await;
            }
            "/endless" => {
                // No length, no end: a feed that never stops (until 1 GiB, or the client leaves).
                let _ = socket
                    .write_all(&head("200 OK", &[("Content-Type", xml)]))
                    .await;
                let _ = socket
                    .write_all(b"<rss version=\"2.0\"><channel><title>endless</title>\n")
                    .await;
                let chunk = b"<item><title>more</title><link>https://endless.test/</link></item>\n"
                    .repeat(1000);
                repeat(&mut socket, &chunk, 1 << 30).await;
            }
            "/oversized" => {
                // Announces 1 GiB, far over the limit; sends at most 64 MiB of it.
                let head = head(
                    "200 OK",
                    &[("Content-Type", xml), ("Content-Length", "1073741824")],
                );
                let _ = socket.write_all(&head).await;
                repeat(&mut socket, &[b' '; 64 * 1024], 64 << 20).await;
            }
            "/trickle" => {
                // One byte per second, for at most 30 seconds.
                let head = head(
                    "200 OK",
                    &[("Content-Type", xml), ("Content-Length", "100000")],
                );
                let _ = socket.write_all(&head).await;
                for _ in 0..30 {
                    if socket.write_all(b"<").await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
            "/silent" => {
                // Accepts, reads the request, and never answers (until the connection limit or
                // the client hangs up).
                let mut sink = [0u8; 1024];
                while let Ok(n) = socket.read(&mut sink).await {
                    if n == 0 {
                        return;
                    }
                }
            }
            "/loop" => {
                let head = head(
                    "302 Found",
                    &[("Location", "/loop"), ("Content-Length", "0")],
                );
                let _ = socket.write_all(&head).await;
            }
            "/rate-limited" => {
                let head = head(
                    "429 Too Many Requests",
                    &[("Retry-After", "3600"), ("Content-Length", "0")],
                );
                let _ = socket.write_all(&head).await;
            }
            "/error" => send(socket, "500 Internal Server Error", "text/plain", b"oops").await,
            "/html" => send(socket, "200 OK", "text/html; charset=utf-8", &docs.html).await,
            "/binary" => send(socket, "200 OK", "application/octet-stream", &docs.binary).await,
            "/truncated" => send(socket, "200 OK", xml, &docs.truncated).await,
            "/invalid-utf8" => send(socket, "200 OK", xml, &docs.invalid_utf8).await,
            "/laughs" => send(socket, "200 OK", xml, &docs.laughs).await,
            "/nested" => send(socket, "200 OK", xml, &docs.nested).await,
            "/nested-html" => send(socket, "200 OK", xml, &docs.nested_html).await,
            "/huge-title" => send(socket, "200 OK", xml, &docs.huge_title).await,
            "/many-items" => send(socket, "200 OK", xml, &docs.many_items).await,
            "/not-http" => {
                // Garbage where the status line should be.
                let _ = socket.write_all(&docs.binary[..4096]).await;
            }
            _ => send(socket, "404 Not Found", "text/plain", b"no").await,
        }
    })
}

/// What a hostile source must end as, after the poll.
enum Expect {
    /// A failure whose `last_error` contains every one of these words.
    Error(&'static [&'static str]),
    /// A success: the document was read and stored.
    Stored,
}

/// Every hostile case of issue 5, plus a few neighbours (HTML nested inside a description, a
/// status line that is not HTTP).
const CASES: &[(&str, Expect)] = &[
    (
        "gzip-bomb",
        Expect::Error(&["larger than", "max_body_bytes"]),
    ),
    ("endless", Expect::Error(&["larger than", "max_body_bytes"])),
    (
        "oversized",
        Expect::Error(&["larger than", "max_body_bytes"]),
    ),
    ("trickle", Expect::Error(&["timed out after 3s"])),
    ("silent", Expect::Error(&["timed out after 3s"])),
    ("loop", Expect::Error(&["redirected more than 5 times"])),
    (
        "rate-limited",
        Expect::Error(&["429 Too Many Requests", "retry after 1h", "Retry-After"]),
    ),
    ("error", Expect::Error(&["500 Internal Server Error"])),
    ("html", Expect::Error(&["HTML page"])),
    ("binary", Expect::Error(&["binary data, not a feed"])),
    (
        "truncated",
        Expect::Error(&["not a valid feed", "end of input"]),
    ),
    ("not-http", Expect::Error(&["answer is not HTTP"])),
    (
        "nested",
        Expect::Error(&["not a valid feed", "nests elements deeper than"]),
    ),
    ("invalid-utf8", Expect::Stored),
    ("laughs", Expect::Stored),
    ("nested-html", Expect::Stored),
    ("huge-title", Expect::Stored),
    ("many-items", Expect::Stored),
];

/// `sosik items --source ID --json`, one JSON value per story.
async fn items(config: &str, id: &str) -> Vec<serde_json::Value> {
    let out = sosik(&["--config", config, "items", "--source", id, "--json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn titles(items: &[serde_json::Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["title"].as_str().unwrap().to_owned())
        .collect()
}

fn hostile_config(dir: &std::path::Path, server: &RawServer) -> std::path::PathBuf {
    let mut text = format!(
        "[store]\npath = \"{}\"\nmax_items_per_source = {MAX_ITEMS}\n\n\
         [poll]\ntimeout = \"{POLL_TIMEOUT}\"\nmax_body_bytes = {MAX_BODY}\n\
         concurrency = 32\nper_host_concurrency = 32\n\n\
         [sources.good]\nurl = \"{}\"\n\n",
        dir.join("db").display(),
        server.url("/good"),
    );
    for (id, _) in CASES {
        text.push_str(&format!(
            "[sources.{id}]\nurl = \"{}\"\n\n",
            server.url(&format!("/{id}"))
        ));
    }
    let path = dir.join("sosik.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// How a child process ended, and its peak resident memory.
struct Finished {
    code: Option<i32>,
    /// The child's own high-water resident set (`VmHWM`), in bytes.
    peak_rss_bytes: u64,
    elapsed: Duration,
}

/// The `VmHWM` line of /proc/PID/status, in bytes: the process's peak resident set so far.
fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Waits for `child`, sampling its peak resident set every 10 ms; kills it with SIGKILL past
/// `limit`, so a hang fails the test instead of stalling it.
///
/// Why /proc and not `wait4`'s `ru_maxrss`: Linux carries the high-water mark of the memory
/// image a process had before `exec` into `ru_maxrss`, and std spawns with vfork, whose image is
/// this test process's: a child that does nothing reports the test process's peak (a
/// `/bin/true` spawned while the test held 300 MiB reported 309 MiB). `VmHWM` belongs to the
/// image `exec` created and only grows, so each sample is the child's own peak so far; only
/// growth in its last 10 ms before exit could go unseen.
fn wait_measuring_peak(mut child: std::process::Child, limit: Duration) -> Finished {
    let started = Instant::now();
    let mut peak = 0;
    loop {
        if let Some(hwm) = vm_hwm(child.id()) {
            peak = peak.max(hwm);
        }
        if let Some(status) = child.try_wait().unwrap() {
            return Finished {
                code: status.code(),
                peak_rss_bytes: peak,
                elapsed: started.elapsed(),
            };
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Finished {
                code: None,
                peak_rss_bytes: peak,
                elapsed: started.elapsed(),
            };
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_over_hostile_servers_stays_bounded_and_names_every_failure() {
    let docs = Arc::new(tokio::task::spawn_blocking(Docs::build).await.unwrap());
    let server = {
        let docs = docs.clone();
        RawServer::start(move |req, socket| answer(req, socket, docs.clone())).await
    };
    let dir = tempfile::tempdir().unwrap();
    let config = hostile_config(dir.path(), &server);
    let config = config.to_str().unwrap().to_owned();

    let stdout_path = dir.path().join("poll.out");
    let stderr_path = dir.path().join("poll.err");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_sosik"))
        .args(["--config", &config, "poll"])
        .env_remove("SOSIK_CONFIG")
        .env_remove("RUST_LOG")
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let finished = tokio::task::spawn_blocking(move || wait_measuring_peak(child, POLL_EXIT_LIMIT))
        .await
        .unwrap();
    let stdout = std::fs::read_to_string(&stdout_path).unwrap();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    eprintln!(
        "hostile poll: exit {:?} in {:.1}s, peak RSS {:.1} MiB\n{stdout}",
        finished.code,
        finished.elapsed.as_secs_f64(),
        finished.peak_rss_bytes as f64 / (1024.0 * 1024.0)
    );
    assert_eq!(finished.code, Some(1), "{stdout}\n{stderr}");
    // A sample was taken (the measurement works), and the peak is under the ceiling.
    assert!(finished.peak_rss_bytes > 0);
    assert!(
        finished.peak_rss_bytes < MAX_RSS_BYTES,
        "peak RSS {} bytes",
        finished.peak_rss_bytes
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    // The good source's stories are stored.
    let mut good = titles(&items(&config, "good").await);
    good.sort();
    assert_eq!(
        good,
        ["good story one", "good story three", "good story two"]
    );

    // The documents built to hurt a parser are read, within their limits.
    let many = items(&config, "many-items").await;
    assert_eq!(many.len(), MAX_ITEMS, "store.max_items_per_source");
    for item in &many {
        let i: usize = item["link"].as_str().unwrap()["https://many.test/".len()..]
            .parse()
            .unwrap();
        assert!(
            minute_of(i, MANY_ITEMS) >= MANY_ITEMS - MAX_ITEMS,
            "{item} is not among the newest"
        );
    }
    let huge = titles(&items(&config, "huge-title").await);
    assert_eq!(huge.len(), 2, "{huge:?}");
    assert!(
        huge.iter()
            .any(|t| t.starts_with("title title") && t.len() <= 1000),
        "the 9 MB title is cut: {:?}",
        huge.iter().map(String::len).collect::<Vec<_>>()
    );
    let bad_bytes = titles(&items(&config, "invalid-utf8").await);
    assert!(
        bad_bytes[0].contains('\u{FFFD}') && bad_bytes[0].ends_with("broken"),
        "{bad_bytes:?}"
    );
    let laughs = titles(&items(&config, "laughs").await);
    assert!(
        laughs[0].len() < 100,
        "entities are not expanded: {} bytes",
        laughs[0].len()
    );
    assert_eq!(titles(&items(&config, "nested-html").await), ["deep html"]);

    // Every failure is named in words; every readable document is stored.
    let out = sosik(&["--config", &config, "sources", "--json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let states: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let state = |id: &str| states.iter().find(|s| s["id"] == id).unwrap().clone();
    assert_eq!(state("good")["consecutive_errors"], 0);
    for (id, expect) in CASES {
        let s = state(id);
        match expect {
            Expect::Error(words) => {
                let error = s["last_error"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{id}: {s}"));
                for word in *words {
                    assert!(error.contains(word), "{id}: {error:?} lacks {word:?}");
                }
                assert_eq!(s["consecutive_errors"], 1, "{id}: {s}");
                let line = stdout
                    .lines()
                    .find(|l| l.starts_with(&format!("{id} ")))
                    .unwrap();
                assert!(line.contains("failed"), "{line}");
            }
            Expect::Stored => {
                assert!(s["last_error"].is_null(), "{id}: {s}");
                assert_eq!(s["status"], 200, "{id}: {s}");
            }
        }
    }
    assert_eq!(state("rate-limited")["status"], 429);
    // The redirect loop stopped after five redirects: six requests in all.
    let loops = server
        .requests()
        .iter()
        .filter(|r| r.path == "/loop")
        .count();
    assert_eq!(loops, 6);
}

/// A pipeline on a real store, polling sources of `server` with the given store and poll
/// settings.
struct Library {
    _dir: tempfile::TempDir,
    config: Arc<Config>,
    ingest: Ingest,
}

impl Library {
    fn new(sources: &[(&str, String)], max_items: usize) -> Library {
        let dir = tempfile::tempdir().unwrap();
        let mut text = format!(
            "[store]\npath = \"{}\"\nmax_items_per_source = {max_items}\n\n\
             [poll]\ntimeout = \"10s\"\nmax_body_bytes = {MAX_BODY}\n\n",
            dir.path().join("db").display()
        );
        for (id, url) in sources {
            text.push_str(&format!("[sources.{id}]\nurl = \"{url}\"\n\n"));
        }
        let path = dir.path().join("sosik.toml");
        std::fs::write(&path, text).unwrap();
        let config = Arc::new(Config::load_with_env(&path, Some(Default::default())).unwrap());
        let store = Store::open(&StoreOptions {
            path: config.store.path.clone(),
            cache_capacity: 8 << 20,
        })
        .unwrap();
        let ingest = Ingest::new(config.clone(), store).unwrap();
        Library {
            _dir: dir,
            config,
            ingest,
        }
    }

    /// Polls `id`, failing the test if the poll outlives a generous hang guard.
    async fn poll(&self, id: &str) -> PollOutcome {
        let source = self.config.source(id).unwrap();
        tokio::time::timeout(Duration::from_secs(60), self.ingest.ingest(source))
            .await
            .unwrap_or_else(|_| panic!("polling {id} did not end within 60 s"))
            .outcome
    }
}

#[tokio::test]
async fn sixty_thousand_items_leave_only_the_newest_max_items_per_source() {
    let doc = tokio::task::spawn_blocking(|| many_items(MANY_ITEMS))
        .await
        .unwrap();
    let server = TestServer::start(move |_| Response::ok("application/rss+xml", doc.clone())).await;
    let max = 300;
    let lib = Library::new(&[("many", server.url("/many"))], max);
    match lib.poll("many").await {
        PollOutcome::Stored { counts, items, .. } => {
            assert_eq!((counts.new, items), (max as u32, max));
        }
        other => panic!("{other:?}"),
    }
    let stored: Vec<usize> = lib
        .ingest
        .store()
        .newest()
        .map(|s| {
            let link = s.unwrap().link.unwrap();
            link["https://many.test/".len()..].parse().unwrap()
        })
        .collect();
    let mut expected: Vec<usize> = (0..MANY_ITEMS)
        .filter(|&i| minute_of(i, MANY_ITEMS) >= MANY_ITEMS - max)
        .collect();
    // Newest first.
    expected.sort_by_key(|&i| std::cmp::Reverse(minute_of(i, MANY_ITEMS)));
    assert_eq!(stored, expected);
    // The same document again picks the same items: nothing new, nothing forgotten.
    match lib.poll("many").await {
        PollOutcome::Stored { counts, .. } => assert_eq!((counts.new, counts.unchanged), (0, 300)),
        other => panic!("{other:?}"),
    }
    assert_eq!(lib.ingest.store().len(), max);
}

#[tokio::test]
async fn billion_laughs_and_deep_nesting_are_read_in_bounded_time_without_expanding() {
    let docs = Arc::new(tokio::task::spawn_blocking(Docs::build).await.unwrap());
    let server = {
        let docs = docs.clone();
        RawServer::start(move |req, socket| answer(req, socket, docs.clone())).await
    };
    let ids = ["laughs", "nested", "nested-html"];
    let sources: Vec<_> = ids
        .iter()
        .map(|id| (*id, server.url(&format!("/{id}"))))
        .collect();
    let lib = Library::new(&sources, 100);
    let (laughs, nested, nested_html) = tokio::join!(
        lib.poll("laughs"),
        lib.poll("nested"),
        lib.poll("nested-html")
    );

    // DOCTYPE entities are not expanded: the story's text stays small.
    assert!(matches!(laughs, PollOutcome::Stored { .. }), "{laughs:?}");
    // 200,000 nested XML elements: the parser refuses past 65,535, in words.
    match nested {
        PollOutcome::Failed(e) => assert!(e.to_string().contains("nests elements deeper"), "{e}"),
        other => panic!("{other:?}"),
    }
    // 200,000 nested HTML elements in a description: kept as plain text, not as markup.
    assert!(
        matches!(nested_html, PollOutcome::Stored { .. }),
        "{nested_html:?}"
    );
    let stories: Vec<_> = lib.ingest.store().newest().map(Result::unwrap).collect();
    assert_eq!(stories.len(), 2);
    for story in &stories {
        let size = story.title.len()
            + story.summary.as_ref().map_or(0, String::len)
            + story.content.as_ref().map_or(0, String::len);
        assert!(size < 1000, "{}: {size} bytes", story.title);
    }
    let deep = stories.iter().find(|s| s.title == "deep html").unwrap();
    assert!(
        !deep.summary.as_deref().unwrap_or("").contains("<div>"),
        "{deep:?}"
    );
}
