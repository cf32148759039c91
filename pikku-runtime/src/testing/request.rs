//! A request being built, for any transport.

use std::fmt;
use std::net::IpAddr;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderName, HeaderValue, Method};
use serde::Serialize;

use super::{ClientAddr, TestResponse, Transport};

/// The header [`TestRequest::api_key`] sends: where pikku-auth's `auth_api_key` looks first.
pub const API_KEY_HEADER: &str = "x-api-key";
/// The query parameter [`TestRequest::api_key_in_query`] adds: where `auth_api_key` looks second.
pub const API_KEY_QUERY: &str = "apiKey";

/// What a query parameter's value may keep as it is: RFC 3986's unreserved characters.
const QUERY_VALUE: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// A request being built; [`send`](Self::send) it through the transport that made it. Cheap to clone, so
/// one request can be sent twice or through two transports' helpers.
///
/// ```
/// # async fn demo(server: &pikku_runtime::testing::TestServer) {
/// let response = server
///     .post("/users/u1/notes")
///     .bearer("eyJ...")
///     .header("x-request-id", "note-1")
///     .json(&serde_json::json!({"text": "hi"}))
///     .send()
///     .await;
/// # }
/// ```
pub struct TestRequest<'t, T: ?Sized> {
    transport: &'t T,
    method: Method,
    uri: String,
    headers: HeaderMap,
    body: Bytes,
    client_addr: Option<IpAddr>,
}

impl<T: ?Sized> Clone for TestRequest<'_, T> {
    fn clone(&self) -> Self {
        Self {
            transport: self.transport,
            method: self.method.clone(),
            uri: self.uri.clone(),
            headers: self.headers.clone(),
            body: self.body.clone(),
            client_addr: self.client_addr,
        }
    }
}

impl<T: ?Sized> fmt::Debug for TestRequest<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestRequest")
            .field("method", &self.method)
            .field("uri", &self.uri)
            .field("headers", &self.headers)
            .field("body", &String::from_utf8_lossy(&self.body))
            .field("client_addr", &self.client_addr)
            .finish()
    }
}

