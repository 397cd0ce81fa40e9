//! Prometheus metrics (prometheus-client): the registry, the series sosik exposes, the request
//! counting middleware and `GET /metrics`.
//!
//! Every series is named `sosik_*`. Gauges about the store are set when scraped, so they cost
//! nothing between scrapes. To add a series (the daemon's poll counters, say), add a field,
//! register it in [`Metrics::new`], and update it where the event happens.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::AppState;
use super::error::{ServeError, blocking};

/// The OpenMetrics text format that `prometheus_client::encoding::text` writes.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Labels of `sosik_http_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// The matched route template (`/feeds/{file}`), or `unmatched` for a 404 of the fallback.
    pub route: String,
    /// The response status code.
    pub status: u16,
}

/// The metrics registry and the series sosik updates. Share it in an `Arc`.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// `sosik_stories`: stories in the store, set at each scrape.
    pub stories: Gauge,
    /// `sosik_sources`: configured sources, set at each scrape.
    pub sources: Gauge,
    /// `sosik_http_requests_total{route,status}`: HTTP requests answered.
    pub http_requests: Family<HttpLabels, Counter>,
}

impl Metrics {
    /// A registry with every sosik series registered, all at zero.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("sosik");
        let stories = Gauge::default();
        let sources = Gauge::default();
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register("stories", "Stories in the store", stories.clone());
        registry.register("sources", "Configured sources", sources.clone());
        registry.register(
            "http_requests",
            "HTTP requests answered, by route and status",
            http_requests.clone(),
        );
        Metrics {
            registry,
            stories,
            sources,
            http_requests,
        }
    }

    /// The registry, to register more series before the metrics are shared. Names get the
    /// `sosik_` prefix.
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Every series in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("encoding metrics into a String cannot fail");
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

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
        .set(i64::try_from(state.config.sources.len()).unwrap_or(i64::MAX));
    let headers = [
        (header::CONTENT_TYPE, CONTENT_TYPE),
        (header::CACHE_CONTROL, "no-store"),
    ];
    Ok((headers, metrics.encode()).into_response())
}
