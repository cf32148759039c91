//! pikku-rs on Redis: [`RedisSessionStore`] (session revocation and log-out-everywhere) and
//! [`RedisThrottleStore`] (the login throttle's counters), shared by every instance started with the same
//! Redis URL. A separate crate, so an application that does not use Redis does not compile a Redis client.
//!
//! ```no_run
//! # async fn demo() -> Result<(), pikku_redis::RedisConnectError> {
//! use std::time::Duration;
//! use pikku_auth::throttle::{LoginThrottle, ThrottleRule};
//! use pikku_redis::{RedisOptions, RedisSessionStore};
//!
//! let sessions = RedisSessionStore::connect("redis://127.0.0.1:6379/0", RedisOptions::new()).await?;
//! let rule = ThrottleRule::new(5, Duration::from_secs(15 * 60));
//! let login_throttle = LoginThrottle::with_store(sessions.throttle_store(rule, ThrottleRule::new(50, rule.window())));
//! # let _ = login_throttle; Ok(()) }
//! ```
//!
//! # Cost per request
//!
//! Checking a session costs no round trip: the store keeps a view of every revocation in memory, loaded once
//! at start (`SCAN` over the prefix) and kept current through Redis pub/sub (every revocation is written and
//! published by one script, atomically). [`is_revoked`](pikku_auth::SessionStore::is_revoked) is a read lock
//! and two hash lookups. Revoking, and each login attempt's throttle check, are one script call each.
//!
//! # Staleness and failing closed
//!
//! A revocation made on one instance is refused by every other as soon as its pub/sub message arrives:
//! well under 100 ms on a local network (the tests pin 100 ms on loopback). The view is trusted only while
//! the subscription is known to be alive: the subscriber connection is pinged every
//! [`heartbeat_interval`](RedisOptions::heartbeat_interval) and must answer within
//! [`heartbeat_timeout`](RedisOptions::heartbeat_timeout) (250 ms and 1 s by default). When the connection
//! drops or a ping goes unanswered, the view is marked stale at once: every session check and every login
//! throttle check then fails with "unavailable", which the strategies and the throttle turn into 503 with
//! `Retry-After`. So a revocation is either applied within the pub/sub delay, or the instance refuses every
//! session within `heartbeat_interval + heartbeat_timeout` (1.25 s by default) of its subscription going
//! silent; it never serves from a view it cannot vouch for for longer than that.
//!
//! A background task reconnects with back-off (50 ms doubling to 1 s), resubscribes, reloads the whole
//! state (messages published during the outage were lost), and only then marks the view fresh again:
//! service resumes by itself within about a second of Redis accepting connections again.
//!
//! # What Redis needs
//!
//! Redis 7.0 or later (`EXPIRETIME`, `EXPIREAT ... GT`), with persistence on (AOF or RDB: revocations must
//! survive a restart of Redis) and `maxmemory-policy noeviction`: revocation keys carry a TTL, so any
//! `volatile-*` policy (and every `allkeys-*` one) could evict a revocation before its tokens expire and
//! bring a logged-out session back.
//!
//! # Keys
//!
//! Under a configurable prefix ([`RedisOptions::prefix`], `pikku:` by default):
//!
//! * `<prefix>revoked:<session id>`: `1`, expiring (`EXAT`) when the session's last token stops verifying;
//! * `<prefix>user-cutoff:<user>`: the user's log-out-everywhere cut-off (epoch seconds), never moved back,
//!   expiring with the last token it revokes;
//! * `<prefix>throttle:account:<sha-256 hex>` and `<prefix>throttle:address:<ip>`: a GCRA theoretical
//!   arrival time (microseconds on the Redis server's clock), expiring (`PX`) when every allowance is back;
//! * `<prefix>revocations`: the pub/sub channel.
//!
//! Nothing else is stored, and every key expires: memory is bounded by the number of revocations and
//! throttled keys within their lifetimes.

#![deny(missing_docs)]

mod scripts;
mod session;
mod throttle;
mod view;

use std::fmt;
use std::time::Duration;

pub use session::RedisSessionStore;
pub use throttle::RedisThrottleStore;

/// The default key prefix.
pub const DEFAULT_PREFIX: &str = "pikku:";

/// How a Redis store connects and how closely it watches its subscription.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    prefix: String,
    connect_timeout: Duration,
    response_timeout: Duration,
    heartbeat_interval: Duration,
    heartbeat_timeout: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            prefix: DEFAULT_PREFIX.to_owned(),
            connect_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(1),
            heartbeat_interval: Duration::from_millis(250),
            heartbeat_timeout: Duration::from_secs(1),
        }
    }
}

