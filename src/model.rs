//! Plain data shared by every stage: sources, stories and their identity.
//!
//! This module owns the domain types and nothing else. It never imports `feed_rs`, `rss` or
//! `sled`: parsing, rendering and storage each convert to and from these types at their own
//! boundary, so a change of crate never ripples through the pipeline.

use std::fmt;

use chrono::{DateTime, Utc};

/// A configured source's id: lowercase ASCII letters, digits, `-` and `_`, 1 to 64 characters.
///
/// The id is the stable name of a source across config edits and restarts: stories remember
/// which sources carried them by this id, and `source:` filters match it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SourceId(String);

impl SourceId {
    /// Checks the spelling rules and wraps the id; the error says which rule was broken.
    pub fn new(id: &str) -> Result<SourceId, String> {
        if id.is_empty() {
            return Err("a source id cannot be empty".into());
        }
        if id.len() > 64 {
            return Err(format!("source id {id:?} is longer than 64 characters"));
        }
        if let Some(bad) = id
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_'))
        {
            return Err(format!(
                "source id {id:?} contains {bad:?}; use lowercase letters, digits, '-' and '_'"
            ));
        }
        Ok(SourceId(id.to_owned()))
    }

    /// The id as written in the config.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The 16-byte key a story is stored under: a BLAKE3 hash of its [`Identity`].
///
/// A cryptographic hash, because feed input is hostile: with a weak hash a publisher could forge
/// a collision and overwrite or hide another outlet's story.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StoryKey(pub [u8; 16]);

impl StoryKey {
    /// Lowercase hex, 32 characters; used in `urn:sosik:` guids.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// What makes two items the same story (SPEC "Story identity and dedupe").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Identity {
    /// The canonical link, when it is unique within the fetched document. Global: the same link
    /// from two sources is one story.
    Link(String),
    /// The feed's own guid/id, scoped to the source that published it.
    Guid { source: SourceId, guid: String },
    /// Neither a unique link nor a guid: a hash of the source, normalized title and summary.
    Content { source: SourceId, digest: String },
}

impl Identity {
    /// The key this identity is stored under. Each variant hashes a distinct prefix, so a link
    /// can never collide with a guid that happens to be spelled the same.
    pub fn key(&self) -> StoryKey {
        let mut h = blake3::Hasher::new();
        match self {
            Identity::Link(link) => {
                h.update(b"link\0");
                h.update(link.as_bytes());
            }
            Identity::Guid { source, guid } => {
                h.update(b"guid\0");
                h.update(source.as_str().as_bytes());
                h.update(b"\0");
                h.update(guid.as_bytes());
            }
            Identity::Content { source, digest } => {
                h.update(b"content\0");
                h.update(source.as_str().as_bytes());
                h.update(b"\0");
                h.update(digest.as_bytes());
            }
        }
        let mut key = [0u8; 16];
        key.copy_from_slice(&h.finalize().as_bytes()[..16]);
        StoryKey(key)
    }

    /// The guid sosik republishes: the canonical link for link identities (a permalink), else a
    /// stable `urn:sosik:` name. Globally unique, since feed readers such as newsboat merge
    /// items with equal guids across feeds.
    pub fn republished_guid(&self) -> (String, bool) {
        match self {
            Identity::Link(link) => (link.clone(), true),
            _ => (format!("urn:sosik:{}", self.key().to_hex()), false),
        }
    }
}

/// One source's contribution to a story: which source, and a fingerprint of the version of the
/// story that source last sent.
///
/// Per-source fingerprints stop two outlets that word the same story differently from
/// "updating" it back and forth on every poll: only a change from the *same* source is an edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorySource {
    /// The source's id.
    pub id: SourceId,
    /// [`Story::fingerprint`] of the version this source last sent.
    pub fingerprint: u64,
}

/// One source's copy of a story: the fields a source speaks for, as that source sent them.
///
/// A story carried by several sources under one identity keeps every source's copy; the one
/// that speaks for the story (its visible fields, wholesale) is chosen by
/// `dedupe::choose`, the same whatever order the copies arrived in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoryCopy {
    /// The source that sent this copy.
    pub source: SourceId,
    /// The link as this source sent it (canonical).
    pub link: Option<String>,
    /// Plain text title.
    pub title: String,
    /// Sanitized HTML.
    pub summary: Option<String>,
    /// Sanitized HTML.
    pub content: Option<String>,
    /// Author names.
    pub authors: Vec<String>,
    /// Categories.
    pub categories: Vec<String>,
    /// Publication time as this source gave it.
    pub published: DateTime<Utc>,
    /// The feed's `updated` at first sight, then the time this source last edited its copy.
    pub updated: DateTime<Utc>,
    /// When this source first sent the story.
    pub first_seen: DateTime<Utc>,
    /// Language tag from the item or its feed.
    pub lang: Option<String>,
}

