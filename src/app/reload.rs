//! A reload's arithmetic: which keys need a restart (kept as they run), and what changed
//! between the running config and the new one, said the way `sosik reload` prints it.

use std::fmt;
use std::sync::Arc;

use crate::config::Config;
use crate::model::SourceId;

/// What a reload changed, and what it could not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// The config file read.
    pub file: String,
    /// Sources new to the config.
    pub sources_added: Vec<SourceId>,
    /// Sources no longer in it (their stories stay until retention).
    pub sources_removed: Vec<SourceId>,
    /// Sources whose settings changed (url, title, interval, tags, timezone, enabled).
    pub sources_changed: Vec<SourceId>,
    /// Outputs new to the config.
    pub outputs_added: Vec<String>,
    /// Outputs no longer in it.
    pub outputs_removed: Vec<String>,
    /// Outputs whose settings changed.
    pub outputs_changed: Vec<String>,
    /// Other keys applied (`poll`, `server.base_url`).
    pub settings_changed: Vec<&'static str>,
    /// Keys that changed but need a restart; the daemon runs on their old values until then.
    pub needs_restart: Vec<&'static str>,
}

impl Changes {
    /// Whether nothing at all changed.
    pub fn is_empty(&self) -> bool {
        *self
            == Changes {
                file: self.file.clone(),
                ..Changes::default()
            }
    }
}

impl Changes {
    /// The changes on one line, for the log: `sources added: a, b; needs a restart: …`.
    pub fn summary(&self) -> String {
        let text = self.to_string();
        let lines: Vec<&str> = text.lines().skip(1).map(str::trim).collect();
        if lines.is_empty() {
            "nothing changed".to_owned()
        } else {
            lines.join("; ")
        }
    }
}

