use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};

use governor::clock::FakeRelativeClock;

use super::memory::{ThrottleClock, FULL_PAUSE};
use super::turns::MIN_TURNS_SWEEP;
use super::*;

const WINDOW: Duration = Duration::from_secs(15 * 60);
/// One allowance back every `WINDOW / 5`.
const INTERVAL: Duration = Duration::from_secs(3 * 60);

const ALICE: &str = "alice@example.com";
const NOBODY: &str = "nobody@example.com";

fn ip(last: u8) -> Option<IpAddr> {
    Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)))
}

/// The demo's rules on a clock the test moves.
fn throttle_with(account: ThrottleRule, address: ThrottleRule) -> (LoginThrottle, FakeRelativeClock) {
    let manual = FakeRelativeClock::default();
    let clock = ThrottleClock { origin: std::time::Instant::now(), manual: Some(manual.clone()) };
    (LoginThrottle::with_store(InMemoryThrottleStore::with_clock(account, address, clock)), manual)
}

fn throttle() -> (LoginThrottle, FakeRelativeClock) {
    throttle_with(ThrottleRule::new(5, WINDOW), ThrottleRule::new(50, WINDOW))
}

async fn fail(throttle: &LoginThrottle, account: &str, client: Option<IpAddr>) {
    throttle.begin(account, client).await.expect("not blocked yet").failed().await.unwrap();
}

async fn succeed(throttle: &LoginThrottle, account: &str, client: Option<IpAddr>) {
    throttle.begin(account, client).await.expect("not blocked").succeeded();
}

async fn refused(throttle: &LoginThrottle, account: &str, client: Option<IpAddr>) -> Duration {
    match throttle.begin(account, client).await {
        Err(ThrottleError::Throttled { retry_after }) => retry_after,
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("{account} from {client:?} was let through"),
    }
}

#[tokio::test]
async fn exactly_five_failures_pass_and_the_sixth_attempt_is_refused() {
    let (throttle, _) = throttle();
    for _ in 0..5 {
        fail(&throttle, ALICE, ip(1)).await;
    }
    assert_eq!(refused(&throttle, ALICE, ip(1)).await, INTERVAL);
    // Refused without counting: still one allowance back after one interval, not later.
    assert_eq!(refused(&throttle, ALICE, ip(1)).await, INTERVAL);
}

#[tokio::test]
async fn a_blocked_account_is_refused_from_any_address_and_without_one() {
    let (throttle, _) = throttle();
    for last in 1..=5 {
        fail(&throttle, ALICE, ip(last)).await;
    }
    refused(&throttle, ALICE, ip(99)).await;
    refused(&throttle, ALICE, None).await;
    // The same account however it is written.
    refused(&throttle, " ALICE@example.COM ", ip(98)).await;
    // Another account from the same addresses is unaffected.
    succeed(&throttle, "bob@example.com", ip(1)).await;
}

#[tokio::test]
async fn an_unknown_account_is_counted_and_refused_exactly_like_a_known_one() {
    let (throttle, _) = throttle();
    for _ in 0..5 {
        fail(&throttle, ALICE, ip(1)).await;
        fail(&throttle, NOBODY, ip(2)).await;
    }
    let known = refused(&throttle, ALICE, ip(1)).await;
    let unknown = refused(&throttle, NOBODY, ip(2)).await;
    assert_eq!(known, unknown);
    let (a, b) = (
        PikkuError::from(ThrottleError::Throttled { retry_after: known }),
        PikkuError::from(ThrottleError::Throttled { retry_after: unknown }),
    );
    assert_eq!((a.status(), a.name(), a.message()), (b.status(), b.name(), b.message()));
}

#[tokio::test]
async fn successes_count_nothing_and_reset_nothing() {
    let (throttle, _) = throttle();
    // Any number of successes, for the account and from the address, never blocks.
    for _ in 0..200 {
        succeed(&throttle, ALICE, ip(1)).await;
    }
    // An attacker's four failures from one address ...
    for _ in 0..4 {
        fail(&throttle, ALICE, ip(66)).await;
    }
    // ... are not wiped by the real user's success from another address.
    succeed(&throttle, ALICE, ip(1)).await;
    fail(&throttle, ALICE, ip(66)).await;
    refused(&throttle, ALICE, ip(66)).await;
    refused(&throttle, ALICE, ip(1)).await;
}

#[tokio::test]
async fn the_address_rule_blocks_the_fifty_first_attempt_with_any_email() {
    let (throttle, _) = throttle();
    for i in 0..50 {
        fail(&throttle, &format!("user{i}@example.com"), ip(7)).await;
    }
    assert_eq!(refused(&throttle, "fresh@example.com", ip(7)).await, WINDOW / 50);
    // Even the right password for an account with no failures.
    refused(&throttle, ALICE, ip(7)).await;
    // Another address is not blocked, for the same accounts.
    succeed(&throttle, ALICE, ip(8)).await;
    fail(&throttle, "user0@example.com", ip(8)).await;
    // Without an address only the account rule applies.
    succeed(&throttle, "fresh@example.com", None).await;
}

