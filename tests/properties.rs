//! Property tests (proptest) over the pure stages, through the public API:
//!
//! - decode never panics on any bytes with any `Content-Type` and TLD, and fails only on an
//!   empty document;
//! - decode → parse → normalize ([`read_document`], the path of `sosik inspect`) never panics
//!   on arbitrary text nor on real feeds with random bytes spliced in, and what it returns
//!   keeps normalize's promises (unique keys, canonical links, plain titles);
//! - the filter parser never panics, and its errors point inside the filter (or one past it);
//! - canonical links are idempotent and carry no fragment, default port or tracking parameter;
//! - dedupe is order-independent: whatever order several sources' copies arrive in, the same
//!   stories exist, each remembering the same sources.
//!
//! Case counts are moderate so the file runs in seconds; `PROPTEST_CASES` raises them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use sosik::decode::{DecodeError, decode};
use sosik::dedupe::{Change, Held, Priorities, decide};
use sosik::fetch::{Fetched, ResponseMeta};
use sosik::filter::Filter;
use sosik::model::{Identity, SourceId, Story, StoryKey, StorySource};
use sosik::normalize::canonical_link;
use sosik::pipeline::{Document, IngestError, read_document};
use url::Url;

/// `cases` per property, unless `PROPTEST_CASES` asks for another number (for a long run).
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap()
}

// ---------------------------------------------------------------------------------------------
// decode

/// `Content-Type` values: arbitrary text, and ones built from real and broken charset labels.
fn content_types() -> impl Strategy<Value = Option<String>> {
    let label = prop_oneof![
        Just("utf-8".to_owned()),
        Just("euc-kr".to_owned()),
        Just("CP949".to_owned()),
        Just("utf-16".to_owned()),
        Just("utf-16be".to_owned()),
        Just("iso-2022-kr".to_owned()),
        Just("x-user-defined".to_owned()),
        Just("MacCyrillic".to_owned()),
        "\\PC{0,12}",
    ];
    prop_oneof![
        Just(None),
        "\\PC{0,40}".prop_map(Some),
        (label, "[ \"';=]{0,3}")
            .prop_map(|(l, junk)| Some(format!("application/rss+xml; charset={junk}{l}{junk}"))),
    ]
}

