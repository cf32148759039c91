//! Reading the request body: only for methods that carry one, only JSON, and never more than the limit.
//!
//! The endpoint reads the body after the auth gate (see [`crate::function`]), so an unauthenticated client
//! cannot make the server read a large body.

use bytes::{Bytes, BytesMut};
use http::{header, HeaderMap, Method};
use http_body_util::BodyExt;

use crate::error::PikkuError;
use crate::middleware::RequestBody;

/// Whether requests of `method` carry a body the endpoint reads (`GET`, `HEAD`, `DELETE` and `OPTIONS` do not).
pub(crate) fn method_has_body(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::DELETE | Method::OPTIONS)
}

/// `application/json` or any `application/*+json` (RFC 6839), whatever the parameters.
fn is_json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json")
            || subtype.len() > 5 && subtype[subtype.len() - 5..].eq_ignore_ascii_case("+json"))
}

/// Reads a JSON body of at most `limit` bytes. A declared length over the limit is refused before a
/// byte is read; a body that streams past it is refused as soon as it does.
pub(crate) async fn read_json_body(
    body: RequestBody,
    headers: &HeaderMap,
    limit: usize,
) -> Result<Option<Bytes>, PikkuError> {
    let declared_len =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared_len == Some(0) {
        return Ok(None);
    }
    if declared_len.is_some_and(|len| len > limit as u64) {
        return Err(PikkuError::payload_too_large(limit));
    }
    let has_body = declared_len.is_some() || headers.contains_key(header::TRANSFER_ENCODING);
    let json = is_json_content_type(headers);
    if has_body && !json {
        return Err(PikkuError::unsupported_media_type());
    }
    let bytes = match body {
        RequestBody::Buffered(bytes) if bytes.len() > limit => return Err(PikkuError::payload_too_large(limit)),
        RequestBody::Buffered(bytes) => bytes,
        RequestBody::Incoming(incoming) => collect_limited(incoming, limit).await?,
    };
    if bytes.is_empty() {
        return Ok(None);
    }
    if !json {
        return Err(PikkuError::unsupported_media_type());
    }
    Ok(Some(bytes))
}

/// Reads a body of at most `limit` bytes, refusing as soon as it streams past the limit. A body that
/// arrives in one chunk (the usual case) is kept as it came, without a copy. (Written out rather than
/// `Limited::collect`, whose state is twice the size and which copies even a single chunk.)
async fn collect_limited(mut body: hyper::body::Incoming, limit: usize) -> Result<Bytes, PikkuError> {
    let mut single: Option<Bytes> = None;
    let mut joined = BytesMut::new();
    let mut len = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| PikkuError::bad_request(format!("could not read the request body: {e}")))?;
        let Ok(data) = frame.into_data() else { continue };
        len += data.len();
        if len > limit {
            return Err(PikkuError::payload_too_large(limit));
        }
        match single.take() {
            None if joined.is_empty() => single = Some(data),
            first => {
                if let Some(first) = first {
                    joined.extend_from_slice(&first);
                }
                joined.extend_from_slice(&data);
            }
        }
    }
    Ok(single.unwrap_or_else(|| joined.freeze()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn json_content_types_are_recognised() {
        assert!(is_json_content_type(&headers(&[("content-type", "application/json")])));
        assert!(is_json_content_type(&headers(&[("content-type", "Application/JSON; charset=utf-8")])));
        assert!(is_json_content_type(&headers(&[("content-type", "application/merge-patch+json")])));
        assert!(!is_json_content_type(&headers(&[("content-type", "text/plain")])));
        assert!(!is_json_content_type(&headers(&[("content-type", "application/x-www-form-urlencoded")])));
        assert!(!is_json_content_type(&headers(&[])));
    }

    #[tokio::test]
    async fn declared_oversize_body_is_refused_without_reading() {
        let h = headers(&[("content-type", "application/json"), ("content-length", "100")]);
        let err = read_json_body(RequestBody::Buffered(Bytes::new()), &h, 10).await.unwrap_err();
        assert_eq!(err.status(), http::StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn non_json_body_is_unsupported_media_type() {
        let h = headers(&[("content-type", "text/plain"), ("content-length", "5")]);
        let err = read_json_body(RequestBody::Buffered(Bytes::from_static(b"hello")), &h, 1024).await.unwrap_err();
        assert_eq!(err.status(), http::StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }

    #[tokio::test]
    async fn empty_body_is_absent_whatever_the_content_type() {
        let h = headers(&[("content-length", "0")]);
        assert!(read_json_body(RequestBody::Buffered(Bytes::new()), &h, 1024).await.unwrap().is_none());
    }
}
