//! On-disk records: versioned, compact (postcard), and distinct from the domain types so the
//! next release can migrate them. The first byte of every value is its schema version.

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::ServedVersion;
use crate::model::{Identity, SourceId, SourceState, Story, StoryKey, StorySource};

/// The bytes after the version byte, when it is `expected`.
fn versioned(bytes: &[u8], expected: u8) -> Result<&[u8], RecordError> {
    match bytes.split_first() {
        None => Err(RecordError::Decode("empty value".into())),
        Some((&version, _)) if version != expected => Err(RecordError::Version(version)),
        Some((_, rest)) => Ok(rest),
    }
}

/// `record` as a value: its version byte, then its postcard encoding.
fn with_version(version: u8, record: &impl Serialize) -> Vec<u8> {
    let mut out = vec![version];
    out.extend(postcard::to_stdvec(record).expect("a record of plain fields always serializes"));
    out
}

/// The record of version `expected` that `bytes` hold.
fn read_version<'a, T: Deserialize<'a>>(bytes: &'a [u8], expected: u8) -> Result<T, RecordError> {
    let body = versioned(bytes, expected)?;
    postcard::from_bytes(body).map_err(|e| RecordError::Decode(e.to_string()))
}

/// The identity a record's `kind`, `scope` and `value` spell.
fn identity_of(kind: u8, scope: &str, value: String) -> Result<Identity, RecordError> {
    let source = || SourceId::new(scope).map_err(RecordError::Decode);
    Ok(match kind {
        0 => Identity::Link(value),
        1 => Identity::Guid {
            source: source()?,
            guid: value,
        },
        2 => Identity::Content {
            source: source()?,
            digest: value,
        },
        k => return Err(RecordError::Decode(format!("unknown identity kind {k}"))),
    })
}

/// A record's `(source id, fingerprint)` pairs as the model's sources.
fn sources_of(pairs: Vec<(String, u64)>) -> Result<Vec<StorySource>, RecordError> {
    pairs
        .into_iter()
        .map(|(id, fingerprint)| {
            Ok(StorySource {
                id: SourceId::new(&id).map_err(RecordError::Decode)?,
                fingerprint,
            })
        })
        .collect()
}

/// Version byte of story records written by this release.
pub(super) const STORY_V1: u8 = 1;
/// Version byte of source-state records written by this release.
pub(super) const SOURCE_V1: u8 = 1;

#[derive(Serialize, Deserialize)]
struct StoryV1 {
    kind: u8,
    scope: String,
    value: String,
    link: Option<String>,
    title: String,
    summary: Option<String>,
    content: Option<String>,
    authors: Vec<String>,
    categories: Vec<String>,
    published: i64,
    updated: i64,
    first_seen: i64,
    lang: Option<String>,
    sources: Vec<(String, u64)>,
}

#[derive(Serialize, Deserialize)]
struct SourceV1 {
    moved_to: Option<String>,
    moved_from: Option<String>,
    etag: Option<String>,
    last_modified: Option<String>,
    last_fetch: Option<i64>,
    last_success: Option<i64>,
    last_status: Option<u16>,
    last_error: Option<String>,
    consecutive_errors: u32,
    next_poll: Option<i64>,
    gone: bool,
    title: Option<String>,
    last_new: u32,
    last_updated: u32,
    current: Vec<[u8; 16]>,
    feed_interval_secs: Option<u64>,
    skip_hours: u32,
    skip_days: u8,
}

/// Why a stored value could not be read. The texts leave "record" and "unreadable" to
/// [`super::StoreError::Record`], which says them once.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Written by a newer release, or not ours.
    #[error("its version {0} is unknown")]
    Version(u8),
    /// Bytes that do not decode.
    #[error("{0}")]
    Decode(String),
}

pub(super) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn time(us: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(us).single().unwrap_or_default()
}

