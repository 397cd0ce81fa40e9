//! Baseline of issue 6: how fast feed-rs alone parses the benchmark corpus on one core.
//!
//! ```sh
//! cargo run --release --example bench_parse -- OUT_DIR [--runs 3]
//! ```
//!
//! Reads every `OUT_DIR/www/feeds/*.xml` into memory first (no file I/O is timed), then, on
//! this one thread:
//! 1. **decode** with encoding_rs: a document whose XML declaration says `euc-kr` is decoded
//!    as EUC-KR and its declaration rewritten to `UTF-8`; the others are checked as UTF-8.
//!    feed-rs only sees bytes and cannot decode EUC-KR itself, so this step is the least any
//!    reader of this corpus does before parsing;
//! 2. **parse** the UTF-8 text with `feed_rs::parser::parse` (feed-rs's defaults): the
//!    baseline `sosik poll` is compared with;
//! 3. for reference, sosik's own `pipeline::read_document` (decode, parse with our options,
//!    extras scan, normalize, sanitize) over the raw bytes: the CPU side of one poll.
//!
//! Each is run `--runs` times; the median run is reported as `key=value` lines that
//! `bench/run.sh` reads.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;
use clap::Parser;
use sosik::fetch::{Fetched, ResponseMeta};
use sosik::model::SourceId;

use common::{feed_rs_parse_all, median, read_feeds, to_utf8};

/// feed-rs parse-only baseline over the generated corpus.
#[derive(Debug, Parser)]
struct Args {
    /// Directory written by `bench_gen`.
    out: PathBuf,
    /// Timed passes over the corpus; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let files = read_feeds(&args.out.join("www").join("feeds"))?;
    let bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
    println!("files={} bytes={bytes}", files.len());

    let mut texts = Vec::new();
    let decode = median(args.runs, || {
        texts = files.iter().map(|(_, b)| to_utf8(b)).collect();
    });

    let mut items = 0;
    let parse = median(args.runs, || {
        items = feed_rs_parse_all(&texts);
    });

    let now = Utc::now();
    let mut stories = 0;
    let read = median(args.runs, || {
        stories = 0;
        for (name, body) in &files {
            let fetched = Fetched {
                body: body.clone(),
                content_type: Some("text/xml".into()),
                meta: ResponseMeta {
                    status: 200,
                    final_url: url::Url::parse(&format!("http://127.0.0.1/feeds/{name}.xml")).ok(),
                    ..Default::default()
                },
            };
            let id = SourceId::new(name).expect("generated names are valid ids");
            let doc =
                sosik::pipeline::read_document(&fetched, &id, chrono_tz::Asia::Seoul, now, 2000)
                    .expect("the corpus reads");
            stories += doc.stories.len();
        }
    });

    let rate = |d: Duration| items as f64 / d.as_secs_f64();
    println!("items={items}");
    println!("decode_secs={:.3}", decode.as_secs_f64());
    println!("parse_secs={:.3}", parse.as_secs_f64());
    println!("parse_items_per_sec={:.0}", rate(parse));
    println!("decode_parse_items_per_sec={:.0}", rate(decode + parse));
    println!("read_document_secs={:.3}", read.as_secs_f64());
    println!("read_document_items_per_sec={:.0}", rate(read));
    println!("read_document_stories={stories}");
    Ok(())
}
