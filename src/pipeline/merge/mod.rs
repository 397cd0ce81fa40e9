//! Stories, not links: each new story joins the cluster of a story from another source, first
//! seen within `store.merge_window`, that tells the same event (`similar`), or stays alone.
//!
//! The window's stories live in a [`similar::index::Index`], rebuilt from the store at start
//! (the stories first seen within the window, oldest first) and fed each poll's new stories
//! after their commit, one poll at a time (a lock), so two copies committed together still
//! meet. A candidate is judged against the stored story: the new story must tell its event
//! (`Likeness::same_event`), state no figure any member of its cluster contradicts, and come
//! from a source no member came from (two stories of one source are never merged).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::html::html_text;
use crate::model::{Story, StoryKey};
use crate::similar::index::Index;
use crate::similar::{Fingerprint, Likeness};
use crate::store::{Store, StoreError};

/// Candidates examined per new story, those sharing most rare grams first (more found no
/// more copies in the labelled set, and each costs a store read).
const CANDIDATES: usize = 3;

/// Of the grams a candidate is filed under, how many the new story must have for the
/// candidate to be read and judged: one shared rare gram is often a name two different
/// events share; copies share more (the labelled set loses 2 of 162 pairs to this; each
/// candidate read costs a store read and a fingerprint).
const SHARED_GRAMS: usize = 2;

/// Members of a candidate's cluster checked for conflicting figures and shared sources.
const MEMBERS_CHECKED: usize = 16;

/// The merge window's index, shared by every poll of a process. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Merger {
    index: Arc<Mutex<Index>>,
    window: Duration,
}

/// A story's fingerprint: its title and the opening of its summary (or content), as text.
pub fn fingerprint(story: &Story) -> Fingerprint {
    let html = story.summary.as_deref().or(story.content.as_deref());
    Fingerprint::of(&story.title, &html.map(html_text).unwrap_or_default())
}

fn secs(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

impl Merger {
    /// The index of the stories of `store` first seen within `window` of `now` (nothing is
    /// merged when `window` is zero).
    pub fn rebuild(
        store: &Store,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<Merger, StoreError> {
        let window_secs = i64::try_from(window.as_secs()).unwrap_or(i64::MAX);
        let mut index = Index::new(window_secs);
        if !window.is_zero() {
            let since = now - chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
            for key in store.first_seen_since(since) {
                let Some(story) = store.get(&key)? else {
                    continue;
                };
                let story = &story;
                let fp = fingerprint(story);
                index.count(&fp);
                let source = story.sources.first().map_or("", |s| s.id.as_str());
                index.insert(story.key(), source, secs(story.first_seen), &fp);
            }
        }
        Ok(Merger {
            index: Arc::new(Mutex::new(index)),
            window,
        })
    }

    /// An empty index of `window`.
    pub fn empty(window: Duration) -> Merger {
        Merger {
            index: Arc::new(Mutex::new(Index::new(
                i64::try_from(window.as_secs()).unwrap_or(i64::MAX),
            ))),
            window,
        }
    }

    /// Stories in the window.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the window is empty.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Merges `new` (stories just committed, stored, of one poll) into clusters; returns how
    /// many joined one. Blocking: reads and writes the store.
    pub fn merge(&self, store: &Store, new: &[Story]) -> Result<usize, StoreError> {
        if self.window.is_zero() || new.is_empty() {
            return Ok(0);
        }
        let mut index = self.lock();
        let mut merged = 0;
        for story in new {
            let fp = fingerprint(story);
            index.count(&fp);
            let source = story.sources.first().map_or("", |s| s.id.as_str());
            let first_seen = secs(story.first_seen);
            let candidates = index.candidates(source, first_seen, &fp);
            let likely = candidates.into_iter().filter(|c| c.grams >= SHARED_GRAMS);
            for candidate in likely.take(CANDIDATES) {
                if self.joins(store, story, &fp, &candidate.key, &index)? {
                    merged += 1;
                    break;
                }
            }
            index.insert(story.key(), source, first_seen, &fp);
        }
        Ok(merged)
    }

    /// Whether `story` joins `candidate`'s cluster (and then it has).
    fn joins(
        &self,
        store: &Store,
        story: &Story,
        fp: &Fingerprint,
        candidate: &StoryKey,
        index: &Index,
    ) -> Result<bool, StoreError> {
        let Some(found) = store.get(candidate)? else {
            return Ok(false);
        };
        let found_fp = fingerprint(&found);
        if !Likeness::of(fp, &found_fp, index.weights()).same_event() {
            return Ok(false);
        }
        let conflicts = |member: &Story, member_fp: &Fingerprint| {
            let shares_source =
                (member.sources.iter()).any(|m| story.sources.iter().any(|s| s.id == m.id));
            shares_source || member_fp.figures.conflict(&fp.figures)
        };
        if conflicts(&found, &found_fp) {
            return Ok(false);
        }
        let others = store
            .cluster_of(candidate)?
            .map(|c| c.members)
            .unwrap_or_default();
        let others = others.into_iter().filter(|k| k != candidate);
        for key in others.take(MEMBERS_CHECKED) {
            if let Some(member) = store.get(&key)?
                && conflicts(&member, &fingerprint(&member))
            {
                return Ok(false);
            }
        }
        store.join_cluster(&story.key(), candidate, &found.identity)?;
        Ok(true)
    }
}

impl super::Ingest {
    /// Merges the stories this poll stored first (`unknown` before the commit, stored now)
    /// into their events' clusters, off the async threads; a failure is logged: the stories
    /// stay, each its own item. The stories are freed there too, off the writer's thread.
    pub(super) async fn merge_new(&self, stories: Vec<crate::model::Story>, unknown: Vec<bool>) {
        let (store, merger, metrics) = (
            self.store.clone(),
            self.merger.clone(),
            self.metrics.clone(),
        );
        let merged = self.blocking(move || {
            let new: Vec<_> = (stories.into_iter().zip(unknown))
                .filter(|(s, unknown)| *unknown && store.contains(&s.key()))
                .map(|(s, _)| s)
                .collect();
            merger.merge(&store, &new)
        });
        match merged.await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => {
                if let Some(metrics) = metrics {
                    metrics.stories_merged.inc_by(n as u64);
                }
                tracing::debug!(merged = n, "stories merged with other sources' copies");
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "merging the new stories failed"),
            Err(e) => tracing::error!(error = %e, "merging the new stories panicked"),
        }
    }
}

#[cfg(test)]
mod tests;
