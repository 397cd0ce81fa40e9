//! The reading commands and `poll` print the same bytes and exit with the same code whether
//! they open the store themselves or ask the daemon holding it. Without the socket they would
//! fail while the daemon runs ("another sosik process is using it", exit 2), so every success
//! here went through `control.sock`.

use std::os::unix::fs::PermissionsExt;

use super::{Run, Setup, assert_same, masked, stop};
use crate::rss;
use crate::server::{Response, TestServer};

/// Commands that read the store and change nothing, with the exit code each must have.
const READS: &[(&[&str], i32)] = &[
    (&["sources"], 0),
    (&["sources", "--json"], 0),
    (&["items"], 0),
    (&["items", "--json", "--limit", "2"], 0),
    (&["items", "--output", "picked"], 0),
    (&["items", "--source", "good"], 0),
    (&["render", "picked", "--format", "rss"], 0),
    (&["render", "picked", "--format", "atom"], 0),
    (&["render", "all", "--format", "json"], 0),
    (&["export"], 0),
    (&["render", "nosuch"], 2),
    (&["render", "nosuch", "--format", "atom"], 2),
    (&["poll", "nosuch"], 2),
    (&["items", "--output", "nosuch"], 2),
];

/// Polls, with the exit code each must have: `bad` answers 500.
const POLLS: &[(&[&str], i32)] = &[
    (&["poll", "good"], 0),
    (&["poll"], 1),
    (&["poll", "bad"], 1),
    (&["poll", "good", "other"], 0),
];

async fn setup() -> (TestServer, Setup) {
    let server = TestServer::start(|req| match req.path.as_str() {
        "/good" => Response::ok(
            "application/rss+xml",
            rss(
                "좋은 뉴스",
                &[
                    ("과학 소식 하나", "https://news.test.kr/science/1"),
                    ("경제 소식", "https://news.test.kr/economy/2"),
                    ("과학 소식 둘", "https://news.test.kr/science/3"),
                ],
            ),
        ),
        "/other" => Response::ok(
            "application/rss+xml",
            rss("다른 뉴스", &[("다른 소식", "https://other.test.kr/1")]),
        ),
        _ => Response::status(500),
    })
    .await;
    let setup = Setup::new(
        &[
            ("good", &server.url("/good")),
            ("other", &server.url("/other")),
            ("bad", &server.url("/bad")),
        ],
        "[outputs.picked]\ntitle = \"과학\"\nfilter = 'title:\"과학\"'\n\n[outputs.all]\nlimit = 100\n",
    );
    (server, setup)
}

#[tokio::test]
async fn reading_commands_and_poll_print_the_same_through_the_daemon() {
    let (server, setup) = setup().await;
    // One poll with no daemon: every source's next poll is an hour away when the daemon starts.
    let first = setup.sosik(&["poll"]).await;
    assert_eq!(first.code, Some(1), "`bad` answers 500:\n{first}");
    assert!(first.stdout.contains("4 new"), "{first}");

    let mut offline = Vec::new();
    for (args, code) in READS {
        let run = setup.sosik(args).await;
        assert_eq!(
            run.code,
            Some(*code),
            "`sosik {}` offline:\n{run}",
            args.join(" ")
        );
        offline.push(run);
    }
    let offline_of = |args: &[&str]| &offline[READS.iter().position(|(a, _)| *a == args).unwrap()];
    let rss = offline_of(&["render", "picked", "--format", "rss"]);
    assert!(
        rss.stdout.contains("과학 소식 둘") && !rss.stdout.contains("경제 소식"),
        "the output's filter applies:\n{rss}"
    );
    let nosuch = offline_of(&["poll", "nosuch"]);
    assert!(
        nosuch.stderr.starts_with("error: no source \"nosuch\""),
        "{nosuch}"
    );

    let daemon = setup.start().await;
    let mode = std::fs::metadata(setup.socket())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "control.sock's mode is {:o}",
        mode & 0o777
    );
    let before = server.requests().len();
    for ((args, _), offline) in READS.iter().zip(&offline) {
        let online = setup.sosik(args).await;
        assert_same(&args.join(" "), offline, &online);
    }
    assert_eq!(
        server.requests().len(),
        before,
        "reading commands fetch nothing, and the daemon polled nothing on its own"
    );

    // Each poll changes the state the next one starts from, so the polls through the daemon
    // come first and then the same polls with no daemon: each is again a poll of unchanged
    // feeds from the same state, the TIME column aside.
    let mut online = Vec::new();
    for (args, code) in POLLS {
        let run = setup.sosik(args).await;
        assert_eq!(
            run.code,
            Some(*code),
            "`sosik {}` through the daemon:\n{run}\ndaemon log:\n{}",
            args.join(" "),
            daemon.log()
        );
        online.push(masked(&run));
    }
    assert!(
        server.requests().len() > before,
        "`poll` through the daemon fetched"
    );
    stop(daemon).await;
    for ((args, code), online) in POLLS.iter().zip(&online) {
        let offline = masked(&setup.sosik(args).await);
        assert_eq!(
            offline.code,
            Some(*code),
            "`sosik {}` offline:\n{offline}",
            args.join(" ")
        );
        assert_same(&args.join(" "), &offline, online);
    }
    let table: &Run = &online[1];
    assert!(
        table.stdout.contains("3 sources: 2 ok, 1 failed; 0 new"),
        "{table}"
    );
}
