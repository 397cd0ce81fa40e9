//! The HTTP side of metrics: the request-counting middleware and `GET /metrics`. The registry
//! and its series live in `crate::metrics`.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::{ServeError, blocking};
use crate::metrics::{HttpLabels, Metrics};

/// The OpenMetrics text format that `prometheus_client::encoding::text` writes.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Counts each answered request by route template and status.
pub(super) async fn track(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let response = next.run(request).await;
    let labels = HttpLabels {
        route,
        status: response.status().as_u16(),
    };
    metrics.http_requests.get_or_create(&labels).inc();
    response
}

/// `GET /metrics`.
pub(super) async fn scrape(State(state): State<AppState>) -> Result<Response, ServeError> {
    let publisher = state.publisher.clone();
    let stories = blocking(move || Ok(publisher.story_count())).await?;
    let metrics = &state.metrics;
    metrics
        .stories
        .set(i64::try_from(stories).unwrap_or(i64::MAX));
    metrics
        .sources
        .set(i64::try_from(state.config().sources.len()).unwrap_or(i64::MAX));
    let headers = [
        (header::CONTENT_TYPE, CONTENT_TYPE),
        (header::CACHE_CONTROL, "no-store"),
    ];
    Ok((headers, metrics.encode()).into_response())
}
