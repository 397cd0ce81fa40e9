//! On-disk records: versioned, compact (postcard), and distinct from the domain types so the
//! next release can migrate them. The first byte of every value is its schema version. Story
//! records live in `story_record.rs`, older ones in `legacy.rs`.

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::ServedVersion;
use crate::model::{Identity, SourceId, SourceState, StoryKey, StorySource};

/// The bytes after the version byte, when it is `expected`.
pub(super) fn versioned(bytes: &[u8], expected: u8) -> Result<&[u8], RecordError> {
    match bytes.split_first() {
        None => Err(RecordError::Decode("empty value".into())),
        Some((&version, _)) if version != expected => Err(RecordError::Version(version)),
        Some((_, rest)) => Ok(rest),
    }
}

/// `record` as a value: its version byte, then its postcard encoding.
pub(super) fn with_version(version: u8, record: &impl Serialize) -> Vec<u8> {
    let mut out = vec![version];
    out.extend(postcard::to_stdvec(record).expect("a record of plain fields always serializes"));
    out
}

/// The record of version `expected` that `bytes` hold.
pub(super) fn read_version<'a, T: Deserialize<'a>>(
    bytes: &'a [u8],
    expected: u8,
) -> Result<T, RecordError> {
    let body = versioned(bytes, expected)?;
    postcard::from_bytes(body).map_err(|e| RecordError::Decode(e.to_string()))
}

/// The identity a record's `kind`, `scope` and `value` spell.
pub(super) fn identity_of(kind: u8, scope: &str, value: String) -> Result<Identity, RecordError> {
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
pub(super) fn sources_of(pairs: Vec<(String, u64)>) -> Result<Vec<StorySource>, RecordError> {
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

/// Version byte of source-state records before they kept the last document's guids.
pub(super) const SOURCE_V1: u8 = 1;
/// Version byte of source-state records written by this release: version 1 and the
/// guid aliases of the last document.
pub(super) const SOURCE_V2: u8 = 2;

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

/// [`SourceV1`], then the aliases; written as one record (postcard concatenates fields).
#[derive(Serialize, Deserialize)]
struct SourceV2 {
    state: SourceV1,
    aliases: Vec<([u8; 16], [u8; 16])>,
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

pub(super) fn time(us: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(us).single().unwrap_or_default()
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
    let aliases = state.aliases.iter().map(|(a, b)| (a.0, b.0)).collect();
    with_version(
        SOURCE_V2,
        &SourceV2 {
            state: record,
            aliases,
        },
    )
}

pub(super) fn decode_source(bytes: &[u8]) -> Result<SourceState, RecordError> {
    let (r, aliases) = match bytes.first() {
        Some(&SOURCE_V1) => (read_version::<SourceV1>(bytes, SOURCE_V1)?, Vec::new()),
        _ => {
            let v2: SourceV2 = read_version(bytes, SOURCE_V2)?;
            (v2.state, v2.aliases)
        }
    };
    Ok(SourceState {
        aliases: aliases
            .into_iter()
            .map(|(a, b)| (StoryKey(a), StoryKey(b)))
            .collect(),
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
