//! The CLI's side of the control socket.

use std::path::Path;

use axum::body::Body;
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;

use super::{ROUTE, socket_path};
use crate::commands::{Answer, Request};

/// The largest answer read (an `items --json` of a large store, a big feed).
const MAX_ANSWER: usize = 1 << 30;

/// A daemon is there but could not be asked.
#[derive(Debug, thiserror::Error)]
#[error("cannot ask the daemon on {socket}: {reason}")]
pub struct ControlError {
    /// The socket's path.
    pub socket: String,
    /// Why.
    pub reason: String,
}

/// Asks the daemon running on the store at `store` to run `request`: `Ok(None)` when no
/// daemon listens there (no socket, or a socket nobody answers: a killed daemon's).
pub async fn ask(store: &Path, request: &Request) -> Result<Option<Answer>, ControlError> {
    let path = socket_path(store);
    let failed = |reason: String| ControlError {
        socket: path.display().to_string(),
        reason,
    };
    let stream = match UnixStream::connect(&path).await {
        Ok(stream) => stream,
        Err(e) => {
            use std::io::ErrorKind::{ConnectionRefused, NotFound};
            return match e.kind() {
                NotFound | ConnectionRefused => Ok(None),
                _ => Err(failed(e.to_string())),
            };
        }
    };
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| failed(e.to_string()))?;
    tokio::spawn(connection);
    let body = serde_json::to_vec(request).map_err(|e| failed(e.to_string()))?;
    let http = hyper::Request::post(ROUTE)
        .header(hyper::header::HOST, "sosik")
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .map_err(|e| failed(e.to_string()))?;
    let response = sender.send_request(http).await.map_err(|e| {
        failed(format!(
            "the daemon closed the connection ({e}); it may be shutting down"
        ))
    })?;
    let status = response.status();
    let bytes = axum::body::to_bytes(Body::new(response.into_body()), MAX_ANSWER)
        .await
        .map_err(|e| failed(e.to_string()))?;
    if !status.is_success() {
        let text = String::from_utf8_lossy(&bytes);
        return Err(failed(format!("it answered {status}: {}", text.trim())));
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| failed(format!("its answer is not understood: {e}")))
}
