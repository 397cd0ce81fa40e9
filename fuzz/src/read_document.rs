//! AFL target: bytes → decode → parse → normalize, the path of `sosik inspect` and of every
//! poll ([`sosik::pipeline::read_document`]).
//!
//! The first input byte picks the `Content-Type` header (none, or one of a few charsets,
//! right and wrong), the rest is the body. Panics that sosik catches itself (inside feed-rs,
//! turned into a parse error) are not findings; any panic that escapes `read_document` is,
//! and aborts the process so AFL records it.

use chrono::{TimeZone, Utc};
use sosik::fetch::{Fetched, ResponseMeta};
use sosik::model::SourceId;
use sosik::pipeline::read_document;
use url::Url;

const CONTENT_TYPES: &[Option<&str>] = &[
    None,
    Some("application/rss+xml; charset=utf-8"),
    Some("application/rss+xml; charset=euc-kr"),
    Some("text/xml; charset=CP949"),
    Some("application/atom+xml; charset=utf-16"),
    Some("text/xml; charset=\"iso-8859-1\""),
    Some("application/feed+json"),
    Some("text/html; charset=shift_jis"),
];

fn main() {
    // Caught panics (feed-rs's) would print on every run; an escaping one still aborts, since
    // `fuzz_nohook!` aborts when the closure unwinds.
    std::panic::set_hook(Box::new(|_| {}));
    let source = SourceId::new("fuzz").expect("valid id");
    let now = Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap();
    let url = Url::parse("https://news.example.kr/rss/all.xml").ok();
    afl::fuzz_nohook!(|data: &[u8]| {
        let Some((&selector, body)) = data.split_first() else {
            return;
        };
        let fetched = Fetched {
            body: body.to_vec(),
            content_type: CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()]
                .map(str::to_owned),
            meta: ResponseMeta {
                status: 200,
                final_url: url.clone(),
                ..Default::default()
            },
        };
        let _ = read_document(&fetched, &source, chrono_tz::Asia::Seoul, now, 200);
    });
}