/// Bytes that look like feeds in some encoding often enough to reach every branch: a BOM, a
/// prolog naming an encoding, UTF-16/32 patterns, or nothing at all.
fn feedish_bytes() -> impl Strategy<Value = Vec<u8>> {
    let prefix = prop_oneof![
        Just(Vec::new()),
        Just(vec![0xEF, 0xBB, 0xBF]),
        Just(vec![0xFF, 0xFE]),
        Just(vec![0xFE, 0xFF]),
        Just(vec![0xFF, 0xFE, 0, 0]),
        Just(vec![0, 0, 0xFE, 0xFF]),
        Just(b"<\0?\0x\0".to_vec()),
        Just(b"\0\0\0<".to_vec()),
        Just(b"<\0\0\0".to_vec()),
        "(utf-8|euc-kr|cp949|shift_jis|utf-16|utf-32|ucs-4|bogus|)".prop_map(|label| {
            format!("<?xml version=\"1.0\" encoding=\"{label}\"?>").into_bytes()
        }),
        "\\PC{0,80}".prop_map(|prolog| format!("<?xml {prolog}?>").into_bytes()),
    ];
    (prefix, proptest::collection::vec(any::<u8>(), 0..400)).prop_map(|(mut p, rest)| {
        p.extend(rest);
        p
    })
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn decode_never_panics_and_fails_only_on_empty_input(
        bytes in prop_oneof![feedish_bytes(), proptest::collection::vec(any::<u8>(), 0..300)],
        content_type in content_types(),
        tld in proptest::option::of("\\PC{0,6}"),
    ) {
        let result = decode(&bytes, content_type.as_deref(), tld.as_deref());
        let blank = bytes.iter().all(u8::is_ascii_whitespace);
        match result {
            Err(DecodeError::Empty) => prop_assert!(blank, "Empty for non-blank input"),
            Ok(decoded) => {
                prop_assert!(!blank, "blank input decoded");
                prop_assert!(!decoded.encoding.is_empty());
                prop_assert!(!decoded.text.starts_with('\u{feff}'), "BOM left in the text");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// decode → parse → normalize

fn read(body: Vec<u8>, content_type: Option<String>) -> Result<Document, IngestError> {
    let fetched = Fetched {
        body,
        content_type,
        meta: ResponseMeta {
            status: 200,
            final_url: Url::parse("https://news.example.kr/rss/all.xml").ok(),
            ..Default::default()
        },
    };
    let source = SourceId::new("prop").expect("valid id");
    read_document(&fetched, &source, chrono_tz::Asia::Seoul, now(), 50)
}

/// What every document read must satisfy, whatever the input.
fn check_document(doc: &Document) -> Result<(), TestCaseError> {
    prop_assert!(doc.stories.len() <= 50, "cap exceeded");
    let mut keys = BTreeSet::new();
    for story in &doc.stories {
        prop_assert!(keys.insert(story.key()), "two stories share a key");
        prop_assert!(
            !story.title.chars().any(char::is_control),
            "control character in title {:?}",
            story.title
        );
        prop_assert_eq!(story.title.trim(), story.title.as_str());
        prop_assert!(
            !story.title.contains("  "),
            "uncollapsed title {:?}",
            story.title
        );
        if let Some(link) = &story.link {
            prop_assert_eq!(canonical_link(link, None), Some(link.clone()));
        }
        prop_assert!(story.published <= now() + chrono::Duration::days(1));
        prop_assert!(story.updated >= story.published);
        prop_assert_eq!(story.sources.len(), 1);
    }
    Ok(())
}

/// Small real feeds: our own demo samples, plus legacy and odd forms that exercise the
/// charset rules and the compatibility rewrites.
fn seeds() -> Vec<Vec<u8>> {
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo");
    let mut seeds: Vec<Vec<u8>> = [
        "maeil-all.xml",
        "maeil-it.xml",
        "tech-wire.atom",
        "daily-brief.json",
    ]
    .iter()
    .map(|name| std::fs::read(demo.join(name)).expect("demo feed"))
    .collect();
    let (euc_kr, _, _) = encoding_rs::EUC_KR.encode(
        "<?xml version=\"1.0\" encoding=\"CP949\"?><rss version=\"2.0\"><channel><title>똠방각하</title>\
         <item><title>[책&amp;amp;생각] 띠지</title><link>/news/1?utm_source=x#top</link>\
         <pubDate>2025-02-03 09:00:00</pubDate><category>IT·과학</category></item></channel></rss>",
    );
    seeds.push(euc_kr.into_owned());
    seeds.push(
        br#"<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title mode="escaped" type="text/html">t</title>
<entry><title mode="base64">dA==</title><link rel="alternate" href="http://a.kr/1"/><issued>2005-01-01T00:00:00</issued>
<content mode="xml" type="application/xhtml+xml"><div xmlns="http://www.w3.org/1999/xhtml">x</div></content></entry></feed>"#
            .to_vec(),
    );
    seeds.push(
        br#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://my.netscape.com/rdf/simple/0.9/"><channel><title>t</title></channel><item><title>a</title><link>http://a.tw/1</link></item></rdf:RDF>"#
            .to_vec(),
    );
    seeds
}

/// One edit of a seed: bytes spliced in, a range removed, or a range repeated.
#[derive(Debug, Clone)]
enum Mutation {
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Repeat(usize, usize),
}

fn fragments() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 1..8),
        "\\PC{1,12}".prop_map(String::into_bytes),
        prop::sample::select(vec![
            "<item>",
            "</item>",
            "<entry>",
            "</channel>",
            "<title>",
            "</title>",
            "<![CDATA[",
            "]]>",
            "&amp;",
            "&#0;",
            "&#xD800;",
            "&bogus;",
            "<!--",
            "-->",
            "<?xml version=\"1.0\" encoding=\"utf-16\"?>",
            "xmlns=\"http://purl.org/atom/ns#\"",
            "type=\"text/plain\"",
            "mode=\"base64\"",
            "<link>javascript:alert(1)</link>",
            "<pubDate>Mon, 99 Foo 2025</pubDate>",
            "\u{feff}",
            "\u{8}",
            "\0",
            "{\"version\":",
            "<!DOCTYPE html>",
            "<a href='/x'>",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<usize>(), fragments()).prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        1 => (any::<usize>(), 1usize..64).prop_map(|(at, len)| Mutation::Delete(at, len)),
        1 => (any::<usize>(), 1usize..64).prop_map(|(at, len)| Mutation::Repeat(at, len)),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let at = |i: usize| i % (bytes.len() + 1);
        match m {
            Mutation::Insert(i, piece) => {
                let i = at(*i);
                bytes.splice(i..i, piece.iter().copied());
            }
            Mutation::Delete(i, len) => {
                let i = at(*i);
                let end = (i + len).min(bytes.len());
                bytes.drain(i..end);
            }
            Mutation::Repeat(i, len) => {
                let i = at(*i);
                let end = (i + len).min(bytes.len());
                let copy = bytes[i..end].to_vec();
                bytes.splice(end..end, copy);
            }
        }
    }
    bytes
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn reading_arbitrary_text_never_panics(text in "\\PC{0,300}", content_type in content_types()) {
        if let Ok(doc) = read(text.into_bytes(), content_type) {
            check_document(&doc)?;
        }
    }

    #[test]
    fn reading_mutated_real_feeds_never_panics(
        seed in prop::sample::select(seeds()),
        mutations in proptest::collection::vec(mutation(), 1..6),
        content_type in content_types(),
    ) {
        let body = mutate(seed, &mutations);
        if let Ok(doc) = read(body, content_type) {
            check_document(&doc)?;
        }
    }
}

/// The seeds themselves are read, with stories: otherwise the mutations above would mostly
/// test the error paths.
#[test]
fn every_seed_is_a_readable_feed() {
    for (i, seed) in seeds().into_iter().enumerate() {
        let doc = read(seed, None).unwrap_or_else(|e| panic!("seed {i}: {e}"));
        assert!(!doc.stories.is_empty(), "seed {i} has no stories");
        check_document(&doc).unwrap_or_else(|e| panic!("seed {i}: {e}"));
    }
}

// ---------------------------------------------------------------------------------------------
// filter parser

/// Filters built from the language's own pieces, so most cases get past the first token.
fn filterish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        prop::sample::select(vec![
            "(",
            ")",
            "\"",
            "/",
            "-",
            "NOT ",
            "AND ",
            "OR ",
            " ",
            "title:",
            "category:",
            "source:",
            "tag:",
            "lang:",
            "link:",
            "text:",
            "Title:",
            "foo:",
            "\\",
            "\\\"",
            "[",
            "*",
            "+",
            "?",
            "{2}",
            "ㆍ",
            "·",
            "IT·과학",
            "삼성",
            "mk-it",
            "ko",
            "/반도체|AI/",
            "\"a phrase\"",
        ])
        .prop_map(str::to_owned),
        "\\PC{1,4}",
    ];
    proptest::collection::vec(token, 0..16).prop_map(|tokens| tokens.concat())
}

