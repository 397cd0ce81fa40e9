//! The raw config: exactly what the file (and the environment) says, as serde reads it, and
//! each section's `validate`, which turns it into the runtime type or says what is wrong with
//! which key. Defaults are the named constants in `config/mod.rs`.

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use super::*;
use crate::filter::{Filter, ReferenceKind};
use crate::model::SourceId;

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
    url: String,
    title: Option<String>,
    interval: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    timezone: Option<String>,
    enabled: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOutput {
    title: Option<String>,
    description: Option<String>,
    sources: Option<Vec<String>>,
    filter: Option<String>,
    limit: Option<u64>,
}

/// What validation found: errors, and warnings that do not stop the config from loading.
#[derive(Debug, Default)]
pub(super) struct Findings {
    pub(super) errors: Vec<Problem>,
    pub(super) warnings: Vec<Problem>,
}

impl Findings {
    fn error(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.errors.push(Problem::new(key, message));
    }

    fn warn(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(Problem::new(key, message));
    }

    /// Records `result`'s error, if any; its value otherwise.
    fn take<T>(&mut self, result: Result<T, Problem>) -> Option<T> {
        result.map_err(|p| self.errors.push(p)).ok()
    }
}

fn duration(key: &str, value: Option<&str>, default: &str) -> Result<Duration, Problem> {
    let text = value.unwrap_or(default);
    humantime::parse_duration(text.trim()).map_err(|e| {
        Problem::new(
            key,
            format!("{text:?} is not a duration like \"90s\", \"15m\" or \"1h\" ({e})"),
        )
    })
}

fn nonzero_duration(key: &str, value: Option<&str>, default: &str) -> Result<Duration, Problem> {
    let d = duration(key, value, default)?;
    if d.is_zero() {
        return Err(Problem::new(key, "must be longer than 0s"));
    }
    Ok(d)
}

fn positive(key: &str, value: Option<u64>, default: u64) -> Result<u64, Problem> {
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

/// The source ids and tags the file names, whether or not their tables are valid.
struct Configured {
    ids: Vec<String>,
    tags: Vec<String>,
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

/// Parses a source URL. A relative `file:` URL (`file:demo/a.xml`) is resolved against the
/// config file's directory, so a committed config can point at files committed beside it.
fn source_url(config_file: &Path, text: &str) -> Result<Url, String> {
    if let Some(rest) = text
        .strip_prefix("file:")
        .filter(|r| !r.starts_with('/') && !r.is_empty())
    {
        let dir = config_file.parent().unwrap_or(Path::new("."));
        let path = std::path::absolute(dir.join(rest)).map_err(|e| e.to_string())?;
        return Url::from_file_path(&path)
            .map_err(|_| format!("{} is not an absolute path", path.display()));
    }
    Url::parse(text).map_err(|e| e.to_string())
}

impl RawSource {
    fn validate(
        self,
        id_text: &str,
        file: &Path,
        default_interval: Duration,
    ) -> Result<SourceConfig, Problem> {
        let key = |field: &str| format!("sources.{id_text}.{field}");
        let id =
            SourceId::new(id_text).map_err(|m| Problem::new(format!("sources.{id_text}"), m))?;
        let url = source_url(file, self.url.trim())
            .map_err(|e| Problem::new(key("url"), format!("{:?} is not a URL ({e})", self.url)))?;
        match url.scheme() {
            "http" | "https" => {}
            "file" => {
                let path = url.to_file_path().map_err(|()| {
                    Problem::new(key("url"), format!("{url} does not name a local file"))
                })?;
                if !path.is_file() {
                    return Err(Problem::new(
                        key("url"),
                        format!("{} does not exist or is not a file", path.display()),
                    ));
                }
            }
            other => {
                return Err(Problem::new(
                    key("url"),
                    format!("scheme {other:?} is not supported; use http, https or file"),
                ));
            }
        }
        let interval = match self.interval.as_deref() {
            Some(text) => nonzero_duration(&key("interval"), Some(text), "")?,
            None => default_interval,
        };
        let timezone = match self.timezone.as_deref() {
            None => chrono_tz::UTC,
            Some(name) => name.trim().parse::<chrono_tz::Tz>().map_err(|_| {
                Problem::new(
                    key("timezone"),
                    format!("{name:?} is not an IANA time zone such as \"Asia/Seoul\""),
                )
            })?,
        };
        Ok(SourceConfig {
            id,
            url,
            title: self.title.filter(|t| !t.trim().is_empty()),
            interval,
            tags: self
                .tags
                .into_iter()
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
                .collect(),
            timezone,
            enabled: self.enabled.unwrap_or(true),
        })
    }
}

impl RawOutput {
    /// Validates the output `name` against the sources that validated; records every problem.
    fn validate(
        self,
        name: String,
        sources: &[SourceConfig],
        configured: &Configured,
        found: &mut Findings,
    ) -> Option<OutputConfig> {
        let key = |field: &str| format!("outputs.{name}.{field}");
        if let Err(m) = SourceId::new(&name) {
            found.error(
                format!("outputs.{name}"),
                m.replace("source id", "output name"),
            );
            return None;
        }
        let output_sources = match self.sources {
            None => sources.iter().map(|s| s.id.clone()).collect(),
            Some(list) => {
                let mut ids = Vec::with_capacity(list.len());
                for id in list {
                    if let Some(s) = sources.iter().find(|s| s.id.as_str() == id) {
                        ids.push(s.id.clone());
                    } else if !configured.ids.contains(&id) {
                        found.error(
                            key("sources"),
                            format!("names {id:?}, which is not a configured source"),
                        );
                    }
                }
                ids
            }
        };
        let limit = found.take(positive(&key("limit"), self.limit, DEFAULT_OUTPUT_LIMIT));
        let filter = match Filter::parse(self.filter.as_deref().unwrap_or("")) {
            Ok(filter) => filter,
            Err(e) => {
                found.error(key("filter"), e.to_string());
                return None;
            }
        };
        for warning in filter.warnings() {
            found.warn(key("filter"), warning.to_string());
        }
        let ids = configured.ids.iter().map(String::as_str);
        let tags = configured.tags.iter().map(String::as_str);
        for reference in filter.unknown_references(ids, tags) {
            let (field, what) = match reference.kind {
                ReferenceKind::Source => ("source", "no configured source has that id"),
                ReferenceKind::Tag => ("tag", "no configured source has that tag"),
            };
            found.error(
                key("filter"),
                format!(
                    "col {}: {field}:{} can never match: {what}",
                    reference.col, reference.value
                ),
            );
        }
        Some(OutputConfig {
            title: self.title.unwrap_or_else(|| name.clone()),
            description: self.description.unwrap_or_default(),
            sources: output_sources,
            filter,
            limit: limit? as usize,
            name,
        })
    }
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
