//! Bearer tokens and API keys, over real HTTP (docs/auth-demo.md: Credentials, Errors).

mod support;

use serde_json::json;
use support::*;

fn bob_claims() -> serde_json::Value {
    json!({"userId": "u2", "role": "user", "iat": now(), "exp": now() + 600, "jti": new_jti()})
}

/// Asserts 401 InvalidSessionError with `WWW-Authenticate: Bearer error="invalid_token"`, without the token
/// echoed back.
fn assert_invalid_token(resp: &TestResponse, what: &str, token: &str) {
    assert_eq!(resp.status(), 401, "{what}: {}", resp.text());
    resp.assert_error(401, "InvalidSessionError");
    assert_eq!(resp.header("www-authenticate"), Some("Bearer error=\"invalid_token\""), "{what}");
    assert!(resp.header("x-request-id").is_some());
    if token.len() > 8 {
        assert!(!resp.text().contains(token), "{what}: the token is echoed");
    }
}

async fn me_with_authorization(s: &Server, authorization: &str) -> TestResponse {
    s.get("/me").header("authorization", authorization).send().await
}

#[tokio::test]
async fn a_token_with_a_bad_signature_is_401_invalid_token() {
    let s = shared();
    let (token, _) = s.login(BOB).await;
    let bad = tamper(&token);
    assert_invalid_token(&me_with_authorization(&s, &format!("Bearer {bad}")).await, "tampered", &bad);
    let other_secret = TokenForger::hs256(b"another-secret-of-at-least-32-bytes!!").forge(&bob_claims());
    assert_invalid_token(&me_with_authorization(&s, &format!("Bearer {other_secret}")).await, "foreign", &other_secret);
    // A payload edited after signing (bob made admin).
    let (_, mut claims) = token_parts(&token);
    claims["role"] = json!("admin");
    let forged = replace_claims(&token, &claims);
    assert_invalid_token(&s.get("/admin").bearer(&forged).send().await, "edited payload", &forged);
}

#[tokio::test]
async fn alg_none_is_refused() {
    let s = shared();
    for header in [json!({"alg": "none", "typ": "JWT", "kid": "primary"}), json!({"alg": "none", "typ": "JWT"})] {
        let token = unsigned_token(&header, &bob_claims());
        assert_invalid_token(&me_with_authorization(&s, &format!("Bearer {token}")).await, "alg none", &token);
    }
}

#[tokio::test]
async fn hs512_with_the_same_secret_is_refused() {
    let s = shared();
    for kid in [Some("primary"), None] {
        let token = forger().kid(kid).algorithm(Algorithm::HS512).forge(&bob_claims());
        assert_invalid_token(&me_with_authorization(&s, &format!("Bearer {token}")).await, "HS512", &token);
        let token = forger().kid(kid).algorithm(Algorithm::HS384).forge(&bob_claims());
        assert_invalid_token(&me_with_authorization(&s, &format!("Bearer {token}")).await, "HS384", &token);
    }
}

#[tokio::test]
async fn expired_token_is_refused() {
    let s = shared();
    let iat = now() - 7200;
    let expired =
        forger().forge(&json!({"userId": "u2", "role": "user", "iat": iat, "exp": iat + 3600, "jti": new_jti()}));
    assert_invalid_token(&me_with_authorization(&s, &format!("Bearer {expired}")).await, "expired", &expired);
    // Expired a minute ago: beyond any small leeway.
    let just = forger().forge(&json!({"userId": "u2", "role": "user", "iat": now() - 3660, "exp": now() - 60}));
    assert_invalid_token(&me_with_authorization(&s, &format!("Bearer {just}")).await, "expired 60 s ago", &just);
}

#[tokio::test]
async fn a_token_without_exp_or_with_a_bad_exp_or_from_the_future_is_refused() {
    let s = shared();
    let cases = [
        ("no exp", json!({"userId": "u2", "role": "user", "iat": now(), "jti": new_jti()})),
        ("string exp", json!({"userId": "u2", "role": "user", "iat": now(), "exp": (now() + 600).to_string()})),
        ("iat in the future", json!({"userId": "u2", "role": "user", "iat": now() + 3600, "exp": now() + 7200})),
        ("nbf in the future", json!({"userId": "u2", "role": "user", "nbf": now() + 3600, "exp": now() + 7200})),
        ("no session", json!({"iat": now(), "exp": now() + 600, "jti": new_jti()})),
        ("wrong shape", json!({"user": "u2", "iat": now(), "exp": now() + 600})),
    ];
    for (what, claims) in cases {
        let token = forger().forge(&claims);
        assert_invalid_token(&me_with_authorization(&s, &format!("Bearer {token}")).await, what, &token);
    }
}

