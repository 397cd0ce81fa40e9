//! Baseline of issue 6: the time sled needs to take the benchmark corpus's stories, written
//! with sosik's own layout but with none of a poll's other work; and floors that say how
//! close to that baseline any poll can come on this machine.
//!
//! ```sh
//! cargo run --release --example bench_sled -- OUT_DIR
//! ```
//!
//! Untimed first: every feed of `OUT_DIR/www/feeds` goes through `pipeline::read_document`
//! (decode, parse, normalize), exactly as `sosik poll` would, so the records are the same.
//! Then, each on a fresh store under `OUT_DIR/baseline/` with the cache size of
//! `OUT_DIR/sosik.toml`, sources in config order, each measure `--runs` times (3) with the
//! median reported:
//! - **commit**: `Store::commit_one` once per source (prepare, decide, encode and one batch
//!   with the stories and the source state) on one thread, then one flush. The same records
//!   and layout as a poll: the baseline `sosik poll` is held to (≤ 1.3×);
//! - **floor_feed_rs**: the commit loop above on one thread while a second thread parses every
//!   document with feed-rs alone (its defaults, UTF-8 text in memory): the two things no poll
//!   of this corpus can skip, side by side on the machine's cores. A poll also fetches over
//!   HTTP, decodes and normalizes, so one committing each source alone cannot be faster;
//! - **commit_grouped** / **floor_grouped**: the same two with the commits made as
//!   `Store::commit_group` of `poll.concurrency` sources at a time (one sled batch each), the
//!   most a poll's writer ever groups: the store's cheapest way to take these records, so this
//!   floor holds for any poll, `sosik poll`'s grouped commits included;
//! - **poll_files**: `sosik poll` without the network: `pipeline::Ingest` itself over
//!   `file://` URLs of the documents (in the page cache by then), then one flush;
//! - **raw_one_tree** / **raw_two_trees**: plain sled for reference, as the issue measured it:
//!   as many 900-byte values as there are distinct stories, one batch per source, into one tree
//!   (`apply_batch`) or into a value tree plus a 24-byte index key per value (one transaction
//!   over both trees).
//!
//! Reports `key=value` lines that `bench/run.sh` reads.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use clap::Parser;
use sled::Transactional;
use sosik::config::Config;
use sosik::fetch::{Fetched, ResponseMeta};
use sosik::model::{SourceId, SourceState, Story};
use sosik::pipeline::Ingest;
use sosik::store::{PollCommit, Store, StoreError, StoreOptions};

use common::{feed_rs_parse_all, to_utf8};

/// sled write baseline with sosik's layout.
#[derive(Debug, Parser)]
struct Args {
    /// Directory written by `bench_gen`.
    out: PathBuf,
    /// Runs of each measure, each on a fresh store; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

/// One source's document as the poll would fetch it.
struct Input {
    id: SourceId,
    timezone: chrono_tz::Tz,
    fetched: Fetched,
    /// This source's poll time, as `sosik poll` stamps each poll: new stories' first-seen time.
    now: DateTime<Utc>,
}

type Batch = (SourceId, Vec<Story>, DateTime<Utc>);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let config = Config::load(&args.out.join("sosik.toml"))?;
    let max = config.store.max_items_per_source;
    let now = Utc::now();

    let mut inputs = Vec::new();
    for (n, source) in config.sources.iter().enumerate() {
        let body = std::fs::read(
            args.out
                .join("www/feeds")
                .join(format!("{}.xml", source.id)),
        )?;
        inputs.push(Input {
            id: source.id.clone(),
            timezone: source.timezone,
            fetched: Fetched {
                body,
                content_type: Some("text/xml".into()),
                meta: ResponseMeta {
                    status: 200,
                    final_url: Some(source.url.clone()),
                    ..Default::default()
                },
            },
            now: now + chrono::Duration::milliseconds(n as i64),
        });
    }
    let started = Instant::now();
    let mut batches: Vec<Batch> = Vec::new();
    for input in &inputs {
        let doc = sosik::pipeline::read_document(
            &input.fetched,
            &input.id,
            input.timezone,
            input.now,
            max,
        )?;
        batches.push((input.id.clone(), doc.stories, input.now));
    }
    let items: usize = batches.iter().map(|(_, s, _)| s.len()).sum();
    println!(
        "sources={} items={items} prepare_secs={:.3}",
        batches.len(),
        started.elapsed().as_secs_f64()
    );
    let texts: Vec<String> = inputs.iter().map(|i| to_utf8(&i.fetched.body)).collect();

