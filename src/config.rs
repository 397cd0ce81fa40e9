//! Configuration: the TOML file and `SOSIK__…` environment overrides, read with the `config`
//! crate into raw serde types, then validated into the runtime types the rest of sosik uses.
//!
//! Two steps on purpose: the raw structs mirror the file exactly (`deny_unknown_fields`, so a
//! typo is an error naming the key), and [`Config::load`] turns them into parsed durations,
//! URLs, time zones, checked ids and compiled filters. Every error names the key it is about.
//! Nothing here is global: the loaded [`Config`] is passed to whoever needs it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::filter::Filter;
use crate::model::SourceId;

/// sled's page cache unless `store.cache_capacity` says otherwise: 4 MiB. New stories go to the
/// newest leaves and a render reads a few hundred records, so a larger cache buys little: at 32
/// MiB a cold poll of 2,000 feeds took 5% longer (the cache's own upkeep), peaked 20 MiB higher
/// and left the daemon 24 MiB larger until it stopped; what it buys is a render missing its
/// cache in 3.2 ms instead of 4.2, and a poll reading back 100,000 stored stories 7% sooner
/// (BENCHMARKS.md).
pub const DEFAULT_CACHE_CAPACITY: u64 = 4 * 1024 * 1024;

/// The default User-Agent: names the program, its version and where to read about it, so a
/// publisher who sees us in their logs can find out who we are.
pub const DEFAULT_USER_AGENT: &str = concat!(
    "sosik/",
    env!("CARGO_PKG_VERSION"),
    " (+",
    env!("CARGO_PKG_REPOSITORY"),
    ")"
);

/// A configuration problem, naming the key it is about.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigError {
    /// Dotted path of the offending key, e.g. `poll.timeout` or `sources.mk-all.url`; the
    /// config file's path when the file as a whole is unreadable.
    pub key: String,
    /// Why the value is wrong, as a sentence.
    pub message: String,
}

impl ConfigError {
    fn new(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            key: key.into(),
            message: message.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Raw: exactly what the file says.

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    store: RawStore,
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    poll: RawPoll,
    #[serde(default)]
    log: RawLog,
    #[serde(default)]
    sources: BTreeMap<String, RawSource>,
    #[serde(default)]
    outputs: BTreeMap<String, RawOutput>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    path: Option<String>,
    retention: Option<String>,
    max_items_per_source: Option<u64>,
    cache_capacity: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<String>,
    base_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPoll {
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
struct RawLog {
    level: Option<String>,
    format: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
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
struct RawOutput {
    title: Option<String>,
    description: Option<String>,
    sources: Option<Vec<String>>,
    filter: Option<String>,
    limit: Option<u64>,
}

// ---------------------------------------------------------------------------------------------
// Validated: what the program runs on.

/// The whole validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file this was read from.
    pub file: PathBuf,
    /// `[store]`.
    pub store: StoreConfig,
    /// `[server]`.
    pub server: ServerConfig,
    /// `[poll]`.
    pub poll: PollConfig,
    /// `[log]`.
    pub log: LogConfig,
    /// `[sources.ID]`, ordered by id.
    pub sources: Vec<SourceConfig>,
    /// `[outputs.NAME]`, ordered by name.
    pub outputs: Vec<OutputConfig>,
}

/// `[store]`: where and how much sosik keeps.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The sled directory; relative paths are relative to the working directory.
    pub path: PathBuf,
    /// Forget stories first seen longer ago than this; `None` keeps everything (`"0s"`).
    pub retention: Option<Duration>,
    /// The newest stories kept per source.
    pub max_items_per_source: usize,
    /// sled's page cache, in bytes ([`DEFAULT_CACHE_CAPACITY`] unless set). sled's own default
    /// (1 GiB) is far more than a feed store needs.
    pub cache_capacity: u64,
}

/// `[server]`: the HTTP side.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// Prefix for absolute self links, without a trailing slash.
    pub base_url: String,
}

/// `[poll]`: how sosik fetches.
#[derive(Debug, Clone)]
pub struct PollConfig {
    /// Default interval between polls of one source.
    pub interval: Duration,
    /// Floor of every computed interval, publisher hints included.
    pub min_interval: Duration,
    /// Ceiling of every computed interval, error backoff included.
    pub max_interval: Duration,
    /// Limit on a whole request: connect, headers and body.
    pub timeout: Duration,
    /// Largest body accepted, counted after decompression.
    pub max_body_bytes: u64,
    /// Fetches in flight at once.
    pub concurrency: usize,
    /// Fetches in flight to one host at once.
    pub per_host_concurrency: usize,
    /// The User-Agent header sent with every request.
    pub user_agent: String,
}

/// `[log]`: what the daemon logs and how.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// A `tracing` filter directive such as `info` or `sosik=debug`; `RUST_LOG` wins over it.
    pub level: String,
    /// Human-readable lines or JSON objects.
    pub format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per event.
    Json,
}

