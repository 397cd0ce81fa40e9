//! Fetching a feed's bytes: HTTP(S) through reqwest with rustls, and `file://` URLs.
//!
//! Owns conditional GET (ETag / Last-Modified), redirects (followed by hand, at most five, so
//! a chain of permanent ones can be remembered), the whole-request timeout, and the body cap,
//! counted after decompression while streaming so a gzip bomb never gets buffered. It returns
//! bytes and headers; it never interprets the body (that is `decode` and `parse`).

mod error;

use std::io::Read;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use reqwest::header::{self, HeaderMap, HeaderValue};
use url::Url;

pub use error::FetchError;

/// Most redirects followed for one request.
pub const MAX_REDIRECTS: usize = 5;

/// What a fetch is asked to do: the URL and the validators from the last successful fetch.
#[derive(Debug, Clone, Default)]
pub struct FetchRequest {
    /// Where to fetch from: http, https or file.
    pub url: Option<Url>,
    /// `ETag` from the last 200, sent as `If-None-Match`.
    pub etag: Option<String>,
    /// `Last-Modified` from the last 200, sent as `If-Modified-Since`.
    pub last_modified: Option<String>,
}

/// Publisher hints about how long an answer stays fresh.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheHints {
    /// `Cache-Control: max-age`.
    pub max_age: Option<Duration>,
    /// `Expires`, when it parses.
    pub expires: Option<DateTime<Utc>>,
}

/// What the server said besides the body, for both 200 and 304.
#[derive(Debug, Clone, Default)]
pub struct ResponseMeta {
    /// Final HTTP status (200 or 304); 200 for files.
    pub status: u16,
    /// The URL that answered, after redirects.
    pub final_url: Option<Url>,
    /// Set when every redirect on the way was permanent (301/308): the URL to use from now on.
    pub moved_to: Option<Url>,
    /// `ETag`, if sent.
    pub etag: Option<String>,
    /// `Last-Modified`, if sent.
    pub last_modified: Option<String>,
    /// Freshness hints.
    pub cache: CacheHints,
}

/// A fetched document.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The body, decompressed, at most `max_body_bytes` long.
    pub body: Vec<u8>,
    /// `Content-Type`, if sent.
    pub content_type: Option<String>,
    /// Status, validators, redirects, hints.
    pub meta: ResponseMeta,
}

/// The result of a successful fetch.
#[derive(Debug, Clone)]
pub enum FetchOutcome {
    /// A new body (HTTP 200, or a file).
    Fetched(Fetched),
    /// HTTP 304: what we hold is current.
    NotModified(ResponseMeta),
}

/// Settings for a [`Fetcher`].
#[derive(Debug, Clone)]
pub struct FetchSettings {
    /// Limit on a whole request: connect, redirects, headers and body.
    pub timeout: Duration,
    /// Largest body accepted, after decompression.
    pub max_body_bytes: u64,
    /// The `User-Agent` header.
    pub user_agent: String,
}

/// Fetches feeds. Cheap to clone; one per process shares its connection pool.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    settings: FetchSettings,
}

const ACCEPT: &str = "application/rss+xml, application/atom+xml, application/feed+json, \
                      application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, \
                      application/json;q=0.8, */*;q=0.5";

