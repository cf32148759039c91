//! Logout with the in-memory session store, over real HTTP (docs/auth-demo.md: `POST /logout`;
//! docs/sessions.md).

mod support;

use serde_json::json;
use support::*;

const REMOVAL: &str =
    "session=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Lax; Path=/";

#[tokio::test]
async fn logout_is_204_and_removes_the_cookie() {
    let s = shared();
    let (_, cookie) = s.login(BOB).await;
    let resp = s.post("/logout").cookie("session", &cookie).send().await;
    assert_eq!(resp.status(), 204, "{}", resp.text());
    assert!(resp.bytes().is_empty(), "{}", resp.text());
    assert_eq!(resp.header_all("set-cookie"), [REMOVAL]);
    assert!(resp.header("x-request-id").is_some());
}

#[tokio::test]
async fn a_logged_out_cookie_is_refused_and_removed_while_another_login_still_works() {
    let s = shared();
    let (other_token, other_cookie) = s.login(ALICE).await;
    let (_, cookie) = s.login(ALICE).await;
    assert_eq!(s.post("/logout").cookie("session", &cookie).send().await.status(), 204);

    let resp = s.get("/me").cookie("session", &cookie).send().await;
    resp.assert_error(401, "MissingSessionError");
    assert_eq!(resp.header_all("set-cookie"), [REMOVAL], "the revoked cookie is removed");
    // Logging out again with it: no session.
    s.post("/logout").cookie("session", &cookie).send().await.assert_error(401, "MissingSessionError");

    for req in [s.get("/me").cookie("session", &other_cookie), s.get("/me").bearer(&other_token)] {
        let resp = req.send().await;
        assert_eq!(resp.status(), 200, "{}", resp.text());
        assert_eq!(resp.json_value(), json!({"userId": "u1", "role": "admin"}));
    }
    // A fresh login of the same user works too.
    let (_, again) = s.login(ALICE).await;
    assert_eq!(s.get("/me").cookie("session", &again).send().await.status(), 200);
}

#[tokio::test]
async fn a_logged_out_bearer_token_is_401_invalid_session() {
    let s = shared();
    let (token, cookie) = s.login(BOB).await;
    let (other, _) = s.login(BOB).await;
    let resp = s.post("/logout").bearer(&token).send().await;
    assert_eq!(resp.status(), 204, "{}", resp.text());

    let resp = s.get("/me").bearer(&token).send().await;
    resp.assert_error(401, "InvalidSessionError");
    assert_eq!(resp.header("www-authenticate"), Some("Bearer error=\"invalid_token\""));
    s.post("/logout").bearer(&token).send().await.assert_error(401, "InvalidSessionError");

    // Another login of bob is untouched; the cookie of the same login shares its session and is revoked.
    assert_eq!(s.get("/me").bearer(&other).send().await.status(), 200);
    s.get("/me").cookie("session", &cookie).send().await.assert_error(401, "MissingSessionError");
}

#[tokio::test]
async fn the_bearer_token_and_the_cookie_of_one_login_share_one_session() {
    let s = shared();
    let (token, cookie) = s.login(BOB).await;
    assert_eq!(session_id(&token), session_id(&cookie));
    // Logging out with the cookie revokes the bearer token of the same login.
    assert_eq!(s.post("/logout").cookie("session", &cookie).send().await.status(), 204);
    s.get("/me").bearer(&token).send().await.assert_error(401, "InvalidSessionError");
}

#[tokio::test]
async fn logout_revokes_every_credential_the_request_presented() {
    let s = shared();
    let (token, _) = s.login(BOB).await;
    let (_, cookie) = s.login(BOB).await;
    assert_ne!(session_id(&token), session_id(&cookie), "two logins");
    let resp = s.post("/logout").bearer(&token).cookie("session", &cookie).send().await;
    assert_eq!(resp.status(), 204, "{}", resp.text());
    assert_eq!(resp.header_all("set-cookie"), [REMOVAL]);
    s.get("/me").bearer(&token).send().await.assert_error(401, "InvalidSessionError");
    s.get("/me").cookie("session", &cookie).send().await.assert_error(401, "MissingSessionError");
}

#[tokio::test]
async fn logout_everywhere_revokes_every_session_of_the_user_and_no_other() {
    // Its own server: it revokes every session of a user, which other tests log in as.
    let s = Server::start();
    let (token_1, cookie_1) = s.login(ALICE).await;
    let (token_2, _) = s.login(ALICE).await;
    let (bob_token, _) = s.login(BOB).await;
    let foreign =
        forger().kid(None).forge(&json!({"userId": "u1", "role": "admin", "iat": now() - 5, "exp": now() + 600}));
    assert_eq!(s.get("/me").bearer(&foreign).send().await.status(), 200);

    let resp = s.post("/logout/all").bearer(&token_2).send().await;
    assert_eq!(resp.status(), 204, "{}", resp.text());
    assert_eq!(resp.header_all("set-cookie"), [REMOVAL]);
    assert_eq!(resp.header("cache-control"), Some("no-store"));
    for token in [&token_1, &token_2, &foreign] {
        s.get("/me").bearer(token).send().await.assert_error(401, "InvalidSessionError");
    }
    s.get("/me").cookie("session", &cookie_1).send().await.assert_error(401, "MissingSessionError");
    assert_eq!(s.get("/me").bearer(&bob_token).send().await.status(), 200, "another user is untouched");

    // A login a second later works (the cut-off is in whole seconds).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (fresh, fresh_cookie) = s.login(ALICE).await;
    assert_eq!(s.get("/me").bearer(&fresh).send().await.status(), 200);
    assert_eq!(s.get("/me").cookie("session", &fresh_cookie).send().await.status(), 200);
    s.post("/logout/all").send().await.assert_error(401, "MissingSessionError");
}

