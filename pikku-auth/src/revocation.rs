//! Revoking a session in the store, so every token of it stops working, and failing closed when the store
//! does not answer.

use std::fmt;
use std::time::Duration;

use pikku_runtime::{PikkuError, SessionChange};

use serde::de::DeserializeOwned;

use crate::credential::{decode, TokenMeta};
use crate::strategy::Step;
use crate::AuthServices;

/// What a token strategy (bearer, JWT API key) keeps for the way back.
#[derive(Debug)]
pub(crate) enum TokenState {
    /// The token that authenticated the request.
    Verified(TokenMeta),
    /// A token the request carried while another strategy authenticated it (see `AuthStrategy::alongside`):
    /// verified only if the function logs out.
    Presented(Box<str>),
}

/// The way back of a token strategy (bearer, API key): after a successful `clear_session`, the session of
/// the token the request presented (the one that authenticated it, or one beside it that verifies) is
/// revoked, so the token stops working everywhere.
///
/// # Errors
/// 503 when the store fails.
pub(crate) fn revoke_on_logout<'a, Sv: AuthServices, S: DeserializeOwned>(
    services: &'a Sv,
    strategy: &'static str,
    state: Option<TokenState>,
    change: Option<&SessionChange<S>>,
) -> Step<'a, Result<(), PikkuError>> {
    if !matches!(change, Some(SessionChange::Cleared)) {
        return Step::Ready(Ok(()));
    }
    let meta = match state {
        Some(TokenState::Verified(meta)) => meta,
        // A token that does not verify has no session to revoke.
        Some(TokenState::Presented(token)) => match decode::<Sv, S>(services, &token) {
            Ok((_, meta)) => meta,
            Err(_) => return Step::Ready(Ok(())),
        },
        None => return Step::Ready(Ok(())),
    };
    Step::Wait(Box::pin(async move { revoke(services, strategy, &meta).await }))
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
    let keep_until = meta.revoke_until(services.jwt().leeway());
    store.revoke(meta.session_id(), keep_until).await.map_err(|e| store_unavailable(strategy, &e))
}

/// How long a client is told to wait when the session store cannot answer (503). Short: a shared store
/// that lost its connection is retried in the background and usually back within seconds.
pub const STORE_UNAVAILABLE_RETRY_AFTER: Duration = Duration::from_secs(2);

pub(crate) fn store_unavailable(strategy: &str, error: &crate::StoreError) -> PikkuError {
    tracing::error!(strategy, error = %ErrorChain(error), "session store failed");
    PikkuError::service_unavailable_retry_after("session store unavailable", STORE_UNAVAILABLE_RETRY_AFTER)
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
