//! Selection, caching and determinism, over real sled stores in temporary directories.

use super::fixtures::{commit, commit_titled, day, fixture, fixture_with, story};
use super::*;
use crate::model::Story;

/// Item titles of a JSON Feed document, in document order.
fn titles(rendered: &Rendered) -> Vec<String> {
    let feed: serde_json::Value = serde_json::from_slice(&rendered.bytes).unwrap();
    feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["title"].as_str().unwrap().to_owned())
        .collect()
}

fn json(publisher: &Publisher, name: &str) -> Rendered {
    publisher.render(name, Format::Json).unwrap()
}

#[test]
fn the_it_science_filter_keeps_it_categories_and_it_links() {
    let fx = fixture();
    commit(
        &fx.store,
        "mk-all",
        &[
            story("mk-all", "economy/1", "금리 동결", 1, &["경제"]),
            // The publisher's middle dot differs from the one in the filter.
            story("mk-all", "economy/2", "반도체 수출", 2, &["ITㆍ과학"]),
            story("mk-all", "it/3", "새 스마트폰", 3, &[]),
            story("mk-all", "society/4", "IT 기업 채용", 4, &["사회"]),
        ],
        day(4),
    );
    let publisher = Publisher::new(fx.config.clone(), fx.store.clone());
    assert_eq!(
        titles(&json(&publisher, "it-science")),
        ["새 스마트폰", "반도체 수출"]
    );
}

#[test]
fn only_the_outputs_sources_are_shown_and_a_shared_story_once() {
    let fx = fixture();
    commit(
        &fx.store,
        "hani",
        &[
            story("hani", "it/1", "한겨레 IT", 3, &["IT·과학"]),
            story("hani", "it/2", "둘 다 실은 기사", 2, &["IT·과학"]),
        ],
        day(3),
    );
    commit(
        &fx.store,
        "mk-it",
        &[story("mk-it", "it/2", "둘 다 실은 기사", 2, &["IT·과학"])],
        day(3),
    );
    commit(
        &fx.store,
        "mk-all",
        &[story("mk-all", "it/2", "둘 다 실은 기사", 2, &["IT·과학"])],
        day(3),
    );
    let publisher = Publisher::new(fx.config.clone(), fx.store.clone());
    // hani is not among it-science's sources; the shared story is listed by both mk sources.
    assert_eq!(titles(&json(&publisher, "it-science")), ["둘 다 실은 기사"]);
    // `everything` defaults to every source.
    assert_eq!(
        titles(&json(&publisher, "everything")),
        ["한겨레 IT", "둘 다 실은 기사"]
    );
}

#[test]
fn the_limit_keeps_the_newest_in_newest_first_order_across_sources() {
    let fx = fixture();
    commit(
        &fx.store,
        "mk-all",
        &[
            story("mk-all", "a/1", "day 1", 1, &[]),
            story("mk-all", "a/4", "day 4", 4, &[]),
            story("mk-all", "a/2", "day 2", 2, &[]),
        ],
        day(5),
    );
    commit(
        &fx.store,
        "hani",
        &[
            story("hani", "b/5", "day 5", 5, &[]),
            story("hani", "b/3", "day 3", 3, &[]),
        ],
        day(5),
    );
    let publisher = Publisher::new(fx.config.clone(), fx.store.clone());
    let rendered = json(&publisher, "newest-three");
    assert_eq!(titles(&rendered), ["day 5", "day 4", "day 3"]);
    assert_eq!(rendered.items, 3);
    assert_eq!(
        titles(&json(&publisher, "everything")),
        ["day 5", "day 4", "day 3", "day 2", "day 1"]
    );
}

#[test]
fn the_scan_budget_bounds_the_walk() {
    let fx = fixture();
    let mut stories: Vec<Story> = (1..=6)
        .map(|d| story("mk-all", &format!("economy/{d}"), &format!("d{d}"), d, &[]))
        .collect();
    stories[0].categories = vec!["IT·과학".into()];
    commit(&fx.store, "mk-all", &stories, day(6));
    let publisher = Publisher::new(fx.config.clone(), fx.store.clone());
    let output = fx.config.output("it-science").unwrap();
    // The only match is the oldest of six: five examined stories do not reach it.
    let short = publisher.render_now(output, Format::Json, 5).unwrap();
    assert_eq!(short.items, 0);
    let enough = publisher.render_now(output, Format::Json, 6).unwrap();
    assert_eq!(titles(&enough), ["d1"]);
    assert_eq!(scan_budget(50), 20_000);
    assert_eq!(scan_budget(1_000), 200_000);
    assert_eq!(scan_budget(usize::MAX), usize::MAX);
}

