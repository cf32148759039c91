//! Server-side session revocation: the [`SessionStore`] trait and the built-in [`InMemorySessionStore`].
//!
//! Tokens are stateless, so logging out cannot "delete" one; the store remembers revoked session ids until
//! the tokens that carry them have expired (OWASP Session Management Cheat Sheet, "Session Expiration":
//! the server must invalidate the session on logout, not only the client). The store is keyed by session
//! id, not by token, so revoking a session also kills every token refreshed from it.
//!
//! The trait is deliberately small (two calls, string keys, an expiry in epoch seconds) so a shared
//! store such as Redis (`SET key 1 EXAT expires_at`, `EXISTS key`) implements it without any strategy
//! changing.

use std::collections::HashMap;
use std::sync::Mutex;

use pikku_runtime::BoxFuture;

use crate::credential::now_secs;
use crate::strategy::Step;

/// A session store failure. Strategies fail closed on it (503): a store that cannot answer "is this session
/// revoked?" must not let a revoked session through.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend could not be reached or answered with an error. The source must not carry session ids.
    #[error("session store unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Remembers revoked sessions.
///
/// Keys are session ids (the part of a token's `jti` before the `.`), or `sig:<signature>` for tokens
/// without `jti` (minted by a Pikku TypeScript service).
pub trait SessionStore: Send + Sync + 'static {
    /// Whether `session_id` has been revoked. Asked on every authenticated request: a store in this
    /// process answers [`Step::Ready`] (no future at all); a remote one returns [`Step::Wait`] with a
    /// future that owns a copy of the id.
    ///
    /// # Errors
    /// [`StoreError`] when the backend cannot answer; the request then fails with 503.
    fn is_revoked<'a>(&'a self, session_id: &str) -> Step<'a, Result<bool, StoreError>>;

    /// Revokes `session_id`. `expires_at` (seconds since the epoch) is when the last token of the session
    /// expires: the entry may be forgotten after it.
    ///
    /// # Errors
    /// [`StoreError`] when the backend cannot record it; the logout then fails with 503.
    fn revoke<'a>(&'a self, session_id: &'a str, expires_at: i64) -> BoxFuture<'a, Result<(), StoreError>>;
}

/// Number of entries below which [`InMemorySessionStore`] does not bother pruning.
const MIN_PRUNE_THRESHOLD: usize = 1024;

/// A session store in this process's memory: right for one machine (use a shared store for more).
///
/// Memory stays bounded: expired entries are pruned on `revoke` once the map has doubled since the last
/// prune, so pruning costs amortised O(1) per revocation.
///
/// ```
/// # tokio_test_block(async {
/// use pikku_auth::{InMemorySessionStore, SessionStore};
///
/// let store = InMemorySessionStore::new();
/// store.revoke("sid", i64::MAX).await.unwrap();
/// assert!(store.is_revoked("sid").await.unwrap());
/// assert!(!store.is_revoked("other").await.unwrap());
/// # });
/// # fn tokio_test_block(f: impl std::future::Future<Output = ()>) {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug, Default)]
pub struct InMemorySessionStore {
    inner: Mutex<Revoked>,
}

#[derive(Debug, Default)]
struct Revoked {
    /// Session id to expiry (epoch seconds).
    entries: HashMap<Box<str>, i64>,
    /// Size at which the next revoke prunes.
    prune_at: usize,
}

impl InMemorySessionStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of revoked sessions remembered.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether no session is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every entry whose tokens have all expired.
    pub fn prune(&self) {
        let mut revoked = self.lock();
        prune(&mut revoked, now_secs());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Revoked> {
        // A poisoned lock only means another holder panicked; the map itself is always consistent.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn prune(revoked: &mut Revoked, now: i64) {
    revoked.entries.retain(|_, expires_at| *expires_at >= now);
    revoked.prune_at = (revoked.entries.len() * 2).max(MIN_PRUNE_THRESHOLD);
}

impl SessionStore for InMemorySessionStore {
    fn is_revoked<'a>(&'a self, session_id: &str) -> Step<'a, Result<bool, StoreError>> {
        Step::Ready(Ok(self.lock().entries.contains_key(session_id)))
    }

    fn revoke<'a>(&'a self, session_id: &'a str, expires_at: i64) -> BoxFuture<'a, Result<(), StoreError>> {
        let mut revoked = self.lock();
        if revoked.entries.len() >= revoked.prune_at.max(MIN_PRUNE_THRESHOLD) {
            prune(&mut revoked, now_secs());
        }
        let entry = revoked.entries.entry(session_id.into()).or_insert(expires_at);
        *entry = (*entry).max(expires_at);
        drop(revoked);
        Box::pin(std::future::ready(Ok(())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn revoked_session_is_reported_until_pruned() {
        let store = InMemorySessionStore::new();
        store.revoke("a", now_secs() + 60).await.unwrap();
        assert!(store.is_revoked("a").await.unwrap());
        assert!(!store.is_revoked("b").await.unwrap());
        store.prune();
        assert!(store.is_revoked("a").await.unwrap(), "an unexpired entry survives pruning");
    }

    #[tokio::test]
    async fn revoke_prunes_expired_entries_so_memory_stays_bounded() {
        let store = InMemorySessionStore::new();
        let past = now_secs() - 10;
        for i in 0..MIN_PRUNE_THRESHOLD {
            store.revoke(&format!("old-{i}"), past).await.unwrap();
        }
        assert_eq!(store.len(), MIN_PRUNE_THRESHOLD);
        store.revoke("fresh", now_secs() + 60).await.unwrap();
        assert_eq!(store.len(), 1, "expired entries are pruned on revoke");
        assert!(store.is_revoked("fresh").await.unwrap());
        assert!(!store.is_revoked("old-0").await.unwrap());
    }

    #[tokio::test]
    async fn revoking_twice_keeps_the_later_expiry() {
        let store = InMemorySessionStore::new();
        store.revoke("a", now_secs() + 60).await.unwrap();
        store.revoke("a", now_secs() - 60).await.unwrap();
        store.prune();
        assert!(store.is_revoked("a").await.unwrap());
    }
}
