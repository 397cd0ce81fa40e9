//! The HTTP side under abuse (issue 5): the real `sosik run` on a loopback port, sent path
//! traversal attempts, an oversized URL and oversized headers, bytes that are not HTTP, and
//! hundreds of connections at once. Every answer is a clean 4xx (or a closed connection for
//! garbage), memory stays bounded, the server keeps serving, and SIGTERM still ends it with 0.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::free_port;

/// Longest wait for one answer: a hang guard, far above what a loopback request takes.
const ANSWER_LIMIT: Duration = Duration::from_secs(20);
/// Connections opened at once.
const CONCURRENT: usize = 300;
/// The memory ceiling of issue 5.
const MAX_RSS_BYTES: u64 = 256 * 1024 * 1024;

/// The daemon, killed if the test ends early so it never outlives the test.
struct Daemon {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_daemon(dir: &Path) -> Daemon {
    std::fs::write(
        dir.join("feed.xml"),
        crate::rss(
            "local",
            &[
                ("served story", "https://news.test.kr/1"),
                ("another story", "https://news.test.kr/2"),
            ],
        ),
    )
    .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = dir.join("sosik.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\npath = \"{}\"\n\n[server]\nlisten = \"{addr}\"\n\n\
             [poll]\ninterval = \"1h\"\n\n\
             [sources.local]\nurl = \"file:feed.xml\"\n\n[outputs.all]\ntitle = \"All\"\n",
            dir.join("db").display()
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_sosik"))
        .args(["--config", config.to_str().unwrap(), "run"])
        .env_remove("SOSIK_CONFIG")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("daemon.err")).unwrap())
        .spawn()
        .unwrap();
    Daemon { child, addr }
}

/// Sends `request` as raw bytes and reads until the server closes: the status code and the
/// whole answer, or `None` when the connection ended without one.
async fn raw(addr: SocketAddr, request: &[u8]) -> Option<(u16, String)> {
    let exchange = async {
        let mut socket = TcpStream::connect(addr).await.ok()?;
        // The server may answer and close before reading everything: that is allowed.
        let _ = socket.write_all(request).await;
        let mut answer = Vec::new();
        let _ = socket.read_to_end(&mut answer).await;
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let status = answer.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()?;
        Some((status, answer))
    };
    tokio::time::timeout(ANSWER_LIMIT, exchange)
        .await
        .expect("the server neither answered nor closed the connection")
}

async fn get(addr: SocketAddr, target: &str) -> Option<(u16, String)> {
    raw(
        addr,
        format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
}

/// `VmHWM` of a running process, in bytes: its peak resident set so far.
fn vm_hwm(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_answers_abuse_with_4xx_and_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = start_daemon(dir.path());
    let addr = daemon.addr;

    // Up: the first poll (a local file) has stored both stories. Bounded: 20 s at most.
    let started = Instant::now();
    loop {
        if let Some((200, body)) = get(addr, "/healthz").await
            && body.contains("\"stories\":2")
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the daemon did not come up: {}",
            std::fs::read_to_string(dir.path().join("daemon.err")).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, feed) = get(addr, "/feeds/all.xml").await.unwrap();
    assert_eq!(status, 200);
    assert!(feed.contains("served story"));

    // Path traversal, plain and encoded: never a file, always a 4xx.
    for target in [
        "/feeds/../Cargo.toml",
        "/../../etc/passwd",
        "/feeds/..%2f..%2fCargo.toml",
        "/feeds/%2e%2e%2f%2e%2e%2fsosik.toml",
        "/feeds/..%5c..%5csosik.toml",
        "/feeds/all.xml/../../sosik.toml",
        "/feeds/%2e%2e/sosik.toml",
        "//etc/passwd",
        "/feeds/....//....//etc/passwd",
        "/feeds/%252e%252e%252fsosik.toml",
        "/feeds/all%00.xml",
        "/sources.opml/../sosik.toml",
    ] {
        let (status, answer) = get(addr, target)
            .await
            .unwrap_or_else(|| panic!("{target}: no answer"));
        assert!((400..500).contains(&status), "{target}: {status}");
        for secret in ["root:", "[store]", "[package]"] {
            assert!(!answer.contains(secret), "{target} leaked {secret}");
        }
    }

    // An oversized URL and oversized headers: 414, 431 or 400.
    let long_target = format!("/feeds/{}.xml", "a".repeat(100 * 1024));
    let (url_status, _) = get(addr, &long_target)
        .await
        .expect("oversized URL: no answer");
    assert!(
        [400, 414, 431].contains(&url_status),
        "oversized URL: {url_status}"
    );
    let mut request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n");
    for i in 0..100 {
        request.push_str(&format!("X-Padding-{i}: {}\r\n", "b".repeat(1024)));
    }
    request.push_str("Connection: close\r\n\r\n");
    let (status, _) = raw(addr, request.as_bytes())
        .await
        .expect("oversized headers: no answer");
    assert!([400, 431].contains(&status), "oversized headers: {status}");
    eprintln!("serve abuse: oversized URL -> {url_status}, oversized headers -> {status}");

    // Bytes that are not HTTP: a 400 or a closed connection, never a crash.
    let mut noise = Vec::with_capacity(8192);
    let mut x: u32 = 2_463_534_242;
    for _ in 0..8192 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        noise.push(x as u8);
    }
    for garbage in [
        noise.as_slice(),
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 TLS hello to a plain port",
        b"GET\r\n\r\n",
        b"HELLO / SOSIK/9.9\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        b"GET / HTTP/1.1\r\nHo\0st: x\r\n\r\n",
    ] {
        let answer = raw(addr, garbage).await;
        if let Some((status, _)) = answer {
            assert!((400..500).contains(&status), "{status} for {garbage:?}");
        }
        eprintln!(
            "serve abuse: {:?}… -> {:?}",
            String::from_utf8_lossy(&garbage[..garbage.len().min(12)]),
            answer.map(|(status, _)| status)
        );
    }

    // A client that sends half a request and waits, beside 300 connections at once, each
    // with a request: every one is answered.
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    stalled
        .write_all(b"GET /healthz HTTP/1.1\r\nHo")
        .await
        .unwrap();
    let mut clients = tokio::task::JoinSet::new();
    for i in 0..CONCURRENT {
        let target = if i % 3 == 0 {
            "/feeds/all.json"
        } else {
            "/healthz"
        };
        clients.spawn(async move { get(addr, target).await.map(|(status, _)| status) });
    }
    let mut ok = 0;
    while let Some(status) = clients.join_next().await {
        if status.unwrap() == Some(200) {
            ok += 1;
        }
    }
    assert_eq!(ok, CONCURRENT, "every concurrent request is answered");
    drop(stalled);

    // Still serving, memory bounded.
    let (status, feed) = get(addr, "/feeds/all.atom").await.unwrap();
    assert_eq!(status, 200);
    assert!(feed.contains("another story"));
    let peak = vm_hwm(daemon.child.id());
    eprintln!(
        "serve abuse: daemon peak RSS {:.1} MiB",
        peak as f64 / (1024.0 * 1024.0)
    );
    assert!(peak < MAX_RSS_BYTES, "daemon peak RSS {peak} bytes");

    // SIGTERM: a clean stop with exit code 0.
    let killed = Command::new("kill")
        .args(["-TERM", &daemon.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = daemon.child.try_wait().unwrap() {
            break status;
        }
        // A hang guard: shutdown waits at most a few seconds for polls and HTTP.
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        status.code(),
        Some(0),
        "{}",
        std::fs::read_to_string(dir.path().join("daemon.err")).unwrap()
    );
}
