//! Server-side session revocation: the [`SessionStore`] trait and the built-in [`InMemorySessionStore`].
//!
//! Tokens are stateless, so logging out cannot "delete" one; the store remembers revoked session ids until
//! the tokens that carry them can no longer verify (OWASP Session Management Cheat Sheet, "Session
//! Expiration": the server must invalidate the session on logout, not only the client). The store is keyed
//! by session id, not by token, so revoking a session also kills every token refreshed from it, and every
//! credential minted for the same login (the bearer token and the cookie share the id).
//!
//! Log-out-everywhere is one cut-off per user: every session of that user that began at or before it is
//! revoked. No scan, no list of a user's sessions: a shared store keeps one key per user.
//!
//! The trait is deliberately small (string keys, times in epoch seconds) so a shared store such as Redis
//! (`SET revoked:<sid> 1 EXAT <until>`, `SET user-cutoff:<user> <time> EXAT <until>`) implements it
//! without any strategy changing.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use pikku_runtime::{BoxFuture, PikkuError};

use crate::credential::now_secs;
use crate::revocation::store_unavailable;
use crate::strategy::Step;
use crate::AuthServices;

/// A session store failure. Strategies fail closed on it (503): a store that cannot answer "is this session
/// revoked?" must not let a revoked session through.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend could not be reached or answered with an error. The source must not carry session ids.
    #[error("session store unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// What the store is asked about a presented token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionRef<'a> {
    /// The token's session id: the `jti` before its `.`, or, for a token minted elsewhere without one of
    /// ours, an id derived from its signature.
    pub session_id: &'a str,
    /// The user the session belongs to (the JWT service's configured user claim), if known.
    pub user: Option<&'a str>,
    /// When the session began (the login), if known. A token without it counts as begun before any cut-off.
    pub auth_time: Option<i64>,
}

/// Remembers revoked sessions, and per user the time before which every session is revoked.
pub trait SessionStore: Send + Sync + 'static {
    /// Whether the session of a presented token has been revoked: by its id, or by a cut-off of its user at
    /// or after its login time. Asked on every authenticated request: a store in this process answers
    /// [`Step::Ready`] (no future at all); a remote one returns [`Step::Wait`] with a future that owns copies
    /// of what it needs.
    ///
    /// # Errors
    /// [`StoreError`] when the backend cannot answer; the request then fails with 503.
    fn is_revoked<'a>(&'a self, token: SessionRef<'_>) -> Step<'a, Result<bool, StoreError>>;

    /// Revokes `session_id`. `keep_until` (seconds since the epoch) is when the last token of the session
    /// stops verifying, leeway included: the entry may be forgotten after it, not before.
    ///
    /// # Errors
    /// [`StoreError`] when the backend cannot record it; the logout then fails with 503.
    fn revoke<'a>(&'a self, session_id: &'a str, keep_until: i64) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Revokes every session of `user` that began at or before `cutoff` (log out everywhere). A later cut-off
    /// replaces an earlier one, never the other way round. `keep_until` as for [`revoke`](Self::revoke).
    ///
    /// # Errors
    /// [`StoreError`] when the backend cannot record it; the request then fails with 503.
    fn revoke_user<'a>(&'a self, user: &'a str, cutoff: i64, keep_until: i64) -> BoxFuture<'a, Result<(), StoreError>>;
}

