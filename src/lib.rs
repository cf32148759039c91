#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use pikku_macros::{pikku_auth, pikku_func, pikku_middleware, pikku_permission, pikku_wiring};
pub use pikku_runtime::*;

/// Authentication: the JWT service, the bearer / cookie / API-key strategies, session stores.
#[doc(inline)]
pub use ::pikku_auth as auth;

/// The test kit (feature `testing`, for `[dev-dependencies]` only): [`TestClient`](testing::TestClient)
/// in-process, [`TestServer`](testing::TestServer) and [`HttpClient`](testing::HttpClient) over loopback
/// sockets, the one [`TestResponse`](testing::TestResponse) with its assertions, a
/// [`CookieJar`](testing::CookieJar) that follows `Set-Cookie` ([`with_cookies()`](testing::CookieClient)),
/// logs in tests ([`init_test_logs`](testing::init_test_logs), [`LogCapture`](testing::LogCapture)), token
/// forging ([`TokenForger`](testing::TokenForger), [`tamper`](testing::tamper)) and the development strategy
/// [`auth_dev_header`](testing::auth_dev_header). The authentication half is also at `pikku::auth::testing`.
/// A test file starts with `use pikku::testing::prelude::*;`.
#[cfg(feature = "testing")]
pub mod testing {
    pub use pikku_auth::testing::*;
    pub use pikku_runtime::testing::*;

    /// Everything a test file needs: `use pikku::testing::prelude::*;` brings the application prelude
    /// ([`crate::prelude`]), the clients and the response, the cookie jar, the log helpers, the development
    /// strategy and token forging, [`Method`], [`StatusCode`], [`header`] names and `json!`.
    pub mod prelude {
        pub use crate::prelude::*;
        pub use pikku_auth::testing::{auth_dev_header, TokenForger, DEV_SESSION_HEADER};
        /// `json!({..})`: serde_json's macro, for request bodies and expected responses.
        pub use pikku_runtime::__private::serde_json::json;
        pub use pikku_runtime::testing::{
            block_on, init_test_logs, within, Cookie, CookieClient, CookieJar, HttpClient, LogCapture, TestClient,
            TestResponse, TestServer, WAIT,
        };
        pub use pikku_runtime::{header, HeaderMap, HeaderValue, Method, StatusCode};
    }
}

/// Everything an application file needs: `use pikku::prelude::*;`.
pub mod prelude {
    pub use pikku_macros::{pikku_auth, pikku_func, pikku_middleware, pikku_permission, pikku_wiring};
    pub use pikku_runtime::{
        App, Context, Next, OptionalContext, PikkuError, Reply, Request, Response, SessionChange, SharedMiddleware,
        StatusCode, Wirings,
    };
}

#[doc(hidden)]
pub use pikku_runtime::__private;

/// `docs/services.md`'s code, compiled and run with the doc tests.
#[cfg(doctest)]
#[doc = include_str!("../docs/services.md")]
pub struct ServicesPage;
