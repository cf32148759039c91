//! Reading the request body: only for methods that carry one, only JSON, and never more than the limit.
//!
//! The endpoint reads the body after the auth gate (see [`crate::function`]), so an unauthenticated client
//! cannot make the server read a large body.

use std::future::{poll_fn, Future as _};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{header, HeaderMap, HeaderValue, Method};
use tokio::time::{Instant, Sleep};

use crate::error::PikkuError;
use crate::middleware::{BoxFuture, BoxedBody, Request, RequestBody};

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
struct BodyBudget {
    capacity: usize,
    used: AtomicUsize,
}

/// How bodies may be read: the size limit of one, and the budget all of them share. One per server; the
/// endpoints hold it behind one `Arc`, so a body read borrows it with a single pointer.
#[derive(Debug)]
pub(crate) struct BodyRules {
    pub(crate) limit: usize,
    budget: BodyBudget,
}

impl BodyRules {
    pub(crate) fn new(limit: usize, budget: usize) -> Self {
        Self { limit, budget: BodyBudget { capacity: budget, used: AtomicUsize::new(0) } }
    }

    #[cfg(test)]
    fn budget_used(&self) -> usize {
        self.budget.used.load(Ordering::Acquire)
    }
}

/// The share of the budget one request's buffered body holds; given back on drop, however the read ends
/// (a body read, an error, a dropped connection).
#[derive(Debug)]
pub(crate) struct BudgetCharge<'b> {
    rules: &'b BodyRules,
    bytes: usize,
}

impl<'b> BudgetCharge<'b> {
    fn new(rules: &'b BodyRules) -> Self {
        Self { rules, bytes: 0 }
    }

    /// Takes `bytes` more, or refuses (503) when they do not fit.
    fn add(&mut self, bytes: usize) -> Result<(), PikkuError> {
        let budget = &self.rules.budget;
        let fits = budget.used.fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
            used.checked_add(bytes).filter(|total| *total <= budget.capacity)
        });
        if fits.is_err() {
            return Err(PikkuError::service_unavailable_retry_after(
                "the buffered request body budget is spent",
                BUDGET_RETRY_AFTER,
            ));
        }
        self.bytes += bytes;
        Ok(())
    }
}

impl Drop for BudgetCharge<'_> {
    fn drop(&mut self) {
        if self.bytes > 0 {
            self.rules.budget.used.fetch_sub(self.bytes, Ordering::AcqRel);
        }
    }
}

/// A request body in memory (`None` when there is none), and its share of the budget: given back when
/// `charge` is dropped, which the endpoint does as soon as the input has been parsed from the bytes.
#[derive(Debug, Default)]
pub(crate) struct BufferedBody<'b> {
    pub(crate) bytes: Option<Bytes>,
    pub(crate) charge: Option<BudgetCharge<'b>>,
}

/// Reads the request's JSON body of at most `rules.limit` bytes (taking it out of the request). A declared
/// length over the limit is refused before a byte is read; a body that streams past it is refused as soon
/// as it does. A body from the network must arrive by the request's deadline (else 408, and the
/// connection is closed) and fit in the budget (else 503).
///
/// Its state is part of every endpoint's future, and an `async fn` keeps its arguments for its whole life:
/// hence the request by reference rather than its body, headers and deadline by value.
pub(crate) async fn read_json_body<'b, S>(
    request: &mut Request<S>,
    rules: &'b BodyRules,
) -> Result<BufferedBody<'b>, PikkuError> {
    let limit = rules.limit;
    let headers = &request.head.headers;
    let declared_len =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared_len == Some(0) {
        return Ok(BufferedBody::default());
    }
    if declared_len.is_some_and(|len| len > limit as u64) {
        return Err(PikkuError::payload_too_large(limit));
    }
    let has_body = declared_len.is_some() || headers.contains_key(header::TRANSFER_ENCODING);
    let json = is_json_content_type(headers);
    if has_body && !json {
        return Err(PikkuError::unsupported_media_type());
    }
    let (bytes, charge) = match std::mem::replace(&mut request.body, RequestBody::Buffered(Bytes::new())) {
        RequestBody::Buffered(bytes) if bytes.len() > limit => return Err(PikkuError::payload_too_large(limit)),
        // Already in memory, the caller's (the in-process client): nothing to wait for or to charge.
        RequestBody::Buffered(bytes) => (bytes, None),
        RequestBody::Incoming(body) => {
            let arriving = Arriving { body, deadline: request.body_deadline, stalled: None };
            let (bytes, charge) = collect_limited(arriving, BudgetCharge::new(rules)).await?;
            (bytes, Some(charge))
        }
        // Another server's body (an application nesting this one as a tower `Service`): the same rules.
        RequestBody::Boxed(body) => {
            let (bytes, charge) = collect_boxed(body, request.body_deadline, rules).await?;
            (bytes, Some(charge))
        }
    };
    if bytes.is_empty() {
        return Ok(BufferedBody::default());
    }
    if !json {
        return Err(PikkuError::unsupported_media_type());
    }
    Ok(BufferedBody { bytes: Some(bytes), charge })
}