/// Log out everywhere: revokes every session of `user` that began up to now, on every instance sharing the
/// store. A login in the same second may be revoked too (times are whole seconds); one a second later works.
///
/// `longest_lifetime` is the longest lifetime of any token the application mints (the session cookie's
/// `expires_in`, say): the cut-off is kept until every token issued before it has expired.
///
/// # Errors
/// 500 when the application has no session store or its JWT service has no
/// [`user_claim`](crate::jwt::JwtServiceBuilder::user_claim) (log-out-everywhere could not be enforced);
/// 503 when the store fails.
pub async fn revoke_user_sessions<Sv: AuthServices>(
    services: &Sv,
    user: &str,
    longest_lifetime: Duration,
) -> Result<(), PikkuError> {
    let Some(store) = services.session_store() else {
        return Err(PikkuError::internal("log out everywhere needs a session store"));
    };
    let jwt = services.jwt();
    if jwt.user_claim().is_none() {
        return Err(PikkuError::internal("log out everywhere needs JwtServiceBuilder::user_claim"));
    }
    let now = now_secs();
    let keep = longest_lifetime.saturating_add(jwt.leeway()).as_secs();
    let keep_until = now.saturating_add(i64::try_from(keep).unwrap_or(i64::MAX));
    store.revoke_user(user, now, keep_until).await.map_err(|e| store_unavailable("revoke_user_sessions", &e))
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
/// use pikku_auth::{InMemorySessionStore, SessionRef, SessionStore};
///
/// let store = InMemorySessionStore::new();
/// store.revoke("sid", i64::MAX).await.unwrap();
/// let token = |session_id| SessionRef { session_id, user: Some("u1"), auth_time: Some(1_000) };
/// assert!(store.is_revoked(token("sid")).await.unwrap());
/// assert!(!store.is_revoked(token("other")).await.unwrap());
/// store.revoke_user("u1", 1_000, i64::MAX).await.unwrap();
/// assert!(store.is_revoked(token("other")).await.unwrap(), "every session of u1 begun by then");
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
    /// Session id to the time it may be forgotten (epoch seconds).
    sessions: Expiring<i64>,
    /// User to (cut-off, time it may be forgotten).
    users: Expiring<(i64, i64)>,
}

/// Entries that may be forgotten after their time: pruned once the map has doubled since the last prune.
#[derive(Debug)]
struct Expiring<V> {
    entries: HashMap<Box<str>, V>,
    /// Size at which the next insertion prunes.
    prune_at: usize,
}

impl<V> Default for Expiring<V> {
    fn default() -> Self {
        Self { entries: HashMap::new(), prune_at: MIN_PRUNE_THRESHOLD }
    }
}

impl<V> Expiring<V> {
    fn prune(&mut self, now: i64, keep_until: impl Fn(&V) -> i64) {
        self.entries.retain(|_, v| keep_until(v) >= now);
        self.prune_at = (self.entries.len() * 2).max(MIN_PRUNE_THRESHOLD);
    }

    fn prune_if_grown(&mut self, keep_until: impl Fn(&V) -> i64) {
        if self.entries.len() >= self.prune_at {
            self.prune(now_secs(), keep_until);
        }
    }
}

