//! Response control: a function that needs more than `200` JSON (or `204` for `()`) returns a [`Reply`]
//! around its output, with the status and headers it chooses. Plain outputs keep their fast path; errors
//! stay `Err(PikkuError)`, so their JSON shape does not change.

use std::any::TypeId;

use http::header::{self, HeaderName};
use http::{HeaderMap, HeaderValue, StatusCode};

use crate::error::PikkuError;
use crate::response::{Body, Response};
use crate::stream::FunctionOutput;

/// A function's output with the status and headers it chooses: `201` with `Location` after a create, a
/// redirect, an `ETag`, a header on a stream.
///
/// ```
/// use pikku::prelude::*;
/// use pikku::header::{CACHE_CONTROL, ETAG};
/// use serde::{Deserialize, Serialize};
///
/// # pub struct Services;
/// # #[derive(Clone)] pub struct Session;
/// #[derive(Deserialize)]
/// pub struct NewNote { text: String }
///
/// #[derive(Serialize)]
/// pub struct Note { id: u64, text: String }
///
/// /// `201 Created` with `Location: /notes/7` and the note as JSON.
/// #[pikku_func]
/// async fn create_note(_: &Services, data: NewNote, _: &Context<Session>) -> Result<Reply<Note>, PikkuError> {
///     let note = Note { id: 7, text: data.text };
///     Ok(Reply::created(format!("/notes/{}", note.id), note))
/// }
///
/// /// `200` JSON with its own headers.
/// #[pikku_func(auth = false)]
/// async fn version(_: &Services, _: (), _: &OptionalContext<Session>) -> Result<Reply<&'static str>, PikkuError> {
///     Ok(Reply::new("1.4.2").header(ETAG, "\"1.4.2\"").header(CACHE_CONTROL, "max-age=60"))
/// }
///
/// /// `303 See Other` with `Location` and no body.
/// #[pikku_func(auth = false)]
/// async fn home(_: &Services, _: (), _: &OptionalContext<Session>) -> Result<Reply, PikkuError> {
///     Ok(Reply::redirect("/notes"))
/// }
///
/// # fn main() {
/// // Functions stay plain functions: a unit test reads what the reply will answer.
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let reply = create_note(&Services, NewNote { text: "hi".into() }, &Context::for_test(Session)).await.unwrap();
/// assert_eq!(reply.status_code(), StatusCode::CREATED);
/// assert_eq!(reply.headers()["location"], "/notes/7");
/// assert_eq!(reply.value().unwrap().text, "hi");
/// # });
/// # }
/// ```
///
/// * The body is what `T` answers on its own: JSON for a serialisable value, nothing for `()`, a
///   [`ByteStream`](crate::ByteStream) or [`EventStream`](crate::EventStream) streamed. Its status is `T`'s
///   (`200`, `204` for `()`) unless [`status`](Self::status) sets one.
/// * A `204` or `304` response never carries a body: a value given with either status is not sent.
/// * Headers set here replace those of the same name the value brought (a stream's `Content-Type`, say).
///   Middleware, the session strategies (`Set-Cookie`), CORS and `x-request-id` still add theirs afterwards;
///   on a response to a request with a session, `Cache-Control: no-store` is added unless the reply sets
///   its own `Cache-Control`.
/// * The session change a function recorded applies to any response below 400, so a login may answer with
///   a redirect.
/// * A mistake in a reply (a header value with a line break, which user data may well hold; a header name
///   that is not one; `1xx`, which is not a final status; a framing header such as `Content-Length`, which
///   the server writes itself) is no panic: the request answers `500`, and the log line names the
///   header or status at fault (never the value, which may be user data).
#[derive(Debug)]
#[must_use = "a reply does nothing unless the function returns it"]
pub struct Reply<T = ()> {
    /// `None`: no body at all (a redirect, `no_content`).
    value: Option<T>,
    /// `None`: the value's own status.
    status: Option<StatusCode>,
    headers: HeaderMap,
    /// The first mistake, answered as a 500 when the response is built.
    mistake: Option<String>,
}

