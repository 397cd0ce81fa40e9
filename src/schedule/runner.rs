//! The loop that starts each source's poll when it is due.
//!
//! Due times live in memory (a sorted set), seeded from the times persisted in the store, so a
//! restart neither stampedes every source nor forgets one; each finished poll says when it
//! wants to run next. The loop never polls a source twice at once, and on shutdown stops
//! starting polls and gives running ones a grace period before abandoning them. Each poll is
//! its own task; a poll function that panics (sosik's own never does: `Ingest` is the poll's
//! panic boundary) ends only its task, and the loop hears of it from the task's join and
//! retries that source after `retry_after_panic`, without a second `catch_unwind` here.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::{Id, JoinError, JoinSet};
use tokio_util::sync::CancellationToken;

use super::Clock;

/// What the loop needs to know of a finished poll.
pub trait Scheduled {
    /// When to poll this source again; `None` stops polling it (the feed is gone).
    fn next_poll(&self) -> Option<DateTime<Utc>>;
}

/// Longest sleep between passes, so a clock jump (suspend, NTP) is noticed within a minute.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// How long no poll may run before the loop calls it quiet (`on_idle`): long enough that a
/// round of polls finishing one after another is one round, short enough that an idle daemon
/// hands back a round's memory within seconds.
pub const QUIET: Duration = Duration::from_secs(2);

/// Runs polls until `shutdown`. `due[i]` is when source `i` is first due (`None`: never, e.g.
/// disabled or gone). `poll(i)` polls source `i`; `on_done(i, result)` sees each result, or
/// `Err(message)` when the poll panicked. `retry_after_panic` is when a panicked source is
/// tried again. `on_idle()` runs once each time the last running poll has finished and
/// [`QUIET`] has passed without another starting. Returns once running polls finished or
/// `grace` ran out.
#[allow(clippy::too_many_arguments)]
pub async fn run<R, F, Fut>(
    due: Vec<Option<DateTime<Utc>>>,
    clock: Clock,
    shutdown: CancellationToken,
    grace: Duration,
    retry_after_panic: Duration,
    poll: F,
    mut on_done: impl FnMut(usize, Result<&R, &str>),
    mut on_idle: impl FnMut(),
) where
    R: Scheduled + Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = R> + Send + 'static,
{
    let mut queue: BTreeSet<(DateTime<Utc>, usize)> = (due.into_iter().enumerate())
        .filter_map(|(i, at)| Some((at?, i)))
        .collect();
    let mut running: JoinSet<R> = JoinSet::new();
    // Which source each running task polls.
    let mut polling: HashMap<Id, usize> = HashMap::new();
    // When the loop is quiet, if it is heading there: set as the last poll finishes.
    let mut quiet_at: Option<tokio::time::Instant> = None;
    loop {
        let now = clock.now();
        while let Some(&(at, i)) = queue.first() {
            if at > now {
                break;
            }
            queue.pop_first();
            quiet_at = None;
            polling.insert(running.spawn(poll(i)).id(), i);
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
            _ = sleep_until(quiet_at), if quiet_at.is_some() => {
                quiet_at = None;
                on_idle();
            }
            Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                if running.is_empty() {
                    quiet_at = Some(tokio::time::Instant::now() + QUIET);
                }
                let Some((i, result)) = finished(done, &mut polling) else {
                    continue;
                };
                on_done(i, result.as_ref().map_err(String::as_str));
                let next = match &result {
                    Ok(report) => report.next_poll(),
                    Err(_) => Some(clock.now() + chrono::Duration::from_std(retry_after_panic).unwrap_or(chrono::Duration::MAX)),
                };
                if let Some(at) = next {
                    queue.insert((at, i));
                }
            }
        }
    }
    let drain = async {
        while let Some(done) = running.join_next_with_id().await {
            if let Some((i, result)) = finished(done, &mut polling) {
                on_done(i, result.as_ref().map_err(String::as_str));
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

/// The source a finished task polled, and its report or its panic's message; `None` for a
/// cancelled task (nothing cancels them before the grace period ends).
fn finished<R>(
    done: Result<(Id, R), JoinError>,
    polling: &mut HashMap<Id, usize>,
) -> Option<(usize, Result<R, String>)> {
    let (id, result) = match done {
        Ok((id, report)) => (id, Ok(report)),
        Err(e) if e.is_panic() => (e.id(), Err(crate::join_message(e))),
        Err(e) => {
            polling.remove(&e.id());
            return None;
        }
    };
    Some((polling.remove(&id)?, result))
}

/// Sleeps until `at`; never wakes when there is none (its `select!` branch is disabled then).
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
