//! The scheduler's clock: wall time in production; in tests, wall time anchored once and
//! advanced by tokio's clock, so `tokio::time::pause` makes hours pass in milliseconds.

use chrono::{DateTime, Utc};

/// Where "now" comes from.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    /// `Utc::now()`.
    System,
    /// `utc` at the moment tokio's clock read `instant`, advancing with tokio's clock.
    Anchored {
        /// Wall time at the anchor.
        utc: DateTime<Utc>,
        /// tokio's clock at the anchor.
        instant: tokio::time::Instant,
    },
}

impl Clock {
    /// A clock that follows tokio's (possibly paused) time from `utc` on.
    pub fn anchored(utc: DateTime<Utc>) -> Clock {
        Clock::Anchored {
            utc,
            instant: tokio::time::Instant::now(),
        }
    }

    /// The current time.
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Anchored { utc, instant } => {
                *utc + chrono::Duration::from_std(instant.elapsed())
                    .unwrap_or(chrono::Duration::MAX)
            }
        }
    }
}