impl<'t, T: Transport + ?Sized> TestRequest<'t, T> {
    /// A request with `method` for `uri` (a path with an optional query), to be sent through
    /// `transport`. The transports' `get`, `post`, … are shorter.
    pub fn new(transport: &'t T, method: Method, uri: &str) -> Self {
        Self {
            transport,
            method,
            uri: uri.to_owned(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            client_addr: None,
        }
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The URI as given.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The headers so far.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// Appends a header (a repeated name is sent repeated).
    ///
    /// # Panics
    /// When `name` or `value` is not valid in an HTTP header: a mistake in the test.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let name = HeaderName::from_bytes(name.as_bytes()).unwrap_or_else(|e| panic!("header name {name:?}: {e}"));
        let value = HeaderValue::from_str(value).unwrap_or_else(|e| panic!("header {name}: value {value:?}: {e}"));
        self.headers.append(name, value);
        self
    }

    /// `Authorization: Bearer <token>`.
    ///
    /// # Panics
    /// When `token` is not valid in a header.
    #[must_use]
    pub fn bearer(self, token: &str) -> Self {
        self.header(header::AUTHORIZATION.as_str(), &format!("Bearer {token}"))
    }

    /// `x-api-key: <key>`: the header form of pikku-auth's `auth_api_key`.
    ///
    /// # Panics
    /// When `key` is not valid in a header.
    #[must_use]
    pub fn api_key(self, key: &str) -> Self {
        self.header(API_KEY_HEADER, key)
    }

    /// Adds `apiKey=<key>` (percent-encoded) to the query: the query form of `auth_api_key`. Other query
    /// parameters of the URI are kept.
    ///
    /// ```
    /// # fn demo<T: pikku_runtime::testing::Transport>(transport: &T) {
    /// use pikku_runtime::testing::TestRequest;
    /// let request = TestRequest::new(transport, pikku_runtime::Method::GET, "/notes?limit=5").api_key_in_query("k 1");
    /// assert_eq!(request.uri(), "/notes?limit=5&apiKey=k%201");
    /// # }
    /// ```
    #[must_use]
    pub fn api_key_in_query(mut self, key: &str) -> Self {
        let encoded = percent_encoding::utf8_percent_encode(key, QUERY_VALUE);
        let separator = match self.uri.split_once('?') {
            None => "?",
            Some((_, "")) => "",
            Some(_) => "&",
        };
        self.uri = format!("{}{separator}{API_KEY_QUERY}={encoded}", self.uri);
        self
    }

    /// Adds the cookie `name=value` to the request's one `Cookie` header (RFC 6265 section 5.4: a client
    /// sends one), creating it on the first call.
    ///
    /// # Panics
    /// When the pair is not valid in a header.
    #[must_use]
    pub fn cookie(mut self, name: &str, value: &str) -> Self {
        let pair = format!("{name}={value}");
        let line = match self.headers.remove(header::COOKIE) {
            Some(existing) => format!("{}; {pair}", existing.to_str().expect("the Cookie header is text")),
            None => pair,
        };
        let value = HeaderValue::from_str(&line).unwrap_or_else(|e| panic!("cookie {line:?}: {e}"));
        self.headers.insert(header::COOKIE, value);
        self
    }

    /// Sets header `name` to `value` as JSON text: the credential of the development strategy
    /// `auth_dev_header` (pikku-auth's `testing` module), for example.
    ///
    /// # Panics
    /// When `value` does not serialise or `name` is not a header name.
    #[must_use]
    pub fn json_header<V: Serialize + ?Sized>(self, name: &str, value: &V) -> Self {
        let text = serde_json::to_string(value).unwrap_or_else(|e| panic!("header {name}: {e}"));
        self.header(name, &text)
    }

    /// A JSON body with `Content-Type: application/json`.
    ///
    /// # Panics
    /// When `value` does not serialise.
    #[must_use]
    pub fn json<V: Serialize + ?Sized>(mut self, value: &V) -> Self {
        self.body = Bytes::from(serde_json::to_vec(value).expect("the test body serialises"));
        self.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        self
    }

    /// A body with its content type.
    ///
    /// # Panics
    /// When `content_type` is not valid in a header.
    #[must_use]
    pub fn body_with_type(self, content_type: &str, body: impl Into<Bytes>) -> Self {
        self.header(header::CONTENT_TYPE.as_str(), content_type).body(body)
    }

    /// A raw body; set its content type with [`header`](Self::header), or use
    /// [`body_with_type`](Self::body_with_type).
    #[must_use]
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Sends the request as if it came from `addr`: the function sees it as
    /// [`Context::client_addr`](crate::Context::client_addr), middleware as
    /// [`Request::client_addr`](crate::Request::client_addr). For the in-process [`TestClient`](super::TestClient)
    /// only: over a socket the address is the loopback one (test proxies with `X-Forwarded-For` and
    /// `ServerConfig::trusted_proxies` there).
    ///
    /// ```
    /// # async fn demo<Sv: Send + Sync + 'static, S: Clone + Send + Sync + 'static>(client: pikku_runtime::testing::TestClient<Sv, S>) {
    /// let response = client.post("/login").client_addr("203.0.113.7".parse().unwrap()).send().await;
    /// # }
    /// ```
    #[must_use]
    pub fn client_addr(mut self, addr: IpAddr) -> Self {
        self.client_addr = Some(addr);
        self
    }

    /// Sends the request and reads the whole response. A non-empty body is sent with its
    /// `Content-Length`.
    ///
    /// # Panics
    /// When the URI is invalid, or (over a socket) when the server cannot be reached or does not answer
    /// within [`WAIT`](super::WAIT), or when a [`client_addr`](Self::client_addr) is given for a socket.
    pub async fn send(self) -> TestResponse {
        let mut request = http::Request::builder()
            .method(self.method)
            .uri(&self.uri)
            .body(self.body)
            .unwrap_or_else(|e| panic!("test request URI {:?}: {e}", self.uri));
        *request.headers_mut() = self.headers;
        if let Some(addr) = self.client_addr {
            request.extensions_mut().insert(ClientAddr(addr));
        }
        if !request.body().is_empty() {
            let length = HeaderValue::from(request.body().len());
            request.headers_mut().insert(header::CONTENT_LENGTH, length);
        }
        self.transport.exchange(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::HttpClient;

    #[test]
    fn api_key_in_query_joins_the_query_and_encodes_the_key() {
        let client = HttpClient::new(([127, 0, 0, 1], 9).into());
        assert_eq!(client.get("/me").api_key_in_query("k1").uri(), "/me?apiKey=k1");
        assert_eq!(client.get("/me?").api_key_in_query("k1").uri(), "/me?apiKey=k1");
        assert_eq!(client.get("/me?limit=1").api_key_in_query("a&b=c").uri(), "/me?limit=1&apiKey=a%26b%3Dc");
        assert_eq!(client.get("/me").api_key_in_query("test-key_1.~").uri(), "/me?apiKey=test-key_1.~");
    }

    #[test]
    fn api_key_sets_the_header_auth_api_key_reads() {
        let client = HttpClient::new(([127, 0, 0, 1], 9).into());
        let request = client.get("/me").api_key("test-key-1");
        assert_eq!(request.headers().get(API_KEY_HEADER).unwrap(), "test-key-1");
    }
}
