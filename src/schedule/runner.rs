//! The loop that starts each source's poll when it is due.
//!
//! Due times live in memory (a sorted set), seeded from the times persisted in the store, so a
//! restart neither stampedes every source nor forgets one; each finished poll says when it
//! wants to run next. The loop never polls a source twice at once, and on shutdown stops
//! starting polls and gives running ones a grace period before abandoning them. Each poll is
//! its own task; a poll function that panics (sosik's own never does: `Ingest` is the poll's
//! panic boundary) ends only its task, and the loop hears of it from the task's join and
//! retries that source after `retry_after_panic`, without a second `catch_unwind` here.
//!
//! While it runs, [`Control`] messages change what it polls (a reload adds, re-times and
//! forgets sources) and ask for a poll now (`sosik poll` beside the daemon), answered with the
//! poll's report; a source already being polled is not polled twice: the asker gets the
//! report of the poll in flight.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};
use tokio::task::{Id, JoinError, JoinSet};
use tokio_util::sync::CancellationToken;

use super::Clock;

/// What the loop needs to know of a finished poll.
pub trait Scheduled {
    /// When to poll this source again; `None` stops polling it (the feed is gone).
    fn next_poll(&self) -> Option<DateTime<Utc>>;
}

/// A change to what the loop polls, sent while it runs.
#[derive(Debug)]
pub enum Control<K, R> {
    /// Poll `K` from now on, first at this time (replacing the time it had): an added or
    /// re-enabled source. `None` keeps it known without a time (a gone source).
    Due(K, Option<DateTime<Utc>>),
    /// Stop polling `K` (removed or disabled): it leaves the queue; a poll of it in flight
    /// finishes and is not followed by another.
    Forget(K),
    /// Poll `K` now, or join its poll in flight, and answer with the report. The answer is
    /// dropped when the poll panicked, was abandoned at shutdown, or `K` cannot be polled.
    PollNow(K, oneshot::Sender<Arc<R>>),
}

/// Longest sleep between passes, so a clock jump (suspend, NTP) is noticed within a minute.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// How long no poll may run before the loop calls it quiet (`on_idle`): long enough that a
/// round of polls finishing one after another is one round, short enough that an idle daemon
/// hands back a round's memory within seconds.
pub const QUIET: Duration = Duration::from_secs(2);

/// The loop over sources numbered `0..due.len()`, with no control channel: see
/// [`run_controlled`]. `due[i]` is when source `i` is first due (`None`: never).
#[allow(clippy::too_many_arguments)]
pub async fn run<R, F, Fut>(
    due: Vec<Option<DateTime<Utc>>>,
    clock: Clock,
    shutdown: CancellationToken,
    grace: Duration,
    retry_after_panic: Duration,
    poll: F,
    mut on_done: impl FnMut(usize, Result<&R, &str>),
    on_idle: impl FnMut(),
) where
    R: Scheduled + Send + Sync + 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = R> + Send + 'static,
{
    let due = due.into_iter().enumerate().collect();
    let (_keep, control) = mpsc::unbounded_channel();
    let timing = Timing {
        clock,
        grace,
        retry_after_panic,
    };
    let hooks = Hooks {
        poll: |i: &usize| Some(poll(*i)),
        on_done: |i: &usize, result: Result<&R, &str>| on_done(*i, result),
        on_idle,
    };
    run_controlled(due, timing, shutdown, control, hooks).await;
}

/// The loop's clock and its waits.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// "Now".
    pub clock: Clock,
    /// How long running polls may take to finish after `shutdown`.
    pub grace: Duration,
    /// When a source whose poll panicked is tried again.
    pub retry_after_panic: Duration,
}

/// What the loop calls: `poll(k)` starts a poll of `k` (`None`: `k` cannot be polled, e.g. it
/// left the config); `on_done(k, result)` sees each result, or `Err(message)` when the poll
/// panicked; `on_idle()` runs once each time the last running poll has finished and [`QUIET`]
/// has passed without another starting.
pub struct Hooks<P, D, I> {
    /// Starts a poll.
    pub poll: P,
    /// Sees each finished poll.
    pub on_done: D,
    /// Runs when the loop falls quiet.
    pub on_idle: I,
}

/// Runs polls until `shutdown`. `due` lists the sources polled, each with when it is first
/// due (`None`: known, but not until a [`Control`] or a poll asked for says when). Returns
/// once running polls finished or `timing.grace` ran out.
pub async fn run_controlled<K, R, P, Fut, D, I>(
    due: Vec<(K, Option<DateTime<Utc>>)>,
    timing: Timing,
    shutdown: CancellationToken,
    mut control: mpsc::UnboundedReceiver<Control<K, R>>,
    mut hooks: Hooks<P, D, I>,
) where
    K: Clone + Ord + Hash + Send + 'static,
    R: Scheduled + Send + Sync + 'static,
    P: FnMut(&K) -> Option<Fut>,
    Fut: Future<Output = R> + Send + 'static,
    D: FnMut(&K, Result<&R, &str>),
    I: FnMut(),
{
    let clock = timing.clock;
    let mut state = Loop::new(due);
    // When the loop is quiet, if it is heading there: set as the last poll finishes.
    let mut quiet_at: Option<tokio::time::Instant> = None;
    let mut listening = true;
    loop {
        let now = clock.now();
        while let Some((at, k)) = state.queue.first().cloned() {
            if at > now {
                break;
            }
            state.unqueue(&k);
            if state.start(&k, &mut hooks.poll) {
                quiet_at = None;
            }
        }
        let sleep = state.queue.first().map_or(MAX_SLEEP, |(at, _)| {
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
                (hooks.on_idle)();
            }
            message = control.recv(), if listening => match message {
                Some(message) => {
                    if state.apply(message, &mut hooks.poll) {
                        quiet_at = None;
                    }
                }
                None => listening = false,
            },
            Some(done) = state.running.join_next_with_id(), if !state.running.is_empty() => {
                if state.running.is_empty() {
                    quiet_at = Some(tokio::time::Instant::now() + QUIET);
                }
                state.finish(done, &timing, &mut hooks.on_done);
            }
        }
    }
    let drain = async {
        while let Some(done) = state.running.join_next_with_id().await {
            state.finish(done, &timing, &mut hooks.on_done);
        }
    };
    if tokio::time::timeout(timing.grace, drain).await.is_err() {
        tracing::warn!(
            grace = ?timing.grace,
            "in-flight polls did not finish in time; abandoning them"
        );
        state.running.abort_all();
    }
}