impl Fetcher {
    /// Builds the HTTP client. Fails only when the TLS backend cannot start.
    pub fn new(settings: FetchSettings) -> Result<Fetcher, FetchError> {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static(ACCEPT));
        let client = reqwest::Client::builder()
            .user_agent(settings.user_agent.clone())
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .timeout(settings.timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| FetchError::Client(error::describe(&e)))?;
        Ok(Fetcher { client, settings })
    }

    /// The settings this fetcher was built with.
    pub fn settings(&self) -> &FetchSettings {
        &self.settings
    }

    /// Fetches `req.url` within the configured timeout.
    pub async fn fetch(&self, req: &FetchRequest) -> Result<FetchOutcome, FetchError> {
        let Some(url) = req.url.as_ref() else {
            return Err(FetchError::BadUrl("no URL given".into()));
        };
        let limit = self.settings.timeout;
        match tokio::time::timeout(limit, self.fetch_inner(url, req)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout(limit)),
        }
    }

    async fn fetch_inner(&self, url: &Url, req: &FetchRequest) -> Result<FetchOutcome, FetchError> {
        match url.scheme() {
            "file" => self.read_file(url).await,
            "http" | "https" => self.fetch_http(url, req).await,
            other => Err(FetchError::BadUrl(format!(
                "scheme {other:?} is not supported"
            ))),
        }
    }

    async fn read_file(&self, url: &Url) -> Result<FetchOutcome, FetchError> {
        let path = url
            .to_file_path()
            .map_err(|_| FetchError::BadUrl(format!("{url} is not a local file path")))?;
        let max = self.settings.max_body_bytes;
        let shown = path.display().to_string();
        // The whole read in one trip to the blocking pool (tokio's `File` makes one per chunk).
        let read = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
            let file = std::fs::File::open(&path)?;
            let size = file.metadata().map_or(0, |m| m.len()).min(max + 1);
            let mut body = Vec::with_capacity(size as usize);
            file.take(max + 1).read_to_end(&mut body)?;
            Ok(body)
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(format!("the read task failed: {e}"))));
        let body = read.map_err(|e| FetchError::File {
            path: shown,
            reason: e.to_string(),
        })?;
        if body.len() as u64 > max {
            return Err(FetchError::TooLarge(max));
        }
        Ok(FetchOutcome::Fetched(Fetched {
            body,
            content_type: None,
            meta: ResponseMeta {
                status: 200,
                final_url: Some(url.clone()),
                ..Default::default()
            },
        }))
    }

    async fn fetch_http(
        &self,
        start: &Url,
        req: &FetchRequest,
    ) -> Result<FetchOutcome, FetchError> {
        let (response, url, moved) = self.follow_redirects(start, req).await?;
        let status = response.status();
        let headers = response.headers();
        let meta = ResponseMeta {
            status: status.as_u16(),
            moved_to: moved.then(|| url.clone()),
            final_url: Some(url),
            etag: header_text(headers, header::ETAG),
            last_modified: header_text(headers, header::LAST_MODIFIED),
            cache: cache_hints(headers),
        };
        if status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(FetchOutcome::NotModified(meta));
        }
        if !status.is_success() {
            let retry_after = headers
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, Utc::now()));
            return Err(FetchError::Status {
                status: status.as_u16(),
                reason: status.canonical_reason().unwrap_or("").to_owned(),
                retry_after,
            });
        }
        let content_type = header_text(headers, header::CONTENT_TYPE);
        Ok(FetchOutcome::Fetched(Fetched {
            body: self.read_body(response).await?,
            content_type,
            meta,
        }))
    }

    /// GETs `start` with the request's validators, following at most [`MAX_REDIRECTS`]
    /// redirects to http(s) URLs: the final response, its URL, and whether every redirect on
    /// the way was permanent (301/308) and there was at least one.
    async fn follow_redirects(
        &self,
        start: &Url,
        req: &FetchRequest,
    ) -> Result<(reqwest::Response, Url, bool), FetchError> {
        let mut url = start.clone();
        let mut all_permanent = true;
        let mut redirects = 0;
        loop {
            let mut builder = self.client.get(url.clone());
            if let Some(etag) = &req.etag {
                builder = builder.header(header::IF_NONE_MATCH, etag);
            }
            if let Some(lm) = &req.last_modified {
                builder = builder.header(header::IF_MODIFIED_SINCE, lm);
            }
            let response = builder
                .send()
                .await
                .map_err(|e| FetchError::from_reqwest(&e, self.settings.timeout))?;
            let status = response.status();
            if !status.is_redirection() || status == reqwest::StatusCode::NOT_MODIFIED {
                return Ok((response, url, redirects > 0 && all_permanent));
            }
            redirects += 1;
            if redirects > MAX_REDIRECTS {
                return Err(FetchError::TooManyRedirects(MAX_REDIRECTS));
            }
            let location = response
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or(FetchError::RedirectWithoutLocation(status.as_u16()))?;
            let next = url
                .join(location.trim())
                .map_err(|_| FetchError::BadRedirect(location.to_owned()))?;
            if !matches!(next.scheme(), "http" | "https") {
                return Err(FetchError::BadRedirect(next.to_string()));
            }
            all_permanent &= matches!(status.as_u16(), 301 | 308);
            url = next;
        }
    }

    /// The body, streamed and counted after decompression: never more than
    /// `max_body_bytes` is buffered.
    async fn read_body(&self, response: reqwest::Response) -> Result<Vec<u8>, FetchError> {
        let max = self.settings.max_body_bytes;
        if response.content_length().is_some_and(|len| len > max)
            && !is_compressed(response.headers())
        {
            return Err(FetchError::TooLarge(max));
        }
        let mut body = Vec::with_capacity(response.content_length().unwrap_or(0).min(max) as usize);
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| FetchError::from_reqwest(&e, self.settings.timeout))?;
            if (body.len() + chunk.len()) as u64 > max {
                return Err(FetchError::TooLarge(max));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

fn is_compressed(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_ENCODING).is_some()
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    let value = headers.get(name)?.to_str().ok()?.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

fn cache_hints(headers: &HeaderMap) -> CacheHints {
    let max_age = headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|d| {
            let (name, value) = d.trim().split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("max-age")
                .then_some(value)?;
            value.trim().trim_matches('"').parse::<u64>().ok()
        })
        .next()
        .map(Duration::from_secs);
    let expires = headers
        .get(header::EXPIRES)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc2822(v.trim()).ok())
        .map(|d| d.with_timezone(&Utc));
    CacheHints { max_age, expires }
}

/// Reads `Retry-After` in both forms: delay seconds, or an HTTP date (relative to `now`).
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((when - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests;
