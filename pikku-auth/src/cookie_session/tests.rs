use super::*;
use crate::jwt::DecodedToken;
use crate::jwt::JwtService;
use crate::test_support::*;
use crate::testing::{now, session_claims};
use crate::{auth_bearer, InMemorySessionStore, SessionStore};
use pikku_runtime::StatusCode;

const THIRTY_DAYS: Duration = Duration::from_secs(30 * 24 * 60 * 60);
const DAY: i64 = 24 * 60 * 60;

fn cookie_mw() -> SharedMiddleware<TestServices, TestSession> {
    auth_cookie(CookieOptions::new("session", THIRTY_DAYS))
}

fn set_cookies(response: &Response) -> Vec<String> {
    response.headers().get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_owned()).collect()
}

const REMOVAL: &str =
    "session=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Lax; Path=/";

/// The token of a `session=<jwt>; …` Set-Cookie, checked against the demo contract's attribute list.
fn issued_token(set_cookie: &str) -> String {
    let rest = set_cookie.strip_prefix("session=").expect("named session");
    let (token, attributes) = rest.split_once(';').unwrap();
    let expires = attributes
        .strip_prefix(" HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=2592000; Expires=")
        .unwrap_or_else(|| panic!("attributes in contract order: {attributes}"));
    let mut expected = String::new();
    write_http_date(&mut expected, now_secs() + 2_592_000);
    let mut expected_next = String::new();
    write_http_date(&mut expected_next, now_secs() + 2_592_000 - 1);
    assert!(expires == expected || expires == expected_next, "{expires} vs {expected}");
    token.to_owned()
}

fn decode(services: &TestServices, token: &str) -> DecodedToken<TestSession> {
    services.jwt.decode(token).unwrap()
}

#[tokio::test]
async fn valid_cookie_establishes_the_session_and_writes_nothing_back() {
    let services = services(false);
    let token = services.jwt.encode(THIRTY_DAYS, &alice()).unwrap();
    let cookie = format!("theme=dark; session={token}; other=1");
    let outcome = run(&services, vec![cookie_mw()], request("GET", "/me", &[("cookie", &cookie)]), ok_response()).await;
    assert_eq!(outcome.seen_session, Some(alice()));
    assert!(set_cookies(&outcome.response).is_empty());
}

#[tokio::test]
async fn cookie_is_found_in_any_cookie_header() {
    let services = services(false);
    let token = services.jwt.encode(THIRTY_DAYS, &alice()).unwrap();
    let pairs = [("cookie", "theme=dark"), ("cookie", &format!("session={token}"))];
    let outcome = run(&services, vec![cookie_mw()], request("GET", "/me", &pairs), ok_response()).await;
    assert_eq!(outcome.seen_session, Some(alice()));
}

#[tokio::test]
async fn cookie_name_must_match_exactly_spaces_and_quotes_are_tolerated() {
    let services = services(false);
    let token = services.jwt.encode(THIRTY_DAYS, &alice()).unwrap();
    let found = |header: String| {
        let services = &services;
        async move {
            run(services, vec![cookie_mw()], request("GET", "/me", &[("cookie", &header)]), ok_response())
                .await
                .seen_session
        }
    };
    assert_eq!(found(format!("theme=dark;  session = {token} ;lang=en")).await, Some(alice()));
    assert_eq!(found(format!("session=\"{token}\"")).await, Some(alice()));
    assert_eq!(found(format!("xsession={token}; session_old={token}")).await, None);
    assert_eq!(found(format!("other={token}")).await, None);
}

#[tokio::test]
async fn invalid_cookie_is_treated_as_absent_and_removed_whatever_the_status() {
    let services = services(false);
    let good = services.jwt.encode(THIRTY_DAYS, &alice()).unwrap();
    let bad_tokens = [tamper(&good), expired_token(&services.jwt, &alice()), "garbage".to_owned()];
    for token in &bad_tokens {
        for status in [StatusCode::OK, StatusCode::UNAUTHORIZED, StatusCode::INTERNAL_SERVER_ERROR] {
            let cookie = format!("session={token}");
            let outcome = run(
                &services,
                vec![cookie_mw()],
                request("POST", "/login", &[("cookie", &cookie)]),
                error_response(status),
            )
            .await;
            assert!(outcome.endpoint_ran, "an invalid cookie never blocks the function");
            assert_eq!(outcome.seen_session, None);
            assert_eq!(outcome.response.status(), status);
            assert_eq!(set_cookies(&outcome.response), [REMOVAL]);
        }
    }
}

