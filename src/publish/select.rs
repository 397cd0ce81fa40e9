//! What an output shows: the stories its sources carried, newest first, that pass its filter;
//! with `merge = "story"` (SPEC "Stories, not links") each cluster of copies once, as the copy
//! that speaks for it, under the guid its first copy was published with, naming the others. A
//! cluster passes the filter when any of its copies in the output's sources does.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use super::{PublishError, Publisher};
use crate::config::{Config, Merge, OutputConfig};
use crate::dedupe::{Priorities, Rank};
use crate::model::{SourceId, Story, StoryCopy, StoryKey};
use crate::render::{OtherCopy, SourceInfo};
use crate::store::{Store, StoreError};

/// One item an output shows: the story, as the copy that speaks for it tells it (under its
/// cluster's guid), and the story's other copies.
#[derive(Debug, Clone)]
pub struct Told {
    /// The story.
    pub story: Story,
    /// Its other copies in the output, in the cluster's joining order.
    pub copies: Vec<Copy>,
}

/// Another copy of a told story.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    /// Its link.
    pub link: Option<String>,
    /// The source whose copy it is.
    pub source: SourceId,
    /// Its title.
    pub title: String,
}

impl Copy {
    /// `story` as another copy: its link, its first source, its title (`None` for a story no
    /// source carries any more).
    pub fn of(story: &Story) -> Option<Copy> {
        Some(Copy {
            link: story.link.clone(),
            source: story.sources.first()?.id.clone(),
            title: story.title.clone(),
        })
    }

    /// The copy as a feed names it: its source by title.
    pub fn named(&self, sources: &BTreeMap<SourceId, SourceInfo>) -> OtherCopy {
        OtherCopy {
            link: self.link.clone(),
            source: (sources.get(&self.source))
                .map_or_else(|| self.source.to_string(), |s| s.title.clone()),
            title: self.title.clone(),
        }
    }
}

/// A stored copy, told alone with the other copies of its story (`sosik items` without an
/// output: every stored copy, each naming the others).
pub fn with_copies(store: &Store, story: Story) -> Result<Told, StoreError> {
    let mut copies = Vec::new();
    if let Some(cluster) = store.cluster_of(&story.key())? {
        for key in cluster.members.iter().filter(|k| **k != story.key()) {
            copies.extend(store.get(key)?.as_ref().and_then(Copy::of));
        }
    }
    Ok(Told { story, copies })
}

impl Publisher {
    /// Every item the output `name` shows, newest first, without its `limit` or the scan
    /// budget (`sosik items --output`). Blocking: reads the store as it goes.
    pub fn told(
        &self,
        name: &str,
    ) -> Result<impl Iterator<Item = Result<Told, StoreError>> + '_, PublishError> {
        let config = self.config();
        let output = (config.output(name).cloned())
            .ok_or_else(|| PublishError::UnknownOutput(name.to_owned()))?;
        Ok(teller(self.store(), config, output, usize::MAX))
    }

    /// The items `output` shows, newest first, at most `limit`, examining at most `budget`
    /// stored stories.
    pub(super) fn select(
        &self,
        output: &OutputConfig,
        budget: usize,
    ) -> Result<Vec<Told>, StoreError> {
        let mut teller = teller(self.store(), self.config(), output.clone(), budget);
        let mut picked = Vec::new();
        while picked.len() < output.limit {
            match teller.next() {
                Some(told) => picked.push(told?),
                None => break,
            }
        }
        if teller.walked == budget {
            tracing::debug!(
                output = %output.name,
                scanned = teller.walked,
                picked = picked.len(),
                "stopped selecting: scan budget reached"
            );
        }
        Ok(picked)
    }
}

/// Walks an output's stories newest first and tells each once.
struct Teller<'a, I> {
    walk: I,
    store: &'a Store,
    config: Arc<Config>,
    output: OutputConfig,
    /// Members of the clusters already told (or passed over).
    seen: HashSet<StoryKey>,
    /// Stories walked: what the scan budget counts.
    walked: usize,
    /// Stories that may be walked.
    budget: usize,
    /// The sources' priorities, for the copy that speaks.
    priorities: Priorities,
}

/// A teller of `output` over `store`, walking at most `budget` stories.
fn teller<'a>(
    store: &'a Store,
    config: Arc<Config>,
    output: OutputConfig,
    budget: usize,
) -> Teller<'a, impl Iterator<Item = Result<Story, StoreError>> + 'a> {
    Teller {
        walk: store.newest_among(&output.sources),
        store,
        priorities: config.priorities(),
        config,
        output,
        seen: HashSet::new(),
        walked: 0,
        budget,
    }
}

impl<I: Iterator<Item = Result<Story, StoreError>>> Iterator for Teller<'_, I> {
    type Item = Result<Told, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.walked >= self.budget {
                return None;
            }
            let story = match self.walk.next()? {
                Ok(story) => story,
                Err(e) => return Some(Err(e)),
            };
            self.walked += 1;
            match self.tell(story) {
                Ok(Some(told)) => return Some(Ok(told)),
                Ok(None) => {}
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl<I> Teller<'_, I> {
    /// The item `story` (the newest of its cluster not yet told) makes, if any.
    fn tell(&mut self, story: Story) -> Result<Option<Told>, StoreError> {
        let key = story.key();
        if !self.seen.insert(key) {
            return Ok(None);
        }
        let cluster = match self.output.merge {
            Merge::Story => self.store.cluster_of(&key)?,
            Merge::None => None,
        };
        let Some(cluster) = cluster else {
            let passes = self.output.filter.matches(&story, &*self.config);
            return Ok(passes.then_some(Told {
                story,
                copies: Vec::new(),
            }));
        };
        let mut members = vec![story];
        for member in &cluster.members {
            if !self.seen.insert(*member) {
                continue;
            }
            if let Some(found) = self.store.get(member)?
                && (found.sources.iter()).any(|s| self.output.sources.contains(&s.id))
            {
                members.push(found);
            }
        }
        let config = &*self.config;
        if !members
            .iter()
            .any(|m| self.output.filter.matches(m, config))
        {
            return Ok(None);
        }
        // Joining order, so the copies are named the same way whatever story was walked first.
        let order = |s: &Story| cluster.members.iter().position(|m| *m == s.key());
        members.sort_by_key(order);
        let chosen = (0..members.len())
            .min_by(|&a, &b| speaks_before(&self.priorities, &members[a], &members[b]))
            .unwrap_or(0);
        let mut story = members.remove(chosen);
        let copies = members.iter().filter_map(Copy::of).collect();
        // The guid the story was first published under, whichever copy speaks now.
        story.identity = cluster.founder;
        Ok(Some(Told { story, copies }))
    }
}

fn story_source(story: &Story) -> SourceId {
    story
        .sources
        .first()
        .map(|s| s.id.clone())
        .expect("a stored story has a source")
}

/// The order copies of one story speak in (SPEC, `dedupe::Rank`): without decoding damage
/// first; then the higher source priority; then the longer text; then the earlier first-seen;
/// then the smaller source id. The same whatever order they arrived in.
fn speaks_before(priorities: &Priorities, a: &Story, b: &Story) -> std::cmp::Ordering {
    let (a, b) = (
        StoryCopy::of(a, story_source(a)),
        StoryCopy::of(b, story_source(b)),
    );
    Rank::of(&a, priorities).cmp(&Rank::of(&b, priorities))
}
