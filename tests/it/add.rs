//! `sosik add` through the real binary against a loopback server: a feed added as it is, a
//! page's feeds found through `<link rel="alternate">` (and `<base>`) or a common path, several
//! listed for `--pick`, none or an unreachable URL refused with one sentence, a feed already
//! configured refused by its id; the config file keeps every line it had.

use crate::cli::{sosik, text};
use crate::server::{Response, TestServer};
use crate::{rss, write_config};

const HTML: &str = "text/html; charset=utf-8";

fn page(head: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><title>소식 블로그</title>\n{head}\n</head><body><p>글</p></body></html>\n"
    )
}

fn feed(title: &str) -> String {
    rss(title, &[("첫 글", "https://news.test.kr/1")])
}

/// A server answering `routes` (path, content type, body), redirecting `redirects` (path,
/// location) with 301, and 404 to everything else.
async fn serve(routes: Vec<(&'static str, &'static str, String)>) -> TestServer {
    serve_redirecting(routes, vec![]).await
}

async fn serve_redirecting(
    routes: Vec<(&'static str, &'static str, String)>,
    redirects: Vec<(&'static str, &'static str)>,
) -> TestServer {
    TestServer::start(move |req| {
        if let Some((_, to)) = redirects.iter().find(|(path, _)| *path == req.path) {
            return Response::status(301).header("Location", to);
        }
        routes
            .iter()
            .find(|(path, _, _)| *path == req.path)
            .map_or_else(
                || Response::status(404),
                |(_, content_type, body)| Response::ok(content_type, body.clone()),
            )
    })
    .await
}

/// A config with one source, `mine`, at `mine_url`; its path and its text.
fn setup(mine_url: &str) -> (tempfile::TempDir, std::path::PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &[("mine", mine_url)], "# my settings");
    let original = std::fs::read_to_string(&path).unwrap();
    (dir, path, original)
}

async fn add(config: &std::path::Path, args: &[&str]) -> (Option<i32>, String, String) {
    let mut all = vec!["--config", config.to_str().unwrap(), "add"];
    all.extend_from_slice(args);
    let out = sosik(&all).await;
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// Every line of `original` is in `edited`, in order.
fn keeps_every_line(original: &str, edited: &str) {
    let mut rest = edited;
    for line in original.lines() {
        let at = rest
            .find(line)
            .unwrap_or_else(|| panic!("{line:?} lost:\n{edited}"));
        rest = &rest[at + line.len()..];
    }
}

#[tokio::test]
async fn a_feed_url_is_added_as_it_is_with_its_title_tags_and_interval() {
    let server = serve(vec![(
        "/news.xml",
        "application/rss+xml",
        feed("뉴스 전체"),
    )])
    .await;
    let (_dir, config, original) = setup("https://mine.test.kr/rss");
    let url = server.url("/news.xml");
    let (code, stdout, stderr) = add(
        &config,
        &[&url, "--tag", "뉴스", "--tag", "daily", "--interval", "45m"],
    )
    .await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(stdout, format!("added 127-0-0-1 {url}\n"));
    assert_eq!(server.requests().len(), 1, "a feed needs no discovery");

    let edited = std::fs::read_to_string(&config).unwrap();
    keeps_every_line(&original, &edited);
    let added = format!(
        "[sources.127-0-0-1]\nurl = \"{url}\"\ntitle = \"뉴스 전체\"\ntags = [\"뉴스\", \"daily\"]\ninterval = \"45m\"\n"
    );
    assert!(edited.contains(&added), "{edited}");
    assert!(
        edited.find(&added) < edited.find("[outputs.it]"),
        "{edited}"
    );
    let check = sosik(&["--config", config.to_str().unwrap(), "check"]).await;
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
}

#[tokio::test]
async fn a_page_s_relative_link_is_resolved_against_its_base() {
    let head = r#"<base href="/feeds/"><link rel="stylesheet" href="site.css">
<LINK TYPE="application/rss+xml" REL="alternate" HREF='main.xml' title="전체">"#;
    let server = serve(vec![
        ("/blog/", HTML, page(head)),
        ("/feeds/main.xml", "text/xml", feed("블로그")),
    ])
    .await;
    let (_dir, config, original) = setup("https://mine.test.kr/rss");
    let (code, stdout, stderr) = add(
        &config,
        &[
            &server.url("/blog/"),
            "--id",
            "blog",
            "--title",
            "내 블로그",
        ],
    )
    .await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let feed_url = server.url("/feeds/main.xml");
    assert_eq!(stdout, format!("added blog {feed_url}\n"));
    let edited = std::fs::read_to_string(&config).unwrap();
    keeps_every_line(&original, &edited);
    assert!(
        edited.contains(&format!(
            "[sources.blog]\nurl = \"{feed_url}\"\ntitle = \"내 블로그\"\n"
        )),
        "{edited}"
    );
}

#[tokio::test]
async fn several_feeds_are_listed_numbered_until_one_is_picked() {
    let head = r#"<link rel="alternate" type="application/rss+xml" href="/a.xml">
<link rel="alternate" type="application/atom+xml" href="b.xml">
<link rel="alternate" type="application/rss+xml" href="/gone.xml">"#;
    // A common path redirecting to a linked feed is the same feed: listed once. A link that
    // answers 404 is no feed.
    let server = serve_redirecting(
        vec![
            ("/", HTML, page(head)),
            ("/a.xml", "application/rss+xml", feed("가 피드")),
            ("/b.xml", "application/rss+xml", feed("나 피드")),
            ("/index.xml", "application/rss+xml", feed("다 피드")),
        ],
        vec![("/feed", "/a.xml")],
    )
    .await;
    let (_dir, config, original) = setup("https://mine.test.kr/rss");
    let page_url = server.url("/");
    let (code, stdout, stderr) = add(&config, &[&page_url]).await;
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert_eq!(
        stdout,
        format!(
            "1  {}  (가 피드)\n2  {}  (나 피드)\n3  {}  (다 피드)\n",
            server.url("/a.xml"),
            server.url("/b.xml"),
            server.url("/index.xml")
        )
    );
    assert!(
        stderr.contains("has 3 feeds: choose one with --pick N"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), original);

    let (code, stdout, stderr) = add(&config, &[&page_url, "--pick", "2"]).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(
        stdout,
        format!("added 127-0-0-1 {}\n", server.url("/b.xml"))
    );
    let edited = std::fs::read_to_string(&config).unwrap();
    keeps_every_line(&original, &edited);
    assert!(edited.contains("title = \"나 피드\""), "{edited}");

    let (code, _, stderr) = add(&config, &[&page_url, "--pick", "4"]).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("--pick 4"), "{stderr}");
}

