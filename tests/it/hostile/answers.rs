//! The hostile server's side: the documents it hands out and how it answers each path.
//! Every answer is bounded in bytes (and, by `RawServer`, in time).

use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::server::{RawAnswer, Request};

/// Depth of the nested-elements documents.
const NESTING: usize = 200_000;
/// Items in the many-items document.
pub(super) const MANY_ITEMS: usize = 60_000;
/// Bytes of the huge title.
const HUGE_TITLE: usize = 9 * 1000 * 1000;

/// The documents the hostile server hands out, built once.
pub(super) struct Docs {
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
    pub(super) fn build() -> Docs {
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
pub(super) fn many_items(n: usize) -> String {
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
pub(super) fn minute_of(i: usize, n: usize) -> usize {
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
pub(super) fn answer(req: Request, mut socket: TcpStream, docs: Arc<Docs>) -> RawAnswer {
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