#[test]
fn the_same_store_gives_the_same_bytes_and_etag() {
    let fx = fixture();
    commit(
        &fx.store,
        "mk-all",
        &[
            story("mk-all", "it/1", "하나", 1, &["IT·과학"]),
            story("mk-all", "it/2", "둘", 1, &["IT·과학"]),
        ],
        day(1),
    );
    for format in Format::ALL {
        // Fresh publishers: nothing comes from a cache.
        let a = Publisher::new(fx.config.clone(), fx.store.clone());
        let b = Publisher::new(fx.config.clone(), fx.store.clone());
        let (a, b) = (
            a.render("it-science", format).unwrap(),
            b.render("it-science", format).unwrap(),
        );
        assert_eq!(a.bytes, b.bytes, "{format}");
        assert_eq!(a.etag, b.etag, "{format}");
        assert_eq!(a.content_type, format.content_type());
        assert!(a.etag.len() == 34 && a.etag.starts_with('"') && a.etag.ends_with('"'));
    }
}

/// A clock that always reads `time`.
fn stopped_at(time: DateTime<Utc>) -> Clock {
    Arc::new(move || time)
}

/// A clock that reads what `now` holds (seconds since the epoch), for tests that move it.
fn settable(now: &Arc<std::sync::atomic::AtomicI64>) -> Clock {
    let now = now.clone();
    Arc::new(move || DateTime::from_timestamp(now.load(Ordering::SeqCst), 0).unwrap())
}

/// The Atom feed's own `updated` element.
fn atom_updated(rendered: &Rendered) -> DateTime<Utc> {
    let feed = atom_syndication::Feed::read_from(&rendered.bytes[..]).unwrap();
    feed.updated().with_timezone(&Utc)
}

#[test]
fn an_empty_feed_is_stable_and_dated_by_the_store_not_1970() {
    // Issue 12, item 4: empty outputs said Thu, 1 Jan 1970.
    let fx = fixture();
    for format in Format::ALL {
        // Fresh publishers, later and later: nothing comes from a cache or the clock.
        let a = Publisher::with_clock(fx.config.clone(), fx.store.clone(), stopped_at(day(20)));
        let b = Publisher::with_clock(fx.config.clone(), fx.store.clone(), stopped_at(day(25)));
        let (a, b) = (
            a.render("everything", format).unwrap(),
            b.render("everything", format).unwrap(),
        );
        assert_eq!((a.bytes.clone(), a.items), (b.bytes, 0), "{format}");
        let text = String::from_utf8(a.bytes.to_vec()).unwrap();
        assert!(!text.contains("1970"), "{format}: {text}");
        // Last-Modified: when these bytes were first served, kept by the second publisher.
        assert_eq!((a.last_modified, b.last_modified), (day(20), day(20)));
    }
    let atom = Publisher::new(fx.config.clone(), fx.store.clone())
        .render("everything", Format::Atom)
        .unwrap();
    assert_eq!(atom_updated(&atom), fx.store.created());
    let rss = Publisher::new(fx.config.clone(), fx.store.clone())
        .render("everything", Format::Rss)
        .unwrap();
    let text = String::from_utf8(rss.bytes.to_vec()).unwrap();
    assert!(!text.contains("lastBuildDate"), "{text}");
}

#[test]
fn the_feed_is_dated_by_the_latest_update_or_first_sighting_shown() {
    let fx = fixture();
    let mut late = story("mk-all", "a/1", "늦게 본 기사", 1, &[]);
    late.first_seen = day(9);
    let mut edited = story("mk-all", "a/2", "고친 기사", 2, &[]);
    edited.updated = day(7);
    commit(&fx.store, "mk-all", &[late, edited], day(9));
    let publisher = Publisher::new(fx.config.clone(), fx.store.clone());
    assert_eq!(
        atom_updated(&publisher.render("everything", Format::Atom).unwrap()),
        day(9)
    );
    // Without the late sighting, the edit's time is the latest.
    let fx = fixture();
    let mut edited = story("mk-all", "a/2", "고친 기사", 2, &[]);
    edited.updated = day(7);
    commit(&fx.store, "mk-all", &[edited], day(7));
    let publisher = Publisher::new(fx.config.clone(), fx.store.clone());
    assert_eq!(
        atom_updated(&publisher.render("everything", Format::Atom).unwrap()),
        day(7)
    );
}

