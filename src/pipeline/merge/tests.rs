//! Merging through a real sled store: the same event from three sources is one item whatever
//! order its copies arrive in; one source's two stories, and copies farther apart than the
//! window, never merge; forgetting members keeps the rest of the cluster and its guid.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Merger;
use crate::model::{Identity, SourceId, Story, StorySource};
use crate::publish::fixtures::{commit, day, fixture};
use crate::publish::{Publisher, Told};

/// One event told by three outlets (with their bylines and copyright lines), and the links
/// they published it under.
const EVENT: [(&str, &str, &str, &str); 3] = [
    (
        "mk-all",
        "https://www.mk.co.kr/news/it/1001",
        "[속보] 카카오, 판교 데이터센터 2곳 추가 건립…5000억원 투입",
        "(서울=연합뉴스) 박지성 기자 = 카카오가 경기 판교에 5000억원을 들여 데이터센터 2곳을 추가로 짓는다고 8일 밝혔다. 신규 센터는 2028년 완공 예정이다.",
    ),
    (
        "mk-it",
        "https://it.example.kr/article/77",
        "카카오, 판교에 데이터센터 2곳 추가 건립…5000억원 투자",
        "[매일경제 김하늘 기자] 카카오는 판교에 5000억원을 투자해 데이터센터 2곳을 추가로 건립한다고 8일 밝혔다. 2028년 완공이 목표다. 무단전재 및 재배포 금지",
    ),
    (
        "hani",
        "https://www.hani.co.kr/arti/9",
        "카카오 판교 데이터센터 2곳 더 짓는다",
        "카카오가 판교에 데이터센터 2곳을 추가 건립한다. 총 5000억원이 투입되며 완공 시점은 2028년이다. ⓒ 한겨레",
    ),
];

