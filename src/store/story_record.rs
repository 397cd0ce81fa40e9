//! Story records (version 3): a header (what the in-memory indexes need at open, and what the
//! commit's shortcut judges from), then the body: the identity, which copy speaks, and every
//! source's copy, LZ4-compressed. The visible story is the speaking copy's fields, wholesale.

use serde::{Deserialize, Serialize};

use super::records::{RecordError, identity_of, micros, sources_of, time, versioned};
use crate::dedupe::{Held, Priorities};
use crate::model::{Identity, SourceId, Story, StoryCopy};

/// Version byte of story records written by this release.
pub(super) const STORY_V3: u8 = 3;

/// Largest story body we will decompress; normalization caps text far below this.
pub(super) const MAX_BODY: u32 = 16 << 20;

/// What the in-memory indexes are built from, and the commit's shortcut.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct StoryHeader {
    /// The speaking copy's publication time (µs).
    pub(super) published: i64,
    pub(super) first_seen: i64,
    /// `(source id, fingerprint of its last version)`, the speaking copy's source first.
    pub(super) sources: Vec<(String, u64)>,
    /// Each source's priority when the speaking copy was chosen, beside `sources`; empty for a
    /// story of one source, which no priority can change.
    pub(super) priorities: Vec<i64>,
}

impl StoryHeader {
    /// Whether the copy was chosen under `priorities` (always, for one source).
    pub(super) fn chosen_under(&self, priorities: &Priorities) -> bool {
        self.sources.len() < 2
            || (self.priorities.len() == self.sources.len()
                && self
                    .sources
                    .iter()
                    .zip(&self.priorities)
                    .all(|((id, _), p)| priorities.of(id) == *p))
    }

    /// The priorities the copy was chosen under, as [`Priorities`].
    pub(super) fn recorded_priorities(&self) -> Priorities {
        let pairs = self.sources.iter().map(|(id, _)| id.clone());
        Priorities::new(pairs.zip(self.priorities.iter().copied()))
    }
}

/// One copy on disk; [`CopyOwned`] is the same bytes read back.
#[derive(Serialize)]
struct CopyRef<'a> {
    source: &'a str,
    link: Option<&'a str>,
    title: &'a str,
    summary: Option<&'a str>,
    content: Option<&'a str>,
    authors: &'a [String],
    categories: &'a [String],
    published: i64,
    updated: i64,
    first_seen: i64,
    lang: Option<&'a str>,
}

#[derive(Deserialize)]
struct CopyOwned {
    source: String,
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
}

#[derive(Serialize)]
struct BodyRef<'a> {
    kind: u8,
    scope: &'a str,
    value: &'a str,
    chosen: u32,
    copies: Vec<CopyRef<'a>>,
}

#[derive(Deserialize)]
struct BodyOwned {
    kind: u8,
    scope: String,
    value: String,
    chosen: u32,
    copies: Vec<CopyOwned>,
}

impl<'a> CopyRef<'a> {
    fn of(copy: &'a StoryCopy) -> CopyRef<'a> {
        CopyRef {
            source: copy.source.as_str(),
            link: copy.link.as_deref(),
            title: &copy.title,
            summary: copy.summary.as_deref(),
            content: copy.content.as_deref(),
            authors: &copy.authors,
            categories: &copy.categories,
            published: micros(copy.published),
            updated: micros(copy.updated),
            first_seen: micros(copy.first_seen),
            lang: copy.lang.as_deref(),
        }
    }

    /// A story's visible fields as the copy of `source` (a story seen for the first time).
    fn of_story(story: &'a Story, source: &'a str) -> CopyRef<'a> {
        CopyRef {
            source,
            link: story.link.as_deref(),
            title: &story.title,
            summary: story.summary.as_deref(),
            content: story.content.as_deref(),
            authors: &story.authors,
            categories: &story.categories,
            published: micros(story.published),
            updated: micros(story.updated),
            first_seen: micros(story.first_seen),
            lang: story.lang.as_deref(),
        }
    }
}

fn identity_parts(identity: &Identity) -> (u8, &str, &str) {
    match identity {
        Identity::Link(link) => (0, "", link.as_str()),
        Identity::Guid { source, guid } => (1, source.as_str(), guid.as_str()),
        Identity::Content { source, digest } => (2, source.as_str(), digest.as_str()),
    }
}

/// The record of a story seen for the first time: its one copy is its first source's.
pub(super) fn encode_story(story: &Story) -> Vec<u8> {
    let (kind, scope, value) = identity_parts(&story.identity);
    let copies = story
        .sources
        .first()
        .map(|s| CopyRef::of_story(story, s.id.as_str()))
        .into_iter()
        .collect();
    let body = BodyRef {
        kind,
        scope,
        value,
        chosen: 0,
        copies,
    };
    encode(&header_of(story), &body, body_capacity(story))
}

/// The record of a story with its copies, chosen under `priorities`.
pub(super) fn encode_held(held: &Held, priorities: &Priorities) -> Vec<u8> {
    let story = &held.story;
    let (kind, scope, value) = identity_parts(&story.identity);
    let speaker = story.sources.first().map(|s| &s.id);
    let chosen = held
        .copies
        .iter()
        .position(|c| Some(&c.source) == speaker)
        .unwrap_or(0);
    let body = BodyRef {
        kind,
        scope,
        value,
        chosen: u32::try_from(chosen).expect("copies are one per source"),
        copies: held.copies.iter().map(CopyRef::of).collect(),
    };
    let capacity = held.copies.len() * body_capacity(story);
    encode(&held_header(held, priorities), &body, capacity)
}

