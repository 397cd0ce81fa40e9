//! What a new user gets wrong, through the real binary: every config mistake is named with its
//! key, line or variable and column; each error is said once; the commands' output reads well
//! (aligned tables, times with their zone) and ends quietly when a pipe closes.

use std::path::Path;
use std::process::Stdio;

use tokio::io::AsyncBufReadExt;

use crate::cli::{sosik, text};

const SOURCE: &str = "[sources.a]\nurl = \"https://news.test.kr/rss\"\ntags = [\"tech\"]\n";

/// `sosik check` on `body` written to a fresh file: (exit code, stderr with the path as `F`).
async fn check(body: &str, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sosik.toml");
    std::fs::write(&path, body).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_sosik"))
        .args(["--config", path.to_str().unwrap(), "check"])
        .env_remove("SOSIK_CONFIG")
        .envs(env.iter().copied())
        .output()
        .await
        .unwrap();
    let stderr = text(&out.stderr).replace(path.to_str().unwrap(), "F");
    (out.status.code(), stderr)
}

#[tokio::test]
async fn check_refuses_each_silent_mistake_naming_key_line_and_column() {
    let cases: &[(String, &str)] = &[
        (
            format!("{SOURCE}[outputs.o]\nfilter = 'categroy:IT'\n"),
            "error: F:5: outputs.o.filter: col 1: unknown field \"categroy\" (did you mean \"category\"?)",
        ),
        (
            format!("{SOURCE}[outputs.o]\nfilter = 'x OR source:ghost'\n"),
            "error: F:5: outputs.o.filter: col 13: source:ghost can never match",
        ),
        (
            format!("{SOURCE}[outputs.o]\nfilter = 'tag:nope'\n"),
            "error: F:5: outputs.o.filter: col 5: tag:nope can never match",
        ),
        (
            format!("[log]\nlevel = \"verbose\"\n{SOURCE}"),
            "error: F:2: log.level: \"verbose\" has \"verbose\", which is not a level",
        ),
        (
            "[sources.a]\nurl = \"file:missing.xml\"\n".to_owned(),
            "error: F:2: sources.a.url: ",
        ),
        (
            "[store]\npath = \"db\"\n".to_owned(),
            "error: F: sources: no sources are configured",
        ),
    ];
    for (body, expected) in cases {
        let (code, stderr) = check(body, &[]).await;
        assert_eq!(code, Some(2), "{body}: {stderr}");
        assert!(stderr.starts_with(expected), "{body}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    let (code, stderr) = check("[sources.a]\nurl = \"file:missing.xml\"\n", &[]).await;
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("missing.xml does not exist or is not a file"),
        "{stderr}"
    );
}

#[tokio::test]
async fn check_warns_about_what_is_legal_but_not_meant() {
    let body = format!(
        "[server]\nlisten = \"0.0.0.0:9000\"\n{SOURCE}[outputs.o]\nfilter = '삼성 or 애플'\n"
    );
    let (code, stderr) = check(&body, &[]).await;
    assert_eq!(code, Some(0), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines[0].starts_with("warning: F:"), "{stderr}");
    assert!(
        lines[0].contains(
            "server.base_url: is not set, so feeds link to themselves as http://0.0.0.0:9000"
        ),
        "{stderr}"
    );
    assert!(
        lines[1].starts_with(
            "warning: F:7: outputs.o.filter: col 4: \"or\" is searched for as a word; write OR"
        ),
        "{stderr}"
    );
    // The environment override the issue saw: the warning still comes, naming the key.
    let (code, stderr) = check(SOURCE, &[("SOSIK__SERVER__LISTEN", "0.0.0.0:9000")]).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("server.base_url: is not set"), "{stderr}");
}

#[tokio::test]
async fn check_names_every_unknown_key_in_the_files_order_every_time() {
    let body =
        format!("[store]\nurl = \"postgres://x\"\nlease = \"60s\"\nbackend = \"pg\"\n{SOURCE}");
    let (code, first) = check(&body, &[]).await;
    assert_eq!(code, Some(2));
    let keys: Vec<&str> = first
        .lines()
        .map(|l| l.split(": ").nth(2).unwrap_or(l))
        .collect();
    assert_eq!(
        keys,
        ["store.url", "store.lease", "store.backend"],
        "{first}"
    );
    for _ in 0..5 {
        assert_eq!(check(&body, &[]).await.1, first);
    }
}

