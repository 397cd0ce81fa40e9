use proptest::prelude::*;

use super::*;

fn base() -> Url {
    Url::parse("https://www.mk.co.kr/news/it/1").unwrap()
}

/// ammonia as the sanitizer configures it.
fn ammonia_clean(html: &str, base: Option<&Url>) -> String {
    let mut builder = ammonia::Builder::default();
    match base {
        Some(base) => builder.url_relative(ammonia::UrlRelative::RewriteWithBase(base.clone())),
        None => builder.url_relative(ammonia::UrlRelative::Deny),
    };
    builder.clean(html).to_string()
}

/// A fragment as a parser sees it: text runs with references decoded, and tags with their
/// names and attributes (values decoded), in order. Assumes quoted attributes, which both the
/// fast path and ammonia write.
#[derive(Debug, PartialEq)]
enum Token {
    Text(String),
    Tag {
        closing: bool,
        name: String,
        attributes: Vec<(String, String)>,
    },
}

fn tokens(html: &str) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::new();
    let mut rest = html;
    while !rest.is_empty() {
        let (token, after) = if rest.starts_with('<') {
            // Serializers leave `>` unescaped in attribute values.
            let mut quoted = false;
            let end = rest
                .char_indices()
                .find(|&(_, c)| {
                    quoted ^= c == '"';
                    c == '>' && !quoted
                })
                .expect("a tag ends")
                .0;
            let body = rest[1..end].trim_end_matches('/');
            let (closing, body) = match body.strip_prefix('/') {
                Some(body) => (true, body),
                None => (false, body),
            };
            let name = body.split(' ').next().unwrap().to_owned();
            let mut attributes = Vec::new();
            let mut attrs = &body[name.len()..];
            while let Some(eq) = attrs.find("=\"") {
                let value_end = attrs[eq + 2..].find('"').unwrap() + eq + 2;
                let value = crate::html::html_text(&attrs[eq + 2..value_end]).into_owned();
                attributes.push((attrs[..eq].trim().to_owned(), value));
                attrs = &attrs[value_end + 1..];
            }
            let tag = Token::Tag {
                closing,
                name,
                attributes,
            };
            (tag, &rest[end + 1..])
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            let text = crate::html::html_text(&rest[..end]).into_owned();
            (Token::Text(text), &rest[end..])
        };
        match (out.last_mut(), token) {
            (Some(Token::Text(previous)), Token::Text(text)) => previous.push_str(&text),
            (_, token) => out.push(token),
        }
        rest = after;
    }
    out
}

/// Every tag is one ammonia allows by default and none that loads scripts or frames, with
/// only attributes ammonia keeps (and the `rel` it adds to links), and every URL is http(s)
/// or mailto. Written out here, independently of the fast path's own tables.
fn assert_only_allowed_markup(html: &str) {
    const ALLOWED: &[(&str, &[&str])] = &[
        ("a", &["href", "hreflang", "rel"]),
        ("img", &["align", "alt", "height", "src", "width"]),
        ("hr", &["align", "size", "width"]),
        ("blockquote", &["cite"]),
        ("ol", &["start"]),
    ];
    const PLAIN: &[&str] = &[
        "b",
        "br",
        "code",
        "div",
        "em",
        "figcaption",
        "figure",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "i",
        "li",
        "p",
        "pre",
        "s",
        "small",
        "span",
        "strong",
        "sub",
        "sup",
        "u",
        "ul",
    ];
    for token in tokens(html) {
        let Token::Tag {
            name, attributes, ..
        } = token
        else {
            continue;
        };
        let own = ALLOWED.iter().find(|(e, _)| *e == name).map(|(_, a)| *a);
        assert!(
            own.is_some() || PLAIN.contains(&name.as_str()),
            "element {name} in {html}"
        );
        for (attribute, value) in attributes {
            assert!(
                matches!(attribute.as_str(), "lang" | "title")
                    || own.is_some_and(|a| a.contains(&attribute.as_str())),
                "attribute {attribute} on {name} in {html}"
            );
            if matches!(attribute.as_str(), "href" | "src") {
                // URL parsers skip leading and trailing C0 controls and spaces.
                let lower = value.trim_matches(|c| c <= ' ').to_ascii_lowercase();
                assert!(
                    ["http://", "https://", "mailto:"]
                        .iter()
                        .any(|s| lower.starts_with(s)),
                    "URL {value} in {html}"
                );
            }
        }
    }
}

