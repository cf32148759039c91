//! The one response type of the test kit, and its assertions.

use bytes::Bytes;
use cookie::Cookie;
use http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use crate::request_id::REQUEST_ID_HEADER;

/// The keys the one JSON error shape may have (`payload` is optional).
const ERROR_KEYS: [&str; 4] = ["name", "message", "payload", "errorId"];

/// A response, fully read: what every transport of the kit gives back.
///
/// Accessors panic with the body in the message when the response is not what the test expects; the
/// `assert_*` methods check a whole contract at once.
#[derive(Debug, Clone)]
pub struct TestResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl TestResponse {
    pub(crate) fn new(status: StatusCode, headers: HeaderMap, body: Bytes) -> Self {
        Self { status, headers, body }
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// One header as text: the first, when it is repeated.
    ///
    /// # Panics
    /// When the value is not visible ASCII (no header of this framework is).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|value| value.to_str().unwrap_or_else(|_| panic!("header {name} is not visible ASCII: {value:?}")))
    }

    /// Every value of a header, in order.
    ///
    /// # Panics
    /// When a value is not visible ASCII.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .get_all(name)
            .iter()
            .map(|value| value.to_str().unwrap_or_else(|_| panic!("header {name} is not visible ASCII: {value:?}")))
            .collect()
    }

    /// The body.
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// The body as text (invalid UTF-8 replaced), for assertion messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON of type `T`.
    ///
    /// # Panics
    /// When the body is not JSON of that shape; the message has the status and the body.
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("the body is not the expected JSON ({e}); status {}: {}", self.status, self.text())
        })
    }

    /// The body as a JSON value, for indexing (`body["name"]`) and comparing with `json!(…)`.
    ///
    /// # Panics
    /// When the body is not JSON.
    pub fn json_value(&self) -> serde_json::Value {
        self.json()
    }

    /// The cookies this response sets, parsed from every `Set-Cookie` header in order.
    ///
    /// # Panics
    /// When a `Set-Cookie` header is not a cookie.
    pub fn set_cookies(&self) -> Vec<Cookie<'static>> {
        self.header_all(header::SET_COOKIE.as_str())
            .into_iter()
            .map(|line| Cookie::parse(line.to_owned()).unwrap_or_else(|e| panic!("Set-Cookie {line:?}: {e}")))
            .collect()
    }

    /// The last cookie named `name` this response sets (a removal too: check its value and `max_age`).
    ///
    /// # Panics
    /// When a `Set-Cookie` header is not a cookie.
    pub fn set_cookie(&self, name: &str) -> Option<Cookie<'static>> {
        self.set_cookies().into_iter().rev().find(|cookie| cookie.name() == name)
    }

    /// The value of cookie `name` this response sets; `None` when it sets none, or removes it (an empty
    /// value).
    ///
    /// # Panics
    /// When a `Set-Cookie` header is not a cookie.
    pub fn set_cookie_value(&self, name: &str) -> Option<String> {
        self.set_cookie(name).map(|cookie| cookie.value().to_owned()).filter(|value| !value.is_empty())
    }

    /// Asserts that the body is JSON equal to `expected` (`json!(…)`), and returns the response.
    ///
    /// # Panics
    /// When the body is not JSON, or differs; the message shows both and the status.
    #[track_caller]
    pub fn assert_json(&self, expected: &serde_json::Value) -> &Self {
        let actual: serde_json::Value = serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("the body is not JSON ({e}); status {}: {}", self.status, self.text()));
        assert_eq!(&actual, expected, "unexpected JSON body; status {}", self.status);
        self
    }

    /// Asserts a header's value (the first, when repeated), and returns the response.
    ///
    /// # Panics
    /// When the header is missing or differs.
    #[track_caller]
    pub fn assert_header(&self, name: &str, expected: &str) -> &Self {
        assert_eq!(self.header(name), Some(expected), "header {name}; status {}: {}", self.status, self.text());
        self
    }

    /// Asserts the status and returns the response, so more can follow.
    ///
    /// # Panics
    /// When the status differs; the message has the body.
    #[track_caller]
    pub fn assert_status(&self, expected: u16) -> &Self {
        assert_eq!(self.status.as_u16(), expected, "unexpected status; body: {}", self.text());
        self
    }

    /// Asserts an error response: `status`, a JSON body of the one error shape
    /// `{"name", "message", "payload"?, "errorId"}` with this `name` and a non-empty message, and an
    /// `errorId` equal to the `x-request-id` header. Returns the body for further checks.
    ///
    /// # Panics
    /// When any of that does not hold; the message has the body.
    #[track_caller]
    pub fn assert_error(&self, status: u16, name: &str) -> serde_json::Value {
        self.assert_status(status);
        assert_eq!(self.header("content-type"), Some("application/json"), "error bodies are JSON: {}", self.text());
        let body = self.json_value();
        let object = body.as_object().unwrap_or_else(|| panic!("an error body is an object: {body}"));
        assert_eq!(body["name"], name, "error name; body: {body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "a non-empty message: {body}");
        let error_id = body["errorId"].as_str().unwrap_or_else(|| panic!("errorId is a string: {body}"));
        assert!(!error_id.is_empty(), "a non-empty errorId: {body}");
        assert_eq!(Some(error_id), self.header(REQUEST_ID_HEADER), "errorId is the request id in {REQUEST_ID_HEADER}");
        for key in object.keys() {
            assert!(ERROR_KEYS.contains(&key.as_str()), "unexpected key {key} in {body}");
        }
        body
    }

    /// Asserts the error of input that does not fit the function's input type: 422
    /// `UnprocessableContentError` (see [`assert_error`](Self::assert_error)) whose `payload.field` is
    /// `field` and whose message names it. Returns the body.
    ///
    /// # Panics
    /// When any of that does not hold.
    #[track_caller]
    pub fn assert_invalid_field(&self, field: &str) -> serde_json::Value {
        let body = self.assert_error(422, "UnprocessableContentError");
        assert_eq!(body["payload"]["field"], field, "the field in the payload: {body}");
        assert!(body["message"].as_str().is_some_and(|m| m.contains(field)), "the message names {field}: {body}");
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> TestResponse {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
        }
        TestResponse::new(StatusCode::from_u16(status).unwrap(), map, Bytes::from(body.to_owned()))
    }

    fn error(body: &str, request_id: &str) -> TestResponse {
        response(404, &[("content-type", "application/json"), ("x-request-id", request_id)], body)
    }

    #[test]
    fn assert_error_accepts_the_one_shape_and_returns_the_body() {
        let ok = error(r#"{"name":"NotFoundError","message":"Not found","errorId":"r1"}"#, "r1");
        assert_eq!(ok.assert_error(404, "NotFoundError")["message"], "Not found");
        let with_payload = error(r#"{"name":"NotFoundError","message":"m","payload":{"a":1},"errorId":"r1"}"#, "r1");
        assert_eq!(with_payload.assert_error(404, "NotFoundError")["payload"]["a"], 1);
    }

    #[test]
    #[should_panic(expected = "errorId is the request id")]
    fn assert_error_refuses_an_error_id_that_is_not_the_request_id() {
        error(r#"{"name":"NotFoundError","message":"m","errorId":"r1"}"#, "r2").assert_error(404, "NotFoundError");
    }

    #[test]
    #[should_panic(expected = "unexpected key stack")]
    fn assert_error_refuses_extra_keys() {
        let body = r#"{"name":"NotFoundError","message":"m","errorId":"r1","stack":"at ..."}"#;
        error(body, "r1").assert_error(404, "NotFoundError");
    }

    #[test]
    #[should_panic(expected = "error name")]
    fn assert_error_checks_the_name() {
        error(r#"{"name":"NotFoundError","message":"m","errorId":"r1"}"#, "r1").assert_error(404, "ForbiddenError");
    }

    #[test]
    fn assert_invalid_field_checks_the_payload_and_the_message() {
        let body = r#"{"name":"UnprocessableContentError","message":"`limit`: invalid digit","payload":{"field":"limit"},"errorId":"r1"}"#;
        let response = response(422, &[("content-type", "application/json"), ("x-request-id", "r1")], body);
        response.assert_invalid_field("limit");
        let other = std::panic::catch_unwind(|| response.assert_invalid_field("text"));
        assert!(other.is_err(), "another field is refused");
    }

    #[test]
    #[should_panic(expected = "unexpected status; body: nope")]
    fn assert_status_shows_the_body() {
        response(500, &[], "nope").assert_status(200);
    }

    #[test]
    fn set_cookies_are_parsed_in_order_and_found_by_name() {
        let removal = "session=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Path=/";
        let response = response(200, &[("set-cookie", "theme=dark; Path=/"), ("set-cookie", removal)], "");
        let names: Vec<String> = response.set_cookies().iter().map(|c| c.name().to_owned()).collect();
        assert_eq!(names, ["theme", "session"]);
        let session = response.set_cookie("session").expect("the session cookie");
        assert_eq!(session.value(), "");
        assert_eq!(session.max_age(), Some(cookie::time::Duration::ZERO));
        assert_eq!(session.expires_datetime().map(|t| t.unix_timestamp()), Some(0));
        assert!(response.set_cookie("other").is_none());
        assert_eq!(response.set_cookie_value("theme").as_deref(), Some("dark"));
        assert_eq!(response.set_cookie_value("session"), None, "a removal has no value");
        assert_eq!(response.header_all("set-cookie")[1], removal);
    }

    #[test]
    fn assert_json_and_assert_header_chain_after_the_status() {
        let response = response(201, &[("location", "/notes/7")], r#"{"id":7}"#);
        response.assert_status(201).assert_header("location", "/notes/7").assert_json(&serde_json::json!({"id": 7}));
        let wrong = std::panic::catch_unwind(|| response.assert_json(&serde_json::json!({"id": 8})));
        assert!(wrong.is_err(), "another body is refused");
        let missing = std::panic::catch_unwind(|| response.assert_header("etag", "x"));
        assert!(missing.is_err(), "a missing header is refused");
    }

    #[test]
    fn json_reads_typed_and_untyped() {
        let response = response(200, &[], r#"{"n":3}"#);
        #[derive(serde::Deserialize)]
        struct N {
            n: u32,
        }
        assert_eq!(response.json::<N>().n, 3);
        assert_eq!(response.json_value(), serde_json::json!({"n": 3}));
    }
}