#[tokio::test]
async fn login_with_a_stale_cookie_replaces_it_with_a_fresh_one() {
    let services = services(false);
    let cookie = "session=garbage".to_owned();
    let outcome =
        run(&services, vec![cookie_mw()], request("POST", "/login", &[("cookie", &cookie)]), login_response(alice()))
            .await;
    let cookies = set_cookies(&outcome.response);
    assert_eq!(cookies.len(), 1);
    assert_eq!(decode(&services, &issued_token(&cookies[0])).session, alice());
}

#[tokio::test]
async fn login_sets_a_cookie_with_every_attribute_for_a_new_session() {
    let services = services(false);
    let outcome = run(&services, vec![cookie_mw()], request("POST", "/login", &[]), login_response(alice())).await;
    let cookies = set_cookies(&outcome.response);
    assert_eq!(cookies.len(), 1);
    let token = issued_token(&cookies[0]);
    let decoded = decode(&services, &token);
    assert_eq!(decoded.session, alice());
    assert_eq!(decoded.expires_at - decoded.issued_at.unwrap(), 2_592_000);
    assert!(decoded.session_id().is_some());
}

#[tokio::test]
async fn failed_login_sets_no_cookie() {
    let services = services(false);
    let respond = login_response(alice()).with_status(StatusCode::UNAUTHORIZED);
    let outcome = run(&services, vec![cookie_mw()], request("POST", "/login", &[]), respond).await;
    assert!(set_cookies(&outcome.response).is_empty());
}

#[tokio::test]
async fn login_over_a_valid_cookie_cycles_the_session_id_and_revokes_the_old_one() {
    let services = services(true);
    let old = services.jwt.encode(THIRTY_DAYS, &bob()).unwrap();
    let old_sid = decode(&services, &old).session_id().unwrap().to_owned();
    let cookie = format!("session={old}");
    let outcome =
        run(&services, vec![cookie_mw()], request("POST", "/login", &[("cookie", &cookie)]), login_response(alice()))
            .await;
    let new = issued_token(&set_cookies(&outcome.response)[0]);
    assert_ne!(decode(&services, &new).session_id().unwrap(), old_sid);
    assert!(revoked(&services.store, &old_sid).await);
}

#[tokio::test]
async fn logout_removes_the_cookie_and_revokes_its_session() {
    let services = services(true);
    let token = services.jwt.encode(THIRTY_DAYS, &alice()).unwrap();
    let cookie = format!("session={token}");
    let outcome =
        run(&services, vec![cookie_mw()], request("POST", "/logout", &[("cookie", &cookie)]), logout_response()).await;
    assert_eq!(outcome.response.status(), 204);
    assert_eq!(set_cookies(&outcome.response), [REMOVAL]);

    // The same cookie replayed (another browser, a stolen copy): absent, and removed again.
    let outcome = run(&services, vec![cookie_mw()], request("GET", "/me", &[("cookie", &cookie)]), ok_response()).await;
    assert_eq!(outcome.seen_session, None);
    assert_eq!(set_cookies(&outcome.response), [REMOVAL]);

    // Another login of the same user is another session.
    let other = services.jwt.encode(THIRTY_DAYS, &alice()).unwrap();
    let outcome = run(
        &services,
        vec![cookie_mw()],
        request("GET", "/me", &[("cookie", &format!("session={other}"))]),
        ok_response(),
    )
    .await;
    assert_eq!(outcome.seen_session, Some(alice()));
}

#[tokio::test]
async fn logout_authenticated_by_bearer_still_removes_the_cookie() {
    let services = services(true);
    let bearer = services.jwt.sign(&alice()).unwrap();
    let chain = vec![auth_bearer(), cookie_mw()];
    let pairs = [("authorization", &*format!("Bearer {bearer}")), ("cookie", "session=whatever")];
    let outcome = run(&services, chain, request("POST", "/logout", &pairs), logout_response()).await;
    assert_eq!(set_cookies(&outcome.response), [REMOVAL]);
    assert_eq!(services.store.len(), 1, "the bearer session is revoked");
}

