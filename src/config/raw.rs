//! The raw config: exactly what the file (and the environment) says, as serde reads it, and
//! each section's `validate`, which turns it into the runtime type or says what is wrong with
//! which key. Defaults are the named constants in `config/mod.rs`.

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use super::sources::Configured;
use super::*;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub(super) store: RawStore,
    #[serde(default)]
    pub(super) server: RawServer,
    #[serde(default)]
    pub(super) poll: RawPoll,
    #[serde(default)]
    pub(super) log: RawLog,
    #[serde(default)]
    pub(super) sources: BTreeMap<String, RawSource>,
    #[serde(default)]
    pub(super) outputs: BTreeMap<String, RawOutput>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    path: Option<String>,
    retention: Option<String>,
    max_items_per_source: Option<u64>,
    cache_capacity: Option<u64>,
    fault_exit_after: Option<String>,
    merge_window: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    listen: Option<String>,
    base_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPoll {
    interval: Option<String>,
    min_interval: Option<String>,
    max_interval: Option<String>,
    timeout: Option<String>,
    max_body_bytes: Option<u64>,
    concurrency: Option<u64>,
    per_host_concurrency: Option<u64>,
    user_agent: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLog {
    level: Option<String>,
    format: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSource {
    pub(super) url: String,
    pub(super) title: Option<String>,
    pub(super) interval: Option<String>,
    #[serde(default)]
    pub(super) tags: Vec<String>,
    pub(super) timezone: Option<String>,
    pub(super) enabled: Option<bool>,
    pub(super) priority: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOutput {
    pub(super) title: Option<String>,
    pub(super) description: Option<String>,
    pub(super) sources: Option<Vec<String>>,
    pub(super) filter: Option<String>,
    pub(super) limit: Option<u64>,
    pub(super) merge: Option<String>,
}

/// What validation found: errors, and warnings that do not stop the config from loading.
#[derive(Debug, Default)]
pub(super) struct Findings {
    pub(super) errors: Vec<Problem>,
    pub(super) warnings: Vec<Problem>,
}

impl Findings {
    pub(super) fn error(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.errors.push(Problem::new(key, message));
    }

    pub(super) fn warn(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(Problem::new(key, message));
    }

    /// Records `result`'s error, if any; its value otherwise.
    pub(super) fn take<T>(&mut self, result: Result<T, Problem>) -> Option<T> {
        result.map_err(|p| self.errors.push(p)).ok()
    }
}

pub(super) fn duration(key: &str, value: Option<&str>, default: &str) -> Result<Duration, Problem> {
    let text = value.unwrap_or(default);
    humantime::parse_duration(text.trim()).map_err(|e| {
        Problem::new(
            key,
            format!("{text:?} is not a duration like \"90s\", \"15m\" or \"1h\" ({e})"),
        )
    })
}

pub(super) fn nonzero_duration(
    key: &str,
    value: Option<&str>,
    default: &str,
) -> Result<Duration, Problem> {
    let d = duration(key, value, default)?;
    if d.is_zero() {
        return Err(Problem::new(key, "must be longer than 0s"));
    }
    Ok(d)
}

pub(super) fn positive(key: &str, value: Option<u64>, default: u64) -> Result<u64, Problem> {
    match value.unwrap_or(default) {
        0 => Err(Problem::new(key, "must be at least 1")),
        n => Ok(n),
    }
}

impl RawConfig {
    /// Validates every section, so one run names every problem it can; `file` anchors relative
    /// `file:` URLs.
    pub(super) fn validate(self, file: &Path, found: &mut Findings) -> Option<Config> {
        let store = found.take(self.store.validate());
        let server = self.server.validate(&mut found.warnings);
        let server = found.take(server);
        let poll = found.take(self.poll.validate());
        let log = found.take(self.log.validate());
        if self.sources.is_empty() {
            found.error(
                "sources",
                "no sources are configured: add a [sources.ID] table with a url (see README)",
            );
        }
        let default_interval = poll.as_ref().map_or(DEFAULT_INTERVAL, |p| p.interval);
        // What the file configures, valid or not: an output naming a source whose own table
        // is wrong gets that table's error, not a second one of its own.
        let configured = Configured {
            ids: self.sources.keys().cloned().collect(),
            tags: self
                .sources
                .values()
                .flat_map(|s| s.tags.iter().map(|t| t.trim().to_owned()))
                .collect(),
        };
        let sources: Vec<SourceConfig> = self
            .sources
            .into_iter()
            .filter_map(|(id, raw)| found.take(raw.validate(&id, file, default_interval)))
            .collect();
        let outputs: Vec<OutputConfig> = self
            .outputs
            .into_iter()
            .filter_map(|(name, raw)| raw.validate(name, &sources, &configured, found))
            .collect();
        Some(Config {
            file: file.to_owned(),
            store: store?,
            server: server?,
            poll: poll?,
            log: log?,
            sources,
            outputs,
            warnings: Vec::new(),
        })
    }
}

impl RawStore {
    fn validate(self) -> Result<StoreConfig, Problem> {
        let path = PathBuf::from(self.path.as_deref().unwrap_or(DEFAULT_STORE_PATH));
        if path.as_os_str().is_empty() {
            return Err(Problem::new("store.path", "cannot be empty"));
        }
        let retention = duration(
            "store.retention",
            self.retention.as_deref(),
            DEFAULT_RETENTION,
        )?;
        Ok(StoreConfig {
            path,
            retention: (!retention.is_zero()).then_some(retention),
            max_items_per_source: positive(
                "store.max_items_per_source",
                self.max_items_per_source,
                DEFAULT_MAX_ITEMS_PER_SOURCE,
            )? as usize,
            cache_capacity: self.cache_capacity.unwrap_or(DEFAULT_CACHE_CAPACITY),
            fault_exit_after: nonzero_duration(
                "store.fault_exit_after",
                self.fault_exit_after.as_deref(),
                DEFAULT_FAULT_EXIT_AFTER,
            )?,
            merge_window: duration(
                "store.merge_window",
                self.merge_window.as_deref(),
                DEFAULT_MERGE_WINDOW,
            )?,
        })
    }
}

impl RawServer {
    fn validate(self, warnings: &mut Vec<Problem>) -> Result<ServerConfig, Problem> {
        let text = self.listen.as_deref().unwrap_or(DEFAULT_LISTEN).trim();
        let listen = resolve_listen(text)?;
        let base_url = match self.base_url {
            Some(text) => {
                let url = Url::parse(text.trim()).map_err(|e| {
                    Problem::new("server.base_url", format!("{text:?} is not a URL ({e})"))
                })?;
                if !matches!(url.scheme(), "http" | "https") {
                    return Err(Problem::new(
                        "server.base_url",
                        "must be an http or https URL",
                    ));
                }
                url.as_str().trim_end_matches('/').to_owned()
            }
            None => {
                let base = format!("http://{text}");
                if listen.ip().is_unspecified() {
                    warnings.push(Problem::new(
                        "server.base_url",
                        format!(
                            "is not set, so feeds link to themselves as {base}, which readers \
                             cannot reach (server.listen is {text}, every interface); set \
                             server.base_url to the address readers use"
                        ),
                    ));
                }
                base
            }
        };
        Ok(ServerConfig {
            listen,
            listen_name: text.to_owned(),
            base_url,
        })
    }
}

/// An address to listen on: `127.0.0.1:8080`, `[::1]:8080`, or a host name and port
/// (`localhost:8080`), resolved now; the first address it resolves to is the one bound.
fn resolve_listen(text: &str) -> Result<SocketAddr, Problem> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let bad = |why: String| {
        Problem::new(
            "server.listen",
            format!(
                "{text:?} is not an address like \"127.0.0.1:8080\" or \"localhost:8080\" ({why})"
            ),
        )
    };
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(bad("no port".to_owned()));
    };
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(bad("a host and a port 0-65535 are needed".to_owned()));
    }
    let mut addrs = text
        .to_socket_addrs()
        .map_err(|e| bad(format!("cannot resolve {host:?}: {e}")))?;
    addrs
        .next()
        .ok_or_else(|| bad(format!("{host:?} resolves to no address")))
}

