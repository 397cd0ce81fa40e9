//! Reads: one story, the newest-first walks, source states, served versions, the creation
//! time. Served versions are written here too: they are the publish side's, beside its reads.

use std::path::Path;

use chrono::{DateTime, Utc};

use super::index::{Index, Slot};
use super::records::{decode_fault, decode_served, decode_source, encode_served};
use super::story_record::decode_story;
use super::{FAULT, PastFault, ServedVersion, Store, StoreError, served_key, state_key, story_key};
use crate::model::{SourceId, SourceState, Story, StoryKey};

/// Keys per page when walking an index; the index lock is held only while a page is taken.
const PAGE: usize = 64;

impl Store {
    /// One story by key.
    pub fn get(&self, key: &StoryKey) -> Result<Option<Story>, StoreError> {
        let Some(first_seen) = self.read_index().first_seen(key) else {
            return Ok(None);
        };
        match self.data()?.get(story_key(key, first_seen))? {
            Some(bytes) => Ok(Some(decode_story(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Every story, newest published first.
    pub fn newest(&self) -> impl Iterator<Item = Result<Story, StoreError>> + '_ {
        self.walk(None)
    }

    /// One source's stories, newest published first.
    pub fn newest_for_source(
        &self,
        source: &SourceId,
    ) -> impl Iterator<Item = Result<Story, StoreError>> + '_ {
        self.walk(Some(source.clone()))
    }

    /// Stories carried by any of `sources`, newest published first, each once.
    pub fn newest_among<'a>(
        &'a self,
        sources: &[SourceId],
    ) -> impl Iterator<Item = Result<Story, StoreError>> + use<'a> {
        let sources = sources.to_vec();
        self.walk_pages(move |index, before| index.page_among(&sources, before, PAGE))
    }

    /// Walks an index newest-first a page at a time, reading each story as it goes.
    fn walk(
        &self,
        source: Option<SourceId>,
    ) -> impl Iterator<Item = Result<Story, StoreError>> + '_ {
        self.walk_pages(move |index, before| index.page(source.as_ref(), before, PAGE))
    }

    /// Reads stories page by page; `page_of(index, before)` gives the next slots, newest first.
    fn walk_pages<'a>(
        &'a self,
        page_of: impl Fn(&Index, Option<Slot>) -> Vec<Slot> + 'a,
    ) -> impl Iterator<Item = Result<Story, StoreError>> + 'a {
        let mut page: std::vec::IntoIter<Slot> = Vec::new().into_iter();
        let mut cursor: Option<Slot> = None;
        let mut done = false;
        std::iter::from_fn(move || {
            loop {
                if let Some(slot) = page.next() {
                    cursor = Some(slot);
                    match self.get(&slot.1) {
                        Ok(Some(story)) => return Some(Ok(story)),
                        // Removed since the page was taken.
                        Ok(None) => continue,
                        Err(e) => return Some(Err(e)),
                    }
                }
                if done {
                    return None;
                }
                let next = page_of(&self.read_index(), cursor);
                done = next.len() < PAGE;
                if next.is_empty() {
                    return None;
                }
                page = next.into_iter();
            }
        })
    }

    /// The keys of the stories first seen at or after `since`, oldest first.
    pub fn first_seen_since(&self, since: DateTime<Utc>) -> Vec<StoryKey> {
        self.read_index()
            .first_seen_since(super::records::micros(since))
    }

    /// Whether a story is stored under `key`.
    pub fn contains(&self, key: &StoryKey) -> bool {
        self.read_index().first_seen(key).is_some()
    }

    /// Number of stories stored.
    pub fn len(&self) -> usize {
        self.read_index().len()
    }

    /// Whether no story is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A source's state, if it was ever polled. An unreadable state record (say, from an
    /// older development build) is logged and treated as absent: it only holds validators and
    /// timings, which the next poll rebuilds, and stories never depend on it.
    pub fn source_state(&self, source: &SourceId) -> Result<Option<SourceState>, StoreError> {
        match self.data()?.get(state_key(source))? {
            Some(bytes) => match decode_source(&bytes) {
                Ok(state) => Ok(Some(state)),
                Err(e) => {
                    tracing::warn!(source = %source, error = %e, "unreadable source state; starting it afresh");
                    Ok(None)
                }
            },
            None => Ok(None),
        }
    }

    /// Every source state stored, by id. Unreadable ones are skipped, as in `source_state`.
    pub fn source_states(&self) -> Result<Vec<(String, SourceState)>, StoreError> {
        let mut out = Vec::new();
        for entry in self.data()?.scan_prefix(b"C") {
            let (k, v) = entry?;
            if let Ok(state) = decode_source(&v) {
                out.push((String::from_utf8_lossy(&k[1..]).into_owned(), state));
            }
        }
        Ok(out)
    }

    /// The version of output `output` last served as `extension` (`xml`, `atom`, `json`), if
    /// any. An unreadable record is logged and treated as absent: the next render then counts
    /// as a change, which only moves Last-Modified forward.
    pub fn served(
        &self,
        output: &str,
        extension: &str,
    ) -> Result<Option<ServedVersion>, StoreError> {
        match self.meta()?.get(served_key(output, extension))? {
            Some(bytes) => match decode_served(&bytes) {
                Ok(served) => Ok(Some(served)),
                Err(e) => {
                    tracing::warn!(output, format = extension, error = %e, "unreadable served-version record; ignoring it");
                    Ok(None)
                }
            },
            None => Ok(None),
        }
    }

    /// Records the version of `output` just served as `extension`. Durable within sled's
    /// flush interval, like every write.
    pub fn save_served(
        &self,
        output: &str,
        extension: &str,
        served: &ServedVersion,
    ) -> Result<(), StoreError> {
        let _writer = self.writer_turn();
        let saved = (self.meta()).and_then(|meta| {
            Ok(meta.insert(served_key(output, extension), encode_served(served))?)
        });
        saved.map_err(|e| self.noted(e))?;
        Ok(())
    }

    /// The last storage fault this store was re-opened after, if any. An unreadable record
    /// counts as none: it only informs.
    pub fn last_fault(&self) -> Result<Option<PastFault>, StoreError> {
        let record = self.meta()?.get(FAULT)?;
        Ok(record.and_then(|bytes| decode_fault(&bytes).ok()))
    }

    /// When this store was created: recorded at its first open (a store made by an earlier
    /// release gets the time this release first opened it), never changed afterwards. A fixed
    /// date for documents that must carry one when nothing else dates them.
    pub fn created(&self) -> DateTime<Utc> {
        self.created
    }

    /// The directory this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
