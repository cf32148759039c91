//! The Redis stores against a real `redis-server` (one per test, on its own port): shared revocations and
//! throttle, the staleness bound, failing closed when Redis is lost or slow, and coming back by itself.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

#[path = "support/redis_server.rs"]
mod redis_server;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pikku_auth::throttle::{LoginThrottle, ThrottleError, ThrottleKey, ThrottleRule, ThrottleStore};
use pikku_auth::{SessionRef, SessionStore, StoreError};
use pikku_redis::{RedisOptions, RedisSessionStore, RedisThrottleStore};
use redis_server::RedisServer;

const FIFTEEN_MINUTES: Duration = Duration::from_secs(15 * 60);
const CLIENT: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));

fn now() -> i64 {
    i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

fn session(session_id: &str) -> SessionRef<'_> {
    SessionRef { session_id, user: Some("u1"), auth_time: Some(now() - 100) }
}

async fn store(server: &RedisServer) -> RedisSessionStore {
    RedisSessionStore::connect(&server.url(), RedisOptions::new()).await.expect("connect to the test Redis")
}

fn throttle(store: &RedisSessionStore) -> LoginThrottle<RedisThrottleStore> {
    LoginThrottle::with_store(
        store.throttle_store(ThrottleRule::new(5, FIFTEEN_MINUTES), ThrottleRule::new(50, FIFTEEN_MINUTES)),
    )
}

async fn raw(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(server.url()).unwrap().get_multiplexed_async_connection().await.unwrap()
}

fn revoked(store: &RedisSessionStore, token: SessionRef<'_>) -> Result<bool, StoreError> {
    match store.is_revoked(token) {
        pikku_auth::Step::Ready(answer) => answer,
        pikku_auth::Step::Wait(_) => panic!("the Redis store answers from memory"),
    }
}

/// Polls `condition` every millisecond until it holds; answers how long that took, or panics after `limit`.
async fn within(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    start.elapsed()
}

#[tokio::test]
async fn a_revocation_on_one_instance_is_refused_on_another_within_100ms() {
    let server = RedisServer::start();
    let (a, b) = (store(&server).await, store(&server).await);
    assert!(!revoked(&b, session("s1")).unwrap());
    a.revoke("s1", now() + 3600).await.unwrap();
    assert!(revoked(&a, session("s1")).unwrap(), "the revoking instance refuses at once");
    let took = within(Duration::from_millis(100), "logout seen on B", || revoked(&b, session("s1")).unwrap()).await;
    eprintln!("revocation reached the other store in {took:?}");
    assert!(!revoked(&b, session("s2")).unwrap(), "other sessions are untouched");

    // Log out everywhere: every session of u1 begun by now, on both, and not u2's nor a later login.
    a.revoke_user("u1", now(), now() + 3600).await.unwrap();
    within(Duration::from_millis(100), "cut-off seen on B", || revoked(&b, session("s2")).unwrap()).await;
    let later = SessionRef { session_id: "s3", user: Some("u1"), auth_time: Some(now() + 5) };
    assert!(!revoked(&b, later).unwrap(), "a login after the cut-off works");
    let other_user = SessionRef { session_id: "s4", user: Some("u2"), auth_time: Some(now() - 100) };
    assert!(!revoked(&b, other_user).unwrap());

    // Idle for several heartbeats: the pings are answered, so the view stays trusted (no spurious 503).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(a.is_fresh() && b.is_fresh());
}