impl RawPoll {
    fn validate(self) -> Result<PollConfig, Problem> {
        let poll = PollConfig {
            interval: nonzero_duration(
                "poll.interval",
                self.interval.as_deref(),
                DEFAULT_INTERVAL_TEXT,
            )?,
            min_interval: nonzero_duration(
                "poll.min_interval",
                self.min_interval.as_deref(),
                DEFAULT_MIN_INTERVAL,
            )?,
            max_interval: duration(
                "poll.max_interval",
                self.max_interval.as_deref(),
                DEFAULT_MAX_INTERVAL,
            )?,
            timeout: nonzero_duration("poll.timeout", self.timeout.as_deref(), DEFAULT_TIMEOUT)?,
            max_body_bytes: positive(
                "poll.max_body_bytes",
                self.max_body_bytes,
                DEFAULT_MAX_BODY_BYTES,
            )?,
            concurrency: positive("poll.concurrency", self.concurrency, DEFAULT_CONCURRENCY)?
                as usize,
            per_host_concurrency: positive(
                "poll.per_host_concurrency",
                self.per_host_concurrency,
                DEFAULT_PER_HOST_CONCURRENCY,
            )? as usize,
            user_agent: match self.user_agent {
                Some(ua) if ua.trim().is_empty() => {
                    return Err(Problem::new("poll.user_agent", "cannot be empty"));
                }
                Some(ua) => ua.trim().replace("VERSION", env!("CARGO_PKG_VERSION")),
                None => DEFAULT_USER_AGENT.to_owned(),
            },
        };
        if poll.min_interval > poll.max_interval {
            return Err(Problem::new(
                "poll.min_interval",
                format!(
                    "{} is longer than poll.max_interval ({})",
                    humantime::format_duration(poll.min_interval),
                    humantime::format_duration(poll.max_interval)
                ),
            ));
        }
        if reqwest::header::HeaderValue::from_str(&poll.user_agent).is_err() {
            return Err(Problem::new(
                "poll.user_agent",
                "contains characters not allowed in an HTTP header",
            ));
        }
        Ok(poll)
    }
}