/// Version byte, header, then the body's size (u32 LE) and its LZ4 block, written as
/// `lz4_flex::compress_prepend_size` would: the body is mostly text, and compressed it halves
/// what sled writes (sled's cost grows with the bytes written).
fn encode(header: &StoryHeader, body: &BodyRef<'_>, capacity: usize) -> Vec<u8> {
    // Buffers sized up front: growing them by doubling was a fifth of the encoding's time.
    let body = postcard::to_extend(body, Vec::with_capacity(capacity))
        .expect("a story body always serializes");
    let most = lz4_flex::block::get_maximum_output_size(body.len());
    let mut out = Vec::with_capacity(1 + 32 + 48 * header.sources.len() + 4 + most);
    out.push(STORY_V3);
    out = postcard::to_extend(header, out).expect("a story header always serializes");
    let size = u32::try_from(body.len()).expect("a story body is far below 4 GiB");
    out.extend_from_slice(&size.to_le_bytes());
    let start = out.len();
    out.resize(start + most, 0);
    let written = lz4_flex::block::compress_into(&body, &mut out[start..])
        .expect("the block fits in its maximum size");
    out.truncate(start + written);
    out
}

/// Bytes a story's body serializes to, or a little more.
fn body_capacity(story: &Story) -> usize {
    let text = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    let listed = |v: &[String]| v.iter().map(|s| s.len() + 2).sum::<usize>();
    let (_, scope, value) = identity_parts(&story.identity);
    96 + scope.len()
        + value.len()
        + text(&story.link)
        + story.title.len()
        + text(&story.summary)
        + text(&story.content)
        + text(&story.lang)
        + listed(&story.authors)
        + listed(&story.categories)
}

/// The header of a story seen for the first time, as [`encode_story`] writes it.
pub(super) fn header_of(story: &Story) -> StoryHeader {
    StoryHeader {
        published: micros(story.published),
        first_seen: micros(story.first_seen),
        sources: story
            .sources
            .iter()
            .map(|s| (s.id.to_string(), s.fingerprint))
            .collect(),
        priorities: Vec::new(),
    }
}

/// The header of a held story chosen under `priorities`, as [`encode_held`] writes it.
pub(super) fn held_header(held: &Held, priorities: &Priorities) -> StoryHeader {
    let mut header = header_of(&held.story);
    if header.sources.len() > 1 {
        header.priorities = header
            .sources
            .iter()
            .map(|(id, _)| priorities.of(id))
            .collect();
    }
    header
}

/// Only the header of a story record.
pub(super) fn decode_header(bytes: &[u8]) -> Result<StoryHeader, RecordError> {
    split_record(bytes).map(|(header, _)| header)
}

/// A story record's header, and its body as stored (still compressed), to write the same body
/// under a changed header with [`join_record`].
pub(super) fn split_record(bytes: &[u8]) -> Result<(StoryHeader, &[u8]), RecordError> {
    let rest = versioned(bytes, STORY_V3)?;
    postcard::take_from_bytes(rest).map_err(|e| RecordError::Decode(e.to_string()))
}

/// A story record from a header and a body taken from [`split_record`].
pub(super) fn join_record(header: &StoryHeader, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + 64 + body.len());
    out.push(STORY_V3);
    out = postcard::to_extend(header, out).expect("a story header always serializes");
    out.extend_from_slice(body);
    out
}

/// A story record with its copies; the visible story is the speaking copy's.
pub(super) fn decode_held(bytes: &[u8]) -> Result<Held, RecordError> {
    let (mut story, copies, chosen) = decode_parts(bytes)?;
    copies[chosen].speak_for(&mut story);
    Ok(Held { story, copies })
}

/// The visible story of a record: the speaking copy's fields moved, not copied.
pub(super) fn decode_story(bytes: &[u8]) -> Result<Story, RecordError> {
    let (mut story, mut copies, chosen) = decode_parts(bytes)?;
    let c = copies.swap_remove(chosen);
    (story.link, story.title, story.summary, story.content) =
        (c.link, c.title, c.summary, c.content);
    (story.authors, story.categories, story.lang) = (c.authors, c.categories, c.lang);
    (story.published, story.updated) = (c.published, c.updated);
    Ok(story)
}

/// A record's story without its visible fields, its copies, and the index of the one that
/// speaks (checked to exist).
fn decode_parts(bytes: &[u8]) -> Result<(Story, Vec<StoryCopy>, usize), RecordError> {
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
    let (b, _): (BodyOwned, _) = postcard::take_from_bytes(&body).map_err(decode_err)?;
    let copies = b
        .copies
        .into_iter()
        .map(copy_of)
        .collect::<Result<Vec<_>, _>>()?;
    let chosen = b.chosen as usize;
    if chosen >= copies.len() {
        return Err(RecordError::Decode("a story without its copy".into()));
    }
    let story = Story {
        identity: identity_of(b.kind, &b.scope, b.value)?,
        link: None,
        title: String::new(),
        summary: None,
        content: None,
        authors: Vec::new(),
        categories: Vec::new(),
        published: time(header.published),
        updated: time(header.published),
        first_seen: time(header.first_seen),
        lang: None,
        guid: None,
        sources: sources_of(header.sources)?,
    };
    Ok((story, copies, chosen))
}

fn copy_of(c: CopyOwned) -> Result<StoryCopy, RecordError> {
    Ok(StoryCopy {
        source: SourceId::new(&c.source).map_err(RecordError::Decode)?,
        link: c.link,
        title: c.title,
        summary: c.summary,
        content: c.content,
        authors: c.authors,
        categories: c.categories,
        published: time(c.published),
        updated: time(c.updated),
        first_seen: time(c.first_seen),
        lang: c.lang,
    })
}
