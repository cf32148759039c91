//! [`RedisSessionStore`]: revocations in Redis, read from a local view kept current through pub/sub.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use pikku_auth::throttle::ThrottleRule;
use pikku_auth::{SessionRef, SessionStore, Step, StoreError};
use pikku_runtime::BoxFuture;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, PubSubSink, PubSubStream};
use redis::{Client, RedisResult};
use tokio::task::AbortHandle;

use crate::scripts::Scripts;
use crate::view::{Revocations, SharedView};
use crate::{mask_url, scrub, RedisConnectError, RedisOptions, RedisThrottleStore, Unavailable};

/// First wait before reconnecting the subscription; doubled after each failure up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(50);
/// Longest wait between reconnection attempts: Redis back means service back within about this long.
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Keys asked for per `SCAN` step while loading the view.
const SCAN_COUNT: usize = 1000;
/// Latest expiry Redis accepts as `EXAT` without overflow (9999-12-31): a "keep forever" is clamped to it.
const LATEST_EXPIRY: i64 = 253_402_300_799;

/// The key names under one prefix.
#[derive(Debug)]
pub(crate) struct Keys {
    pub(crate) prefix: String,
    channel: String,
}

impl Keys {
    fn new(prefix: &str) -> Self {
        Self { prefix: prefix.to_owned(), channel: format!("{prefix}revocations") }
    }

    fn revoked(&self, session_id: &str) -> String {
        format!("{}revoked:{session_id}", self.prefix)
    }

    fn user_cutoff(&self, user: &str) -> String {
        format!("{}user-cutoff:{user}", self.prefix)
    }
}

/// What the session store and the throttle store share: one command connection, the view, and the
/// background task keeping the view current (aborted when the last store is dropped).
pub(crate) struct Inner {
    pub(crate) view: Arc<SharedView>,
    pub(crate) connection: ConnectionManager,
    pub(crate) scripts: Scripts,
    pub(crate) keys: Keys,
    pub(crate) response_timeout: Duration,
    url: String,
    watcher: AbortHandle,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

impl Inner {
    /// Runs a command against the shared connection, bounded by the response timeout. The error says what
    /// failed, never with which key.
    pub(crate) async fn command<T>(
        &self,
        what: &'static str,
        call: impl Future<Output = RedisResult<T>>,
    ) -> Result<T, Unavailable> {
        match tokio::time::timeout(self.response_timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(Unavailable::Command(format!("{what} failed: {}", scrub(&e, &self.url)))),
            Err(_) => Err(Unavailable::Command(format!("{what}: no answer within {:?}", self.response_timeout))),
        }
    }
}

/// A [`SessionStore`] in Redis, shared by every instance using the same URL and prefix. See the
/// [crate](crate) documentation for the keys, the staleness bound and what happens when Redis is lost.
///
/// [`is_revoked`](SessionStore::is_revoked) answers from memory ([`Step::Ready`]); revoking is one script
/// call that also publishes the revocation to the other instances. Cloning is cheap and shares everything.
#[derive(Clone)]
pub struct RedisSessionStore {
    inner: Arc<Inner>,
}

impl RedisSessionStore {
    /// Connects to `url` (`redis://[:password@]host[:port][/db]`), subscribes to the revocation channel and
    /// loads every revocation, all within [`RedisOptions::connect_timeout`]; then keeps the view current in
    /// a background task on the current tokio runtime.
    ///
    /// # Errors
    /// [`RedisConnectError`] (naming the URL, password masked) when the URL does not parse, or Redis
    /// cannot be reached, refuses, or does not answer in time.
    ///
    /// # Panics
    /// Outside a tokio runtime (the background task is spawned on the current one).
    pub async fn connect(url: &str, options: RedisOptions) -> Result<Self, RedisConnectError> {
        let fail = |reason: String| RedisConnectError { url: mask_url(url), reason: scrub(reason, url) };
        let client = Client::open(url).map_err(|e| fail(format!("invalid URL: {e}")))?;
        let keys = Keys::new(&options.prefix);
        let view = Arc::new(SharedView::default());
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.connect_timeout))
            .set_response_timeout(Some(options.response_timeout))
            .set_min_delay(MIN_BACKOFF)
            .set_max_delay(MAX_BACKOFF);
        let start = async {
            let connection = ConnectionManager::new_with_config(client.clone(), manager_config).await?;
            let subscription = subscribe_and_load(&client, &keys, &view).await?;
            RedisResult::Ok((connection, subscription))
        };
        let (connection, subscription) = match tokio::time::timeout(options.connect_timeout, start).await {
            Ok(Ok(started)) => started,
            Ok(Err(e)) => return Err(fail(e.to_string())),
            Err(_) => return Err(fail(format!("no answer within {:?}", options.connect_timeout))),
        };
        let watcher =
            tokio::spawn(watch(Arc::clone(&view), client, url.to_owned(), options.clone(), Some(subscription)));
        let inner = Inner {
            view,
            connection,
            scripts: Scripts::new(),
            keys,
            response_timeout: options.response_timeout,
            url: url.to_owned(),
            watcher: watcher.abort_handle(),
        };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// A throttle store on the same connection and prefix, answering "unavailable" whenever this store
    /// does: `account` applies to account keys, `address` to address keys.
    pub fn throttle_store(&self, account: ThrottleRule, address: ThrottleRule) -> RedisThrottleStore {
        RedisThrottleStore::new(Arc::clone(&self.inner), account, address)
    }

