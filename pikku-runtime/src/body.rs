//! Reading the request body: only for methods that carry one, only JSON, and never more than the limit.
//!
//! The endpoint reads the body after the auth gate (see [`crate::function`]), so an unauthenticated client
//! cannot make the server read a large body.

use std::future::{poll_fn, Future as _};
use std::ops::Deref;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{header, HeaderMap, HeaderValue, Method};
use hyper::body::Body as _;
use tokio::time::{Instant, Sleep};

use crate::error::PikkuError;
use crate::middleware::RequestBody;

/// What `Retry-After` says when the body budget is spent: bodies in flight finish or time out within
/// seconds, so a prompt retry is likely to find room.
const BUDGET_RETRY_AFTER: Duration = Duration::from_secs(1);

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

/// The request body bytes buffered at once across all connections, against a cap.
///
/// A body is charged as its bytes arrive (not by its declared length, so a client must really send the
/// bytes it holds room for) and released when its buffer is dropped: once the function's input has been
/// parsed from it, or when the request fails.
#[derive(Debug)]
pub(crate) struct BodyBudget {
    capacity: usize,
    used: AtomicUsize,
}

impl BodyBudget {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { capacity, used: AtomicUsize::new(0) }
    }

    /// Takes `bytes` more for `charge`, or refuses when they do not fit.
    fn charge(&self, charge: &mut BudgetCharge<'_>, bytes: usize) -> Result<(), PikkuError> {
        let fits = self.used.fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
            used.checked_add(bytes).filter(|total| *total <= self.capacity)
        });
        if fits.is_err() {
            return Err(PikkuError::service_unavailable_retry_after(
                "the buffered request body budget is spent",
                BUDGET_RETRY_AFTER,
            ));
        }
        charge.bytes += bytes;
        Ok(())
    }

    #[cfg(test)]
    fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }
}

/// The share of the [`BodyBudget`] one request's buffered body holds; given back on drop.
#[derive(Debug)]
pub(crate) struct BudgetCharge<'b> {
    budget: &'b BodyBudget,
    bytes: usize,
}

impl Drop for BudgetCharge<'_> {
    fn drop(&mut self) {
        if self.bytes > 0 {
            self.budget.used.fetch_sub(self.bytes, Ordering::AcqRel);
        }
    }
}

/// A request body in memory, holding its share of the budget until it is dropped.
#[derive(Debug)]
pub(crate) struct BufferedBody<'b> {
    bytes: Bytes,
    _charge: Option<BudgetCharge<'b>>,
}

impl Deref for BufferedBody<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

/// How a body may be read: its size limit, the deadline for its arrival, the shared budget.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyRules<'b> {
    pub(crate) limit: usize,
    /// Set by the server for a body still arriving; `None` for one already in memory.
    pub(crate) deadline: Option<Instant>,
    pub(crate) budget: &'b BodyBudget,
}

/// Reads a JSON body of at most `rules.limit` bytes. A declared length over the limit is refused before a
/// byte is read; a body that streams past it is refused as soon as it does. A body from the network must
/// arrive by the deadline (else 408, and the connection is closed) and fit in the budget (else 503).
pub(crate) async fn read_json_body<'b>(
    body: RequestBody,
    headers: &HeaderMap,
    rules: BodyRules<'b>,
) -> Result<Option<BufferedBody<'b>>, PikkuError> {
    let limit = rules.limit;
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
    let body = match body {
        RequestBody::Buffered(bytes) if bytes.len() > limit => return Err(PikkuError::payload_too_large(limit)),
        // Already in memory, the caller's (the in-process client): nothing to wait for or to charge.
        RequestBody::Buffered(bytes) => BufferedBody { bytes, _charge: None },
        RequestBody::Incoming(incoming) => collect_limited(incoming, rules).await?,
    };
    if body.is_empty() {
        return Ok(None);
    }
    if !json {
        return Err(PikkuError::unsupported_media_type());
    }
    Ok(Some(body))
}

