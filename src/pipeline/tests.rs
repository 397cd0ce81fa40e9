//! The pipeline against a real store: what a failed commit leaves behind.

use super::*;
use crate::publish::fixtures::fixture_with;

fn feed(title: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>매일경제</title><link>https://www.mk.co.kr/</link>
<item><title>{title}</title><link>https://www.mk.co.kr/news/it/1</link>
<description>오픈AI, 삼성에 투자 요청할 듯</description></item>
</channel></rss>"#
    )
}

/// A document whose commit fails must leave the source's state as the last success left
/// it: validators not advanced (else the next poll gets a 304 for stories never stored),
/// consecutive errors counted up, not reset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_leaves_the_source_state_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let doc = dir.path().join("mk.xml");
    std::fs::write(&doc, feed("이재용·올트먼 내일 회동")).unwrap();
    let url = Url::from_file_path(&doc).unwrap();
    let fixture = fixture_with(&format!("[sources.mk]\nurl = \"{url}\"\n"));
    let (config, store) = (&fixture.config, &fixture.store);
    let ingest = Ingest::new(config.clone(), store.clone()).unwrap();
    let source = config.source("mk").unwrap();
    let first = ingest.ingest(source).await;
    assert!(matches!(first.outcome, PollOutcome::Stored { .. }));
    let id = SourceId::new("mk").unwrap();
    let before = store.source_state(&id).unwrap().unwrap();
    assert!(before.last_success.is_some());

    // The story's stored body becomes unreadable and the feed edits the story: judging
    // the edit needs the stored version, so the commit fails.
    store.garble_body(&before.current[0]);
    std::fs::write(&doc, feed("이재용·올트먼 내일 회동 (종합)")).unwrap();
    for failures in 1..=3 {
        let polled = Utc::now();
        let report = ingest.ingest(source).await;
        // A store failure is not the source's: its interval is not doubled (15 min ± 10%).
        let wait = report.next_poll.unwrap() - polled;
        assert!(
            wait <= chrono::Duration::seconds(15 * 66 + 5),
            "failure {failures}: next poll in {wait}"
        );
        assert!(
            matches!(report.outcome, PollOutcome::Failed(IngestError::Store(_))),
            "{:?}",
            report.outcome
        );
        let after = store.source_state(&id).unwrap().unwrap();
        assert_eq!(after.consecutive_errors, failures);
        assert_eq!(after.last_success, before.last_success);
        assert_eq!(after.current, before.current);
        assert_eq!(
            (after.etag, after.last_modified),
            (before.etag.clone(), before.last_modified.clone())
        );
    }
}