    let base = args.out.join("baseline");
    let options = |name: &str| StoreOptions {
        path: base.join(name),
        cache_capacity: config.store.cache_capacity,
    };
    let runs = args.runs.max(1);

    // What `sosik poll` must be within 1.3x of.
    let commit = measure(
        runs,
        |run| options(&format!("commit-{run}")),
        |store| Ok(commit_all(store, &batches)?),
    )?;
    commit.print("commit");
    let stored = commit.stored;
    println!("commit_stories={stored}");
    println!("commit_stories_per_sec={:.0}", stored as f64 / commit.secs);
    println!("commit_store_bytes={}", dir_size(&options("commit-0").path));

    // The commits and feed-rs's parse side by side: the least a poll can take.
    let floor = measure(
        runs,
        |run| options(&format!("floor-{run}")),
        |store| beside_feed_rs(&texts, || commit_all(store, &batches)),
    )?;
    floor.print("floor_feed_rs");

    // The same two with the commits grouped as a poll's writer may group them.
    let group = config.poll.concurrency.max(1);
    let grouped = measure(
        runs,
        |run| options(&format!("grouped-{run}")),
        |store| Ok(commit_grouped(store, &batches, group)?),
    )?;
    grouped.print("commit_grouped");
    let floor_grouped = measure(
        runs,
        |run| options(&format!("floor-grouped-{run}")),
        |store| beside_feed_rs(&texts, || commit_grouped(store, &batches, group)),
    )?;
    floor_grouped.print("floor_grouped");

    // The poll's own machinery without the network.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let feeds = std::fs::canonicalize(args.out.join("www/feeds"))?;
    let files = measure(
        runs,
        |run| options(&format!("files-{run}")),
        |store| {
            let failed = runtime.block_on(poll_files(&config, store, &feeds))?;
            if failed > 0 {
                return Err(format!("{failed} polls of the corpus's files failed").into());
            }
            Ok(())
        },
    )?;
    files.print("poll_files");
    println!("poll_files_stories={}", files.stored);

    let per_batch = stored.div_ceil(batches.len().max(1)).max(1);
    let (one, two) = raw_sled(&base, config.store.cache_capacity, stored, per_batch)?;
    println!("raw_one_tree_records_per_sec={:.0}", stored as f64 / one);
    println!("raw_two_trees_records_per_sec={:.0}", stored as f64 / two);
    let _ = std::fs::remove_dir_all(&base);
    Ok(())
}

/// `commit` on this thread while another parses every document with feed-rs: a floor.
fn beside_feed_rs(
    texts: &[String],
    commit: impl FnOnce() -> Result<(), StoreError>,
) -> Result<(), Box<dyn std::error::Error>> {
    let (committed, parsed) = std::thread::scope(|scope| {
        let parser = scope.spawn(|| feed_rs_parse_all(texts));
        (commit(), parser.join())
    });
    committed?;
    parsed.map_err(|_| "feed-rs panicked on the corpus")?;
    Ok(())
}

/// The baseline's work: one `Store::commit_one` per source, in order, then one flush. The
/// commit takes its stories owned, so each source's are cloned just before (a poll moves its
/// own), and the stories handed back are freed after the flush, as a poll frees them off the
/// writer's thread.
fn commit_all(store: &Store, batches: &[Batch]) -> Result<(), StoreError> {
    let mut handed_back = Vec::with_capacity(batches.len());
    for (id, stories, at) in batches {
        let committed = store.commit_one(id.clone(), stories.clone(), state_for(stories), *at)?;
        handed_back.push(committed.stories);
    }
    store.flush_blocking()
}

