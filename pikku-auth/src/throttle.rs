//! Login throttling: failed logins counted per account and per client address, and a 429 with
//! `Retry-After` once either has had too many (OWASP Authentication Cheat Sheet, "Protect against automated
//! attacks"; RFC 6585 §4 for 429).
//!
//! ```
//! # tokio_test_block(async {
//! use std::net::{IpAddr, Ipv4Addr};
//! use std::time::Duration;
//! use pikku_auth::throttle::{LoginThrottle, ThrottleError, ThrottleRule};
//!
//! const FIFTEEN_MINUTES: Duration = Duration::from_secs(15 * 60);
//! let throttle = LoginThrottle::new(ThrottleRule::new(5, FIFTEEN_MINUTES), ThrottleRule::new(50, FIFTEEN_MINUTES));
//! let client = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
//!
//! for _ in 0..5 {
//!     let attempt = throttle.begin("alice@example.com", client).await.unwrap();
//!     // ... the password was wrong:
//!     attempt.failed().await.unwrap();
//! }
//! // The sixth attempt is refused before the password is even looked at.
//! let refused = throttle.begin("Alice@Example.com", client).await.unwrap_err();
//! // For about three minutes, when one of the five allowances comes back.
//! let ThrottleError::Throttled { retry_after } = refused else { panic!("{refused:?}") };
//! assert!(retry_after <= FIFTEEN_MINUTES / 5 && retry_after > Duration::from_secs(170));
//! # });
//! # fn tokio_test_block(f: impl std::future::Future<Output = ()>) {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```
//!
//! # What is counted
//!
//! Only failures: [`LoginAttempt::failed`] counts one against the account and one against the client's
//! address; a success counts nothing and resets nothing, so a user logging in does not wipe the failures an
//! attacker piled up on the same account or address. An email that belongs to no account is counted exactly
//! like one that does, so a 429 never tells whether an account exists.
//!
//! # The rule: "N failures per window"
//!
//! Each key has a bucket of N allowances that refills one allowance every `window / N` (the GCRA of the
//! `governor` crate, burst N). Consequences, all pinned by tests:
//!
//! * N failures in a row are let through (each answered as the application answers a wrong password); the
//!   attempt after the Nth is refused with 429, whatever the password, until one allowance is back.
//! * After that, one more failure is let through every `window / N` (5 per 15 minutes: one every 3
//!   minutes), so the long-run rate is N per window and a burst never exceeds N.
//! * A key left alone for a whole window is back to N.
//!
//! # Concurrency
//!
//! Attempts on the same account, or from the same address, take turns: an attempt waits (it is not
//! refused) until the previous attempt on the same key has reported its outcome. Otherwise a thousand
//! simultaneous guesses would all pass the check before the first failure is counted. A login holds its
//! turn only while it checks the credentials, so for a legitimate user this is invisible.
//!
//! # Keys
//!
//! * Accounts: the email (or user name) trimmed and ASCII-lowercased, so `Alice@Example.com ` and
//!   `alice@example.com` share a counter, then reduced to its SHA-256 digest, so a megabyte-long "email"
//!   costs 32 bytes and no address is kept in clear.
//! * Addresses: the client's IP. An IPv4-mapped IPv6 address counts as the IPv4 address; any other IPv6
//!   address counts as its `/64` network, because one host usually holds a whole `/64` and could otherwise
//!   change address on every attempt.
//!
//! The client address is the peer address of the connection, or what trusted proxies report: passing the
//! right one is the caller's job (`ctx.client_addr()` in a function).
//!
//! # Memory
//!
//! The in-memory store forgets keys whose allowances are all back (amortised: whenever the number of keys
//! has doubled since the last sweep), and tracks at most [`ThrottleRule::max_keys`] keys per rule. Past
//! that, after a sweep, every attempt is refused until keys expire: spraying random emails cannot grow memory
//! without bound, nor push a real account's failures out of the table to reset them. Reaching the cap needs
//! more failed logins per second than the default Argon2id parameters let two cores check.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use governor::clock::{Clock, Reference};
use governor::middleware::StateInformationMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};
use pikku_runtime::PikkuError;
use sha2::{Digest, Sha256};

use crate::strategy::Step;

/// How long a client is told to wait when the throttle's store cannot answer (503).
pub const UNAVAILABLE_RETRY_AFTER: Duration = Duration::from_secs(5);

/// Default for [`ThrottleRule::max_keys`].
pub const DEFAULT_MAX_KEYS: usize = 100_000;

