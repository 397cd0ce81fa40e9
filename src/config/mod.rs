//! Configuration: the TOML file and `SOSIK__…` environment overrides, read with the `config`
//! crate into raw serde types, then validated into the runtime types the rest of sosik uses.
//!
//! Two steps on purpose: the raw structs (`raw.rs`) mirror the file exactly, and each
//! section's `validate` turns its part into parsed durations, URLs, time zones, checked ids and
//! compiled filters. Every problem names its key and where it was set: the file's line, or the
//! environment variable. A run names every problem it finds, unknown keys in the file's order
//! (`keys.rs`), not only the first. Warnings (legal but almost surely not meant) load.
//! Nothing here is global: the loaded [`Config`] is passed to whoever needs it.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

use crate::filter::Filter;
use crate::model::SourceId;

pub mod edit;
pub use edit::store_path_of;
pub use sources::Merge;
mod keys;
mod raw;
mod sources;

/// `store.path`.
pub const DEFAULT_STORE_PATH: &str = "data";
/// `store.retention`.
pub const DEFAULT_RETENTION: &str = "30d";
/// `store.max_items_per_source`.
pub const DEFAULT_MAX_ITEMS_PER_SOURCE: u64 = 2000;
/// `store.fault_exit_after`: how long the daemon keeps re-opening a failing store before it
/// exits non-zero for its supervisor to restart it.
pub const DEFAULT_FAULT_EXIT_AFTER: &str = "10m";
/// `server.listen`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// `poll.interval`, as written and parsed.
pub const DEFAULT_INTERVAL_TEXT: &str = "15m";
/// `poll.interval`.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15 * 60);
/// `poll.min_interval`.
pub const DEFAULT_MIN_INTERVAL: &str = "5m";
/// `poll.max_interval`.
pub const DEFAULT_MAX_INTERVAL: &str = "24h";
/// `poll.timeout`.
pub const DEFAULT_TIMEOUT: &str = "20s";
/// `poll.max_body_bytes`: 10 MiB.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 10 * 1024 * 1024;
/// `poll.concurrency`.
pub const DEFAULT_CONCURRENCY: u64 = 16;
/// `poll.per_host_concurrency`.
pub const DEFAULT_PER_HOST_CONCURRENCY: u64 = 2;
/// `log.level`.
pub const DEFAULT_LOG_LEVEL: &str = "info";
/// `outputs.NAME.limit`.
pub const DEFAULT_OUTPUT_LIMIT: u64 = 50;
/// The largest `[sources.ID] priority` either way: far beyond any ranking people write, and
/// a typo such as an extra zero row of digits is named rather than silently obeyed.
pub const MAX_PRIORITY: i64 = 1_000_000;

/// How far apart two copies' first-seen times may be for them to be one story.
pub const DEFAULT_MERGE_WINDOW: &str = "48h";

/// sled's page cache unless `store.cache_capacity` says otherwise. New stories go to the
/// newest leaves and a render reads a few hundred records, so a larger cache buys little and
/// makes the daemon larger (BENCHMARKS.md has the trade-off measured).
pub const DEFAULT_CACHE_CAPACITY: u64 = 4 * 1024 * 1024;

/// The default User-Agent: names the program and its version, so a publisher who sees us in
/// their logs can find out who we are.
pub const DEFAULT_USER_AGENT: &str = concat!("sosik/", env!("CARGO_PKG_VERSION"));

/// Where a config problem was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The config file, at a line when one is known.
    File {
        /// The file as the user named it.
        path: String,
        /// 1-based line.
        line: Option<usize>,
    },
    /// An environment override, by the variable's name.
    Env(String),
}

/// One configuration problem: where, which key, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where the offending value was set.
    pub origin: Origin,
    /// Dotted path of the offending key, e.g. `poll.timeout` or `sources.mk-all.url`; empty
    /// when the problem is the file as a whole.
    pub key: String,
    /// Why the value is wrong, as a sentence.
    pub message: String,
}

impl Problem {
    /// A problem with `key`, its origin filled in by the loader.
    fn new(key: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            origin: Origin::File {
                path: String::new(),
                line: None,
            },
            key: key.into(),
            message: message.into(),
        }
    }
}

/// Displays as `sosik.toml:12: outputs.it.filter: col 3: …`, or
/// `environment variable SOSIK__POLL__TIMEOUT: poll.timeout: …`.
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Origin::File { path, line: None } => write!(f, "{path}")?,
            Origin::File {
                path,
                line: Some(line),
            } => write!(f, "{path}:{line}")?,
            Origin::Env(var) => write!(f, "environment variable {var}")?,
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Why a config could not be loaded: every problem found, one per line when displayed.
#[derive(Debug, Clone)]
pub struct ConfigError {
    /// At least one.
    pub problems: Vec<Problem>,
}

