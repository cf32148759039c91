//! Streamed outputs: a function returns a [`ByteStream`] (a download, a long export) or an [`EventStream`]
//! (server-sent events) instead of a value; the response head, with the session write-back and every
//! header middleware adds, leaves at once and the body follows as the stream yields. A client that
//! disconnects drops the stream, which is how the function's producer learns to stop (a channel's sender
//! sees it closed).

use std::fmt::Write as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use http::{header, HeaderValue};
use http_body::Frame;
use serde::Serialize;

use crate::error::PikkuError;
use crate::openapi::{OutputDoc, SchemaFn};
use crate::response::{Body, BoxError, Response};

/// A streamed byte body: `200` with the given content type (by default `application/octet-stream`) and no
/// `Content-Length`. An error from the stream cuts the response short (the connection is closed, so the
/// client sees an incomplete body rather than a truncated one it could take as whole).
///
/// ```
/// use pikku::prelude::*;
/// use pikku::ByteStream;
///
/// # pub struct Services;
/// #[pikku_func(auth = false)]
/// async fn export(_: &Services, _: (), _: &OptionalContext<()>) -> Result<ByteStream, PikkuError> {
///     let lines = (1..=3).map(|n| Ok::<_, std::io::Error>(bytes::Bytes::from(format!("line {n}\n"))));
///     Ok(ByteStream::new(futures_util::stream::iter(lines)).content_type("text/plain; charset=utf-8"))
/// }
/// # fn main() {}
/// ```
pub struct ByteStream {
    stream: Pin<Box<dyn Stream<Item = Result<Bytes, BoxError>> + Send>>,
    content_type: HeaderValue,
}

impl ByteStream {
    /// A body of the chunks `stream` yields.
    pub fn new<S, E>(stream: S) -> Self
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        use futures_util::TryStreamExt as _;
        Self {
            stream: Box::pin(stream.map_err(Into::into)),
            content_type: HeaderValue::from_static("application/octet-stream"),
        }
    }

    /// The `Content-Type` of the response. By default `application/octet-stream`.
    ///
    /// # Panics
    /// If `content_type` is not a valid header value (a constant in the code, so a programming mistake).
    #[must_use]
    pub fn content_type(mut self, content_type: &str) -> Self {
        self.content_type = HeaderValue::from_str(content_type)
            .unwrap_or_else(|_| panic!("ByteStream::content_type: {content_type:?} is not a valid header value"));
        self
    }

    pub(crate) fn into_response(self) -> Response {
        let mut response = Response::new(Body::from_body(StreamBody(self.stream)));
        response.headers_mut().insert(header::CONTENT_TYPE, self.content_type);
        response
    }
}

impl std::fmt::Debug for ByteStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ByteStream").field("content_type", &self.content_type).finish_non_exhaustive()
    }
}

/// The body of a stream of chunks.
struct StreamBody<S>(S);

impl<S: Stream<Item = Result<Bytes, BoxError>> + Unpin> http_body::Body for StreamBody<S> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.0).poll_next(cx).map(|item| item.map(|chunk| chunk.map(Frame::data)))
    }
}

/// How often an [`EventStream`] sends a keep-alive comment when no event comes: 15 seconds, under the
/// idle timeouts of common proxies (nginx: 60 s) and browsers.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Server-sent events (`text/event-stream`, the HTML standard's `EventSource`): `200`, `Cache-Control:
/// no-store`, and a comment line every [`DEFAULT_KEEP_ALIVE`] while no event comes, so proxies do not close
/// an idle stream. The stream ends when the events end or the client disconnects.
///
/// ```
/// use std::time::Duration;
/// use pikku::prelude::*;
/// use pikku::{Event, EventStream};
///
/// # pub struct Services;
/// # #[derive(Clone)] pub struct Session;
/// #[pikku_func]
/// async fn ticks(_: &Services, _: (), _: &Context<Session>) -> Result<EventStream, PikkuError> {
///     let (sender, events) = EventStream::channel(16);
///     tokio::spawn(async move {
///         for n in 0.. {
///             // An error means the client has gone: stop producing.
///             if sender.send(Event::new().event("tick").data(n.to_string())).await.is_err() {
///                 break;
///             }
///             tokio::time::sleep(Duration::from_secs(1)).await;
///         }
///     });
///     Ok(events)
/// }
/// # fn main() {}
/// ```
pub struct EventStream {
    events: Pin<Box<dyn Stream<Item = Event> + Send>>,
    keep_alive: Option<Duration>,
}

