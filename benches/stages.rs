//! Criterion benchmarks of the pure stages and of one publish, on generated inputs.
//!
//! ```sh
//! cargo bench --bench stages              # all of them (about two minutes)
//! cargo bench --bench stages -- filter    # those whose name contains "filter"
//! ```
//!
//! Inputs come from `benches/common/corpus.rs`, the generator behind `bench/run.sh`'s corpus:
//! one 50-item feed in UTF-8 and one in EUC-KR, and 1,000 stories read from 20 feeds. `store`
//! times `Store::prepare` (record encoding) of one feed's stories on an empty store. The
//! publish group commits 200 feeds (7,000 stories) into a sled store in a temporary directory
//! and renders outputs from it with the cache invalidated, so each iteration walks the store.
//! Figures go in BENCHMARKS.md with the machine and the date; no test asserts on them.

#[path = "common/corpus.rs"]
mod corpus;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sosik::config::Config;
use sosik::dedupe::{Held, Priorities, decide};
use sosik::fetch::{Fetched, ResponseMeta};
use sosik::filter::Filter;
use sosik::model::{SourceId, SourceState, Story};
use sosik::normalize::{Context, normalize};
use sosik::parse::{ParseOptions, parse};
use sosik::publish::Publisher;
use sosik::render::{FeedMeta, Format, SourceInfo};
use sosik::store::{Store, StoreOptions};

/// The first EUC-KR feed of a corpus of 20 (feed 6).
const EUC_KR_FEED: usize = 6;

fn spec() -> corpus::Spec {
    corpus::Spec::new(20, 50, 1)
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

fn feed_url(name: &str) -> url::Url {
    url::Url::parse(&format!("http://127.0.0.1:18081/feeds/{name}.xml")).expect("a valid URL")
}

fn fetched(feed: &corpus::Feed) -> Fetched {
    Fetched {
        body: feed.bytes.clone(),
        content_type: Some("text/xml".into()),
        meta: ResponseMeta {
            status: 200,
            final_url: Some(feed_url(&feed.name)),
            ..Default::default()
        },
    }
}

fn stories_of(feed: &corpus::Feed) -> Vec<Story> {
    let id = SourceId::new(&feed.name).expect("a valid id");
    sosik::pipeline::read_document(&fetched(feed), &id, chrono_tz::Asia::Seoul, now(), 2000)
        .expect("generated feeds read")
        .stories
}

fn decode(c: &mut Criterion) {
    let spec = spec();
    let mut group = c.benchmark_group("decode");
    for (label, feed) in [("utf-8", spec.feed(0)), ("euc-kr", spec.feed(EUC_KR_FEED))] {
        group.throughput(Throughput::Bytes(feed.bytes.len() as u64));
        group.bench_function(label, |b| {
            b.iter(|| sosik::decode::decode(black_box(&feed.bytes), Some("text/xml"), None))
        });
    }
    group.finish();
}

fn parse_normalize(c: &mut Criterion) {
    let spec = spec();
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(spec.items as u64));
    for (label, feed) in [("utf-8", spec.feed(0)), ("euc-kr", spec.feed(EUC_KR_FEED))] {
        let text = sosik::decode::decode(&feed.bytes, Some("text/xml"), None)
            .expect("generated feeds decode")
            .text;
        let options = ParseOptions {
            base_url: Some(feed_url(&feed.name)),
            timezone: chrono_tz::Asia::Seoul,
            max_items: 2000,
        };
        let ctx = Context {
            source: SourceId::new(&feed.name).expect("a valid id"),
            feed_url: Some(feed_url(&feed.name)),
            now: now(),
            max_items: 2000,
        };
        group.bench_function(BenchmarkId::new("feed-rs-defaults", label), |b| {
            b.iter(|| feed_rs::parser::parse(black_box(text.as_bytes())).expect("parses"))
        });
        group.bench_function(BenchmarkId::new("parse", label), |b| {
            b.iter(|| parse(black_box(&text), &options).expect("parses"))
        });
        let parsed = parse(&text, &options).expect("parses");
        group.bench_function(BenchmarkId::new("normalize", label), |b| {
            b.iter(|| normalize(black_box(&parsed), &ctx))
        });
        group.bench_function(BenchmarkId::new("parse+normalize", label), |b| {
            b.iter(|| normalize(&parse(black_box(&text), &options).expect("parses"), &ctx))
        });
        let raw = fetched(&feed);
        group.bench_function(BenchmarkId::new("read_document", label), |b| {
            b.iter(|| {
                sosik::pipeline::read_document(
                    black_box(&raw),
                    &ctx.source,
                    chrono_tz::Asia::Seoul,
                    ctx.now,
                    2000,
                )
                .expect("reads")
            })
        });
    }
    group.finish();
}

