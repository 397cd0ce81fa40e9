//! Publisher hints about how often to poll: HTTP `Cache-Control: max-age` and `Expires`, RSS
//! `<ttl>`, `sy:updatePeriod`/`sy:updateFrequency`, `skipHours` and `skipDays`.

use std::time::Duration;

use chrono::{DateTime, Datelike, Timelike, Utc};

/// Longest interval a hint may ask for; anything longer is the ceiling's business anyway.
const LONGEST_HINT: Duration = Duration::from_secs(366 * 86_400);

/// Everything a publisher said about freshness, as the scheduler uses it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hints {
    /// `Cache-Control: max-age`.
    pub max_age: Option<Duration>,
    /// `Expires`.
    pub expires: Option<DateTime<Utc>>,
    /// The feed's own rhythm: the longer of `<ttl>` and `sy:updatePeriod / sy:updateFrequency`.
    pub feed_interval: Option<Duration>,
    /// `skipHours`: bit `h` set means hour `h` (UTC) is skipped.
    pub skip_hours: u32,
    /// `skipDays`: bit 0 is Monday … bit 6 Sunday.
    pub skip_days: u8,
}

impl Hints {
    /// The feed-level hints of a channel: `<ttl>` (minutes), `sy:updatePeriod` and
    /// `sy:updateFrequency`, `skipHours`, `skipDays` (names, any case).
    pub fn from_channel(
        ttl_minutes: Option<u32>,
        update_period: Option<&str>,
        update_frequency: Option<u32>,
        skip_hours: &[u8],
        skip_days: &[String],
    ) -> Hints {
        let ttl = ttl_minutes
            .filter(|m| *m > 0)
            .map(|m| Duration::from_secs(u64::from(m) * 60));
        let period = update_period.and_then(|p| match p.trim().to_ascii_lowercase().as_str() {
            "hourly" => Some(3600u64),
            "daily" => Some(86_400),
            "weekly" => Some(7 * 86_400),
            "monthly" => Some(30 * 86_400),
            "yearly" => Some(365 * 86_400),
            _ => None,
        });
        let sy = period
            .map(|p| Duration::from_secs(p / u64::from(update_frequency.unwrap_or(1).max(1))));
        let mut hours = 0u32;
        for h in skip_hours.iter().filter(|h| **h < 24) {
            hours |= 1 << h;
        }
        let mut days = 0u8;
        for d in skip_days {
            let bit = match d.trim().to_ascii_lowercase().as_str() {
                "monday" => 0,
                "tuesday" => 1,
                "wednesday" => 2,
                "thursday" => 3,
                "friday" => 4,
                "saturday" => 5,
                "sunday" => 6,
                _ => continue,
            };
            days |= 1 << bit;
        }
        // A feed that skips every hour or every day would never be polled: ignore such hints.
        if hours == (1 << 24) - 1 {
            hours = 0;
        }
        if days == 0x7f {
            days = 0;
        }
        Hints {
            max_age: None,
            expires: None,
            feed_interval: ttl.max(sy),
            skip_hours: hours,
            skip_days: days,
        }
    }

    /// The longest wait any hint asks for, from `now`.
    pub fn interval(&self, now: DateTime<Utc>) -> Option<Duration> {
        let expires = self.expires.and_then(|e| (e - now).to_std().ok());
        [self.max_age, expires, self.feed_interval]
            .into_iter()
            .flatten()
            .max()
            .map(|d| d.min(LONGEST_HINT))
    }

    fn skipped(&self, t: DateTime<Utc>) -> bool {
        self.skip_hours & (1 << t.hour()) != 0
            || self.skip_days & (1 << t.weekday().num_days_from_monday()) != 0
    }

    /// `t`, or the start of the first hour after it that is neither a skipped hour nor on a
    /// skipped day.
    pub fn first_allowed(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        let mut at = t;
        // A week of hours is enough: the all-skipped cases were cleared at construction.
        for _ in 0..(24 * 8) {
            if !self.skipped(at) {
                return at;
            }
            let next_hour = at
                .with_minute(0)
                .and_then(|t| t.with_second(0))
                .and_then(|t| t.with_nanosecond(0))
                .unwrap_or(at);
            at = next_hour + chrono::Duration::hours(1);
        }
        t
    }
}