/// The release-1 encoding; kept so the migration test can write an old store.
#[cfg(test)]
pub(super) fn encode_story_v1(story: &Story) -> Vec<u8> {
    let (kind, scope, value) = match &story.identity {
        Identity::Link(link) => (0, String::new(), link.clone()),
        Identity::Guid { source, guid } => (1, source.to_string(), guid.clone()),
        Identity::Content { source, digest } => (2, source.to_string(), digest.clone()),
    };
    let record = StoryV1 {
        kind,
        scope,
        value,
        link: story.link.clone(),
        title: story.title.clone(),
        summary: story.summary.clone(),
        content: story.content.clone(),
        authors: story.authors.clone(),
        categories: story.categories.clone(),
        published: micros(story.published),
        updated: micros(story.updated),
        first_seen: micros(story.first_seen),
        lang: story.lang.clone(),
        sources: story
            .sources
            .iter()
            .map(|s| (s.id.to_string(), s.fingerprint))
            .collect(),
    };
    with_version(STORY_V1, &record)
}

/// Reads a layout-1 story record (for the migration).
pub(super) fn decode_story_v1(bytes: &[u8]) -> Result<Story, RecordError> {
    let r: StoryV1 = read_version(bytes, STORY_V1)?;
    let identity = identity_of(r.kind, &r.scope, r.value)?;
    let sources = sources_of(r.sources)?;
    Ok(Story {
        identity,
        link: r.link,
        title: r.title,
        summary: r.summary,
        content: r.content,
        authors: r.authors,
        categories: r.categories,
        published: time(r.published),
        updated: time(r.updated),
        first_seen: time(r.first_seen),
        lang: r.lang,
        sources,
    })
}

pub(super) fn encode_source(state: &SourceState) -> Vec<u8> {
    let record = SourceV1 {
        moved_to: state.moved_to.clone(),
        moved_from: state.moved_from.clone(),
        etag: state.etag.clone(),
        last_modified: state.last_modified.clone(),
        last_fetch: state.last_fetch.map(micros),
        last_success: state.last_success.map(micros),
        last_status: state.last_status,
        last_error: state.last_error.clone(),
        consecutive_errors: state.consecutive_errors,
        next_poll: state.next_poll.map(micros),
        gone: state.gone,
        title: state.title.clone(),
        last_new: state.last_new,
        last_updated: state.last_updated,
        current: state.current.iter().map(|k| k.0).collect(),
        feed_interval_secs: state.feed_interval_secs,
        skip_hours: state.skip_hours,
        skip_days: state.skip_days,
    };
    with_version(SOURCE_V1, &record)
}

pub(super) fn decode_source(bytes: &[u8]) -> Result<SourceState, RecordError> {
    let r: SourceV1 = read_version(bytes, SOURCE_V1)?;
    Ok(SourceState {
        moved_to: r.moved_to,
        moved_from: r.moved_from,
        etag: r.etag,
        last_modified: r.last_modified,
        last_fetch: r.last_fetch.map(time),
        last_success: r.last_success.map(time),
        last_status: r.last_status,
        last_error: r.last_error,
        consecutive_errors: r.consecutive_errors,
        next_poll: r.next_poll.map(time),
        gone: r.gone,
        title: r.title,
        last_new: r.last_new,
        last_updated: r.last_updated,
        current: r.current.into_iter().map(StoryKey).collect(),
        feed_interval_secs: r.feed_interval_secs,
        skip_hours: r.skip_hours,
        skip_days: r.skip_days,
    })
}

/// Version byte of story records written by this release: a header (what the in-memory
/// indexes need at open) followed by the body, so opening a store decodes only headers.
pub(super) const STORY_V2: u8 = 2;

/// Largest story body we will decompress; normalization caps text far below this.
const MAX_BODY: u32 = 16 << 20;

/// What the in-memory indexes are built from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct StoryHeader {
    pub(super) published: i64,
    pub(super) first_seen: i64,
    pub(super) sources: Vec<(String, u64)>,
}

#[derive(Deserialize)]
struct StoryBodyV2 {
    kind: u8,
    scope: String,
    value: String,
    link: Option<String>,
    title: String,
    summary: Option<String>,
    content: Option<String>,
    authors: Vec<String>,
    categories: Vec<String>,
    updated: i64,
    lang: Option<String>,
}