impl InMemorySessionStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of revoked sessions and user cut-offs remembered.
    pub fn len(&self) -> usize {
        let revoked = self.lock();
        revoked.sessions.entries.len() + revoked.users.entries.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every entry whose tokens can no longer verify.
    pub fn prune(&self) {
        let mut revoked = self.lock();
        let now = now_secs();
        revoked.sessions.prune(now, |&until| until);
        revoked.users.prune(now, |&(_, until)| until);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Revoked> {
        // A poisoned lock only means another holder panicked; the maps themselves are always consistent.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl SessionStore for InMemorySessionStore {
    fn is_revoked<'a>(&'a self, token: SessionRef<'_>) -> Step<'a, Result<bool, StoreError>> {
        let revoked = self.lock();
        let by_id = revoked.sessions.entries.contains_key(token.session_id);
        let by_user = || {
            let Some(user) = token.user else { return false };
            revoked.users.entries.get(user).is_some_and(|&(cutoff, _)| token.auth_time.is_none_or(|t| t <= cutoff))
        };
        Step::Ready(Ok(by_id || by_user()))
    }

    fn revoke<'a>(&'a self, session_id: &'a str, keep_until: i64) -> BoxFuture<'a, Result<(), StoreError>> {
        let mut revoked = self.lock();
        revoked.sessions.prune_if_grown(|&until| until);
        let entry = revoked.sessions.entries.entry(session_id.into()).or_insert(keep_until);
        *entry = (*entry).max(keep_until);
        drop(revoked);
        Box::pin(std::future::ready(Ok(())))
    }

    fn revoke_user<'a>(&'a self, user: &'a str, cutoff: i64, keep_until: i64) -> BoxFuture<'a, Result<(), StoreError>> {
        let mut revoked = self.lock();
        revoked.users.prune_if_grown(|&(_, until)| until);
        let entry = revoked.users.entries.entry(user.into()).or_insert((cutoff, keep_until));
        *entry = (entry.0.max(cutoff), entry.1.max(keep_until));
        drop(revoked);
        Box::pin(std::future::ready(Ok(())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(session_id: &str) -> SessionRef<'_> {
        SessionRef { session_id, user: Some("u1"), auth_time: Some(now_secs() - 100) }
    }

    #[tokio::test]
    async fn revoked_session_is_reported_until_pruned() {
        let store = InMemorySessionStore::new();
        store.revoke("a", now_secs() + 60).await.unwrap();
        assert!(store.is_revoked(token("a")).await.unwrap());
        assert!(!store.is_revoked(token("b")).await.unwrap());
        store.prune();
        assert!(store.is_revoked(token("a")).await.unwrap(), "an unexpired entry survives pruning");
    }

    #[tokio::test]
    async fn revoke_prunes_expired_entries_so_memory_stays_bounded() {
        let store = InMemorySessionStore::new();
        let past = now_secs() - 10;
        for i in 0..MIN_PRUNE_THRESHOLD {
            store.revoke(&format!("old-{i}"), past).await.unwrap();
            store.revoke_user(&format!("user-{i}"), past, past).await.unwrap();
        }
        assert_eq!(store.len(), 2 * MIN_PRUNE_THRESHOLD);
        store.revoke("fresh", now_secs() + 60).await.unwrap();
        store.revoke_user("fresh-user", now_secs(), now_secs() + 60).await.unwrap();
        assert_eq!(store.len(), 2, "expired entries are pruned on revoke");
        assert!(store.is_revoked(token("fresh")).await.unwrap());
        assert!(!store.is_revoked(token("old-0")).await.unwrap());
    }

    #[tokio::test]
    async fn revoking_twice_keeps_the_later_expiry() {
        let store = InMemorySessionStore::new();
        store.revoke("a", now_secs() + 60).await.unwrap();
        store.revoke("a", now_secs() - 60).await.unwrap();
        store.prune();
        assert!(store.is_revoked(token("a")).await.unwrap());
    }

    #[tokio::test]
    async fn a_user_cutoff_revokes_sessions_begun_by_then_and_no_later_ones() {
        let store = InMemorySessionStore::new();
        let now = now_secs();
        store.revoke_user("u1", now, now + 60).await.unwrap();
        let session = |user, auth_time| SessionRef { session_id: "s", user, auth_time };
        assert!(store.is_revoked(session(Some("u1"), Some(now - 1000))).await.unwrap());
        assert!(store.is_revoked(session(Some("u1"), Some(now))).await.unwrap(), "the same second counts");
        assert!(!store.is_revoked(session(Some("u1"), Some(now + 1))).await.unwrap(), "a later login works");
        assert!(store.is_revoked(session(Some("u1"), None)).await.unwrap(), "no login time: begun before");
        assert!(!store.is_revoked(session(Some("u2"), Some(now - 1000))).await.unwrap(), "another user");
        assert!(!store.is_revoked(session(None, Some(now - 1000))).await.unwrap(), "no user claim");
        // An earlier cut-off never moves it back.
        store.revoke_user("u1", now - 500, now + 60).await.unwrap();
        assert!(store.is_revoked(session(Some("u1"), Some(now))).await.unwrap());
    }
}
