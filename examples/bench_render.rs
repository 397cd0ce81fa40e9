//! Issue 6's render target, in-process: the time `Publisher` needs to select, filter and
//! render an output from a full store, without the process start and store open that
//! `sosik render` pays on every call.
//!
//! ```sh
//! cargo run --release --example bench_render -- OUT_DIR/sosik.toml [--output it] [--runs 30]
//! ```
//!
//! Opens the config's store (timed on its own), renders the output once (the first render
//! after opening, with a cold cache), then `--runs` times after `Publisher::invalidate`, so
//! each of those is a full cache miss: store walk, filter, render. Reports `key=value` lines
//! that `bench/run.sh` reads. The store must not be in use by a running daemon.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use sosik::config::Config;
use sosik::publish::Publisher;
use sosik::render::Format;
use sosik::store::{Store, StoreOptions};

/// In-process render timing.
#[derive(Debug, Parser)]
struct Args {
    /// The config whose store and outputs to use.
    config: PathBuf,
    /// Output name.
    #[arg(long, default_value = "it")]
    output: String,
    /// rss, atom or json.
    #[arg(long, default_value = "rss")]
    format: String,
    /// Timed renders after the first.
    #[arg(long, default_value_t = 30)]
    runs: usize,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let format: Format = args.format.parse()?;
    let config = Arc::new(Config::load(&args.config)?);

    let started = Instant::now();
    let store = Store::open(&StoreOptions {
        path: config.store.path.clone(),
        cache_capacity: config.store.cache_capacity,
    })?;
    let open = started.elapsed();
    let publisher = Publisher::new(config, store.clone());

    let started = Instant::now();
    let first = publisher.render(&args.output, format)?;
    let first_time = started.elapsed();

    let mut times: Vec<Duration> = (0..args.runs.max(1))
        .map(|_| {
            publisher.invalidate();
            let started = Instant::now();
            let rendered = publisher.render(&args.output, format);
            let elapsed = started.elapsed();
            assert!(rendered.is_ok(), "a render failed: {rendered:?}");
            elapsed
        })
        .collect();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("stories={}", store.len());
    println!("items={} bytes={}", first.items, first.bytes.len());
    println!("open_ms={:.2}", ms(open));
    println!("first_render_ms={:.2}", ms(first_time));
    println!("render_ms_min={:.2}", ms(times[0]));
    println!("render_ms_median={:.2}", ms(times[times.len() / 2]));
    println!("render_ms_max={:.2}", ms(times[times.len() - 1]));
    Ok(())
}