/// `[sources.ID]`: one feed to poll.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// The table's name.
    pub id: SourceId,
    /// `http`, `https` or `file` URL.
    pub url: Url,
    /// Display title; the feed's own title is used where this is absent.
    pub title: Option<String>,
    /// Poll interval for this source.
    pub interval: Duration,
    /// Free-form labels, matched by `tag:` in filters.
    pub tags: Vec<String>,
    /// Zone for timestamps that carry no offset.
    pub timezone: chrono_tz::Tz,
    /// Disabled sources are kept in the config but never polled.
    pub enabled: bool,
}

/// `[outputs.NAME]`: one republished feed.
#[derive(Debug, Clone)]
pub struct OutputConfig {
    /// The table's name; the feed is served at `/feeds/NAME.xml|.atom|.json`.
    pub name: String,
    /// Feed title.
    pub title: String,
    /// Feed description.
    pub description: String,
    /// Sources whose stories this output draws from.
    pub sources: Vec<SourceId>,
    /// The compiled filter; the empty filter matches everything.
    pub filter: Filter,
    /// Newest stories in the feed.
    pub limit: usize,
}

impl Config {
    /// Finds the config file: `--config` wins, then `SOSIK_CONFIG`, then `config/sosik.toml`.
    pub fn locate(cli: Option<&Path>) -> PathBuf {
        if let Some(path) = cli {
            return path.to_owned();
        }
        match std::env::var_os("SOSIK_CONFIG") {
            Some(path) if !path.is_empty() => PathBuf::from(path),
            _ => PathBuf::from("config/sosik.toml"),
        }
    }

    /// Reads `file`, applies `SOSIK__SECTION__KEY` environment overrides and validates.
    pub fn load(file: &Path) -> Result<Config, ConfigError> {
        Self::load_with_env(file, None)
    }

    /// Like [`Config::load`], with the environment given explicitly (tests) or read from the
    /// process (`None`).
    pub fn load_with_env(
        file: &Path,
        env: Option<config::Map<String, String>>,
    ) -> Result<Config, ConfigError> {
        let shown = file.display().to_string();
        if !file.is_file() {
            return Err(ConfigError::new(shown, "no such config file"));
        }
        let environment = config::Environment::with_prefix("SOSIK")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .source(env);
        let raw: RawConfig = config::Config::builder()
            .add_source(config::File::from(file).format(config::FileFormat::Toml))
            .add_source(environment)
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| from_config_crate(&shown, e))?;
        validate(file, raw)
    }

    /// The source with this id.
    pub fn source(&self, id: &str) -> Option<&SourceConfig> {
        self.sources.iter().find(|s| s.id.as_str() == id)
    }

    /// The output with this name.
    pub fn output(&self, name: &str) -> Option<&OutputConfig> {
        self.outputs.iter().find(|o| o.name == name)
    }
}

/// Turns the `config` crate's messages into ours. Its messages already name the key for type
/// errors ("invalid type … for key `poll.timeout`"); unknown fields only say the field and the
/// table's expected keys, which is enough to find the typo.
fn from_config_crate(file: &str, err: config::ConfigError) -> ConfigError {
    match err {
        config::ConfigError::At {
            error,
            key: Some(key),
            ..
        } => ConfigError::new(key, error.to_string()),
        config::ConfigError::Message(message) => {
            let key = unknown_field_key(&message).unwrap_or_else(|| file.to_owned());
            ConfigError::new(key, message)
        }
        other => ConfigError::new(file, other.to_string()),
    }
}

/// Pulls the field name out of serde's "unknown field `x`, expected …".
fn unknown_field_key(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest[..rest.find('`')?].to_owned())
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

