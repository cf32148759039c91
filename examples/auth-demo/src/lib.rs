//! The auth demo: login, profile, logout, an admin-only route and owned notes, reachable with a bearer
//! token, the session cookie or an API key. Its HTTP contract is fixed in `docs/auth-demo.md`.
//!
//! `cargo run --release -p auth-demo`, then see the README's curl session. The application is a library
//! (so benchmarks and tests can run it in-process) with a one-line binary.

pub mod functions;
pub mod notes;
pub mod users;
mod wirings;

use std::process::ExitCode;
use std::time::Duration;

use pikku::auth::throttle::{
    InMemoryThrottleStore, LoginThrottle, ThrottleError, ThrottleKey, ThrottleRule, ThrottleStore,
};
use pikku::auth::{AuthServices, InMemorySessionStore, JwtService, SessionStore, Step};
use pikku::prelude::*;
use pikku::CorsOptions;
use pikku_redis::{RedisOptions, RedisSessionStore, RedisThrottleStore};
use serde::{Deserialize, Serialize};

/// The bearer token from `/login` lives one hour.
pub const BEARER_TOKEN_LIFETIME: Duration = Duration::from_secs(60 * 60);
/// The session cookie lives 30 days (and is refreshed once older than half of that).
pub const COOKIE_LIFETIME: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// The demo's one API key (contract: resolves to the `svc` user).
pub const DEMO_API_KEY: &str = "test-key-1";
/// Failed logins let through per email within [`LOGIN_FAILURE_WINDOW`] before `/login` answers 429.
pub const LOGIN_FAILURES_PER_ACCOUNT: u32 = 5;
/// Failed logins let through per client address within [`LOGIN_FAILURE_WINDOW`].
pub const LOGIN_FAILURES_PER_ADDRESS: u32 = 50;
/// The window the failed logins are counted over.
pub const LOGIN_FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// The signing key's `kid` unless `PIKKU_JWT_KID` names another.
pub const DEFAULT_JWT_KID: &str = "primary";
/// Longest `PIKKU_JWT_KID` accepted.
pub const MAX_JWT_KID_LEN: usize = 128;
/// The environment variable listing the origins CORS allows, comma-separated.
pub const CORS_ORIGINS_VAR: &str = "PIKKU_CORS_ORIGINS";
/// How long a browser may reuse a preflight's answer.
pub const CORS_MAX_AGE: Duration = Duration::from_secs(10 * 60);

/// The session: `{"userId", "role"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSession {
    /// The user's id.
    pub user_id: String,
    /// `admin` or `user`.
    pub role: String,
}

/// Where revoked sessions live: this process (one instance) or Redis (`PIKKU_REDIS_URL`: every instance
/// started with the same URL).
#[derive(Debug)]
pub enum Sessions {
    /// In this process's memory.
    Memory(InMemorySessionStore),
    /// In Redis, read from a local view.
    Redis(RedisSessionStore),
}

/// Where the login throttle counts failures: beside [`Sessions`], in memory or in Redis.
#[derive(Debug)]
// One value per process: boxing the larger variant would save nothing and add an indirection.
#[allow(clippy::large_enum_variant)]
pub enum ThrottleCounters {
    /// In this process's memory.
    Memory(InMemoryThrottleStore),
    /// In Redis, shared by every instance.
    Redis(RedisThrottleStore),
}

impl ThrottleStore for ThrottleCounters {
    fn blocked_for<'a>(&'a self, key: &ThrottleKey) -> Step<'a, Result<Option<Duration>, ThrottleError>> {
        match self {
            Self::Memory(store) => store.blocked_for(key),
            Self::Redis(store) => store.blocked_for(key),
        }
    }

    fn record_failure<'a>(&'a self, key: &ThrottleKey) -> Step<'a, Result<Option<Duration>, ThrottleError>> {
        match self {
            Self::Memory(store) => store.record_failure(key),
            Self::Redis(store) => store.record_failure(key),
        }
    }
}

/// The demo's services.
pub struct Services {
    /// Signs and verifies tokens (`PIKKU_JWT_SECRET`).
    pub jwt: JwtService,
    /// Revoked sessions: logout revokes the credential it arrived with.
    pub sessions: Sessions,
    /// The fixed users.
    pub users: users::Users,
    /// Notes, in memory.
    pub notes: notes::Notes,
    /// Failed logins per email and per client address.
    pub login_throttle: LoginThrottle<ThrottleCounters>,
}