    /// Whether the view is trusted right now (subscription alive and loaded): while it is not, every check
    /// answers "unavailable".
    pub fn is_fresh(&self) -> bool {
        self.inner.view.is_fresh()
    }

    /// Number of revoked sessions and user cut-offs in the local view.
    pub fn len(&self) -> usize {
        self.inner.view.read().len()
    }

    /// Whether the local view holds no revocation.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for RedisSessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSessionStore")
            .field("url", &mask_url(&self.inner.url))
            .field("prefix", &self.inner.keys.prefix)
            .field("fresh", &self.is_fresh())
            .finish_non_exhaustive()
    }
}

fn unavailable(why: Unavailable) -> StoreError {
    StoreError::Unavailable(Box::new(why))
}

impl SessionStore for RedisSessionStore {
    fn is_revoked<'a>(&'a self, token: SessionRef<'_>) -> Step<'a, Result<bool, StoreError>> {
        let view = &self.inner.view;
        if !view.is_fresh() {
            return Step::Ready(Err(unavailable(Unavailable::Stale)));
        }
        Step::Ready(Ok(view.read().is_revoked(token)))
    }

    fn revoke<'a>(&'a self, session_id: &'a str, keep_until: i64) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let inner = &*self.inner;
            let mut connection = inner.connection.clone();
            let mut call = inner.scripts.revoke.key(inner.keys.revoked(session_id));
            call.arg(keep_until.min(LATEST_EXPIRY)).arg(&inner.keys.channel).arg(session_id);
            let keep_until: i64 =
                inner.command("revoke", call.invoke_async(&mut connection)).await.map_err(unavailable)?;
            // This instance refuses the session at once, without waiting for its own message.
            inner.view.write().revoke_session(session_id, keep_until);
            Ok(())
        })
    }

    fn revoke_user<'a>(&'a self, user: &'a str, cutoff: i64, keep_until: i64) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let inner = &*self.inner;
            let mut connection = inner.connection.clone();
            let mut call = inner.scripts.revoke_user.key(inner.keys.user_cutoff(user));
            call.arg(cutoff.min(LATEST_EXPIRY)).arg(keep_until.min(LATEST_EXPIRY)).arg(&inner.keys.channel).arg(user);
            let (cutoff, keep_until): (i64, i64) =
                inner.command("revoke_user", call.invoke_async(&mut connection)).await.map_err(unavailable)?;
            inner.view.write().revoke_user(user, cutoff, keep_until);
            Ok(())
        })
    }
}

/// A live subscription to the revocation channel.
struct Subscription {
    sink: PubSubSink,
    stream: PubSubStream,
}

/// Subscribes, then loads every revocation, then applies what was published meanwhile, and only then
/// marks the view fresh: a revocation is either in the load or in the messages.
async fn subscribe_and_load(client: &Client, keys: &Keys, view: &SharedView) -> RedisResult<Subscription> {
    let (mut sink, mut stream) = client.get_async_pubsub().await?.split();
    sink.subscribe(&keys.channel).await?;
    let mut connection = client.get_multiplexed_async_connection().await?;
    let loaded = load(&mut connection, keys).await?;
    view.replace(loaded);
    while let Some(Some(message)) = stream.next().now_or_never() {
        view.write().apply_message(message.get_payload_bytes());
    }
    view.mark_fresh();
    Ok(Subscription { sink, stream })
}