impl EventStream {
    /// The events `events` yields, in order.
    pub fn new(events: impl Stream<Item = Event> + Send + 'static) -> Self {
        Self { events: Box::pin(events), keep_alive: Some(DEFAULT_KEEP_ALIVE) }
    }

    /// A stream fed through a channel of `capacity` events: send from any task; `send` fails once the
    /// client has disconnected (the stream, and with it the receiver, is dropped).
    ///
    /// # Panics
    /// If `capacity` is 0.
    pub fn channel(capacity: usize) -> (tokio::sync::mpsc::Sender<Event>, Self) {
        let (sender, mut receiver) = tokio::sync::mpsc::channel(capacity);
        let events = futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx));
        (sender, Self::new(events))
    }

    /// The keep-alive interval; `None` sends none. By default [`DEFAULT_KEEP_ALIVE`].
    #[must_use]
    pub fn keep_alive(mut self, interval: Option<Duration>) -> Self {
        self.keep_alive = interval;
        self
    }

    pub(crate) fn into_response(self) -> Response {
        let keep_alive = self.keep_alive.map(|period| {
            let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            // A stream that was busy does not owe a burst of comments afterwards.
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            interval
        });
        let mut response = Response::new(Body::from_body(EventBody { events: self.events, keep_alive }));
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        // nginx buffers responses by default, which would hold events back.
        headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
        response
    }
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream").field("keep_alive", &self.keep_alive).finish_non_exhaustive()
    }
}

struct EventBody {
    events: Pin<Box<dyn Stream<Item = Event> + Send>>,
    keep_alive: Option<tokio::time::Interval>,
}

impl http_body::Body for EventBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::convert::Infallible>>> {
        let this = &mut *self;
        match this.events.as_mut().poll_next(cx) {
            Poll::Ready(Some(event)) => {
                if let Some(interval) = &mut this.keep_alive {
                    interval.reset();
                }
                Poll::Ready(Some(Ok(Frame::data(event.into_bytes()))))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let idle_too_long = this.keep_alive.as_mut().is_some_and(|interval| interval.poll_tick(cx).is_ready());
                if idle_too_long {
                    Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b":\n\n")))))
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

/// One server-sent event. Fields are written in the standard's wire format; a `data` of several lines is
/// sent as several `data:` lines, which the browser joins back with `\n`.
#[derive(Debug, Clone, Default)]
pub struct Event {
    text: String,
    has_data: bool,
}

impl Event {
    /// An event with no field yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The event type (`EventSource.addEventListener(type, ..)`); `message` when not set.
    ///
    /// # Panics
    /// If `name` contains a line break (it would start another field).
    #[must_use]
    pub fn event(mut self, name: &str) -> Self {
        self.field("event", name);
        self
    }

    /// The data, as text.
    #[must_use]
    pub fn data(mut self, data: impl AsRef<str>) -> Self {
        let data = data.as_ref();
        // `lines` would drop a trailing empty line, which the client would then not see.
        for line in data.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            self.text.push_str("data: ");
            self.text.push_str(line);
            self.text.push('\n');
        }
        self.has_data = true;
        self
    }

    /// The data, as JSON (one line).
    ///
    /// # Errors
    /// 500 when `value` cannot be serialised.
    pub fn json(self, value: &impl Serialize) -> Result<Self, PikkuError> {
        let json = serde_json::to_string(value)
            .map_err(|e| PikkuError::internal(format!("event serialisation failed: {e}")))?;
        Ok(self.data(json))
    }

    /// The event id (the client sends the last one back in `Last-Event-ID` when it reconnects).
    ///
    /// # Panics
    /// If `id` contains a line break or a NUL (the standard ignores such ids).
    #[must_use]
    pub fn id(mut self, id: &str) -> Self {
        assert!(!id.contains('\0'), "Event::id: an id must not contain NUL");
        self.field("id", id);
        self
    }

    /// How long the client waits before reconnecting.
    #[must_use]
    pub fn retry(mut self, after: Duration) -> Self {
        let _ = writeln!(self.text, "retry: {}", after.as_millis());
        self
    }

    /// A comment line (ignored by clients).
    #[must_use]
    pub fn comment(mut self, comment: &str) -> Self {
        for line in comment.split('\n') {
            self.text.push(':');
            self.text.push_str(line.strip_suffix('\r').unwrap_or(line));
            self.text.push('\n');
        }
        self
    }

    fn field(&mut self, name: &str, value: &str) {
        assert!(!value.contains(['\n', '\r']), "Event::{name}: a line break would start another field");
        self.text.push_str(name);
        self.text.push_str(": ");
        self.text.push_str(value);
        self.text.push('\n');
    }

    fn into_bytes(mut self) -> Bytes {
        // An event without data is not dispatched by `EventSource`; an empty `data:` line makes it one.
        if !self.has_data && !self.text.is_empty() && !self.text.starts_with(':') {
            self.text.push_str("data: \n");
        }
        self.text.push('\n');
        Bytes::from(self.text)
    }
}

