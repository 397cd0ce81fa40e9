//! The HTTP server: the axum router, caching headers, limits, and one error type mapped to
//! responses.
//!
//! This module owns the URL space of SPEC "HTTP" and how each answer is shaped (status, headers,
//! compression). It never fetches feeds, never writes the store, and never reads a file by a
//! request's path: feeds come from [`Publisher`], pages are built in memory. Blocking work
//! (store reads, rendering) runs on tokio's blocking pool.
//!
//! Decisions:
//! - Limits: a handler gets [`REQUEST_TIMEOUT`] (then 503); request bodies, which no route
//!   reads, are capped at [`MAX_REQUEST_BODY`]; [`serve`] runs hyper itself rather than
//!   `axum::serve` to cap the request head at [`MAX_REQUEST_HEAD`] bytes (431 past it) and
//!   to give a client [`HEADER_READ_TIMEOUT`] to send it, so a client trickling its head
//!   cannot hold a connection for long.
//!   HTTP/1.1 only, as `axum::serve` with axum's default features.
//! - Compression (gzip, br) is tower-http's, negotiated from `Accept-Encoding`. Each encoding
//!   is its own representation with its own strong ETag: `"HASH"` plain, `"HASH-gzip"` and
//!   `"HASH-br"` compressed (RFC 9110 §8.8.3: a strong validator changes with the content
//!   coding). `If-None-Match` accepts any of the three for the current `HASH`, since they are
//!   the same document. Feed responses always carry `Vary: Accept-Encoding`.
//! - `/metrics` counts requests by matched route template, so a scan of random paths adds one
//!   series (`route="unmatched"`), not one per path.

mod conditional;
mod error;
mod feeds;
mod metrics;
mod pages;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{from_fn_with_state, map_response};
use axum::response::Response;
use axum::routing::get;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::body::Limited;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};

use crate::config::Config;
use crate::publish::Publisher;
use crate::store::Store;

pub use crate::metrics::{HttpLabels, Metrics};
pub use error::ServeError;

/// How long a handler may take before the client gets a 503.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client may take to send a request's head (line and headers).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest request head (line and headers) read, in bytes.
pub const MAX_REQUEST_HEAD: usize = 64 * 1024;

/// Largest request body accepted, in bytes. No route reads one.
pub const MAX_REQUEST_BODY: usize = 16 * 1024;

/// How long [`serve`] waits, after the shutdown signal, for open requests to finish.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// What every handler can reach. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    /// Renders and caches the output feeds.
    pub publisher: Publisher,
    /// The story store, read only.
    pub store: Store,
    /// Counters and gauges exposed at `/metrics`.
    pub metrics: Arc<Metrics>,
}

impl AppState {
    /// The state for `publisher`, serving its config and store.
    pub fn new(publisher: Publisher, metrics: Arc<Metrics>) -> AppState {
        AppState {
            store: publisher.store().clone(),
            publisher,
            metrics,
        }
    }
}

impl AppState {
    /// The configuration served now (outputs, sources, base URL): a reload swaps it.
    pub fn config(&self) -> Arc<Config> {
        self.publisher.config()
    }
}

/// The whole HTTP surface (SPEC "HTTP"), with compression, limits, tracing and request
/// metrics. Anything else is a plain-text 404.
pub fn router(state: AppState) -> Router {
    let metrics = state.metrics.clone();
    Router::new()
        .route("/", get(pages::index))
        .route("/healthz", get(pages::healthz))
        .route("/sources.opml", get(pages::opml))
        .route("/metrics", get(metrics::scrape))
        .route("/feeds/{file}", get(feeds::feed))
        .fallback(not_found)
        .with_state(state)
        .layer(
            // Outermost first: metrics see every status, timeouts and limits included.
            ServiceBuilder::new()
                // A 5xx is logged with its detail by `ServeError`; the trace only warns.
                .layer(
                    TraceLayer::new_for_http()
                        .on_failure(DefaultOnFailure::new().level(tracing::Level::WARN)),
                )
                .layer(from_fn_with_state(metrics, metrics::track))
                .layer(RequestBodyLimitLayer::new(MAX_REQUEST_BODY))
                // Back to axum's body type, which the layers inside expect.
                .map_request(|request: Request<Limited<Body>>| request.map(Body::new))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::SERVICE_UNAVAILABLE,
                    REQUEST_TIMEOUT,
                ))
                .layer(map_response(tag_encoded_variants))
                .layer(CompressionLayer::new()),
        )
}

async fn not_found() -> ServeError {
    ServeError::NotFound
}

/// Runs after compression: gives a compressed body its own strong ETag (`"HASH-gzip"`), and
/// tells browsers not to guess content types.
async fn tag_encoded_variants<B>(mut response: Response<B>) -> Response<B> {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok());
    let tag = headers
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix('"')?.strip_suffix('"'));
    if let (Some(encoding), Some(tag)) = (encoding, tag) {
        let variant = format!("\"{tag}-{encoding}\"");
        if let Ok(value) = HeaderValue::from_str(&variant) {
            headers.insert(header::ETAG, value);
        }
    }
    response
}

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting, lets open
/// requests finish for up to [`DRAIN_TIMEOUT`] and returns. Failed connections are logged at
/// debug level; a failed `accept` (say, out of file descriptors) is logged and retried after a
/// pause, so it never ends the server.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_header_size(MAX_REQUEST_HEAD);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    tracing::info!(addr = %listener.local_addr()?, "serving HTTP");
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Feeds are small and requests few; Nagle would only add latency.
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!("HTTP shutting down: draining open requests");
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "HTTP requests still open after {}s; leaving them",
            DRAIN_TIMEOUT.as_secs()
        );
    }
    Ok(())
}
