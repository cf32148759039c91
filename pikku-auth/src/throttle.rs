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

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::time::Duration;

use governor::Quota;
use pikku_runtime::PikkuError;
use sha2::{Digest, Sha256};

use crate::strategy::Step;

mod memory;
mod turns;

pub use memory::InMemoryThrottleStore;
use turns::{Turn, Turns};

/// How long a client is told to wait when the throttle's store cannot answer (503).
pub const UNAVAILABLE_RETRY_AFTER: Duration = Duration::from_secs(5);

/// Default for [`ThrottleRule::max_keys`].
pub const DEFAULT_MAX_KEYS: usize = 100_000;

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
