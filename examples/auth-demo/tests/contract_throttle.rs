//! Passwords and login throttling, over real HTTP and in-process (docs/auth-demo.md: Routes, login;
//! docs/passwords-and-throttling.md).
//!
//! Every test starts its own server: the per-address counter is shared by every client on 127.0.0.1, so
//! the failures of one test must not throttle another.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

mod support;

use std::net::IpAddr;

use auth_demo::{Services, LOGIN_FAILURES_PER_ACCOUNT, LOGIN_FAILURES_PER_ADDRESS, LOGIN_FAILURE_WINDOW};
use serde_json::json;
use support::*;

const CAROL_UNKNOWN: &str = "carol@example.com";

async fn login(client: &HttpClient, email: &str, password: &str) -> TestResponse {
    client.post("/login").json(&json!({"email": email, "password": password})).send().await
}

/// 401 with the one message for a wrong password and an unknown email; returns (name, message).
fn assert_login_refused(resp: &TestResponse) -> (String, String) {
    let body = resp.assert_error(401, "UnauthorizedError");
    let message = body["message"].as_str().unwrap().to_owned();
    let lowered = message.to_lowercase();
    assert!(lowered.contains("email or password"), "does not say which: {message}");
    ("UnauthorizedError".into(), message)
}

/// 429 `TooManyRequestsError` with `Retry-After` in whole seconds, no cookie, no token; returns (message,
/// Retry-After).
fn assert_throttled(resp: &TestResponse) -> (String, u64) {
    let body = resp.assert_error(429, "TooManyRequestsError");
    assert!(body.get("token").is_none());
    assert!(resp.header("set-cookie").is_none(), "a throttled login sets no cookie");
    let retry_after: u64 = resp
        .header("retry-after")
        .unwrap_or_else(|| panic!("429 without Retry-After: {:?}", resp.headers()))
        .parse()
        .expect("Retry-After in whole seconds");
    // 5 per 15 minutes: one allowance back every 3 minutes.
    let interval = (LOGIN_FAILURE_WINDOW / LOGIN_FAILURES_PER_ACCOUNT).as_secs();
    assert!((1..=interval).contains(&retry_after), "Retry-After {retry_after}");
    (body["message"].as_str().unwrap().to_owned(), retry_after)
}

#[tokio::test]
async fn five_wrong_passwords_then_even_the_right_one_is_429_while_other_users_log_in() {
    let s = Server::start();
    for _ in 0..LOGIN_FAILURES_PER_ACCOUNT {
        assert_login_refused(&login(&s, ALICE.0, "wrong").await);
    }
    let throttled = login(&s, ALICE.0, ALICE.1).await;
    let (message, _) = assert_throttled(&throttled);
    assert!(!message.to_lowercase().contains("alice"), "{message}");
    // The same email however it is written.
    assert_throttled(&login(&s, "ALICE@example.com", ALICE.1).await);
    // Another user from the same address is unaffected.
    s.login(BOB).await;
    s.login(BOB).await;
}

#[tokio::test]
async fn an_unknown_email_is_refused_and_throttled_exactly_like_a_known_one() {
    let s = Server::start();
    let mut refusals = Vec::new();
    for _ in 0..LOGIN_FAILURES_PER_ACCOUNT {
        refusals.push(assert_login_refused(&login(&s, ALICE.0, "wrong").await));
        refusals.push(assert_login_refused(&login(&s, CAROL_UNKNOWN, "wrong").await));
    }
    refusals.dedup();
    assert_eq!(refusals.len(), 1, "one answer for both: {refusals:?}");
    let known = login(&s, ALICE.0, ALICE.1).await;
    let unknown = login(&s, CAROL_UNKNOWN, ALICE.1).await;
    assert_eq!(assert_throttled(&known).0, assert_throttled(&unknown).0);
    let strip_id = |resp: &TestResponse| {
        let mut body = resp.json_value();
        body.as_object_mut().unwrap().remove("errorId");
        body
    };
    assert_eq!(strip_id(&known), strip_id(&unknown));
    assert_eq!(known.header("content-type"), unknown.header("content-type"));
}

