//! Fetch failures, each worded for a person reading `sosik sources`.

use std::time::Duration;

/// Why a fetch failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    /// The URL cannot be fetched at all.
    #[error("bad URL: {0}")]
    BadUrl(String),
    /// The whole request took longer than `poll.timeout`.
    #[error("timed out after {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    /// No connection could be made (DNS, refused, TLS).
    #[error("could not connect: {0}")]
    Connect(String),
    /// The connection broke.
    #[error("the request failed: {0}")]
    Request(String),
    /// The server answered with something that is not HTTP.
    #[error("the server's answer is not HTTP ({0})")]
    NotHttp(String),
    /// The server answered with an error status; a `Retry-After` it sent is part of the
    /// sentence, so `sosik sources` shows how long the server asked us to wait.
    #[error(
        "the server answered {status}{}{}{}",
        if reason.is_empty() { "" } else { " " },
        reason,
        retry_after_words(*retry_after)
    )]
    Status {
        /// HTTP status.
        status: u16,
        /// Canonical reason phrase.
        reason: String,
        /// `Retry-After`, if the server sent one we could read.
        retry_after: Option<Duration>,
    },
    /// The body passed `poll.max_body_bytes` (after decompression).
    #[error("the body is larger than {0} bytes (poll.max_body_bytes)")]
    TooLarge(u64),
    /// Too many redirects in a row.
    #[error("redirected more than {0} times")]
    TooManyRedirects(usize),
    /// A redirect with no usable `Location`.
    #[error("the server redirected ({0}) without saying where to")]
    RedirectWithoutLocation(u16),
    /// A redirect to something we will not follow.
    #[error("the server redirected to {0:?}, which is not an http(s) URL")]
    BadRedirect(String),
    /// A `file://` source could not be read.
    #[error("could not read {path}: {reason}")]
    File {
        /// The local path.
        path: String,
        /// The operating system's reason.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("the HTTP client could not start: {0}")]
    Client(String),
}

impl FetchError {
    /// HTTP status, when the server answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Classifies a reqwest error; `limit` is the whole-request timeout (`poll.timeout`).
    pub(crate) fn from_reqwest(err: &reqwest::Error, limit: Duration) -> FetchError {
        if err.is_connect() {
            return FetchError::Connect(describe(err));
        }
        if err.is_timeout() {
            // reqwest's own timeout is the same whole-request limit as ours: whichever timer
            // fires first, the sentence is the same.
            return FetchError::Timeout(limit);
        }
        let mut source = std::error::Error::source(err);
        while let Some(inner) = source {
            if let Some(hyper) = inner.downcast_ref::<hyper::Error>()
                && hyper.is_parse()
            {
                return FetchError::NotHttp(hyper.to_string());
            }
            source = inner.source();
        }
        FetchError::Request(describe(err))
    }
}

/// ` and asked to retry after 1h (Retry-After)`, or nothing.
fn retry_after_words(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(wait) => format!(
            " and asked to retry after {} (Retry-After)",
            humantime::format_duration(Duration::from_secs(wait.as_secs()))
        ),
        None => String::new(),
    }
}

/// The innermost useful message of an error chain: reqwest's top level says only "error
/// sending request", the reason ("connection refused", "invalid peer certificate") is deeper.
pub(crate) fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut messages = vec![err.to_string()];
    let mut source = err.source();
    while let Some(inner) = source {
        messages.push(inner.to_string());
        source = inner.source();
    }
    messages.dedup();
    // The last two levels usually carry the cause; more is noise.
    let start = messages.len().saturating_sub(2);
    messages[start..].join(": ")
}
