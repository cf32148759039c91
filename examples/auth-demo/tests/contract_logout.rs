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
    let resp = s.send(Req::post("/logout").cookie(&cookie)).await;
    assert_eq!(resp.status, 204, "{}", resp.text());
    assert!(resp.body.is_empty(), "{}", resp.text());
    assert_eq!(resp.set_cookies(), [REMOVAL]);
    assert!(resp.header("x-request-id").is_some());
}

#[tokio::test]
async fn a_logged_out_cookie_is_refused_and_removed_while_another_login_still_works() {
    let s = shared();
    let (other_token, other_cookie) = s.login(ALICE).await;
    let (_, cookie) = s.login(ALICE).await;
    assert_eq!(s.send(Req::post("/logout").cookie(&cookie)).await.status, 204);

    let resp = s.send(Req::get("/me").cookie(&cookie)).await;
    resp.assert_error(401, "MissingSessionError");
    assert_eq!(resp.set_cookies(), [REMOVAL], "the revoked cookie is removed");
    // Logging out again with it: no session.
    s.send(Req::post("/logout").cookie(&cookie)).await.assert_error(401, "MissingSessionError");

    for req in [Req::get("/me").cookie(&other_cookie), Req::get("/me").bearer(&other_token)] {
        let resp = s.send(req).await;
        assert_eq!(resp.status, 200, "{}", resp.text());
        assert_eq!(resp.json(), json!({"userId": "u1", "role": "admin"}));
    }
    // A fresh login of the same user works too.
    let (_, again) = s.login(ALICE).await;
    assert_eq!(s.send(Req::get("/me").cookie(&again)).await.status, 200);
}

#[tokio::test]
async fn a_logged_out_bearer_token_is_401_invalid_session() {
    let s = shared();
    let (token, cookie) = s.login(BOB).await;
    let (other, _) = s.login(BOB).await;
    let resp = s.send(Req::post("/logout").bearer(&token)).await;
    assert_eq!(resp.status, 204, "{}", resp.text());

    let resp = s.send(Req::get("/me").bearer(&token)).await;
    resp.assert_error(401, "InvalidSessionError");
    assert_eq!(resp.header("www-authenticate"), Some("Bearer error=\"invalid_token\""));
    s.send(Req::post("/logout").bearer(&token)).await.assert_error(401, "InvalidSessionError");

    // Other sessions of bob are untouched: another login's token, and the first login's cookie.
    assert_eq!(s.send(Req::get("/me").bearer(&other)).await.status, 200);
    assert_eq!(s.send(Req::get("/me").cookie(&cookie)).await.status, 200);
}

#[tokio::test]
async fn a_logged_out_foreign_token_without_jti_is_revoked() {
    let s = shared();
    let token = sign(None, &json!({"userId": "u2", "role": "user", "iat": now(), "exp": now() + 600}));
    assert_eq!(s.send(Req::get("/me").bearer(&token)).await.status, 200);
    assert_eq!(s.send(Req::post("/logout").bearer(&token)).await.status, 204);
    s.send(Req::get("/me").bearer(&token)).await.assert_error(401, "InvalidSessionError");
}

#[tokio::test]
async fn logout_revokes_the_refreshed_cookies_of_the_session() {
    let s = shared();
    let original = aged_token("u2", "user", 16 * DAY, 30 * DAY);
    let resp = s.send(Req::get("/me").cookie(&original)).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let refreshed = resp.session_cookie().expect("refreshed cookie");
    assert_eq!(session_id(&refreshed), session_id(&original));
    assert_eq!(s.send(Req::get("/me").cookie(&refreshed)).await.status, 200);

    // Logging out with the original revokes the session: the refreshed cookie fails too.
    let resp = s.send(Req::post("/logout").cookie(&original)).await;
    assert_eq!(resp.status, 204, "{}", resp.text());
    for cookie in [&original, &refreshed] {
        let resp = s.send(Req::get("/me").cookie(cookie)).await;
        resp.assert_error(401, "MissingSessionError");
        assert_eq!(resp.set_cookies(), [REMOVAL]);
    }
}

#[tokio::test]
async fn logout_with_a_refreshed_cookie_revokes_the_original() {
    let s = shared();
    let original = aged_token("u1", "admin", 20 * DAY, 30 * DAY);
    let refreshed = s.send(Req::get("/me").cookie(&original)).await.session_cookie().expect("refreshed cookie");
    assert_eq!(s.send(Req::post("/logout").cookie(&refreshed)).await.status, 204);
    for cookie in [&original, &refreshed] {
        s.send(Req::get("/me").cookie(cookie)).await.assert_error(401, "MissingSessionError");
    }
}

#[tokio::test]
async fn a_failed_logout_revokes_nothing() {
    let s = shared();
    let (_, cookie) = s.login(BOB).await;
    // Refused before the function runs (CSRF): the session lives on.
    let resp = s.send(Req::post("/logout").cookie(&cookie).header("sec-fetch-site", "cross-site")).await;
    assert_eq!(resp.status, 403);
    assert_eq!(s.send(Req::get("/me").cookie(&cookie)).await.status, 200);
}