#[test]
fn last_modified_moves_when_and_only_when_the_bytes_do() {
    // Issue 12, item 3: a new filter changed the bytes but not Last-Modified.
    let fx = fixture();
    commit(
        &fx.store,
        "mk-all",
        &[story("mk-all", "it/1", "처음", 1, &["IT·과학"])],
        day(1),
    );
    let now = Arc::new(std::sync::atomic::AtomicI64::new(day(10).timestamp()));
    let publisher = Publisher::with_clock(fx.config.clone(), fx.store.clone(), settable(&now));
    let first = json(&publisher, "everything");
    // The clock's time when first served, not the story's (day 1).
    assert_eq!(first.last_modified, day(10));
    let it_science = json(&publisher, "it-science");
    assert_eq!(it_science.last_modified, day(10));

    // A poll that changes nothing this output shows: same bytes, same Last-Modified.
    now.store(day(11).timestamp(), Ordering::SeqCst);
    commit(
        &fx.store,
        "hani",
        &[story("hani", "x/1", "다른 출력", 2, &[])],
        day(11),
    );
    publisher.invalidate();
    let same = json(&publisher, "it-science");
    assert_eq!(
        publisher.renders(),
        3,
        "rendered again after the invalidation"
    );
    assert_eq!(same.etag, it_science.etag);
    assert_eq!(
        same.last_modified,
        day(10),
        "hani is not among it-science's sources"
    );
    let everything = json(&publisher, "everything");
    assert_ne!(
        everything.etag, first.etag,
        "hani is among everything's sources"
    );
    assert_eq!(everything.last_modified, day(11));

    // A restart (a fresh publisher on the same store) with nothing changed keeps it.
    now.store(day(12).timestamp(), Ordering::SeqCst);
    let restarted = Publisher::with_clock(fx.config.clone(), fx.store.clone(), settable(&now));
    let again = json(&restarted, "everything");
    assert_eq!(
        (again.etag.clone(), again.last_modified),
        (everything.etag.clone(), day(11))
    );

    // A restart with another title: new bytes, and a Last-Modified later than the last one
    // even when the clock reads earlier (HTTP dates have 1 s resolution).
    let mut config = (*fx.config).clone();
    let output = config
        .outputs
        .iter_mut()
        .find(|o| o.name == "everything")
        .unwrap();
    output.title = "Retitled".into();
    now.store(day(5).timestamp(), Ordering::SeqCst);
    let retitled = Publisher::with_clock(Arc::new(config), fx.store.clone(), settable(&now));
    let changed = json(&retitled, "everything");
    assert_ne!(changed.etag, again.etag);
    assert_eq!(
        changed.last_modified,
        day(11) + chrono::Duration::seconds(1)
    );
    // Formats are recorded apart: RSS was never served, so it is dated now.
    let rss = retitled.render("everything", Format::Rss).unwrap();
    assert_eq!(rss.last_modified, day(5));
}

#[test]
fn a_second_request_comes_from_the_cache_until_invalidated() {
    let fx = fixture();
    commit(
        &fx.store,
        "mk-all",
        &[story("mk-all", "it/1", "처음", 1, &[])],
        day(1),
    );
    let publisher = Publisher::new(fx.config.clone(), fx.store.clone());
    let first = json(&publisher, "it-science");
    let again = publisher
        .clone()
        .render("it-science", Format::Json)
        .unwrap();
    assert_eq!(publisher.renders(), 1);
    assert_eq!(first.bytes.as_ptr(), again.bytes.as_ptr(), "shared bytes");

    // A commit alone is not seen: the cache answers until the ingest side invalidates.
    commit(
        &fx.store,
        "mk-all",
        &[story("mk-all", "it/2", "새로", 2, &[])],
        day(2),
    );
    assert_eq!(titles(&json(&publisher, "it-science")), ["처음"]);
    publisher.invalidate();
    let fresh = json(&publisher, "it-science");
    assert_eq!(titles(&fresh), ["새로", "처음"]);
    assert_ne!(fresh.etag, first.etag);
    assert_eq!(publisher.renders(), 2);
    // Formats are cached separately.
    publisher.render("it-science", Format::Rss).unwrap();
    assert_eq!(publisher.renders(), 3);
}

/// Issue 19: while the store cannot be read (between re-opens after a storage fault), a feed
/// rendered before is still served as it was; one never rendered is an error.
#[test]
fn a_store_that_cannot_be_read_serves_the_feed_as_last_rendered() {
    let fx = fixture();
    commit(
        &fx.store,
        "mk-all",
        &[story("mk-all", "it/1", "처음", 1, &[])],
        day(1),
    );
    let publisher = Publisher::new(fx.config.clone(), fx.store.clone());
    let before = json(&publisher, "it-science");
    publisher.invalidate();
    fx.store.lose_handles();
    let during = json(&publisher, "it-science");
    assert_eq!(during.etag, before.etag);
    assert_eq!(titles(&during), ["처음"]);
    assert!(publisher.render("it-science", Format::Rss).is_err());
}

