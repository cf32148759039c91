//! The local view of the revocations in Redis: what `is_revoked` reads, without a round trip.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use pikku_auth::SessionRef;

/// Number of entries below which the view does not bother pruning.
const MIN_PRUNE_THRESHOLD: usize = 1024;

/// The view and whether it can be trusted.
#[derive(Debug, Default)]
pub(crate) struct SharedView {
    /// Set only while the subscription is alive and the view has been loaded since it (re)started.
    fresh: AtomicBool,
    revocations: RwLock<Revocations>,
}

impl SharedView {
    pub(crate) fn is_fresh(&self) -> bool {
        self.fresh.load(Ordering::Acquire)
    }

    pub(crate) fn mark_stale(&self) {
        self.fresh.store(false, Ordering::Release);
    }

    /// Replaces the view with a full load. The caller applies the messages received since it subscribed,
    /// then [`mark_fresh`](Self::mark_fresh).
    pub(crate) fn replace(&self, loaded: Revocations) {
        *self.write() = loaded;
    }

    pub(crate) fn mark_fresh(&self) {
        self.fresh.store(true, Ordering::Release);
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Revocations> {
        // A poisoned lock only means another holder panicked; the maps themselves are always consistent.
        self.revocations.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, Revocations> {
        self.revocations.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Revoked sessions and user cut-offs, each with the time it may be forgotten (epoch seconds).
#[derive(Debug)]
pub(crate) struct Revocations {
    sessions: HashMap<Box<str>, i64>,
    /// User to (cut-off, keep until).
    users: HashMap<Box<str>, (i64, i64)>,
    /// Size at which the next insertion prunes.
    prune_at: usize,
}

impl Default for Revocations {
    fn default() -> Self {
        Self { sessions: HashMap::new(), users: HashMap::new(), prune_at: MIN_PRUNE_THRESHOLD }
    }
}

impl Revocations {
    pub(crate) fn is_revoked(&self, token: SessionRef<'_>) -> bool {
        self.sessions.contains_key(token.session_id)
            || token.user.and_then(|user| self.users.get(user)).is_some_and(|&(cutoff, _)| {
                // A token without a login time counts as begun before any cut-off.
                token.auth_time.is_none_or(|auth_time| auth_time <= cutoff)
            })
    }

    pub(crate) fn revoke_session(&mut self, session_id: &str, keep_until: i64) {
        self.prune_if_grown();
        match self.sessions.get_mut(session_id) {
            Some(until) => *until = (*until).max(keep_until),
            None => {
                self.sessions.insert(session_id.into(), keep_until);
            }
        }
    }

    pub(crate) fn revoke_user(&mut self, user: &str, cutoff: i64, keep_until: i64) {
        self.prune_if_grown();
        match self.users.get_mut(user) {
            Some(entry) => *entry = (entry.0.max(cutoff), entry.1.max(keep_until)),
            None => {
                self.users.insert(user.into(), (cutoff, keep_until));
            }
        }
    }

    /// Applies one message of the revocation channel; `false` when it is not one of ours.
    pub(crate) fn apply_message(&mut self, payload: &[u8]) -> bool {
        let Ok(payload) = std::str::from_utf8(payload) else { return false };
        let mut fields = payload.splitn(2, ' ');
        match (fields.next(), fields.next()) {
            (Some("s"), Some(rest)) => {
                let Some((keep_until, session_id)) = rest.split_once(' ') else { return false };
                let Ok(keep_until) = keep_until.parse() else { return false };
                self.revoke_session(session_id, keep_until);
                true
            }
            (Some("u"), Some(rest)) => {
                let mut fields = rest.splitn(3, ' ');
                let (Some(cutoff), Some(keep_until), Some(user)) = (fields.next(), fields.next(), fields.next()) else {
                    return false;
                };
                let (Ok(cutoff), Ok(keep_until)) = (cutoff.parse(), keep_until.parse()) else { return false };
                self.revoke_user(user, cutoff, keep_until);
                true
            }
            _ => false,
        }
    }

    /// Number of revoked sessions and user cut-offs held.
    pub(crate) fn len(&self) -> usize {
        self.sessions.len() + self.users.len()
    }

    fn prune_if_grown(&mut self) {
        if self.len() < self.prune_at {
            return;
        }
        let now = now_secs();
        self.sessions.retain(|_, until| *until >= now);
        self.users.retain(|_, (_, until)| *until >= now);
        self.prune_at = (self.len() * 2).max(MIN_PRUNE_THRESHOLD);
    }
}

pub(crate) fn now_secs() -> i64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token<'a>(session_id: &'a str, user: Option<&'a str>, auth_time: Option<i64>) -> SessionRef<'a> {
        SessionRef { session_id, user, auth_time }
    }

    #[test]
    fn messages_revoke_sessions_and_users_and_never_move_a_cutoff_back() {
        let mut view = Revocations::default();
        assert!(view.apply_message(b"s 2000000000 abc def"), "a session id may contain spaces");
        assert!(view.is_revoked(token("abc def", None, None)));
        assert!(!view.is_revoked(token("abc", None, None)));
        assert!(view.apply_message(b"u 1000 2000000000 user with spaces"));
        assert!(view.is_revoked(token("x", Some("user with spaces"), Some(1000))));
        assert!(!view.is_revoked(token("x", Some("user with spaces"), Some(1001))));
        assert!(view.is_revoked(token("x", Some("user with spaces"), None)));
        assert!(view.apply_message(b"u 500 2000000000 user with spaces"));
        assert!(view.is_revoked(token("x", Some("user with spaces"), Some(1000))), "the later cut-off stays");
        for junk in [&b"x 1 a"[..], b"s nope a", b"s 1", b"u 1 2", b"u a b c", b"\xff\xfe", b""] {
            assert!(!view.apply_message(junk), "{junk:?}");
        }
        assert_eq!(view.len(), 2);
    }

    #[test]
    fn expired_entries_are_pruned_as_the_view_grows() {
        let mut view = Revocations::default();
        let past = now_secs() - 10;
        for i in 0..MIN_PRUNE_THRESHOLD {
            view.revoke_session(&format!("old-{i}"), past);
        }
        view.revoke_session("fresh", now_secs() + 60);
        assert_eq!(view.len(), 1);
        assert!(view.is_revoked(token("fresh", None, None)));
    }
}
