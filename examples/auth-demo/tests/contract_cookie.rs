//! The session cookie, over real HTTP: bad cookies, refresh, precedence between credentials, CSRF
//! (docs/auth-demo.md: Credentials, Errors; docs/auth-strategies.md).

mod support;

use jsonwebtoken::Algorithm;
use serde_json::json;
use support::*;

const REMOVAL: &str =
    "session=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Lax; Path=/";

fn bad_cookies() -> Vec<(&'static str, String)> {
    let iat = now() - 31 * DAY;
    let good = aged_token("u2", "user", 0, 30 * DAY);
    vec![
        ("garbage", "not-a-jwt".to_owned()),
        ("three garbage segments", "a.b.c".to_owned()),
        ("tampered", tamper(&good)),
        (
            "expired",
            sign(
                Some("primary"),
                &json!({"userId": "u2", "role": "user", "iat": iat, "exp": iat + 30 * DAY, "jti": new_jti()}),
            ),
        ),
        (
            "other secret",
            sign_with(
                Algorithm::HS256,
                Some("primary"),
                b"a-different-secret-of-32-bytes-or-more",
                &json!({"userId": "u2", "role": "user", "iat": now(), "exp": now() + DAY}),
            ),
        ),
        (
            "HS512",
            sign_with(
                Algorithm::HS512,
                Some("primary"),
                SECRET.as_bytes(),
                &json!({"userId": "u2", "role": "user", "iat": now(), "exp": now() + DAY}),
            ),
        ),
        ("unknown kid", sign(Some("old"), &json!({"userId": "u2", "role": "user", "iat": now(), "exp": now() + DAY}))),
    ]
}

#[tokio::test]
async fn a_bad_expired_or_tampered_cookie_is_as_if_absent_and_removed() {
    let s = shared();
    for (what, cookie) in bad_cookies() {
        let resp = s.send(Req::get("/me").cookie(&cookie)).await;
        resp.assert_error(401, "MissingSessionError");
        assert!(resp.header("www-authenticate").is_some(), "{what}");
        assert_eq!(resp.set_cookies(), [REMOVAL], "{what}: the bad cookie is removed");

        // On a public route it is removed too, and the route answers normally (never a 500).
        let resp = s.send(Req::get("/health").cookie(&cookie)).await;
        assert_eq!(resp.status, 200, "{what}: {}", resp.text());
        assert_eq!(resp.set_cookies(), [REMOVAL], "{what}");
    }
}

#[tokio::test]
async fn a_bad_cookie_does_not_block_login() {
    let s = shared();
    for (what, cookie) in bad_cookies() {
        let resp = s.send(Req::post("/login").cookie(&cookie).json(&json!({"email": BOB.0, "password": BOB.1}))).await;
        assert_eq!(resp.status, 200, "{what}: {}", resp.text());
        let set = resp.set_cookies();
        assert_eq!(set.len(), 1, "{what}: {set:?}");
        let fresh = resp.session_cookie().expect("a new session cookie");
        assert_eq!(s.send(Req::get("/me").cookie(&fresh)).await.json()["userId"], "u2", "{what}");
    }
}

#[tokio::test]
async fn a_bad_cookie_lets_the_api_key_through_and_is_removed() {
    let s = shared();
    let resp = s.send(Req::get("/me").cookie("not-a-jwt").header("x-api-key", API_KEY)).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["userId"], "svc");
    assert_eq!(resp.set_cookies(), [REMOVAL]);
}

#[tokio::test]
async fn a_cookie_older_than_15_days_is_refreshed_in_the_same_session() {
    let s = shared();
    let old = aged_token("u2", "user", 16 * DAY, 30 * DAY);
    let resp = s.send(Req::get("/me").cookie(&old)).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json(), json!({"userId": "u2", "role": "user"}));
    let set = resp.set_cookies();
    assert_eq!(set.len(), 1, "{set:?}");
    let attrs: Vec<&str> = set[0].split("; ").collect();
    assert_eq!(attrs.len(), 7, "{set:?}");
    assert_eq!(&attrs[1..6], ["HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age=2592000"]);
    let expires = parse_http_date(set[0].rsplit("Expires=").next().unwrap());
    assert!((expires - (now() + 30 * DAY)).abs() <= 3, "{}", set[0]);

    let fresh = resp.session_cookie().expect("a refreshed cookie");
    assert_ne!(fresh, old);
    let (header, payload) = parts(&fresh);
    let (_, old_payload) = parts(&old);
    assert_eq!(header["kid"], "primary");
    assert!((payload["iat"].as_i64().unwrap() - now()).abs() <= 3, "new iat: {payload}");
    assert_eq!(payload["exp"].as_i64().unwrap() - payload["iat"].as_i64().unwrap(), 30 * DAY);
    assert_eq!(session_id(&fresh), session_id(&old), "same session id");
    assert_ne!(payload["jti"], old_payload["jti"], "new nonce");
    assert_eq!((payload["userId"].as_str(), payload["role"].as_str()), (Some("u2"), Some("user")));

    // The refreshed cookie works and, being new, is not refreshed again.
    let resp = s.send(Req::get("/me").cookie(&fresh)).await;
    assert_eq!(resp.status, 200);
    assert!(resp.set_cookies().is_empty(), "{:?}", resp.set_cookies());
}

#[tokio::test]
async fn a_foreign_cookie_without_jti_is_refreshed_too() {
    let s = shared();
    let iat = now() - 20 * DAY;
    let old = sign(None, &json!({"userId": "u1", "role": "admin", "iat": iat, "exp": iat + 30 * DAY}));
    let resp = s.send(Req::get("/me").cookie(&old)).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let fresh = resp.session_cookie().expect("refreshed");
    assert_eq!(s.send(Req::get("/admin").cookie(&fresh)).await.status, 200);
}

