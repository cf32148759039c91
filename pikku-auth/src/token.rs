//! What the built-in strategies share: verifying a token against the JWT service and the session store,
//! revocation keys, digests for constant-time comparison, and rejection logging that never shows a secret.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use pikku_runtime::PikkuError;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::jwt::JwtError;
use crate::strategy::Step;
use crate::AuthServices;

/// Seconds since the epoch.
pub(crate) fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// SHA-256 of a secret. Secrets are compared through their digests so the comparison is constant-time
/// *and* of a fixed length: comparing the raw bytes would leak the secret's length through timing.
pub(crate) fn digest(secret: &[u8]) -> [u8; 32] {
    Sha256::digest(secret).into()
}

/// Compares two secrets in constant time, whatever their lengths: both are hashed with SHA-256 and the
/// digests compared with `subtle`, so the time taken tells nothing about where they differ or how long the
/// expected one is.
///
/// Stored passwords should still be hashed with a password hash (argon2, scrypt), not compared as text.
///
/// ```
/// assert!(pikku_auth::constant_time_eq(b"test-key-1", b"test-key-1"));
/// assert!(!pikku_auth::constant_time_eq(b"test-key-1", b"test-key-2"));
/// assert!(!pikku_auth::constant_time_eq(b"short", b"a much longer secret"));
/// ```
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(digest(a).ct_eq(&digest(b)))
}

/// What a strategy keeps about a verified token for the way back (revocation, refresh).
#[derive(Debug)]
pub struct TokenMeta {
    /// The revocation key: the session id (the `jti` before its `.`), or `sig:<signature>` for a token
    /// without `jti` (a Pikku TypeScript token: its signature names it uniquely).
    key: String,
    /// Whether `key` is a session id that `encode_for_session` can continue.
    has_session_id: bool,
    pub(crate) issued_at: Option<i64>,
    pub(crate) expires_at: i64,
}

impl TokenMeta {
    fn new(token: &str, jti: Option<String>, issued_at: Option<i64>, expires_at: i64) -> Self {
        let (key, has_session_id) = match jti {
            Some(mut jti) => {
                // Same rule as `DecodedToken::session_id`, reusing the `jti` allocation.
                if let Some(dot) = jti.find('.') {
                    jti.truncate(dot);
                }
                (jti, true)
            }
            None => {
                let signature = token.rsplit('.').next().unwrap_or_default();
                let mut key = String::with_capacity(4 + signature.len());
                key.push_str("sig:");
                key.push_str(signature);
                (key, false)
            }
        };
        Self { key, has_session_id, issued_at, expires_at }
    }

    /// The key the session store knows this token's session by.
    pub(crate) fn revocation_key(&self) -> &str {
        &self.key
    }

    /// The session id, for a token minted by this service.
    pub(crate) fn session_id(&self) -> Option<&str> {
        self.has_session_id.then_some(self.key.as_str())
    }

    /// Until when a revocation of this token's session must be remembered. Every token of the session was
    /// minted no later than now, and tokens refreshed from it carry the same lifetime, so none outlives
    /// `now + lifetime`; without `iat` the token's own expiry is all we know.
    fn revoke_until(&self) -> i64 {
        match self.issued_at {
            Some(iat) => self.expires_at.max(now_secs().saturating_add(self.expires_at.saturating_sub(iat))),
            None => self.expires_at,
        }
    }
}

/// Why a presented credential was not accepted. `Display` names the kind only, never the credential.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Rejection {
    /// The JWT did not verify.
    #[error("{0}")]
    Token(#[from] JwtError),
    /// The token's session was revoked.
    #[error("session revoked")]
    Revoked,
    /// The header or value is not shaped like the credential.
    #[error("malformed credential")]
    Malformed,
    /// No lookup or static entry knows the credential.
    #[error("unknown credential")]
    Unknown,
}

impl Rejection {
    /// Logs the reason at debug level (kind only) for the strategy `strategy`.
    pub(crate) fn log(&self, strategy: &str) {
        tracing::debug!(strategy, reason = %self, "credential rejected");
    }
}

/// What verifying a token comes to: the session and its token, or why the credential is refused.
pub(crate) type Verified<S> = Result<(S, TokenMeta), Rejection>;

/// Verifies `token` with the application's JWT service, then against the session store if there is one.
/// Ready at once unless the store is remote.
///
/// # Errors
/// The outer `Err` is a store failure (503, fail closed); the inner one is a rejected credential.
pub(crate) fn verify<'a, Sv: AuthServices, S: DeserializeOwned + Send + 'a>(
    services: &'a Sv,
    strategy: &'static str,
    token: &str,
) -> Step<'a, Result<Verified<S>, PikkuError>> {
    let decoded = match services.jwt().decode::<S>(token) {
        Ok(decoded) => decoded,
        Err(e) => return Step::Ready(Ok(Err(e.into()))),
    };
    let meta = TokenMeta::new(token, decoded.jti, decoded.issued_at, decoded.expires_at);
    let session = decoded.session;
    let Some(store) = services.session_store() else { return Step::Ready(Ok(Ok((session, meta)))) };
    match store.is_revoked(meta.revocation_key()) {
        Step::Ready(answer) => Step::Ready(revocation_outcome(strategy, answer, session, meta)),
        Step::Wait(answer) => {
            Step::Wait(Box::pin(async move { revocation_outcome(strategy, answer.await, session, meta) }))
        }
    }
}

fn revocation_outcome<S>(
    strategy: &str,
    answer: Result<bool, crate::StoreError>,
    session: S,
    meta: TokenMeta,
) -> Result<Verified<S>, PikkuError> {
    match answer {
        Ok(false) => Ok(Ok((session, meta))),
        Ok(true) => Ok(Err(Rejection::Revoked)),
        Err(e) => Err(store_unavailable(strategy, &e)),
    }
}

/// The way back of a token strategy (bearer, API key): after a successful `clear_session`, the session of
/// the token that authenticated the request is revoked, so the token stops working everywhere.
///
/// # Errors
/// 503 when the store fails.
pub(crate) fn revoke_on_logout<'a, Sv: AuthServices, S: Clone + Send + Sync + 'static>(
    services: &'a Sv,
    strategy: &'static str,
    state: Option<TokenMeta>,
    response: &pikku_runtime::Response,
) -> Step<'a, Result<(), PikkuError>> {
    match (state, crate::strategy::successful_change::<S>(response)) {
        (Some(meta), Some(pikku_runtime::SessionChange::Cleared)) => {
            Step::Wait(Box::pin(async move { revoke(services, strategy, &meta).await }))
        }
        _ => Step::Ready(Ok(())),
    }
}

/// Revokes the session of a token, if the application has a store.
///
/// # Errors
/// 503 when the store fails: a logout that did not revoke must not look successful.
pub(crate) async fn revoke<Sv: AuthServices>(
    services: &Sv,
    strategy: &str,
    meta: &TokenMeta,
) -> Result<(), PikkuError> {
    let Some(store) = services.session_store() else { return Ok(()) };
    store.revoke(meta.revocation_key(), meta.revoke_until()).await.map_err(|e| store_unavailable(strategy, &e))
}

fn store_unavailable(strategy: &str, error: &crate::StoreError) -> PikkuError {
    tracing::error!(strategy, error = %ErrorChain(error), "session store failed");
    PikkuError::service_unavailable("session store unavailable")
}

/// An error with its sources, for one log field.
struct ErrorChain<'a>(&'a (dyn std::error::Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(e) = source {
            write!(f, ": {e}")?;
            source = e.source();
        }
        Ok(())
    }
}