impl<T> Reply<T> {
    /// `value` as it would answer on its own (`200` JSON, `204` for `()`, a stream), ready for a status
    /// and headers.
    pub fn new(value: T) -> Self {
        Self { value: Some(value), status: None, headers: HeaderMap::new(), mistake: None }
    }

    /// `201 Created` with `Location: location` and `value` as the body.
    pub fn created<V>(location: V, value: T) -> Self
    where
        V: TryInto<HeaderValue>,
        V::Error: Into<http::Error>,
    {
        Self::new(value).status(StatusCode::CREATED).header(header::LOCATION, location)
    }

    /// The response status. An informational status (`1xx`) is not a final answer: the request gets a
    /// 500.
    pub fn status(mut self, status: StatusCode) -> Self {
        if status.is_informational() {
            self.note_mistake(|| format!("status {} is informational, not a final response", status.as_u16()));
        }
        self.status = Some(status);
        self
    }

    /// Sets a response header, replacing any value set before under that name. Accepts what
    /// [`http::response::Builder::header`] accepts: a [`HeaderName`] or a string, and a [`HeaderValue`], a
    /// string, bytes or a number. An invalid name or value answers 500 (see the type's documentation).
    pub fn header<K, V>(self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        K::Error: Into<http::Error>,
        V: TryInto<HeaderValue>,
        V::Error: Into<http::Error>,
    {
        self.add_header(name, value, false)
    }

    /// Adds a response header, keeping the values set before under that name (several `Link` or `Vary`
    /// lines).
    pub fn append_header<K, V>(self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        K::Error: Into<http::Error>,
        V: TryInto<HeaderValue>,
        V::Error: Into<http::Error>,
    {
        self.add_header(name, value, true)
    }

    fn add_header<K, V>(mut self, name: K, value: V, append: bool) -> Self
    where
        K: TryInto<HeaderName>,
        K::Error: Into<http::Error>,
        V: TryInto<HeaderValue>,
        V::Error: Into<http::Error>,
    {
        let name = match name.try_into() {
            Ok(name) => name,
            Err(e) => {
                let e: http::Error = e.into();
                self.note_mistake(|| format!("a header name is not valid ({e})"));
                return self;
            }
        };
        if is_framing(&name) {
            self.note_mistake(|| format!("header `{name}` frames the message, which is the server's to write"));
            return self;
        }
        match value.try_into() {
            Ok(value) if append => {
                self.headers.append(name, value);
            }
            Ok(value) => {
                self.headers.insert(name, value);
            }
            // The value is not shown: it may be user data.
            Err(_) => self.note_mistake(|| {
                format!("the value of header `{name}` is not a valid header value (a line break, or a control character other than tab)")
            }),
        }
        self
    }

    fn note_mistake(&mut self, mistake: impl FnOnce() -> String) {
        if self.mistake.is_none() {
            self.mistake = Some(format!("Reply: {}", mistake()));
        }
    }

    /// The headers set so far (for unit tests of a function).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The value, or `None` for a reply without a body (for unit tests of a function).
    pub fn value(&self) -> Option<&T> {
        self.value.as_ref()
    }

    /// The value, or `None` for a reply without a body.
    pub fn into_value(self) -> Option<T> {
        self.value
    }
}

impl<T: 'static> Reply<T> {
    /// The status the response will have: the one set, or the value's own (`204` for `()`, else `200`).
    pub fn status_code(&self) -> StatusCode {
        self.status.unwrap_or(if TypeId::of::<T>() == TypeId::of::<()>() {
            StatusCode::NO_CONTENT
        } else {
            StatusCode::OK
        })
    }
}

impl Reply<()> {
    /// `204 No Content`.
    pub fn no_content() -> Self {
        Self::new(()).status(StatusCode::NO_CONTENT)
    }