fn duration(key: &str, value: Option<&str>, default: &str) -> Result<Duration, ConfigError> {
    let text = value.unwrap_or(default);
    humantime::parse_duration(text.trim()).map_err(|e| {
        ConfigError::new(
            key,
            format!("{text:?} is not a duration like \"90s\", \"15m\" or \"1h\" ({e})"),
        )
    })
}

fn positive(key: &str, value: Option<u64>, default: u64) -> Result<u64, ConfigError> {
    match value.unwrap_or(default) {
        0 => Err(ConfigError::new(key, "must be at least 1")),
        n => Ok(n),
    }
}

fn validate(file: &Path, raw: RawConfig) -> Result<Config, ConfigError> {
    let store = StoreConfig {
        path: PathBuf::from(raw.store.path.as_deref().unwrap_or("data")),
        retention: match duration("store.retention", raw.store.retention.as_deref(), "30d")? {
            d if d.is_zero() => None,
            d => Some(d),
        },
        max_items_per_source: positive(
            "store.max_items_per_source",
            raw.store.max_items_per_source,
            2000,
        )? as usize,
        cache_capacity: raw.store.cache_capacity.unwrap_or(DEFAULT_CACHE_CAPACITY),
    };
    if store.path.as_os_str().is_empty() {
        return Err(ConfigError::new("store.path", "cannot be empty"));
    }

    let listen_text = raw.server.listen.as_deref().unwrap_or("127.0.0.1:8080");
    let listen: SocketAddr = listen_text.trim().parse().map_err(|_| {
        ConfigError::new(
            "server.listen",
            format!("{listen_text:?} is not an address like \"127.0.0.1:8080\""),
        )
    })?;
    let base_url = match raw.server.base_url {
        Some(text) => {
            let url = Url::parse(text.trim()).map_err(|e| {
                ConfigError::new("server.base_url", format!("{text:?} is not a URL ({e})"))
            })?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(ConfigError::new(
                    "server.base_url",
                    "must be an http or https URL",
                ));
            }
            url.as_str().trim_end_matches('/').to_owned()
        }
        None => format!("http://{listen}"),
    };
    let server = ServerConfig { listen, base_url };

    let poll = PollConfig {
        interval: duration("poll.interval", raw.poll.interval.as_deref(), "15m")?,
        min_interval: duration("poll.min_interval", raw.poll.min_interval.as_deref(), "5m")?,
        max_interval: duration("poll.max_interval", raw.poll.max_interval.as_deref(), "24h")?,
        timeout: duration("poll.timeout", raw.poll.timeout.as_deref(), "20s")?,
        max_body_bytes: positive(
            "poll.max_body_bytes",
            raw.poll.max_body_bytes,
            10 * 1024 * 1024,
        )?,
        concurrency: positive("poll.concurrency", raw.poll.concurrency, 16)? as usize,
        per_host_concurrency: positive(
            "poll.per_host_concurrency",
            raw.poll.per_host_concurrency,
            2,
        )? as usize,
        user_agent: match raw.poll.user_agent {
            Some(ua) if ua.trim().is_empty() => {
                return Err(ConfigError::new("poll.user_agent", "cannot be empty"));
            }
            Some(ua) => ua.trim().replace("VERSION", env!("CARGO_PKG_VERSION")),
            None => DEFAULT_USER_AGENT.to_owned(),
        },
    };
    if poll.timeout.is_zero() {
        return Err(ConfigError::new("poll.timeout", "must be longer than 0s"));
    }
    if poll.min_interval.is_zero() {
        return Err(ConfigError::new(
            "poll.min_interval",
            "must be longer than 0s",
        ));
    }
    if poll.min_interval > poll.max_interval {
        return Err(ConfigError::new(
            "poll.min_interval",
            format!(
                "{} is longer than poll.max_interval ({})",
                humantime::format_duration(poll.min_interval),
                humantime::format_duration(poll.max_interval)
            ),
        ));
    }
    if reqwest::header::HeaderValue::from_str(&poll.user_agent).is_err() {
        return Err(ConfigError::new(
            "poll.user_agent",
            "contains characters not allowed in an HTTP header",
        ));
    }

    let log = LogConfig {
        level: raw.log.level.unwrap_or_else(|| "info".to_owned()),
        format: match raw.log.format.as_deref().unwrap_or("text") {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(ConfigError::new(
                    "log.format",
                    format!("{other:?} is not one of \"text\", \"json\""),
                ));
            }
        },
    };
    if tracing_subscriber::EnvFilter::try_new(&log.level).is_err() {
        return Err(ConfigError::new(
            "log.level",
            format!(
                "{:?} is not a level such as \"info\" or a directive such as \"sosik=debug\"",
                log.level
            ),
        ));
    }

    let mut sources = Vec::with_capacity(raw.sources.len());
    for (id_text, rs) in raw.sources {
        let key = |field: &str| format!("sources.{id_text}.{field}");
        let id = SourceId::new(&id_text)
            .map_err(|m| ConfigError::new(format!("sources.{id_text}"), m))?;
        let url = source_url(file, rs.url.trim()).map_err(|e| {
            ConfigError::new(key("url"), format!("{:?} is not a URL ({e})", rs.url))
        })?;
        if !matches!(url.scheme(), "http" | "https" | "file") {
            return Err(ConfigError::new(
                key("url"),
                format!(
                    "scheme {:?} is not supported; use http, https or file",
                    url.scheme()
                ),
            ));
        }
        let interval = match rs.interval.as_deref() {
            Some(text) => duration(&key("interval"), Some(text), "")?,
            None => poll.interval,
        };
        if interval.is_zero() {
            return Err(ConfigError::new(key("interval"), "must be longer than 0s"));
        }
        let timezone = match rs.timezone.as_deref() {
            None => chrono_tz::UTC,
            Some(name) => name.trim().parse::<chrono_tz::Tz>().map_err(|_| {
                ConfigError::new(
                    key("timezone"),
                    format!("{name:?} is not an IANA time zone such as \"Asia/Seoul\""),
                )
            })?,
        };
        let tags = rs
            .tags
            .into_iter()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        sources.push(SourceConfig {
            id,
            url,
            title: rs.title.filter(|t| !t.trim().is_empty()),
            interval,
            tags,
            timezone,
            enabled: rs.enabled.unwrap_or(true),
        });
    }

    let known: BTreeSet<&str> = sources.iter().map(|s| s.id.as_str()).collect();
    let mut outputs = Vec::with_capacity(raw.outputs.len());
    for (name, ro) in raw.outputs {
        let key = |field: &str| format!("outputs.{name}.{field}");
        SourceId::new(&name).map_err(|m| {
            ConfigError::new(
                format!("outputs.{name}"),
                m.replace("source id", "output name"),
            )
        })?;
        let output_sources = match ro.sources {
            None => sources.iter().map(|s| s.id.clone()).collect(),
            Some(list) => {
                let mut ids = Vec::with_capacity(list.len());
                for id in list {
                    if !known.contains(id.as_str()) {
                        return Err(ConfigError::new(
                            key("sources"),
                            format!("names {id:?}, which is not a configured source"),
                        ));
                    }
                    ids.push(SourceId::new(&id).expect("known ids are valid"));
                }
                ids
            }
        };
        let limit = positive(&key("limit"), ro.limit, 50)? as usize;
        let filter = Filter::parse(ro.filter.as_deref().unwrap_or(""))
            .map_err(|e| ConfigError::new(key("filter"), e.to_string()))?;
        outputs.push(OutputConfig {
            title: ro.title.unwrap_or_else(|| name.clone()),
            description: ro.description.unwrap_or_default(),
            sources: output_sources,
            filter,
            limit,
            name,
        });
    }

    Ok(Config {
        file: file.to_owned(),
        store,
        server,
        poll,
        log,
        sources,
        outputs,
    })
}

impl crate::filter::TagLookup for Config {
    fn tags(&self, source: &SourceId) -> &[String] {
        self.source(source.as_str())
            .map_or(&[], |s| s.tags.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Config {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sosik.toml");
        std::fs::write(&file, text).unwrap();
        Config::load_with_env(&file, Some(Default::default())).unwrap()
    }

    #[test]
    fn the_store_cache_is_small_unless_set() {
        assert_eq!(load("").store.cache_capacity, 4 * 1024 * 1024);
        let set = load("[store]\ncache_capacity = 67108864\n");
        assert_eq!(set.store.cache_capacity, 64 * 1024 * 1024);
    }
}
