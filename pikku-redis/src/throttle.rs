//! [`RedisThrottleStore`]: the login throttle's GCRA counters in Redis.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use pikku_auth::throttle::{ThrottleError, ThrottleKey, ThrottleRule, ThrottleStore};
use pikku_auth::Step;
use redis::Script;

use crate::session::Inner;
use crate::Unavailable;

/// A [`ThrottleStore`] in Redis: every instance sharing the URL and prefix counts against the same keys, with
/// the same semantics as the in-memory store (N failures let through, the next attempt refused, one
/// allowance back every `window / N`), timed by the Redis server's clock.
///
/// One script call per check; each key expires once all its allowances are back, so
/// [`ThrottleRule::max_keys`] does not apply (Redis memory is the bound). Answers "unavailable" (503 with
/// `Retry-After` from `/login`) whenever its [`RedisSessionStore`](crate::RedisSessionStore) does, or when
/// Redis fails or does not answer within the response timeout. Made by
/// [`RedisSessionStore::throttle_store`](crate::RedisSessionStore::throttle_store).
#[derive(Clone)]
pub struct RedisThrottleStore {
    inner: Arc<Inner>,
    account: ThrottleRule,
    address: ThrottleRule,
}

impl RedisThrottleStore {
    pub(crate) fn new(inner: Arc<Inner>, account: ThrottleRule, address: ThrottleRule) -> Self {
        Self { inner, account, address }
    }

    /// The rule for account keys.
    pub fn account_rule(&self) -> ThrottleRule {
        self.account
    }

    /// The rule for address keys.
    pub fn address_rule(&self) -> ThrottleRule {
        self.address
    }

    fn rule(&self, key: &ThrottleKey) -> ThrottleRule {
        match key {
            ThrottleKey::Address(_) => self.address,
            // Anything that is not an address is counted like an account.
            _ => self.account,
        }
    }

    fn run<'a>(
        &'a self,
        what: &'static str,
        script: &'a Script,
        key: &ThrottleKey,
    ) -> Step<'a, Result<Option<Duration>, ThrottleError>> {
        if !self.inner.view.is_fresh() {
            return Step::Ready(Err(ThrottleError::Unavailable(Box::new(Unavailable::Stale))));
        }
        let rule = self.rule(key);
        let interval_micros = u64::try_from(rule.replenish_interval().as_micros()).unwrap_or(u64::MAX).max(1);
        let mut call = script.key(format!("{}throttle:{key}", self.inner.keys.prefix));
        call.arg(interval_micros).arg(rule.max_failures());
        Step::Wait(Box::pin(async move {
            let mut connection = self.inner.connection.clone();
            let wait_micros: i64 = self
                .inner
                .command(what, call.invoke_async(&mut connection))
                .await
                .map_err(|e| ThrottleError::Unavailable(Box::new(e)))?;
            Ok(u64::try_from(wait_micros).ok().filter(|&micros| micros > 0).map(Duration::from_micros))
        }))
    }
}

impl fmt::Debug for RedisThrottleStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisThrottleStore")
            .field("prefix", &self.inner.keys.prefix)
            .field("account_rule", &self.account)
            .field("address_rule", &self.address)
            .finish_non_exhaustive()
    }
}

impl ThrottleStore for RedisThrottleStore {
    fn blocked_for<'a>(&'a self, key: &ThrottleKey) -> Step<'a, Result<Option<Duration>, ThrottleError>> {
        self.run("throttle check", &self.inner.scripts.blocked_for, key)
    }

    fn record_failure<'a>(&'a self, key: &ThrottleKey) -> Step<'a, Result<Option<Duration>, ThrottleError>> {
        self.run("throttle count", &self.inner.scripts.record_failure, key)
    }
}
