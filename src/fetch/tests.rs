//! The fetcher against real HTTP servers on 127.0.0.1 and real files.

use super::*;

#[test]
fn retry_after_reads_seconds_and_dates() {
    let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(
        parse_retry_after("120", now),
        Some(Duration::from_secs(120))
    );
    assert_eq!(
        parse_retry_after("Thu, 01 Jan 2026 00:10:00 GMT", now),
        Some(Duration::from_secs(600))
    );
    assert_eq!(
        parse_retry_after("Wed, 31 Dec 2025 00:00:00 GMT", now),
        Some(Duration::ZERO)
    );
    assert_eq!(parse_retry_after("soon", now), None);
}

#[test]
fn cache_hints_read_max_age_among_other_directives() {
    let mut h = HeaderMap::new();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=1800, must-revalidate"),
    );
    h.insert(
        header::EXPIRES,
        HeaderValue::from_static("Thu, 01 Jan 2026 00:10:00 GMT"),
    );
    let hints = cache_hints(&h);
    assert_eq!(hints.max_age, Some(Duration::from_secs(1800)));
    assert_eq!(
        hints.expires.unwrap().to_rfc3339(),
        "2026-01-01T00:10:00+00:00"
    );
}

#[test]
fn a_429_sentence_says_how_long_the_server_asked_to_wait() {
    let status = |status, reason: &str, retry_after| FetchError::Status {
        status,
        reason: reason.into(),
        retry_after,
    };
    assert_eq!(
        status(429, "Too Many Requests", Some(Duration::from_secs(3600))).to_string(),
        "the server answered 429 Too Many Requests and asked to retry after 1h (Retry-After)"
    );
    // A date-based Retry-After leaves a fraction of a second: not worth a word.
    assert_eq!(
        status(
            503,
            "Service Unavailable",
            Some(Duration::from_millis(599_700))
        )
        .to_string(),
        "the server answered 503 Service Unavailable and asked to retry after 9m 59s (Retry-After)"
    );
    assert_eq!(
        status(500, "Internal Server Error", None).to_string(),
        "the server answered 500 Internal Server Error"
    );
}

/// A loopback server that reads a request head, sends `answer`, and then holds the
/// connection open.
async fn holding_server(answer: &'static [u8]) -> Url {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        // Bounded: the tests here make at most a few connections.
        for _ in 0..4 {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = socket.write_all(answer).await;
            held.push(socket);
        }
    });
    Url::parse(&format!("http://{addr}/feed")).unwrap()
}

fn fetcher(timeout: Duration) -> Fetcher {
    Fetcher::new(FetchSettings {
        timeout,
        max_body_bytes: 1 << 20,
        user_agent: "sosik-test".into(),
    })
    .unwrap()
}

#[tokio::test]
async fn reqwest_timeouts_read_as_the_poll_timeout() {
    let limit = Duration::from_millis(200);
    // Headers, then a body that stalls: reqwest's own timer or ours may fire first.
    let url = holding_server(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n<").await;
    let err = fetcher(limit)
        .fetch(&FetchRequest {
            url: Some(url.clone()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "timed out after 200ms");
    // reqwest's timer alone, as it fired for a trickling server in the hostile test.
    let client = reqwest::Client::builder().timeout(limit).build().unwrap();
    let err = client
        .get(url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    assert_eq!(
        FetchError::from_reqwest(&err, limit).to_string(),
        "timed out after 200ms"
    );
}

#[tokio::test]
async fn an_answer_that_is_not_http_is_named_so() {
    let url = holding_server(b"\x00\x9f\xffGARBAGE garbage\r\n\r\n").await;
    let err = fetcher(Duration::from_secs(5))
        .fetch(&FetchRequest {
            url: Some(url),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::NotHttp(_)), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("the server's answer is not HTTP ("),
        "{err}"
    );
}

#[tokio::test]
async fn files_are_read_whole_up_to_the_body_limit_and_a_missing_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let fetch = |name: &str| {
        let url = Url::from_file_path(dir.path().join(name)).unwrap();
        async move {
            fetcher(Duration::from_secs(5))
                .fetch(&FetchRequest {
                    url: Some(url),
                    ..Default::default()
                })
                .await
        }
    };
    // 1 MiB is the limit: exactly that much is read, one byte more is refused.
    let at_limit: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.path().join("full.xml"), &at_limit).unwrap();
    match fetch("full.xml").await.unwrap() {
        FetchOutcome::Fetched(f) => {
            assert!(f.body == at_limit, "the body differs from the file");
            assert_eq!(f.meta.status, 200);
        }
        other => panic!("{other:?}"),
    }
    std::fs::write(dir.path().join("over.xml"), vec![b' '; (1 << 20) + 1]).unwrap();
    let err = fetch("over.xml").await.unwrap_err();
    assert!(matches!(err, FetchError::TooLarge(_)), "{err:?}");
    let err = fetch("gone.xml").await.unwrap_err();
    assert!(err.to_string().contains("gone.xml"), "{err}");
    assert!(matches!(err, FetchError::File { .. }), "{err:?}");
}
