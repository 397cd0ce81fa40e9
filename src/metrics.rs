//! Prometheus metrics (prometheus-client): the registry and every series sosik exposes, all
//! named `sosik_*`. The ingest side counts polls and stories here, the HTTP side counts
//! requests, and store gauges are set when `/metrics` is scraped, so they cost nothing between
//! scrapes. To add a series: add a field, register it in [`Metrics::new`], update it where the
//! event happens.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

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
    /// `sosik_fetches_total{outcome}`: polls by outcome (`stored`, `not_modified`, `gone`,
    /// `failed`, `panicked`).
    pub fetches: Family<OutcomeLabels, Counter>,
    /// `sosik_fetch_duration_seconds`: time from request to the last body byte.
    pub fetch_seconds: Histogram,
    /// `sosik_stories_new_total{source}`: stories first stored, per source.
    pub stories_new: Family<SourceLabels, Counter>,
    /// `sosik_stories_updated_total{source}`: stories edited in place, per source.
    pub stories_updated: Family<SourceLabels, Counter>,
    /// `sosik_source_consecutive_errors{source}`: failures since the last success.
    pub consecutive_errors: Family<SourceLabels, Gauge>,
    /// `sosik_store_errors_total{kind}`: storage errors by kind (full, permission, gone,
    /// corrupt, io).
    pub store_errors: Family<KindLabels, Counter>,
    /// `sosik_stories_merged_total`: new stories that joined another source's story of the
    /// same event.
    pub stories_merged: Counter,
    /// `sosik_config_reloads_total{result}`: reloads (`sosik reload`, SIGHUP) applied (`ok`)
    /// or refused for an invalid config (`error`).
    pub config_reloads: Family<ResultLabels, Counter>,
}

/// Labels of `sosik_config_reloads_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// `ok` or `error`.
    pub result: &'static str,
}

/// Labels of `sosik_store_errors_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    /// The kind of storage fault ([`crate::store::FaultKind::label`]).
    pub kind: &'static str,
}

/// Labels of `sosik_fetches_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// How the poll ended.
    pub outcome: &'static str,
}

/// Labels of the per-source series. Source ids come from the config, so the set is bounded.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabels {
    /// The source id.
    pub source: String,
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
        let fetches = Family::<OutcomeLabels, Counter>::default();
        registry.register("fetches", "Polls by outcome", fetches.clone());
        // 10 ms to ~40 s: loopback to a slow publisher at the timeout.
        let fetch_seconds = Histogram::new(
            prometheus_client::metrics::histogram::exponential_buckets(0.01, 2.0, 13),
        );
        registry.register(
            "fetch_duration_seconds",
            "Time to fetch a feed, headers and body",
            fetch_seconds.clone(),
        );
        let stories_new = Family::<SourceLabels, Counter>::default();
        registry.register(
            "stories_new",
            "Stories first stored, per source",
            stories_new.clone(),
        );
        let stories_updated = Family::<SourceLabels, Counter>::default();
        registry.register(
            "stories_updated",
            "Stories edited in place, per source",
            stories_updated.clone(),
        );
        let consecutive_errors = Family::<SourceLabels, Gauge>::default();
        registry.register(
            "source_consecutive_errors",
            "Failed polls since the last success, per source",
            consecutive_errors.clone(),
        );
        let store_errors = Family::<KindLabels, Counter>::default();
        registry.register(
            "store_errors",
            "Storage errors, by kind",
            store_errors.clone(),
        );
        // Every kind from the start, so a rate over the series needs no first error.
        for kind in crate::store::FaultKind::ALL {
            drop(store_errors.get_or_create(&KindLabels { kind: kind.label() }));
        }
        let stories_merged = Counter::default();
        registry.register(
            "stories_merged",
            "New stories merged into another source's story of the same event",
            stories_merged.clone(),
        );
        let config_reloads = Family::<ResultLabels, Counter>::default();
        registry.register(
            "config_reloads",
            "Config reloads, applied (ok) or refused (error)",
            config_reloads.clone(),
        );
        for result in ["ok", "error"] {
            drop(config_reloads.get_or_create(&ResultLabels { result }));
        }
        Metrics {
            registry,
            stories_merged,
            config_reloads,
            store_errors,
            stories,
            sources,
            http_requests,
            fetches,
            fetch_seconds,
            stories_new,
            stories_updated,
            consecutive_errors,
        }
    }

    /// Creates `source`'s per-source series, the counters at 0 and the error gauge at
    /// `consecutive_errors` (from its stored state), so a scrape right after a start shows
    /// every configured source before any poll (issue 12, item 6). Polls update them after.
    pub fn seed_source(&self, source: &str, consecutive_errors: u32) {
        let labels = SourceLabels {
            source: source.to_owned(),
        };
        // Creating the series is the point; the guards are released at once.
        drop(self.stories_new.get_or_create(&labels));
        drop(self.stories_updated.get_or_create(&labels));
        self.consecutive_errors
            .get_or_create(&labels)
            .set(i64::from(consecutive_errors));
    }

    /// Drops `source`'s per-source series: it left the config.
    pub fn forget_source(&self, source: &str) {
        let labels = SourceLabels {
            source: source.to_owned(),
        };
        self.stories_new.remove(&labels);
        self.stories_updated.remove(&labels);
        self.consecutive_errors.remove(&labels);
    }

    /// Counts one config reload, `ok` or `error`.
    pub fn config_reload(&self, result: &'static str) {
        self.config_reloads
            .get_or_create(&ResultLabels { result })
            .inc();
    }

    /// Counts one storage error of `kind`.
    pub fn store_error(&self, kind: crate::store::FaultKind) {
        self.store_errors
            .get_or_create(&KindLabels { kind: kind.label() })
            .inc();
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
