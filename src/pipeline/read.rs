//! Reading a fetched document: decode → parse → normalize, synchronously. The same path serves
//! polls (on the CPU workers), `sosik inspect` and the conformance tests.

use chrono::{DateTime, Utc};

use super::IngestError;
use crate::decode::decode;
use crate::fetch::Fetched;
use crate::model::{SourceId, Story};
use crate::normalize::{Context, normalize};
use crate::parse::{ChannelHints, ParseOptions, parse};

/// A fetched document, decoded, parsed and normalized.
#[derive(Debug)]
pub struct Document {
    /// The feed's title.
    pub title: Option<String>,
    /// `RSS 2.0`, `Atom 1.0`, `JSON Feed`…
    pub format: &'static str,
    /// The charset used.
    pub encoding: &'static str,
    /// The stories.
    pub stories: Vec<Story>,
    /// The channel's scheduling hints.
    pub hints: ChannelHints,
}

/// Decode → parse → normalize, synchronously (call it on a blocking thread). The same path
/// serves `poll`, `inspect` and the conformance tests.
pub fn read_document(
    fetched: &Fetched,
    source: &SourceId,
    timezone: chrono_tz::Tz,
    now: DateTime<Utc>,
    max_items: usize,
) -> Result<Document, IngestError> {
    let url = fetched.meta.final_url.clone();
    let tld = url
        .as_ref()
        .and_then(|u| u.host_str())
        .and_then(|h| h.rsplit('.').next())
        .map(str::to_owned);
    let decoded = decode(
        &fetched.body,
        fetched.content_type.as_deref(),
        tld.as_deref(),
    )?;
    let base_url = url
        .clone()
        .filter(|u| matches!(u.scheme(), "http" | "https"));
    let parsed = parse(
        &decoded.text,
        &ParseOptions {
            base_url,
            timezone,
            max_items,
        },
    )?;
    let normalized = normalize(
        &parsed,
        &Context {
            source: source.clone(),
            feed_url: url,
            now,
            max_items,
        },
    );
    let mut hints = parsed.extras.hints.clone();
    hints.ttl_minutes = hints.ttl_minutes.or(parsed.feed.ttl);
    Ok(Document {
        title: normalized.title,
        format: parsed.format,
        encoding: decoded.encoding,
        stories: normalized.stories,
        hints,
    })
}
