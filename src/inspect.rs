//! `sosik inspect`: fetch or read one feed, decode, parse and normalize it, and store nothing.
//! Needs no config: a source's settings when one is named, the defaults otherwise.

use chrono::Utc;
use url::Url;

use crate::fetch::{FetchError, FetchOutcome, FetchRequest, FetchSettings, Fetcher};
use crate::model::SourceId;
use crate::pipeline::{Document, IngestError, read_document};

/// How `sosik inspect` reads a feed: the fetch limits, the zone of offset-less dates and the
/// item cap, from a source's config or the defaults.
#[derive(Debug, Clone)]
pub struct InspectOptions {
    /// Timeout, body limit, user agent.
    pub fetch: FetchSettings,
    /// The zone of timestamps without an offset.
    pub timezone: chrono_tz::Tz,
    /// The newest items read from the document.
    pub max_items: usize,
}

impl InspectOptions {
    /// The options `config` gives a feed of no source (UTC), or of `source`.
    pub fn new(poll: &crate::config::PollConfig, store: &crate::config::StoreConfig) -> Self {
        InspectOptions {
            fetch: FetchSettings {
                timeout: poll.timeout,
                max_body_bytes: poll.max_body_bytes,
                user_agent: poll.user_agent.clone(),
            },
            timezone: chrono_tz::UTC,
            max_items: store.max_items_per_source,
        }
    }
}

/// `sosik inspect`: fetch or read one feed and normalize it without storing anything.
pub async fn inspect(options: &InspectOptions, target: &str) -> Result<Document, IngestError> {
    let url = match Url::parse(target) {
        Ok(url) if matches!(url.scheme(), "http" | "https" | "file") => url,
        _ => {
            let path = std::fs::canonicalize(target).map_err(|e| FetchError::File {
                path: target.to_owned(),
                reason: e.to_string(),
            })?;
            Url::from_file_path(&path)
                .map_err(|_| FetchError::BadUrl(format!("{target} is not a usable path")))?
        }
    };
    let fetcher = Fetcher::new(options.fetch.clone())?;
    let fetched = match fetcher
        .fetch(&FetchRequest {
            url: Some(url),
            ..Default::default()
        })
        .await?
    {
        FetchOutcome::Fetched(f) => f,
        FetchOutcome::NotModified(_) => unreachable!("no validators were sent"),
    };
    let source = SourceId::new("inspect").expect("a valid id");
    let (max, timezone) = (options.max_items, options.timezone);
    tokio::task::spawn_blocking(move || read_document(&fetched, &source, timezone, Utc::now(), max))
        .await
        .map_err(|e| IngestError::Panicked(crate::join_message(e)))?
}
