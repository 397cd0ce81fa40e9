//! The `[sources.ID]` and `[outputs.NAME]` tables: each one's `validate`, and what an output
//! may refer to (the sources and tags the file configures).

use std::path::Path;
use std::time::Duration;

use url::Url;

use super::raw::{Findings, RawOutput, RawSource, nonzero_duration, positive};
use super::*;
use crate::filter::{Filter, ReferenceKind};
use crate::model::SourceId;

/// The source ids and tags the file names, whether or not their tables are valid.
pub(super) struct Configured {
    pub(super) ids: Vec<String>,
    pub(super) tags: Vec<String>,
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
    pub(super) fn validate(
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
            priority: match self.priority {
                None => 0,
                Some(p) if (-MAX_PRIORITY..=MAX_PRIORITY).contains(&p) => p,
                Some(p) => {
                    return Err(Problem::new(
                        key("priority"),
                        format!(
                            "{p} is out of range; use an integer from -{MAX_PRIORITY} to {MAX_PRIORITY}"
                        ),
                    ));
                }
            },
        })
    }
}

impl RawOutput {
    /// Validates the output `name` against the sources that validated; records every problem.
    pub(super) fn validate(
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
        let merge = match self.merge.as_deref().map(str::trim) {
            None | Some("story") => Merge::Story,
            Some("none") => Merge::None,
            Some(other) => {
                found.error(
                    key("merge"),
                    format!(
                        "is {other:?}; use \"story\" (each story once) or \"none\" (every copy)"
                    ),
                );
                Merge::Story
            }
        };
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
            merge,
            name,
        })
    }
}

/// `[outputs.NAME] merge`: how an output shows a story several sources told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// `"story"` (the default): once, as its chosen copy, naming the others.
    Story,
    /// `"none"`: every copy as its own item (copies sharing a link are still one).
    None,
}
