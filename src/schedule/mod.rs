//! When sources are polled, and how many at once.
//!
//! Owns the interval arithmetic (the source's interval raised by publisher hints, kept within
//! `[min_interval, max_interval]`, ±10% jitter, `skipHours`/`skipDays`, exponential backoff,
//! `Retry-After`), the concurrency limits (a global semaphore and one per host), the clock,
//! and the loop that starts each poll when it is due. It never does HTTP itself: the loop calls
//! the poll function it is given, and callers hold its permits around their fetches.

mod clock;
mod hints;
mod limits;
mod runner;

use std::time::Duration;

use chrono::{DateTime, Utc};

pub use clock::Clock;
pub use hints::Hints;
pub use limits::{Limits, Permits};
pub use runner::{Control, Hooks, Scheduled, Timing, run, run_controlled};

/// The bounds every computed interval is kept within, and the jitter applied.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// `poll.min_interval`: the floor, publisher hints and Retry-After included.
    pub min: Duration,
    /// `poll.max_interval`: the ceiling, error backoff and Retry-After included.
    pub max: Duration,
    /// Fraction of random spread, e.g. 0.1 for ±10%, so sources polled together drift apart.
    pub jitter: f64,
}

impl Policy {
    /// The policy of `[poll]`, with ±10% jitter.
    pub fn new(min: Duration, max: Duration) -> Policy {
        Policy {
            min,
            max,
            jitter: 0.1,
        }
    }

    fn spread(&self, wait: Duration, rng: &mut fastrand::Rng) -> Duration {
        let factor = 1.0 + self.jitter * (rng.f64() * 2.0 - 1.0);
        wait.mul_f64(factor.max(0.0)).clamp(self.min, self.max)
    }
}

/// The next poll after a success (200 or 304): the source's interval, raised by the
/// publisher's hints, jittered, kept within the policy's bounds, and moved out of the hours and
/// days the publisher asked us to skip (never past the ceiling).
pub fn after_success(
    policy: &Policy,
    interval: Duration,
    hints: &Hints,
    now: DateTime<Utc>,
    rng: &mut fastrand::Rng,
) -> DateTime<Utc> {
    let wait = hints
        .interval(now)
        .map_or(interval, |hinted| interval.max(hinted));
    let at = now + to_chrono(policy.spread(wait, rng));
    let latest = now + to_chrono(policy.max);
    hints.first_allowed(at).min(latest)
}

/// The next poll after the `errors`-th failure in a row: the interval doubled per failure
/// (jittered, up to the ceiling), or the server's `Retry-After` when that is longer (capped at
/// the ceiling too). Never "give up": the ceiling is still a next poll.
pub fn after_failure(
    policy: &Policy,
    interval: Duration,
    errors: u32,
    retry_after: Option<Duration>,
    now: DateTime<Utc>,
    rng: &mut fastrand::Rng,
) -> DateTime<Utc> {
    let doubled = interval.saturating_mul(1u32 << errors.saturating_sub(1).min(20));
    let backoff = policy.spread(doubled, rng);
    let wait = backoff.max(retry_after.unwrap_or(Duration::ZERO).min(policy.max));
    now + to_chrono(wait)
}

fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests;
