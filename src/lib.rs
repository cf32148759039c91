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
/// sockets, the one [`TestResponse`](testing::TestResponse) with its assertions, token forging
/// ([`TokenForger`](testing::TokenForger), [`tamper`](testing::tamper)) and the development strategy
/// [`auth_dev_header`](testing::auth_dev_header). The authentication half is also at `pikku::auth::testing`.
#[cfg(feature = "testing")]
pub mod testing {
    pub use pikku_auth::testing::*;
    pub use pikku_runtime::testing::*;
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
