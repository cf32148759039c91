//! The one error type every failure becomes, and its JSON shape.
//!
//! Every error response is `{"name", "message", "payload"?, "errorId"}` (docs/request-pipeline.md, Errors), with the status
//! the error carries. 5xx bodies never carry the real message: it goes to the log, the client gets a
//! generic sentence, so internal details (SQL, paths, secrets in a connection string) never leak.

use std::borrow::Cow;
use std::time::Duration;

use http::{header, HeaderName, HeaderValue, StatusCode};
use serde::Serialize;

use crate::request_id::RequestId;
use crate::response::{json_response, Response};

/// An error with its HTTP status, a stable machine-readable name and a message for the client.
///
/// Application error types declare their own status and name by converting into it:
///
/// ```
/// use pikku_runtime::{PikkuError, StatusCode};
///
/// enum NotesError { Duplicate }
///
/// impl From<NotesError> for PikkuError {
///     fn from(e: NotesError) -> Self {
///         match e {
///             NotesError::Duplicate => PikkuError::new(StatusCode::CONFLICT, "DuplicateNoteError", "note exists"),
///         }
///     }
/// }
/// ```
#[derive(Debug, Clone)]
pub struct PikkuError {
    status: StatusCode,
    name: Cow<'static, str>,
    message: Cow<'static, str>,
    payload: Option<serde_json::Value>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

/// Generic text sent in place of the message of any 5xx error.
const GENERIC_5XX_MESSAGE: &str = "The server could not complete the request";

impl PikkuError {
    /// An error with any status, name and client-facing message.
    pub fn new(status: StatusCode, name: impl Into<Cow<'static, str>>, message: impl Into<Cow<'static, str>>) -> Self {
        Self { status, name: name.into(), message: message.into(), payload: None, headers: Vec::new() }
    }

    /// Attaches a JSON payload that is sent as `payload` (not for 5xx errors, whose body is generic).
    #[must_use]
    pub fn with_payload(mut self, payload: serde_json::Value) -> Self {
        self.payload = Some(payload);
        self
    }

    /// Adds a response header (for example `WWW-Authenticate` or `Allow`).
    #[must_use]
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Adds `Retry-After` (RFC 9110 §10.2.3) in whole seconds, rounded up and at least 1: a client told
    /// "0" or a shorter wait than the real one would come back too early.
    ///
    /// ```
    /// use std::time::Duration;
    /// use pikku_runtime::PikkuError;
    ///
    /// let error = PikkuError::too_many_requests("slow down").with_retry_after(Duration::from_millis(1500));
    /// assert_eq!(error.status(), 429);
    /// ```
    #[must_use]
    pub fn with_retry_after(self, retry_after: Duration) -> Self {
        let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        self.with_header(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)))
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The error's name, such as `NotFoundError`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The message (for 5xx errors, the detail that is logged but not sent).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// 400 `BadRequestError`.
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequestError", message)
    }

    /// 401 `MissingSessionError`: the function needs a session and none was presented. The
    /// `WWW-Authenticate` challenge is the strategies' to add: only they know their schemes.
    pub fn missing_session() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "MissingSessionError", "Authentication required")
    }

    /// 401 `InvalidSessionError`: a credential was presented but is not valid.
    pub fn invalid_session(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "InvalidSessionError", message)
    }

    /// 401 `UnauthorizedError`.
    pub fn unauthorized(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UnauthorizedError", message)
    }

    /// 403 `ForbiddenError`.
    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "ForbiddenError", message)
    }

    /// 403 `ForbiddenError` with the message `Permission denied`.
    pub fn permission_denied() -> Self {
        Self::forbidden("Permission denied")
    }

    /// 404 `NotFoundError`.
    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFoundError", message)
    }

    /// 405 `MethodNotAllowedError` with the `Allow` header listing what the path accepts.
    pub fn method_not_allowed(allow: HeaderValue) -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowedError", "Method not allowed")
            .with_header(header::ALLOW, allow)
    }

    /// 408 `RequestTimeoutError`: the client did not send the request in time.
    pub fn request_timeout(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::REQUEST_TIMEOUT, "RequestTimeoutError", message)
    }

    /// 409 `ConflictError`.
    pub fn conflict(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::CONFLICT, "ConflictError", message)
    }

    /// 413 `PayloadTooLargeError`.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLargeError",
            format!("The request body exceeds the limit of {limit} bytes"),
        )
    }

    /// 415 `UnsupportedMediaTypeError`.
    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaTypeError",
            "The request body must be JSON (Content-Type: application/json)",
        )
    }

    /// 422 `UnprocessableContentError`.
    pub fn unprocessable(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "UnprocessableContentError", message)
    }

    /// 422 `UnprocessableContentError` about one input field, named in the message and as
    /// `payload.field`.
    pub fn invalid_field(field: &str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::unprocessable(message).with_payload(serde_json::json!({ "field": field }))
    }

    /// 429 `TooManyRequestsError`.
    pub fn too_many_requests(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "TooManyRequestsError", message)
    }

    /// 500 `InternalServerError`; `detail` is logged, never sent.
    pub fn internal(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", detail)
    }

    /// 503 `ServiceUnavailableError`; `detail` is logged, never sent.
    pub fn service_unavailable(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailableError", detail)
    }

    /// 503 `ServiceUnavailableError` with `Retry-After`: the server is out of a resource for now (`detail`
    /// is logged, never sent); the client may retry after `retry_after`, rounded up to whole seconds.
    pub fn service_unavailable_retry_after(detail: impl Into<Cow<'static, str>>, retry_after: Duration) -> Self {
        Self::service_unavailable(detail).with_retry_after(retry_after)
    }

    /// Renders the JSON response, logging server errors with the request id.
    #[allow(clippy::missing_panics_doc)] // the `expect` states an invariant, it cannot fail
    pub fn into_response(self, request_id: &RequestId) -> Response {
        let server_error = self.status.is_server_error();
        if server_error {
            tracing::error!(request_id = %request_id, status = self.status.as_u16(), name = %self.name, detail = %self.message, "request failed");
        }
        let body = ErrorBody {
            name: &self.name,
            message: if server_error { GENERIC_5XX_MESSAGE } else { &self.message },
            payload: if server_error { None } else { self.payload.as_ref() },
            error_id: request_id.as_str(),
        };
        let mut response = json_response(self.status, &body).expect("error bodies are plain strings and JSON");
        let headers = response.headers_mut();
        for (name, value) in self.headers {
            headers.append(name, value);
        }
        response
    }
}

