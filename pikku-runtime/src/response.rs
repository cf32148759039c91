//! Response types and how function outputs become responses.

use std::any::TypeId;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::Poll;

use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt as _;
use serde::Serialize;

use crate::error::PikkuError;
use crate::panic::panic_message;

/// The body of every response: one buffered chunk (JSON, errors: the fast default), or a stream
/// ([`ByteStream`](crate::ByteStream), [`EventStream`](crate::EventStream), or any [`http_body::Body`] a tower
/// layer produced).
pub struct Body(BodyRepr);

enum BodyRepr {
    Full(http_body_util::Full<Chunk>),
    Stream(UnsyncBoxBody<Bytes, BoxError>),
}

/// The error type of streamed bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Body {
    /// A body of one buffered chunk.
    pub fn new(chunk: impl Into<Chunk>) -> Self {
        Self(BodyRepr::Full(http_body_util::Full::new(chunk.into())))
    }

    /// A body that streams `body`'s frames as they come. A panic while producing one ends the body with an
    /// error (the connection is closed), not the server.
    pub fn from_body<B>(body: B) -> Self
    where
        B: http_body::Body + Send + 'static,
        B::Data: Into<Bytes>,
        B::Error: Into<BoxError>,
    {
        Self(BodyRepr::Stream(UnsyncBoxBody::new(
            body.map_frame(|frame| frame.map_data(Into::into)).map_err(Into::into),
        )))
    }

    /// Whether the body is streamed rather than buffered.
    pub fn is_stream(&self) -> bool {
        matches!(self.0, BodyRepr::Stream(_))
    }
}

impl Default for Body {
    /// An empty body.
    fn default() -> Self {
        Self(BodyRepr::Full(http_body_util::Full::default()))
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            BodyRepr::Full(full) => f.debug_tuple("Body").field(full).finish(),
            BodyRepr::Stream(_) => f.write_str("Body(<stream>)"),
        }
    }
}

impl http_body::Body for Body {
    type Data = Chunk;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Chunk>, BoxError>>> {
        match &mut self.get_mut().0 {
            BodyRepr::Full(full) => Pin::new(full).poll_frame(cx).map_err(|never| match never {}),
            BodyRepr::Stream(stream) => {
                // The stream runs the application's code on the connection's task: a panic there ends this
                // body (hyper closes the connection), never the server.
                match std::panic::catch_unwind(AssertUnwindSafe(|| Pin::new(&mut *stream).poll_frame(cx))) {
                    Ok(poll) => poll.map(|frame| frame.map(|frame| frame.map(|frame| frame.map_data(Chunk::from)))),
                    Err(panic) => {
                        let message = panic_message(&*panic).to_owned();
                        tracing::error!(panic = %message, "a response stream panicked: the response is cut short");
                        *stream = UnsyncBoxBody::new(http_body_util::Empty::new().map_err(|never| match never {}));
                        Poll::Ready(Some(Err(format!("response stream panicked: {message}").into())))
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            BodyRepr::Full(full) => full.is_end_stream(),
            BodyRepr::Stream(stream) => stream.is_end_stream(),
        }
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match &self.0 {
            BodyRepr::Full(full) => full.size_hint(),
            BodyRepr::Stream(stream) => stream.size_hint(),
        }
    }
}

/// JSON outputs up to this size are kept inside the response, without a heap allocation: most API
/// answers (`{"ok":true}`, a profile, an id) are this small.
const INLINE_BODY_BYTES: usize = 128;

/// A response body's bytes. Build one from [`Bytes`], a `Vec<u8>` or a `&'static str`.
#[derive(Debug)]
pub struct Chunk(Repr);

/// Shared bytes, a small body held inline, or a `Vec` handed over as serialised (turning a `Vec` into
/// `Bytes` costs an allocation on every JSON response).
#[derive(Debug)]
enum Repr {
    Inline { bytes: [u8; INLINE_BODY_BYTES], len: usize, position: usize },
    Bytes(Bytes),
    Vec { bytes: Vec<u8>, position: usize },
}

impl From<Bytes> for Chunk {
    fn from(bytes: Bytes) -> Self {
        Self(Repr::Bytes(bytes))
    }
}

impl From<Vec<u8>> for Chunk {
    fn from(bytes: Vec<u8>) -> Self {
        Self(Repr::Vec { bytes, position: 0 })
    }
}

impl From<&'static str> for Chunk {
    fn from(text: &'static str) -> Self {
        Self(Repr::Bytes(Bytes::from_static(text.as_bytes())))
    }
}

impl bytes::Buf for Chunk {
    fn remaining(&self) -> usize {
        match &self.0 {
            Repr::Inline { len, position, .. } => len - position,
            Repr::Bytes(bytes) => bytes.remaining(),
            Repr::Vec { bytes, position } => bytes.len() - position,
        }
    }

    fn chunk(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { bytes, len, position } => &bytes[*position..*len],
            Repr::Bytes(bytes) => bytes.chunk(),
            Repr::Vec { bytes, position } => &bytes[*position..],
        }
    }

    fn advance(&mut self, count: usize) {
        match &mut self.0 {
            Repr::Inline { len, position, .. } => {
                assert!(count <= *len - *position, "advance past the end of the body");
                *position += count;
            }
            Repr::Bytes(bytes) => bytes.advance(count),
            Repr::Vec { bytes, position } => {
                assert!(count <= bytes.len() - *position, "advance past the end of the body");
                *position += count;
            }
        }
    }

    /// Shared bytes and a whole `Vec` are handed over without a copy (a body passed on as `Bytes`, to axum
    /// or through a tower layer); only the inline bytes are copied.
    fn copy_to_bytes(&mut self, count: usize) -> Bytes {
        match &mut self.0 {
            Repr::Bytes(bytes) => bytes.copy_to_bytes(count),
            Repr::Vec { bytes, position: 0 } if count == bytes.len() => Bytes::from(std::mem::take(bytes)),
            _ => {
                assert!(count <= self.remaining(), "copy past the end of the body");
                let copied = Bytes::copy_from_slice(&self.chunk()[..count]);
                self.advance(count);
                copied
            }
        }
    }
}

/// The response type middleware and the pipeline work with.
pub type Response = http::Response<Body>;

/// `()` gives `204 No Content`; anything else is serialised as JSON with `200`.
///
/// # Errors
/// 500 when the output cannot be serialised.
pub fn output_response<O: Serialize + 'static>(output: &O) -> Result<Response, PikkuError> {
    if TypeId::of::<O>() == TypeId::of::<()>() {
        let mut response = Response::new(Body::default());
        *response.status_mut() = StatusCode::NO_CONTENT;
        return Ok(response);
    }
    json_response(StatusCode::OK, output)
}