    /// `303 See Other` to `location`, without a body: the answer to a form's `POST` (the browser follows it
    /// with a `GET`).
    pub fn redirect<V>(location: V) -> Self
    where
        V: TryInto<HeaderValue>,
        V::Error: Into<http::Error>,
    {
        Self::bodiless_redirect(StatusCode::SEE_OTHER, location)
    }

    /// `307 Temporary Redirect` to `location`, without a body: the client repeats the same method and body
    /// there.
    pub fn temporary_redirect<V>(location: V) -> Self
    where
        V: TryInto<HeaderValue>,
        V::Error: Into<http::Error>,
    {
        Self::bodiless_redirect(StatusCode::TEMPORARY_REDIRECT, location)
    }

    /// `308 Permanent Redirect` to `location`, without a body: as 307, and clients may remember it.
    pub fn permanent_redirect<V>(location: V) -> Self
    where
        V: TryInto<HeaderValue>,
        V::Error: Into<http::Error>,
    {
        Self::bodiless_redirect(StatusCode::PERMANENT_REDIRECT, location)
    }

    fn bodiless_redirect<V>(status: StatusCode, location: V) -> Self
    where
        V: TryInto<HeaderValue>,
        V::Error: Into<http::Error>,
    {
        Self { value: None, status: Some(status), headers: HeaderMap::new(), mistake: None }
            .header(header::LOCATION, location)
    }
}

/// Headers that frame the message on the wire: hyper writes them from the body; one set by hand could
/// disagree with it and desynchronise the connection.
fn is_framing(name: &HeaderName) -> bool {
    [
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
        header::CONNECTION,
        header::UPGRADE,
        header::TE,
        header::TRAILER,
    ]
    .contains(name)
        || name == "keep-alive"
        || name == "proxy-connection"
}

/// A `Reply<T>` is described as its value: the status and headers are chosen per response (declare the
/// statuses in `#[pikku_func(responses = [..])]`).
impl<T: schemars::JsonSchema> schemars::JsonSchema for Reply<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

impl<T: FunctionOutput> FunctionOutput for Reply<T> {
    fn output_doc(schema: Option<crate::openapi::SchemaFn>) -> crate::openapi::OutputDoc {
        T::output_doc(schema)
    }