/// `reloaded FILE` and one line per kind of change, or `reloaded FILE: nothing changed`.
impl fmt::Display for Changes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return writeln!(f, "reloaded {}: nothing changed", self.file);
        }
        writeln!(f, "reloaded {}", self.file)?;
        let lines: [(&str, Vec<&str>); 8] = [
            ("sources added", ids(&self.sources_added)),
            ("sources removed", ids(&self.sources_removed)),
            ("sources changed", ids(&self.sources_changed)),
            ("outputs added", strs(&self.outputs_added)),
            ("outputs removed", strs(&self.outputs_removed)),
            ("outputs changed", strs(&self.outputs_changed)),
            ("settings changed", self.settings_changed.clone()),
            ("needs a restart", self.needs_restart.clone()),
        ];
        for (what, names) in lines {
            if names.is_empty() {
                continue;
            }
            write!(f, "  {what}: {}", names.join(", "))?;
            if what == "needs a restart" {
                write!(f, " (still running on the old values)")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

fn ids(ids: &[SourceId]) -> Vec<&str> {
    ids.iter().map(SourceId::as_str).collect()
}

fn strs(names: &[String]) -> Vec<&str> {
    names.iter().map(String::as_str).collect()
}

/// The config to run on: `new`, but with the keys that need a restart as they run now
/// (`server.listen`, `store.*`, `log.*`), and the names of those that differ.
pub fn keep_restart_keys(running: &Config, mut new: Config) -> (Config, Vec<&'static str>) {
    let mut needs_restart = Vec::new();
    if running.server.listen != new.server.listen
        || running.server.listen_name != new.server.listen_name
    {
        needs_restart.push("server.listen");
        // A base URL derived from the new address would point where nothing listens yet.
        if new.server.base_url == format!("http://{}", new.server.listen_name) {
            new.server.base_url = running.server.base_url.clone();
        }
    }
    new.server.listen = running.server.listen;
    new.server.listen_name = running.server.listen_name.clone();
    let (old, now) = (&running.store, &new.store);
    let store_keys = [
        ("store.path", old.path != now.path),
        ("store.retention", old.retention != now.retention),
        (
            "store.max_items_per_source",
            old.max_items_per_source != now.max_items_per_source,
        ),
        (
            "store.cache_capacity",
            old.cache_capacity != now.cache_capacity,
        ),
        (
            "store.fault_exit_after",
            old.fault_exit_after != now.fault_exit_after,
        ),
    ];
    needs_restart.extend(
        store_keys
            .iter()
            .filter(|(_, changed)| *changed)
            .map(|(k, _)| *k),
    );
    new.store = running.store.clone();
    if running.log.level != new.log.level {
        needs_restart.push("log.level");
    }
    if running.log.format != new.log.format {
        needs_restart.push("log.format");
    }
    new.log = running.log.clone();
    (new, needs_restart)
}

/// What differs from `running` to `new` (restart-only keys already kept by
/// [`keep_restart_keys`]).
pub fn changes(running: &Config, new: &Arc<Config>) -> Changes {
    let mut changes = Changes {
        file: new.file.display().to_string(),
        ..Changes::default()
    };
    for source in &new.sources {
        match running.source(source.id.as_str()) {
            None => changes.sources_added.push(source.id.clone()),
            Some(old) if format!("{old:?}") != format!("{source:?}") => {
                changes.sources_changed.push(source.id.clone());
            }
            Some(_) => {}
        }
    }
    let gone = running
        .sources
        .iter()
        .filter(|s| new.source(s.id.as_str()).is_none());
    changes.sources_removed = gone.map(|s| s.id.clone()).collect();
    for output in &new.outputs {
        match running.output(&output.name) {
            None => changes.outputs_added.push(output.name.clone()),
            Some(old) if format!("{old:?}") != format!("{output:?}") => {
                changes.outputs_changed.push(output.name.clone());
            }
            Some(_) => {}
        }
    }
    let gone = running
        .outputs
        .iter()
        .filter(|o| new.output(&o.name).is_none());
    changes.outputs_removed = gone.map(|o| o.name.clone()).collect();
    if format!("{:?}", running.poll) != format!("{:?}", new.poll) {
        changes.settings_changed.push("poll");
    }
    if running.server.base_url != new.server.base_url {
        changes.settings_changed.push("server.base_url");
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(dir: &std::path::Path, text: &str) -> Config {
        let file = dir.join("sosik.toml");
        std::fs::write(&file, text).unwrap();
        Config::load_with_env(&file, Some(Default::default())).unwrap()
    }

    const BEFORE: &str = r#"
[store]
path = "db"
[server]
listen = "127.0.0.1:8080"
[sources.a]
url = "http://127.0.0.1:1/a"
[sources.b]
url = "http://127.0.0.1:1/b"
[outputs.all]
[outputs.a-only]
sources = ["a"]
"#;

    #[test]
    fn changes_name_each_source_and_output_added_removed_or_changed() {
        let dir = tempfile::tempdir().unwrap();
        let running = load(dir.path(), BEFORE);
        let after = r#"
[store]
path = "db"
[server]
listen = "127.0.0.1:8080"
[poll]
timeout = "7s"
[sources.a]
url = "http://127.0.0.1:1/a"
title = "A"
[sources.c]
url = "http://127.0.0.1:1/c"
[outputs.all]
[outputs.a-only]
sources = ["a"]
[outputs.new]
filter = "title:x"
"#;
        let new = load(dir.path(), after);
        let (new, restart) = keep_restart_keys(&running, new);
        assert!(restart.is_empty(), "{restart:?}");
        let changes = changes(&running, &Arc::new(new));
        assert_eq!(changes.sources_added, vec![SourceId::new("c").unwrap()]);
        assert_eq!(changes.sources_removed, vec![SourceId::new("b").unwrap()]);
        assert_eq!(changes.sources_changed, vec![SourceId::new("a").unwrap()]);
        assert_eq!(changes.outputs_added, vec!["new".to_owned()]);
        // `all` takes every source by default: its list changed.
        assert_eq!(changes.outputs_changed, vec!["all".to_owned()]);
        assert!(changes.outputs_removed.is_empty());
        assert_eq!(changes.settings_changed, vec!["poll"]);
        let text = changes.to_string();
        assert!(text.starts_with("reloaded "), "{text}");
        assert!(text.contains("  sources added: c\n"), "{text}");
        assert_eq!(
            changes.summary(),
            "sources added: c; sources removed: b; sources changed: a; outputs added: new; outputs changed: all; settings changed: poll"
        );
    }

    #[test]
    fn restart_keys_keep_their_running_values_and_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let running = load(dir.path(), BEFORE);
        let moved = BEFORE
            .replace("path = \"db\"", "path = \"db2\"\nretention = \"1d\"")
            .replace("8080", "9090")
            + "[log]\nlevel = \"debug\"\n";
        let (applied, restart) = keep_restart_keys(&running, load(dir.path(), &moved));
        assert_eq!(
            restart,
            vec![
                "server.listen",
                "store.path",
                "store.retention",
                "log.level"
            ]
        );
        assert_eq!(applied.server.listen, running.server.listen);
        assert_eq!(applied.store.path, running.store.path);
        // The default base URL follows the address still listened on.
        assert_eq!(applied.server.base_url, running.server.base_url);
        assert_eq!(applied.log.level, running.log.level);
        let changes = changes(&running, &Arc::new(applied));
        assert!(changes.is_empty(), "{changes:?}");
        let unchanged = keep_restart_keys(&running, load(dir.path(), BEFORE));
        assert!(unchanged.1.is_empty());
        let text = changes.to_string();
        assert!(text.ends_with(": nothing changed\n"), "{text}");
    }
}