#[tokio::test]
async fn a_cookie_younger_than_15_days_is_not_refreshed() {
    let s = shared();
    for age in [0, DAY, 10 * DAY, 14 * DAY] {
        let cookie = aged_token("u2", "user", age, 30 * DAY);
        let resp = s.send(Req::get("/me").cookie(&cookie)).await;
        assert_eq!(resp.status, 200, "age {age}: {}", resp.text());
        assert!(resp.set_cookies().is_empty(), "age {age}: {:?}", resp.set_cookies());
    }
}

#[tokio::test]
async fn a_due_cookie_is_not_refreshed_on_a_failed_response() {
    let s = shared();
    let old = aged_token("u2", "user", 16 * DAY, 30 * DAY);
    let resp = s.send(Req::get("/admin").cookie(&old)).await;
    resp.assert_error(403, "ForbiddenError");
    assert!(resp.set_cookies().is_empty(), "{:?}", resp.set_cookies());
}

#[tokio::test]
async fn bearer_wins_over_a_cookie_of_another_user() {
    let s = shared();
    let (bob, _) = s.login(BOB).await;
    let (_, alice_cookie) = s.login(ALICE).await;
    let resp = s.send(Req::get("/me").bearer(&bob).cookie(&alice_cookie)).await;
    assert_eq!(resp.json(), json!({"userId": "u2", "role": "user"}));
    assert_eq!(s.send(Req::get("/admin").bearer(&bob).cookie(&alice_cookie)).await.status, 403);
    // A bad bearer token is refused even next to a good cookie.
    let resp = s.send(Req::get("/me").bearer(&tamper(&bob)).cookie(&alice_cookie)).await;
    resp.assert_error(401, "InvalidSessionError");
}

#[tokio::test]
async fn cookie_wins_over_the_api_key() {
    let s = shared();
    let (_, alice_cookie) = s.login(ALICE).await;
    let resp = s.send(Req::get("/me").cookie(&alice_cookie).header("x-api-key", API_KEY)).await;
    assert_eq!(resp.json(), json!({"userId": "u1", "role": "admin"}));
    let resp = s.send(Req::get("/me?apiKey=test-key-1").cookie(&alice_cookie)).await;
    assert_eq!(resp.json()["userId"], "u1");
    // The first strategy that finds a session wins: an unknown key behind a good cookie is not looked at.
    let resp = s.send(Req::get("/me").cookie(&alice_cookie).header("x-api-key", "unknown")).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["userId"], "u1");
}

#[tokio::test]
async fn a_cross_site_cookie_post_is_403_and_changes_nothing() {
    let s = shared();
    let cross_site: [(&str, &str); 4] = [
        ("sec-fetch-site", "cross-site"),
        ("origin", "https://evil.example"),
        ("origin", "null"),
        ("origin", "http://127.0.0.1:1"),
    ];
    for (name, value) in cross_site {
        let (_, cookie) = s.login(BOB).await;
        let resp = s.send(Req::post("/logout").cookie(&cookie).header(name, value)).await;
        resp.assert_error(403, "ForbiddenError");
        assert!(resp.set_cookies().is_empty(), "{name}: {value}: {:?}", resp.set_cookies());
        // Not logged out.
        assert_eq!(s.send(Req::get("/me").cookie(&cookie)).await.status, 200, "{name}: {value}");
        let resp =
            s.send(Req::post("/users/u2/notes").cookie(&cookie).header(name, value).json(&json!({"text": "x"}))).await;
        resp.assert_error(403, "ForbiddenError");
    }
}

#[tokio::test]
async fn a_same_origin_or_headerless_cookie_post_passes() {
    let s = shared();
    let origin = s.origin();
    let same_site: [&[(&str, &str)]; 5] = [
        &[],
        &[("origin", origin.as_str())],
        &[("sec-fetch-site", "same-origin")],
        &[("sec-fetch-site", "same-origin"), ("origin", origin.as_str())],
        &[("sec-fetch-site", "none")],
    ];
    for headers in same_site {
        let (_, cookie) = s.login(BOB).await;
        let mut req = Req::post("/users/u2/notes").cookie(&cookie).json(&json!({"text": "ok"}));
        for (name, value) in headers {
            req = req.header(name, value);
        }
        let resp = s.send(req).await;
        assert_eq!(resp.status, 200, "{headers:?}: {}", resp.text());

        let mut req = Req::post("/logout").cookie(&cookie);
        for (name, value) in headers {
            req = req.header(name, value);
        }
        let resp = s.send(req).await;
        assert_eq!(resp.status, 204, "{headers:?}: {}", resp.text());
    }
    // A cross-site GET is safe and passes.
    let (_, cookie) = s.login(BOB).await;
    let resp = s
        .send(
            Req::get("/me")
                .cookie(&cookie)
                .header("sec-fetch-site", "cross-site")
                .header("origin", "https://evil.example"),
        )
        .await;
    assert_eq!(resp.status, 200);
}

#[tokio::test]
async fn bearer_and_api_key_posts_are_not_subject_to_csrf() {
    let s = shared();
    let (bob, _) = s.login(BOB).await;
    let cross = |req: Req| req.header("sec-fetch-site", "cross-site").header("origin", "https://evil.example");
    let resp = s.send(cross(Req::post("/users/u2/notes").bearer(&bob).json(&json!({"text": "x"})))).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let resp =
        s.send(cross(Req::post("/users/svc/notes").header("x-api-key", API_KEY).json(&json!({"text": "x"})))).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let resp = s.send(cross(Req::post("/logout").bearer(&bob))).await;
    assert_eq!(resp.status, 204, "{}", resp.text());
}
