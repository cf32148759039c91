//! Verifying a presented token: the JWT service first, then the session store's revocation list. What a
//! strategy keeps about a verified token, and why a credential was refused (never the credential itself).

use std::time::{SystemTime, UNIX_EPOCH};

use pikku_runtime::PikkuError;
use serde::de::DeserializeOwned;

use crate::jwt::JwtError;
use crate::revocation::store_unavailable;
use crate::strategy::Step;
use crate::AuthServices;

/// Seconds since the epoch.
pub(crate) fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// What a strategy keeps about a verified token for the way back (revocation, refresh).
#[derive(Debug)]
pub(crate) struct TokenMeta {
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
        // Same rule as `DecodedToken::session_id`, reusing the `jti` allocation.
        let session_id = jti.map(|mut jti| {
            if let Some(dot) = jti.find('.') {
                jti.truncate(dot);
            }
            jti
        });
        // A `jti` that is not one of ours (another issuer's `urn:x`, an empty or over-long id) is treated as
        // absent: the token is known by its signature, and a refresh must not try to continue it (minting
        // refuses such an id, which would make every refreshed request a 500).
        let (key, has_session_id) = match session_id.filter(|id| crate::jwt::is_session_id(id)) {
            Some(id) => (id, true),
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
    pub(crate) fn revoke_until(&self) -> i64 {
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
