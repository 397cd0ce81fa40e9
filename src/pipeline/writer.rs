//! The store's one writer: polls that finish together are committed together, in one sled
//! batch, on one thread ([`Batcher`]); then each source's cap is kept. sled pays two log writes
//! per batch whatever its size, so grouping is most of a cold poll's store time saved.

use std::collections::HashSet;
use std::time::Duration;

use crate::store::{Committed, PollCommit, Store, StoreError};
use crate::workers::Batcher;

/// The writer: polls in, each one's commit out (its stories handed back, to be freed off the
/// writer's thread).
pub(super) type Writer = Batcher<PollCommit, Result<Committed, StoreError>>;

/// Starts the writer over `store`, keeping `max` stories per source.
pub(super) fn writer(store: Store, max: usize) -> Writer {
    Batcher::new(
        "sosik-writer",
        MAX_COMMIT_GROUP,
        COMMIT_LINGER,
        move |polls| commit_polls(&store, max, polls),
    )
}

/// Most polls committed in one group: more than `poll.concurrency` never wait at once anyway.
const MAX_COMMIT_GROUP: usize = 64;

/// How long the writer waits for more polls after the first of a group. sled pays two log
/// writes per batch whatever its size, so on a large poll a millisecond's wait (a few polls
/// more per group) saves more than it costs; a lone poll is a millisecond later.
const COMMIT_LINGER: Duration = Duration::from_millis(1);

/// The writer's work: a group of polls committed together, then each source's cap kept.
fn commit_polls(
    store: &Store,
    max: usize,
    polls: Vec<PollCommit>,
) -> Vec<Result<Committed, StoreError>> {
    store
        .commit_group(polls)
        .into_iter()
        .map(|result| {
            let committed = result?;
            let protect: HashSet<_> = committed.state.current.iter().copied().collect();
            store.enforce_cap(&committed.source, max, &protect)?;
            Ok(committed)
        })
        .collect()
}