#[tokio::test]
async fn cookie_past_its_refresh_point_is_reissued_keeping_the_session_id() {
    let services = services(true);
    let old = aged_token(&alice(), "sessionid1", 16 * DAY, 30 * DAY);
    let cookie = format!("session={old}");
    let outcome = run(&services, vec![cookie_mw()], request("GET", "/me", &[("cookie", &cookie)]), ok_response()).await;
    assert_eq!(outcome.seen_session, Some(alice()));
    let cookies = set_cookies(&outcome.response);
    assert_eq!(cookies.len(), 1);
    let refreshed = decode(&services, &issued_token(&cookies[0]));
    assert_eq!(refreshed.session, alice());
    assert_eq!(refreshed.session_id(), Some("sessionid1"));
    assert!(refreshed.issued_at.unwrap() >= now_secs() - 1);

    // Logging out with the old cookie also kills the refreshed one: same session id.
    run(&services, vec![cookie_mw()], request("POST", "/logout", &[("cookie", &cookie)]), logout_response()).await;
    let new_cookie = format!("session={}", issued_token(&cookies[0]));
    let outcome =
        run(&services, vec![cookie_mw()], request("GET", "/me", &[("cookie", &new_cookie)]), ok_response()).await;
    assert_eq!(outcome.seen_session, None);
}

#[tokio::test]
async fn a_foreign_jti_past_the_refresh_point_is_refreshed_not_a_500() {
    let services = services(true);
    for jti in ["urn:x", ".nonce", "urn:x.nonce", &"a".repeat(129)] {
        let iat = now_secs() - 16 * DAY;
        let mut claims = crate::testing::session_claims(&alice(), iat, iat + 30 * DAY);
        claims["jti"] = jti.into();
        let cookie = format!("session={}", crate::testing::TokenForger::hs256(SECRET).forge(&claims));
        let outcome =
            run(&services, vec![cookie_mw()], request("GET", "/me", &[("cookie", &cookie)]), ok_response()).await;
        assert_eq!(outcome.response.status(), 200, "jti {jti:?}");
        assert_eq!(outcome.seen_session, Some(alice()), "jti {jti:?}");
        let cookies = set_cookies(&outcome.response);
        assert_eq!(cookies.len(), 1, "jti {jti:?}: refreshed");
        let refreshed = decode(&services, &issued_token(&cookies[0]));
        assert_eq!(refreshed.session, alice());

        // Logging out with it revokes it, by its signature.
        run(&services, vec![cookie_mw()], request("POST", "/logout", &[("cookie", &cookie)]), logout_response()).await;
        let outcome =
            run(&services, vec![cookie_mw()], request("GET", "/me", &[("cookie", &cookie)]), ok_response()).await;
        assert_eq!(outcome.seen_session, None, "jti {jti:?}: revoked");
    }
}

#[tokio::test]
async fn cookie_before_its_refresh_point_is_not_reissued() {
    let services = services(false);
    let token = aged_token(&alice(), "sessionid1", 14 * DAY, 30 * DAY);
    let cookie = format!("session={token}");
    let outcome = run(&services, vec![cookie_mw()], request("GET", "/me", &[("cookie", &cookie)]), ok_response()).await;
    assert_eq!(outcome.seen_session, Some(alice()));
    assert!(set_cookies(&outcome.response).is_empty());
}

#[tokio::test]
async fn cookie_is_not_refreshed_on_a_failed_response() {
    let services = services(false);
    let token = aged_token(&alice(), "sessionid1", 16 * DAY, 30 * DAY);
    let cookie = format!("session={token}");
    let outcome = run(
        &services,
        vec![cookie_mw()],
        request("GET", "/me", &[("cookie", &cookie)]),
        error_response(StatusCode::FORBIDDEN),
    )
    .await;
    assert!(set_cookies(&outcome.response).is_empty());
}

#[tokio::test]
async fn cookie_past_a_custom_refresh_point_is_reissued() {
    let services = services(false);
    let mw = auth_cookie(CookieOptions::new("session", THIRTY_DAYS).refresh_after(Duration::from_secs(60)));
    let token = aged_token(&alice(), "sessionid1", 120, 30 * DAY);
    let outcome =
        run(&services, vec![mw], request("GET", "/me", &[("cookie", &format!("session={token}"))]), ok_response())
            .await;
    assert_eq!(set_cookies(&outcome.response).len(), 1);
}

#[tokio::test]
async fn revoked_cookie_is_treated_as_absent_and_removed() {
    let services = services(true);
    let token = services.jwt.encode(THIRTY_DAYS, &alice()).unwrap();
    let sid = decode(&services, &token).session_id().unwrap().to_owned();
    services.store.revoke(&sid, now_secs() + DAY).await.unwrap();
    let outcome = run(
        &services,
        vec![cookie_mw()],
        request("GET", "/me", &[("cookie", &format!("session={token}"))]),
        ok_response(),
    )
    .await;
    assert!(outcome.endpoint_ran);
    assert_eq!(outcome.seen_session, None);
    assert_eq!(set_cookies(&outcome.response), [REMOVAL]);
}