/// [`StoryHeader`] and [`StoryBodyV2`] as borrowed views: the same bytes on the wire
/// (postcard writes `&str` as it writes `String`), without copying a story to encode it.
#[derive(Serialize)]
struct HeaderRef<'a> {
    published: i64,
    first_seen: i64,
    sources: Vec<(&'a str, u64)>,
}

#[derive(Serialize)]
struct BodyRef<'a> {
    kind: u8,
    scope: &'a str,
    value: &'a str,
    link: Option<&'a str>,
    title: &'a str,
    summary: Option<&'a str>,
    content: Option<&'a str>,
    authors: &'a [String],
    categories: &'a [String],
    updated: i64,
    lang: Option<&'a str>,
}

pub(super) fn encode_story(story: &Story) -> Vec<u8> {
    let (kind, scope, value) = match &story.identity {
        Identity::Link(link) => (0, "", link.as_str()),
        Identity::Guid { source, guid } => (1, source.as_str(), guid.as_str()),
        Identity::Content { source, digest } => (2, source.as_str(), digest.as_str()),
    };
    let header = HeaderRef {
        published: micros(story.published),
        first_seen: micros(story.first_seen),
        sources: story
            .sources
            .iter()
            .map(|s| (s.id.as_str(), s.fingerprint))
            .collect(),
    };
    let body = BodyRef {
        kind,
        scope,
        value,
        link: story.link.as_deref(),
        title: &story.title,
        summary: story.summary.as_deref(),
        content: story.content.as_deref(),
        authors: &story.authors,
        categories: &story.categories,
        updated: micros(story.updated),
        lang: story.lang.as_deref(),
    };
    // Buffers sized up front: growing them by doubling was a fifth of the encoding's time.
    let body = postcard::to_extend(&body, Vec::with_capacity(body_capacity(story)))
        .expect("a story body always serializes");
    let most = lz4_flex::block::get_maximum_output_size(body.len());
    let mut out = Vec::with_capacity(1 + 32 + 48 * story.sources.len() + 4 + most);
    out.push(STORY_V2);
    out = postcard::to_extend(&header, out).expect("a story header always serializes");
    // The body is mostly text: compressed, it halves what sled writes, and sled's cost grows
    // with the bytes written. Written as `lz4_flex::compress_prepend_size` would: the
    // uncompressed size (u32, little-endian), then the block.
    let size = u32::try_from(body.len()).expect("a story body is far below 4 GiB");
    out.extend_from_slice(&size.to_le_bytes());
    let start = out.len();
    out.resize(start + most, 0);
    let written = lz4_flex::block::compress_into(&body, &mut out[start..])
        .expect("the block fits in its maximum size");
    out.truncate(start + written);
    out
}

/// Bytes a story's body serializes to, or a little more: its text, plus room for lengths,
/// times and the identity's kind.
fn body_capacity(story: &Story) -> usize {
    let text = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    let listed = |v: &[String]| v.iter().map(|s| s.len() + 2).sum::<usize>();
    let identity = match &story.identity {
        Identity::Link(link) => link.len(),
        Identity::Guid { source, guid } => source.as_str().len() + guid.len(),
        Identity::Content { source, digest } => source.as_str().len() + digest.len(),
    };
    64 + identity
        + text(&story.link)
        + story.title.len()
        + text(&story.summary)
        + text(&story.content)
        + text(&story.lang)
        + listed(&story.authors)
        + listed(&story.categories)
}

/// The header of `story`, as [`encode_story`] writes it.
pub(super) fn header_of(story: &Story) -> StoryHeader {
    StoryHeader {
        published: micros(story.published),
        first_seen: micros(story.first_seen),
        sources: story
            .sources
            .iter()
            .map(|s| (s.id.to_string(), s.fingerprint))
            .collect(),
    }
}

/// Only the header of a story record.
pub(super) fn decode_header(bytes: &[u8]) -> Result<StoryHeader, RecordError> {
    split_record(bytes).map(|(header, _)| header)
}

/// A story record's header, and its body as stored (still compressed), to write the same body
/// under a changed header with [`join_record`].
pub(super) fn split_record(bytes: &[u8]) -> Result<(StoryHeader, &[u8]), RecordError> {
    let rest = versioned(bytes, STORY_V2)?;
    postcard::take_from_bytes(rest).map_err(|e| RecordError::Decode(e.to_string()))
}

