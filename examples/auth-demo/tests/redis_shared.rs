//! `PIKKU_REDIS_URL`: two demo processes on one private `redis-server` share logouts, log-out-everywhere
//! and the login throttle; losing Redis answers 503 with `Retry-After` to every request that needs it and
//! nothing else; service comes back by itself (docs/auth-demo.md, docs/sessions.md).
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

mod support;

#[path = "../../../pikku-redis/tests/support/redis_server.rs"]
mod redis_server;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use redis_server::RedisServer;
use serde_json::json;
use support::*;

fn demo_on(redis: &RedisServer) -> Server {
    Server::start_with(&[("PIKKU_REDIS_URL", &redis.url())])
}

/// Repeats `request` until `done` holds for its status, or panics after `limit`; answers how long it took.
async fn until_status(
    limit: Duration,
    what: &str,
    mut request: impl AsyncFnMut() -> TestResponse,
    done: impl Fn(u16) -> bool,
) -> Duration {
    let start = Instant::now();
    loop {
        let resp = request().await;
        if done(resp.status().as_u16()) {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "{what}: still {} after {limit:?}: {}", resp.status(), resp.text());
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn login_attempt(s: &Server, email: &str, password: &str) -> TestResponse {
    s.post("/login").json(&json!({"email": email, "password": password})).send().await
}

fn retry_after(resp: &TestResponse) -> u64 {
    let value = resp.header("retry-after").unwrap_or_else(|| panic!("503 without Retry-After: {:?}", resp.headers()));
    value.parse().unwrap_or_else(|_| panic!("Retry-After in whole seconds: {value:?}"))
}

#[tokio::test]
async fn two_instances_share_logout_logout_everywhere_and_the_login_throttle() {
    let redis = RedisServer::start();
    let (a, b) = (demo_on(&redis), demo_on(&redis));

    let (token, cookie) = a.login(BOB).await;
    assert_eq!(b.get("/me").bearer(&token).send().await.status(), 200, "a token works on every instance");
    assert_eq!(a.post("/logout").bearer(&token).send().await.status(), 204);
    let took = until_status(
        Duration::from_millis(100),
        "logout on A refused on B",
        async || b.get("/me").bearer(&token).send().await,
        |status| status == 401,
    )
    .await;
    eprintln!("a logout on A was refused on B after {took:?}");
    b.get("/me").cookie("session", &cookie).send().await.assert_error(401, "MissingSessionError");

    // Log out everywhere on A: both of alice's sessions are refused on B; a new login works.
    let (first, _) = b.login(ALICE).await;
    let (second, second_cookie) = b.login(ALICE).await;
    assert_eq!(a.post("/logout/all").bearer(&first).send().await.status(), 204);
    until_status(
        Duration::from_millis(100),
        "log-out-everywhere on A holds on B",
        async || b.get("/me").bearer(&second).send().await,
        |status| status == 401,
    )
    .await;
    assert_eq!(b.get("/me").cookie("session", &second_cookie).send().await.status(), 401);
    tokio::time::sleep(Duration::from_millis(1100)).await; // the cut-off covers the same second
    let (fresh, _) = a.login(ALICE).await;
    assert_eq!(b.get("/me").bearer(&fresh).send().await.status(), 200);

    // The throttle: five failures on A, the sixth attempt refused on B, even with the right password.
    for _ in 0..5 {
        login_attempt(&a, BOB.0, "wrong").await.assert_error(401, "UnauthorizedError");
    }
    let refused = login_attempt(&b, BOB.0, BOB.1).await;
    refused.assert_error(429, "TooManyRequestsError");
    assert!(refused.header("retry-after").is_some());
}

#[tokio::test]
async fn losing_redis_is_503_with_retry_after_where_it_is_needed_and_service_resumes() {
    let mut redis = RedisServer::start();
    let s = demo_on(&redis);
    let (token, cookie) = s.login(ALICE).await;
    let (revoked, _) = s.login(BOB).await;
    assert_eq!(s.post("/logout").bearer(&revoked).send().await.status(), 204);

    redis.kill();
    until_status(
        Duration::from_secs(2),
        "503 once Redis is gone",
        async || s.get("/me").bearer(&token).send().await,
        |status| status == 503,
    )
    .await;
    let session_requests = [
        s.get("/me").bearer(&token),
        s.get("/me").cookie("session", &cookie),
        s.post("/logout").bearer(&token),
        s.post("/logout").cookie("session", &cookie),
        s.post("/login").json(&json!({"email": ALICE.0, "password": ALICE.1})),
    ];
    for request in session_requests {
        let resp = request.send().await;
        resp.assert_error(503, "ServiceUnavailableError");
        assert!((1..=5).contains(&retry_after(&resp)), "{:?}", resp.headers());
        assert!(!resp.text().contains(&token) && !resp.text().contains("127.0.0.1"), "{}", resp.text());
    }
    assert_eq!(s.get("/health").send().await.status(), 200, "no credential: no store needed");
    let resp = s.get("/me").header("x-api-key", API_KEY).send().await;
    assert_eq!(resp.status(), 200, "the API keys are a static lookup: {}", resp.text());

    redis.restart();
    let took = until_status(
        Duration::from_secs(5),
        "a live session is served again",
        async || s.get("/me").bearer(&token).send().await,
        |status| status == 200,
    )
    .await;
    eprintln!("service resumed {took:?} after Redis accepted connections again");
    assert_eq!(s.get("/me").cookie("session", &cookie).send().await.status(), 200);
    s.get("/me").bearer(&revoked).send().await.assert_error(401, "InvalidSessionError");
    until_status(
        Duration::from_secs(5),
        "logins are counted again",
        async || login_attempt(&s, ALICE.0, ALICE.1).await,
        |status| status == 200,
    )
    .await;
}

#[tokio::test]
async fn a_slow_redis_never_yields_a_5xx_other_than_503() {
    let redis = RedisServer::start();
    let s = demo_on(&redis);
    let (token, cookie) = s.login(ALICE).await;
    let mut raw = redis::Client::open(redis.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let sleeper = tokio::spawn(async move {
        let _: redis::RedisResult<()> = redis::cmd("DEBUG").arg("SLEEP").arg(2).query_async(&mut raw).await;
    });
    let mut seen_503 = false;
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(3500) {
        let responses = [
            s.get("/me").bearer(&token).send().await,
            s.get("/me").cookie("session", &cookie).send().await,
            login_attempt(&s, BOB.0, BOB.1).await,
            s.get("/health").send().await,
        ];
        for resp in responses {
            let status = resp.status().as_u16();
            assert!(status < 500 || status == 503, "{status}: {}", resp.text());
            seen_503 |= status == 503;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sleeper.await.unwrap();
    assert!(seen_503, "a Redis asleep for 2 s was noticed");
    until_status(
        Duration::from_secs(5),
        "served again",
        async || s.get("/me").bearer(&token).send().await,
        |status| status == 200,
    )
    .await;
}

#[test]
fn an_unreachable_redis_at_start_exits_non_zero_within_10s_naming_the_masked_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("redis://:hunter2@127.0.0.1:{port}/0");
    let start = Instant::now();
    let mut child = Command::new(BIN)
        .env("PORT", "0")
        .env("HOST", "127.0.0.1")
        .env("PIKKU_JWT_SECRET", SECRET)
        .env("PIKKU_REDIS_URL", &url)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the auth-demo binary");
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running after 10 s with Redis unreachable");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "{status}");
    assert!(stderr.contains("Redis") && stderr.contains(&format!("redis://:***@127.0.0.1:{port}/0")), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}