#[tokio::test]
async fn a_cookie_with_a_foreign_jti_is_refreshed_without_a_server_error() {
    let s = shared();
    let long = "x".repeat(129);
    for jti in [json!("urn:x"), json!(""), json!(long), json!(7), json!({"a": 1})] {
        let iat = now() - 16 * DAY;
        let token =
            forger().forge(&json!({"userId": "u2", "role": "user", "iat": iat, "exp": iat + 30 * DAY, "jti": jti}));
        for path in ["/me", "/health"] {
            let resp = s.get(path).cookie("session", &token).send().await;
            assert_eq!(resp.status(), 200, "{jti} {path}: {}", resp.text());
        }
        let resp = s.get("/me").cookie("session", &token).send().await;
        let refreshed = resp.set_cookie_value("session").expect("refreshed");
        // The lineage holds: logging out with the refresh revokes the original.
        assert_eq!(s.post("/logout").cookie("session", &refreshed).send().await.status(), 204);
        s.get("/me").cookie("session", &token).send().await.assert_error(401, "MissingSessionError");
    }
}

#[tokio::test]
async fn a_duplicate_bad_cookie_does_not_hide_or_delete_the_good_one() {
    let s = shared();
    let (_, cookie) = s.login(BOB).await;
    let resp = s.get("/me").header("cookie", &format!("session=garbage; session={cookie}")).send().await;
    assert_eq!(resp.status(), 200, "{}", resp.text());
    assert!(resp.header_all("set-cookie").is_empty(), "no removal of the good cookie");
}

#[tokio::test]
async fn a_logged_out_foreign_token_without_jti_is_revoked() {
    let s = shared();
    let token = forger().kid(None).forge(&json!({"userId": "u2", "role": "user", "iat": now(), "exp": now() + 600}));
    assert_eq!(s.get("/me").bearer(&token).send().await.status(), 200);
    assert_eq!(s.post("/logout").bearer(&token).send().await.status(), 204);
    s.get("/me").bearer(&token).send().await.assert_error(401, "InvalidSessionError");
}

#[tokio::test]
async fn logout_revokes_the_refreshed_cookies_of_the_session() {
    let s = shared();
    let original = forger().aged_token(&session("u2", "user"), 16 * DAY, 30 * DAY);
    let resp = s.get("/me").cookie("session", &original).send().await;
    assert_eq!(resp.status(), 200, "{}", resp.text());
    let refreshed = resp.set_cookie_value("session").expect("refreshed cookie");
    assert_eq!(session_id(&refreshed), session_id(&original));
    assert_eq!(s.get("/me").cookie("session", &refreshed).send().await.status(), 200);

    // Logging out with the original revokes the session: the refreshed cookie fails too.
    let resp = s.post("/logout").cookie("session", &original).send().await;
    assert_eq!(resp.status(), 204, "{}", resp.text());
    for cookie in [&original, &refreshed] {
        let resp = s.get("/me").cookie("session", cookie).send().await;
        resp.assert_error(401, "MissingSessionError");
        assert_eq!(resp.header_all("set-cookie"), [REMOVAL]);
    }
}

#[tokio::test]
async fn logout_with_a_refreshed_cookie_revokes_the_original() {
    let s = shared();
    let original = forger().aged_token(&session("u1", "admin"), 20 * DAY, 30 * DAY);
    let refreshed =
        s.get("/me").cookie("session", &original).send().await.set_cookie_value("session").expect("refreshed cookie");
    assert_eq!(s.post("/logout").cookie("session", &refreshed).send().await.status(), 204);
    for cookie in [&original, &refreshed] {
        s.get("/me").cookie("session", cookie).send().await.assert_error(401, "MissingSessionError");
    }
}

#[tokio::test]
async fn a_failed_logout_revokes_nothing() {
    let s = shared();
    let (_, cookie) = s.login(BOB).await;
    // Refused before the function runs (CSRF): the session lives on.
    let resp = s.post("/logout").cookie("session", &cookie).header("sec-fetch-site", "cross-site").send().await;
    assert_eq!(resp.status(), 403);
    assert_eq!(s.get("/me").cookie("session", &cookie).send().await.status(), 200);
}
