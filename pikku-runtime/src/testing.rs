//! An in-process test client: requests run through the exact pipeline the server uses, without a socket.
//!
//! ```
//! # async fn demo<Sv: Send + Sync + 'static, S: Clone + Send + Sync + 'static>(server: pikku_runtime::Server<Sv, S>) {
//! let client = pikku_runtime::TestClient::new(server);
//! let response = client.get("/health").send().await;
//! assert_eq!(response.status(), 200);
//! # }
//! ```

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::middleware::RequestBody;
use crate::pipeline::dispatch;
use crate::server::Server;

/// Sends requests to a [`Server`] in-process.
pub struct TestClient<Sv, S> {
    server: Server<Sv, S>,
}

impl<Sv: Send + Sync + 'static, S: Clone + Send + Sync + 'static> TestClient<Sv, S> {
    /// A client of `server`.
    pub fn new(server: Server<Sv, S>) -> Self {
        Self { server }
    }

    /// A request with any method.
    pub fn request(&self, method: Method, uri: &str) -> TestRequest<'_, Sv, S> {
        TestRequest { client: self, builder: http::Request::builder().method(method).uri(uri), body: Bytes::new() }
    }

    /// A `GET` request.
    pub fn get(&self, uri: &str) -> TestRequest<'_, Sv, S> {
        self.request(Method::GET, uri)
    }

    /// A `POST` request.
    pub fn post(&self, uri: &str) -> TestRequest<'_, Sv, S> {
        self.request(Method::POST, uri)
    }

    /// A `PUT` request.
    pub fn put(&self, uri: &str) -> TestRequest<'_, Sv, S> {
        self.request(Method::PUT, uri)
    }

    /// A `DELETE` request.
    pub fn delete(&self, uri: &str) -> TestRequest<'_, Sv, S> {
        self.request(Method::DELETE, uri)
    }
}

/// A request being built.
pub struct TestRequest<'c, Sv, S> {
    client: &'c TestClient<Sv, S>,
    builder: http::request::Builder,
    body: Bytes,
}

impl<Sv: Send + Sync + 'static, S: Clone + Send + Sync + 'static> TestRequest<'_, Sv, S> {
    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.builder = self.builder.header(name, value);
        self
    }

    /// A JSON body with its content type.
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        self.body = Bytes::from(serde_json::to_vec(value).expect("test body serialises"));
        self.builder = self.builder.header(http::header::CONTENT_TYPE, "application/json");
        self
    }

    /// A raw body (set the content type yourself).
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Runs the request through the pipeline.
    pub async fn send(self) -> TestResponse {
        let mut builder = self.builder;
        if !self.body.is_empty() {
            builder = builder.header(http::header::CONTENT_LENGTH, self.body.len());
        }
        let request = builder.body(RequestBody::Buffered(self.body)).expect("a valid test request");
        let inner = &self.client.server.inner;
        let response = dispatch(&inner.registry, &inner.services, request).await;
        let (head, body) = response.into_parts();
        let body = body.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
        TestResponse { status: head.status, headers: head.headers, body }
    }
}

/// A response, fully read.
#[derive(Debug, Clone)]
pub struct TestResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl TestResponse {
    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// One header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(HeaderName::from_bytes(name.as_bytes()).ok()?).and_then(|v: &HeaderValue| v.to_str().ok())
    }

    /// The body bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// The body parsed as JSON.
    ///
    /// # Panics
    /// When the body is not JSON of that shape (this is a test helper).
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not the expected JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}
