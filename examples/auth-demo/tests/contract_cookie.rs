//! The session cookie, over real HTTP: bad cookies, refresh, precedence between credentials, CSRF
//! (docs/auth-demo.md: Credentials, Errors; docs/auth-strategies.md).

mod support;

use serde_json::json;
use support::*;

const REMOVAL: &str =
    "session=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Lax; Path=/";

fn bad_cookies() -> Vec<(&'static str, String)> {
    let iat = now() - 31 * DAY;
    let good = forger().aged_token(&session("u2", "user"), 0, 30 * DAY);
    vec![
        ("garbage", "not-a-jwt".to_owned()),
        ("three garbage segments", "a.b.c".to_owned()),
        ("tampered", tamper(&good)),
        (
            "expired",
            forger()
                .forge(&json!({"userId": "u2", "role": "user", "iat": iat, "exp": iat + 30 * DAY, "jti": new_jti()})),
        ),
        (
            "other secret",
            TokenForger::hs256(b"a-different-secret-of-32-bytes-or-more")
                .forge(&json!({"userId": "u2", "role": "user", "iat": now(), "exp": now() + DAY})),
        ),
        (
            "HS512",
            forger()
                .algorithm(Algorithm::HS512)
                .forge(&json!({"userId": "u2", "role": "user", "iat": now(), "exp": now() + DAY})),
        ),
        (
            "unknown kid",
            forger().kid(Some("old")).forge(&json!({"userId": "u2", "role": "user", "iat": now(), "exp": now() + DAY})),
        ),
    ]
}

#[tokio::test]
async fn a_bad_expired_or_tampered_cookie_is_as_if_absent_and_removed() {
    let s = shared();
    for (what, cookie) in bad_cookies() {
        let resp = s.get("/me").cookie("session", &cookie).send().await;
        resp.assert_error(401, "MissingSessionError");
        assert!(resp.header("www-authenticate").is_some(), "{what}");
        assert_eq!(resp.header_all("set-cookie"), [REMOVAL], "{what}: the bad cookie is removed");

        // On a public route it is removed too, and the route answers normally (never a 500).
        let resp = s.get("/health").cookie("session", &cookie).send().await;
        assert_eq!(resp.status(), 200, "{what}: {}", resp.text());
        assert_eq!(resp.header_all("set-cookie"), [REMOVAL], "{what}");
    }
}

#[tokio::test]
async fn a_bad_cookie_does_not_block_login() {
    let s = shared();
    for (what, cookie) in bad_cookies() {
        let resp =
            s.post("/login").cookie("session", &cookie).json(&json!({"email": BOB.0, "password": BOB.1})).send().await;
        assert_eq!(resp.status(), 200, "{what}: {}", resp.text());
        let set = resp.header_all("set-cookie");
        assert_eq!(set.len(), 1, "{what}: {set:?}");
        let fresh = resp.set_cookie_value("session").expect("a new session cookie");
        assert_eq!(s.get("/me").cookie("session", &fresh).send().await.json_value()["userId"], "u2", "{what}");
    }
}

#[tokio::test]
async fn a_bad_cookie_lets_the_api_key_through_and_is_removed() {
    let s = shared();
    let resp = s.get("/me").cookie("session", "not-a-jwt").header("x-api-key", API_KEY).send().await;
    assert_eq!(resp.status(), 200, "{}", resp.text());
    assert_eq!(resp.json_value()["userId"], "svc");
    assert_eq!(resp.header_all("set-cookie"), [REMOVAL]);
}

#[tokio::test]
async fn a_cookie_older_than_15_days_is_refreshed_in_the_same_session() {
    let s = shared();
    let old = forger().aged_token(&session("u2", "user"), 16 * DAY, 30 * DAY);
    let resp = s.get("/me").cookie("session", &old).send().await;
    assert_eq!(resp.status(), 200, "{}", resp.text());
    assert_eq!(resp.json_value(), json!({"userId": "u2", "role": "user"}));
    let set = resp.header_all("set-cookie");
    assert_eq!(set.len(), 1, "{set:?}");
    let attrs: Vec<&str> = set[0].split("; ").collect();
    assert_eq!(attrs.len(), 7, "{set:?}");
    assert_eq!(&attrs[1..6], ["HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age=2592000"]);
    let expires = resp.set_cookie("session").and_then(|c| c.expires_datetime()).expect("Expires").unix_timestamp();
    assert!((expires - (now() + 30 * DAY)).abs() <= 3, "{}", set[0]);

    let fresh = resp.set_cookie_value("session").expect("a refreshed cookie");
    assert_ne!(fresh, old);
    let (header, payload) = token_parts(&fresh);
    let (_, old_payload) = token_parts(&old);
    assert_eq!(header["kid"], "primary");
    assert!((payload["iat"].as_i64().unwrap() - now()).abs() <= 3, "new iat: {payload}");
    assert_eq!(payload["exp"].as_i64().unwrap() - payload["iat"].as_i64().unwrap(), 30 * DAY);
    assert_eq!(session_id(&fresh), session_id(&old), "same session id");
    assert_ne!(payload["jti"], old_payload["jti"], "new nonce");
    assert_eq!((payload["userId"].as_str(), payload["role"].as_str()), (Some("u2"), Some("user")));

    // The refreshed cookie works and, being new, is not refreshed again.
    let resp = s.get("/me").cookie("session", &fresh).send().await;
    assert_eq!(resp.status(), 200);
    assert!(resp.set_cookies().is_empty(), "{:?}", resp.header_all("set-cookie"));
}

