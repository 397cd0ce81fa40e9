//! `sosik import`, `remove` and `export` through the real binary: the config file keeps every
//! line it had, an invalid or refused edit leaves it untouched, and `export` prints what
//! `/sources.opml` serves.

use crate::cli::{sosik, text};
use crate::daemon::{start, wait_for};
use crate::free_port;

const CONFIG: &str = "# 내 구독\n[store]\npath = \"db\"   # the store\n\n[sources.mk-all]\nurl = \"https://www.mk.co.kr/rss/40300001/\"  # 전체뉴스\ntitle = \"매일경제\"\n\n[outputs.all]\nlimit = 20\n";

/// A reader's export: nested folders, a folder typed `rss`, no `version`, an outline without
/// `text`, a feed already configured, one listed twice, and a `file:` URL; in EUC-KR.
const OPML: &str = r#"<?xml version="1.0" encoding="euc-kr"?>
<opml><head><title>구독 목록</title></head><body>
  <outline text="경제" type="rss">
    <outline text="매일경제" xmlUrl="https://www.mk.co.kr/rss/40300001/"/>
    <outline text="한국경제 IT" xmlUrl="https://www.hankyung.com/feed/it"/>
    <outline text="과학">
      <outline xmlUrl="https://rss.etnews.com/Section901.xml"/>
    </outline>
  </outline>
  <outline title="Wire" xmlUrl="https://www.hankyung.com/feed/it"/>
  <outline text="local" xmlUrl="file:///etc/passwd"/>
</body></opml>"#;

fn setup() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sosik.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let opml = dir.path().join("subscriptions.opml");
    let (bytes, _, _) = encoding_rs::EUC_KR.encode(OPML);
    std::fs::write(&opml, &bytes).unwrap();
    (dir, config, opml)
}

#[tokio::test]
async fn import_adds_each_new_feed_with_its_folders_as_tags_and_keeps_every_line() {
    let (_dir, config, opml) = setup();
    let c = config.to_str().unwrap();
    let out = sosik(&[
        "--config",
        c,
        "import",
        opml.to_str().unwrap(),
        "--tag",
        "imported",
    ])
    .await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("added    hankyung-com  https://www.hankyung.com/feed/it"),
        "{stdout}"
    );
    assert!(
        stdout.contains("added    rss-etnews-com  https://rss.etnews.com/Section901.xml"),
        "{stdout}"
    );
    assert!(
        stdout.contains("(already configured as mk-all)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("(already configured as hankyung-com)"),
        "listed twice: {stdout}"
    );
    assert!(
        stdout.contains("file:///etc/passwd  (not an http(s) URL)"),
        "{stdout}"
    );
    assert!(stdout.contains("2 added, 3 skipped"), "{stdout}");

    let edited = std::fs::read_to_string(&config).unwrap();
    // Every original line is still there, in order; the new tables sit after the last source.
    let mut rest = edited.as_str();
    for line in CONFIG.lines() {
        let at = rest
            .find(line)
            .unwrap_or_else(|| panic!("{line:?} lost:\n{edited}"));
        rest = &rest[at + line.len()..];
    }
    assert!(edited.find("[sources.rss-etnews-com]") < edited.find("[outputs.all]"));
    assert!(
        edited.contains("tags = [\"경제\", \"과학\", \"imported\"]"),
        "{edited}"
    );
    assert!(edited.contains("title = \"한국경제 IT\""), "{edited}");

    let check = sosik(&["--config", c, "check"]).await;
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
    assert!(text(&check.stdout).contains("sources (3):"));

    // Importing again adds nothing and leaves the file as it is.
    let again = sosik(&["--config", c, "import", opml.to_str().unwrap()]).await;
    assert!(
        text(&again.stdout).contains("0 added, 5 skipped"),
        "{}",
        text(&again.stdout)
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), edited);

    // Removing what was added gives the file back byte for byte.
    for id in ["hankyung-com", "rss-etnews-com"] {
        let out = sosik(&["--config", c, "remove", id]).await;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    assert_eq!(std::fs::read_to_string(&config).unwrap(), CONFIG);
}

#[tokio::test]
async fn bad_imports_and_removals_say_why_and_change_nothing() {
    let (dir, config, _) = setup();
    let c = config.to_str().unwrap();
    let cases = [
        (
            "empty.opml",
            "<opml version=\"2.0\"><body/></opml>",
            "lists no feeds",
        ),
        (
            "page.html",
            "<html><body>hi</body></html>",
            "is not an OPML document",
        ),
        (
            "broken.opml",
            "<opml><body><outline text=",
            "is not an OPML document",
        ),
    ];
    for (name, body, why) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, body).unwrap();
        let out = sosik(&["--config", c, "import", file.to_str().unwrap()]).await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains(why) && stderr.contains(name),
            "{name}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    let out = sosik(&["--config", c, "remove", "nope"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no source \"nope\""));

    // The last source cannot go (a config needs one): refused, the file as it was.
    let out = sosik(&["--config", c, "remove", "mk-all"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("no sources are configured"),
        "{}",
        text(&out.stderr)
    );

    // A read-only config is not touched.
    let mut permissions = std::fs::metadata(&config).unwrap().permissions();
    permissions.set_readonly(true);
    std::fs::set_permissions(&config, permissions).unwrap();
    let opml = dir.path().join("one.opml");
    std::fs::write(
        &opml,
        "<opml><body><outline xmlUrl=\"https://a.example/rss\"/></body></opml>",
    )
    .unwrap();
    let out = sosik(&["--config", c, "import", opml.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("is read-only"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), CONFIG);
}

#[tokio::test]
async fn export_prints_what_sources_opml_serves() {
    let (dir, config, _) = setup();
    let port = free_port();
    let text_config = CONFIG.replace(
        "path = \"db\"",
        &format!(
            "path = \"{}\"\n[server]\nlisten = \"127.0.0.1:{port}\"",
            dir.path().join("db").display()
        ),
    );
    let text_config = text_config.replace("[sources.mk-all]", "[sources.mk-all]\nenabled = false");
    std::fs::write(&config, text_config).unwrap();
    let exported = sosik(&["--config", config.to_str().unwrap(), "export"]).await;
    assert_eq!(
        exported.status.code(),
        Some(0),
        "{}",
        text(&exported.stderr)
    );
    let exported = text(&exported.stdout);
    assert!(
        exported.contains("xmlUrl=\"https://www.mk.co.kr/rss/40300001/\""),
        "{exported}"
    );

    let mut daemon = start(&config);
    let served = wait_for(port, "/sources.opml", "the OPML", |_| true).await;
    assert_eq!(served, exported);
    crate::daemon::sigterm_and_wait(&mut daemon).await;
}
