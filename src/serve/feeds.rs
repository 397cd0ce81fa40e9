//! `GET /feeds/NAME.xml|.atom|.json`: a rendered output feed with its validators, or a 304.

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::conditional::{http_date, not_modified};
use super::error::{ServeError, blocking};
use crate::render::Format;

/// Feed readers poll; a minute of caching spares us a burst without delaying news much.
const FEED_CACHE_CONTROL: &str = "public, max-age=60";

/// The feed named by the last path segment, e.g. `it-science.atom`. The name is only ever
/// looked up among the configured outputs: a segment such as `../x.xml` simply names none.
pub(super) async fn feed(
    State(state): State<AppState>,
    file: Result<Path<String>, PathRejection>,
    request: HeaderMap,
) -> Result<Response, ServeError> {
    let Path(file) = file.map_err(|_| ServeError::NotFound)?;
    let (name, extension) = file.rsplit_once('.').ok_or(ServeError::NotFound)?;
    let format = Format::from_extension(extension).ok_or(ServeError::NotFound)?;
    if state.config().output(name).is_none() {
        return Err(ServeError::NotFound);
    }
    // The common case, a cached feed, is answered on the async worker; only a render goes
    // to the blocking pool.
    let rendered = match state.publisher.render_cached(name, format) {
        Some(hit) => hit,
        None => {
            let name = name.to_owned();
            let publisher = state.publisher.clone();
            blocking(move || Ok(publisher.render(&name, format)?)).await?
        }
    };

    let last_modified = http_date(rendered.last_modified);
    let (status, etag) = match not_modified(&request, &rendered.etag, rendered.last_modified) {
        Some(tag) => (StatusCode::NOT_MODIFIED, tag),
        None => (StatusCode::OK, rendered.etag.clone()),
    };
    let mut response = if status == StatusCode::NOT_MODIFIED {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut ok = Response::new(Body::from(rendered.bytes));
        ok.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(rendered.content_type),
        );
        ok
    };
    let headers = response.headers_mut();
    let values = [
        (header::ETAG, etag),
        (header::LAST_MODIFIED, last_modified),
        (header::CACHE_CONTROL, FEED_CACHE_CONTROL.to_owned()),
        (header::VARY, "accept-encoding".to_owned()),
    ];
    for (name, value) in values {
        let value = HeaderValue::try_from(value)
            .map_err(|e| ServeError::Internal(format!("a response header is invalid: {e}")))?;
        headers.insert(name, value);
    }
    Ok(response)
}