#[tokio::test]
async fn ipv6_clients_are_counted_per_64() {
    let (throttle, _) = throttle_with(ThrottleRule::new(5, WINDOW), ThrottleRule::new(2, WINDOW));
    let host = |suffix: &str| Some(format!("2001:db8:7:7:{suffix}").parse::<IpAddr>().unwrap());
    fail(&throttle, "a@example.com", host("1::1")).await;
    fail(&throttle, "b@example.com", host("ffff::2")).await;
    refused(&throttle, "c@example.com", host("abcd::3")).await;
    succeed(&throttle, "c@example.com", Some("2001:db8:7:8::1".parse().unwrap())).await;
}

#[tokio::test]
async fn one_allowance_comes_back_per_interval_and_all_after_a_window() {
    let (throttle, clock) = throttle();
    for _ in 0..5 {
        fail(&throttle, ALICE, ip(1)).await;
    }
    clock.advance(INTERVAL - Duration::from_secs(1));
    assert_eq!(refused(&throttle, ALICE, ip(1)).await, Duration::from_secs(1));
    clock.advance(Duration::from_secs(1));
    // One more failure, then blocked for another interval.
    fail(&throttle, ALICE, ip(1)).await;
    assert_eq!(refused(&throttle, ALICE, ip(1)).await, INTERVAL);
    // A window later the account has all five again.
    clock.advance(WINDOW);
    for _ in 0..5 {
        fail(&throttle, ALICE, ip(1)).await;
    }
    refused(&throttle, ALICE, ip(1)).await;
}

#[tokio::test]
async fn spaced_failures_block_only_until_the_next_allowance_returns() {
    let (throttle, clock) = throttle();
    // Four at once, the fifth a minute later: a third of an allowance has come back meanwhile, so the block
    // ends when the rest of it has, two minutes later (not a whole interval).
    for _ in 0..4 {
        fail(&throttle, ALICE, ip(1)).await;
    }
    clock.advance(Duration::from_secs(60));
    fail(&throttle, ALICE, ip(1)).await;
    assert_eq!(refused(&throttle, ALICE, ip(1)).await, Duration::from_secs(120));
    clock.advance(Duration::from_secs(120));
    fail(&throttle, ALICE, ip(1)).await;
    assert_eq!(refused(&throttle, ALICE, ip(1)).await, INTERVAL);
}

#[tokio::test]
async fn the_retry_after_header_is_the_wait_in_whole_seconds() {
    let (throttle, clock) = throttle();
    for _ in 0..5 {
        fail(&throttle, ALICE, ip(1)).await;
    }
    clock.advance(Duration::from_millis(500));
    let error = throttle.begin(ALICE, ip(1)).await.unwrap_err();
    let response = PikkuError::from(error).into_response(&pikku_runtime::RequestId::parse("r").unwrap());
    assert_eq!(response.status(), 429);
    // 179.5 s, rounded up.
    assert_eq!(response.headers()[http::header::RETRY_AFTER], "180");
}

#[tokio::test]
async fn when_both_rules_block_the_longer_wait_is_reported() {
    let (throttle, clock) = throttle_with(ThrottleRule::new(2, WINDOW), ThrottleRule::new(2, WINDOW * 10));
    fail(&throttle, ALICE, ip(1)).await;
    fail(&throttle, ALICE, ip(1)).await;
    assert_eq!(refused(&throttle, ALICE, ip(1)).await, WINDOW * 5);
    clock.advance(WINDOW);
    assert_eq!(refused(&throttle, ALICE, ip(1)).await, WINDOW * 4);
    // The account is free again from elsewhere.
    succeed(&throttle, ALICE, ip(2)).await;
}

#[tokio::test]
async fn concurrent_attempts_on_one_account_take_turns_so_no_more_than_five_fail() {
    let (throttle, _) = throttle();
    let checked = AtomicUsize::new(0);
    let attempts = (0..40).map(|i| {
        let (throttle, checked) = (&throttle, &checked);
        async move {
            let Ok(attempt) = throttle.begin(ALICE, ip(i)).await else { return };
            // The credential check: long enough for every other attempt to arrive meanwhile.
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(2)).await;
            checked.fetch_add(1, Ordering::SeqCst);
            attempt.failed().await.unwrap();
        }
    });
    futures_join_all(attempts).await;
    assert_eq!(checked.load(Ordering::SeqCst), 5);
    assert!(throttle.turns.lines().by_key.is_empty(), "every turn was given back");
}