impl RedisOptions {
    /// Prefix `pikku:`, a 5 s connect timeout, a 1 s response timeout, a ping every 250 ms answered within
    /// 1 s.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every key and the channel start with `prefix` (default [`DEFAULT_PREFIX`]): applications sharing one
    /// Redis database use different prefixes.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long [`RedisSessionStore::connect`] may take in all (connecting, subscribing, loading the
    /// revocations), and each reconnection attempt after.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one command (a revocation, a throttle check) may wait for its answer before the request
    /// fails with 503.
    #[must_use]
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// How often the subscriber connection is pinged (default 250 ms).
    #[must_use]
    pub fn heartbeat_interval(mut self, interval: Duration) -> Self {
        self.heartbeat_interval = interval;
        self
    }

    /// How long a ping may go unanswered before the view is marked stale (default 1 s).
    #[must_use]
    pub fn heartbeat_timeout(mut self, timeout: Duration) -> Self {
        self.heartbeat_timeout = timeout;
        self
    }
}

/// [`RedisSessionStore::connect`] failed: Redis unreachable, refusing the connection, or too slow. Names the
/// URL with its password masked.
#[derive(Debug, thiserror::Error)]
#[error("cannot use Redis at {url}: {reason}")]
pub struct RedisConnectError {
    url: String,
    reason: String,
}

impl RedisConnectError {
    /// The URL, password masked.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// Why a store answered "unavailable". Carries no session id, user or throttle key.
#[derive(Debug)]
pub(crate) enum Unavailable {
    /// The subscription is down or being re-established: the view may miss revocations.
    Stale,
    /// A command failed or timed out.
    Command(String),
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stale => f.write_str("Redis subscription down; revocations may be missed until it is back"),
            Self::Command(reason) => write!(f, "Redis: {reason}"),
        }
    }
}

impl std::error::Error for Unavailable {}

/// A Redis URL with its password (or a lone user-info part, which may be one) replaced by `***`.
///
/// ```
/// use pikku_redis::mask_url;
///
/// assert_eq!(mask_url("redis://:hunter2@10.0.0.1:6379/0"), "redis://:***@10.0.0.1:6379/0");
/// assert_eq!(mask_url("redis://app:hunter2@cache/1"), "redis://app:***@cache/1");
/// assert_eq!(mask_url("redis://127.0.0.1:6379/0"), "redis://127.0.0.1:6379/0");
/// ```
pub fn mask_url(url: &str) -> String {
    let Some((authority_start, at)) = user_info(url) else { return url.to_owned() };
    let user_info = &url[authority_start..at];
    let masked = match user_info.find(':') {
        Some(colon) => format!("{}:***", &user_info[..colon]),
        None => "***".to_owned(),
    };
    format!("{}{masked}{}", &url[..authority_start], &url[at..])
}

/// The byte range of a URL's user-info part (`start..at`, `at` being the `@`), if it has one.
fn user_info(url: &str) -> Option<(usize, usize)> {
    let start = url.find("://")? + 3;
    let authority_end = url[start..].find(['/', '?', '#']).map_or(url.len(), |end| start + end);
    let at = url[start..authority_end].rfind('@')?;
    Some((start, start + at))
}

/// The URL's password as written, to scrub it from error messages that might quote it.
fn password(url: &str) -> Option<&str> {
    let (start, at) = user_info(url)?;
    let user_info = &url[start..at];
    let secret = match user_info.find(':') {
        Some(colon) => &user_info[colon + 1..],
        None => user_info,
    };
    (!secret.is_empty()).then_some(secret)
}

/// An error message without the URL's password.
fn scrub(message: impl fmt::Display, url: &str) -> String {
    let message = message.to_string();
    match password(url) {
        Some(secret) => message.replace(secret, "***"),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_masked_wherever_it_sits() {
        assert_eq!(mask_url("redis://hunter2@host:6379"), "redis://***@host:6379");
        assert_eq!(mask_url("rediss://u:p@ss@host/0"), "rediss://u:***@host/0");
        assert_eq!(mask_url("redis://host/0?x=a@b"), "redis://host/0?x=a@b", "an @ after the host is not user info");
        assert_eq!(mask_url("not a url"), "not a url");
        assert_eq!(scrub("bad password hunter2 given", "redis://:hunter2@h"), "bad password *** given");
        assert_eq!(scrub("nothing to hide", "redis://h"), "nothing to hide");
    }
}
