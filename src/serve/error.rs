//! The one error type of the HTTP layer and how it becomes a response.
//!
//! A 404 says "not found"; a 500 says "internal server error" and nothing else. The detail of a
//! 500 goes to the log, once, when the response is made.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::publish::PublishError;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// No such path, output or format.
    #[error("not found")]
    NotFound,
    /// Something on our side failed; the text is for the log, never for the client.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<PublishError> for ServeError {
    fn from(e: PublishError) -> Self {
        match e {
            PublishError::UnknownOutput(_) => ServeError::NotFound,
            PublishError::Store(e) => ServeError::Internal(e.to_string()),
            PublishError::Opml(e) => ServeError::Internal(e),
        }
    }
}

impl From<tokio::task::JoinError> for ServeError {
    fn from(e: tokio::task::JoinError) -> Self {
        ServeError::Internal(format!("a blocking task failed: {e}"))
    }
}

impl IntoResponse for ServeError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            ServeError::NotFound => (StatusCode::NOT_FOUND, "not found\n"),
            ServeError::Internal(detail) => {
                tracing::error!(error = %detail, "request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal server error\n")
            }
        };
        (
            status,
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            body,
        )
            .into_response()
    }
}

/// Runs blocking work (store reads, rendering) on tokio's blocking pool.
pub(super) async fn blocking<T, F>(work: F) -> Result<T, ServeError>
where
    F: FnOnce() -> Result<T, ServeError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work).await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_500_says_little_and_a_404_says_not_found() {
        let response = ServeError::Internal("sled: /secret/path is corrupt".into()).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(&body[..], b"internal server error\n");
        let response = ServeError::from(PublishError::UnknownOutput("x".into())).into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
}