/// Number of tracked keys below which the in-memory store does not bother sweeping.
const MIN_SWEEP_THRESHOLD: usize = 1024;

/// While a rule is full, how long attempts are refused before it sweeps again.
const FULL_PAUSE: Duration = Duration::from_secs(1);

/// "At most `max_failures` failures per `window`" for one kind of key (see the [module](self) for the exact
/// semantics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleRule {
    max_failures: NonZeroU32,
    window: Duration,
    max_keys: usize,
}

impl ThrottleRule {
    /// `max_failures` failures per `window`; at most [`DEFAULT_MAX_KEYS`] keys tracked.
    ///
    /// # Panics
    /// If `max_failures` is 0, or `window / max_failures` is zero (a configuration mistake, found at start).
    pub fn new(max_failures: u32, window: Duration) -> Self {
        let max_failures = NonZeroU32::new(max_failures).expect("a throttle rule allows at least one failure");
        assert!(!(window / max_failures.get()).is_zero(), "a throttle rule's window must be longer than zero");
        Self { max_failures, window, max_keys: DEFAULT_MAX_KEYS }
    }

    /// At most `max_keys` keys tracked at once (each costs about a hundred bytes); see the [module](self)
    /// for what happens past it.
    ///
    /// # Panics
    /// If `max_keys` is 0.
    #[must_use]
    pub fn max_keys(mut self, max_keys: usize) -> Self {
        assert!(max_keys > 0, "a throttle rule tracks at least one key");
        self.max_keys = max_keys;
        self
    }

    /// How many failures in a row are let through.
    pub fn max_failures(&self) -> u32 {
        self.max_failures.get()
    }

    /// The window the failures are counted over.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The time it takes one allowance to come back: `window / max_failures`.
    pub fn replenish_interval(&self) -> Duration {
        self.window / self.max_failures.get()
    }

    fn quota(&self) -> Quota {
        Quota::with_period(self.replenish_interval())
            .expect("the constructor refused a zero interval")
            .allow_burst(self.max_failures)
    }
}

/// What the throttle counts failures against.
#[derive(Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ThrottleKey {
    /// An account: the SHA-256 digest of the normalised email or user name ([`ThrottleKey::account`]).
    Account([u8; 32]),
    /// A client address, IPv6 reduced to its `/64` ([`ThrottleKey::address`]).
    Address(IpAddr),
}

impl ThrottleKey {
    /// The key of an account name: trimmed, ASCII-lowercased, hashed.
    ///
    /// ```
    /// use pikku_auth::throttle::ThrottleKey;
    ///
    /// assert_eq!(ThrottleKey::account(" Alice@Example.COM"), ThrottleKey::account("alice@example.com"));
    /// assert_ne!(ThrottleKey::account("alice@example.com"), ThrottleKey::account("bob@example.com"));
    /// ```
    pub fn account(name: &str) -> Self {
        let mut hasher = Sha256::new();
        // Lowercased in chunks rather than into one copy: the name is client input of any length.
        let mut buffer = [0u8; 256];
        for chunk in name.trim().as_bytes().chunks(buffer.len()) {
            let lowered = &mut buffer[..chunk.len()];
            lowered.copy_from_slice(chunk);
            lowered.make_ascii_lowercase();
            hasher.update(lowered);
        }
        Self::Account(hasher.finalize().into())
    }

    /// The key of a client address: IPv4 as it is, an IPv4-mapped IPv6 address as IPv4, any other IPv6
    /// address as its `/64` network.
    ///
    /// ```
    /// use pikku_auth::throttle::ThrottleKey;
    ///
    /// let a = ThrottleKey::address("2001:db8:1:2:aaaa::1".parse().unwrap());
    /// assert_eq!(a, ThrottleKey::address("2001:db8:1:2:ffff::9".parse().unwrap()));
    /// assert_eq!(ThrottleKey::address("::ffff:10.0.0.1".parse().unwrap()), ThrottleKey::address("10.0.0.1".parse().unwrap()));
    /// ```
    pub fn address(ip: IpAddr) -> Self {
        Self::Address(match ip {
            IpAddr::V4(v4) => IpAddr::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(Ipv6Addr::from(v6.to_bits() & !u128::from(u64::MAX))),
            },
        })
    }
}

impl fmt::Display for ThrottleKey {
    /// `account:<hex digest>` or `address:<ip>`: a form for a shared store's key names.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Account(digest) => {
                f.write_str("account:")?;
                digest.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
            }
            Self::Address(ip) => write!(f, "address:{ip}"),
        }
    }
}

