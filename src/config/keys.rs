//! Which keys exist: every unknown key of the file, in the file's order with its line, and
//! every `SOSIK__…` variable that names no key, by the variable's name.
//!
//! The `config` crate merges the file and the environment into an unordered map, so the
//! unknown key serde reports first changes from run to run, and a typo in a variable is blamed
//! on the file. So the file is read once more here with `toml_edit`, which keeps spans and
//! order, and both are checked against the raw structs' own field lists (read from serde, so
//! the lists cannot drift from the structs).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::{self, Visitor};
use toml_edit::{Item, TableLike};

#[cfg(test)]
use super::raw::RawConfig;
use super::raw::{RawLog, RawOutput, RawPoll, RawServer, RawSource, RawStore};
use super::{Origin, Problem};

/// What may stand at the top level, and below each name.
enum Shape {
    /// `[store]`: a table of these keys.
    Table(&'static [&'static str]),
    /// `[sources.ID]`: a table of tables, each of these keys.
    Tables(&'static [&'static str]),
}

fn shape(section: &str) -> Option<Shape> {
    Some(match section {
        "store" => Shape::Table(fields_of::<RawStore>()),
        "server" => Shape::Table(fields_of::<RawServer>()),
        "poll" => Shape::Table(fields_of::<RawPoll>()),
        "log" => Shape::Table(fields_of::<RawLog>()),
        "sources" => Shape::Tables(fields_of::<RawSource>()),
        "outputs" => Shape::Tables(fields_of::<RawOutput>()),
        _ => return None,
    })
}

/// The file as `toml_edit` read it: where each key is, for messages.
pub(super) struct FileKeys {
    /// Dotted key -> 1-based line of its first mention.
    lines: BTreeMap<String, usize>,
}

impl FileKeys {
    /// The line a dotted key (`sources.mk-all.url`) is written on, if it is in the file.
    pub(super) fn line(&self, key: &str) -> Option<usize> {
        self.lines.get(key).copied()
    }

    /// Whether the file mentions `key`.
    pub(super) fn contains(&self, key: &str) -> bool {
        self.lines.contains_key(key)
    }
}

/// Reads `text` (the file at `path`) for its keys: a TOML syntax error, or every unknown key in
/// the file's order, is an error.
pub(super) fn scan_file(path: &str, text: &str) -> Result<FileKeys, Vec<Problem>> {
    let doc = toml_edit::Document::parse(text).map_err(|e| {
        let line = e.span().map(|span| line_of(text, span.start));
        vec![Problem {
            origin: Origin::File {
                path: path.to_owned(),
                line,
            },
            key: String::new(),
            message: format!("is not valid TOML: {}", e.message().trim_end()),
        }]
    })?;
    let mut scan = Scan {
        path,
        text,
        lines: BTreeMap::new(),
        unknown: Vec::new(),
    };
    let root = doc.as_table();
    for (name, offset) in keys_of(root) {
        scan.seen(name.to_owned(), offset);
        let Some(shape) = shape(name) else {
            scan.unknown(
                offset,
                name.to_owned(),
                unknown_message(name, TOP, "the file"),
            );
            continue;
        };
        // A value of the wrong type is the `config` crate's error to report, with its type.
        let Some(table) = root.get(name).and_then(Item::as_table_like) else {
            continue;
        };
        match shape {
            Shape::Table(fields) => scan.table(name, table, fields, &format!("[{name}]")),
            Shape::Tables(fields) => {
                let what = if name == "sources" {
                    "a source"
                } else {
                    "an output"
                };
                for (id, offset) in keys_of(table) {
                    let prefix = format!("{name}.{id}");
                    scan.seen(prefix.clone(), offset);
                    if let Some(entry) = table.get(id).and_then(Item::as_table_like) {
                        scan.table(&prefix, entry, fields, what);
                    }
                }
            }
        }
    }
    if scan.unknown.is_empty() {
        return Ok(FileKeys { lines: scan.lines });
    }
    scan.unknown.sort_by_key(|(offset, _)| *offset);
    Err(scan.unknown.into_iter().map(|(_, p)| p).collect())
}

/// What a walk over the file has found: each key's line, and the unknown keys with the offset
/// they are written at.
struct Scan<'a> {
    path: &'a str,
    text: &'a str,
    lines: BTreeMap<String, usize>,
    unknown: Vec<(usize, Problem)>,
}

impl Scan<'_> {
    fn seen(&mut self, key: String, offset: usize) {
        self.lines.insert(key, line_of(self.text, offset));
    }

    fn unknown(&mut self, offset: usize, key: String, message: String) {
        let origin = Origin::File {
            path: self.path.to_owned(),
            line: Some(line_of(self.text, offset)),
        };
        let problem = Problem {
            origin,
            key,
            message,
        };
        self.unknown.push((offset, problem));
    }

    /// The keys of `table` (at `prefix`), each one of `fields`; `what` names the table.
    fn table(&mut self, prefix: &str, table: &dyn TableLike, fields: &[&str], what: &str) {
        for (key, offset) in keys_of(table) {
            let dotted = format!("{prefix}.{key}");
            self.seen(dotted.clone(), offset);
            if !fields.contains(&key) {
                self.unknown(offset, dotted, unknown_message(key, fields, what));
            }
        }
    }
}

/// The top-level names.
const TOP: &[&str] = &["store", "server", "poll", "log", "sources", "outputs"];

