//! Integration tests: one binary (link once), modules by boundary. Every test talks HTTP to a
//! real server on 127.0.0.1 started inside the test, writes a real sled store in a temporary
//! directory, and, where the CLI is the contract, runs the real `sosik` binary.

mod add;
mod cli;
mod cli_mistakes;
mod config_edit;
mod control;
mod copies;
mod crash;
mod daemon;
mod hostile;
mod ingest;
mod merge;
mod published;
// The unit's seccomp filter, rebuilt for x86_64 Linux (libc is a dependency there only).
#[cfg(all(target_os = "linux", target_arch = "x86_64", target_env = "gnu"))]
mod sandbox;
mod serve_abuse;
mod server;
mod similar_eval;
mod storage;

use std::path::Path;

/// The pipeline over the config at `path` (no environment overrides) and a fresh store.
pub fn ingest_for(
    path: &Path,
) -> (
    std::sync::Arc<sosik::config::Config>,
    sosik::pipeline::Ingest,
) {
    let config = std::sync::Arc::new(
        sosik::config::Config::load_with_env(path, Some(Default::default())).unwrap(),
    );
    let store = sosik::store::Store::open(&sosik::store::StoreOptions {
        path: config.store.path.clone(),
        cache_capacity: 8 << 20,
    })
    .unwrap();
    let ingest = sosik::pipeline::Ingest::new(config.clone(), store).unwrap();
    (config, ingest)
}

/// A free loopback port: bound, read and released at once; the daemon under test binds it a
/// moment later.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An RSS 2.0 document with `items` as (title, link) pairs.
pub fn rss(title: &str, items: &[(&str, &str)]) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>{title}</title><link>https://news.test.kr/</link><description>d</description>\n"
    );
    for (i, (item_title, link)) in items.iter().enumerate() {
        out.push_str(&format!(
            "<item><title>{item_title}</title><link>{link}</link><category>IT·과학</category><pubDate>Thu, 26 Nov 2026 0{}:00:00 +0900</pubDate></item>\n",
            i % 10
        ));
    }
    out.push_str("</channel></rss>\n");
    out
}

/// [`rss`] of owned (title, link) pairs.
pub fn rss_of(title: &str, items: &[(String, String)]) -> String {
    let refs: Vec<(&str, &str)> = items
        .iter()
        .map(|(t, l)| (t.as_str(), l.as_str()))
        .collect();
    rss(title, &refs)
}

/// Writes a config for `sources` (id, url) into `dir` and returns its path.
pub fn write_config(dir: &Path, sources: &[(&str, &str)], extra: &str) -> std::path::PathBuf {
    let mut text = format!(
        "[store]\npath = \"{}\"\n\n[poll]\ntimeout = \"5s\"\nmax_body_bytes = 200000\n{extra}\n",
        dir.join("db").display()
    );
    for (id, url) in sources {
        text.push_str(&format!(
            "[sources.{id}]\nurl = \"{url}\"\ntimezone = \"Asia/Seoul\"\n\n"
        ));
    }
    text.push_str("[outputs.it]\nfilter = 'category:\"IT·과학\"'\n");
    let path = dir.join("sosik.toml");
    std::fs::write(&path, text).unwrap();
    path
}