impl fmt::Debug for ThrottleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ThrottleKey({self})")
    }
}

/// Why a login attempt may not go ahead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ThrottleError {
    /// Too many failures for the account or the client's address: 429 with `Retry-After`.
    #[error("too many failed login attempts; retry in {retry_after:?}")]
    Throttled {
        /// How long until an attempt is let through again.
        retry_after: Duration,
    },
    /// The throttle's store could not answer: 503 with `Retry-After` (a login is refused rather than let
    /// through uncounted). The source must not carry account names.
    #[error("login throttle store unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<ThrottleError> for PikkuError {
    fn from(error: ThrottleError) -> Self {
        match error {
            // One message whichever key is blocked and whether the account exists.
            ThrottleError::Throttled { retry_after } => {
                PikkuError::too_many_requests("Too many failed login attempts; try again later")
                    .with_retry_after(retry_after)
            }
            unavailable @ ThrottleError::Unavailable(_) => {
                let detail = match std::error::Error::source(&unavailable) {
                    Some(source) => format!("{unavailable}: {source}"),
                    None => unavailable.to_string(),
                };
                PikkuError::service_unavailable_retry_after(detail, UNAVAILABLE_RETRY_AFTER)
            }
        }
    }
}

/// Where the failures are counted. The in-process [`InMemoryThrottleStore`] answers [`Step::Ready`]; a
/// store shared by several instances (Redis) answers [`Step::Wait`] with a future that owns a copy of the
/// key. The store holds the rules: which one applies follows from the key's kind.
pub trait ThrottleStore: Send + Sync + 'static {
    /// How much longer `key` is blocked, or `None` when an attempt may go ahead. Does not count anything.
    ///
    /// # Errors
    /// [`ThrottleError::Unavailable`] when the store cannot answer;
    /// [`ThrottleError::Throttled`] may be answered instead of `Ok(Some(..))`.
    fn blocked_for<'a>(&'a self, key: &ThrottleKey) -> Step<'a, Result<Option<Duration>, ThrottleError>>;

    /// Counts one failure against `key`. Answers how long the key is now blocked when this failure used up
    /// its last allowance (the next attempt is refused), or `None`.
    ///
    /// # Errors
    /// [`ThrottleError::Unavailable`] when the store cannot record it.
    fn record_failure<'a>(&'a self, key: &ThrottleKey) -> Step<'a, Result<Option<Duration>, ThrottleError>>;
}

/// Monotonic time since the store was created, in governor's terms. Tests drive it by hand.
#[derive(Debug, Clone)]
struct ThrottleClock {
    origin: std::time::Instant,
    #[cfg(test)]
    manual: Option<governor::clock::FakeRelativeClock>,
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
/// Memory stays bounded (see the [module](self)).
pub struct InMemoryThrottleStore {
    accounts: RuleTable,
    addresses: RuleTable,
}

impl InMemoryThrottleStore {
    /// A store applying `account` to account keys and `address` to address keys.
    pub fn new(account: ThrottleRule, address: ThrottleRule) -> Self {
        Self::with_clock(account, address, ThrottleClock::monotonic())
    }

    fn with_clock(account: ThrottleRule, address: ThrottleRule, clock: ThrottleClock) -> Self {
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

/// Per-key turns: one attempt at a time per key, the others wait in line.
#[derive(Default)]
struct Turns {
    lines: Mutex<Lines>,
}

#[derive(Default)]
struct Lines {
    by_key: HashMap<ThrottleKey, Arc<tokio::sync::Mutex<()>>>,
    /// Size at which the next insertion drops lines nobody is in.
    sweep_at: usize,
}

/// Number of lines below which [`Turns`] does not sweep abandoned ones.
const MIN_TURNS_SWEEP: usize = 64;

impl Turns {
    fn lines(&self) -> MutexGuard<'_, Lines> {
        self.lines.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn take(&self, key: ThrottleKey) -> Turn<'_> {
        let line = {
            let mut lines = self.lines();
            if lines.by_key.len() >= lines.sweep_at.max(MIN_TURNS_SWEEP) {
                // A wait cancelled before it got its turn leaves a line nobody is in; the map holds the only
                // reference to those.
                lines.by_key.retain(|_, line| Arc::strong_count(line) > 1);
                lines.sweep_at = lines.by_key.len() * 2;
            }
            Arc::clone(lines.by_key.entry(key.clone()).or_default())
        };
        let guard = line.lock_owned().await;
        Turn { turns: self, key, guard: Some(guard) }
    }
}

/// Holding one key's turn; giving it back removes the key's line when nobody waits in it.
struct Turn<'t> {
    turns: &'t Turns,
    key: ThrottleKey,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut lines = self.turns.lines();
        drop(self.guard.take());
        // Every reference is taken under this lock, so the count cannot rise behind our back.
        if lines.by_key.get(&self.key).is_some_and(|line| Arc::strong_count(line) == 1) {
            lines.by_key.remove(&self.key);
        }
    }
}

