//! Conformance run over the shared third-party feed corpus (`../shared/corpus`, see its
//! SOURCES.md): every feed file goes through [`read_document`], the exact decode → parse →
//! normalize path of `sosik inspect`.
//!
//! 1. No file may panic outside the parse module's own catch (feed-rs crashes that the parse
//!    module turns into `ParseError::Crashed` are counted and reported, not failures).
//! 2. chardet's 29 real EUC-KR/CP949 feeds must decode as windows-949 (`EUC-KR`) and give the
//!    same first title as an independent strict decode plus a naive text extraction.
//! 3. feed-rs's and gofeed's fixtures: titles, links and dates agree with their expected
//!    outputs, but for differences of known, deliberate classes (`conformance/expected.rs`).
//! 4. chardet's feeds in 24 encodings: the first title matches a strict decode with the
//!    expected encoding for at least 95% of them, all Korean ones (`conformance/chardet.rs`).
//!
//! The corpus is third-party data that is not part of the project: when it is absent the
//! tests print a notice and pass.

use std::backtrace::Backtrace;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::Instant;

use chrono::{DateTime, TimeZone, Utc};
use sosik::fetch::{Fetched, ResponseMeta};
use sosik::model::SourceId;
use sosik::parse::ParseError;
use sosik::pipeline::{Document, IngestError, read_document};
use url::Url;

#[path = "conformance/chardet.rs"]
mod chardet;
#[path = "conformance/expected.rs"]
mod expected;

fn corpus_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("conformance: ../shared/corpus not found; skipped");
        None
    }
}

/// A fixed poll time, so date plausibility does not depend on the day the test runs.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

fn read(path: &Path, content_type: Option<String>) -> Result<Document, IngestError> {
    let canonical = path.canonicalize().expect("corpus path");
    let fetched = Fetched {
        body: std::fs::read(path).expect("read corpus file"),
        content_type,
        meta: ResponseMeta {
            status: 200,
            final_url: Some(Url::from_file_path(&canonical).expect("absolute path")),
            ..Default::default()
        },
    };
    let source = SourceId::new("conformance").expect("valid id");
    // No cap: the first story must stay the document's first item.
    read_document(&fetched, &source, chrono_tz::UTC, now(), usize::MAX)
}

// ---------------------------------------------------------------------------------------------
// Panic capture

thread_local! {
    /// Set while this thread runs a corpus file: panics are recorded, not printed.
    static PROBING: Cell<bool> = const { Cell::new(false) };
    /// The last panic seen on this thread while probing: message, location, backtrace.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs (once) a hook that silences and records panics on probing threads and leaves
/// every other panic (assertion failures included) to the default hook.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !PROBING.with(Cell::get) {
                default(info);
                return;
            }
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "<non-string panic payload>".into());
            let location = info
                .location()
                .map(|l| l.to_string())
                .unwrap_or_else(|| "<unknown location>".into());
            let backtrace = Backtrace::force_capture();
            LAST_PANIC.with(|p| {
                *p.borrow_mut() = Some(format!(
                    "panicked at {location}: {message}\n{}",
                    top_frames(&backtrace.to_string(), 25)
                ))
            });
        }));
    });
}

