//! Editing the config file as a person wrote it (`sosik import`, `sosik remove`): sources are
//! added and removed with `toml_edit`, so every other line, comment and ordering stays byte for
//! byte. The edited text is validated (environment overrides included) before it replaces the
//! file, and it is written beside the file and renamed over it, so a crash never leaves half a
//! config and an invalid edit leaves the file as it was.

use std::path::{Path, PathBuf};

use toml_edit::{Array, DocumentMut, Item, Table, value};
use url::Url;

use super::{Config, ConfigError, Origin, Problem};

/// A config file open for editing.
pub struct ConfigFile {
    path: PathBuf,
    doc: DocumentMut,
}

/// One source to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSource {
    /// Its id (see [`ConfigFile::unique_id`]).
    pub id: String,
    /// The feed's URL.
    pub url: String,
    /// Its title, when known.
    pub title: Option<String>,
    /// Its tags.
    pub tags: Vec<String>,
    /// Its poll interval as the person wrote it (`30m`); validated with the rest on save.
    pub interval: Option<String>,
}

impl ConfigFile {
    /// Reads `path` for editing.
    pub fn open(path: &Path) -> Result<ConfigFile, ConfigError> {
        let fail = |message: String| whole_file(path, message);
        let text =
            std::fs::read_to_string(path).map_err(|e| fail(format!("cannot be read ({e})")))?;
        let doc = text
            .parse::<DocumentMut>()
            .map_err(|e| fail(format!("is not valid TOML: {}", e.message().trim_end())))?;
        Ok(ConfigFile {
            path: path.to_owned(),
            doc,
        })
    }

    /// The source ids the file configures, in its order.
    pub fn source_ids(&self) -> Vec<String> {
        self.sources()
            .map(|t| t.iter().map(|(id, _)| id.to_owned()).collect())
            .unwrap_or_default()
    }

    /// The id of the configured source whose URL is `url` (compared as parsed URLs), if any.
    pub fn source_with_url(&self, url: &str) -> Option<String> {
        let wanted = Url::parse(url).ok()?;
        let table = self.sources()?;
        table.iter().find_map(|(id, item)| {
            let configured = item.get("url")?.as_str()?;
            (Url::parse(configured).ok()? == wanted).then(|| id.to_owned())
        })
    }

    /// `base` made a free source id: the slug itself, else with `-2`, `-3`… appended.
    pub fn unique_id(&self, base: &str, taken: &[String]) -> String {
        let existing = self.source_ids();
        let free = |id: &str| !existing.iter().chain(taken).any(|t| t == id);
        if free(base) {
            return base.to_owned();
        }
        (2..)
            .map(|n| format!("{base}-{n}"))
            .find(|id| free(id))
            .expect("some suffix is free")
    }

    /// Appends a `[sources.ID]` table.
    pub fn add_source(&mut self, source: &NewSource) {
        let sources = self.doc.entry("sources").or_insert_with(|| {
            let mut implicit = Table::new();
            implicit.set_implicit(true);
            Item::Table(implicit)
        });
        let Some(sources) = sources.as_table_mut() else {
            return;
        };
        let mut table = Table::new();
        table.insert("url", value(source.url.as_str()));
        if let Some(title) = &source.title {
            table.insert("title", value(title.as_str()));
        }
        if !source.tags.is_empty() {
            table.insert("tags", value(source.tags.iter().collect::<Array>()));
        }
        if let Some(interval) = &source.interval {
            table.insert("interval", value(interval.as_str()));
        }
        sources.insert(&source.id, Item::Table(table));
    }

    /// Removes `[sources.ID]`; whether it was there.
    pub fn remove_source(&mut self, id: &str) -> bool {
        self.doc
            .get_mut("sources")
            .and_then(Item::as_table_like_mut)
            .and_then(|t| t.remove(id))
            .is_some()
    }

    /// Validates the edited config (the process's environment overrides included) and, when it
    /// is valid, replaces the file with it. The file is left untouched otherwise.
    pub fn save(self) -> Result<Config, ConfigError> {
        let shown = self.path.display().to_string();
        let fail = |message: String| whole_file(&self.path, message);
        let metadata =
            std::fs::metadata(&self.path).map_err(|e| fail(format!("cannot be read ({e})")))?;
        if metadata.permissions().readonly() {
            return Err(fail("is read-only: not changed".to_owned()));
        }
        let name = self
            .path
            .file_name()
            .map_or_else(|| "sosik.toml".into(), |n| n.to_string_lossy().into_owned());
        // Beside the file: the same directory resolves relative `file:` URLs the same way,
        // and a rename within one file system is atomic.
        let temporary = self.path.with_file_name(format!(".{name}.edit"));
        std::fs::write(&temporary, self.doc.to_string())
            .and_then(|()| std::fs::set_permissions(&temporary, metadata.permissions()))
            .map_err(|e| fail(format!("cannot be written ({e})")))?;
        let checked = Config::load(&temporary);
        let result = checked.and_then(|mut config| {
            std::fs::rename(&temporary, &self.path)
                .map_err(|e| fail(format!("cannot be replaced ({e})")))?;
            config.file = self.path.clone();
            Ok(config)
        });
        let _ = std::fs::remove_file(&temporary);
        result.map_err(|mut e| {
            // Problems found in the edited text are the file's.
            for problem in &mut e.problems {
                if let Origin::File { path, .. } = &mut problem.origin {
                    *path = shown.clone();
                }
            }
            e
        })
    }

    fn sources(&self) -> Option<&dyn toml_edit::TableLike> {
        self.doc.get("sources").and_then(Item::as_table_like)
    }
}