/// The login throttle: [`begin`](Self::begin) before checking credentials, then report the outcome on the
/// [`LoginAttempt`]. See the [module](self) for the rules and an example.
pub struct LoginThrottle<S: ThrottleStore = InMemoryThrottleStore> {
    store: S,
    turns: Turns,
}

impl LoginThrottle {
    /// A throttle counting in this process's memory: `account` per account, `address` per client address.
    pub fn new(account: ThrottleRule, address: ThrottleRule) -> Self {
        Self::with_store(InMemoryThrottleStore::new(account, address))
    }
}

impl<S: ThrottleStore> LoginThrottle<S> {
    /// A throttle counting in `store`.
    pub fn with_store(store: S) -> Self {
        Self { store, turns: Turns::default() }
    }

    /// The store the failures are counted in.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Starts a login attempt for `account` (the email or user name as the client sent it) from `client`
    /// (`None`: only the account rule applies). Waits while another attempt on the same account or from the
    /// same address is in progress.
    ///
    /// # Errors
    /// [`ThrottleError::Throttled`] while the account or the address is blocked (the longer wait of the
    /// two), whether the account exists or not; [`ThrottleError::Unavailable`] when the store cannot
    /// answer.
    pub async fn begin(&self, account: &str, client: Option<IpAddr>) -> Result<LoginAttempt<'_, S>, ThrottleError> {
        let account = ThrottleKey::account(account);
        let address = client.map(ThrottleKey::address);
        // Refused at once while blocked, without queueing behind the attempts in progress.
        self.check(&account, address.as_ref()).await?;
        // Always the account first, then the address: no two attempts wait for each other's turns.
        let account_turn = self.turns.take(account.clone()).await;
        let address_turn = match &address {
            Some(key) => Some(self.turns.take(key.clone()).await),
            None => None,
        };
        // The attempts before ours in line may have used up the last allowance.
        self.check(&account, address.as_ref()).await?;
        Ok(LoginAttempt { throttle: self, account, address, _turns: (account_turn, address_turn) })
    }

    async fn check(&self, account: &ThrottleKey, address: Option<&ThrottleKey>) -> Result<(), ThrottleError> {
        let mut longest = self.store.blocked_for(account).await?;
        if let Some(address) = address {
            longest = longest.max(self.store.blocked_for(address).await?);
        }
        match longest {
            Some(retry_after) => Err(ThrottleError::Throttled { retry_after }),
            None => Ok(()),
        }
    }
}

impl<S: ThrottleStore + fmt::Debug> fmt::Debug for LoginThrottle<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginThrottle").field("store", &self.store).finish_non_exhaustive()
    }
}

/// A login attempt let through by [`LoginThrottle::begin`]: report [`failed`](Self::failed) or
/// [`succeeded`](Self::succeeded) once the credentials are checked. Dropping it counts nothing, like a
/// success. While it lives, other attempts on the same account or from the same address wait.
#[must_use = "report the outcome with `failed` or `succeeded`"]
pub struct LoginAttempt<'t, S: ThrottleStore = InMemoryThrottleStore> {
    throttle: &'t LoginThrottle<S>,
    account: ThrottleKey,
    address: Option<ThrottleKey>,
    _turns: (Turn<'t>, Option<Turn<'t>>),
}

impl<S: ThrottleStore> LoginAttempt<'_, S> {
    /// The credentials were wrong (or the account does not exist): one failure against the account and one
    /// against the address.
    ///
    /// # Errors
    /// [`ThrottleError::Unavailable`] when the store cannot record the failure.
    pub async fn failed(self) -> Result<(), ThrottleError> {
        let store = &self.throttle.store;
        store.record_failure(&self.account).await?;
        if let Some(address) = &self.address {
            store.record_failure(address).await?;
        }
        Ok(())
    }

    /// The credentials were right: nothing is counted, and nothing is reset.
    pub fn succeeded(self) {}
}

impl<S: ThrottleStore> fmt::Debug for LoginAttempt<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginAttempt").field("account", &self.account).field("address", &self.address).finish()
    }
}

#[cfg(test)]
mod tests;