fn copy(source: &str, link: &str, title: &str, summary: &str, seen: DateTime<Utc>) -> Story {
    let mut s = Story {
        identity: Identity::Link(link.into()),
        link: Some(link.into()),
        title: title.into(),
        summary: Some(format!("<p>{summary}</p>")),
        content: None,
        authors: vec![],
        categories: vec![],
        published: seen,
        updated: seen,
        first_seen: seen,
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

/// [`EVENT`]'s copies in order, first seen on day 8, `hours` apart.
fn event_every(hours: i64) -> Vec<Story> {
    (EVENT.iter().enumerate())
        .map(|(n, (source, link, title, summary))| {
            let seen = day(8) + chrono::Duration::hours(n as i64 * hours);
            copy(source, link, title, summary, seen)
        })
        .collect()
}

/// Commits each story as its source's poll, then merges it, as the pipeline does.
fn arrive(store: &crate::store::Store, merger: &Merger, stories: &[Story]) {
    for story in stories {
        let source = story.sources[0].id.to_string();
        commit(
            store,
            &source,
            std::slice::from_ref(story),
            story.first_seen,
        );
        merger.merge(store, std::slice::from_ref(story)).unwrap();
    }
}

/// What a reader sees of the output `everything`: (title, link, the copies' links), per item.
fn seen(publisher: &Publisher) -> Vec<(String, Option<String>, Vec<Option<String>>)> {
    let told: Vec<Told> = publisher
        .told("everything")
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut out: Vec<_> = told
        .into_iter()
        .map(|t| {
            let mut copies: Vec<_> = t.copies.into_iter().map(|c| c.link).collect();
            copies.sort();
            (t.story.title, t.story.link, copies)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn one_event_in_any_arrival_order_is_one_item_told_the_same_way() {
    let orders = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    let mut told = Vec::new();
    for order in orders {
        let fx = fixture();
        let merger = Merger::empty(Duration::from_secs(48 * 3600));
        let stories: Vec<Story> = (order.iter().enumerate())
            .map(|(n, &i)| {
                let (source, link, title, summary) = EVENT[i];
                copy(
                    source,
                    link,
                    title,
                    summary,
                    day(8) + chrono::Duration::hours(n as i64),
                )
            })
            .collect();
        arrive(&fx.store, &merger, &stories);
        let publisher = Publisher::new(fx.config.clone(), fx.store.clone());
        let items = seen(&publisher);
        assert_eq!(items.len(), 1, "order {order:?}: {items:#?}");
        assert_eq!(items[0].2.len(), 2, "the other two copies are named");
        // The guid is the first copy's, for ever.
        let first = &stories[0];
        let guid: Vec<String> = (publisher.told("everything").unwrap())
            .map(|t| t.unwrap().story.identity.republished_guid().0)
            .collect();
        assert_eq!(guid, [first.identity.republished_guid().0]);
        told.push(items);
    }
    // First-seen times differ with the order; the rule picks the longest text all the same.
    assert!(told.windows(2).all(|w| w[0] == w[1]), "{told:#?}");
    assert_eq!(told[0][0].0, EVENT[0].2.to_owned());
}

#[test]
fn two_stories_of_one_source_never_merge() {
    let fx = fixture();
    let merger = Merger::empty(Duration::from_secs(48 * 3600));
    let (_, _, title, summary) = EVENT[0];
    let a = copy(
        "mk-all",
        "https://www.mk.co.kr/news/it/1",
        title,
        summary,
        day(8),
    );
    let b = copy(
        "mk-all",
        "https://www.mk.co.kr/news/it/2",
        title,
        summary,
        day(8) + chrono::Duration::hours(1),
    );
    arrive(&fx.store, &merger, &[a, b]);
    let publisher = Publisher::new(fx.config.clone(), fx.store.clone());
    assert_eq!(seen(&publisher).len(), 2);
}

#[test]
fn copies_farther_apart_than_the_window_never_merge() {
    let fx = fixture();
    let merger = Merger::empty(Duration::from_secs(48 * 3600));
    let (s0, l0, t0, m0) = EVENT[0];
    let (s1, l1, t1, m1) = EVENT[1];
    let stories = [
        copy(s0, l0, t0, m0, day(8)),
        copy(s1, l1, t1, m1, day(10) + chrono::Duration::hours(1)),
    ];
    arrive(&fx.store, &merger, &stories);
    let publisher = Publisher::new(fx.config.clone(), fx.store.clone());
    assert_eq!(seen(&publisher).len(), 2);
}

#[test]
fn forgotten_members_leave_the_cluster_and_the_rest_keep_its_guid() {
    let fx = fixture();
    let merger = Merger::empty(Duration::from_secs(48 * 3600));
    let stories = event_every(10);
    arrive(&fx.store, &merger, &stories);
    let founder = stories[0].identity.republished_guid().0;
    // Retention takes the founder (first seen earliest) only.
    let cutoff = day(8) + chrono::Duration::hours(5);
    let protect = Default::default();
    let gone = fx
        .store
        .prune_older_than(
            cutoff + chrono::Duration::days(1),
            Duration::from_secs(86_400),
            &protect,
        )
        .unwrap();
    assert_eq!(gone, 1);
    let publisher = Publisher::new(fx.config.clone(), fx.store.clone());
    let told: Vec<Told> = (publisher.told("everything").unwrap())
        .map(Result::unwrap)
        .collect();
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].copies.len(), 1);
    assert_eq!(told[0].story.identity.republished_guid().0, founder);
    let left = fx.store.cluster_of(&stories[2].key()).unwrap().unwrap();
    assert_eq!(left.members, [stories[1].key(), stories[2].key()]);
}

#[test]
fn after_a_restart_the_window_is_rebuilt_from_the_store() {
    let fx = fixture();
    let stories = event_every(1);
    let before = Merger::empty(Duration::from_secs(48 * 3600));
    arrive(&fx.store, &before, &stories[..1]);
    drop(before);
    // A new process: the window's stories come back from the store; older ones do not.
    let now = day(8) + chrono::Duration::hours(2);
    let after = Merger::rebuild(&fx.store, Duration::from_secs(48 * 3600), now).unwrap();
    assert_eq!(after.len(), 1);
    let later = Merger::rebuild(&fx.store, Duration::from_secs(48 * 3600), day(11)).unwrap();
    assert!(later.is_empty());
    arrive(&fx.store, &after, &stories[1..]);
    let publisher = Publisher::new(fx.config.clone(), fx.store.clone());
    assert_eq!(seen(&publisher).len(), 1);
}
