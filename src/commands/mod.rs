//! What `sources`, `items`, `render`, `export`, `poll` and `reload` print, wherever they run:
//! in the CLI's own process on a store it opened, or inside the daemon for a CLI that asked
//! over the control socket ([`crate::control`]). One function prints each command both ways,
//! so the two outputs are the same bytes and the same exit code by construction.

mod poll;
mod sources;
mod stories;

use std::io::Write;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::publish::Publisher;
use crate::store::{Store, StoreError, StoreOptions};

pub use poll::print_poll;
pub use sources::print_sources;
pub use stories::{print_export, print_items, print_render, story_json};

/// A command a CLI asks the daemon to run, as it travels over the control socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Request {
    /// `sosik sources [--json]`.
    Sources {
        /// JSON Lines.
        json: bool,
    },
    /// `sosik items [--output NAME | --source ID] [--limit N] [--json]`.
    Items {
        /// `--output`.
        output: Option<String>,
        /// `--source`.
        source: Option<String>,
        /// `--limit`.
        limit: Option<usize>,
        /// `--json`.
        json: bool,
    },
    /// `sosik render NAME --format F`.
    Render {
        /// The output.
        name: String,
        /// `rss`, `atom` or `json`, as typed.
        format: String,
    },
    /// `sosik export`.
    Export,
    /// `sosik poll [ID...]`.
    Poll {
        /// The sources; every enabled one when empty.
        ids: Vec<String>,
    },
    /// `sosik reload`.
    Reload,
}

/// What a command printed and how it ended: the CLI writes these out as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// The exit code.
    pub code: u8,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Answer {
    /// The answer of a command that printed `stdout` and then ended with `result`: an error
    /// becomes `error: SENTENCE` and exit code 2, as the CLI prints any error of its own.
    pub fn of(stdout: Vec<u8>, mut stderr: Vec<u8>, result: anyhow::Result<u8>) -> Answer {
        let code = match result {
            Ok(code) => code,
            Err(e) => {
                let _ = writeln!(stderr, "error: {}", sentence(&e));
                2
            }
        };
        Answer {
            code,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }
}

/// What the read-only commands read: the config, the store and the publisher over both.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The config the answer is about (the daemon's, when it answers).
    pub config: Arc<Config>,
    /// The store.
    pub store: Store,
    /// Renders outputs (the daemon's, with its cache, when it answers).
    pub publisher: Publisher,
}

impl Ctx {
    /// Opens the store of `config` in this process.
    pub fn open(config: Arc<Config>) -> Result<Ctx, StoreError> {
        let store = Store::open(&StoreOptions::from(&config.store))?;
        let publisher = Publisher::new(config.clone(), store.clone());
        Ok(Ctx {
            config,
            store,
            publisher,
        })
    }

    /// Runs a read-only command (`sources`, `items`, `render`, `export`); blocking (store
    /// reads). `None` for the others, which need more than a store.
    pub fn read(&self, request: &Request, out: &mut dyn Write) -> Option<anyhow::Result<u8>> {
        Some(match request {
            Request::Sources { json } => print_sources(self, *json, out),
            Request::Items {
                output,
                source,
                limit,
                json,
            } => print_items(
                self,
                output.as_deref(),
                source.as_deref(),
                *limit,
                *json,
                out,
            ),
            Request::Render { name, format } => print_render(self, name, format, out),
            Request::Export => print_export(self, out),
            Request::Poll { .. } | Request::Reload => return None,
        })
    }
}

/// The error and its causes as one sentence, each cause said once: a cause whose text the
/// message already contains (an error that prints its source itself) is not repeated.
pub fn sentence(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        if part.is_empty() || text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

/// A time for people: minutes and the zone's offset, in `zone` or else the machine's own zone
/// (`TZ`), e.g. `2025-02-03 18:00 +09:00`.
pub fn local_time(t: DateTime<Utc>, zone: Option<chrono_tz::Tz>) -> String {
    const FORMAT: &str = "%Y-%m-%d %H:%M %:z";
    match zone {
        Some(zone) => t.with_timezone(&zone).format(FORMAT).to_string(),
        None => t.with_timezone(&chrono::Local).format(FORMAT).to_string(),
    }
}

/// A time for scripts: RFC 3339 in UTC, whole seconds.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Columns padded to their widest cell (counted in characters), two spaces apart; the last
/// column, free text, is not padded.
pub fn print_table<const N: usize>(
    out: &mut dyn Write,
    header: &[String; N],
    rows: &[[String; N]],
) -> std::io::Result<()> {
    let mut widths = [0; N];
    for row in std::iter::once(header).chain(rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < N {
                let pad = widths[i] - cell.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}
