//! Baseline of issue 6: the time sled needs to take the benchmark corpus's stories, written
//! with sosik's own layout but with none of a poll's other work.
//!
//! ```sh
//! cargo run --release --example bench_sled -- OUT_DIR
//! ```
//!
//! Untimed first: every feed of `OUT_DIR/www/feeds` goes through `pipeline::read_document`
//! (decode, parse, normalize), exactly as `sosik poll` would, so the records are the same.
//! Then, each on a fresh store under `OUT_DIR/baseline/` with the cache size of
//! `OUT_DIR/sosik.toml`, one thread, sources in config order:
//! - **commit**: `Store::commit_poll` once per source (prepare, decide, encode and one batch
//!   with the stories and the source state), then one flush; `--runs` times (3), the median
//!   reported. The same records and layout as a poll: the floor `sosik poll` is held to
//!   (≤ 1.3×);
//! - **commit_as_pipeline**: the same plus what `pipeline::Ingest` adds per source:
//!   `enforce_cap` and a flush after every commit;
//! - **raw_one_tree** / **raw_two_trees**: plain sled for reference, as the issue measured it:
//!   as many 900-byte values as there are distinct stories, one batch per source, into one tree
//!   (`apply_batch`) or into a value tree plus a 24-byte index key per value (one transaction
//!   over both trees).
//!
//! Reports `key=value` lines that `bench/run.sh` reads.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::Utc;
use clap::Parser;
use sled::Transactional;
use sosik::config::Config;
use sosik::fetch::{Fetched, ResponseMeta};
use sosik::model::{SourceState, Story};
use sosik::store::{Store, StoreOptions};

/// sled write baseline with sosik's layout.
#[derive(Debug, Parser)]
struct Args {
    /// Directory written by `bench_gen`.
    out: PathBuf,
    /// Skip the per-source flush variant (slow on some disks).
    #[arg(long)]
    no_pipeline: bool,
    /// Runs of the commit baseline, each on a fresh store; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

type Batch = (sosik::model::SourceId, Vec<Story>, chrono::DateTime<Utc>);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let config = Config::load(&args.out.join("sosik.toml"))?;
    let now = Utc::now();

    let started = Instant::now();
    let mut batches: Vec<Batch> = Vec::new();
    for (n, source) in config.sources.iter().enumerate() {
        // Each poll has its own time, as in `sosik poll`: new stories' first-seen time.
        let now = now + chrono::Duration::milliseconds(n as i64);
        let body = std::fs::read(
            args.out
                .join("www/feeds")
                .join(format!("{}.xml", source.id)),
        )?;
        let fetched = Fetched {
            body,
            content_type: Some("text/xml".into()),
            meta: ResponseMeta {
                status: 200,
                final_url: Some(source.url.clone()),
                ..Default::default()
            },
        };
        let doc = sosik::pipeline::read_document(
            &fetched,
            &source.id,
            source.timezone,
            now,
            config.store.max_items_per_source,
        )?;
        batches.push((source.id.clone(), doc.stories, now));
    }
    let items: usize = batches.iter().map(|(_, s, _)| s.len()).sum();
    println!(
        "sources={} items={items} prepare_secs={:.3}",
        batches.len(),
        started.elapsed().as_secs_f64()
    );

    let base = args.out.join("baseline");
    let options = |name: &str| StoreOptions {
        path: base.join(name),
        cache_capacity: config.store.cache_capacity,
    };

    // What `sosik poll` must be within 1.3x of: the median of `runs` runs.
    let mut runs = Vec::new();
    for run in 0..args.runs.max(1) {
        let store = fresh(&options(&format!("commit-{run}")))?;
        let started = Instant::now();
        let cpu_before = cpu_secs();
        for (id, stories, at) in &batches {
            store.commit_poll(id, stories, &state_for(stories), *at)?;
        }
        store.flush_blocking()?;
        let secs = started.elapsed().as_secs_f64();
        let cpu = cpu_before.zip(cpu_secs()).map(|(b, a)| a - b);
        runs.push((secs, cpu, store.len()));
    }
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (secs, cpu, stored) = runs[runs.len() / 2];
    let all: Vec<String> = runs.iter().map(|r| format!("{:.3}", r.0)).collect();
    println!("commit_secs={secs:.3}");
    println!("commit_secs_runs={}", all.join(","));
    if let Some(cpu) = cpu {
        // All threads: ours and sled's own (log writes, epoch-based reclamation).
        println!("commit_cpu_secs={cpu:.2}");
    }
    println!("commit_stories={stored}");
    println!("commit_stories_per_sec={:.0}", stored as f64 / secs);
    println!("commit_store_bytes={}", dir_size(&options("commit-0").path));