/// Reads a body of at most `rules.limit` bytes, refusing as soon as it streams past the limit, charging
/// the budget as bytes arrive, and giving up at the deadline. A body that arrives in one chunk (the usual
/// case) is kept as it came, without a copy. (Written out rather than `Limited::collect`, whose state is
/// twice the size and which copies even a single chunk.)
async fn collect_limited<'b>(
    mut body: hyper::body::Incoming,
    rules: BodyRules<'b>,
) -> Result<BufferedBody<'b>, PikkuError> {
    let mut charge = BudgetCharge { budget: rules.budget, bytes: 0 };
    let mut single: Option<Bytes> = None;
    let mut joined = BytesMut::new();
    let mut len = 0usize;
    // Created only when the body stalls: a body that came with its head never needs a timer.
    let mut stalled: Option<Pin<Box<Sleep>>> = None;
    loop {
        let frame = poll_fn(|cx| {
            if let Poll::Ready(frame) = Pin::new(&mut body).poll_frame(cx) {
                return Poll::Ready(Ok(frame));
            }
            let Some(deadline) = rules.deadline else { return Poll::Pending };
            let timer = stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
            timer.as_mut().poll(cx).map(|()| Err(body_timeout()))
        })
        .await?;
        let Some(frame) = frame else { break };
        let frame = frame.map_err(|e| PikkuError::bad_request(format!("could not read the request body: {e}")))?;
        let Ok(data) = frame.into_data() else { continue };
        len += data.len();
        if len > rules.limit {
            return Err(PikkuError::payload_too_large(rules.limit));
        }
        rules.budget.charge(&mut charge, data.len())?;
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
    Ok(BufferedBody { bytes: single.unwrap_or_else(|| joined.freeze()), _charge: Some(charge) })
}

/// 408 for a body that did not arrive in time. `Connection: close` makes hyper close the connection after
/// the answer rather than wait for the rest of a body that is not coming.
fn body_timeout() -> PikkuError {
    PikkuError::request_timeout("The request body did not arrive in time")
        .with_header(header::CONNECTION, HeaderValue::from_static("close"))
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

    fn rules(limit: usize, budget: &BodyBudget) -> BodyRules<'_> {
        BodyRules { limit, deadline: None, budget }
    }

    #[test]
    fn the_budget_refuses_what_does_not_fit_and_takes_back_what_is_dropped() {
        let budget = BodyBudget::new(100);
        let mut first = BudgetCharge { budget: &budget, bytes: 0 };
        budget.charge(&mut first, 60).unwrap();
        budget.charge(&mut first, 20).unwrap();
        let mut second = BudgetCharge { budget: &budget, bytes: 0 };
        let refused = budget.charge(&mut second, 21).unwrap_err();
        assert_eq!(refused.status(), http::StatusCode::SERVICE_UNAVAILABLE);
        let response = refused.into_response(&crate::RequestId::generate());
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        budget.charge(&mut second, 20).unwrap();
        assert_eq!(budget.used(), 100);
        drop(first);
        assert_eq!(budget.used(), 20);
        drop(second);
        assert_eq!(budget.used(), 0);
    }

    #[tokio::test]
    async fn a_body_in_memory_is_not_charged() {
        let budget = BodyBudget::new(0);
        let h = headers(&[("content-type", "application/json"), ("content-length", "2")]);
        let body = read_json_body(RequestBody::Buffered(Bytes::from_static(b"{}")), &h, rules(1024, &budget)).await;
        assert_eq!(&*body.unwrap().unwrap(), b"{}");
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
        let budget = BodyBudget::new(1024);
        let h = headers(&[("content-type", "application/json"), ("content-length", "100")]);
        let err = read_json_body(RequestBody::Buffered(Bytes::new()), &h, rules(10, &budget)).await.unwrap_err();
        assert_eq!(err.status(), http::StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn non_json_body_is_unsupported_media_type() {
        let budget = BodyBudget::new(1024);
        let h = headers(&[("content-type", "text/plain"), ("content-length", "5")]);
        let err = read_json_body(RequestBody::Buffered(Bytes::from_static(b"hello")), &h, rules(1024, &budget))
            .await
            .unwrap_err();
        assert_eq!(err.status(), http::StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }

    #[tokio::test]
    async fn empty_body_is_absent_whatever_the_content_type() {
        let budget = BodyBudget::new(1024);
        let h = headers(&[("content-length", "0")]);
        assert!(read_json_body(RequestBody::Buffered(Bytes::new()), &h, rules(1024, &budget)).await.unwrap().is_none());
    }
}