#[test]
fn common_feed_markup_takes_the_fast_path_as_ammonia_would_write_it() {
    let base = base();
    let cases = [
        (
            "<p>문단</p><p>둘째 &amp; 셋째 &#54620;</p>",
            "<p>문단</p><p>둘째 &amp; 셋째 &#54620;</p>",
        ),
        (
            "<P>one<br>two<br/><b>bold</b></P>",
            "<p>one<br>two<br><b>bold</b></p>",
        ),
        (
            r#"<img src="https://img.example/it/1.jpg" alt="디지털 &amp; 플랫폼" width="640"><p>KAIST</p>"#,
            r#"<img src="https://img.example/it/1.jpg" alt="디지털 &amp; 플랫폼" width="640"><p>KAIST</p>"#,
        ),
        (
            r#"<p>a <a href="/news/1?x=1&amp;y=2" title="t">link</a> b</p>"#,
            r#"<p>a <a href="https://www.mk.co.kr/news/1?x=1&amp;y=2" title="t" rel="noopener noreferrer">link</a> b</p>"#,
        ),
        (
            r#"<a href='rel/path' target="_blank" rel="nofollow" class="x">x</a><img src="a.jpg" style="border:0"/>"#,
            r#"<a href="https://www.mk.co.kr/news/it/rel/path" rel="noopener noreferrer">x</a><img src="https://www.mk.co.kr/news/it/a.jpg">"#,
        ),
        (r#"<p onclick="steal()">text</p>"#, "<p>text</p>"),
        (
            r#"<img alt='say "hi"' src="//cdn.example/x.png">"#,
            r#"<img alt="say &quot;hi&quot;" src="https://cdn.example/x.png">"#,
        ),
        (
            r#"<a href="mailto:desk@mk.co.kr">제보</a>"#,
            r#"<a href="mailto:desk@mk.co.kr" rel="noopener noreferrer">제보</a>"#,
        ),
        ("plain text, no markup", "plain text, no markup"),
        (
            r#"<p>R&D, AT&T & co</p><a href="/q?a=1&b=2" title="R&D">q</a>"#,
            r#"<p>R&amp;D, AT&amp;T &amp; co</p><a href="https://www.mk.co.kr/q?a=1&amp;b=2" title="R&amp;D" rel="noopener noreferrer">q</a>"#,
        ),
        (
            "<ul><li>a</li><li><em>b</em></li></ul>",
            "<ul><li>a</li><li><em>b</em></li></ul>",
        ),
    ];
    for (input, expected) in cases {
        let fast = clean(input, Some(&base));
        assert_eq!(fast.as_deref(), Some(expected), "{input}");
        // The same document as ammonia's own answer.
        assert_eq!(
            tokens(expected),
            tokens(&ammonia_clean(input, Some(&base))),
            "{input}"
        );
    }
}

#[test]
fn anything_outside_the_subset_is_left_to_ammonia() {
    let base = base();
    for input in [
        "<script>alert(1)</script>",
        "<style>p{}</style>",
        "<iframe src=\"https://e.example\"></iframe>",
        "<table><tr><td>x</td></tr></table>",
        "<!-- comment -->",
        r#"<a href="javascript:alert(1)">x</a>"#,
        r#"<a href="JaVaScRiPt:alert(1)">x</a>"#,
        r#"<a href="java&#115;cript:alert(1)">x</a>"#,
        r#"<img src="data:image/png;base64,AAAA">"#,
        r#"<a href="tel:123">call</a>"#,
        "<img src=x.png>",
        r#"<p title="a" title="b">x</p>"#,
        r#"<p title = "a">x</p>"#,
        r#"<p title="a>b">x</p>"#,
        r#"<p title="a"title="b">x</p>"#,
        "<p/onclick=x>",
        "<p>unclosed",
        "<p><b>crossed</p></b>",
        "</p>",
        "<br></br>",
        "a < b",
        "a > b",
        "&copy2024",
        "&eacute;",
        "&#xZZ;",
        "&#",
        "isn&#x92;t",
        r#"<p title="&not_a_ref">x</p>"#,
        "nul\0byte",
        "<p>para<div>block</div></p>",
        "<p>x<p>y</p></p>",
        "<a href=\"/a\">x<a href=\"/b\">y</a></a>",
        "<ul><li>a<li>b</li></li></ul>",
        "<h1>a<h2>b</h2></h1>",
        "<p:x>ns</p:x>",
        "<pre>\ncode</pre>",
        r#"<p xlink:href="x">ns</p>"#,
    ] {
        assert_eq!(clean(input, Some(&base)), None, "{input}");
    }
    // Without a base, relative URLs are ammonia's to drop.
    assert_eq!(clean(r#"<a href="/x">x</a>"#, None), None);
    assert_eq!(
        clean(r#"<a href="https://e.example/">x</a>"#, None).as_deref(),
        Some(r#"<a href="https://e.example/" rel="noopener noreferrer">x</a>"#)
    );
}

#[test]
fn nesting_past_the_limit_is_left_to_ammonia() {
    let deep = |n: usize| format!("{}x{}", "<span>".repeat(n), "</span>".repeat(n));
    assert!(clean(&deep(MAX_DEPTH), None).is_some());
    assert_eq!(clean(&deep(MAX_DEPTH + 1), None), None);
}

// ---------------------------------------------------------------------------------------------
// Differential: the fast path against ammonia on generated fragments.

/// Text, including what the fast path must refuse (stray `<`, `>`, `&`) or keep as written.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("삼성전자 ".to_owned()),
        Just("R&amp;D ".to_owned()),
        Just("&nbsp;&#54620;&#xAE00;".to_owned()),
        Just("\"quoted\" it's\n".to_owned()),
        Just("\nnewline first".to_owned()),
        Just("a < b".to_owned()),
        Just("x > y".to_owned()),
        Just("AT&T".to_owned()),
        Just("R&D, a & b, &#".to_owned()),
        Just("&copy2024 &notit &eacute; &#x92;".to_owned()),
        Just("&bogus;".to_owned()),
        "[가-힣a-z ]{0,8}",
    ]
}

/// Start tags, with attributes ammonia keeps, drops, or judges.
fn start_tag() -> impl Strategy<Value = (&'static str, String)> {
    let element = prop::sample::select(vec![
        "p",
        "b",
        "i",
        "em",
        "strong",
        "span",
        "div",
        "ul",
        "ol",
        "li",
        "h2",
        "h3",
        "pre",
        "code",
        "blockquote",
        "figure",
        "figcaption",
        "a",
        "table",
        "td",
        "script",
        "font",
    ]);
    let attribute = prop::sample::select(vec![
        "",
        r#" href="/news/1?a=1&amp;b=2""#,
        " href='rel/p'",
        r#" href="https://e.example/A B""#,
        r#" href="javascript:alert(1)""#,
        r#" href="mailto:a@b.c""#,
        r#" href="tel:1""#,
        r#" href="""#,
        r#" href=" /sp ""#,
        r#" href="http://[::1""#,
        r#" target="_blank""#,
        r#" rel="nofollow""#,
        r#" onclick="x()""#,
        r#" style="color:red""#,
        r#" class="c" id="i""#,
        r#" lang="ko""#,
        r#" title="t &amp; &quot;u&quot;""#,
        r#" title="R&D &copy2024""#,
        r#" href="/q?a=1&b=2&amp;c=3""#,
        " title='single \"q\"'",
        r#" hreflang="en""#,
        r#" cite="https://e.example/q""#,
        r#" start="3""#,
        " data-x=\"1\"",
        " href=unquoted",
    ]);
    (element, prop::collection::vec(attribute, 0..3))
        .prop_map(|(element, attributes)| (element, attributes.concat()))
}

/// Void elements with their attributes.
fn void_tag() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "<br>",
        "<br/>",
        "<hr>",
        r#"<hr width="50%">"#,
        r#"<img src="/i.jpg" alt="a &amp; b" width="640">"#,
        r#"<img src="//cdn.example/x.png" height="10" onerror="x()">"#,
        r#"<img src="data:x">"#,
        r#"<img src="https://e.example/i.png" />"#,
        "<!-- c -->",
    ])
    .prop_map(str::to_owned)
}