/// The loop's bookkeeping: what is due when, what runs, who waits for it.
struct Loop<K, R> {
    queue: BTreeSet<(DateTime<Utc>, K)>,
    /// Each queued source's time in `queue`.
    due_at: HashMap<K, DateTime<Utc>>,
    /// The sources the loop polls on its own (a forgotten one is only polled when asked).
    known: HashSet<K>,
    running: JoinSet<R>,
    /// Which source each running task polls.
    polling: HashMap<Id, K>,
    /// The sources being polled, each with who asked for its report.
    waiting: HashMap<K, Vec<oneshot::Sender<Arc<R>>>>,
}

impl<K, R> Loop<K, R>
where
    K: Clone + Ord + Hash + Send + 'static,
    R: Scheduled + Send + Sync + 'static,
{
    fn new(due: Vec<(K, Option<DateTime<Utc>>)>) -> Loop<K, R> {
        let mut state = Loop {
            queue: BTreeSet::new(),
            due_at: HashMap::new(),
            known: HashSet::new(),
            running: JoinSet::new(),
            polling: HashMap::new(),
            waiting: HashMap::new(),
        };
        for (k, at) in due {
            state.known.insert(k.clone());
            if let Some(at) = at {
                state.enqueue(k, at);
            }
        }
        state
    }

    fn enqueue(&mut self, k: K, at: DateTime<Utc>) {
        self.unqueue(&k);
        self.queue.insert((at, k.clone()));
        self.due_at.insert(k, at);
    }

    fn unqueue(&mut self, k: &K) {
        if let Some(at) = self.due_at.remove(k) {
            self.queue.remove(&(at, k.clone()));
        }
    }

    /// Starts a poll of `k` unless one runs; whether one started.
    fn start<F: Future<Output = R> + Send + 'static>(
        &mut self,
        k: &K,
        poll: &mut impl FnMut(&K) -> Option<F>,
    ) -> bool {
        if self.waiting.contains_key(k) {
            return false;
        }
        let Some(task) = poll(k) else {
            return false;
        };
        let id = self.running.spawn(task).id();
        self.polling.insert(id, k.clone());
        self.waiting.insert(k.clone(), Vec::new());
        true
    }

    /// Applies a control message; whether a poll started.
    fn apply<F: Future<Output = R> + Send + 'static>(
        &mut self,
        message: Control<K, R>,
        poll: &mut impl FnMut(&K) -> Option<F>,
    ) -> bool {
        match message {
            Control::Due(k, at) => {
                self.known.insert(k.clone());
                match at {
                    // A poll in flight says when the next one is when it ends.
                    Some(at) if !self.waiting.contains_key(&k) => self.enqueue(k, at),
                    _ => {}
                }
                false
            }
            Control::Forget(k) => {
                self.known.remove(&k);
                self.unqueue(&k);
                false
            }
            Control::PollNow(k, answer) => {
                let started = if self.waiting.contains_key(&k) {
                    false
                } else {
                    self.unqueue(&k);
                    self.start(&k, poll)
                };
                // Dropped (the asker hears "no answer") when no poll runs.
                if let Some(waiting) = self.waiting.get_mut(&k) {
                    waiting.push(answer);
                }
                started
            }
        }
    }

    /// A poll ended: its report to `on_done` and to whoever asked for it, and the source's
    /// next time queued while the loop still knows it.
    fn finish(
        &mut self,
        done: Result<(Id, R), JoinError>,
        timing: &Timing,
        on_done: &mut impl FnMut(&K, Result<&R, &str>),
    ) {
        let (id, result) = match done {
            Ok((id, report)) => (id, Ok(report)),
            Err(e) if e.is_panic() => (e.id(), Err(crate::join_message(e))),
            Err(e) => {
                // Cancelled: nothing cancels them before the grace period ends.
                if let Some(k) = self.polling.remove(&e.id()) {
                    self.waiting.remove(&k);
                }
                return;
            }
        };
        let Some(k) = self.polling.remove(&id) else {
            return;
        };
        let waiting = self.waiting.remove(&k).unwrap_or_default();
        on_done(&k, result.as_ref().map_err(String::as_str));
        let next = match &result {
            Ok(report) => report.next_poll(),
            Err(_) => Some(
                timing.clock.now()
                    + chrono::Duration::from_std(timing.retry_after_panic)
                        .unwrap_or(chrono::Duration::MAX),
            ),
        };
        if let Ok(report) = result {
            let report = Arc::new(report);
            for answer in waiting {
                let _ = answer.send(report.clone());
            }
        }
        if let Some(at) = next
            && self.known.contains(&k)
        {
            // Queued meanwhile (re-added while it ran): the earlier time wins.
            let at = self.due_at.get(&k).map_or(at, |&queued| queued.min(at));
            self.enqueue(k, at);
        }
    }
}

/// Sleeps until `at`; never wakes when there is none (its `select!` branch is disabled then).
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