#[tokio::test]
async fn a_page_without_links_is_searched_at_the_common_paths() {
    let server = serve(vec![
        ("/", HTML, page("")),
        ("/rss.xml", "text/xml; charset=utf-8", feed("공통 경로")),
    ])
    .await;
    let (_dir, config, original) = setup("https://mine.test.kr/rss");
    let (code, stdout, stderr) = add(&config, &[&server.url("/")]).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(
        stdout,
        format!("added 127-0-0-1 {}\n", server.url("/rss.xml"))
    );
    keeps_every_line(&original, &std::fs::read_to_string(&config).unwrap());
}

#[tokio::test]
async fn a_page_without_feeds_or_an_unreachable_url_is_refused_in_one_sentence() {
    let server = serve(vec![(
        "/",
        HTML,
        page("<link rel=\"icon\" href=\"/i.png\">"),
    )])
    .await;
    let (_dir, config, original) = setup("https://mine.test.kr/rss");
    let url = server.url("/");
    let (code, stdout, stderr) = add(&config, &[&url]).await;
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "error: no feed found at {url} (looked for <link rel=alternate> and /rss, /rss/, \
             /feed, /rss.xml, /feed.xml, /atom.xml, /index.xml)"
        )
    );
    assert!(stdout.is_empty(), "{stdout}");

    server.stop();
    let (code, _, stderr) = add(&config, &[&url]).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.starts_with(&format!("error: cannot fetch {url}: ")),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), original);
}

#[tokio::test]
async fn a_feed_already_configured_is_refused_by_its_id() {
    let head = r#"<link rel="alternate" type="application/rss+xml" href="/news.xml">"#;
    let server = serve(vec![
        ("/", HTML, page(head)),
        ("/news.xml", "application/rss+xml", feed("뉴스")),
    ])
    .await;
    let feed_url = server.url("/news.xml");
    let (_dir, config, original) = setup(&feed_url);
    for target in [feed_url.clone(), server.url("/")] {
        let (code, stdout, stderr) = add(&config, &[&target]).await;
        assert_eq!(code, Some(1), "{target}: {stdout}{stderr}");
        assert_eq!(
            stderr.trim_end(),
            format!("error: {feed_url} is already configured as mine")
        );
    }
    assert_eq!(std::fs::read_to_string(&config).unwrap(), original);
}
