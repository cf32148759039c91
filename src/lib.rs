#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use pikku_macros::{pikku_auth, pikku_func, pikku_middleware, pikku_permission, pikku_wiring};
pub use pikku_runtime::*;

/// Authentication: the JWT service, the bearer / cookie / API-key strategies, session stores.
pub use ::pikku_auth as auth;

/// Everything an application file needs: `use pikku::prelude::*;`.
pub mod prelude {
    pub use pikku_macros::{pikku_auth, pikku_func, pikku_middleware, pikku_permission, pikku_wiring};
    pub use pikku_runtime::{
        App, Context, Middleware, Next, OptionalContext, PikkuError, Request, Response, StatusCode, Wirings,
    };
}

#[doc(hidden)]
pub use pikku_runtime::__private;
