//! Selection, caching and determinism, over real sled stores in temporary directories.

use super::fixtures::{commit, commit_titled, day, fixture, fixture_with, story};
use super::*;

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

#[test]
fn an_empty_feed_is_stable_and_dated_at_the_constant() {
    let (one, two) = (fixture(), fixture());
    let a = Publisher::new(one.config.clone(), one.store.clone());
    let b = Publisher::new(two.config.clone(), two.store.clone());
    let (a, b) = (
        a.render("everything", Format::Atom).unwrap(),
        b.render("everything", Format::Atom).unwrap(),
    );
    assert_eq!(a.bytes, b.bytes);
    assert_eq!((a.items, a.last_modified), (0, EMPTY_FEED_UPDATED));
    let text = String::from_utf8(a.bytes.to_vec()).unwrap();
    assert!(text.contains("1970-01-01T00:00:00"), "{text}");
}

#[test]
fn last_modified_is_the_latest_update_or_first_sighting_shown() {
    let fx = fixture();
    let mut late = story("mk-all", "a/1", "늦게 본 기사", 1, &[]);
    late.first_seen = day(9);
    let mut edited = story("mk-all", "a/2", "고친 기사", 2, &[]);
    edited.updated = day(7);
    commit(&fx.store, "mk-all", &[late, edited], day(9));
    let publisher = Publisher::new(fx.config.clone(), fx.store.clone());
    assert_eq!(json(&publisher, "everything").last_modified, day(9));
    // Without the late sighting, the edit's time is the latest.
    let fx = fixture();
    let mut edited = story("mk-all", "a/2", "고친 기사", 2, &[]);
    edited.updated = day(7);
    commit(&fx.store, "mk-all", &[edited], day(7));
    let publisher = Publisher::new(fx.config.clone(), fx.store.clone());
    assert_eq!(json(&publisher, "everything").last_modified, day(7));
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
        info[&SourceId::new("hani").unwrap()].url,
        "https://www.hani.co.kr/rss/"
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