impl StoryCopy {
    /// `story`'s visible fields as a copy of `source`.
    pub fn of(story: &Story, source: SourceId) -> StoryCopy {
        StoryCopy {
            source,
            link: story.link.clone(),
            title: story.title.clone(),
            summary: story.summary.clone(),
            content: story.content.clone(),
            authors: story.authors.clone(),
            categories: story.categories.clone(),
            published: story.published,
            updated: story.updated,
            first_seen: story.first_seen,
            lang: story.lang.clone(),
        }
    }

    /// [`Story::fingerprint`] of this copy: the version its source last sent.
    pub fn fingerprint(&self) -> u64 {
        fingerprint(
            &self.title,
            self.summary.as_deref(),
            self.content.as_deref(),
            &self.categories,
        )
    }

    /// Makes this copy the story's visible fields, wholesale (identity, first-seen time and
    /// sources are the story's own and stay).
    pub fn speak_for(&self, story: &mut Story) {
        story.link = self.link.clone();
        story.title = self.title.clone();
        story.summary = self.summary.clone();
        story.content = self.content.clone();
        story.authors = self.authors.clone();
        story.categories = self.categories.clone();
        story.published = self.published;
        story.updated = self.updated;
        story.lang = self.lang.clone();
    }
}

/// One story: what a feed item becomes after normalization, and what is stored and republished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Story {
    /// Why this story is this story; its hash is the store key.
    pub identity: Identity,
    /// Canonical absolute link, if the item had one.
    pub link: Option<String>,
    /// Plain text, whitespace collapsed; never HTML.
    pub title: String,
    /// Sanitized HTML.
    pub summary: Option<String>,
    /// Sanitized HTML.
    pub content: Option<String>,
    /// Author names, in feed order, without duplicates.
    pub authors: Vec<String>,
    /// Categories from every place a publisher puts them (RSS `<category>`, Atom term/label,
    /// `dc:subject`, JSON Feed tags), trimmed, without duplicates, in feed order.
    pub categories: Vec<String>,
    /// Publication time; the first-seen time when the feed gave none or one more than a day
    /// in the future.
    pub published: DateTime<Utc>,
    /// Last change: the feed's own `updated` at first sight, then the time sosik saw an edit.
    pub updated: DateTime<Utc>,
    /// When sosik first stored this story. Retention counts from here.
    pub first_seen: DateTime<Utc>,
    /// Language tag from the item or its feed, if given.
    pub lang: Option<String>,
    /// The source's own guid/id for this item, when it is unique within the fetched document:
    /// a second key the story is found by (SPEC "Story identity and dedupe", second stage),
    /// so an item whose link changed from one poll to the next is the same story. Set by
    /// normalize for the story of one poll; not stored with the story (the source's state
    /// keeps the guids of its last document).
    pub guid: Option<String>,
    /// Every source that carried this story: the one whose copy speaks for it first, then the
    /// others in the order sosik first saw them.
    pub sources: Vec<StorySource>,
}

impl Story {
    /// The store key: the hash of [`Story::identity`].
    pub fn key(&self) -> StoryKey {
        self.identity.key()
    }

    /// A hash of the fields whose change makes an edit: title, summary, content, categories.
    pub fn fingerprint(&self) -> u64 {
        fingerprint(
            &self.title,
            self.summary.as_deref(),
            self.content.as_deref(),
            &self.categories,
        )
    }
}

