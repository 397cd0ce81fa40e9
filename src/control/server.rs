//! The daemon's side of the control socket.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Json, State};
use axum::routing::post;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::UnixListener;
use tokio_util::sync::CancellationToken;

use super::ROUTE;
use crate::app::Daemon;
use crate::commands::{Answer, Request};

/// How long answers in progress may take to finish once the daemon stops: a `poll` waits for
/// its polls, which the shutdown abandons after its own grace.
const DRAIN: Duration = Duration::from_secs(10);

/// Binds the socket at `path`, mode 0600, replacing a socket a killed daemon left (the caller
/// holds the store's lock: no live daemon can be behind it).
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_dir() => {
            return Err(std::io::Error::other(format!(
                "{} is a directory",
                path.display()
            )));
        }
        Ok(_) => {
            tracing::info!(socket = %path.display(), "replacing the control socket a stopped daemon left");
            std::fs::remove_file(path)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(path)?;
    // The peer check in `serve` is the guard for the moment between bind and chmod.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Answers CLI requests on `listener` (bound at `path`) until `stop`, then lets answers in
/// progress finish (within [`DRAIN`]) and removes the socket.
pub async fn serve(
    listener: UnixListener,
    path: PathBuf,
    daemon: Arc<Daemon>,
    stop: CancellationToken,
) {
    let owner = std::fs::metadata(&path).map(|m| m.uid()).ok();
    let router = Router::new()
        .route(ROUTE, post(run))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .with_state(daemon);
    let http = hyper::server::conn::http1::Builder::new();
    let graceful = GracefulShutdown::new();
    tracing::info!(socket = %path.display(), "control socket listening");
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a control connection failed");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    continue;
                }
            },
            () = stop.cancelled() => break,
        };
        let peer = stream.peer_cred().map(|c| c.uid());
        if !matches!(peer, Ok(uid) if uid == 0 || Some(uid) == owner) {
            tracing::warn!(peer = ?peer, "refused a control connection from another user");
            continue;
        }
        let service = TowerToHyperService::new(router.clone());
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "control connection ended with an error");
            }
        });
    }
    drop(listener);
    if let Err(e) = std::fs::remove_file(&path) {
        tracing::warn!(socket = %path.display(), error = %e, "cannot remove the control socket");
    }
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("control requests still running at shutdown were dropped");
    }
}

async fn run(State(daemon): State<Arc<Daemon>>, Json(request): Json<Request>) -> Json<Answer> {
    tracing::debug!(?request, "control request");
    Json(daemon.answer(request).await)
}
