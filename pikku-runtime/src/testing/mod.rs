//! The test kit: send requests to an application in-process or over a loopback socket, and assert on the
//! one response type both give back. Application authors use it for their own tests, and so does every
//! test crate of this workspace.
//!
//! Exists with the `testing` feature (off by default); enable it for tests only:
//!
//! ```toml
//! [dev-dependencies]
//! pikku = { version = "0.1", features = ["testing"] }
//! ```
//!
//! | Transport | Where the request goes |
//! |---|---|
//! | [`TestClient`] | through the same pipeline the server runs, without a socket |
//! | [`TestServer`] | a server spawned on `127.0.0.1:0`; a fresh connection per request |
//! | [`HttpClient`] | any address (a process the test started); a fresh connection per request |
//! | [`Connection`] | one keep-alive connection, for tests of what happens between requests |
//!
//! Each has `get`, `post`, `put`, `patch`, `delete` and `request`, returning a [`TestRequest`]; its
//! [`send`](TestRequest::send) gives a [`TestResponse`]. Each has `with_cookies()` too: a [`CookieClient`]
//! whose [`CookieJar`] follows `Set-Cookie` across requests. Every network wait of the kit is bounded by
//! [`WAIT`]; wrap a test's own waits in [`within`]. To see the application's logs in a test, call
//! [`init_test_logs`]; to assert on them, start a [`LogCapture`].
//!
//! ```
//! # async fn demo<Sv: Send + Sync + 'static, S: Clone + Send + Sync + 'static>(server: pikku_runtime::Server<Sv, S>) {
//! use pikku_runtime::testing::{TestClient, TestServer};
//!
//! let in_process = TestClient::new(server.clone());
//! in_process.get("/health").send().await.assert_status(200);
//!
//! let over_http = TestServer::start(server).await;
//! let response = over_http.get("/nowhere").header("x-request-id", "abc").send().await;
//! let body = response.assert_error(404, "NotFoundError");
//! assert_eq!(body["errorId"], "abc");
//! # }
//! ```

use std::future::Future;
use std::panic::Location;
use std::time::Duration;

use bytes::Bytes;

use crate::middleware::BoxFuture;

mod client;
mod cookies;
mod logs;
mod request;
mod response;
mod socket;

pub use client::TestClient;
pub use cookie::Cookie;
pub use cookies::{CookieClient, CookieJar};
pub use logs::{init_test_logs, LogCapture};
pub use request::{TestRequest, API_KEY_HEADER, API_KEY_QUERY};
pub use response::TestResponse;
pub use socket::{Connection, HttpClient, TestServer};

/// How long each network step of the kit (connect, handshake, one response) may take before the test
/// fails: generous for a loaded CI machine, short enough that a hang fails the test instead of stalling
/// the suite.
pub const WAIT: Duration = Duration::from_secs(10);

/// Awaits `future`, failing the test when it takes longer than `limit`.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// use std::time::Duration;
/// use pikku_runtime::testing::within;
///
/// let answer = within(Duration::from_secs(1), "the answer", async { 42 }).await;
/// assert_eq!(answer, 42);
/// # });
/// ```
///
/// # Panics
/// When `limit` passes first; the message names `what` and the caller's location. Needs a Tokio runtime
/// with time enabled.
#[track_caller]
pub fn within<F: Future>(limit: Duration, what: &str, future: F) -> impl Future<Output = F::Output> {
    // Taken now: `#[track_caller]` does not reach into the async block.
    let caller = Location::caller();
    let what = what.to_owned();
    async move {
        match tokio::time::timeout(limit, future).await {
            Ok(output) => output,
            Err(_) => panic!("timed out after {limit:?} at {caller}: {what}"),
        }
    }
}

/// Runs an async test body to its end on a fresh single-threaded Tokio runtime: a plain `#[test]` needs
/// no `tokio` dev-dependency. A [`TestServer`] started inside runs on the same thread, so a [`LogCapture`]
/// sees its lines. `#[tokio::test]` (with `tokio` as a dev-dependency, features `macros` and `rt`) does the
/// same.
///
/// ```
/// pikku_runtime::testing::block_on(async {
///     tokio::task::yield_now().await;
/// });
/// ```
///
/// # Panics
/// When the runtime cannot be built (the system is out of threads or file descriptors), or when `future`
/// panics.
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime for the test")
        .block_on(future)
}

/// The client address a [`TestRequest`] asks for, carried to the in-process [`TestClient`] in the request's
/// extensions (the test kit's own channel; the server does not read extensions).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddr(pub(crate) std::net::IpAddr);

mod sealed {
    pub trait Sealed {}
}

/// Where a [`TestRequest`] goes: implemented by [`TestClient`], [`TestServer`], [`HttpClient`] and
/// [`Connection`] only. Name it to write a helper that works with any of them:
///
/// ```
/// use pikku_runtime::testing::{TestResponse, Transport};
///
/// async fn health<T: Transport>(transport: &T) -> TestResponse {
///     pikku_runtime::testing::TestRequest::new(transport, pikku_runtime::Method::GET, "/health").send().await
/// }
/// ```
pub trait Transport: sealed::Sealed {
    /// Sends `request` and reads the whole response.
    #[doc(hidden)]
    fn exchange(&self, request: http::Request<Bytes>) -> BoxFuture<'_, TestResponse>;
}

/// The request methods every transport has, returning a [`TestRequest`], and `with_cookies`.
macro_rules! request_methods {
    () => {
        /// A client of this transport that keeps cookies: see [`CookieClient`](crate::testing::CookieClient).
        pub fn with_cookies(&self) -> crate::testing::CookieClient<'_, Self>
        where
            Self: Sync,
        {
            crate::testing::CookieClient::new(self)
        }

        crate::testing::request_methods!(without_cookies);
    };
    (without_cookies) => {
        /// A request with any method; add to it, then [`send`](crate::testing::TestRequest::send) it.
        pub fn request(&self, method: ::http::Method, uri: &str) -> crate::testing::TestRequest<'_, Self> {
            crate::testing::TestRequest::new(self, method, uri)
        }

        /// A `GET` request.
        pub fn get(&self, uri: &str) -> crate::testing::TestRequest<'_, Self> {
            self.request(::http::Method::GET, uri)
        }

        /// A `POST` request.
        pub fn post(&self, uri: &str) -> crate::testing::TestRequest<'_, Self> {
            self.request(::http::Method::POST, uri)
        }

        /// A `PUT` request.
        pub fn put(&self, uri: &str) -> crate::testing::TestRequest<'_, Self> {
            self.request(::http::Method::PUT, uri)
        }

        /// A `PATCH` request.
        pub fn patch(&self, uri: &str) -> crate::testing::TestRequest<'_, Self> {
            self.request(::http::Method::PATCH, uri)
        }

        /// A `DELETE` request.
        pub fn delete(&self, uri: &str) -> crate::testing::TestRequest<'_, Self> {
            self.request(::http::Method::DELETE, uri)
        }
    };
}
pub(crate) use request_methods;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    #[should_panic(expected = "src/testing/mod.rs")]
    async fn within_names_the_caller_when_the_wait_is_over() {
        within(Duration::from_millis(10), "a wait that never ends", std::future::pending::<()>()).await;
    }

    #[tokio::test]
    #[should_panic(expected = "timed out after 10ms")]
    async fn within_says_how_long_it_waited_and_for_what() {
        within(Duration::from_millis(10), "a wait that never ends", std::future::pending::<()>()).await;
    }
}