#[tokio::test]
async fn cookie_store_failure_fails_closed_with_503() {
    let services = TestServices { failing_store: true, ..services(true) };
    let token = services.jwt.encode(THIRTY_DAYS, &alice()).unwrap();
    let outcome = run(
        &services,
        vec![cookie_mw()],
        request("GET", "/me", &[("cookie", &format!("session={token}"))]),
        ok_response(),
    )
    .await;
    assert!(!outcome.endpoint_ran);
    assert_eq!(outcome.response.status(), 503);
    assert!(outcome.response.headers().contains_key(pikku_runtime::header::RETRY_AFTER));
    assert!(!body_text(outcome.response).await.contains(&token));
}

async fn csrf_outcome(mw: SharedMiddleware<TestServices, TestSession>, pairs: &[(&str, &str)]) -> Outcome {
    let services = services(false);
    let token = services.jwt.encode(THIRTY_DAYS, &alice()).unwrap();
    let cookie = format!("session={token}");
    let mut all = vec![("cookie", cookie.as_str())];
    all.extend_from_slice(pairs);
    run(&services, vec![auth_bearer(), mw], request("POST", "/users/u1/notes", &all), ok_response()).await
}

#[tokio::test]
async fn cross_site_cookie_post_is_refused_with_403() {
    for pairs in [
        &[("sec-fetch-site", "cross-site")][..],
        &[("host", "api.example"), ("origin", "https://evil.example")][..],
        &[("host", "api.example"), ("origin", "null")][..],
    ] {
        let outcome = csrf_outcome(cookie_mw(), pairs).await;
        assert!(!outcome.endpoint_ran);
        assert_eq!(outcome.response.status(), 403);
        assert!(body_text(outcome.response).await.contains("ForbiddenError"));
    }
}

#[tokio::test]
async fn same_origin_allow_listed_and_headerless_cookie_posts_pass() {
    let same_origin = [("sec-fetch-site", "same-origin"), ("host", "api.example"), ("origin", "https://api.example")];
    assert_eq!(csrf_outcome(cookie_mw(), &same_origin).await.seen_session, Some(alice()));
    assert_eq!(csrf_outcome(cookie_mw(), &[]).await.seen_session, Some(alice()));
    let allowed = auth_cookie(
        CookieOptions::new("session", THIRTY_DAYS).csrf(CsrfOptions::default().allow_origin("https://app.example")),
    );
    let pairs = [("host", "api.example"), ("origin", "https://app.example")];
    assert_eq!(csrf_outcome(allowed, &pairs).await.seen_session, Some(alice()));
}

/// The pipeline marks a request whose one `Origin` the CORS configuration lists with credentials; the cookie
/// strategy's CSRF check accepts it although the browser marks it cross-site.
#[tokio::test]
async fn a_cross_site_cookie_post_from_an_origin_cors_lists_passes() {
    let services = services(false);
    let cookie = format!("session={}", services.jwt.encode(THIRTY_DAYS, &alice()).unwrap());
    let pairs = [
        ("cookie", cookie.as_str()),
        ("host", "api.example"),
        ("origin", "https://app.example"),
        ("sec-fetch-site", "cross-site"),
    ];
    let unlisted = run(&services, vec![cookie_mw()], request("POST", "/users/u1/notes", &pairs), ok_response()).await;
    assert!(!unlisted.endpoint_ran);
    assert_eq!(unlisted.response.status(), 403);
    let listed = request("POST", "/users/u1/notes", &pairs).with_origin_listed_for_credentials();
    let outcome = run(&services, vec![cookie_mw()], listed, ok_response()).await;
    assert_eq!(outcome.seen_session, Some(alice()));
    assert_eq!(outcome.response.status(), 200);
}

#[tokio::test]
async fn bearer_requests_are_not_subject_to_csrf() {
    let services = services(false);
    let bearer = format!("Bearer {}", services.jwt.sign(&bob()).unwrap());
    let cookie = format!("session={}", services.jwt.encode(THIRTY_DAYS, &alice()).unwrap());
    let pairs = [("authorization", bearer.as_str()), ("cookie", &cookie), ("sec-fetch-site", "cross-site")];
    let outcome = run(&services, vec![auth_bearer(), cookie_mw()], request("POST", "/x", &pairs), ok_response()).await;
    assert_eq!(outcome.seen_session, Some(bob()));
}

