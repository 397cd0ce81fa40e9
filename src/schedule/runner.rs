//! The loop that starts each source's poll when it is due.
//!
//! Due times live in memory (a sorted set), seeded from the times persisted in the store, so a
//! restart neither stampedes every source nor forgets one; each finished poll says when it
//! wants to run next. The loop never polls a source twice at once, catches a panic in one
//! source's poll (that source is retried after `min_interval`), and on shutdown stops
//! starting polls and gives running ones a grace period before abandoning them.

use std::collections::BTreeSet;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::Clock;

/// What the loop needs to know of a finished poll.
pub trait Scheduled {
    /// When to poll this source again; `None` stops polling it (the feed is gone).
    fn next_poll(&self) -> Option<DateTime<Utc>>;
}

/// Longest sleep between passes, so a clock jump (suspend, NTP) is noticed within a minute.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// Runs polls until `shutdown`. `due[i]` is when source `i` is first due (`None`: never, e.g.
/// disabled or gone). `poll(i)` polls source `i`; `on_done(i, result)` sees each result, or
/// `Err(message)` when the poll panicked. `retry_after_panic` is when a panicked source is
/// tried again. Returns once running polls finished or `grace` ran out.
#[allow(clippy::too_many_arguments)]
pub async fn run<R, F, Fut>(
    due: Vec<Option<DateTime<Utc>>>,
    clock: Clock,
    shutdown: CancellationToken,
    grace: Duration,
    retry_after_panic: Duration,
    poll: F,
    mut on_done: impl FnMut(usize, Result<&R, &str>),
) where
    R: Scheduled + Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = R> + Send + 'static,
{
    let mut queue: BTreeSet<(DateTime<Utc>, usize)> = due
        .iter()
        .enumerate()
        .filter_map(|(i, at)| at.map(|at| (at, i)))
        .collect();
    let mut running: JoinSet<(usize, Result<R, String>)> = JoinSet::new();
    loop {
        let now = clock.now();
        while let Some(&(at, i)) = queue.first() {
            if at > now {
                break;
            }
            queue.pop_first();
            let work = AssertUnwindSafe(poll(i)).catch_unwind();
            running.spawn(async move { (i, work.await.map_err(|p| crate::panic_message(&*p))) });
        }
        let sleep = queue.first().map_or(MAX_SLEEP, |(at, _)| {
            (*at - now)
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(MAX_SLEEP)
        });
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(sleep) => {}
            Some(done) = running.join_next(), if !running.is_empty() => {
                let Ok((i, result)) = done else {
                    // Only a cancelled task ends without a result, and nothing cancels them here.
                    continue;
                };
                match &result {
                    Ok(report) => {
                        on_done(i, Ok(report));
                        if let Some(at) = report.next_poll() {
                            queue.insert((at, i));
                        }
                    }
                    Err(message) => {
                        on_done(i, Err(message));
                        let at = clock.now() + chrono::Duration::from_std(retry_after_panic).unwrap_or(chrono::Duration::MAX);
                        queue.insert((at, i));
                    }
                }
            }
        }
    }
    let drain = async {
        while let Some(done) = running.join_next().await {
            if let Ok((i, result)) = done {
                match &result {
                    Ok(report) => on_done(i, Ok(report)),
                    Err(message) => on_done(i, Err(message)),
                }
            }
        }
    };
    if tokio::time::timeout(grace, drain).await.is_err() {
        tracing::warn!(
            ?grace,
            "in-flight polls did not finish in time; abandoning them"
        );
        running.abort_all();
    }
}
