//! When sources are polled, and how many at once.
//!
//! Owns the concurrency limits (a global semaphore and one per host) and the interval
//! arithmetic. It never does HTTP itself: callers hold its permits around their fetches.

mod limits;

use std::time::Duration;

use chrono::{DateTime, Utc};

pub use limits::{Limits, Permits};

/// The time of the next poll after a success: the interval kept within
/// `[min_interval, max_interval]`.
pub fn next_after_success(
    now: DateTime<Utc>,
    interval: Duration,
    min: Duration,
    max: Duration,
) -> DateTime<Utc> {
    now + chrono::Duration::from_std(interval.clamp(min, max)).unwrap_or(chrono::Duration::MAX)
}

/// The time of the next poll after `errors` failures in a row: the interval doubled per
/// failure, up to `max_interval`, or the server's `Retry-After` when it asked for longer.
pub fn next_after_failure(
    now: DateTime<Utc>,
    interval: Duration,
    errors: u32,
    retry_after: Option<Duration>,
    min: Duration,
    max: Duration,
) -> DateTime<Utc> {
    let doubled = interval.saturating_mul(1u32 << errors.saturating_sub(1).min(16));
    let wait = doubled
        .clamp(min, max)
        .max(retry_after.unwrap_or(Duration::ZERO).min(max));
    now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_ceiling_and_honours_retry_after() {
        let now = Utc::now();
        let min = Duration::from_secs(300);
        let max = Duration::from_secs(86_400);
        let i = Duration::from_secs(600);
        let wait = |errors, retry| {
            (next_after_failure(now, i, errors, retry, min, max) - now).num_seconds()
        };
        assert_eq!(wait(1, None), 600);
        assert_eq!(wait(2, None), 1200);
        assert_eq!(wait(3, None), 2400);
        assert_eq!(wait(40, None), 86_400);
        assert_eq!(wait(1, Some(Duration::from_secs(7200))), 7200);
        assert_eq!(wait(1, Some(Duration::from_secs(999_999))), 86_400);
        assert_eq!(
            (next_after_success(now, Duration::from_secs(10), min, max) - now).num_seconds(),
            300
        );
    }
}