fn dedupe(c: &mut Criterion) {
    let spec = spec();
    // Feed 1 carries copies of feed 0's first stories: same identity, another source.
    let (a, b) = (stories_of(&spec.feed(0)), stories_of(&spec.feed(1)));
    let copy = b
        .iter()
        .find(|s| a.iter().any(|o| o.key() == s.key()))
        .expect("neighbouring feeds share stories");
    let original = a.iter().find(|o| o.key() == copy.key()).expect("found");
    let at = now();
    let none = Priorities::default();
    let held = Held::first(original);
    let mut group = c.benchmark_group("dedupe");
    group.bench_function("new", |bench| {
        bench.iter(|| decide(None, black_box(original), at, &none))
    });
    group.bench_function("unchanged", |bench| {
        bench.iter(|| decide(Some(&held), black_box(original), at, &none))
    });
    group.bench_function("merged", |bench| {
        bench.iter(|| decide(Some(&held), black_box(copy), at, &none))
    });
    group.finish();
}

/// `Store::prepare` of a 50-story feed on an empty store: every story new, so every record is
/// encoded (postcard header and body, LZ4 body), as the CPU workers do before each commit.
fn prepare(c: &mut Criterion) {
    let spec = spec();
    let stories = stories_of(&spec.feed(0));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = Store::open(&StoreOptions {
        path: dir.path().join("store"),
        cache_capacity: 8 * 1024 * 1024,
    })
    .expect("a fresh store opens");
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(stories.len() as u64));
    group.bench_function("prepare", |b| b.iter(|| store.prepare(black_box(&stories))));
    group.finish();
}

fn filter(c: &mut Criterion) {
    let spec = spec();
    let stories: Vec<Story> = (0..spec.feeds)
        .flat_map(|i| stories_of(&spec.feed(i)))
        .take(1000)
        .collect();
    let tags: BTreeMap<SourceId, Vec<String>> = BTreeMap::new();
    let mut group = c.benchmark_group("filter");
    group.throughput(Throughput::Elements(stories.len() as u64));
    for (label, query) in [
        ("category-middle-dot", r#"category:"IT·과학""#),
        ("words", "반도체 -title:광고"),
        ("regex", "/AI|반도체/"),
    ] {
        let filter = Filter::parse(query).expect("a valid filter");
        group.bench_function(label, |b| {
            b.iter(|| {
                stories
                    .iter()
                    .filter(|s| filter.matches(black_box(s), &tags))
                    .count()
            })
        });
    }
    group.finish();
}

fn render(c: &mut Criterion) {
    let spec = spec();
    let stories: Vec<Story> = stories_of(&spec.feed(0)).into_iter().take(50).collect();
    let sources: BTreeMap<SourceId, SourceInfo> = stories
        .iter()
        .flat_map(|s| &s.sources)
        .map(|s| {
            let info = SourceInfo {
                title: format!("벤치일보 {}", s.id),
                url: Some(feed_url(s.id.as_str()).to_string()),
            };
            (s.id.clone(), info)
        })
        .collect();
    let meta = FeedMeta {
        name: "it",
        title: "IT·과학",
        description: "Every IT·과학 story",
        base_url: "http://127.0.0.1:18080",
        ttl_minutes: None,
        updated: stories[0].updated,
    };
    let mut group = c.benchmark_group("render");
    group.throughput(Throughput::Elements(stories.len() as u64));
    for format in Format::ALL {
        group.bench_function(format.name(), |b| {
            b.iter(|| {
                sosik::render::render(format, &meta, black_box(&stories), |id| sources.get(id))
            })
        });
    }
    group.finish();
}

fn publish(c: &mut Criterion) {
    let spec = corpus::Spec::new(200, 50, 1);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut toml = format!(
        "[store]\npath = {:?}\nretention = \"0s\"\n\n",
        dir.path().join("data").display().to_string()
    );
    for i in 0..spec.feeds {
        let name = corpus::Spec::name(i);
        toml += &format!("[sources.{name}]\nurl = \"{}\"\n", feed_url(&name));
    }
    toml += "[outputs.it]\nfilter = 'category:\"IT·과학\"'\n[outputs.all]\n";
    let file = dir.path().join("sosik.toml");
    std::fs::write(&file, toml).expect("config written");
    let config = Arc::new(Config::load(&file).expect("a valid config"));
    let store = Store::open(&StoreOptions {
        path: config.store.path.clone(),
        cache_capacity: config.store.cache_capacity,
    })
    .expect("a store");
    let at = now();
    for i in 0..spec.feeds {
        let feed = spec.feed(i);
        let stories = stories_of(&feed);
        let state = SourceState {
            current: stories.iter().map(Story::key).collect(),
            ..Default::default()
        };
        let id = SourceId::new(&feed.name).expect("a valid id");
        store.commit_one(id, stories, state, at).expect("committed");
    }
    let publisher = Publisher::new(config, store);
    let mut group = c.benchmark_group(format!("publish-{}-stories", spec.distinct_stories()));
    for output in ["it", "all"] {
        group.bench_function(BenchmarkId::new("uncached", output), |b| {
            b.iter(|| {
                publisher.invalidate();
                publisher.render(output, Format::Rss).expect("renders")
            })
        });
    }
    group.bench_function("cached/it", |b| {
        b.iter(|| publisher.render("it", Format::Rss).expect("renders"))
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = stages;
    config = config();
    targets = decode, parse_normalize, dedupe, prepare, filter, render, publish
}
criterion_main!(stages);