fn whole_file(path: &Path, message: String) -> ConfigError {
    ConfigError {
        problems: vec![Problem {
            origin: Origin::File {
                path: path.display().to_string(),
                line: None,
            },
            key: String::new(),
            message,
        }],
    }
}

/// A source id made from a URL's host: lower case, `www.` dropped, dots and other signs as
/// `-` (`https://www.mk.co.kr/rss/` gives `mk-co-kr`); `feed` when there is no host.
pub fn slug_of(url: &str) -> String {
    let host = Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_lowercase))
        .unwrap_or_default();
    let host = host.strip_prefix("www.").unwrap_or(&host);
    let mut slug = String::new();
    for c in host.chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    let slug: String = slug.chars().take(48).collect();
    if slug.is_empty() {
        "feed".to_owned()
    } else {
        slug
    }
}

/// The store directory `file` configures, for a file that is not a valid config (`sosik
/// reload` must reach the daemon to hear what is wrong with it; a valid one has
/// `store.path`): `SOSIK__STORE__PATH`; else `store.path` as written in the file
/// or in its `[store]` table alone when the rest does not parse; else the default, `data`.
pub fn store_path_of(file: &Path) -> PathBuf {
    if let Some(path) = std::env::var_os("SOSIK__STORE__PATH").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let written = |text: &str| {
        let doc = text.parse::<DocumentMut>().ok()?;
        Some(PathBuf::from(doc.get("store")?.get("path")?.as_str()?))
    };
    written(&text)
        .or_else(|| {
            // Only the `[store]` table: from its header to the next one.
            let start = text
                .find("\n[store]")
                .map(|i| i + 1)
                .or_else(|| text.starts_with("[store]").then_some(0))?;
            let rest = &text[start..];
            let end = rest[1..].find("\n[").map_or(rest.len(), |i| i + 2);
            written(&rest[..end])
        })
        .unwrap_or_else(|| PathBuf::from("data"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_come_from_the_host() {
        let cases = [
            ("https://www.mk.co.kr/rss/40300001/", "mk-co-kr"),
            ("http://RSS.Etnews.com/Section901.xml", "rss-etnews-com"),
            ("https://[::1]:8080/feed", "1"),
            ("file:///tmp/a.xml", "feed"),
            ("not a url", "feed"),
        ];
        for (url, slug) in cases {
            assert_eq!(slug_of(url), slug, "{url}");
        }
    }

    #[test]
    fn edits_keep_every_other_line_and_refuse_an_invalid_result() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sosik.toml");
        let original = "# my feeds\n[store]\npath = \"db\"   # here\n\n[sources.a]\nurl = \"https://a.kr/rss\" # the first\n\n[outputs.all]\nsources = [\"a\"]\n";
        std::fs::write(&path, original).unwrap();

        let mut file = ConfigFile::open(&path).unwrap();
        let id = file.unique_id(&slug_of("https://a.kr/other"), &[]);
        assert_eq!(id, "a-kr");
        file.add_source(&NewSource {
            id: id.clone(),
            url: "https://a.kr/other".into(),
            title: Some("에이 \"둘\"".into()),
            tags: vec!["뉴스".into()],
            interval: None,
        });
        let config = file.save().unwrap();
        assert_eq!(config.sources.len(), 2);
        assert_eq!(config.file, path);
        let edited = std::fs::read_to_string(&path).unwrap();
        // The new table goes after the last source, and every other byte stays.
        let added = "[sources.a-kr]\nurl = \"https://a.kr/other\"\ntitle = '에이 \"둘\"'\ntags = [\"뉴스\"]\n\n";
        assert_eq!(edited.replacen(added, "", 1), original, "{edited}");
        assert!(
            edited.find(added) < edited.find("[outputs.all]"),
            "{edited}"
        );

        // Removing a source an output names is refused by validation; the file stays.
        let mut file = ConfigFile::open(&path).unwrap();
        assert!(file.remove_source("a"));
        let err = file.save().unwrap_err();
        assert!(err.to_string().contains("outputs.all.sources"), "{err}");
        assert!(err.to_string().contains("sosik.toml"), "{err}");
        assert!(!err.to_string().contains(".edit"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), edited);

        let mut file = ConfigFile::open(&path).unwrap();
        assert!(file.remove_source("a-kr"));
        assert!(!file.remove_source("nope"));
        file.save().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), original);
        assert_eq!(
            ConfigFile::open(&path)
                .unwrap()
                .source_with_url("https://A.kr/rss"),
            Some("a".to_owned())
        );
    }

    #[test]
    fn an_interval_is_written_as_given_and_validated_on_save() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sosik.toml");
        std::fs::write(&path, "[store]\npath = \"db\"\n").unwrap();
        let source = |interval: &str| NewSource {
            id: "a".into(),
            url: "https://a.kr/rss".into(),
            title: None,
            tags: vec![],
            interval: Some(interval.into()),
        };
        let mut file = ConfigFile::open(&path).unwrap();
        file.add_source(&source("soon"));
        let err = file.save().unwrap_err();
        assert!(err.to_string().contains("sources.a.interval"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "[store]\npath = \"db\"\n"
        );

        let mut file = ConfigFile::open(&path).unwrap();
        file.add_source(&source("90m"));
        let config = file.save().unwrap();
        assert_eq!(config.sources[0].interval.as_secs(), 90 * 60);
        let edited = std::fs::read_to_string(&path).unwrap();
        assert!(edited.ends_with("interval = \"90m\"\n"), "{edited}");
    }
}