/// A body arriving from the network (hyper's, or a boxed one another server handed over), with the
/// deadline for the whole of it.
struct Arriving<B> {
    body: B,
    deadline: Option<Instant>,
    /// Created only when the body stalls: a body that came with its head never needs a timer.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<B> Arriving<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    /// The next frame (`None` at the end), or 408 once the deadline has passed.
    fn poll_frame(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Result<Option<http_body::Frame<Bytes>>, PikkuError>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.body).poll_frame(cx) {
            return Poll::Ready(
                frame.transpose().map_err(|e| PikkuError::bad_request(format!("could not read the request body: {e}"))),
            );
        }
        let Some(deadline) = self.deadline else { return Poll::Pending };
        let timer = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        timer.as_mut().poll(cx).map(|()| Err(body_timeout()))
    }
}

/// Reads a body of at most the limit, refusing as soon as it streams past it, charging the budget as
/// bytes arrive, and giving up at the deadline. A body that arrives in one chunk (the usual case) is kept
/// as it came, without a copy. (Written out rather than `Limited::collect`, whose state is twice the size
/// and which copies even a single chunk.) The byte count is the charge's.
async fn collect_limited<B>(
    mut arriving: Arriving<B>,
    mut charge: BudgetCharge<'_>,
) -> Result<(Bytes, BudgetCharge<'_>), PikkuError>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let mut single: Option<Bytes> = None;
    let mut joined = BytesMut::new();
    loop {
        let Some(frame) = poll_fn(|cx| arriving.poll_frame(cx)).await? else { break };
        let Ok(data) = frame.into_data() else { continue };
        let limit = charge.rules.limit;
        if charge.bytes + data.len() > limit {
            return Err(PikkuError::payload_too_large(limit));
        }
        charge.add(data.len())?;
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
    Ok((single.unwrap_or_else(|| joined.freeze()), charge))
}

/// [`collect_limited`] for a boxed body, in a future of its own: its state and code stay out of every
/// endpoint's future, which the body of a request read from the network must not pay for.
#[inline(never)]
fn collect_boxed(
    body: BoxedBody,
    deadline: Option<Instant>,
    rules: &BodyRules,
) -> BoxFuture<'_, Result<(Bytes, BudgetCharge<'_>), PikkuError>> {
    let arriving = Arriving { body: body.into_inner(), deadline, stalled: None };
    Box::pin(collect_limited(arriving, BudgetCharge::new(rules)))
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

    /// A request with `headers` and a body in memory.
    fn request(headers: HeaderMap, body: &'static [u8]) -> Request<()> {
        let mut request = Request::for_test(Method::POST, "/", headers);
        request.body = RequestBody::Buffered(Bytes::from_static(body));
        request
    }

    #[test]
    fn the_budget_refuses_what_does_not_fit_and_takes_back_what_is_dropped() {
        let rules = BodyRules::new(1024, 100);
        let mut first = BudgetCharge::new(&rules);
        first.add(60).unwrap();
        first.add(20).unwrap();
        let mut second = BudgetCharge::new(&rules);
        let refused = second.add(21).unwrap_err();
        assert_eq!(refused.status(), http::StatusCode::SERVICE_UNAVAILABLE);
        let response = refused.into_response(&crate::RequestId::generate());
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        second.add(20).unwrap();
        assert_eq!(rules.budget_used(), 100);
        drop(first);
        assert_eq!(rules.budget_used(), 20);
        drop(second);
        assert_eq!(rules.budget_used(), 0);
    }

    #[tokio::test]
    async fn a_body_in_memory_is_not_charged() {
        let rules = BodyRules::new(1024, 0);
        let mut request = request(headers(&[("content-type", "application/json"), ("content-length", "2")]), b"{}");
        let body = read_json_body(&mut request, &rules).await.unwrap();
        assert_eq!(body.bytes.as_deref(), Some(&b"{}"[..]));
        assert!(body.charge.is_none());
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
        let err = read_json_body(&mut request(h, b""), &BodyRules::new(10, 1024)).await.unwrap_err();
        assert_eq!(err.status(), http::StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn non_json_body_is_unsupported_media_type() {
        let h = headers(&[("content-type", "text/plain"), ("content-length", "5")]);
        let err = read_json_body(&mut request(h, b"hello"), &BodyRules::new(1024, 1024)).await.unwrap_err();
        assert_eq!(err.status(), http::StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }

    #[tokio::test]
    async fn empty_body_is_absent_whatever_the_content_type() {
        let h = headers(&[("content-length", "0")]);
        assert!(read_json_body(&mut request(h, b""), &BodyRules::new(1024, 1024)).await.unwrap().bytes.is_none());
    }
}