/// Every revocation under the prefix: one `SCAN` pass, the expiries (and cut-offs) fetched per batch.
async fn load(connection: &mut redis::aio::MultiplexedConnection, keys: &Keys) -> RedisResult<Revocations> {
    let revoked_prefix = format!("{}revoked:", keys.prefix);
    let user_prefix = format!("{}user-cutoff:", keys.prefix);
    let pattern = format!("{}*", glob_escape(&keys.prefix));
    let mut revocations = Revocations::default();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(SCAN_COUNT)
            .query_async(connection)
            .await?;
        let sessions: Vec<&String> = batch.iter().filter(|key| key.starts_with(&revoked_prefix)).collect();
        if !sessions.is_empty() {
            let mut pipe = redis::pipe();
            for key in &sessions {
                pipe.cmd("EXPIRETIME").arg(*key);
            }
            let expiries: Vec<i64> = pipe.query_async(connection).await?;
            for (key, expiry) in sessions.iter().zip(expiries) {
                // -2: expired since the scan saw it; -1: no expiry (written by hand), kept for good.
                if expiry != -2 {
                    let keep_until = if expiry < 0 { i64::MAX } else { expiry };
                    revocations.revoke_session(&key[revoked_prefix.len()..], keep_until);
                }
            }
        }
        let users: Vec<&String> = batch.iter().filter(|key| key.starts_with(&user_prefix)).collect();
        if !users.is_empty() {
            let mut pipe = redis::pipe();
            for key in &users {
                pipe.cmd("GET").arg(*key).cmd("EXPIRETIME").arg(*key);
            }
            let answers: Vec<(Option<i64>, i64)> = pipe.query_async(connection).await?;
            for (key, (cutoff, expiry)) in users.iter().zip(answers) {
                if let (Some(cutoff), true) = (cutoff, expiry != -2) {
                    let keep_until = if expiry < 0 { i64::MAX } else { expiry };
                    revocations.revoke_user(&key[user_prefix.len()..], cutoff, keep_until);
                }
            }
        }
        cursor = next;
        if cursor == 0 {
            return Ok(revocations);
        }
    }
}

/// `prefix` as a `SCAN MATCH` pattern matching itself only.
fn glob_escape(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len());
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern
}

/// The background task: applies the channel's messages, pings the subscription, marks the view stale the
/// moment either fails, and reconnects with back-off.
async fn watch(
    view: Arc<SharedView>,
    client: Client,
    url: String,
    options: RedisOptions,
    mut subscription: Option<Subscription>,
) {
    let keys = Keys::new(&options.prefix);
    let mut backoff = MIN_BACKOFF;
    loop {
        let current = match subscription.take() {
            Some(current) => current,
            None => {
                let attempt = tokio::time::timeout(options.connect_timeout, subscribe_and_load(&client, &keys, &view));
                match attempt.await {
                    Ok(Ok(current)) => {
                        tracing::info!("Redis subscription re-established; session store available again");
                        backoff = MIN_BACKOFF;
                        current
                    }
                    Ok(Err(e)) => {
                        tracing::debug!(error = %scrub(&e, &url), "Redis reconnection failed");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        continue;
                    }
                    Err(_) => {
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        continue;
                    }
                }
            }
        };
        let lost = follow(&view, current, &options).await;
        view.mark_stale();
        tracing::error!(why = lost, "Redis subscription lost; sessions and logins answer 503 until it is back");
    }
}

/// Follows a live subscription until it fails; answers why.
async fn follow(view: &SharedView, mut subscription: Subscription, options: &RedisOptions) -> &'static str {
    let mut heartbeat = tokio::time::interval(options.heartbeat_interval);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            message = subscription.stream.next() => match message {
                Some(message) => {
                    view.write().apply_message(message.get_payload_bytes());
                }
                None => return "connection closed",
            },
            _ = heartbeat.tick() => {
                let ping = subscription.sink.ping::<redis::Value>();
                match tokio::time::timeout(options.heartbeat_timeout, ping).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(_)) => return "ping failed",
                    Err(_) => return "ping unanswered",
                }
            }
        }
    }
}
