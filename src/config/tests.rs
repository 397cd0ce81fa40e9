//! Table tests of loading and validation, and the shipped configs.

use super::*;

fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sosik.toml");
    std::fs::write(&file, text).unwrap();
    (dir, file)
}

const SOURCE: &str = "[sources.a]\nurl = \"https://a.kr/rss\"\ntags = [\"tech\"]\n";

fn load(text: &str) -> Config {
    let (_dir, file) = write(text);
    Config::load_with_env(&file, Some(Default::default())).unwrap()
}

/// Every problem of `text` (with `env`), shown without the temporary file's path.
fn problems(text: &str, env: &[(&str, &str)]) -> Vec<String> {
    let (_dir, file) = write(text);
    let env = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let err = Config::load_with_env(&file, Some(env)).expect_err(text);
    let shown = file.display().to_string();
    err.problems
        .iter()
        .map(|p| p.to_string().replace(&shown, "F"))
        .collect()
}

#[test]
fn the_store_cache_is_small_unless_set() {
    assert_eq!(load(SOURCE).store.cache_capacity, 4 * 1024 * 1024);
    let set = load(&format!("[store]\ncache_capacity = 67108864\n{SOURCE}"));
    assert_eq!(set.store.cache_capacity, 64 * 1024 * 1024);
}

#[test]
fn every_shipped_config_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut loaded = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let config = Config::load_with_env(&path, Some(Default::default()))
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(config.warnings.is_empty(), "{:?}", config.warnings);
            assert!(!config.sources.is_empty());
            loaded += 1;
        }
    }
    assert!(loaded >= 2, "config/ holds sosik.toml and demo.toml");
}

#[test]
fn bad_values_name_their_key_and_line() {
    let cases: &[(&str, &str)] = &[
        (
            "[poll]\ntimeout = \"soon\"\n",
            "F:2: poll.timeout: \"soon\" is not a duration",
        ),
        (
            "[poll]\nconcurrency = \"many\"\n",
            "F:2: poll.concurrency: expected",
        ),
        (
            "[log]\nlevel = \"verbose\"\n",
            "F:2: log.level: \"verbose\" has \"verbose\", which is not a level",
        ),
        (
            "[log]\nlevel = \"sosik=loud\"\n",
            "F:2: log.level: \"sosik=loud\" has \"sosik=loud\", whose level is unknown",
        ),
        (
            "[server]\nlisten = \"nowhere\"\n",
            "F:2: server.listen: \"nowhere\" is not an address",
        ),
        (
            "[sources.a]\nurl = \"file:missing.xml\"\n",
            "F:2: sources.a.url: ",
        ),
        (
            "[sources.a]\ntitle = \"x\"\n",
            "F:1: sources.a.url: is required but missing",
        ),
        (
            "[store]\npath = \"d\"\n",
            "F: sources: no sources are configured",
        ),
        (
            "[outputs.o]\nfilter = 'categroy:IT'\n",
            "F:5: outputs.o.filter: col 1: unknown field \"categroy\" (did you mean \"category\"?)",
        ),
        (
            "[outputs.o]\nfilter = 'x source:ghost'\n",
            "F:5: outputs.o.filter: col 10: source:ghost can never match",
        ),
        (
            "[outputs.o]\nfilter = 'tag:Nope OR tag:TECH'\n",
            "F:5: outputs.o.filter: col 5: tag:Nope can never match",
        ),
    ];
    for (body, expected) in cases {
        // The line numbers above count the source table placed after the case's own lines,
        // except for cases that are about sources.
        let text = if body.contains("[sources.") || body.contains("[store]") {
            (*body).to_owned()
        } else {
            format!("{body}{SOURCE}")
        };
        let text = if body.starts_with("[outputs") {
            format!("{SOURCE}{body}")
        } else {
            text
        };
        let found = problems(&text, &[]);
        assert!(
            found.iter().any(|p| p.starts_with(expected)),
            "{body}: expected {expected:?}, got {found:#?}"
        );
    }
}

#[test]
fn a_run_names_every_problem_not_just_the_first() {
    let found = problems(
        &format!(
            "[poll]\ntimeout = \"x\"\n[log]\nformat = \"xml\"\n{SOURCE}[outputs.o]\nlimit = 0\n"
        ),
        &[],
    );
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found[0].contains("poll.timeout"));
    assert!(found[1].contains("log.format"));
    assert!(found[2].contains("outputs.o.limit"));
}