    if !args.no_pipeline {
        let store = fresh(&options("pipeline"))?;
        let max = config.store.max_items_per_source;
        let started = Instant::now();
        for (id, stories, at) in &batches {
            let state = state_for(stories);
            store.commit_poll(id, stories, &state, *at)?;
            let protect: HashSet<_> = state.current.iter().copied().collect();
            store.enforce_cap(id, max, &protect)?;
            store.flush_blocking()?;
        }
        let secs = started.elapsed().as_secs_f64();
        println!("commit_as_pipeline_secs={secs:.3}");
        println!(
            "commit_as_pipeline_stories_per_sec={:.0}",
            store.len() as f64 / secs
        );
    }

    let per_batch = stored.div_ceil(batches.len().max(1)).max(1);
    let (one, two) = raw_sled(&base, config.store.cache_capacity, stored, per_batch)?;
    println!("raw_one_tree_records_per_sec={:.0}", stored as f64 / one);
    println!("raw_two_trees_records_per_sec={:.0}", stored as f64 / two);
    let _ = std::fs::remove_dir_all(&base);
    Ok(())
}

/// CPU time (user + system) of this process so far, every thread included, from
/// `/proc/self/stat`; `None` where there is no procfs.
fn cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at its closing parenthesis.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // The kernel reports clock ticks of USER_HZ, 100 on Linux.
    Some(ticks / 100.0)
}

/// The state a poll commits alongside its stories.
fn state_for(stories: &[Story]) -> SourceState {
    SourceState {
        current: stories.iter().map(Story::key).collect(),
        ..Default::default()
    }
}

fn fresh(options: &StoreOptions) -> Result<Store, Box<dyn std::error::Error>> {
    let _ = std::fs::remove_dir_all(&options.path);
    Ok(Store::open(options)?)
}

/// Seconds to write `records` 900-byte values in batches of `per_batch`: into one tree, then
/// into two (values plus an index key each, one transaction per batch).
fn raw_sled(
    base: &Path,
    cache: u64,
    records: usize,
    per_batch: usize,
) -> Result<(f64, f64), Box<dyn std::error::Error>> {
    let open = |name: &str| {
        let path = base.join(name);
        let _ = std::fs::remove_dir_all(&path);
        sled::Config::new()
            .path(path)
            .cache_capacity(cache)
            .mode(sled::Mode::LowSpace)
            .open()
    };
    let mut rng = fastrand::Rng::with_seed(7);
    let key = |n: usize| -> [u8; 16] {
        let mut k = [0u8; 16];
        k.copy_from_slice(&blake3::hash(&n.to_le_bytes()).as_bytes()[..16]);
        k
    };
    let values: Vec<Vec<u8>> = (0..64)
        .map(|_| (0..900).map(|_| rng.u8(..)).collect())
        .collect();

    let db = open("raw1")?;
    let tree = db.open_tree("stories")?;
    let started = Instant::now();
    for chunk in (0..records).collect::<Vec<_>>().chunks(per_batch) {
        let mut batch = sled::Batch::default();
        for &n in chunk {
            batch.insert(&key(n), values[n % values.len()].as_slice());
        }
        tree.apply_batch(batch)?;
    }
    db.flush()?;
    let one = started.elapsed().as_secs_f64();
    drop(db);

    let db = open("raw2")?;
    let (stories, index) = (db.open_tree("stories")?, db.open_tree("by_time")?);
    let started = Instant::now();
    for chunk in (0..records).collect::<Vec<_>>().chunks(per_batch) {
        (&stories, &index)
            .transaction(|(s, i)| {
                for &n in chunk {
                    let k = key(n);
                    s.insert(&k, values[n % values.len()].as_slice())?;
                    let mut ik = (n as u64).to_be_bytes().to_vec();
                    ik.extend_from_slice(&k);
                    i.insert(ik, &[])?;
                }
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|e| format!("{e:?}"))?;
    }
    db.flush()?;
    let two = started.elapsed().as_secs_f64();
    Ok((one, two))
}

fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
