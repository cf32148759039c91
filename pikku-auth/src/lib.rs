//! pikku-rs authentication: the JWT service, the bearer / cookie / API-key strategies, the session store,
//! CSRF protection for cookie sessions, Argon2id password hashes ([`password`]) and login throttling
//! ([`throttle`]).
//!
//! Strategies are middleware ([`SharedMiddleware`](pikku_runtime::SharedMiddleware)) wired in a declared order; the
//! first that establishes a session wins and the later ones do not try to authenticate (they still see the
//! response, so a cookie is written after a `login` and removed after a `logout`). None of them rejects a
//! *missing* credential: that is the auth gate's job. A credential that is present and wrong is refused
//! (bearer, API key: 401) or, for the cookie, treated as absent and removed.
//!
//! ```
//! use pikku_auth::{auth_api_key, auth_bearer, auth_cookie, ApiKeyOptions, ApiKeySource, AuthServices, CookieOptions};
//! use pikku_auth::{InMemorySessionStore, SessionStore, StaticApiKeys};
//! use pikku_auth::jwt::JwtService;
//! use std::time::Duration;
//!
//! #[derive(Clone, serde::Serialize, serde::Deserialize)]
//! struct Session { user_id: String }
//!
//! struct Services { jwt: JwtService, store: InMemorySessionStore }
//!
//! impl AuthServices for Services {
//!     fn jwt(&self) -> &JwtService { &self.jwt }
//!     fn session_store(&self) -> Option<&dyn SessionStore> { Some(&self.store) }
//! }
//!
//! const THIRTY_DAYS: Duration = Duration::from_secs(30 * 24 * 60 * 60);
//! let keys = StaticApiKeys::new([("test-key-1", Session { user_id: "svc".into() })]);
//! let wired: Vec<pikku_runtime::SharedMiddleware<Services, Session>> = vec![
//!     auth_bearer(),
//!     auth_cookie(CookieOptions::new("session", THIRTY_DAYS)),
//!     auth_api_key(ApiKeyOptions::new(ApiKeySource::All).lookup(keys)),
//! ];
//! assert_eq!(wired[1].name(), "auth_cookie");
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod api_key;
mod bearer;
mod cookie_session;
mod credential;
mod csrf;
pub mod jwt;
pub mod password;
mod revocation;
mod secret;
mod store;
mod strategy;
#[cfg(test)]
mod test_support;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod throttle;

pub use api_key::{auth_api_key, ApiKeyLookup, ApiKeyOptions, ApiKeySource, StaticApiKeys};
pub use bearer::{auth_bearer, auth_bearer_static};
pub use cookie_session::{auth_cookie, CookieOptions, SameSite, DEFAULT_ABSOLUTE_LIFETIME};
pub use csrf::CsrfOptions;
pub use jwt::{DecodedToken, JwtError, JwtService};
pub use password::{hash_password, verify_password, PasswordError};
pub use revocation::STORE_UNAVAILABLE_RETRY_AFTER;
pub use secret::constant_time_eq;
pub use store::{revoke_user_sessions, InMemorySessionStore, SessionRef, SessionStore, StoreError};
pub use strategy::{strategy, AuthStrategy, Authenticated, Step, StepFuture};
pub use throttle::{LoginAttempt, LoginThrottle, ThrottleError, ThrottleRule};

/// What the strategies need from the application's services: the JWT service and, optionally, a session
/// store.
///
/// ```
/// use pikku_auth::{jwt::JwtService, AuthServices};
///
/// struct Services { jwt: JwtService }
///
/// impl AuthServices for Services {
///     fn jwt(&self) -> &JwtService { &self.jwt }
/// }
/// ```
pub trait AuthServices: Send + Sync + 'static {
    /// The service that mints and verifies session tokens.
    fn jwt(&self) -> &JwtService;

    /// The server-side session store. With one, every strategy checks revocation after decoding a token
    /// and `clear_session` revokes the session. By default there is none: logout only removes the cookie,
    /// and a bearer token stays valid until it expires.
    fn session_store(&self) -> Option<&dyn SessionStore> {
        None
    }
}
