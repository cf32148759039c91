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

use pikku::auth::{AuthServices, InMemorySessionStore, JwtService, SessionStore};
use pikku::prelude::*;
use serde::{Deserialize, Serialize};

/// The bearer token from `/login` lives one hour.
pub const BEARER_TOKEN_LIFETIME: Duration = Duration::from_secs(60 * 60);
/// The session cookie lives 30 days (and is refreshed once older than half of that).
pub const COOKIE_LIFETIME: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// The demo's one API key (contract: resolves to the `svc` user).
pub const DEMO_API_KEY: &str = "test-key-1";

/// The session: `{"userId", "role"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSession {
    /// The user's id.
    pub user_id: String,
    /// `admin` or `user`.
    pub role: String,
}

/// The demo's services.
pub struct Services {
    /// Signs and verifies tokens (`PIKKU_JWT_SECRET`).
    pub jwt: JwtService,
    /// Revoked sessions: logout revokes the credential it arrived with.
    pub sessions: InMemorySessionStore,
    /// The fixed users.
    pub users: users::Users,
    /// Notes, in memory.
    pub notes: notes::Notes,
}

impl AuthServices for Services {
    fn jwt(&self) -> &JwtService {
        &self.jwt
    }

    fn session_store(&self) -> Option<&dyn SessionStore> {
        Some(&self.sessions)
    }
}

impl Services {
    /// Services from the environment: `PIKKU_JWT_SECRET` (at least 32 bytes; unset: a random secret).
    ///
    /// # Errors
    /// A secret shorter than 32 bytes.
    pub fn from_env() -> Result<Self, String> {
        let secret = std::env::var("PIKKU_JWT_SECRET").ok();
        if secret.is_none() {
            eprintln!(
                "warning: PIKKU_JWT_SECRET is not set; using a random secret, so tokens will not survive a restart"
            );
        }
        let jwt = demo_jwt(secret.as_deref().map(str::as_bytes)).map_err(|e| format!("PIKKU_JWT_SECRET: {e}"))?;
        Ok(Self::with_jwt(jwt))
    }

    /// Services around a given JWT service (tests and benchmarks).
    pub fn with_jwt(jwt: JwtService) -> Self {
        Self { jwt, sessions: InMemorySessionStore::default(), users: users::Users, notes: notes::Notes::default() }
    }
}

/// The demo's JWT service: HS256 with `secret` (`None`: a random one) under the key id `primary`, and the
/// session's `userId` naming the user, so `POST /logout/all` can revoke every session of one user.
///
/// # Errors
/// A secret shorter than 32 bytes.
pub fn demo_jwt(secret: Option<&[u8]>) -> Result<JwtService, pikku::auth::jwt::JwtConfigError> {
    let builder = JwtService::builder().user_claim("userId");
    match secret {
        Some(secret) => builder.hs256_key("primary", secret),
        None => builder.hs256_random_key("primary"),
    }
    .build()
}

/// The demo application with its settings.
pub fn app() -> App<Services, UserSession> {
    App::new()
}

/// The binary's `main`: serve, or answer `info`.
pub fn main() -> ExitCode {
    app().run(|| async { Services::from_env() })
}