impl AuthServices for Services {
    fn jwt(&self) -> &JwtService {
        &self.jwt
    }

    fn session_store(&self) -> Option<&dyn SessionStore> {
        Some(match &self.sessions {
            Sessions::Memory(store) => store,
            Sessions::Redis(store) => store,
        })
    }
}

fn account_rule() -> ThrottleRule {
    ThrottleRule::new(LOGIN_FAILURES_PER_ACCOUNT, LOGIN_FAILURE_WINDOW)
}

fn address_rule() -> ThrottleRule {
    ThrottleRule::new(LOGIN_FAILURES_PER_ADDRESS, LOGIN_FAILURE_WINDOW)
}

impl Services {
    /// Services from the environment: `PIKKU_JWT_SECRET` (at least 32 bytes; unset: a random secret),
    /// `PIKKU_JWT_KID` (the signing key's `kid`, [`DEFAULT_JWT_KID`] unless set) and `PIKKU_REDIS_URL`
    /// (set: revocations and the login throttle live in Redis, shared by every instance with the same URL;
    /// unset: in memory).
    ///
    /// # Errors
    /// A secret shorter than 32 bytes, a key id that is empty, longer than [`MAX_JWT_KID_LEN`] or not
    /// printable ASCII, or a Redis that cannot be reached within 5 seconds.
    pub async fn from_env() -> Result<Self, String> {
        let kid = match std::env::var("PIKKU_JWT_KID") {
            Ok(kid) => {
                check_kid(&kid).map_err(|why| format!("PIKKU_JWT_KID: {why}"))?;
                kid
            }
            Err(std::env::VarError::NotPresent) => DEFAULT_JWT_KID.to_owned(),
            Err(std::env::VarError::NotUnicode(_)) => return Err("PIKKU_JWT_KID: must be printable ASCII".into()),
        };
        let secret = std::env::var("PIKKU_JWT_SECRET").ok();
        if secret.is_none() {
            eprintln!(
                "warning: PIKKU_JWT_SECRET is not set; using a random secret, so tokens will not survive a restart"
            );
        }
        let jwt = demo_jwt(&kid, secret.as_deref().map(str::as_bytes)).map_err(|e| format!("PIKKU_JWT_SECRET: {e}"))?;
        match std::env::var("PIKKU_REDIS_URL") {
            Ok(url) => Self::with_redis(jwt, &url).await.map_err(|e| format!("PIKKU_REDIS_URL: {e}")),
            Err(std::env::VarError::NotPresent) => Ok(Self::with_jwt(jwt)),
            Err(std::env::VarError::NotUnicode(_)) => Err("PIKKU_REDIS_URL: must be a redis:// URL".into()),
        }
    }

    /// Services around a given JWT service (tests and benchmarks), with the contract's login throttle, all
    /// in memory. Build the JWT service with [`demo_jwt`].
    ///
    /// # Panics
    /// When the JWT service does not name the user by `userId` ([`demo_jwt`] does): `POST /logout/all` could
    /// not be enforced, and would answer 500.
    pub fn with_jwt(jwt: JwtService) -> Self {
        check_user_claim(&jwt);
        let throttle = InMemoryThrottleStore::new(account_rule(), address_rule());
        Self::with_stores(jwt, Sessions::Memory(InMemorySessionStore::default()), ThrottleCounters::Memory(throttle))
    }

    /// Services around a given JWT service with revocations and the login throttle in the Redis at `url`.
    ///
    /// # Errors
    /// Redis cannot be reached within 5 seconds (the message names the URL, password masked).
    ///
    /// # Panics
    /// As [`with_jwt`](Self::with_jwt).
    pub async fn with_redis(jwt: JwtService, url: &str) -> Result<Self, pikku_redis::RedisConnectError> {
        check_user_claim(&jwt);
        let sessions = RedisSessionStore::connect(url, RedisOptions::new()).await?;
        let throttle = sessions.throttle_store(account_rule(), address_rule());
        Ok(Self::with_stores(jwt, Sessions::Redis(sessions), ThrottleCounters::Redis(throttle)))
    }