#[test]
fn concurrent_misses_after_an_invalidation_render_once() {
    let fx = fixture();
    let stories: Vec<Story> = (1..=20)
        .map(|d| story("mk-all", &format!("it/{d}"), &format!("기사 {d}"), d, &[]))
        .collect();
    commit(&fx.store, "mk-all", &stories, day(20));
    let publisher = Publisher::new(fx.config.clone(), fx.store.clone());
    publisher.invalidate();
    let start = std::sync::Barrier::new(8);
    let etags: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    start.wait();
                    json(&publisher, "everything").etag
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    assert_eq!(publisher.renders(), 1);
    assert!(etags.iter().all(|e| e == &etags[0]));
}

#[test]
fn story_counts_follow_the_generation() {
    let fx = fixture();
    let publisher = Publisher::new(fx.config.clone(), fx.store.clone());
    assert_eq!(publisher.story_count(), 0);
    commit(
        &fx.store,
        "mk-all",
        &[story("mk-all", "a/1", "a", 1, &[])],
        day(1),
    );
    assert_eq!(publisher.story_count(), 0, "cached until invalidated");
    publisher.invalidate();
    assert_eq!(publisher.story_count(), 1);
}

#[test]
fn sources_are_described_by_config_title_then_feed_title_then_id() {
    let fx = fixture_with(&format!(
        "{}\n[sources.bare]\nurl = \"https://example.kr/feed\"\n",
        super::fixtures::CONFIG
    ));
    commit_titled(
        &fx.store,
        "mk-it",
        &[story("mk-it", "it/1", "폰", 1, &[])],
        day(1),
        Some("MK IT 피드"),
    );
    let publisher = Publisher::new(fx.config.clone(), fx.store.clone());
    let info = publisher.source_info().unwrap();
    let title = |id: &str| info[&SourceId::new(id).unwrap()].title.clone();
    assert_eq!(title("mk-all"), "매일경제 전체뉴스");
    assert_eq!(title("mk-it"), "MK IT 피드");
    assert_eq!(title("bare"), "bare");
    assert_eq!(
        info[&SourceId::new("hani").unwrap()].url.as_deref(),
        Some("https://www.hani.co.kr/rss/")
    );
    let rss = publisher.render("it-science", Format::Rss).unwrap();
    let text = String::from_utf8(rss.bytes.to_vec()).unwrap();
    assert!(
        text.contains(r#"<source url="https://www.mk.co.kr/rss/50300009/">MK IT 피드</source>"#),
        "{text}"
    );
}

#[test]
fn an_unknown_output_is_an_error_naming_it() {
    let fx = fixture();
    let publisher = Publisher::new(fx.config.clone(), fx.store.clone());
    let err = publisher.render("nope", Format::Rss).unwrap_err();
    assert!(matches!(&err, PublishError::UnknownOutput(n) if n == "nope"));
    assert_eq!(err.to_string(), "no output is named \"nope\"");
}

#[test]
fn only_http_urls_are_published_and_without_credentials() {
    // Issue 12, item 10: `file:` sources leaked local paths into published feeds.
    let cases = [
        (
            "https://www.mk.co.kr/rss/40300001/",
            Some("https://www.mk.co.kr/rss/40300001/"),
        ),
        (
            "http://user:secret@feeds.test.kr/a?b=1",
            Some("http://feeds.test.kr/a?b=1"),
        ),
        ("file:///home/someone/feeds/a.xml", None),
    ];
    for (url, expected) in cases {
        let url = url::Url::parse(url).unwrap();
        assert_eq!(published_url(&url).as_deref(), expected, "{url}");
    }
    // A real file: the config refuses a `file:` source whose file is missing.
    let local = tempfile::NamedTempFile::new().unwrap();
    let local_url = url::Url::from_file_path(local.path()).unwrap();
    let fx = fixture_with(&format!(
        "{}\n[sources.local]\nurl = \"{local_url}\"\ntitle = \"로컬\"\n",
        super::fixtures::CONFIG
    ));
    commit(
        &fx.store,
        "local",
        &[story("local", "it/1", "로컬 기사", 1, &[])],
        day(1),
    );
    let publisher = Publisher::new(fx.config.clone(), fx.store.clone());
    assert_eq!(
        publisher.source_info().unwrap()[&SourceId::new("local").unwrap()].url,
        None
    );
    for format in Format::ALL {
        let rendered = publisher.render("everything", format).unwrap();
        let text = String::from_utf8(rendered.bytes.to_vec()).unwrap();
        assert!(text.contains("로컬 기사"), "{format}: {text}");
        assert!(
            !text.contains("file:") && !text.contains("/home/"),
            "{format}: {text}"
        );
    }
}