/// The levels a `[log] level` directive may name.
const LEVELS: [&str; 7] = ["trace", "debug", "info", "warn", "warning", "error", "off"];

impl RawLog {
    fn validate(self) -> Result<LogConfig, Problem> {
        let level = self.level.unwrap_or_else(|| DEFAULT_LOG_LEVEL.to_owned());
        check_log_level(&level)?;
        let format = match self.format.as_deref().unwrap_or("text") {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(Problem::new(
                    "log.format",
                    format!("{other:?} is not one of \"text\", \"json\""),
                ));
            }
        };
        Ok(LogConfig { level, format })
    }
}

/// A `tracing` filter that logs something: a level, or `target=level` directives. A bare word
/// that is not a level (`verbose`) is legal to `tracing` (it enables one target, named
/// "verbose", and silences everything else, errors included), so it is refused here.
fn check_log_level(level: &str) -> Result<(), Problem> {
    let bad = |why: &str| {
        Problem::new(
            "log.level",
            format!(
                "{level:?} {why}: use a level (trace, debug, info, warn, error, off) or \
                 directives such as \"info,sosik=debug\""
            ),
        )
    };
    if level.trim().is_empty() {
        return Err(bad("is empty"));
    }
    for directive in level.split(',').map(str::trim) {
        let is_level = |s: &str| LEVELS.iter().any(|l| l.eq_ignore_ascii_case(s.trim()));
        match directive.rsplit_once('=') {
            Some((_, lvl)) if is_level(lvl) => {}
            Some(_) => return Err(bad(&format!("has {directive:?}, whose level is unknown"))),
            None if is_level(directive) => {}
            None => return Err(bad(&format!("has {directive:?}, which is not a level"))),
        }
    }
    if tracing_subscriber::EnvFilter::try_new(level).is_err() {
        return Err(bad("is not a valid filter"));
    }
    Ok(())
}

impl Default for PollConfig {
    /// Every `[poll]` default, as a config without a `[poll]` table gets.
    fn default() -> PollConfig {
        RawPoll::default()
            .validate()
            .expect("the [poll] defaults are valid")
    }
}

impl Default for StoreConfig {
    /// Every `[store]` default, as a config without a `[store]` table gets.
    fn default() -> StoreConfig {
        RawStore::default()
            .validate()
            .expect("the [store] defaults are valid")
    }
}
