//! Test fixtures for the publish side (publish and serve tests): a config file and a real sled
//! store in a temporary directory, and stories committed the way the ingest side commits them.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};

use crate::config::Config;
use crate::model::{Identity, SourceId, SourceState, Story, StorySource};
use crate::store::{Store, StoreOptions};

/// Sources and outputs most tests use. `it-science` is the motivating output of issue 3.
pub(crate) const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:8080"

[sources.mk-all]
url = "https://www.mk.co.kr/rss/40300001/"
title = "매일경제 전체뉴스"
tags = ["mk", "economy"]

[sources.mk-it]
url = "https://www.mk.co.kr/rss/50300009/"

[sources.hani]
url = "https://www.hani.co.kr/rss/"
title = "한겨레"
tags = ["hani"]

[outputs.it-science]
title = "IT·과학"
description = "매일경제 IT·과학 기사"
sources = ["mk-all", "mk-it"]
filter = 'category:"IT·과학" OR link:"/news/it/"'

[outputs.everything]
title = "Everything <&> \"quoted\""

[outputs.newest-three]
title = "Newest three"
limit = 3
"#;

/// A config and an open store, living as long as the temporary directory.
pub(crate) struct Fixture {
    pub(crate) config: Arc<Config>,
    pub(crate) store: Store,
    _dir: tempfile::TempDir,
}

/// A fixture with [`CONFIG`].
pub(crate) fn fixture() -> Fixture {
    fixture_with(CONFIG)
}

/// A fixture with this config text (the store path is set here).
pub(crate) fn fixture_with(config: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let file = dir.path().join("sosik.toml");
    let text = format!("[store]\npath = {:?}\n{config}", db.display().to_string());
    std::fs::write(&file, text).unwrap();
    let config = Config::load_with_env(&file, Some(Default::default())).unwrap();
    let store = Store::open(&StoreOptions {
        path: db,
        cache_capacity: 8 << 20,
    })
    .unwrap();
    Fixture {
        config: Arc::new(config),
        store,
        _dir: dir,
    }
}

/// Noon (UTC) on a day of November 2026.
pub(crate) fn day(d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, d, 12, 0, 0).unwrap()
}

/// A story of `source` at `https://www.mk.co.kr/news/{path}`, published (and first seen) on
/// `d`, with these categories.
pub(crate) fn story(source: &str, path: &str, title: &str, d: u32, categories: &[&str]) -> Story {
    let link = format!("https://www.mk.co.kr/news/{path}");
    let mut s = Story {
        identity: Identity::Link(link.clone()),
        link: Some(link),
        title: title.into(),
        summary: Some(format!("<p>{title}</p>")),
        content: None,
        authors: vec![],
        categories: categories.iter().map(|c| c.to_string()).collect(),
        published: day(d),
        updated: day(d),
        first_seen: day(d),
        lang: Some("ko".into()),
        guid: None,
        sources: vec![],
    };
    s.sources = vec![StorySource {
        id: SourceId::new(source).unwrap(),
        fingerprint: s.fingerprint(),
    }];
    s
}

/// Commits one poll of `source` carrying `stories`, judged by `dedupe::decide` at `now`.
pub(crate) fn commit(store: &Store, source: &str, stories: &[Story], now: DateTime<Utc>) {
    commit_titled(store, source, stories, now, None);
}

/// Like [`commit`], recording the feed's own title in the source state.
pub(crate) fn commit_titled(
    store: &Store,
    source: &str,
    stories: &[Story],
    now: DateTime<Utc>,
    title: Option<&str>,
) {
    let id = SourceId::new(source).unwrap();
    let state = SourceState {
        current: stories.iter().map(Story::key).collect(),
        title: title.map(str::to_owned),
        ..Default::default()
    };
    store.commit_one(id, stories.to_vec(), state, now).unwrap();
}