/// The baseline's work with the commits grouped: `Store::commit_group` of `group` sources at a
/// time, in order, each cloned and prepared just before, then one flush.
fn commit_grouped(store: &Store, batches: &[Batch], group: usize) -> Result<(), StoreError> {
    let mut handed_back = Vec::with_capacity(batches.len());
    for chunk in batches.chunks(group) {
        let polls = chunk
            .iter()
            .map(|(source, stories, now)| PollCommit {
                source: source.clone(),
                stories: stories.clone(),
                prepared: store.prepare(stories),
                state: state_for(stories),
                now: *now,
                priorities: Default::default(),
            })
            .collect();
        for result in store.commit_group(polls) {
            handed_back.push(result?.stories);
        }
    }
    store.flush_blocking()
}

/// `sosik poll` without the network: `pipeline::Ingest` itself, every source at once as the
/// command spawns them, each source's URL turned into the `file://` URL of its document (in
/// the page cache after the reads above), then one flush. Returns how many polls failed.
async fn poll_files(
    config: &Config,
    store: &Store,
    feeds: &Path,
) -> Result<usize, Box<dyn std::error::Error>> {
    let mut config = config.clone();
    for source in &mut config.sources {
        let path = feeds.join(format!("{}.xml", source.id));
        source.url = url::Url::from_file_path(&path)
            .map_err(|_| format!("{} is not an absolute path", path.display()))?;
    }
    let sources = config.sources.clone();
    let ingest = Ingest::new(Arc::new(config), store.clone())?;
    let mut polls = tokio::task::JoinSet::new();
    for source in sources {
        let ingest = ingest.clone();
        polls.spawn(async move { ingest.ingest(&source).await });
    }
    let mut failed = 0;
    while let Some(report) = polls.join_next().await {
        if !report?.outcome.is_success() {
            failed += 1;
        }
    }
    store.flush().await?;
    Ok(failed)
}

/// The median of a measure's runs, and every run's seconds.
struct Measured {
    secs: f64,
    /// CPU seconds of the median run, every thread of the process (sled's own included).
    cpu: Option<f64>,
    /// Stories in the store after the median run.
    stored: usize,
    runs: String,
}

impl Measured {
    /// `{name}_secs`, `{name}_secs_runs` and `{name}_cpu_secs` lines for `bench/run.sh`.
    fn print(&self, name: &str) {
        println!("{name}_secs={:.3}", self.secs);
        println!("{name}_secs_runs={}", self.runs);
        if let Some(cpu) = self.cpu {
            println!("{name}_cpu_secs={cpu:.2}");
        }
    }
}

/// Runs `work` `runs` times, each on a fresh store at `options(run)`, timing it with the
/// flushes it makes; the median run by wall time.
fn measure(
    runs: usize,
    options: impl Fn(usize) -> StoreOptions,
    mut work: impl FnMut(&Store) -> Result<(), Box<dyn std::error::Error>>,
) -> Result<Measured, Box<dyn std::error::Error>> {
    let mut all = Vec::new();
    for run in 0..runs {
        let store = fresh(&options(run))?;
        let cpu_before = cpu_secs();
        let started = Instant::now();
        work(&store)?;
        let secs = started.elapsed().as_secs_f64();
        let cpu = cpu_before.zip(cpu_secs()).map(|(b, a)| a - b);
        all.push((secs, cpu, store.len()));
    }
    let listed: Vec<String> = all.iter().map(|r| format!("{:.3}", r.0)).collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (secs, cpu, stored) = all[all.len() / 2];
    Ok(Measured {
        secs,
        cpu,
        stored,
        runs: listed.join(","),
    })
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