/// The first `n` lines of a backtrace that come after the panic machinery.
fn top_frames(backtrace: &str, n: usize) -> String {
    let lines: Vec<&str> = backtrace.lines().collect();
    let start = lines
        .iter()
        .position(|l| {
            let l = l.trim_start();
            l.contains(": sosik::")
                || l.contains(": feed_rs::")
                || l.contains(": quick_xml::")
                || l.contains(": ammonia::")
                || l.contains(": encoding_rs::")
        })
        .map_or(0, |i| i.saturating_sub(2));
    lines[start..]
        .iter()
        .take(n)
        .copied()
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `read` with panics caught; `Err` carries the recorded panic report.
fn probe(
    path: &Path,
    content_type: Option<String>,
) -> Result<Result<Document, IngestError>, String> {
    PROBING.with(|p| p.set(true));
    LAST_PANIC.with(|p| p.borrow_mut().take());
    let result = catch_unwind(AssertUnwindSafe(|| read(path, content_type)));
    PROBING.with(|p| p.set(false));
    result.map_err(|_| {
        LAST_PANIC
            .with(|p| p.borrow_mut().take())
            .unwrap_or_else(|| "panic (no report recorded)".into())
    })
}

// ---------------------------------------------------------------------------------------------
// Corpus listing

/// Every feed file under `root`, sorted: not the index files, licences, READMEs, notes, nor
/// the expected outputs of feed-rs (`*.serde.json`) and gofeed (`X_expected.json`, and
/// `X.json` beside `X.xml`).
fn feed_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read corpus dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if is_feed_file(root, &path) {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn is_feed_file(root: &Path, path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if name.starts_with("LICENSE")
        || name.starts_with("README")
        || matches!(ext, "tsv" | "txt" | "md")
        || name.ends_with(".serde.json")
    {
        return false;
    }
    let in_gofeed = path
        .strip_prefix(root)
        .is_ok_and(|rel| rel.starts_with("gofeed"));
    if in_gofeed && ext == "json" {
        let expected_output =
            name.ends_with("_expected.json") || path.with_extension("xml").is_file();
        return !expected_output;
    }
    true
}

/// `path` (relative to the corpus root, `/`-separated) → the `Content-Type` header the
/// feedparser expectations give for that file.
fn feedparser_content_types(root: &Path) -> HashMap<String, String> {
    let tsv = std::fs::read_to_string(root.join("feedparser-expectations.tsv"))
        .expect("feedparser-expectations.tsv");
    let mut types = HashMap::new();
    for line in tsv.lines() {
        if line.starts_with('#') || line.starts_with("path\t") {
            continue;
        }
        let columns: Vec<&str> = line.split('\t').collect();
        let (Some(path), Some(headers)) = (columns.first(), columns.get(5)) else {
            continue;
        };
        for header in unescape_tsv(headers).lines() {
            if let Some((name, value)) = header.split_once(':')
                && name.trim().eq_ignore_ascii_case("content-type")
            {
                types.insert((*path).to_owned(), value.trim().to_owned());
            }
        }
    }
    types
}

/// Undoes the TSV's `\t`, `\n` and `\\` escapes.
fn unescape_tsv(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

// ---------------------------------------------------------------------------------------------
// 1. No panics

#[test]
fn no_file_panics() {
    let Some(root) = corpus_dir() else { return };
    install_panic_hook();
    let started = Instant::now();
    let content_types = feedparser_content_types(&root);
    let files = feed_files(&root);
    assert!(
        files.len() > 5_000,
        "only {} corpus files found",
        files.len()
    );

    let (mut ok, mut errors, mut with_content_type) = (0, 0, 0);
    let mut error_kinds: HashMap<&'static str, usize> = HashMap::new();
    let mut crashed: Vec<(String, String)> = Vec::new();
    let mut panicked: Vec<(String, String)> = Vec::new();
    for path in &files {
        let rel = relative(&root, path);
        let content_type = content_types.get(&rel).cloned();
        with_content_type += usize::from(content_type.is_some());
        match probe(path, content_type) {
            Ok(Ok(_)) => ok += 1,
            Ok(Err(error)) => {
                errors += 1;
                let kind = match &error {
                    IngestError::Decode(_) => "decode",
                    IngestError::Parse(ParseError::Html) => "html",
                    IngestError::Parse(ParseError::Invalid(_)) => "invalid",
                    IngestError::Parse(ParseError::Crashed(message)) => {
                        crashed.push((rel, message.clone()));
                        "crashed"
                    }
                    _ => "other",
                };
                *error_kinds.entry(kind).or_default() += 1;
            }
            Err(report) => panicked.push((rel, report)),
        }
    }

    let mut kinds: Vec<_> = error_kinds.into_iter().collect();
    kinds.sort();
    eprintln!(
        "conformance: {} files, {ok} ok, {errors} errors, {} crashed-caught, {} panicked \
         ({with_content_type} with a feedparser Content-Type; errors by kind {kinds:?}; {:.1?})",
        files.len(),
        crashed.len(),
        panicked.len(),
        started.elapsed(),
    );
    if !crashed.is_empty() {
        eprintln!(
            "conformance: feed-rs crashed (caught by sosik::parse) on {} files, e.g.:",
            crashed.len()
        );
        for (path, message) in crashed.iter().take(10) {
            eprintln!("  {path}: {message}");
        }
    }
    for (path, report) in &panicked {
        eprintln!("conformance: PANIC on {path}\n{report}\n");
    }
    let paths: Vec<&str> = panicked.iter().map(|(p, _)| p.as_str()).collect();
    assert!(paths.is_empty(), "files that panicked: {paths:#?}");
}

// ---------------------------------------------------------------------------------------------
// 2. Korean charsets

/// The first item's title, else the channel title, found without any XML parser: the first
/// `<title>` inside the first `<item>`, CDATA stripped, the five XML entities and numeric
/// character references unescaped, whitespace collapsed.
fn naive_first_title(xml: &str) -> Option<String> {
    let scope = match find_tag(xml, "item") {
        Some(start) => {
            let item = &xml[start..];
            &item[..item.find("</item>").unwrap_or(item.len())]
        }
        None => xml,
    };
    let open = find_tag(scope, "title")?;
    let after = &scope[open..];
    let inner = &after[after.find('>')? + 1..];
    let raw = &inner[..inner.find("</title>")?];
    Some(collapse(&unescape_xml(raw)))
}

/// Byte offset of the first start tag `<name>` or `<name …>`.
fn find_tag(xml: &str, name: &str) -> Option<usize> {
    let open = format!("<{name}");
    let mut from = 0;
    while let Some(i) = xml[from..].find(&open) {
        let at = from + i;
        match xml[at + open.len()..].chars().next() {
            Some(c) if c == '>' || c.is_ascii_whitespace() => return Some(at),
            _ => from = at + open.len(),
        }
    }
    None
}

/// Text content of an XML fragment without markup: CDATA sections taken verbatim, entity and
/// character references outside them decoded.
fn unescape_xml(raw: &str) -> String {
    let mut out = String::new();
    let mut rest = raw;
    while !rest.is_empty() {
        if let Some(cdata) = rest.strip_prefix("<![CDATA[") {
            let end = cdata.find("]]>").unwrap_or(cdata.len());
            out.push_str(&cdata[..end]);
            rest = cdata.get(end + 3..).unwrap_or("");
        } else if rest.starts_with('&')
            && let Some(end) = rest.find(';')
        {
            let name = &rest[1..end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => name.strip_prefix('#').and_then(|n| {
                    let code = match n.strip_prefix('x') {
                        Some(hex) => u32::from_str_radix(hex, 16).ok(),
                        None => n.parse().ok(),
                    };
                    code.and_then(char::from_u32)
                }),
            };
            match c {
                Some(c) => {
                    out.push(c);
                    rest = &rest[end + 1..];
                }
                None => {
                    out.push('&');
                    rest = &rest[1..];
                }
            }
        } else {
            let c = rest.chars().next().expect("non-empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn has_hangul(text: &str) -> bool {
    text.chars().any(|c| ('\u{AC00}'..='\u{D7A3}').contains(&c))
}

#[test]
fn korean_feeds_decode_as_windows_949() {
    let Some(root) = corpus_dir() else { return };
    let mut files = Vec::new();
    for dir in ["chardet/tests/EUC-KR", "chardet/tests/CP949"] {
        for entry in std::fs::read_dir(root.join(dir)).expect("Korean corpus dir") {
            let path = entry.expect("dir entry").path();
            if path.extension().is_some_and(|e| e == "xml") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert_eq!(files.len(), 29, "expected 28 EUC-KR + 1 CP949 feeds");

    let mut failures = Vec::new();
    let mut without_hangul = Vec::new();
    for path in &files {
        let rel = relative(&root, path);
        let bytes = std::fs::read(path).expect("read");
        let Some(strict) =
            encoding_rs::EUC_KR.decode_without_bom_handling_and_without_replacement(&bytes)
        else {
            failures.push(format!("{rel}: not strictly decodable as windows-949"));
            continue;
        };
        let Some(expected) = naive_first_title(&strict) else {
            failures.push(format!("{rel}: the naive extraction found no title"));
            continue;
        };
        let doc = match read(path, None) {
            Ok(doc) => doc,
            Err(e) => {
                failures.push(format!("{rel}: read_document failed: {e}"));
                continue;
            }
        };
        if doc.encoding != "EUC-KR" {
            failures.push(format!("{rel}: decoded as {}, not EUC-KR", doc.encoding));
        }
        let title = match doc.stories.first() {
            Some(story) => story.title.clone(),
            None => doc.title.clone().unwrap_or_default(),
        };
        if title != expected {
            failures.push(format!(
                "{rel}: first title {title:?}, independent extraction {expected:?}"
            ));
        }
        if title.contains('\u{FFFD}') {
            failures.push(format!("{rel}: title contains U+FFFD: {title:?}"));
        }
        if !has_hangul(&title) {
            without_hangul.push(format!("{rel}: {title:?}"));
        }
    }

    eprintln!(
        "conformance: Korean feeds: {} files, {} failures, {} titles without Hangul",
        files.len(),
        failures.len(),
        without_hangul.len()
    );
    for t in &without_hangul {
        eprintln!("  no Hangul in first title: {t}");
    }
    assert!(
        failures.is_empty(),
        "Korean feed failures:\n{}",
        failures.join("\n")
    );
    assert!(
        files.len() - without_hangul.len() >= 25,
        "only {} of {} first titles contain Hangul",
        files.len() - without_hangul.len(),
        files.len()
    );
}
