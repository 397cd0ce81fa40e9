//! What `[poll]` builds for the polls (the HTTP client, the limits, the interval bounds),
//! swapped whole when a reload changes `[poll]`, and the pipeline's thread count.

use crate::config::Config;
use crate::fetch::{FetchError, FetchSettings, Fetcher};
use crate::schedule::{Limits, Policy};

/// What `[poll]` builds: the HTTP client, the concurrency limits and the interval bounds.
#[derive(Debug)]
pub(super) struct Tuning {
    pub(super) fetcher: Fetcher,
    pub(super) limits: Limits,
    pub(super) policy: Policy,
    /// The `[poll]` these were built from, to tell whether a reload changed it.
    pub(super) from: String,
}

impl Tuning {
    pub(super) fn new(config: &Config) -> Result<Tuning, FetchError> {
        Ok(Tuning {
            fetcher: Fetcher::new(fetch_settings(config))?,
            limits: Limits::new(config.poll.concurrency, config.poll.per_host_concurrency),
            policy: Policy::new(config.poll.min_interval, config.poll.max_interval),
            from: format!("{:?}", config.poll),
        })
    }
}

/// How many documents are read (decoded, parsed, normalized) at once: one per core.
pub(super) fn cpu_threads() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

/// The settings a [`Fetcher`] needs, from `[poll]`.
pub fn fetch_settings(config: &Config) -> FetchSettings {
    FetchSettings {
        timeout: config.poll.timeout,
        max_body_bytes: config.poll.max_body_bytes,
        user_agent: config.poll.user_agent.clone(),
    }
}