#[tokio::test]
async fn successful_logins_are_never_counted() {
    let s = Server::start();
    // More successes than the account rule allows failures, then four failures: not yet throttled. (The
    // other contract tests log in far more often than the address rule allows failures.)
    for _ in 0..(LOGIN_FAILURES_PER_ACCOUNT + 2) {
        login(&s, BOB.0, BOB.1).await.assert_status(200);
    }
    for _ in 0..(LOGIN_FAILURES_PER_ACCOUNT - 1) {
        assert_login_refused(&login(&s, BOB.0, "wrong").await);
    }
    // A success in between resets nothing: the fifth failure still blocks.
    s.login(BOB).await;
    assert_login_refused(&login(&s, BOB.0, "wrong").await);
    assert_throttled(&login(&s, BOB.0, BOB.1).await);
}

#[tokio::test]
async fn fifty_failures_from_one_address_block_it_for_every_email() {
    let s = Server::start();
    // Distinct emails, so only the address rule can trip.
    for i in 0..LOGIN_FAILURES_PER_ADDRESS {
        assert_login_refused(&login(&s, &format!("guess{i}@example.com"), "wrong").await);
    }
    let (_, retry_after) = assert_throttled(&login(&s, ALICE.0, ALICE.1).await);
    // 50 per 15 minutes: one allowance back every 18 s.
    assert!(retry_after <= (LOGIN_FAILURE_WINDOW / LOGIN_FAILURES_PER_ADDRESS).as_secs(), "{retry_after}");
    assert_throttled(&login(&s, "fresh@example.com", "x").await);
}

/// The demo in-process, where a test names each request's client address (over loopback every client is
/// 127.0.0.1).
fn in_process() -> TestClient<Services, auth_demo::UserSession> {
    let jwt = auth_demo::demo_jwt("primary", Some(SECRET.as_bytes())).unwrap();
    TestClient::new(auth_demo::app().build(Services::with_jwt(jwt)).expect("the demo builds"))
}

async fn login_from(
    client: &TestClient<Services, auth_demo::UserSession>,
    from: &str,
    email: &str,
    password: &str,
) -> TestResponse {
    let addr: IpAddr = from.parse().unwrap();
    client.post("/login").client_addr(addr).json(&json!({"email": email, "password": password})).send().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_address_does_not_block_another_and_a_blocked_account_is_blocked_from_everywhere() {
    let client = in_process();
    for i in 0..LOGIN_FAILURES_PER_ADDRESS {
        assert_login_refused(&login_from(&client, "203.0.113.1", &format!("guess{i}@example.com"), "wrong").await);
    }
    assert_throttled(&login_from(&client, "203.0.113.1", BOB.0, BOB.1).await);
    login_from(&client, "203.0.113.2", BOB.0, BOB.1).await.assert_status(200);

    // Alice's failures come from five addresses; the account is then refused from a sixth as well.
    for i in 0..LOGIN_FAILURES_PER_ACCOUNT {
        assert_login_refused(&login_from(&client, &format!("198.51.100.{i}"), ALICE.0, "wrong").await);
    }
    assert_throttled(&login_from(&client, "198.51.100.200", ALICE.0, ALICE.1).await);
    login_from(&client, "198.51.100.200", BOB.0, BOB.1).await.assert_status(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_email_costs_about_what_a_wrong_password_costs() {
    let client = in_process();
    // Different addresses and emails each time so nothing is throttled. The fastest of a few rounds: other
    // work on a busy machine only ever adds time.
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for round in 0..4 {
        let start = std::time::Instant::now();
        assert_login_refused(&login_from(&client, &format!("192.0.2.{round}"), ALICE.0, "wrong").await);
        known.push(start.elapsed());
        let start = std::time::Instant::now();
        let email = format!("nobody{round}@example.com");
        assert_login_refused(&login_from(&client, &format!("192.0.2.{}", 100 + round), &email, "wrong").await);
        unknown.push(start.elapsed());
    }
    let (known, unknown) = (*known.iter().min().unwrap(), *unknown.iter().min().unwrap());
    // Without the dummy check an unknown email would answer in microseconds, a wrong password in tens of
    // milliseconds: hundreds of times apart.
    assert!(unknown * 5 > known && known * 5 > unknown, "known {known:?}, unknown {unknown:?}");
}