/// A story record from a header and a body taken from [`split_record`].
pub(super) fn join_record(header: &StoryHeader, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + 64 + body.len());
    out.push(STORY_V2);
    out = postcard::to_extend(header, out).expect("a story header always serializes");
    out.extend_from_slice(body);
    out
}

pub(super) fn decode_story(bytes: &[u8]) -> Result<Story, RecordError> {
    let decode_err = |e: postcard::Error| RecordError::Decode(e.to_string());
    let (header, rest) = split_record(bytes)?;
    // A damaged length prefix must not make us allocate gigabytes.
    let claimed = rest
        .get(..4)
        .map_or(0, |n| u32::from_le_bytes(n.try_into().expect("four bytes")));
    if claimed > MAX_BODY {
        return Err(RecordError::Decode(format!(
            "a story body claims {claimed} bytes"
        )));
    }
    let body = lz4_flex::decompress_size_prepended(rest)
        .map_err(|e| RecordError::Decode(e.to_string()))?;
    let (b, _): (StoryBodyV2, _) = postcard::take_from_bytes(&body).map_err(decode_err)?;
    let identity = identity_of(b.kind, &b.scope, b.value)?;
    let sources = sources_of(header.sources)?;
    Ok(Story {
        identity,
        link: b.link,
        title: b.title,
        summary: b.summary,
        content: b.content,
        authors: b.authors,
        categories: b.categories,
        published: time(header.published),
        updated: time(b.updated),
        first_seen: time(header.first_seen),
        lang: b.lang,
        sources,
    })
}

/// Version byte of served-version records (`meta`, `served/NAME.EXT`).
pub(super) const SERVED_V1: u8 = 1;

/// The last document served for one output in one format: its ETag, and the Last-Modified
/// it was served with (µs).
#[derive(Serialize, Deserialize)]
struct ServedV1 {
    etag: String,
    last_modified: i64,
}

pub(super) fn encode_served(served: &ServedVersion) -> Vec<u8> {
    let record = ServedV1 {
        etag: served.etag.clone(),
        last_modified: micros(served.last_modified),
    };
    with_version(SERVED_V1, &record)
}

pub(super) fn decode_served(bytes: &[u8]) -> Result<ServedVersion, RecordError> {
    let r: ServedV1 = read_version(bytes, SERVED_V1)?;
    Ok(ServedVersion {
        etag: r.etag,
        last_modified: time(r.last_modified),
    })
}

/// Version byte of the store's creation-time record (`meta`, `created`).
pub(super) const CREATED_V1: u8 = 1;

/// The store's creation time as `meta` keeps it: the version byte, then µs (postcard).
pub(super) fn encode_created(created: DateTime<Utc>) -> Vec<u8> {
    with_version(CREATED_V1, &micros(created))
}

pub(super) fn decode_created(bytes: &[u8]) -> Result<DateTime<Utc>, RecordError> {
    let us: i64 = read_version(bytes, CREATED_V1)?;
    Ok(time(us))
}

/// Version byte of the last storage fault's record (`meta`, `fault`).
pub(super) const FAULT_V1: u8 = 1;

/// The last storage fault the store recovered from: its kind's label, its cause, and when it
/// began and ended (µs).
#[derive(Serialize, Deserialize)]
struct FaultV1 {
    kind: String,
    reason: String,
    since: i64,
    until: i64,
}

pub(super) fn encode_fault(fault: &super::PastFault) -> Vec<u8> {
    let record = FaultV1 {
        kind: fault.kind.clone(),
        reason: fault.reason.clone(),
        since: micros(fault.since),
        until: micros(fault.until),
    };
    with_version(FAULT_V1, &record)
}

pub(super) fn decode_fault(bytes: &[u8]) -> Result<super::PastFault, RecordError> {
    let r: FaultV1 = read_version(bytes, FAULT_V1)?;
    Ok(super::PastFault {
        kind: r.kind,
        reason: r.reason,
        since: time(r.since),
        until: time(r.until),
    })
}