impl std::fmt::Display for PikkuError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.name, self.status.as_u16(), self.message)
    }
}

impl std::error::Error for PikkuError {}

#[derive(Serialize)]
struct ErrorBody<'a> {
    name: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<&'a serde_json::Value>,
    #[serde(rename = "errorId")]
    error_id: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body_json(response: Response) -> serde_json::Value {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn client_error_body_has_name_message_payload_and_error_id() {
        let id = RequestId::parse("req-1").unwrap();
        let err = PikkuError::unprocessable("bad `limit`").with_payload(serde_json::json!({"field": "limit"}));
        let response = err.into_response(&id);
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let body = body_json(response).await;
        assert_eq!(
            body,
            serde_json::json!({"name": "UnprocessableContentError", "message": "bad `limit`", "payload": {"field": "limit"}, "errorId": "req-1"})
        );
    }

    #[tokio::test]
    async fn server_error_body_is_generic_and_hides_the_detail() {
        let id = RequestId::parse("req-2").unwrap();
        let response = PikkuError::internal("db password=hunter2 refused")
            .with_payload(serde_json::json!({"secret": 1}))
            .into_response(&id);
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = body_json(response).await;
        assert_eq!(body["message"], GENERIC_5XX_MESSAGE);
        assert!(body.get("payload").is_none());
        assert!(!body.to_string().contains("hunter2"));
    }

    #[tokio::test]
    async fn request_timeout_is_408_with_the_error_shape() {
        let id = RequestId::parse("req-3").unwrap();
        let response = PikkuError::request_timeout("too slow").into_response(&id);
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
        let body = body_json(response).await;
        assert_eq!(body, serde_json::json!({"name": "RequestTimeoutError", "message": "too slow", "errorId": "req-3"}));
    }

    #[test]
    fn service_unavailable_says_when_to_retry_in_whole_seconds() {
        let id = RequestId::parse("x").unwrap();
        let after = |retry_after| {
            let response = PikkuError::service_unavailable_retry_after("out of room", retry_after).into_response(&id);
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            response.headers()[header::RETRY_AFTER].to_str().unwrap().to_owned()
        };
        assert_eq!(after(Duration::from_secs(2)), "2");
        assert_eq!(after(Duration::from_millis(1500)), "2");
        assert_eq!(after(Duration::ZERO), "1");
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up_and_at_least_one() {
        let id = RequestId::parse("x").unwrap();
        for (wait, expected) in [(0, "1"), (1, "1"), (999, "1"), (1000, "1"), (1001, "2"), (180_000, "180")] {
            let response = PikkuError::too_many_requests("slow down")
                .with_retry_after(Duration::from_millis(wait))
                .into_response(&id);
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
            assert_eq!(response.headers()[header::RETRY_AFTER], expected, "{wait} ms");
        }
    }

    #[test]
    fn method_not_allowed_carries_allow_header() {
        let id = RequestId::parse("x").unwrap();
        let response = PikkuError::method_not_allowed(HeaderValue::from_static("GET, HEAD")).into_response(&id);
        assert_eq!(response.headers()[header::ALLOW], "GET, HEAD");
    }
}