#[tokio::test]
async fn a_store_started_later_loads_every_revocation_and_keys_expire() {
    let server = RedisServer::start();
    let a = store(&server).await;
    a.revoke("old-session", now() + 3600).await.unwrap();
    a.revoke("old-session", now() + 60).await.unwrap();
    a.revoke("forever", i64::MAX).await.unwrap();
    a.revoke_user("u1", now() - 10, now() + 3600).await.unwrap();
    a.revoke_user("u1", now() - 1000, now() + 60).await.unwrap();
    let late = store(&server).await;
    assert_eq!(late.len(), 3, "two sessions and one user cut-off loaded by SCAN");
    assert!(revoked(&late, session("old-session")).unwrap());
    assert!(revoked(&late, session("any")).unwrap(), "u1's cut-off (the later one) was loaded");

    let mut raw = raw(&server).await;
    let expiry: i64 = redis::cmd("EXPIRETIME").arg("pikku:revoked:old-session").query_async(&mut raw).await.unwrap();
    assert!(expiry >= now() + 3590, "revoking again never shortens the expiry: {expiry}");
    let expiry: i64 = redis::cmd("EXPIRETIME").arg("pikku:revoked:forever").query_async(&mut raw).await.unwrap();
    assert!(expiry > 0, "a far keep-until is clamped, never an unbounded key: {expiry}");
    let cutoff: i64 = redis::cmd("GET").arg("pikku:user-cutoff:u1").query_async(&mut raw).await.unwrap();
    assert!(cutoff >= now() - 11, "the cut-off never moves back: {cutoff}");
    let expiry: i64 = redis::cmd("EXPIRETIME").arg("pikku:user-cutoff:u1").query_async(&mut raw).await.unwrap();
    assert!(expiry >= now() + 3590, "{expiry}");
}

#[tokio::test]
async fn prefixes_keep_applications_apart() {
    let server = RedisServer::start();
    let a = RedisSessionStore::connect(&server.url(), RedisOptions::new().prefix("app-a:")).await.unwrap();
    let b = RedisSessionStore::connect(&server.url(), RedisOptions::new().prefix("app-b:")).await.unwrap();
    a.revoke("s1", now() + 3600).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!revoked(&b, session("s1")).unwrap());
    let b_again = RedisSessionStore::connect(&server.url(), RedisOptions::new().prefix("app-b:")).await.unwrap();
    assert!(b_again.is_empty());
}

#[tokio::test]
async fn the_login_throttle_is_shared_by_every_instance() {
    let server = RedisServer::start();
    let (a, b) = (store(&server).await, store(&server).await);
    let (on_a, on_b) = (throttle(&a), throttle(&b));
    for _ in 0..5 {
        on_a.begin("alice@example.com", CLIENT).await.unwrap().failed().await.unwrap();
    }
    let refused = on_b.begin("Alice@Example.com", None).await.unwrap_err();
    let ThrottleError::Throttled { retry_after } = refused else { panic!("{refused:?}") };
    assert!(retry_after <= FIFTEEN_MINUTES / 5 && retry_after > Duration::from_secs(170), "{retry_after:?}");
    on_b.begin("bob@example.com", None).await.expect("another account is not blocked").succeeded();
}

#[tokio::test]
async fn the_gcra_lets_n_through_blocks_the_next_and_gives_one_back_per_interval() {
    let server = RedisServer::start();
    let sessions = store(&server).await;
    // 3 per 600 ms: one allowance back every 200 ms.
    let store = sessions
        .throttle_store(ThrottleRule::new(3, Duration::from_millis(600)), ThrottleRule::new(50, FIFTEEN_MINUTES));
    let key = ThrottleKey::account("carol@example.com");
    assert_eq!(store.record_failure(&key).await.unwrap(), None);
    assert_eq!(store.record_failure(&key).await.unwrap(), None);
    let blocked = store.record_failure(&key).await.unwrap().expect("the third failure uses the last allowance");
    assert!(blocked <= Duration::from_millis(200) && blocked > Duration::from_millis(150), "{blocked:?}");
    assert!(store.blocked_for(&key).await.unwrap().is_some());
    let again = store.record_failure(&key).await.unwrap();
    assert!(again.is_some(), "a failure while blocked is not let through");
    tokio::time::sleep(blocked + Duration::from_millis(20)).await;
    assert_eq!(store.blocked_for(&key).await.unwrap(), None, "one allowance is back");
    assert!(store.record_failure(&key).await.unwrap().is_some(), "and only one");

    let mut raw = raw(&server).await;
    let ttl: i64 = redis::cmd("PTTL").arg(format!("pikku:throttle:{key}")).query_async(&mut raw).await.unwrap();
    assert!(ttl > 0 && ttl <= 620, "the key expires when every allowance is back: {ttl} ms");
}

