//! What one poll gives back: its outcome, the report the scheduler and `sosik poll` read, and
//! [`record_poll`], the one place a poll's metrics and log line are written.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::decode::DecodeError;
use crate::fetch::FetchError;
use crate::metrics::{Metrics, OutcomeLabels, SourceLabels};
use crate::model::SourceId;
use crate::parse::ParseError;
use crate::schedule;
use crate::store::{CommitCounts, StoreError};

/// Why one poll of one source failed.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Fetching failed.
    #[error("{0}")]
    Fetch(#[from] FetchError),
    /// The body could not be decoded.
    #[error("{0}")]
    Decode(#[from] DecodeError),
    /// The body is not a feed we can read.
    #[error("{0}")]
    Parse(#[from] ParseError),
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// A bug: the work for this source panicked. Caught, so the others go on.
    #[error("internal error while processing this source: {0}")]
    Panicked(String),
    /// A worker thread this poll needed is gone (the process is stopping, or it could not
    /// start one): not a bug in this source's work.
    #[error("cannot process this source now: {0}")]
    WorkerGone(String),
}

/// How one poll ended.
#[derive(Debug)]
pub enum PollOutcome {
    /// A document was read and committed.
    Stored {
        /// HTTP status (200) or 200 for files.
        status: u16,
        /// What the commit did.
        counts: CommitCounts,
        /// Stories in the document after in-document dedupe and caps.
        items: usize,
        /// The charset used.
        encoding: &'static str,
    },
    /// 304: nothing changed.
    NotModified,
    /// The source is gone (410) and is no longer polled.
    Gone,
    /// The poll failed.
    Failed(IngestError),
}

impl PollOutcome {
    /// Whether this poll counts as a success for `sosik poll`'s exit code.
    pub fn is_success(&self) -> bool {
        matches!(self, PollOutcome::Stored { .. } | PollOutcome::NotModified)
    }

    /// Whether the poll stored a new or edited story.
    pub fn changed(&self) -> bool {
        matches!(self, PollOutcome::Stored { counts, .. } if counts.new + counts.updated > 0)
    }

    /// The label of `sosik_fetches_total`.
    pub fn label(&self) -> &'static str {
        match self {
            PollOutcome::Stored { .. } => "stored",
            PollOutcome::NotModified => "not_modified",
            PollOutcome::Gone => "gone",
            PollOutcome::Failed(IngestError::Panicked(_)) => "panicked",
            PollOutcome::Failed(_) => "failed",
        }
    }
}

/// One source's poll, for reports, logs and the scheduler.
#[derive(Debug)]
pub struct PollReport {
    /// The source.
    pub source: SourceId,
    /// What happened.
    pub outcome: PollOutcome,
    /// Wall time of the whole poll.
    pub elapsed: Duration,
    /// When this source is due again; `None` when it is gone.
    pub next_poll: Option<DateTime<Utc>>,
    /// Failures since the last success, this one included.
    pub consecutive_errors: u32,
}

impl schedule::Scheduled for PollReport {
    fn next_poll(&self) -> Option<DateTime<Utc>> {
        self.next_poll
    }
}

/// Logs the poll's outcome with the fixed field names and counts it in `metrics`.
pub(crate) fn record_poll(report: &PollReport, metrics: Option<&Metrics>) {
    match &report.outcome {
        PollOutcome::Stored {
            counts,
            items,
            status,
            ..
        } => tracing::info!(
            status,
            new = counts.new,
            updated = counts.updated,
            items,
            "polled"
        ),
        PollOutcome::NotModified => tracing::debug!(status = 304, "not modified"),
        PollOutcome::Gone => tracing::warn!(status = 410, "the feed is gone; polling stopped"),
        PollOutcome::Failed(error) => {
            tracing::warn!(%error, errors = report.consecutive_errors, "poll failed")
        }
    }
    let Some(metrics) = metrics else {
        return;
    };
    let labels = SourceLabels {
        source: report.source.to_string(),
    };
    let outcome = OutcomeLabels {
        outcome: report.outcome.label(),
    };
    metrics.fetches.get_or_create(&outcome).inc();
    if let PollOutcome::Stored { counts, .. } = &report.outcome {
        let new = metrics.stories_new.get_or_create(&labels);
        new.inc_by(u64::from(counts.new));
        let updated = metrics.stories_updated.get_or_create(&labels);
        updated.inc_by(u64::from(counts.updated));
    }
    let errors = metrics.consecutive_errors.get_or_create(&labels);
    errors.set(i64::from(report.consecutive_errors));
}