#[tokio::test]
async fn a_foreign_cookie_without_jti_is_refreshed_too() {
    let s = shared();
    let iat = now() - 20 * DAY;
    let old = forger().kid(None).forge(&json!({"userId": "u1", "role": "admin", "iat": iat, "exp": iat + 30 * DAY}));
    let resp = s.get("/me").cookie("session", &old).send().await;
    assert_eq!(resp.status(), 200, "{}", resp.text());
    let fresh = resp.set_cookie_value("session").expect("refreshed");
    assert_eq!(s.get("/admin").cookie("session", &fresh).send().await.status(), 200);
}

#[tokio::test]
async fn a_cookie_younger_than_15_days_is_not_refreshed() {
    let s = shared();
    for age in [0, DAY, 10 * DAY, 14 * DAY] {
        let cookie = forger().aged_token(&session("u2", "user"), age, 30 * DAY);
        let resp = s.get("/me").cookie("session", &cookie).send().await;
        assert_eq!(resp.status(), 200, "age {age}: {}", resp.text());
        assert!(resp.set_cookies().is_empty(), "age {age}: {:?}", resp.header_all("set-cookie"));
    }
}

#[tokio::test]
async fn a_due_cookie_is_not_refreshed_on_a_failed_response() {
    let s = shared();
    let old = forger().aged_token(&session("u2", "user"), 16 * DAY, 30 * DAY);
    let resp = s.get("/admin").cookie("session", &old).send().await;
    resp.assert_error(403, "ForbiddenError");
    assert!(resp.set_cookies().is_empty(), "{:?}", resp.header_all("set-cookie"));
}

#[tokio::test]
async fn bearer_wins_over_a_cookie_of_another_user() {
    let s = shared();
    let (bob, _) = s.login(BOB).await;
    let (_, alice_cookie) = s.login(ALICE).await;
    let resp = s.get("/me").bearer(&bob).cookie("session", &alice_cookie).send().await;
    assert_eq!(resp.json_value(), json!({"userId": "u2", "role": "user"}));
    assert_eq!(s.get("/admin").bearer(&bob).cookie("session", &alice_cookie).send().await.status(), 403);
    // A bad bearer token is refused even next to a good cookie.
    let resp = s.get("/me").bearer(&tamper(&bob)).cookie("session", &alice_cookie).send().await;
    resp.assert_error(401, "InvalidSessionError");
}

#[tokio::test]
async fn cookie_wins_over_the_api_key() {
    let s = shared();
    let (_, alice_cookie) = s.login(ALICE).await;
    let resp = s.get("/me").cookie("session", &alice_cookie).header("x-api-key", API_KEY).send().await;
    assert_eq!(resp.json_value(), json!({"userId": "u1", "role": "admin"}));
    let resp = s.get("/me?apiKey=test-key-1").cookie("session", &alice_cookie).send().await;
    assert_eq!(resp.json_value()["userId"], "u1");
    // The first strategy that finds a session wins: an unknown key behind a good cookie is not looked at.
    let resp = s.get("/me").cookie("session", &alice_cookie).header("x-api-key", "unknown").send().await;
    assert_eq!(resp.status(), 200, "{}", resp.text());
    assert_eq!(resp.json_value()["userId"], "u1");
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
        let resp = s.post("/logout").cookie("session", &cookie).header(name, value).send().await;
        resp.assert_error(403, "ForbiddenError");
        assert!(resp.set_cookies().is_empty(), "{name}: {value}: {:?}", resp.header_all("set-cookie"));
        // Not logged out.
        assert_eq!(s.get("/me").cookie("session", &cookie).send().await.status(), 200, "{name}: {value}");
        let resp = s
            .post("/users/u2/notes")
            .cookie("session", &cookie)
            .header(name, value)
            .json(&json!({"text": "x"}))
            .send()
            .await;
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
        let mut req = s.post("/users/u2/notes").cookie("session", &cookie).json(&json!({"text": "ok"}));
        for (name, value) in headers {
            req = req.header(name, value);
        }
        let resp = req.send().await;
        assert_eq!(resp.status(), 200, "{headers:?}: {}", resp.text());

        let mut req = s.post("/logout").cookie("session", &cookie);
        for (name, value) in headers {
            req = req.header(name, value);
        }
        let resp = req.send().await;
        assert_eq!(resp.status(), 204, "{headers:?}: {}", resp.text());
    }
    // A cross-site GET is safe and passes.
    let (_, cookie) = s.login(BOB).await;
    let resp = s
        .get("/me")
        .cookie("session", &cookie)
        .header("sec-fetch-site", "cross-site")
        .header("origin", "https://evil.example")
        .send()
        .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn bearer_and_api_key_posts_are_not_subject_to_csrf() {
    let s = shared();
    let (bob, _) = s.login(BOB).await;
    fn cross(req: TestRequest<'_, HttpClient>) -> TestRequest<'_, HttpClient> {
        req.header("sec-fetch-site", "cross-site").header("origin", "https://evil.example")
    }
    let resp = cross(s.post("/users/u2/notes").bearer(&bob).json(&json!({"text": "x"}))).send().await;
    assert_eq!(resp.status(), 200, "{}", resp.text());
    let resp = cross(s.post("/users/svc/notes").header("x-api-key", API_KEY).json(&json!({"text": "x"}))).send().await;
    assert_eq!(resp.status(), 200, "{}", resp.text());
    let resp = cross(s.post("/logout").bearer(&bob)).send().await;
    assert_eq!(resp.status(), 204, "{}", resp.text());
}