#[tokio::test]
async fn first_strategy_to_establish_a_session_wins() {
    let services = services(false);
    let bearer = format!("Bearer {}", services.jwt.sign(&bob()).unwrap());
    let cookie = format!("session={}", services.jwt.encode(THIRTY_DAYS, &alice()).unwrap());
    let pairs = [("authorization", bearer.as_str()), ("cookie", &cookie)];
    let outcome = run(&services, vec![auth_bearer(), cookie_mw()], request("GET", "/me", &pairs), ok_response()).await;
    assert_eq!(outcome.seen_session, Some(bob()));
    let outcome = run(&services, vec![cookie_mw(), auth_bearer()], request("GET", "/me", &pairs), ok_response()).await;
    assert_eq!(outcome.seen_session, Some(alice()));

    // The later strategy does not even look: an invalid cookie behind a valid bearer is left alone.
    let pairs = [("authorization", bearer.as_str()), ("cookie", "session=garbage")];
    let outcome = run(&services, vec![auth_bearer(), cookie_mw()], request("GET", "/me", &pairs), ok_response()).await;
    assert_eq!(outcome.seen_session, Some(bob()));
    assert!(set_cookies(&outcome.response).is_empty());
}

#[tokio::test]
async fn options_override_every_attribute() {
    let services = services(false);
    let options = CookieOptions::new("sid", Duration::from_secs(3600))
        .http_only(false)
        .secure(false)
        .same_site(SameSite::Strict)
        .path("/app")
        .domain("example.com");
    let outcome =
        run(&services, vec![auth_cookie(options)], request("POST", "/login", &[]), login_response(alice())).await;
    let cookie = &set_cookies(&outcome.response)[0];
    let attributes = cookie.split_once(';').unwrap().1;
    assert!(
        attributes.starts_with(" SameSite=Strict; Path=/app; Domain=example.com; Max-Age=3600; Expires="),
        "{cookie}"
    );
}

#[test]
fn describe_lists_the_configuration_and_no_secret() {
    let mw = cookie_mw();
    assert_eq!(mw.name(), "auth_cookie");
    assert_eq!(
        mw.describe(),
        "name=session, expires_in=30d, refresh_after=15d, absolute_lifetime=90d, HttpOnly, Secure, SameSite=Lax, \
         Path=/, csrf=on"
    );
    let strategy = CookieStrategy::<TestSession>::new(CookieOptions::new("session", THIRTY_DAYS));
    assert!(format!("{strategy:?}").contains("name=session"));
}

#[test]
fn the_openapi_document_declares_the_csrf_403_only_where_the_check_runs() {
    use pikku_runtime::Method;
    let statuses = |options: CookieOptions, method: Method| {
        let strategy = CookieStrategy::<TestSession>::new(options);
        AuthStrategy::<TestServices, TestSession>::openapi_statuses(&strategy, &method)
    };
    let options = || CookieOptions::new("session", THIRTY_DAYS);
    assert_eq!(statuses(options(), Method::POST), [401, 403]);
    assert_eq!(statuses(options(), Method::DELETE), [401, 403]);
    assert_eq!(statuses(options(), Method::GET), [401], "a safe method is never checked");
    assert_eq!(statuses(options().csrf(CsrfOptions::disabled()), Method::POST), [401], "the check is off");
}

#[test]
#[should_panic(expected = "SameSite=None requires Secure")]
fn same_site_none_without_secure_is_refused_at_construction() {
    let _ = CookieStrategy::<TestSession>::new(
        CookieOptions::new("session", THIRTY_DAYS).secure(false).same_site(SameSite::None),
    );
}

#[test]
fn http_dates_are_imf_fixdates() {
    let mut out = String::new();
    write_http_date(&mut out, 784_111_777);
    assert_eq!(out, "Sun, 06 Nov 1994 08:49:37 GMT");
    out.clear();
    write_http_date(&mut out, 0);
    assert_eq!(out, EPOCH_HTTP_DATE);
}

// Session lifecycle: one login is one session, revocation reaches every credential, refresh keeps the
// lineage within an absolute lifetime.

#[tokio::test]
async fn the_cookie_of_a_login_carries_the_session_id_set_session_chose() {
    let services = services(true);
    let login = login_response(alice());
    let Some(SessionChange::Set { id, .. }) = &login.change else { unreachable!() };
    let id = id.to_string();
    let outcome = run(&services, vec![cookie_mw()], request("POST", "/login", &[]), login).await;
    let token = issued_token(&set_cookies(&outcome.response)[0]);
    assert_eq!(decode(&services, &token).session_id(), Some(id.as_str()));
    assert_eq!(outcome.response.headers()[header::CACHE_CONTROL], "no-store");
}

