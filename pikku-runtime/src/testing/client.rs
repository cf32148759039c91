//! The in-process client: requests run through the exact pipeline the server uses, without a socket.

use std::fmt;

use bytes::Bytes;
use http_body_util::BodyExt;

use super::{request_methods, sealed, ClientAddr, TestResponse, Transport};
use crate::middleware::{BoxFuture, RequestBody};
use crate::server::Server;

/// Sends requests to a [`Server`] in-process: routing, middleware, the auth gate, input, permissions,
/// the function and `x-request-id`, exactly as for a request read from a socket, minus HTTP parsing.
///
/// ```
/// # async fn demo<Sv: Send + Sync + 'static, S: Clone + Send + Sync + 'static>(server: pikku_runtime::Server<Sv, S>) {
/// let client = pikku_runtime::testing::TestClient::new(server);
/// let response = client.get("/health").send().await;
/// assert_eq!(response.status(), 200);
/// # }
/// ```
pub struct TestClient<Sv, S> {
    server: Server<Sv, S>,
}

impl<Sv, S> fmt::Debug for TestClient<Sv, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestClient").finish_non_exhaustive()
    }
}

impl<Sv: Send + Sync + 'static, S: Clone + Send + Sync + 'static> TestClient<Sv, S> {
    /// A client of `server`.
    pub fn new(server: Server<Sv, S>) -> Self {
        Self { server }
    }

    /// The server this client sends to.
    pub fn server(&self) -> &Server<Sv, S> {
        &self.server
    }

    request_methods!();
}

impl<Sv, S> sealed::Sealed for TestClient<Sv, S> {}

impl<Sv: Send + Sync + 'static, S: Clone + Send + Sync + 'static> Transport for TestClient<Sv, S> {
    fn exchange(&self, request: http::Request<Bytes>) -> BoxFuture<'_, TestResponse> {
        Box::pin(async move {
            let client_addr = request.extensions().get::<ClientAddr>().map(|addr| addr.0);
            let response = self.server.dispatch_from(request.map(RequestBody::Buffered), client_addr).await;
            let (head, body) = response.into_parts();
            // A streamed body is read to its end: a test of an endless event stream reads it over a socket.
            let body = match body.collect().await {
                Ok(body) => body.to_bytes(),
                Err(e) => panic!("the response body of {} failed while streaming: {e}", head.status),
            };
            TestResponse::new(head.status, head.headers, body)
        })
    }
}