    fn into_response(self) -> Result<Response, PikkuError> {
        if let Some(mistake) = self.mistake {
            return Err(PikkuError::internal(mistake));
        }
        let mut response = match self.value {
            Some(value) => value.into_response()?,
            None => Response::new(Body::default()),
        };
        if let Some(status) = self.status {
            *response.status_mut() = status;
        }
        if matches!(response.status(), StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED) {
            // What the value brought describes a body that is not sent (RFC 9110 §15.3.5, §15.4.5). Its stream,
            // if any, is dropped unpolled, which tells a producer the client is gone.
            *response.body_mut() = Body::default();
            response.headers_mut().remove(header::CONTENT_TYPE);
        }
        if !self.headers.is_empty() {
            // `extend` replaces the value's headers of the same names, and keeps every value of a name.
            response.headers_mut().extend(self.headers);
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use http_body::Body as _;
    use http_body_util::BodyExt as _;

    use super::*;
    use crate::EventStream;

    fn respond<T: FunctionOutput>(reply: Reply<T>) -> Response {
        reply.into_response().expect("a valid reply")
    }

    async fn body(response: Response) -> Vec<u8> {
        response.into_body().collect().await.unwrap().to_bytes().to_vec()
    }

    #[tokio::test]
    async fn a_value_keeps_its_json_body_under_the_chosen_status_and_headers() {
        let response = respond(Reply::created("/notes/7", serde_json::json!({"id": 7})).header("x-note", "7"));
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()[header::LOCATION], "/notes/7");
        assert_eq!(response.headers()["x-note"], "7");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(body(response).await, br#"{"id":7}"#);
    }

    #[tokio::test]
    async fn without_a_status_the_value_answers_as_it_would_alone() {
        assert_eq!(respond(Reply::new(1)).status(), StatusCode::OK);
        assert_eq!(respond(Reply::new(())).status(), StatusCode::NO_CONTENT);
        assert_eq!(Reply::new(()).status_code(), StatusCode::NO_CONTENT);
        assert_eq!(Reply::new("x").status_code(), StatusCode::OK);
    }

    #[tokio::test]
    async fn redirects_carry_location_and_no_body() {
        for (reply, status) in [
            (Reply::redirect("/a"), StatusCode::SEE_OTHER),
            (Reply::temporary_redirect("/a"), StatusCode::TEMPORARY_REDIRECT),
            (Reply::permanent_redirect("/a"), StatusCode::PERMANENT_REDIRECT),
        ] {
            assert_eq!(reply.status_code(), status);
            let response = respond(reply);
            assert_eq!(response.status(), status);
            assert_eq!(response.headers()[header::LOCATION], "/a");
            assert!(response.headers().get(header::CONTENT_TYPE).is_none());
            assert!(response.body().is_end_stream());
        }
    }

    #[tokio::test]
    async fn no_content_and_not_modified_never_carry_a_body() {
        let response = respond(Reply::no_content());
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert!(body(response).await.is_empty());

        let response = respond(
            Reply::new(serde_json::json!({"big": "x"})).status(StatusCode::NOT_MODIFIED).header(header::ETAG, "\"1\""),
        );
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        assert!(response.headers().get(header::CONTENT_TYPE).is_none());
        assert_eq!(response.headers()[header::ETAG], "\"1\"");
        assert!(body(response).await.is_empty());

        let (_sender, events) = EventStream::channel(1);
        let response = respond(Reply::new(events).status(StatusCode::NO_CONTENT));
        assert!(!response.body().is_stream(), "the stream is dropped, not sent");
    }

    #[test]
    fn an_invalid_header_value_is_a_500_that_names_the_header_and_not_the_value() {
        let error =
            Reply::new(()).header(header::LOCATION, "/notes/1\r\nSet-Cookie: evil=1").into_response().unwrap_err();
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(error.message().contains("header `location`"), "{}", error.message());
        assert!(!error.message().contains("evil"), "{}", error.message());
        // The first mistake is the one reported.
        let error = Reply::new(()).header("bad name", "x").header("x-ok", "\n").into_response().unwrap_err();
        assert!(error.message().contains("header name is not valid"), "{}", error.message());
    }

    #[test]
    fn framing_headers_and_informational_statuses_are_refused() {
        for name in ["content-length", "Transfer-Encoding", "connection", "keep-alive"] {
            let error = Reply::new(()).header(name, "5").into_response().unwrap_err();
            assert!(error.message().contains("frames the message"), "{name}: {}", error.message());
        }
        let error = Reply::new(()).status(StatusCode::SWITCHING_PROTOCOLS).into_response().unwrap_err();
        assert!(error.message().contains("status 101 is informational"), "{}", error.message());
    }

    #[test]
    fn header_replaces_and_append_header_adds() {
        let response = respond(
            Reply::new(1).header("x-a", "1").header("x-a", "2").append_header("vary", "a").append_header("vary", "b"),
        );
        assert_eq!(response.headers().get_all("x-a").iter().collect::<Vec<_>>(), ["2"]);
        assert_eq!(response.headers().get_all("vary").iter().collect::<Vec<_>>(), ["a", "b"]);
    }

    #[tokio::test]
    async fn a_stream_keeps_its_body_and_takes_the_reply_headers() {
        let (sender, events) = EventStream::channel(1);
        let response = respond(Reply::new(events).header("x-stream", "1").header(header::CACHE_CONTROL, "no-cache"));
        assert!(response.body().is_stream());
        assert_eq!(response.headers()[header::CONTENT_TYPE], "text/event-stream");
        assert_eq!(response.headers()["x-stream"], "1");
        assert_eq!(response.headers().get_all(header::CACHE_CONTROL).iter().collect::<Vec<_>>(), ["no-cache"]);
        drop(sender);
        assert!(body(response).await.is_empty());
    }
}