/// Fragments: mostly well-formed trees of the elements above, with junk mixed in.
fn fragment() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![4 => text(), 1 => void_tag()];
    leaf.prop_recursive(4, 48, 5, |inner| {
        (
            start_tag(),
            prop::collection::vec(inner, 0..5),
            prop::bool::weighted(0.95),
        )
            .prop_map(|((element, attributes), children, closed)| {
                let close = if closed {
                    format!("</{element}>")
                } else {
                    String::new()
                };
                format!("<{element}{attributes}>{}{close}", children.concat())
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]

    /// Whenever the fast path answers, its answer is the document ammonia makes of the input
    /// (same elements, attributes and text, in the same order), and holds nothing ammonia's
    /// defaults would not allow.
    #[test]
    fn the_fast_path_agrees_with_ammonia(
        parts in prop::collection::vec(fragment(), 1..4),
        with_base in prop::bool::weighted(0.9),
    ) {
        let html = parts.concat();
        let base = base();
        let base = with_base.then_some(&base);
        if let Some(fast) = clean(&html, base) {
            prop_assert_eq!(tokens(&fast), tokens(&ammonia_clean(&html, base)), "{}", html);
            assert_only_allowed_markup(&fast);
        }
    }
}

/// The generator above is not vacuous: a good share of its fragments take the fast path.
#[test]
fn generated_fragments_often_take_the_fast_path() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let base = base();
    let strategy = fragment();
    let taken = (0..500)
        .filter(|_| {
            let html = strategy.new_tree(&mut runner).unwrap().current();
            clean(&html, Some(&base)).is_some()
        })
        .count();
    assert!(
        taken >= 100,
        "only {taken} of 500 fragments took the fast path"
    );
}

/// Every summary and content of the shared corpus (real feeds and the test suites of feed
/// parsers) that the fast path takes comes out as ammonia's document. Skipped when the corpus
/// is absent.
#[test]
fn corpus_markup_on_the_fast_path_agrees_with_ammonia() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    if !dir.is_dir() {
        eprintln!("simple: ../shared/corpus not found; skipped");
        return;
    }
    let mut files = Vec::new();
    let mut dirs = vec![dir];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    let base = base();
    let (mut fragments, mut taken) = (0, 0);
    for path in files {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let Ok(decoded) = crate::decode::decode(&bytes, None, None) else {
            continue;
        };
        let options = crate::parse::ParseOptions {
            base_url: None,
            timezone: chrono_tz::UTC,
            max_items: 1_000,
        };
        let Ok(parsed) = crate::parse::parse(&decoded.text, &options) else {
            continue;
        };
        for entry in &parsed.feed.entries {
            let texts = entry.summary.iter().map(|t| t.content.as_str());
            let bodies = entry.content.iter().filter_map(|c| c.body.as_deref());
            for html in texts.chain(bodies) {
                fragments += 1;
                if let Some(fast) = clean(html, Some(&base)) {
                    taken += 1;
                    assert_eq!(
                        tokens(&fast),
                        tokens(&ammonia_clean(html, Some(&base))),
                        "{}: {html}",
                        path.display()
                    );
                    assert_only_allowed_markup(&fast);
                }
            }
        }
    }
    eprintln!("simple: {taken} of {fragments} corpus fragments took the fast path");
    assert!(fragments > 1_000 && taken > 0, "{taken} of {fragments}");
}
