//! The in-memory [`ThrottleStore`]: `governor`'s keyed GCRA per rule, and the keys each rule currently
//! blocks.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use governor::clock::{Clock, Reference};
use governor::middleware::StateInformationMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::HashMapStateStore;
use governor::RateLimiter;

use super::{ThrottleError, ThrottleKey, ThrottleRule, ThrottleStore};
use crate::strategy::Step;

/// Number of tracked keys below which the in-memory store does not bother sweeping.
const MIN_SWEEP_THRESHOLD: usize = 1024;

/// While a rule is full, how long attempts are refused before it sweeps again.
pub(super) const FULL_PAUSE: Duration = Duration::from_secs(1);

/// Monotonic time since the store was created, in governor's terms. Tests drive it by hand.
#[derive(Debug, Clone)]
pub(super) struct ThrottleClock {
    pub(super) origin: std::time::Instant,
    #[cfg(test)]
    pub(super) manual: Option<governor::clock::FakeRelativeClock>,
}

impl ThrottleClock {
    fn monotonic() -> Self {
        Self {
            origin: std::time::Instant::now(),
            #[cfg(test)]
            manual: None,
        }
    }
}

impl Clock for ThrottleClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        #[cfg(test)]
        if let Some(manual) = &self.manual {
            return manual.now();
        }
        Nanos::from(self.origin.elapsed())
    }
}

type Limiter = RateLimiter<ThrottleKey, HashMapStateStore<ThrottleKey>, ThrottleClock, StateInformationMiddleware>;

/// One rule's GCRA state and the keys it currently blocks.
struct RuleTable {
    rule: ThrottleRule,
    limiter: Limiter,
    blocked: Mutex<Blocked>,
}

#[derive(Default)]
struct Blocked {
    /// Key to the instant (on the store's clock) until which attempts are refused.
    until: HashMap<ThrottleKey, Nanos>,
    /// Number of tracked keys at which the next failure sweeps.
    sweep_at: usize,
    /// Set when the rule tracks [`ThrottleRule::max_keys`] keys even after a sweep: every attempt is
    /// refused until then.
    full_until: Option<Nanos>,
}

impl RuleTable {
    fn new(rule: ThrottleRule, clock: ThrottleClock) -> Self {
        let limiter = Limiter::new(rule.quota(), HashMapStateStore::default(), clock);
        Self { rule, limiter, blocked: Mutex::new(Blocked::default()) }
    }

    fn now(&self) -> Nanos {
        self.limiter.clock().now()
    }

    fn blocked(&self) -> MutexGuard<'_, Blocked> {
        // A poisoned lock only means another holder panicked; the map itself is always consistent.
        self.blocked.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn blocked_for(&self, key: &ThrottleKey) -> Option<Duration> {
        let now = self.now();
        {
            let blocked = self.blocked();
            let until = blocked.until.get(key).copied().max(blocked.full_until);
            if let Some(until) = until.filter(|until| *until > now) {
                return Some(until.duration_since(now).into());
            }
        }
        if self.limiter.len() < self.rule.max_keys {
            return None;
        }
        self.sweep();
        if self.limiter.len() < self.rule.max_keys {
            return None;
        }
        // Refusing is what keeps memory bounded without ever forgetting a key early. The next sweep waits a
        // little, so a flood of refused attempts does not each pay for one.
        let pause = self.rule.replenish_interval().min(FULL_PAUSE);
        self.blocked().full_until = Some(now + Nanos::from(pause));
        tracing::warn!(max_keys = self.rule.max_keys, "login throttle full: refusing attempts until keys expire");
        Some(pause)
    }

    fn record_failure(&self, key: &ThrottleKey) -> Option<Duration> {
        let blocked_for = match self.limiter.check_key(key) {
            Ok(snapshot) if snapshot.remaining_burst_capacity() > 0 => None,
            // That was the last allowance. Its exact return time is not in the snapshot, but asking again
            // is refused without consuming anything and says when. (Should an allowance come back between
            // the two calls, it is spent too: the key stays blocked a little longer, never shorter.)
            Ok(_) => Some(match self.limiter.check_key(key) {
                Err(not_until) => not_until.wait_time_from(self.now()),
                Ok(_) => self.rule.replenish_interval(),
            }),
            // A failure counted by another caller that did not take turns got there first.
            Err(not_until) => Some(not_until.wait_time_from(self.now())),
        };
        let mut blocked = self.blocked();
        if let Some(wait) = blocked_for.filter(|wait| !wait.is_zero()) {
            blocked.until.insert(key.clone(), self.now() + Nanos::from(wait));
        }
        if self.limiter.len() >= blocked.sweep_at.max(MIN_SWEEP_THRESHOLD) {
            drop(blocked);
            self.sweep();
        }
        blocked_for
    }

    /// Forgets the keys whose allowances are all back and the blocks that have ended.
    fn sweep(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
        let now = self.now();
        let mut blocked = self.blocked();
        blocked.until.retain(|_, until| *until > now);
        blocked.until.shrink_to_fit();
        blocked.sweep_at = self.limiter.len().saturating_mul(2);
    }
}

/// The throttle's counters in this process's memory, on `governor`'s keyed GCRA: right for one instance.
/// Memory stays bounded (see the [module](super)).
pub struct InMemoryThrottleStore {
    accounts: RuleTable,
    addresses: RuleTable,
}

impl InMemoryThrottleStore {
    /// A store applying `account` to account keys and `address` to address keys.
    pub fn new(account: ThrottleRule, address: ThrottleRule) -> Self {
        Self::with_clock(account, address, ThrottleClock::monotonic())
    }

    pub(super) fn with_clock(account: ThrottleRule, address: ThrottleRule, clock: ThrottleClock) -> Self {
        Self { accounts: RuleTable::new(account, clock.clone()), addresses: RuleTable::new(address, clock) }
    }

    /// The rule for account keys.
    pub fn account_rule(&self) -> ThrottleRule {
        self.accounts.rule
    }

    /// The rule for address keys.
    pub fn address_rule(&self) -> ThrottleRule {
        self.addresses.rule
    }

    /// Number of keys tracked (accounts and addresses together).
    pub fn len(&self) -> usize {
        self.accounts.limiter.len() + self.addresses.limiter.len()
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every key whose allowances are all back. Also done on its own as keys accumulate.
    pub fn sweep(&self) {
        self.accounts.sweep();
        self.addresses.sweep();
    }

    fn table(&self, key: &ThrottleKey) -> &RuleTable {
        match key {
            ThrottleKey::Account(_) => &self.accounts,
            ThrottleKey::Address(_) => &self.addresses,
        }
    }
}

impl fmt::Debug for InMemoryThrottleStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryThrottleStore")
            .field("account_rule", &self.accounts.rule)
            .field("address_rule", &self.addresses.rule)
            .field("keys", &self.len())
            .finish()
    }
}

impl ThrottleStore for InMemoryThrottleStore {
    fn blocked_for<'a>(&'a self, key: &ThrottleKey) -> Step<'a, Result<Option<Duration>, ThrottleError>> {
        Step::Ready(Ok(self.table(key).blocked_for(key)))
    }

    fn record_failure<'a>(&'a self, key: &ThrottleKey) -> Step<'a, Result<Option<Duration>, ThrottleError>> {
        Step::Ready(Ok(self.table(key).record_failure(key)))
    }
}