#[tokio::test]
async fn logout_revokes_the_cookie_presented_beside_a_winning_bearer_token() {
    let services = services(true);
    let bearer = services.jwt.sign(&alice()).unwrap();
    let cookie = services.jwt.encode(THIRTY_DAYS, &alice()).unwrap();
    let cookie_sid = decode(&services, &cookie).session_id().unwrap().to_owned();
    let bearer_sid = decode(&services, &bearer).session_id().unwrap().to_owned();
    let pairs = [("authorization", &*format!("Bearer {bearer}")), ("cookie", &*format!("session={cookie}"))];

    // Without a session change, the cookie beside the bearer token is left alone.
    let outcome = run(&services, vec![auth_bearer(), cookie_mw()], request("GET", "/me", &pairs), ok_response()).await;
    assert!(set_cookies(&outcome.response).is_empty());
    assert!(services.store.is_empty());

    let outcome =
        run(&services, vec![auth_bearer(), cookie_mw()], request("POST", "/logout", &pairs), logout_response()).await;
    assert_eq!(set_cookies(&outcome.response), [REMOVAL]);
    assert!(revoked(&services.store, &bearer_sid).await, "the bearer token that won");
    assert!(revoked(&services.store, &cookie_sid).await, "and the cookie beside it");
}

#[tokio::test]
async fn logout_revokes_the_bearer_token_presented_beside_a_winning_cookie() {
    let services = services(true);
    let bearer = services.jwt.sign(&bob()).unwrap();
    let cookie = services.jwt.encode(THIRTY_DAYS, &alice()).unwrap();
    let bearer_sid = decode(&services, &bearer).session_id().unwrap().to_owned();
    let pairs = [("authorization", &*format!("Bearer {bearer}")), ("cookie", &*format!("session={cookie}"))];
    let outcome =
        run(&services, vec![cookie_mw(), auth_bearer()], request("POST", "/logout", &pairs), logout_response()).await;
    assert_eq!(outcome.seen_session, Some(alice()), "the cookie came first and won");
    assert!(revoked(&services.store, &bearer_sid).await);
    assert_eq!(services.store.len(), 2);
}

#[tokio::test]
async fn the_first_cookie_value_that_verifies_wins_and_a_bad_one_beside_it_is_not_removed() {
    let services = services(true);
    let good = services.jwt.encode(THIRTY_DAYS, &alice()).unwrap();
    let revoked_token = services.jwt.encode(THIRTY_DAYS, &bob()).unwrap();
    services.store.revoke(decode(&services, &revoked_token).session_id().unwrap(), i64::MAX).await.unwrap();
    for header in [
        format!("session=garbage; session={good}"),
        format!("session={good}; session=garbage"),
        format!("session={revoked_token}; session={good}"),
        format!("session={}; theme=x; session={good}", tamper(&good)),
    ] {
        let outcome =
            run(&services, vec![cookie_mw()], request("GET", "/me", &[("cookie", &header)]), ok_response()).await;
        assert_eq!(outcome.seen_session, Some(alice()), "{header}");
        assert!(set_cookies(&outcome.response).is_empty(), "no removal that would delete the good cookie: {header}");
    }
    // None verifies: absent, and removed.
    let header = format!("session=garbage; session={revoked_token}");
    let outcome = run(&services, vec![cookie_mw()], request("GET", "/me", &[("cookie", &header)]), ok_response()).await;
    assert_eq!(outcome.seen_session, None);
    assert_eq!(set_cookies(&outcome.response), [REMOVAL]);
}

#[tokio::test]
async fn duplicate_cookies_are_tried_in_order_with_a_remote_store_too() {
    let services = TestServices { remote_store: Some(RemoteStore(InMemorySessionStore::new())), ..services(true) };
    let good = services.jwt.encode(THIRTY_DAYS, &alice()).unwrap();
    let revoked_token = services.jwt.encode(THIRTY_DAYS, &bob()).unwrap();
    let remote = services.remote_store.as_ref().unwrap();
    remote.revoke(decode(&services, &revoked_token).session_id().unwrap(), i64::MAX).await.unwrap();
    let header = format!("session={revoked_token}; session=garbage; session={good}");
    let outcome = run(&services, vec![cookie_mw()], request("GET", "/me", &[("cookie", &header)]), ok_response()).await;
    assert_eq!(outcome.seen_session, Some(alice()));
}