fn sample_story() -> Story {
    let source = SourceId::new("mk-it").unwrap();
    let mut story = Story {
        identity: Identity::Link("https://www.mk.co.kr/news/it/1".into()),
        link: Some("https://www.mk.co.kr/news/it/1".into()),
        title: "삼성, AI 반도체".into(),
        summary: Some("<p>요약 &amp; 본문</p>".into()),
        content: None,
        authors: vec!["기자".into()],
        categories: vec!["ITㆍ과학".into()],
        published: now(),
        updated: now(),
        first_seen: now(),
        lang: Some("ko-KR".into()),
        guid: None,
        sources: Vec::new(),
    };
    story.sources = vec![StorySource {
        id: source,
        fingerprint: story.fingerprint(),
    }];
    story
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn the_filter_parser_never_panics_and_errors_point_inside(
        src in prop_oneof![filterish(), "\\PC{0,40}", any::<String>()],
    ) {
        match Filter::parse(&src) {
            Ok(filter) => {
                prop_assert_eq!(filter.to_string(), src.clone());
                let tags: HashMap<SourceId, Vec<String>> =
                    HashMap::from([(SourceId::new("mk-it").unwrap(), vec!["tech".into()])]);
                // Matching must not panic either; its answer is the matcher tests' business.
                let _ = filter.matches(&sample_story(), &tags);
            }
            Err(error) => {
                let len = src.chars().count();
                prop_assert!(
                    (1..=len + 1).contains(&error.col),
                    "col {} outside 1..={} for {:?}: {}",
                    error.col,
                    len + 1,
                    src,
                    error
                );
                prop_assert!(!error.message.is_empty());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// canonical links

const TRACKING: &[&str] = &[
    "utm_source",
    "utm_medium",
    "UTM_Campaign",
    "utm_",
    "fbclid",
    "gclid",
    "mc_cid",
    "mc_eid",
    "igshid",
    "ref_src",
];

/// URLs as feeds write them: any case in scheme and host, default and other ports, encoded
/// and Korean paths, queries mixing tracking and real parameters, empty pairs, fragments.
fn urls() -> impl Strategy<Value = String> {
    let scheme = prop::sample::select(vec!["http", "https", "HTTP", "HtTpS", "ftp", "javascript"]);
    let host = prop_oneof![
        "[a-zA-Z0-9-]{1,10}(\\.[a-zA-Z]{2,5}){1,2}",
        Just("뉴스.한국".to_owned()),
        Just("WWW.MK.CO.KR".to_owned()),
        Just("127.0.0.1".to_owned()),
        Just("[::1]".to_owned()),
        Just("xn--3e0b707e.kr".to_owned()),
    ];
    let port = prop_oneof![
        Just(String::new()),
        Just(":80".to_owned()),
        Just(":443".to_owned()),
        (1u16..).prop_map(|p| format!(":{p}")),
    ];
    let segment = prop_oneof![
        "[a-zA-Z0-9._~-]{0,8}",
        Just("기사".to_owned()),
        Just("%7Euser".to_owned()),
        Just("a%20b".to_owned()),
        Just("..".to_owned()),
        Just(".".to_owned()),
    ];
    let path = proptest::collection::vec(segment, 0..4).prop_map(|s| format!("/{}", s.join("/")));
    let param = prop_oneof![
        2 => ("[a-z_]{1,6}", "[a-zA-Z0-9%+]{0,6}").prop_map(|(k, v)| format!("{k}={v}")),
        2 => (prop::sample::select(TRACKING), "[a-z0-9]{0,4}").prop_map(|(k, v)| format!("{k}={v}")),
        1 => Just(String::new()),
        1 => "[a-z]{1,4}",
        1 => Just("q=한글 값".to_owned()),
    ];
    let query = prop_oneof![
        Just(String::new()),
        proptest::collection::vec(param, 0..5).prop_map(|p| format!("?{}", p.join("&"))),
    ];
    let fragment = prop_oneof![Just(String::new()), "#\\PC{0,6}"];
    (scheme, host, port, path, query, fragment)
        .prop_map(|(s, h, p, path, q, f)| format!("{s}://{h}{p}{path}{q}{f}"))
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn canonical_links_are_idempotent_and_clean(
        raw in prop_oneof![4 => urls(), 1 => "\\PC{0,40}"],
        relative in "(/[a-z기사]{0,5}){0,3}(\\?utm_source=x&id=1)?(#top)?",
    ) {
        let base = Url::parse("https://www.mk.co.kr/rss/40300001/").unwrap();
        for input in [raw.as_str(), relative.as_str()] {
            let Some(once) = canonical_link(input, Some(&base)) else { continue };
            prop_assert_eq!(
                canonical_link(&once, None),
                Some(once.clone()),
                "not idempotent for {:?}",
                input
            );
            prop_assert_eq!(canonical_link(&once, Some(&base)), Some(once.clone()));
            let url = Url::parse(&once).unwrap();
            prop_assert!(matches!(url.scheme(), "http" | "https"));
            prop_assert!(url.fragment().is_none(), "fragment kept: {}", once);
            let authority = once.split("://").nth(1).unwrap_or("").split('/').next().unwrap_or("");
            if let Some(default) = default_port(url.scheme()) {
                prop_assert!(
                    !authority.ends_with(&format!(":{default}")),
                    "default port kept in {}",
                    once
                );
            }
            prop_assert_eq!(authority.to_lowercase(), authority, "host not lowercased");
            for (name, _) in url.query_pairs() {
                let name = name.to_ascii_lowercase();
                prop_assert!(
                    !name.starts_with("utm_") && !TRACKING.iter().any(|t| t.eq_ignore_ascii_case(&name)),
                    "tracking parameter {} kept in {}",
                    name,
                    once
                );
            }
        }
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// dedupe

/// One source's copy of a story: which story (an identity from a small pool), which source,
/// and which wording (so some copies are edits, some are the same text).
#[derive(Debug, Clone)]
struct Copy {
    story: usize,
    source: usize,
    wording: usize,
}

const SOURCES: &[&str] = &["mk-all", "mk-it", "hani"];

fn incoming(copy: &Copy, seen_at: DateTime<Utc>) -> Story {
    let identity = match copy.story % 3 {
        // Links are global: shared by every source that carries the story.
        0 | 1 => Identity::Link(format!("https://news.example.kr/{}", copy.story)),
        // Guids are scoped to one source.
        _ => Identity::Guid {
            source: SourceId::new(SOURCES[copy.source]).unwrap(),
            guid: format!("g-{}", copy.story),
        },
    };
    let mut story = Story {
        identity,
        link: None,
        title: format!("기사 {} 판 {}", copy.story, copy.wording),
        summary: copy.wording.is_multiple_of(2).then(|| "요약".to_owned()),
        content: None,
        authors: Vec::new(),
        categories: vec![format!("분류{}", copy.wording % 3)],
        published: seen_at,
        updated: seen_at,
        first_seen: seen_at,
        lang: None,
        guid: None,
        sources: Vec::new(),
    };
    story.sources = vec![StorySource {
        id: SourceId::new(SOURCES[copy.source]).unwrap(),
        fingerprint: story.fingerprint(),
    }];
    story
}

/// Applies `copies` in order to an empty store, as the store's transaction does.
fn apply(copies: &[Copy]) -> BTreeMap<StoryKey, BTreeSet<String>> {
    let mut store: HashMap<StoryKey, Held> = HashMap::new();
    for (i, copy) in copies.iter().enumerate() {
        let at = now() + chrono::Duration::minutes(i as i64);
        let story = incoming(copy, at);
        let key = story.key();
        match decide(store.get(&key), &story, at, &Priorities::default()) {
            Change::New(s) | Change::Updated(s) | Change::Merged(s) => {
                assert_eq!(
                    s.story.key(),
                    key,
                    "a decision moved the story to another key"
                );
                store.insert(key, s);
            }
            Change::Unchanged => {}
        }
    }
    store
        .into_iter()
        .map(|(key, held)| {
            let sources = held
                .story
                .sources
                .iter()
                .map(|s| s.id.to_string())
                .collect();
            (key, sources)
        })
        .collect()
}

fn copies_and_a_permutation() -> impl Strategy<Value = (Vec<Copy>, Vec<Copy>)> {
    let copy = (0usize..6, 0..SOURCES.len(), 0usize..3).prop_map(|(story, source, wording)| Copy {
        story,
        source,
        wording,
    });
    proptest::collection::vec(copy, 1..24)
        .prop_flat_map(|copies| (Just(copies.clone()), Just(copies).prop_shuffle()))
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn dedupe_is_order_independent((copies, shuffled) in copies_and_a_permutation()) {
        let in_order = apply(&copies);
        let permuted = apply(&shuffled);
        prop_assert_eq!(&in_order, &permuted);
        // And it is the right answer: one story per identity, remembering exactly the sources
        // that carried it.
        let mut expected: BTreeMap<StoryKey, BTreeSet<String>> = BTreeMap::new();
        for copy in &copies {
            let story = incoming(copy, now());
            expected
                .entry(story.key())
                .or_default()
                .insert(SOURCES[copy.source].to_owned());
        }
        prop_assert_eq!(in_order, expected);
    }
}
