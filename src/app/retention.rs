//! Retention in the daemon: a pass at start and one every hour.

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::{RETENTION_EVERY, release_freed_memory};
use crate::pipeline::Ingest;
use crate::publish::Publisher;

/// The start-up retention pass, on this thread rather than a pool thread: its scratch (every
/// source's state, the protected keys) then lands in the same allocator arena as the index
/// snapshot's, freed together and given back here, instead of fragmenting a second arena
/// around the store pages read meanwhile. Its own panic boundary: a panic is logged.
pub(super) fn startup_retention(ingest: &Ingest) {
    tokio::task::block_in_place(|| {
        let pass = std::panic::AssertUnwindSafe(|| retain(ingest, None));
        if let Err(panic) = std::panic::catch_unwind(pass) {
            let message = crate::panic_message(&*panic);
            tracing::error!(error = %message, "retention panicked");
        }
    });
    release_freed_memory();
}

/// Forgets stories past `store.retention`, logging what happened; makes the cached feeds
/// stale when it forgot any.
fn retain(ingest: &Ingest, publisher: Option<&Publisher>) {
    let retention = ingest.config().store.retention;
    match ingest.store().apply_retention(Utc::now(), retention) {
        Ok(0) => {}
        Ok(n) => {
            tracing::info!(forgotten = n, "retention");
            if let Some(p) = publisher {
                p.invalidate();
            }
        }
        Err(e) => tracing::error!(error = %e, "retention failed"),
    }
}

/// Forgets stories past `store.retention` once an hour (the start-up pass is in [`run`]).
pub(super) async fn retention_loop(
    ingest: Ingest,
    publisher: Publisher,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(RETENTION_EVERY) => {}
        }
        let (i, p) = (ingest.clone(), publisher.clone());
        if let Err(e) = tokio::task::spawn_blocking(move || retain(&i, Some(&p))).await {
            tracing::error!(error = %e, "retention panicked");
        }
        // Retention reads every source's state; give the scratch back.
        release_freed_memory();
    }
}