    #[allow(clippy::missing_panics_doc)] // documented on the public constructors
    fn with_stores(jwt: JwtService, sessions: Sessions, throttle: ThrottleCounters) -> Self {
        Self {
            jwt,
            sessions,
            users: users::Users,
            notes: notes::Notes::default(),
            login_throttle: LoginThrottle::with_store(throttle),
        }
    }
}

/// Refuses, at start-up, a JWT service without the user claim `/logout/all` revokes by.
fn check_user_claim(jwt: &JwtService) {
    assert_eq!(
        jwt.user_claim(),
        Some("userId"),
        "the demo's JWT service must name the user by `userId`: build it with demo_jwt"
    );
}

/// The demo's JWT service: HS256 with `secret` (`None`: a random one) under the key id `kid`, and the
/// session's `userId` naming the user, so `POST /logout/all` can revoke every session of one user.
///
/// # Errors
/// A secret shorter than 32 bytes.
pub fn demo_jwt(kid: &str, secret: Option<&[u8]>) -> Result<JwtService, pikku::auth::jwt::JwtConfigError> {
    let builder = JwtService::builder().user_claim("userId");
    match secret {
        Some(secret) => builder.hs256_key(kid, secret),
        None => builder.hs256_random_key(kid),
    }
    .build()
}

/// A key id goes into every token's header and is matched against a Pikku TypeScript service's: a visible
/// ASCII word of sane length, nothing a typo or a stray newline could have produced.
fn check_kid(kid: &str) -> Result<(), String> {
    if kid.is_empty() {
        return Err("must not be empty".into());
    }
    if kid.len() > MAX_JWT_KID_LEN {
        return Err(format!("must be at most {MAX_JWT_KID_LEN} characters, got {}", kid.len()));
    }
    if !kid.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("must be printable ASCII without spaces".into());
    }
    Ok(())
}

/// The demo's CORS for a comma-separated list of origins (spaces trimmed, empty items ignored): those origins
/// with credentials, so a front-end on one of them can log in and use the session cookie (and passes the
/// CSRF check); the methods the routes use; the headers the credentials travel in; `x-request-id` readable.
pub fn demo_cors(origins: &str) -> CorsOptions {
    CorsOptions::new()
        .origins(origins.split(',').map(str::trim).filter(|origin| !origin.is_empty()))
        .credentials(true)
        .methods(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
        .allowed_headers(["Content-Type", "Authorization", "x-api-key", "x-request-id"])
        .expose_headers(["x-request-id"])
        .max_age(CORS_MAX_AGE)
}

/// CORS as `PIKKU_CORS_ORIGINS` asks: [`demo_cors`] of its value, or `None` when it is unset. Not checked
/// here: [`main`] refuses an invalid value before anything starts, naming the variable.
pub fn cors_from_env() -> Option<CorsOptions> {
    // A value that is not UTF-8 keeps its replacement characters, which no origin can contain: refused.
    std::env::var_os(CORS_ORIGINS_VAR).map(|origins| demo_cors(&origins.to_string_lossy()))
}

/// The demo application with its settings.
pub fn app() -> App<Services, UserSession> {
    App::new()
}

/// The binary's `main`: serve, or answer `info`. An invalid `PIKKU_CORS_ORIGINS` refuses to start.
pub fn main() -> ExitCode {
    if let Some(Err(reason)) = cors_from_env().map(|options| options.validate()) {
        eprintln!("error: {CORS_ORIGINS_VAR}: {reason}");
        return ExitCode::FAILURE;
    }
    app().run(Services::from_env)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `pipeline` fuzz target: services built around a JWT service without the user claim
    /// answered `POST /logout/all` with 500. They are refused when built instead.
    #[test]
    #[should_panic(expected = "must name the user by `userId`")]
    fn services_without_the_user_claim_are_refused_when_built() {
        let _ = Services::with_jwt(JwtService::hs256([7u8; 32]).unwrap());
    }

    #[test]
    fn services_around_demo_jwt_are_accepted() {
        let _ = Services::with_jwt(demo_jwt("primary", Some(&[7u8; 32])).unwrap());
    }

    #[test]
    fn the_cors_list_is_trimmed_and_empty_items_are_ignored() {
        assert!(demo_cors(" https://app.example , ,http://localhost:5173,").validate().is_ok());
        assert!(demo_cors("").validate().is_ok());
        let error = demo_cors("https://app.example, app.example").validate().unwrap_err();
        assert!(error.to_string().contains("`app.example`"), "{error}");
    }
}