/// [`Story::fingerprint`] of the fields it hashes.
fn fingerprint(
    title: &str,
    summary: Option<&str>,
    content: Option<&str>,
    categories: &[String],
) -> u64 {
    let mut h = blake3::Hasher::new();
    for part in [Some(title), summary, content] {
        match part {
            Some(text) => {
                h.update(b"1");
                h.update(&(text.len() as u64).to_le_bytes());
                h.update(text.as_bytes());
            }
            None => {
                h.update(b"0");
            }
        }
    }
    for category in categories {
        h.update(&(category.len() as u64).to_le_bytes());
        h.update(category.as_bytes());
    }
    let mut out = [0u8; 8];
    out.copy_from_slice(&h.finalize().as_bytes()[..8]);
    u64::from_le_bytes(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_ids_follow_the_spelling_rules() {
        assert!(SourceId::new("mk-all_2").is_ok());
        for bad in ["", "MK", "mk all", "mk.all", "한국", &"a".repeat(65)] {
            assert!(SourceId::new(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn identities_of_different_kinds_never_share_a_key() {
        let src = SourceId::new("a").unwrap();
        let link = Identity::Link("x".into());
        let guid = Identity::Guid {
            source: src.clone(),
            guid: "x".into(),
        };
        let content = Identity::Content {
            source: src,
            digest: "x".into(),
        };
        assert_ne!(link.key(), guid.key());
        assert_ne!(guid.key(), content.key());
        assert_eq!(link.key(), Identity::Link("x".into()).key());
    }

    #[test]
    fn guids_are_permalinks_only_for_link_identities() {
        let (guid, perma) = Identity::Link("https://a.kr/1".into()).republished_guid();
        assert_eq!((guid.as_str(), perma), ("https://a.kr/1", true));
        let id = Identity::Guid {
            source: SourceId::new("a").unwrap(),
            guid: "g".into(),
        };
        let (guid, perma) = id.republished_guid();
        assert!(guid.starts_with("urn:sosik:") && guid.len() == 10 + 32 && !perma);
    }
}

/// What sosik remembers about one source between polls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceState {
    /// The URL to fetch from now on, after permanent redirects (301/308); `None` means the
    /// configured URL.
    pub moved_to: Option<String>,
    /// The URL the configured one pointed at when `moved_to` was recorded, so editing the config
    /// to a new URL forgets the old redirect.
    pub moved_from: Option<String>,
    /// `ETag` from the last successful fetch.
    pub etag: Option<String>,
    /// `Last-Modified` from the last successful fetch.
    pub last_modified: Option<String>,
    /// When the last fetch attempt ended.
    pub last_fetch: Option<DateTime<Utc>>,
    /// When a fetch last succeeded (200 or 304).
    pub last_success: Option<DateTime<Utc>>,
    /// HTTP status of the last answer, if there was one.
    pub last_status: Option<u16>,
    /// The last failure as a sentence; cleared by a success.
    pub last_error: Option<String>,
    /// Failures since the last success.
    pub consecutive_errors: u32,
    /// When the scheduler will poll next.
    pub next_poll: Option<DateTime<Utc>>,
    /// The server answered 410 Gone: polling stopped.
    pub gone: bool,
    /// The feed's own title, as last read.
    pub title: Option<String>,
    /// Stories new in the last document.
    pub last_new: u32,
    /// Stories edited in the last document.
    pub last_updated: u32,
    /// The feed's own polling rhythm from its last document (`<ttl>`, `sy:updatePeriod`), in
    /// seconds; kept so a 304 still honours it.
    pub feed_interval_secs: Option<u64>,
    /// `skipHours` of the last document: bit `h` means hour `h` (UTC).
    pub skip_hours: u32,
    /// `skipDays` of the last document: bit 0 Monday … bit 6 Sunday.
    pub skip_days: u8,
    /// Keys of the stories in the last document read. Retention and the per-source cap never
    /// remove these, or a story still in the feed would come back as new on the next poll.
    pub current: Vec<StoryKey>,
    /// The guids of the last document as keys (`Identity::Guid` of this source), each with
    /// the story it was found as when that is another key: how a story whose link changed is
    /// found again by its guid. Only stories in `current`, which are never removed, so an
    /// alias never outlives its story. Written by the store's commit.
    pub aliases: Vec<(StoryKey, StoryKey)>,
}

/// The transitions a poll makes. The pipeline decides when; these say what each one changes,
/// so every field has one owner (the counts of the last commit, `last_new` and `last_updated`,
/// are the store's, written in the commit).
impl SourceState {
    /// The config now names another URL than the one a redirect was recorded for: the old
    /// redirect and the validators no longer apply.
    pub fn follow_config(&mut self, configured: &str) {
        if self
            .moved_from
            .as_deref()
            .is_some_and(|from| from != configured)
        {
            self.moved_to = None;
            self.moved_from = None;
            self.etag = None;
            self.last_modified = None;
        }
    }

    /// The server answered 200 or 304 (or the file was read): errors are over. A 304 may omit
    /// validators; the ones held are kept then.
    pub fn succeeded(
        &mut self,
        now: DateTime<Utc>,
        status: u16,
        etag: Option<&str>,
        last_modified: Option<&str>,
    ) {
        self.last_success = Some(now);
        self.last_status = Some(status);
        self.last_error = None;
        self.consecutive_errors = 0;
        self.gone = false;
        if status != 304 || etag.is_some() || last_modified.is_some() {
            self.etag = etag.map(str::to_owned);
            self.last_modified = last_modified.map(str::to_owned);
        }
    }

    /// A permanent redirect from `configured` to `to`: polls go there from now on.
    pub fn moved(&mut self, to: &str, configured: &str) {
        self.moved_to = Some(to.to_owned());
        self.moved_from = Some(configured.to_owned());
    }

    /// A failed poll: the sentence, the status the server answered (if it did), one more
    /// consecutive error.
    pub fn failed(&mut self, error: String, status: Option<u16>) {
        self.consecutive_errors = self.consecutive_errors.saturating_add(1);
        self.last_error = Some(error);
        self.last_status = status;
    }

    /// The feed's own rhythm from its last document, kept so polls answered 304 honour it.
    pub fn remember_rhythm(
        &mut self,
        feed_interval: Option<std::time::Duration>,
        skip_hours: u32,
        skip_days: u8,
    ) {
        self.feed_interval_secs = feed_interval.map(|d| d.as_secs());
        self.skip_hours = skip_hours;
        self.skip_days = skip_days;
    }
}
