//! Stories, not links, end to end: three local feeds tell one event in their own words (with
//! bylines, tags and copyright lines), and two of them report two different quarters of one
//! company. `sosik poll` then `render`: the output that merges shows the event once, as its
//! chosen copy, naming the other two; the one with `merge = "none"` shows every copy; the
//! quarters stay apart; `items --json` lists the copies; and polling the feeds in another
//! order gives the same items.

use serde_json::Value;

use crate::cli::{sosik, text};
use crate::server::{Response, TestServer};

const ONE: &[(&str, &str, &str)] = &[
    (
        "[속보] 카카오, 판교 데이터센터 2곳 추가 건립…5000억원 투입",
        "https://one.test.kr/news/1001",
        "(서울=연합뉴스) 박지성 기자 = 카카오가 경기 판교에 5000억원을 들여 데이터센터 2곳을 추가로 짓는다고 8일 밝혔다. 신규 센터는 2028년 완공 예정이다.",
    ),
    (
        "네이버, 일본 웹툰 자회사 상장 추진",
        "https://one.test.kr/news/1002",
        "네이버가 일본 웹툰 자회사의 도쿄증시 상장을 추진한다고 밝혔다.",
    ),
];

const TWO: &[(&str, &str, &str)] = &[
    (
        "카카오, 판교에 데이터센터 2곳 추가 건립…5000억원 투자",
        "https://two.test.kr/article/77",
        "[매일경제 김하늘 기자] 카카오는 판교에 5000억원을 투자해 데이터센터 2곳을 추가로 건립한다고 8일 밝혔다. 2028년 완공이 목표다. 무단전재 및 재배포 금지",
    ),
    (
        "카카오, 3분기 영업이익 1500억원…전년비 12% 증가",
        "https://two.test.kr/article/78",
        "카카오는 3분기 연결 기준 영업이익이 1500억원으로 지난해 같은 기간보다 12% 늘었다고 8일 공시했다.",
    ),
];

const THREE: &[(&str, &str, &str)] = &[
    (
        "카카오 판교 데이터센터 2곳 더 짓는다",
        "https://three.test.kr/a/9",
        "카카오가 판교에 데이터센터 2곳을 추가 건립한다. 총 5000억원이 투입되며 완공 시점은 2028년이다. ⓒ 한국경제",
    ),
    (
        "카카오, 4분기 영업이익 1800억원…전년비 15% 증가",
        "https://three.test.kr/a/10",
        "카카오는 4분기 연결 기준 영업이익이 1800억원으로 지난해 같은 기간보다 15% 늘었다고 공시했다.",
    ),
];

fn feed(title: &str, items: &[(&str, &str, &str)]) -> String {
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>{title}</title><link>https://{title}.test.kr/</link><description>d</description>\n"
    );
    for (i, (t, link, summary)) in items.iter().enumerate() {
        xml.push_str(&format!(
            "<item><title>{t}</title><link>{link}</link><description>{summary}</description><pubDate>Mon, 08 Dec 2026 0{i}:00:00 +0900</pubDate></item>\n"
        ));
    }
    xml.push_str("</channel></rss>\n");
    xml
}

async fn publisher() -> TestServer {
    TestServer::start(|req| {
        let body = match req.path.as_str() {
            "/one" => feed("one", ONE),
            "/two" => feed("two", TWO),
            "/three" => feed("three", THREE),
            _ => return Response::status(404),
        };
        Response::ok("application/rss+xml", body)
    })
    .await
}

fn config(dir: &std::path::Path, server: &TestServer) -> std::path::PathBuf {
    let text = format!(
        "[store]\npath = \"{}\"\n[sources.one]\nurl = \"{}\"\n[sources.two]\nurl = \"{}\"\n[sources.three]\nurl = \"{}\"\n[outputs.all]\n[outputs.each]\nmerge = \"none\"\n",
        dir.join("db").display(),
        server.url("/one"),
        server.url("/two"),
        server.url("/three"),
    );
    let path = dir.join("sosik.toml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn json_feed(config: &std::path::Path, name: &str) -> Value {
    let out = sosik(&[
        "--config",
        config.to_str().unwrap(),
        "render",
        name,
        "--format",
        "json",
    ])
    .await;
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// (title, url, the other copies' urls sorted), per item, sorted: what a reader sees, without
/// the guids (a merged story's guid is its first copy's, which depends on the arrival order).
fn seen(feed: &Value) -> Vec<(String, String, Vec<String>)> {
    let mut items: Vec<_> = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let mut copies: Vec<String> = item["_sosik"]["copies"]
                .as_array()
                .map(|c| {
                    c.iter()
                        .map(|c| c["url"].as_str().unwrap().to_owned())
                        .collect()
                })
                .unwrap_or_default();
            copies.sort();
            (
                item["title"].as_str().unwrap().to_owned(),
                item["url"].as_str().unwrap().to_owned(),
                copies,
            )
        })
        .collect();
    items.sort();
    items
}

#[tokio::test]
async fn one_event_from_three_outlets_is_one_item_naming_the_other_two() {
    let server = publisher().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &server);
    let cfg = config.to_str().unwrap();
    for id in ["one", "two", "three"] {
        let out = sosik(&["--config", cfg, "poll", id]).await;
        assert!(out.status.success(), "{out:?}");
    }
    let all = json_feed(&config, "all").await;
    let items = seen(&all);
    assert_eq!(items.len(), 4, "{items:#?}");
    let merged: Vec<_> = items.iter().filter(|i| !i.2.is_empty()).collect();
    assert_eq!(merged.len(), 1, "{items:#?}");
    let (_, url, copies) = merged[0];
    let mut event = vec![url.clone()];
    event.extend(copies.iter().cloned());
    event.sort();
    assert_eq!(
        event,
        [
            "https://one.test.kr/news/1001",
            "https://three.test.kr/a/9",
            "https://two.test.kr/article/77"
        ]
    );
    // Two quarters of one company are two events.
    assert!(
        items
            .iter()
            .any(|i| i.1 == "https://two.test.kr/article/78")
    );
    assert!(items.iter().any(|i| i.1 == "https://three.test.kr/a/10"));
    // Every copy in the output that does not merge.
    assert_eq!(seen(&json_feed(&config, "each").await).len(), 6);

    // items --json names the copies of the merged story.
    let out = sosik(&["--config", cfg, "items", "--output", "all", "--json"]).await;
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{}", text(&out.stdout));
    let with_copies: Vec<&Value> = lines
        .iter()
        .filter(|l| l["copies"].as_array().is_some_and(|c| !c.is_empty()))
        .collect();
    assert_eq!(with_copies.len(), 1);
    assert_eq!(with_copies[0]["copies"].as_array().unwrap().len(), 2);

    // The same feeds polled in the other order into a fresh store: the same items.
    let dir2 = tempfile::tempdir().unwrap();
    let config2 = self::config(dir2.path(), &server);
    for id in ["three", "two", "one"] {
        let out = sosik(&["--config", config2.to_str().unwrap(), "poll", id]).await;
        assert!(out.status.success(), "{out:?}");
    }
    assert_eq!(seen(&json_feed(&config2, "all").await), items);
}