#[test]
fn unknown_keys_are_all_named_in_order_every_time() {
    let text = format!("[store]\nurl = \"x\"\nlease = \"60s\"\nbackend = \"pg\"\n{SOURCE}");
    let first = problems(&text, &[]);
    for _ in 0..5 {
        assert_eq!(problems(&text, &[]), first);
    }
    let keys: Vec<&str> = first
        .iter()
        .map(|p| p.split(": ").nth(1).unwrap())
        .collect();
    assert_eq!(keys, ["store.url", "store.lease", "store.backend"]);
}

#[test]
fn environment_problems_name_the_variable() {
    let typo = problems(SOURCE, &[("SOSIK__POLL__TIMEOUTT", "5s")]);
    assert_eq!(typo.len(), 1);
    assert!(
        typo[0]
            .starts_with("environment variable SOSIK__POLL__TIMEOUTT: poll.timeoutt: unknown key"),
        "{typo:?}"
    );
    let bad = problems(SOURCE, &[("SOSIK__POLL__TIMEOUT", "soon")]);
    assert!(
        bad[0].starts_with("environment variable SOSIK__POLL__TIMEOUT: poll.timeout: \"soon\""),
        "{bad:?}"
    );
}

#[test]
fn warnings_load_but_are_reported() {
    let config = load(&format!(
        "[server]\nlisten = \"0.0.0.0:9000\"\n{SOURCE}[outputs.o]\nfilter = '삼성 or 애플'\n"
    ));
    let shown: Vec<String> = config.warnings.iter().map(Problem::to_string).collect();
    assert_eq!(shown.len(), 2, "{shown:#?}");
    assert!(shown[0].contains(
        "server.base_url: is not set, so feeds link to themselves as http://0.0.0.0:9000"
    ));
    assert!(shown[1].contains(":7: outputs.o.filter: col 4: \"or\" is searched for as a word"));
    let set = load(&format!(
        "[server]\nlisten = \"0.0.0.0:9000\"\nbase_url = \"https://news.example\"\n{SOURCE}"
    ));
    assert!(set.warnings.is_empty());
}

#[test]
fn listen_accepts_host_names() {
    let config = load(&format!("[server]\nlisten = \"localhost:8081\"\n{SOURCE}"));
    assert!(config.server.listen.ip().is_loopback());
    assert_eq!(config.server.listen.port(), 8081);
    assert_eq!(config.server.base_url, "http://localhost:8081");
}

#[test]
fn merging_is_on_by_default_and_named_when_misspelled() {
    let config = load(
        "[sources.a]\nurl = \"http://127.0.0.1:1/a\"\n[outputs.all]\n[outputs.each]\nmerge = \"none\"\n",
    );
    assert_eq!(config.store.merge_window, Duration::from_secs(48 * 3600));
    assert_eq!(config.output("all").unwrap().merge, Merge::Story);
    assert_eq!(config.output("each").unwrap().merge, Merge::None);
    let found = problems(
        "[store]\nmerge_window = \"soon\"\n[sources.a]\nurl = \"http://127.0.0.1:1/a\"\n[outputs.all]\nmerge = \"stories\"\n",
        &[],
    );
    assert!(
        found.iter().any(|p| p.contains("store.merge_window")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p.contains("outputs.all.merge") && p.contains("\"stories\"")),
        "{found:?}"
    );
}

#[test]
fn a_source_priority_defaults_to_zero_and_is_checked() {
    assert_eq!(load(SOURCE).sources[0].priority, 0);
    let set = load(&format!("{SOURCE}priority = -3\n"));
    assert_eq!(set.sources[0].priority, -3);
    assert_eq!(set.priorities().of("a"), -3);
    let env = load_env(SOURCE, &[("SOSIK__SOURCES__A__PRIORITY", "7")]);
    assert_eq!(env.sources[0].priority, 7);
    let shown = problems(&format!("{SOURCE}priority = 5000000\n"), &[]);
    assert!(
        shown
            .iter()
            .any(|p| p.contains("sources.a.priority") && p.contains("out of range")),
        "{shown:?}"
    );
    let shown = problems(&format!("{SOURCE}priority = \"high\"\n"), &[]);
    assert!(shown.iter().any(|p| p.contains("priority")), "{shown:?}");
}

fn load_env(text: &str, env: &[(&str, &str)]) -> Config {
    let (_dir, file) = write(text);
    let env = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::load_with_env(&file, Some(env)).unwrap()
}