#[tokio::test]
async fn a_non_ascii_byte_elsewhere_in_the_cookie_header_does_not_hide_the_session() {
    let services = services(false);
    let token = services.jwt.encode(THIRTY_DAYS, &alice()).unwrap();
    let mut headers = HeaderMap::new();
    let value = [b"name=Jos\xc3\xa9; theme=\xff; session=".as_slice(), token.as_bytes()].concat();
    headers.insert(header::COOKIE, HeaderValue::from_bytes(&value).unwrap());
    let request = Request::for_test(pikku_runtime::Method::GET, "/me", headers);
    let outcome = run(&services, vec![cookie_mw()], request, ok_response()).await;
    assert_eq!(outcome.seen_session, Some(alice()));
}

#[test]
fn host_prefix_requires_secure_root_path_and_no_domain() {
    let host = || CookieOptions::new("__Host-session", THIRTY_DAYS);
    let _ok: SharedMiddleware<TestServices, TestSession> = auth_cookie(host());
    for broken in [host().secure(false), host().path("/app"), host().domain("example.com")] {
        let refused = std::panic::catch_unwind(|| {
            let _: SharedMiddleware<TestServices, TestSession> = auth_cookie(broken);
        });
        let message = refused.expect_err("refused at start-up");
        let message = message
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| message.downcast_ref::<&str>().map(|m| (*m).to_owned()))
            .unwrap_or_default();
        assert!(message.contains("__Host-"), "{message}");
    }
    let secure_prefix = std::panic::catch_unwind(|| {
        let _: SharedMiddleware<TestServices, TestSession> =
            auth_cookie(CookieOptions::new("__Secure-s", THIRTY_DAYS).secure(false));
    });
    assert!(secure_prefix.is_err());
}

#[tokio::test]
async fn a_host_prefixed_cookie_is_written_and_read_back() {
    let services = services(false);
    let mw = || auth_cookie::<TestServices, TestSession>(CookieOptions::new("__Host-session", THIRTY_DAYS));
    let outcome = run(&services, vec![mw()], request("POST", "/login", &[]), login_response(alice())).await;
    let set = set_cookies(&outcome.response);
    assert!(set[0].starts_with("__Host-session=") && set[0].contains("; Secure; ") && set[0].contains("Path=/"));
    assert!(!set[0].contains("Domain"));
    let token = set[0].strip_prefix("__Host-session=").unwrap().split(';').next().unwrap();
    let cookie = format!("__Host-session={token}");
    let outcome = run(&services, vec![mw()], request("GET", "/me", &[("cookie", &cookie)]), ok_response()).await;
    assert_eq!(outcome.seen_session, Some(alice()));
}

#[tokio::test]
async fn a_token_without_iat_is_never_refreshed() {
    let services = services(true);
    let exp = now() + 29 * DAY;
    let mut claims = serde_json::to_value(alice()).unwrap();
    claims["exp"] = exp.into();
    let token = forger().kid(None).forge(&claims);
    let cookie = format!("session={token}");
    let outcome = run(&services, vec![cookie_mw()], request("GET", "/me", &[("cookie", &cookie)]), ok_response()).await;
    assert_eq!(outcome.seen_session, Some(alice()));
    assert!(set_cookies(&outcome.response).is_empty(), "no iat: no refresh into a 30-day cookie");
}

#[tokio::test]
async fn a_foreign_token_keeps_its_lineage_when_refreshed() {
    let services = services(true);
    // A Pikku TypeScript cookie (no `jti`, no `kid`), past its refresh point.
    let iat = now() - 16 * DAY;
    let foreign = forger().kid(None).forge(&session_claims(&alice(), iat, iat + 30 * DAY));
    let cookie = format!("session={foreign}");
    let outcome = run(&services, vec![cookie_mw()], request("GET", "/me", &[("cookie", &cookie)]), ok_response()).await;
    let refreshed = issued_token(&set_cookies(&outcome.response)[0]);
    let (_, meta) = crate::credential::decode::<_, TestSession>(&services, &foreign).unwrap();
    assert_eq!(decode(&services, &refreshed).session_id(), Some(meta.session_id()), "derived from the signature");

    // Logging out with the original revokes the refresh, and the other way round.
    run(&services, vec![cookie_mw()], request("POST", "/logout", &[("cookie", &cookie)]), logout_response()).await;
    let again = format!("session={refreshed}");
    let outcome = run(&services, vec![cookie_mw()], request("GET", "/me", &[("cookie", &again)]), ok_response()).await;
    assert_eq!(outcome.seen_session, None);
}

