//! Verifying a presented token: the JWT service first, then the session store's revocation list. What a
//! strategy keeps about a verified token, and why a credential was refused (never the credential itself).

use std::time::{SystemTime, UNIX_EPOCH};

use pikku_runtime::PikkuError;
use serde::de::DeserializeOwned;

use crate::jwt::JwtError;
use crate::revocation::store_unavailable;
use crate::store::SessionRef;
use crate::strategy::Step;
use crate::AuthServices;

/// Seconds since the epoch.
pub(crate) fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// What a strategy keeps about a verified token for the way back (revocation, refresh).
#[derive(Debug)]
pub(crate) struct TokenMeta {
    /// The session id: the `jti` before its `.` for a token of ours, or one derived from the signature for a
    /// token minted elsewhere (no `jti`, or one of another shape). Always a valid session id, so a refresh
    /// continues it and the original and every refresh are revoked together.
    session_id: String,
    /// The user the session belongs to (the configured user claim).
    user: Option<String>,
    pub(crate) issued_at: Option<i64>,
    /// The login time: `auth_time`, or `iat` of the first token.
    pub(crate) auth_time: Option<i64>,
    pub(crate) expires_at: i64,
}

impl TokenMeta {
    fn new<S>(token: &str, decoded: &mut crate::jwt::DecodedToken<S>) -> Self {
        // Same rule as `DecodedToken::session_id`, reusing the `jti` allocation.
        let session_id = decoded.jti.take().map(|mut jti| {
            if let Some(dot) = jti.find('.') {
                jti.truncate(dot);
            }
            jti
        });
        // A `jti` that is not one of ours (another issuer's `urn:x`, an empty or over-long id) is treated as
        // absent: the token is known by its signature, which names it uniquely.
        let session_id = session_id.filter(|id| crate::jwt::is_session_id(id)).unwrap_or_else(|| {
            let signature = token.rsplit('.').next().unwrap_or_default();
            derived_session_id(signature)
        });
        Self {
            session_id,
            user: decoded.user.take(),
            issued_at: decoded.issued_at,
            auth_time: decoded.auth_time,
            expires_at: decoded.expires_at,
        }
    }

    /// The session id, which the session store knows the token's session by.
    pub(crate) fn session_id(&self) -> &str {
        &self.session_id
    }

    /// What the session store is asked about this token.
    pub(crate) fn as_session_ref(&self) -> SessionRef<'_> {
        SessionRef { session_id: &self.session_id, user: self.user.as_deref(), auth_time: self.auth_time }
    }

    /// Until when a revocation of this token's session must be remembered: as long as any of its tokens can
    /// still verify, leeway included. Every token of the session was minted no later than now, and tokens
    /// refreshed from it carry the same lifetime, so none outlives `now + lifetime`; without `iat` the
    /// token's own expiry is all we know.
    pub(crate) fn revoke_until(&self, leeway: std::time::Duration) -> i64 {
        let last_expiry = match self.issued_at {
            Some(iat) => self.expires_at.max(now_secs().saturating_add(self.expires_at.saturating_sub(iat))),
            None => self.expires_at,
        };
        last_expiry.saturating_add(i64::try_from(leeway.as_secs()).unwrap_or(i64::MAX))
    }
}

/// A session id for a token minted elsewhere, derived from its signature: 128 bits of SHA-256, in the shape
/// of the ids this service mints, so a refresh of the token continues it.
fn derived_session_id(signature: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(signature.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
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

/// Verifies `token` with the application's JWT service (signature and claims only: no store).
pub(crate) fn decode<Sv: AuthServices, S: DeserializeOwned>(
    services: &Sv,
    token: &str,
) -> Result<(S, TokenMeta), Rejection> {
    let mut decoded = services.jwt().decode::<S>(token)?;
    let meta = TokenMeta::new(token, &mut decoded);
    Ok((decoded.session, meta))
}

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
    match decode::<Sv, S>(services, token) {
        Ok((session, meta)) => check_revocation(services, strategy, session, meta),
        Err(rejection) => Step::Ready(Ok(Err(rejection))),
    }
}

/// Asks the session store, if there is one, whether a decoded token's session was revoked.
pub(crate) fn check_revocation<'a, Sv: AuthServices, S: Send + 'a>(
    services: &'a Sv,
    strategy: &'static str,
    session: S,
    meta: TokenMeta,
) -> Step<'a, Result<Verified<S>, PikkuError>> {
    let Some(store) = services.session_store() else { return Step::Ready(Ok(Ok((session, meta)))) };
    match store.is_revoked(meta.as_session_ref()) {
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