#[tokio::test]
async fn garbage_and_malformed_authorization_are_401_invalid_token() {
    let s = shared();
    for value in
        ["Bearer garbage", "Bearer a.b.c", "Bearer x.y", "Bearer", "Bearer ", "Bearer  two-spaces", "Bearer tok extra"]
    {
        let resp = me_with_authorization(&s, value).await;
        assert_invalid_token(&resp, value, "");
    }
    // Even on a public route: a client that sends a broken token learns it.
    let resp = s.get("/health").header("authorization", "Bearer garbage").send().await;
    assert_invalid_token(&resp, "garbage on /health", "");
}

#[tokio::test]
async fn an_empty_bearer_token_is_401_invalid_session_with_the_challenge() {
    let s = shared();
    let resp = me_with_authorization(&s, "Bearer").await;
    let body = resp.assert_error(401, "InvalidSessionError");
    assert_eq!(resp.header("www-authenticate"), Some("Bearer error=\"invalid_token\""), "{body}");
}

#[tokio::test]
async fn another_authorization_scheme_is_no_session() {
    let s = shared();
    for value in ["Basic YWxpY2VAZXhhbXBsZS5jb206Y29ycmVjdCBob3JzZQ==", "Token abc", "Digest username=\"x\""] {
        let resp = me_with_authorization(&s, value).await;
        resp.assert_error(401, "MissingSessionError");
        assert!(resp.header("www-authenticate").is_some(), "{value}");
        // And the next strategy still runs.
        let resp = s.get("/me").header("authorization", value).header("x-api-key", API_KEY).send().await;
        assert_eq!(resp.status(), 200, "{value}: {}", resp.text());
        assert_eq!(resp.json_value()["userId"], "svc");
    }
    assert_eq!(s.get("/health").header("authorization", "Basic eDp5").send().await.status(), 200);
}

#[tokio::test]
async fn a_pikku_style_foreign_token_without_jti_is_accepted() {
    let s = shared();
    let claims = json!({"userId": "u1", "role": "admin", "iat": now(), "exp": now() + 600});
    for kid in [Some("primary"), None] {
        let token = forger().kid(kid).forge(&claims);
        let resp = s.get("/me").bearer(&token).send().await;
        assert_eq!(resp.status(), 200, "kid {kid:?}: {}", resp.text());
        assert_eq!(resp.json_value(), json!({"userId": "u1", "role": "admin"}));
        assert_eq!(s.get("/admin").bearer(&token).send().await.status(), 200);
        // As a cookie, too.
        let resp = s.get("/me").cookie("session", &token).send().await;
        assert_eq!(resp.status(), 200, "cookie, kid {kid:?}: {}", resp.text());
    }
    // Without iat as well (jose does not require it).
    let token = forger().kid(None).forge(&json!({"userId": "u2", "role": "user", "exp": now() + 600}));
    assert_eq!(s.get("/me").bearer(&token).send().await.json_value()["userId"], "u2");
}

#[tokio::test]
async fn a_token_with_an_unknown_kid_is_refused() {
    let s = shared();
    for kid in ["secondary", "", "PRIMARY"] {
        let token = forger().kid(Some(kid)).forge(&bob_claims());
        assert_invalid_token(&me_with_authorization(&s, &format!("Bearer {token}")).await, kid, &token);
    }
}

#[tokio::test]
async fn an_unknown_api_key_is_401() {
    let s = shared();
    for req in [
        s.get("/me").header("x-api-key", "test-key-2"),
        s.get("/me").header("x-api-key", "test-key-1x"),
        s.get("/me").header("x-api-key", "TEST-KEY-1"),
        s.get("/me?apiKey=nope"),
        s.get("/me?apiKey="),
        s.get("/health").header("x-api-key", "nope"),
    ] {
        let what = format!("{req:?}");
        let resp = req.send().await;
        assert_eq!(resp.status(), 401, "{what}: {}", resp.text());
        assert!(!resp.text().contains("nope"), "{what}: the key is echoed");
    }
    // The header wins over the query (source all: header first), valid or not.
    let resp = s.get("/me?apiKey=test-key-1").header("x-api-key", "bad").send().await;
    assert_eq!(resp.status(), 401);
    let resp = s.get("/me?apiKey=bad").header("x-api-key", API_KEY).send().await;
    assert_eq!(resp.status(), 200, "{}", resp.text());
}

#[tokio::test]
async fn a_route_needing_a_session_without_one_is_401_missing_session_with_www_authenticate() {
    let s = shared();
    for req in [
        s.get("/me"),
        s.get("/admin"),
        s.post("/logout"),
        s.get("/users/u1/notes"),
        s.post("/users/u1/notes").json(&json!({"text": "x"})),
    ] {
        let what = format!("{} {}", req.method(), req.uri());
        let resp = req.send().await;
        let body = resp.assert_error(401, "MissingSessionError");
        let challenge = resp.header("www-authenticate").unwrap_or_else(|| panic!("{what}: no WWW-Authenticate"));
        assert!(challenge.starts_with("Bearer"), "{what}: {challenge}");
        assert!(!challenge.contains("invalid_token"), "{what}: nothing was invalid: {challenge}");
        assert!(resp.set_cookies().is_empty(), "{what}: {body}");
    }
}