#[tokio::test]
async fn losing_redis_fails_closed_and_service_resumes_when_it_is_back() {
    let mut server = RedisServer::start();
    let store = store(&server).await;
    let throttle = throttle(&store);
    store.revoke("revoked-before", now() + 3600).await.unwrap();
    assert!(!revoked(&store, session("live")).unwrap());

    server.kill();
    within(Duration::from_secs(2), "stale after Redis died", || revoked(&store, session("live")).is_err()).await;
    let error = revoked(&store, session("live")).unwrap_err();
    let message = format!("{error}: {}", std::error::Error::source(&error).unwrap());
    assert!(!message.contains("live"), "no session id in errors: {message}");
    assert!(store.revoke("another", now() + 60).await.is_err(), "a logout is refused, not lost");
    let unavailable = throttle.begin("alice@example.com", CLIENT).await.unwrap_err();
    assert!(matches!(unavailable, ThrottleError::Unavailable(_)), "{unavailable:?}");

    server.restart();
    let took = within(Duration::from_secs(5), "fresh again after Redis is back", || store.is_fresh()).await;
    eprintln!("service resumed {took:?} after Redis accepted connections");
    assert!(!revoked(&store, session("live")).unwrap());
    assert!(revoked(&store, session("revoked-before")).unwrap(), "a revocation made before the outage holds");
    // The command connection reconnects on its own too.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match throttle.begin("alice@example.com", CLIENT).await {
            Ok(attempt) => break attempt.succeeded(),
            Err(e) => assert!(Instant::now() < deadline, "login throttle still unavailable: {e:?}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    store.revoke("after", now() + 60).await.unwrap();
}

#[tokio::test]
async fn a_slow_redis_is_unavailable_not_waited_for() {
    let server = RedisServer::start();
    let options = RedisOptions::new().response_timeout(Duration::from_millis(300));
    let store = RedisSessionStore::connect(&server.url(), options).await.unwrap();
    let throttle = throttle(&store);
    let mut raw = raw(&server).await;
    let sleeper = tokio::spawn(async move {
        let _: redis::RedisResult<()> = redis::cmd("DEBUG").arg("SLEEP").arg(2).query_async(&mut raw).await;
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let start = Instant::now();
    let error = throttle.begin("alice@example.com", CLIENT).await.unwrap_err();
    assert!(matches!(error, ThrottleError::Unavailable(_)), "{error:?}");
    assert!(start.elapsed() < Duration::from_secs(1), "bounded by the response timeout: {:?}", start.elapsed());
    assert!(store.revoke("s", now() + 60).await.is_err());
    within(Duration::from_secs(2), "an unanswered ping marks the view stale", || !store.is_fresh()).await;
    sleeper.await.unwrap();
    within(Duration::from_secs(5), "fresh again once Redis answers", || store.is_fresh()).await;
    assert!(!revoked(&store, session("live")).unwrap());
}

#[tokio::test]
async fn connecting_to_a_closed_port_fails_in_bounded_time_naming_the_masked_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("redis://:hunter2@127.0.0.1:{port}/0");
    let start = Instant::now();
    let error = RedisSessionStore::connect(&url, RedisOptions::new()).await.unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(10), "{:?}", start.elapsed());
    let message = error.to_string();
    assert!(message.contains("Redis") && message.contains(&format!(":***@127.0.0.1:{port}/0")), "{message}");
    assert!(!message.contains("hunter2"), "{message}");

    let error = RedisSessionStore::connect("http://:hunter2@nowhere", RedisOptions::new()).await.unwrap_err();
    assert!(!error.to_string().contains("hunter2"), "{error}");
}

#[tokio::test]
async fn dropping_the_stores_stops_the_background_task() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let throttle_store =
        store.throttle_store(ThrottleRule::new(5, FIFTEEN_MINUTES), ThrottleRule::new(5, FIFTEEN_MINUTES));
    let mut raw = raw(&server).await;
    let subscribers = |raw: &mut redis::aio::MultiplexedConnection| {
        let mut raw = raw.clone();
        async move {
            let (_, count): (String, i64) =
                redis::cmd("PUBSUB").arg("NUMSUB").arg("pikku:revocations").query_async(&mut raw).await.unwrap();
            count
        }
    };
    assert_eq!(subscribers(&mut raw).await, 1);
    drop(store);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(subscribers(&mut raw).await, 1, "the throttle store still needs it");
    drop(throttle_store);
    let start = Instant::now();
    while subscribers(&mut raw).await != 0 {
        assert!(start.elapsed() < Duration::from_secs(2), "the subscription outlived its stores");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
