//! The store's one writer: polls that finish together are committed together, in one sled
//! batch, on one thread ([`Batcher`]); then each source's cap is kept. sled pays two log writes
//! per batch whatever its size, so grouping is most of a cold poll's store time saved.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::model::{SourceId, SourceState, Story};
use crate::store::{CommitCounts, PollCommit, Prepared, Store, StoreError};
use crate::workers::Batcher;

/// The writer: [`Commit`]s in, each one's result out.
pub(super) type Writer = Batcher<Commit, Result<Committed, StoreError>>;

/// Starts the writer over `store`, keeping `max` stories per source.
pub(super) fn writer(store: Store, max: usize) -> Writer {
    Batcher::new(
        "sosik-writer",
        MAX_COMMIT_GROUP,
        COMMIT_LINGER,
        move |commits| commit_polls(&store, max, commits),
    )
}

/// Most polls committed in one group: more than `poll.concurrency` never wait at once anyway.
const MAX_COMMIT_GROUP: usize = 64;

/// How long the writer waits for more polls after the first of a group. sled pays two log
/// writes per batch whatever its size, so on a cold poll of 2,000 sources a millisecond's
/// wait (groups of two or three) saves more than it costs; a lone poll is a millisecond later.
const COMMIT_LINGER: Duration = Duration::from_millis(1);

/// One poll's stories on their way to the writer.
pub(super) struct Commit {
    pub(super) source: SourceId,
    pub(super) stories: Vec<Story>,
    pub(super) prepared: Prepared,
    pub(super) state: SourceState,
    pub(super) now: DateTime<Utc>,
}

/// A committed poll: what the commit did, the state it saved, and the stories, handed back to
/// be freed off the writer's thread.
pub(super) type Committed = (CommitCounts, SourceState, Vec<Story>);

/// The writer's work: a group of polls committed together, then each source's cap kept.
fn commit_polls(
    store: &Store,
    max: usize,
    commits: Vec<Commit>,
) -> Vec<Result<Committed, StoreError>> {
    let (commits, prepared): (Vec<_>, Vec<_>) = commits
        .into_iter()
        .map(|c| ((c.source, c.stories, c.state, c.now), c.prepared))
        .unzip();
    let polls = commits
        .iter()
        .zip(prepared)
        .map(|((source, stories, state, now), prepared)| PollCommit {
            source,
            stories,
            prepared,
            state,
            now: *now,
        })
        .collect();
    let results = store.commit_group(polls);
    commits
        .into_iter()
        .zip(results)
        .map(|((source, stories, state, _), result)| {
            let counts = result?;
            let protect: HashSet<_> = state.current.iter().copied().collect();
            store.enforce_cap(&source, max, &protect)?;
            Ok((counts, state, stories))
        })
        .collect()
}
