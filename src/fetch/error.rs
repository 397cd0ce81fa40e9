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
    /// The connection broke or the server sent something that is not HTTP.
    #[error("the request failed: {0}")]
    Request(String),
    /// The server answered with an error status.
    #[error("the server answered {status}{}{}", if reason.is_empty() { "" } else { " " }, reason)]
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
    /// Whether trying again later may work. Everything but a bad URL or a 4xx that is not
    /// about rate or timing is temporary; even permanent ones keep being probed, just slower.
    pub fn is_temporary(&self) -> bool {
        match self {
            FetchError::BadUrl(_) | FetchError::BadRedirect(_) | FetchError::Client(_) => false,
            FetchError::Status { status, .. } => {
                !(400..500).contains(status) || matches!(status, 408 | 425 | 429)
            }
            _ => true,
        }
    }

    /// HTTP status, when the server answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub(crate) fn from_reqwest(err: &reqwest::Error) -> FetchError {
        if err.is_timeout() {
            // reqwest's own per-request timeout: the same limit as ours.
            return FetchError::Request("timed out".into());
        }
        if err.is_connect() {
            return FetchError::Connect(describe(err));
        }
        FetchError::Request(describe(err))
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