/// What a function may return: a value serialised as JSON (`200`, or `204` for `()`), or a stream
/// ([`ByteStream`], [`EventStream`]).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a function's output",
    label = "not serialisable, and not a stream",
    note = "derive `serde::Serialize` for it, or return `ByteStream` / `EventStream` for a streamed body"
)]
pub trait FunctionOutput: Send + 'static {
    /// The response.
    ///
    /// # Errors
    /// 500 when a value cannot be serialised.
    fn into_response(self) -> Result<Response, PikkuError>;

    /// How the OpenAPI document describes this output, given the type's JSON schema when it has one
    /// ([`schema_fn_of!`](crate::schema_fn_of)). Generated code calls it. By default, JSON.
    #[doc(hidden)]
    fn output_doc(schema: Option<SchemaFn>) -> OutputDoc
    where
        Self: Sized,
    {
        OutputDoc::Json(schema)
    }
}

impl<T: Serialize + Send + 'static> FunctionOutput for T {
    fn into_response(self) -> Result<Response, PikkuError> {
        crate::response::output_response(&self)
    }

    fn output_doc(schema: Option<SchemaFn>) -> OutputDoc {
        // As `output_response` answers: `()` is 204.
        if std::any::TypeId::of::<T>() == std::any::TypeId::of::<()>() {
            OutputDoc::NoContent
        } else {
            OutputDoc::Json(schema)
        }
    }
}

impl FunctionOutput for ByteStream {
    fn into_response(self) -> Result<Response, PikkuError> {
        Ok(ByteStream::into_response(self))
    }

    fn output_doc(_: Option<SchemaFn>) -> OutputDoc {
        // The content type is chosen per response; the document can only promise bytes.
        OutputDoc::Bytes { content_type: "application/octet-stream".into() }
    }
}

impl FunctionOutput for EventStream {
    fn into_response(self) -> Result<Response, PikkuError> {
        Ok(EventStream::into_response(self))
    }

    fn output_doc(_: Option<SchemaFn>) -> OutputDoc {
        OutputDoc::EventStream
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(event: Event) -> String {
        String::from_utf8(event.into_bytes().to_vec()).unwrap()
    }

    #[test]
    fn events_are_written_in_the_wire_format() {
        assert_eq!(wire(Event::new().data("hello")), "data: hello\n\n");
        assert_eq!(wire(Event::new().event("tick").id("7").data("1")), "event: tick\nid: 7\ndata: 1\n\n");
        assert_eq!(wire(Event::new().data("a\nb\r\n")), "data: a\ndata: b\ndata: \n\n");
        assert_eq!(wire(Event::new().retry(Duration::from_millis(1500)).data("x")), "retry: 1500\ndata: x\n\n");
        assert_eq!(wire(Event::new().json(&serde_json::json!({"n": 1})).unwrap()), "data: {\"n\":1}\n\n");
    }

    #[test]
    fn an_event_without_data_still_dispatches_and_a_comment_alone_stays_a_comment() {
        assert_eq!(wire(Event::new().event("ping")), "event: ping\ndata: \n\n");
        assert_eq!(wire(Event::new().comment("hi")), ":hi\n\n");
    }

    #[test]
    #[should_panic(expected = "line break")]
    fn a_line_break_in_a_field_is_refused() {
        let _ = Event::new().event("a\nid: 9");
    }
}