impl ConfigError {
    /// Whether some problem is about `key`.
    pub fn names(&self, key: &str) -> bool {
        self.problems.iter().any(|p| p.key == key)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

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
    /// What is legal but almost surely not meant (a lower-case `or` in a filter, self links to
    /// 0.0.0.0): `check` prints these and the daemon logs them at start.
    pub warnings: Vec<Problem>,
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
    /// How long the daemon keeps re-opening a store that fails (a full disk, say) before it
    /// exits non-zero ([`DEFAULT_FAULT_EXIT_AFTER`] unless set).
    pub fault_exit_after: Duration,
    /// Copies from different sources first seen this close together may be merged into one
    /// story ([`DEFAULT_MERGE_WINDOW`] unless set); zero merges nothing across links.
    pub merge_window: Duration,
}

/// `[server]`: the HTTP side.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address the HTTP server binds: `listen` resolved, when it names a host.
    pub listen: SocketAddr,
    /// `listen` as written (`localhost:8080`), for messages and the default `base_url`.
    pub listen_name: String,
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
    /// Which copy speaks for a story several sources carry: the higher first, after damage
    /// (SPEC "Stories, not links"). Default 0.
    pub priority: i64,
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
    /// Whether copies of one story from different sources show once or each.
    pub merge: Merge,
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
        let whole_file = |message: String| ConfigError {
            problems: vec![Problem {
                origin: Origin::File {
                    path: shown.clone(),
                    line: None,
                },
                key: String::new(),
                message,
            }],
        };
        if !file.is_file() {
            return Err(whole_file("no such config file".to_owned()));
        }
        let text = std::fs::read_to_string(file)
            .map_err(|e| whole_file(format!("cannot be read ({e})")))?;
        let env: BTreeMap<String, String> = match env {
            Some(map) => map.into_iter().collect(),
            None => std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .filter(|(k, _)| k.starts_with("SOSIK__"))
                .collect(),
        };
        // Unknown keys first, all of them: in the file in its order, then in the environment.
        let file_keys = keys::scan_file(&shown, &text);
        let mut problems = keys::scan_env(&env);
        let file_keys = match file_keys {
            Ok(keys) if problems.is_empty() => keys,
            Ok(_) => return Err(ConfigError { problems }),
            Err(mut in_file) => {
                in_file.append(&mut problems);
                return Err(ConfigError { problems: in_file });
            }
        };
        let place = Placer {
            file: &shown,
            keys: &file_keys,
            env: keys::env_keys(&env),
        };
        let environment = config::Environment::with_prefix("SOSIK")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .source(Some(env.into_iter().collect()));
        let raw: raw::RawConfig = config::Config::builder()
            .add_source(config::File::from_str(&text, config::FileFormat::Toml))
            .add_source(environment)
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| ConfigError {
                problems: vec![place.problem(from_config_crate(e))],
            })?;
        let mut found = raw::Findings::default();
        let config = raw.validate(file, &mut found);
        match config {
            Some(mut config) if found.errors.is_empty() => {
                config.warnings = found
                    .warnings
                    .into_iter()
                    .map(|p| place.problem(p))
                    .collect();
                Ok(config)
            }
            _ => Err(ConfigError {
                problems: found.errors.into_iter().map(|p| place.problem(p)).collect(),
            }),
        }
    }

    /// Every source's `priority`, for the store's choice of the copy that speaks.
    pub fn priorities(&self) -> crate::dedupe::Priorities {
        crate::dedupe::Priorities::new(
            self.sources
                .iter()
                .map(|s| (s.id.as_str().to_owned(), s.priority)),
        )
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

/// Fills in where a problem's key was set: the environment variable that set it, else the
/// file's line.
struct Placer<'a> {
    file: &'a str,
    keys: &'a keys::FileKeys,
    /// (variable, dotted key) of every override.
    env: Vec<(String, String)>,
}

impl Placer<'_> {
    fn problem(&self, mut problem: Problem) -> Problem {
        let key = problem.key.as_str();
        let by_env = |exact: bool| {
            self.env.iter().find(|(_, k)| {
                k == key || (!exact && k.starts_with(key) && k[key.len()..].starts_with('.'))
            })
        };
        problem.origin = match by_env(true) {
            Some((var, _)) => Origin::Env(var.clone()),
            None if !key.is_empty() && !self.keys.contains(key) && by_env(false).is_some() => {
                Origin::Env(by_env(false).map(|(v, _)| v.clone()).unwrap_or_default())
            }
            // A missing key has no line: its table's.
            None => Origin::File {
                path: self.file.to_owned(),
                line: std::iter::successors(Some(key), |k| k.rsplit_once('.').map(|(p, _)| p))
                    .find_map(|k| self.keys.line(k)),
            },
        };
        problem
    }
}

/// The `config` crate's error as a problem with a key (its origin is placed by the caller).
fn from_config_crate(err: config::ConfigError) -> Problem {
    match err {
        config::ConfigError::At {
            error,
            key: Some(key),
            ..
        } => {
            let mut inner = from_config_crate(*error);
            if inner.key.is_empty() {
                inner.key = key;
            }
            inner
        }
        config::ConfigError::At { error, .. } => from_config_crate(*error),
        config::ConfigError::Type {
            unexpected,
            expected,
            key,
            ..
        } => Problem::new(
            key.unwrap_or_default(),
            format!("expected {expected}, found {unexpected}"),
        ),
        config::ConfigError::NotFound(key) => Problem::new(key, "is required but missing"),
        config::ConfigError::Message(message) => {
            match message
                .strip_prefix("missing configuration field \"")
                .and_then(|rest| rest.strip_suffix('"'))
            {
                Some(key) => Problem::new(key, "is required but missing"),
                None => Problem::new("", message),
            }
        }
        other => Problem::new("", other.to_string()),
    }
}

impl From<&StoreConfig> for crate::store::StoreOptions {
    fn from(store: &StoreConfig) -> Self {
        crate::store::StoreOptions {
            path: store.path.clone(),
            cache_capacity: store.cache_capacity,
        }
    }
}

impl crate::filter::TagLookup for Config {
    fn tags(&self, source: &SourceId) -> &[String] {
        self.source(source.as_str())
            .map_or(&[], |s| s.tags.as_slice())
    }
}

#[cfg(test)]
mod tests;
