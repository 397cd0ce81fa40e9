//! Table tests for the filter language: parsed structure, errors with columns, and matching
//! over Korean stories.

use std::collections::HashMap;

use chrono::{TimeZone, Utc};

use super::*;
use crate::model::{Identity, StorySource};

fn sid(id: &str) -> SourceId {
    SourceId::new(id).unwrap()
}

/// A story with only a title; tests fill in the rest with struct update syntax.
fn story(title: &str) -> Story {
    let t = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
    Story {
        identity: Identity::Guid {
            source: sid("test"),
            guid: title.to_owned(),
        },
        link: None,
        title: title.to_owned(),
        summary: None,
        content: None,
        authors: vec![],
        categories: vec![],
        published: t,
        updated: t,
        first_seen: t,
        lang: None,
        guid: None,
        sources: vec![],
    }
}

fn sources(ids: &[&str]) -> Vec<StorySource> {
    ids.iter()
        .map(|id| StorySource {
            id: sid(id),
            fingerprint: 0,
        })
        .collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The three stories every matcher case runs over, in this order.
fn stories() -> [Story; 3] {
    let link = "https://www.mk.co.kr/news/it/11234567";
    let it = Story {
        identity: Identity::Link(link.into()),
        link: Some(link.into()),
        summary: Some("<p>삼성전자 <b>이재용</b> 회장이 &amp; OpenAI…</p>".into()),
        authors: strings(&["김기자"]),
        categories: strings(&["ITㆍ과학"]),
        lang: Some("ko-KR".into()),
        guid: None,
        sources: sources(&["mk-all"]),
        ..story("이재용·올트먼 내일 회동…오픈AI, 삼성에 투자 요청할 듯")
    };
    let econ = Story {
        identity: Identity::Link("https://www.mk.co.kr/news/stock/1".into()),
        link: Some("https://www.mk.co.kr/news/stock/1".into()),
        content: Some("<div>외국인 순매수</div><p>반도체 강세</p>".into()),
        categories: strings(&["경제", "증권"]),
        lang: Some("ko".into()),
        guid: None,
        sources: sources(&["mk-stock", "hankyung"]),
        ..story("코스피 2,600선 회복")
    };
    let plain = Story {
        authors: strings(&["John SMITH"]),
        categories: strings(&["IT・과학"]),
        guid: None,
        sources: sources(&["yna"]),
        ..story("ＩＴ 업계 동향")
    };
    [it, econ, plain]
}

fn tags() -> HashMap<SourceId, Vec<String>> {
    HashMap::from([
        (sid("mk-all"), strings(&["mk", "economy"])),
        (sid("mk-stock"), strings(&["mk", "Markets"])),
        (sid("hankyung"), strings(&["hk"])),
    ])
}

fn tree(src: &str) -> String {
    let filter = Filter::parse(src).unwrap_or_else(|e| panic!("{src:?} should parse: {e}"));
    format!("{:?}", filter.root.expect("not the empty filter"))
}

#[test]
fn valid_queries_parse_to_the_expected_tree() {
    let cases = [
        ("a", r#"text:"a""#),
        ("a b", r#"(and text:"a" text:"b")"#),
        ("a AND b", r#"(and text:"a" text:"b")"#),
        ("a AND b c", r#"(and text:"a" text:"b" text:"c")"#),
        ("a OR b c", r#"(or text:"a" (and text:"b" text:"c"))"#),
        ("a b OR c", r#"(or (and text:"a" text:"b") text:"c")"#),
        ("a OR b OR c", r#"(or text:"a" text:"b" text:"c")"#),
        ("(a OR b) c", r#"(and (or text:"a" text:"b") text:"c")"#),
        ("(((a)))", r#"text:"a""#),
        ("-a", r#"(not text:"a")"#),
        ("NOT a", r#"(not text:"a")"#),
        ("NOT(a b)", r#"(not (and text:"a" text:"b"))"#),
        ("- a", r#"(not text:"a")"#),
        ("--a", r#"(not (not text:"a"))"#),
        (
            "a -b OR -c",
            r#"(or (and text:"a" (not text:"b")) (not text:"c"))"#,
        ),
        ("a-b", r#"text:"a-b""#),
        ("source:mk-it", r#"source:"mk-it""#),
        ("title:-x", r#"title:"-x""#),
        ("a and b", r#"(and text:"a" text:"and" text:"b")"#),
        ("a or NOTa", r#"(and text:"a" text:"or" text:"nota")"#),
        ("ANDROID", r#"text:"android""#),
        (r#""AND""#, r#"text:"and""#),
        ("title:OR", r#"title:"or""#),
        ("Title:Foo", r#"title:"foo""#),
        ("http://x.kr/a", r#"text:"http://x.kr/a""#),
        ("10:30", r#"text:"10:30""#),
        (r#""foo:bar""#, r#"text:"foo:bar""#),
        ("mailto://x", r#"text:"mailto://x""#),
        ("link:http://x.kr/a", r#"link:"http://x.kr/a""#),
        (r#"category:"IT·과학""#, r#"category:"it·과학""#),
        (r#"category:"ＩＴㆍ과학""#, r#"category:"it·과학""#),
        (
            r#""say \"hi\" \\ now \x""#,
            r#"text:"say \"hi\" \\ now \\x""#,
        ),
        (r#""two  spaces""#, r#"text:"two spaces""#),
        (r"/a\/b/", "text:/a/b/"),
        (r"title:/^\d+$/", r"title:/^\d+$/"),
        (r#"a"b""#, r#"(and text:"a" text:"b")"#),
        ("a(b)", r#"(and text:"a" text:"b")"#),
        ("lang:ko_KR", r#"lang:"ko-kr""#),
        ("  spaced \t out\n", r#"(and text:"spaced" text:"out")"#),
        ("a\tOR\nb", r#"(or text:"a" text:"b")"#),
        (
            r#"category:"IT·과학" OR link:"/news/it/""#,
            r#"(or category:"it·과학" link:"/news/it/")"#,
        ),
    ];
    for (src, want) in cases {
        assert_eq!(tree(src), want, "parsing {src:?}");
    }
}

#[test]
fn bad_queries_report_the_column_and_reason() {
    let deep_parens = format!("{}a{}", "(".repeat(65), ")".repeat(65));
    let deep_not = format!("{}a", "-".repeat(65));
    let cases: Vec<(&str, usize, &str)> = vec![
        ("(a b", 5, "expected ')'"),
        ("(a (b)", 7, "expected ')'"),
        // Columns count characters: the two Hangul syllables are one column each.
        (r#"title:"과학" (x"#, 14, "expected ')'"),
        ("과학 OR", 6, "expected a term after 'OR'"),
        (r#""abc"#, 1, "unclosed quote"),
        (r#"title:"abc"#, 7, "unclosed quote"),
        (r#"a "b\""#, 3, "unclosed quote"),
        ("a /abc", 3, "unclosed regex: expected a closing '/'"),
        (r"/a\/", 1, "unclosed regex: expected a closing '/'"),
        (r"/a\", 1, "unclosed regex: expected a closing '/'"),
        ("/a(/", 1, "invalid regex: unclosed group"),
        (
            "x title:/[z-a]/",
            9,
            "invalid regex: invalid character class range, the start must be <= the end",
        ),
        ("//", 1, "empty regex"),
        (r#""""#, 1, "empty phrase"),
        (
            "/a/i",
            4,
            "regex flags are not supported; matching is always case-insensitive",
        ),
        (
            "title: foo",
            7,
            "expected a word, \"phrase\" or /regex/ after 'title:'",
        ),
        (
            "title:",
            7,
            "expected a word, \"phrase\" or /regex/ after 'title:'",
        ),
        (
            "a tag:(b)",
            7,
            "expected a word, \"phrase\" or /regex/ after 'tag:'",
        ),
        ("a OR", 5, "expected a term after 'OR'"),
        ("a OR ", 6, "expected a term after 'OR'"),
        ("a AND", 6, "expected a term after 'AND'"),
        ("a OR OR b", 6, "expected a term after 'OR'"),
        ("a AND OR b", 7, "expected a term after 'AND'"),
        ("NOT", 4, "expected a term after 'NOT'"),
        ("a NOT )", 7, "expected a term after 'NOT'"),
        ("-", 2, "expected a term after '-'"),
        ("a -", 4, "expected a term after '-'"),
        ("-)", 2, "expected a term after '-'"),
        ("OR a", 1, "expected a term before 'OR'"),
        ("AND", 1, "expected a term before 'AND'"),
        ("a)", 2, "unmatched ')'"),
        (")", 1, "unmatched ')'"),
        ("(a)) b", 4, "unmatched ')'"),
        ("()", 2, "expected a term after '('"),
        ("(OR a)", 2, "expected a term after '('"),
        (&deep_parens, 65, "filter nests deeper than 64 levels"),
        (&deep_not, 65, "filter nests deeper than 64 levels"),
        (
            "a categroy:IT",
            3,
            "unknown field \"categroy\" (did you mean \"category\"?); fields are title, summary, \
             content, text, author, category, link, source, tag, lang; write \"categroy:IT\" in \
             quotes to search for the text",
        ),
        (
            "foo:bar",
            1,
            "unknown field \"foo\"; fields are title, summary, content, text, author, category, \
             link, source, tag, lang; write \"foo:bar\" in quotes to search for the text",
        ),
    ];
    for (src, col, message) in cases {
        let err = Filter::parse(src).expect_err(src);
        assert_eq!(
            (err.col, err.message.as_str()),
            (col, message),
            "parsing {src:?}"
        );
    }
}

#[test]
fn nesting_up_to_the_limit_is_fine() {
    let parens = format!("{}a{}", "(".repeat(64), ")".repeat(64));
    assert_eq!(tree(&parens), r#"text:"a""#);
    assert!(Filter::parse(&format!("{}a", "-".repeat(64))).is_ok());
}

#[test]
fn an_oversized_regex_is_refused() {
    let err = Filter::parse(r"x /(\w{100}){100}/").unwrap_err();
    assert_eq!(err.col, 3);
    assert!(
        err.message.starts_with("invalid regex: regex is too large"),
        "{}",
        err.message
    );
}

#[test]
fn errors_display_as_col_then_message() {
    let err = Filter::parse(r#"title:"과학" (x"#).unwrap_err();
    assert_eq!(err.to_string(), "col 14: expected ')'");
}

#[test]
fn the_filter_matches_the_expected_stories() {
    let [it, econ, plain] = stories();
    let tags = tags();
    // Expected result for the IT story, the economy story and the plain one.
    let cases: &[(&str, [bool; 3])] = &[
        // The motivating query.
        (
            r#"category:"IT·과학" OR link:"/news/it/""#,
            [true, false, true],
        ),
        ("", [true, true, true]),
        (" \t ", [true, true, true]),
        // Middle dots: every variant in the needle matches every variant in the story.
        (r#"category:"IT·과학""#, [true, false, true]),
        ("category:ITㆍ과학", [true, false, true]),
        ("category:IT・과학", [true, false, true]),
        ("category:IT‧과학", [true, false, true]),
        ("category:IT･과학", [true, false, true]),
        ("이재용·올트먼", [true, false, false]),
        ("이재용ㆍ올트먼", [true, false, false]),
        ("이재용･올트먼", [true, false, false]),
        ("이재용올트먼", [false, false, false]),
        // NFKC and case.
        ("category:ＩＴㆍ과학", [true, false, true]),
        ("it", [false, false, true]),
        ("ＩＴ", [false, false, true]),
        ("오픈ai", [true, false, false]),
        ("OPENAI", [true, false, false]),
        (r#"title:"회동...오픈AI""#, [true, false, false]),
        // category: is a whole match, any of the story's categories.
        ("category:과학", [false, false, false]),
        ("category:증권", [false, true, false]),
        // Substring fields.
        (r#"link:"/news/it/""#, [true, false, false]),
        ("link:MK.CO.KR", [true, true, false]),
        ("author:김", [true, false, false]),
        ("author:smith", [false, false, true]),
        ("title:회장", [false, false, false]),
        ("summary:회장", [true, false, false]),
        (
            r#"summary:"삼성전자 이재용 회장이 & openai""#,
            [true, false, false],
        ),
        ("summary:&amp;", [false, false, false]),
        ("content:외국인", [false, true, false]),
        (r#"content:"순매수 반도체""#, [false, true, false]),
        ("순매수반도체", [false, false, false]),
        ("text:반도체 text:코스피", [false, true, false]),
        // source: and tag: are whole, case-insensitive, any of the story's sources.
        ("source:mk-all", [true, false, false]),
        ("source:MK-ALL", [true, false, false]),
        ("source:hankyung", [false, true, false]),
        ("source:mk", [false, false, false]),
        ("tag:mk", [true, true, false]),
        ("tag:markets", [false, true, false]),
        ("tag:mar", [false, false, false]),
        ("tag:hk", [false, true, false]),
        // lang: matches the tag or its leading subtags.
        ("lang:ko", [true, true, false]),
        ("lang:KO_kr", [true, false, false]),
        ("lang:k", [false, false, false]),
        ("-lang:ko", [false, false, true]),
        // Regexes: case-insensitive, over normalized text.
        (r"/^코스피 \d/", [false, true, false]),
        ("title:/오픈ai/", [true, false, false]),
        ("summary:/OPEN.I/", [true, false, false]),
        ("category:/과학$/", [true, false, true]),
        ("category:/^ＩＴㆍ/", [true, false, true]),
        (r"/\/news\/it\//", [false, false, false]),
        (r"link:/\/news\/it\//", [true, false, false]),
        ("source:/^mk-/", [true, true, false]),
        // Negation and precedence.
        ("-category:경제", [true, false, true]),
        ("NOT category:경제", [true, false, true]),
        ("-(source:mk-all OR source:yna)", [false, true, false]),
        (
            r#"tag:hk OR source:yna category:"IT·과학""#,
            [false, true, true],
        ),
        (
            r#"(tag:hk OR source:yna) category:"IT·과학""#,
            [false, false, true],
        ),
        ("tag:mk AND -tag:hk", [true, false, false]),
    ];
    for (src, want) in cases {
        let filter = Filter::parse(src).unwrap_or_else(|e| panic!("{src:?}: {e}"));
        let got = [&it, &econ, &plain].map(|s| filter.matches(s, &tags));
        assert_eq!(got, *want, "filter {src:?} over [it, econ, plain]");
    }
}

#[test]
fn tags_of_unknown_sources_are_empty() {
    let empty: HashMap<SourceId, Vec<String>> = HashMap::new();
    let filter = Filter::parse("tag:mk").unwrap();
    let [it, ..] = stories();
    assert!(!filter.matches(&it, &empty));
    let btree = std::collections::BTreeMap::from([(sid("mk-all"), strings(&["MK"]))]);
    assert!(filter.matches(&it, &btree));
}

#[test]
fn lang_reads_underscores_as_hyphens_in_the_story_too() {
    let tags = tags();
    let story = Story {
        lang: Some("KO_kr".into()),
        ..story("x")
    };
    for (src, want) in [
        ("lang:ko", true),
        ("lang:ko-KR", true),
        ("lang:ko_kr", true),
        ("lang:kr", false),
    ] {
        assert_eq!(
            Filter::parse(src).unwrap().matches(&story, &tags),
            want,
            "{src:?}"
        );
    }
}

#[test]
fn the_empty_filter_is_match_all_and_others_are_not() {
    for src in ["", "   ", "\n\t"] {
        assert!(Filter::parse(src).unwrap().is_match_all(), "{src:?}");
    }
    assert!(Filter::default().is_match_all());
    for src in ["a", "-a", "(a) b"] {
        assert!(!Filter::parse(src).unwrap().is_match_all(), "{src:?}");
    }
}

#[test]
fn filters_display_as_written_and_compare_by_text() {
    let src = r#"category:"IT·과학"  OR link:"/news/it/""#;
    let filter = Filter::parse(src).unwrap();
    assert_eq!(filter.to_string(), src);
    assert_eq!(filter, Filter::parse(src).unwrap());
    assert_ne!(filter, Filter::parse("a").unwrap());
    assert!(format!("{filter:?}").contains(r#"(or category:"it·과학" link:"/news/it/")"#));
}

#[test]
fn filters_can_be_shared_across_threads() {
    fn assert_traits<T: Clone + std::fmt::Debug + Send + Sync + 'static>() {}
    assert_traits::<Filter>();
    assert_traits::<FilterError>();
}

/// Every character-prefix and suffix of real and broken queries, and random token soup: parsing
/// never panics, errors point inside the filter (or one past its end), and whatever parses can
/// be matched.
#[test]
fn parsing_weird_input_never_panics() {
    let seeds = [
        r#"category:"IT·과학" OR link:"/news/it/""#,
        r#"(tag:hk OR -source:yna) NOT title:/^\d+\/x$/ "a \"b\" c""#,
        r"((a OR b) AND (c OR (d -e))) /[ㆍ·]/ lang:ko_KR author:김",
        r#"))(( "" // \ \\ "\" /\/ -- NOT NOT AND OR ::: title:: :a"#,
        "ＩＴ・과학 ㈜삼성 é\u{301} \u{FEFF} \u{0}",
    ];
    let [it, econ, plain] = stories();
    let tags = tags();
    let check = |src: &str| match Filter::parse(src) {
        Ok(filter) => {
            for story in [&it, &econ, &plain] {
                filter.matches(story, &tags);
            }
        }
        Err(e) => {
            let len = src.chars().count();
            assert!(
                (1..=len + 1).contains(&e.col),
                "{src:?}: col {} of {len}",
                e.col
            );
        }
    };
    for seed in seeds {
        let chars: Vec<char> = seed.chars().collect();
        for i in 0..=chars.len() {
            check(&chars[..i].iter().collect::<String>());
            check(&chars[i..].iter().collect::<String>());
        }
    }

    let tokens = [
        "(", ")", "\"", "/", "\\", "-", "NOT ", "AND ", "OR ", "title:", "tag:", "a", "과학", " ",
        "ㆍ", ":", "[", "*", "{", "?", "x:",
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..5000 {
        let mut src = String::new();
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let len = state % 12;
        for _ in 0..len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            src.push_str(tokens[(state % tokens.len() as u64) as usize]);
        }
        check(&src);
    }
}

#[test]
fn lower_case_operators_are_words_with_a_warning_at_their_column() {
    let filter = Filter::parse("삼성 or 애플 and not(x) NOT y \"or\" title:and").unwrap();
    let warned: Vec<(usize, &str)> = filter
        .warnings()
        .iter()
        .map(|w| (w.col, w.message.split(' ').next().unwrap()))
        .collect();
    // `"or"` (quoted) and `title:and` (a field's value) are deliberate words; `NOT` is the
    // operator; `not(x)` is the word "not" followed by a group.
    assert_eq!(warned, [(4, "\"or\""), (10, "\"and\""), (14, "\"not\"")]);
    assert!(
        filter.warnings()[0]
            .message
            .contains("write OR for the operator"),
        "{}",
        filter.warnings()[0].message
    );
    assert!(Filter::parse("a OR b").unwrap().warnings().is_empty());
}

#[test]
fn references_name_unknown_sources_and_tags_with_their_column() {
    let filter = Filter::parse("source:mk-all OR source:\"MK-IT\" tag:Tech -tag:ghost").unwrap();
    let unknown: Vec<(usize, &str)> = filter
        .unknown_references(["mk-all", "mk-it"], ["tech"])
        .iter()
        .map(|r| (r.col, r.value.as_str()))
        .collect();
    assert_eq!(unknown, [(47, "ghost")]);
    let none_known = filter.unknown_references([], []);
    assert_eq!(none_known.len(), 4);
    assert_eq!(none_known[0].kind, ReferenceKind::Source);
    assert_eq!(none_known[2].kind, ReferenceKind::Tag);
}