/// Runs futures to completion concurrently on the current task (no extra dependency for `join_all`).
async fn futures_join_all<F: std::future::Future<Output = ()>>(futures: impl IntoIterator<Item = F>) {
    let mut set = futures.into_iter().map(Box::pin).collect::<Vec<_>>();
    std::future::poll_fn(|cx| {
        set.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if set.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
}

#[tokio::test]
async fn a_wait_abandoned_after_the_holder_left_leaves_no_unbounded_lines() {
    let (throttle, _) = throttle();
    let abandon_a_wait = |name: String| {
        let throttle = &throttle;
        async move {
            let holder = throttle.begin(&name, None).await.unwrap();
            let mut waiter = Box::pin(throttle.begin(&name, None));
            let polled = std::future::poll_fn(|cx| std::task::Poll::Ready(waiter.as_mut().poll(cx).is_pending())).await;
            assert!(polled, "the second attempt waits for the first");
            // The holder leaves while the waiter is still in line, then the waiter gives up: nobody is left
            // to remove the line at once.
            drop(holder);
            drop(waiter);
        }
    };
    abandon_a_wait("first@example.com".into()).await;
    assert_eq!(throttle.turns.lines().by_key.len(), 1, "an abandoned line stays until a sweep");
    for i in 0..(MIN_TURNS_SWEEP * 4) {
        abandon_a_wait(format!("user{i}@example.com")).await;
        assert!(throttle.turns.lines().by_key.len() <= MIN_TURNS_SWEEP + 1);
    }
}

#[tokio::test]
async fn spraying_random_accounts_keeps_memory_bounded() {
    let (throttle, clock) = throttle();
    // 40,000 failed logins for distinct accounts, from 400 addresses, one per 50 ms (a sustained 20/s).
    for i in 0..40_000u32 {
        let client = Some(IpAddr::V4(Ipv4Addr::from(0x0A00_0000 + i % 400)));
        fail(&throttle, &format!("random-{i}@example.com"), client).await;
        clock.advance(Duration::from_millis(50));
    }
    // An account with one failure is forgotten two intervals (6 min) later: at 20/s that is 7,200 live
    // keys, up to twice that between sweeps, plus the 400 addresses. Without sweeping: 40,400.
    let tracked = throttle.store().len();
    assert!(tracked <= 2 * 7_200 + 400, "{tracked} keys tracked");
    // Once the spray stops, a window later a sweep forgets everything.
    clock.advance(WINDOW + INTERVAL);
    throttle.store().sweep();
    assert!(throttle.store().is_empty(), "{:?}", throttle.store());
}

#[tokio::test]
async fn past_max_keys_every_attempt_is_refused_until_keys_expire() {
    let rule = ThrottleRule::new(5, WINDOW).max_keys(100);
    let (throttle, clock) = throttle_with(rule, ThrottleRule::new(50, WINDOW));
    for i in 0..100 {
        fail(&throttle, &format!("random-{i}@example.com"), None).await;
    }
    // Full: a new account cannot be tracked, so it is not checked at all; nor is a tracked one.
    assert_eq!(refused(&throttle, ALICE, None).await, FULL_PAUSE);
    assert_eq!(refused(&throttle, "random-0@example.com", None).await, FULL_PAUSE);
    assert_eq!(throttle.store().len(), 100, "nothing was forgotten early");
    // Still full after the pause: refused again.
    clock.advance(FULL_PAUSE);
    refused(&throttle, ALICE, None).await;
    // Once the keys have expired, the sweep makes room.
    clock.advance(WINDOW + INTERVAL);
    succeed(&throttle, ALICE, None).await;
    assert!(throttle.store().is_empty());
}

#[test]
fn account_keys_ignore_case_and_surrounding_space_and_keep_no_email() {
    let key = ThrottleKey::account("\t Alice@Example.COM \n");
    assert_eq!(key, ThrottleKey::account("alice@example.com"));
    assert!(!format!("{key:?} {key}").to_lowercase().contains("alice"));
    // Only ASCII letters are lowercased; others are kept as they are.
    assert_ne!(ThrottleKey::account("ÄLICE@example.com"), ThrottleKey::account("älice@example.com"));
    // A long name is hashed in pieces: the result is the same as hashing it whole.
    let long = "X".repeat(1000);
    let whole: [u8; 32] = Sha256::digest("x".repeat(1000)).into();
    assert_eq!(ThrottleKey::account(&long), ThrottleKey::Account(whole));
}

#[test]
#[should_panic(expected = "at least one failure")]
fn a_rule_of_zero_failures_is_refused() {
    let _ = ThrottleRule::new(0, WINDOW);
}

#[test]
fn unavailable_is_a_503_with_retry_after_and_no_detail_for_the_client() {
    let error = ThrottleError::Unavailable("redis at 10.0.0.1 refused".into());
    let response = PikkuError::from(error).into_response(&pikku_runtime::RequestId::parse("r").unwrap());
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()[http::header::RETRY_AFTER], "5");
}