#[tokio::test]
async fn a_refresh_carries_the_login_time_and_never_passes_the_absolute_lifetime() {
    let services = services(true);
    let chain = || vec![cookie_mw()];
    // Logged in 80 days ago, refreshed 16 days ago: refreshed once more, but only up to day 90.
    let mut claims = session_claims(&alice(), now() - 16 * DAY, now() + 14 * DAY);
    claims["jti"] = "sessionid2.n".into();
    claims["auth_time"] = (now() - 80 * DAY).into();
    let cookie = format!("session={}", forger().forge(&claims));
    let outcome = run(&services, chain(), request("GET", "/me", &[("cookie", &cookie)]), ok_response()).await;
    let set = set_cookies(&outcome.response);
    assert_eq!(set.len(), 1);
    let token = set[0].strip_prefix("session=").unwrap().split(';').next().unwrap();
    let refreshed = decode(&services, token);
    assert_eq!(refreshed.session_id(), Some("sessionid2"));
    assert_eq!(refreshed.auth_time, Some(now() - 80 * DAY), "the login time travels");
    assert!((refreshed.expires_at - (now() + 10 * DAY)).abs() <= 1, "capped at login + 90 days");
    assert!(set[0].contains(&format!("Max-Age={}", 10 * DAY)) || set[0].contains(&format!("Max-Age={}", 10 * DAY - 1)));

    // Past the absolute lifetime: still valid until it expires, never refreshed again.
    let mut claims = session_claims(&alice(), now() - 16 * DAY, now() + 14 * DAY);
    claims["jti"] = "sessionid3.n".into();
    claims["auth_time"] = (now() - 91 * DAY).into();
    let cookie = format!("session={}", forger().forge(&claims));
    let outcome = run(&services, chain(), request("GET", "/me", &[("cookie", &cookie)]), ok_response()).await;
    assert_eq!(outcome.seen_session, Some(alice()));
    assert!(set_cookies(&outcome.response).is_empty());
}

#[tokio::test]
async fn a_revocation_outlives_the_token_by_the_leeway() {
    let services = services(true);
    let token = services.jwt.encode(Duration::from_secs(60), &alice()).unwrap();
    let cookie = format!("session={token}");
    run(&services, vec![cookie_mw()], request("POST", "/logout", &[("cookie", &cookie)]), logout_response()).await;
    let (_, meta) = crate::credential::decode::<_, TestSession>(&services, &token).unwrap();
    // The store may forget the entry once the token can no longer verify: exp + leeway, not exp.
    assert_eq!(meta.revoke_until(services.jwt.leeway()), meta.expires_at + 5);
}

#[tokio::test]
async fn log_out_everywhere_revokes_every_session_of_the_user_begun_by_then() {
    let jwt = JwtService::builder().hs256_key("primary", SECRET).user_claim("userId").build().unwrap();
    let services = TestServices { jwt, ..services(true) };
    let mut earlier = session_claims(&alice(), now() - 60, now() + DAY);
    earlier["jti"] = "sessionid4.n".into();
    let earlier = format!("session={}", forger().forge(&earlier));
    let bob_cookie = format!("session={}", services.jwt.encode(THIRTY_DAYS, &bob()).unwrap());
    crate::revoke_user_sessions(&services, "u1", THIRTY_DAYS).await.unwrap();

    let seen = |cookie: String| {
        let services = &services;
        async move {
            run(services, vec![cookie_mw()], request("GET", "/me", &[("cookie", &cookie)]), ok_response())
                .await
                .seen_session
        }
    };
    assert_eq!(seen(earlier).await, None, "alice's earlier session is revoked");
    assert_eq!(seen(bob_cookie).await, Some(bob()), "bob is another user");
    let mut later = session_claims(&alice(), now() + 1, now() + DAY);
    later["jti"] = "sessionid5.n".into();
    assert_eq!(seen(format!("session={}", forger().forge(&later))).await, Some(alice()), "a later login works");
}

#[tokio::test]
async fn log_out_everywhere_is_refused_when_it_could_not_be_enforced() {
    let without_claim = services(true);
    let error = crate::revoke_user_sessions(&without_claim, "u1", THIRTY_DAYS).await.unwrap_err();
    assert_eq!(error.status(), 500);
    let jwt = JwtService::builder().hs256_key("primary", SECRET).user_claim("userId").build().unwrap();
    let without_store = TestServices { jwt, ..services(false) };
    assert_eq!(crate::revoke_user_sessions(&without_store, "u1", THIRTY_DAYS).await.unwrap_err().status(), 500);
    let failing = TestServices { failing_store: true, ..services(true) };
    let jwt = JwtService::builder().hs256_key("primary", SECRET).user_claim("userId").build().unwrap();
    let failing = TestServices { jwt, ..failing };
    assert_eq!(crate::revoke_user_sessions(&failing, "u1", THIRTY_DAYS).await.unwrap_err().status(), 503);
}