/// Every key of `table` with the offset it is written at.
fn keys_of(table: &dyn TableLike) -> Vec<(&str, usize)> {
    table
        .iter()
        .map(|(key, _)| {
            let offset = table.key(key).and_then(|k| k.span()).map_or(0, |s| s.start);
            (key, offset)
        })
        .collect()
}

fn unknown_message(key: &str, fields: &[&str], what: &str) -> String {
    let hint = match crate::closest(key, fields.iter().copied()) {
        Some(guess) => format!(" (did you mean {guess:?}?)"),
        None => String::new(),
    };
    format!(
        "unknown key{hint}; {what} takes {}",
        fields
            .iter()
            .map(|f| format!("{f:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The environment's `SOSIK__…` variables, as (variable, dotted key), in the variables' order.
pub(super) fn env_keys(env: &BTreeMap<String, String>) -> Vec<(String, String)> {
    env.keys()
        .filter_map(|var| {
            let rest = var.strip_prefix("SOSIK__")?;
            let key = rest.split("__").collect::<Vec<_>>().join(".");
            Some((var.clone(), key.to_lowercase()))
        })
        .collect()
}

/// Every variable naming no key: `SOSIK__POLL__TIMEOUTT` is blamed on itself, not the file.
pub(super) fn scan_env(env: &BTreeMap<String, String>) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (var, key) in env_keys(env) {
        let parts: Vec<&str> = key.split('.').collect();
        let message = match (shape(parts[0]), parts.len()) {
            (None, _) => Some(unknown_message(parts[0], TOP, "the config")),
            (Some(Shape::Table(fields)), 2) if !fields.contains(&parts[1]) => Some(
                unknown_message(parts[1], fields, &format!("[{}]", parts[0])),
            ),
            (Some(Shape::Table(_)), 2) => None,
            (Some(Shape::Tables(fields)), 3) if !fields.contains(&parts[2]) => {
                Some(unknown_message(parts[2], fields, "a source or output"))
            }
            (Some(Shape::Tables(_)), 3) => None,
            (Some(Shape::Table(_)), _) => Some(format!(
                "names no key: use SOSIK__{}__KEY",
                parts[0].to_uppercase()
            )),
            (Some(Shape::Tables(_)), _) => Some(format!(
                "names no key: use SOSIK__{}__ID__KEY",
                parts[0].to_uppercase()
            )),
        };
        if let Some(message) = message {
            problems.push(Problem {
                origin: Origin::Env(var),
                key,
                message,
            });
        }
    }
    problems
}

/// The field names of a struct deserialized by serde, as its derive lists them: what
/// `deny_unknown_fields` accepts.
fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldProbe(&mut fields));
    fields
}

/// A deserializer that only records the field list a struct asks for, then gives up.
struct FieldProbe<'a>(&'a mut &'static [&'static str]);

impl<'de> de::Deserializer<'de> for FieldProbe<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("only structs are probed"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("probed"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_lists_come_from_the_raw_structs() {
        assert_eq!(fields_of::<RawConfig>(), TOP);
        assert!(fields_of::<RawPoll>().contains(&"per_host_concurrency"));
        assert!(fields_of::<RawSource>().contains(&"timezone"));
        assert!(fields_of::<RawSource>().contains(&"priority"));
    }

    #[test]
    fn every_unknown_key_is_named_in_the_files_order_with_its_line() {
        let text = "[store]\npath = \"x\"\nurl = \"u\"\nlease = \"60s\"\n\n[sources.a]\nurll = \
                    \"https://a.kr/\"\n\n[store2]\n[store.backend]\n";
        let problems = scan_file("s.toml", text).err().unwrap();
        let shown: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(shown.len(), 5, "{shown:#?}");
        assert!(shown[0].starts_with("s.toml:3: store.url: unknown key; [store] takes \"path\""));
        assert!(shown[1].starts_with("s.toml:4: store.lease: unknown key"));
        assert!(shown[2].starts_with(
            "s.toml:7: sources.a.urll: unknown key (did you mean \"url\"?); a source takes"
        ));
        assert!(shown[3].starts_with("s.toml:9: store2: unknown key (did you mean \"store\"?)"));
        assert!(shown[4].starts_with("s.toml:10: store.backend: unknown key"));
    }

    #[test]
    fn a_syntax_error_names_its_line() {
        let problems = scan_file("s.toml", "[poll]\ntimeout = 5s\n").err().unwrap();
        let shown = problems[0].to_string();
        assert!(shown.starts_with("s.toml:2: is not valid TOML"), "{shown}");
    }

    #[test]
    fn variables_naming_no_key_are_blamed_on_themselves() {
        let env: BTreeMap<String, String> = [
            ("SOSIK__POLL__TIMEOUTT", "5s"),
            ("SOSIK__POLL__TIMEOUT", "5s"),
            ("SOSIK__SOURCES__A__URL", "https://a.kr/"),
            ("SOSIK__SOURCES__A__LINK", "https://a.kr/"),
            ("SOSIK__NOPE", "1"),
            ("OTHER", "1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let shown: Vec<String> = scan_env(&env).iter().map(|p| p.to_string()).collect();
        assert_eq!(shown.len(), 3, "{shown:#?}");
        assert!(shown[0].starts_with("environment variable SOSIK__NOPE: nope: unknown key"));
        assert!(shown[1].starts_with(
            "environment variable SOSIK__POLL__TIMEOUTT: poll.timeoutt: unknown key (did you \
             mean \"timeout\"?)"
        ));
        assert!(shown[2].starts_with("environment variable SOSIK__SOURCES__A__LINK"));
    }
}
