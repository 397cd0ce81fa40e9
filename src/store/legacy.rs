//! Story records of older releases, read only to migrate them: layout 1's (version 1, no
//! header) and version 2's (a header, then one copy as the body). Writes none of them, except
//! version 1 and 2 for the migration tests.

use serde::{Deserialize, Serialize};

#[cfg(test)]
use super::records::micros;
#[cfg(test)]
use super::records::with_version;
use super::records::{RecordError, identity_of, read_version, sources_of, time, versioned};
use super::story_record::MAX_BODY;
#[cfg(test)]
use crate::model::Identity;
use crate::model::Story;

/// Version byte of layout-1 story records.
pub(super) const STORY_V1: u8 = 1;
/// Version byte of version-2 story records: a header, then the one copy, LZ4-compressed.
pub(super) const STORY_V2: u8 = 2;

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
        guid: None,
        sources,
    })
}

/// A version-2 header: what the index was built from.
#[derive(Serialize, Deserialize)]
pub(super) struct HeaderV2 {
    pub(super) published: i64,
    pub(super) first_seen: i64,
    pub(super) sources: Vec<(String, u64)>,
}

#[derive(Serialize, Deserialize)]
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

/// A version-2 record's header and its body as stored.
pub(super) fn split_v2(bytes: &[u8]) -> Result<(HeaderV2, &[u8]), RecordError> {
    let rest = versioned(bytes, STORY_V2)?;
    postcard::take_from_bytes(rest).map_err(|e| RecordError::Decode(e.to_string()))
}

/// Reads a version-2 story record (for the migration).
pub(super) fn decode_story_v2(bytes: &[u8]) -> Result<Story, RecordError> {
    let decode_err = |e: postcard::Error| RecordError::Decode(e.to_string());
    let (header, rest) = split_v2(bytes)?;
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
    Ok(Story {
        identity: identity_of(b.kind, &b.scope, b.value)?,
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
        guid: None,
        sources: sources_of(header.sources)?,
    })
}

/// The version-2 encoding; kept so the migration test can write an old store.
#[cfg(test)]
pub(super) fn encode_story_v2(story: &Story) -> Vec<u8> {
    let (kind, scope, value) = match &story.identity {
        Identity::Link(link) => (0, String::new(), link.clone()),
        Identity::Guid { source, guid } => (1, source.to_string(), guid.clone()),
        Identity::Content { source, digest } => (2, source.to_string(), digest.clone()),
    };
    let header = HeaderV2 {
        published: micros(story.published),
        first_seen: micros(story.first_seen),
        sources: story
            .sources
            .iter()
            .map(|s| (s.id.to_string(), s.fingerprint))
            .collect(),
    };
    let body = StoryBodyV2 {
        kind,
        scope,
        value,
        link: story.link.clone(),
        title: story.title.clone(),
        summary: story.summary.clone(),
        content: story.content.clone(),
        authors: story.authors.clone(),
        categories: story.categories.clone(),
        updated: micros(story.updated),
        lang: story.lang.clone(),
    };
    let mut out = with_version(STORY_V2, &header);
    let body = postcard::to_stdvec(&body).expect("a story body always serializes");
    out.extend(lz4_flex::compress_prepend_size(&body));
    out
}