#[tokio::test]
async fn an_environment_typo_is_blamed_on_the_variable() {
    let (code, stderr) = check(SOURCE, &[("SOSIK__POLL__TIMEOUTT", "5s")]).await;
    assert_eq!(code, Some(2));
    assert!(
        stderr.starts_with(
            "error: environment variable SOSIK__POLL__TIMEOUTT: poll.timeoutt: unknown key (did you mean \"timeout\"?)"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("F:"), "the file is not to blame: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

/// Each error is one sentence, saying each thing once.
#[tokio::test]
async fn errors_say_each_thing_once() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("page.html");
    std::fs::write(&page, "<html><body>not a feed</body></html>").unwrap();
    let missing = dir.path().join("nothing.xml");
    let type_error = dir.path().join("lim.toml");
    std::fs::write(
        &type_error,
        format!("[poll]\nconcurrency = \"x\"\n{SOURCE}"),
    )
    .unwrap();
    let cases = [
        (
            vec!["inspect", page.to_str().unwrap()],
            "got an HTML page, not a feed",
        ),
        (vec!["inspect", missing.to_str().unwrap()], "nothing.xml"),
        (
            vec!["--config", type_error.to_str().unwrap(), "check"],
            "lim.toml",
        ),
    ];
    for (args, once) in cases {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_sosik"))
            .args(&args)
            .current_dir(dir.path())
            .env_remove("SOSIK_CONFIG")
            .output()
            .await
            .unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.matches(once).count(), 1, "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    }
}

#[tokio::test]
async fn a_locked_store_is_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("feed.xml");
    std::fs::write(
        &feed,
        crate::rss("t", &[("하나", "https://news.test.kr/1")]),
    )
    .unwrap();
    let url = format!("file://{}", feed.display());
    let config = crate::write_config(dir.path(), &[("a", &url)], "");
    // Hold the store open in this process, as a running daemon would.
    let _held = sosik::store::Store::open(&sosik::store::StoreOptions {
        path: dir.path().join("db"),
        cache_capacity: 1 << 20,
    })
    .unwrap();
    let out = sosik(&["--config", config.to_str().unwrap(), "items"]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr.matches("another sosik process").count(),
        1,
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("cannot open the store").count(),
        1,
        "{stderr}"
    );
}

/// `sosik ARGS` on a machine whose zone is `tz`.
async fn sosik_in_zone(args: &[&str], tz: &str) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_sosik"))
        .args(args)
        .env_remove("SOSIK_CONFIG")
        .env("TZ", tz)
        .output()
        .await
        .unwrap()
}

/// A feed of `n` items with long titles, written to `dir/feed.xml`; a config polling it.
fn big_feed_config(dir: &Path, n: usize) -> std::path::PathBuf {
    let items: Vec<(String, String)> = (0..n)
        .map(|i| {
            (
                format!("{i}번째 기사: {}", "반도체 수출이 늘었다 ".repeat(8)),
                format!("https://news.test.kr/it/{i}"),
            )
        })
        .collect();
    let feed = dir.join("feed.xml");
    std::fs::write(&feed, crate::rss_of("big", &items)).unwrap();
    let url = format!("file://{}", feed.display());
    crate::write_config(dir, &[("big", &url)], "")
}

#[tokio::test]
async fn items_into_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let config = big_feed_config(dir.path(), 400);
    let config = config.to_str().unwrap();
    let poll = sosik(&["--config", config, "poll"]).await;
    assert_eq!(poll.status.code(), Some(0), "{}", text(&poll.stderr));
    // `sosik items --json | head -2`: read two lines, then close the pipe.
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sosik"))
        .args(["--config", config, "items", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    for _ in 0..2 {
        assert!(lines.next_line().await.unwrap().is_some());
    }
    drop(lines);
    let out = child.wait_with_output().await.unwrap();
    let stderr = text(&out.stderr);
    assert!(stderr.is_empty(), "{stderr}");
    assert_eq!(out.status.code(), Some(0));
}

#[tokio::test]
async fn tables_align_and_times_carry_their_zone() {
    let dir = tempfile::tempdir().unwrap();
    let config = big_feed_config(dir.path(), 3);
    let broken = dir.path().join("broken.xml");
    std::fs::write(&broken, "<html>no</html>").unwrap();
    let text_config = std::fs::read_to_string(&config).unwrap().replace(
        "[outputs.it]",
        &format!(
            "[sources.a-longer-source-id]\nurl = \"file://{}\"\n\n[outputs.it]",
            broken.display()
        ),
    );
    std::fs::write(&config, text_config).unwrap();
    let config = config.to_str().unwrap();
    sosik(&["--config", config, "poll"]).await;

    let out = sosik(&["--config", config, "sources"]).await;
    let table = text(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    for column in ["LAST FETCH", "STATUS", "ERRORS"] {
        let at = lines[0].find(column).unwrap();
        for row in &lines[1..] {
            let before: String = row.chars().take(lines[0][..at].chars().count()).collect();
            let after = &row[before.len()..];
            assert!(
                before.ends_with("  ") && !after.starts_with(' '),
                "{column} is not aligned:\n{table}"
            );
        }
    }

    let items = sosik_in_zone(&["--config", config, "items", "--limit", "1"], "Asia/Seoul").await;
    let line = text(&items.stdout);
    // The sample's dates are 0N:00 +0900: shown in the zone TZ names, with its offset.
    assert!(line.starts_with("2026-11-26 0"), "{line}");
    assert!(line[..30].contains(" +09:00  ["), "{line}");

    let inspect = sosik_in_zone(&["--config", config, "inspect", "--source", "big"], "UTC").await;
    let shown = text(&inspect.stdout);
    assert_eq!(inspect.status.code(), Some(0), "{}", text(&inspect.stderr));
    // The source's zone (Asia/Seoul in write_config), not the machine's.
    assert!(shown.contains(" +09:00  "), "{shown}");
}

#[tokio::test]
async fn inspect_reads_offsetless_dates_in_the_sources_zone() {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("kst.xml");
    std::fs::write(
        &feed,
        "<rss version=\"2.0\"><channel><title>t</title><item><title>a</title>\
         <link>https://news.test.kr/1</link><pubDate>2025-02-03 09:00:00</pubDate></item>\
         </channel></rss>",
    )
    .unwrap();
    let url = format!("file://{}", feed.display());
    let config = crate::write_config(dir.path(), &[("kst", &url)], "");
    let config = config.to_str().unwrap();
    let plain = first_published(&["inspect", feed.to_str().unwrap(), "--json"]).await;
    assert_eq!(plain, "2025-02-03T09:00:00Z");
    let as_source =
        first_published(&["--config", config, "inspect", "--source", "kst", "--json"]).await;
    assert_eq!(as_source, "2025-02-03T00:00:00Z");
}

/// `published` of the first item `sosik ARGS` (an `inspect --json`) prints.
async fn first_published(args: &[&str]) -> String {
    let out = sosik(args).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["items"][0]["published"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn listen_takes_a_host_name() {
    let (code, stderr) = check(
        &format!("[server]\nlisten = \"localhost:8080\"\n{SOURCE}"),
        &[],
    )
    .await;
    assert_eq!(code, Some(0), "{stderr}");
}

#[tokio::test]
async fn help_speaks_of_exit_codes_the_store_lock_and_signals() {
    let out = sosik(&["--help"]).await;
    let help = text(&out.stdout);
    for needle in [
        "Exit codes:",
        "One process opens the store",
        "SIGHUP",
        "SIGTERM",
    ] {
        assert!(help.contains(needle), "{needle}: {help}");
    }
}

/// The daemon refuses what `check` refuses, with the same sentence, before it opens anything.
#[tokio::test]
async fn run_refuses_a_bad_config_as_check_does() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sosik.toml");
    std::fs::write(
        &path,
        format!(
            "[store]\npath = \"{}\"\n{SOURCE}[outputs.o]\nfilter = 'categroy:IT'\n",
            dir.path().join("db").display()
        ),
    )
    .unwrap();
    let run = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        sosik(&["--config", path.to_str().unwrap(), "run"]),
    )
    .await
    .expect("run exits at once on a bad config");
    let check = sosik(&["--config", path.to_str().unwrap(), "check"]).await;
    assert_eq!(run.status.code(), Some(2));
    assert_eq!(text(&run.stderr), text(&check.stderr));
    assert!(text(&run.stderr).contains("col 1: unknown field \"categroy\""));
    assert!(!dir.path().join("db").exists(), "nothing was opened");
}