/// A JSON response with the given status.
///
/// # Errors
/// 500 when `value` cannot be serialised (a map with non-string keys, a failing `Serialize` impl).
pub fn json_response<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Result<Response, PikkuError> {
    let failed = |e: serde_json::Error| PikkuError::internal(format!("output serialisation failed: {e}"));
    let mut inline = InlineWriter { bytes: [0; INLINE_BODY_BYTES], len: 0 };
    let chunk = match serde_json::to_writer(&mut inline, value) {
        Ok(()) => Chunk(Repr::Inline { bytes: inline.bytes, len: inline.len, position: 0 }),
        // Only "does not fit": serialise again into a buffer of its own.
        Err(e) if e.is_io() => Chunk::from(serde_json::to_vec(value).map_err(failed)?),
        Err(e) => return Err(failed(e)),
    };
    let mut response = Response::new(Body::new(chunk));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

/// Serialises into the inline buffer, refusing (an I/O error) what does not fit.
struct InlineWriter {
    bytes: [u8; INLINE_BODY_BYTES],
    len: usize,
}

impl std::io::Write for InlineWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let end = self.len + data.len();
        if end > INLINE_BODY_BYTES {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        self.bytes[self.len..end].copy_from_slice(data);
        self.len = end;
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body_of(response: Response) -> Vec<u8> {
        response.into_body().collect().await.unwrap().to_bytes().to_vec()
    }

    #[tokio::test]
    async fn small_and_large_outputs_serialise_the_same_json() {
        let small = serde_json::json!({"ok": true});
        let large = serde_json::json!({"text": "x".repeat(INLINE_BODY_BYTES * 3)});
        for value in [small, large] {
            let response = json_response(StatusCode::OK, &value).unwrap();
            assert_eq!(body_of(response).await, serde_json::to_vec(&value).unwrap());
        }
    }

    #[tokio::test]
    async fn output_exactly_at_the_inline_limit_is_whole() {
        // `"` + n characters + `"` == INLINE_BODY_BYTES.
        let value = "y".repeat(INLINE_BODY_BYTES - 2);
        let response = json_response(StatusCode::OK, &value).unwrap();
        assert_eq!(body_of(response).await.len(), INLINE_BODY_BYTES);
    }

    #[tokio::test]
    async fn unit_output_is_204_with_an_empty_body() {
        let response = output_response(&()).unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert!(body_of(response).await.is_empty());
    }
}
