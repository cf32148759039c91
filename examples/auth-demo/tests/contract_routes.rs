//! The demo's routes, over real HTTP (docs/auth-demo.md: Routes, Errors, Users and keys).

mod support;

use pikku::Method;
use serde_json::json;
use support::*;

fn note_path(user: &str) -> String {
    format!("/users/{user}/notes")
}

/// A user id no other test writes notes for (alice, an admin, may write to any).
fn fresh_user(tag: &str) -> String {
    format!("{tag}-{:x}", rand::random::<u64>())
}

#[tokio::test]
async fn health_is_public_and_answers_ok_true() {
    let s = shared();
    let resp = s.get("/health").send().await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json_value(), json!({"ok": true}));
    assert!(resp.header("content-type").unwrap().starts_with("application/json"));
}

#[tokio::test]
async fn login_returns_a_token_and_sets_the_session_cookie_with_every_attribute() {
    let s = shared();
    let before = now();
    let resp = s.post("/login").json(&json!({"email": ALICE.0, "password": ALICE.1})).send().await;
    assert_eq!(resp.status(), 200, "{}", resp.text());
    let body = resp.json_value();
    let token = body["token"].as_str().expect("token");
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");

    let cookies = resp.header_all("set-cookie");
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let attrs: Vec<&str> = cookies[0].split("; ").collect();
    assert_eq!(attrs.len(), 7, "{cookies:?}");
    let jwt = attrs[0].strip_prefix("session=").expect("session cookie");
    assert_eq!(jwt.split('.').count(), 3);
    assert_ne!(jwt, token, "the cookie carries its own 30-day token");
    assert_eq!(&attrs[1..6], ["HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age=2592000"]);
    assert!(attrs[6].starts_with("Expires="), "{cookies:?}");
    let expires = resp.set_cookie("session").and_then(|c| c.expires_datetime()).expect("Expires").unix_timestamp();
    let after = now();
    assert!(
        (before + 2_592_000 - 2..=after + 2_592_000 + 2).contains(&expires),
        "Expires {} is not 30 days ahead",
        attrs[6]
    );

    // The cookie token is a valid session of alice lasting 30 days.
    let (_, payload) = token_parts(jwt);
    assert_eq!(payload["exp"].as_i64().unwrap() - payload["iat"].as_i64().unwrap(), 2_592_000);
    let me = s.get("/me").cookie("session", jwt).send().await;
    assert_eq!(me.json_value(), json!({"userId": "u1", "role": "admin"}));
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_401() {
    let s = shared();
    let wrong_password = s.post("/login").json(&json!({"email": ALICE.0, "password": BOB.1})).send().await;
    let unknown_email = s.post("/login").json(&json!({"email": "carol@example.com", "password": ALICE.1})).send().await;
    let a = wrong_password.assert_error(401, "UnauthorizedError");
    let b = unknown_email.assert_error(401, "UnauthorizedError");
    assert_eq!(a["message"], b["message"]);
    assert!(wrong_password.set_cookies().is_empty() && unknown_email.set_cookies().is_empty());
    let message = a["message"].as_str().unwrap().to_ascii_lowercase();
    assert!(message.contains("email") && message.contains("password"), "{message}");
}

#[tokio::test]
async fn token_is_hs256_with_kid_primary_and_payload_userid_role_iat_exp_jti() {
    let s = shared();
    let (token, cookie) = s.login(BOB).await;
    for t in [&token, &cookie] {
        let (header, payload) = token_parts(t);
        assert_eq!(header["alg"], "HS256");
        assert_eq!(header["kid"], "primary");
        let mut keys: Vec<&str> = payload.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["exp", "iat", "jti", "role", "userId"], "{payload}");
        assert_eq!(payload["userId"], "u2");
        assert_eq!(payload["role"], "user");
        assert!((payload["iat"].as_i64().unwrap() - now()).abs() <= 5);
        let jti = payload["jti"].as_str().unwrap();
        let (sid, nonce) = jti.split_once('.').expect("jti is <session>.<nonce>");
        assert_eq!((sid.len(), nonce.len()), (22, 12), "{jti}");
        assert!(jti.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)), "{jti}");
    }
    // Two logins in the same second differ.
    let (again, _) = s.login(BOB).await;
    assert_ne!(again, token);
    assert_ne!(token_parts(&again).1["jti"], token_parts(&token).1["jti"]);
}

#[tokio::test]
async fn bearer_token_from_login_lives_one_hour() {
    let s = shared();
    let (token, _) = s.login(ALICE).await;
    let (_, payload) = token_parts(&token);
    assert_eq!(payload["exp"].as_i64().unwrap() - payload["iat"].as_i64().unwrap(), 3600);
}

#[tokio::test]
async fn me_returns_the_session_for_bearer_cookie_api_key_header_and_query() {
    let s = shared();
    let (token, cookie) = s.login(BOB).await;
    let bob = json!({"userId": "u2", "role": "user"});
    let svc = json!({"userId": "svc", "role": "user"});
    let cases = [
        (s.get("/me").bearer(&token), &bob),
        (s.get("/me").header("authorization", &format!("bEaReR {token}")), &bob),
        (s.get("/me").cookie("session", &cookie), &bob),
        (s.get("/me").header("cookie", &format!("theme=dark; session={cookie}; lang=fi")), &bob),
        (s.get("/me").header("x-api-key", API_KEY), &svc),
        (s.get("/me?apiKey=test-key-1"), &svc),
    ];
    for (req, expected) in cases {
        let what = format!("{req:?}");
        let resp = req.send().await;
        assert_eq!(resp.status(), 200, "{what}: {}", resp.text());
        assert_eq!(&resp.json_value(), expected, "{what}");
    }
}

#[tokio::test]
async fn admin_is_200_for_alice_and_403_for_bob_and_the_api_key() {
    let s = shared();
    let (alice, _) = s.login(ALICE).await;
    let (bob, bob_cookie) = s.login(BOB).await;
    let resp = s.get("/admin").bearer(&alice).send().await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json_value(), json!({"userId": "u1", "role": "admin"}));
    s.get("/admin").bearer(&bob).send().await.assert_error(403, "ForbiddenError");
    s.get("/admin").cookie("session", &bob_cookie).send().await.assert_error(403, "ForbiddenError");
    s.get("/admin").header("x-api-key", API_KEY).send().await.assert_error(403, "ForbiddenError");
    s.get("/admin").send().await.assert_error(401, "MissingSessionError");
}

#[tokio::test]
async fn add_note_takes_userid_from_the_path_and_text_from_the_body() {
    let s = shared();
    let (bob, _) = s.login(BOB).await;
    let resp = s.post(&note_path("u2")).bearer(&bob).json(&json!({"text": "buy milk"})).send().await;
    assert_eq!(resp.status(), 200, "{}", resp.text());
    let note = resp.json_value();
    assert_eq!(note["userId"], "u2");
    assert_eq!(note["text"], "buy milk");
    assert!(note["id"].is_u64() || note["id"].is_string(), "{note}");
    let mut keys: Vec<&str> = note.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["id", "text", "userId"]);

    // The same userId in the body as in the path is no conflict.
    let resp = s.post(&note_path("u2")).bearer(&bob).json(&json!({"userId": "u2", "text": "same id"})).send().await;
    assert_eq!(resp.status(), 200, "{}", resp.text());
    assert_ne!(resp.json_value()["id"], note["id"]);
}

#[tokio::test]
async fn list_notes_is_newest_last_limited_and_defaults_to_50() {
    let s = shared();
    let (alice, _) = s.login(ALICE).await;
    let user = fresh_user("list");
    let mut ids = Vec::new();
    for i in 0..55 {
        let resp = s.post(&note_path(&user)).bearer(&alice).json(&json!({"text": format!("n{i}")})).send().await;
        assert_eq!(resp.status(), 200, "{}", resp.text());
        ids.push(resp.json_value()["id"].clone());
    }
    let list = |limit: Option<&str>| {
        let path = match limit {
            Some(l) => format!("{}?limit={l}", note_path(&user)),
            None => note_path(&user),
        };
        s.get(&path).bearer(&alice).send()
    };

    let resp = list(None).await;
    assert_eq!(resp.status(), 200, "{}", resp.text());
    let body = resp.json_value();
    assert_eq!(body["userId"], user.as_str());
    let notes = body["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 50, "default limit");
    let texts: Vec<&str> = notes.iter().map(|n| n["text"].as_str().unwrap()).collect();
    let expected: Vec<String> = (5..55).map(|i| format!("n{i}")).collect();
    assert_eq!(texts, expected, "the newest 50, newest last");
    let got_ids: Vec<_> = notes.iter().map(|n| n["id"].clone()).collect();
    assert_eq!(got_ids, ids[5..]);
    assert!(notes.iter().all(|n| n["userId"] == user.as_str()));

    let three = list(Some("3")).await.json_value();
    let texts: Vec<&str> = three["notes"].as_array().unwrap().iter().map(|n| n["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["n52", "n53", "n54"]);
    assert_eq!(list(Some("1")).await.json_value()["notes"].as_array().unwrap().len(), 1);
    assert_eq!(list(Some("500")).await.json_value()["notes"].as_array().unwrap().len(), 55);

    // A user without notes has an empty list.
    let empty = s.get(&note_path(&fresh_user("empty"))).bearer(&alice).send().await;
    assert_eq!(empty.status(), 200);
    assert_eq!(empty.json_value()["notes"], json!([]));
}

#[tokio::test]
async fn limit_out_of_range_or_not_a_number_is_422_naming_limit() {
    let s = shared();
    let (bob, _) = s.login(BOB).await;
    for limit in ["0", "501", "abc", "-1", "1.5", "99999999999"] {
        let resp = s.get(&format!("/users/u2/notes?limit={limit}")).bearer(&bob).send().await;
        assert_eq!(resp.status(), 422, "limit={limit}: {}", resp.text());
        resp.assert_invalid_field("limit");
    }
}

#[tokio::test]
async fn note_text_must_be_1_to_2000_characters() {
    let s = shared();
    let (bob, _) = s.login(BOB).await;
    let add = |text: String| s.post(&note_path("u2")).bearer(&bob).json(&json!({"text": text})).send();
    add(String::new()).await.assert_invalid_field("text");
    add("x".repeat(2001)).await.assert_invalid_field("text");
    assert_eq!(add("x".repeat(2000)).await.status(), 200);
    // Characters, not bytes: 2000 two-byte characters fit, 2001 do not.
    assert_eq!(add("é".repeat(2000)).await.status(), 200);
    add("é".repeat(2001)).await.assert_invalid_field("text");
    assert_eq!(add("x".into()).await.status(), 200);
}

#[tokio::test]
async fn owns_or_admin_guards_notes() {
    let s = shared();
    let (alice, _) = s.login(ALICE).await;
    let (bob, _) = s.login(BOB).await;
    let body = json!({"text": "hello"});
    s.post(&note_path("u1")).bearer(&bob).json(&body).send().await.assert_error(403, "ForbiddenError");
    s.get(&note_path("u1")).bearer(&bob).send().await.assert_error(403, "ForbiddenError");
    s.post(&note_path("u2")).header("x-api-key", API_KEY).json(&body).send().await.assert_error(403, "ForbiddenError");
    let resp = s.post(&note_path("u2")).bearer(&alice).json(&body).send().await;
    assert_eq!(resp.status(), 200, "{}", resp.text());
    assert_eq!(resp.json_value()["userId"], "u2");
    assert_eq!(s.get(&note_path("u2")).bearer(&alice).send().await.status(), 200);
    let svc = s.post(&note_path("svc")).header("x-api-key", API_KEY).json(&body).send().await;
    assert_eq!(svc.status(), 200, "{}", svc.text());
    s.post(&note_path("u2")).json(&body).send().await.assert_error(401, "MissingSessionError");
}

#[tokio::test]
async fn path_and_body_userid_conflict_is_422_naming_userid() {
    let s = shared();
    let (alice, _) = s.login(ALICE).await;
    let (bob, _) = s.login(BOB).await;
    let resp = s.post(&note_path("u2")).bearer(&bob).json(&json!({"userId": "u1", "text": "x"})).send().await;
    resp.assert_invalid_field("userId");
    // An admin neither: the path decides which user, the body may not disagree.
    let resp = s.post(&note_path("u1")).bearer(&alice).json(&json!({"userId": "u2", "text": "x"})).send().await;
    resp.assert_invalid_field("userId");
}

#[tokio::test]
async fn missing_mistyped_or_malformed_input_is_422_naming_the_field() {
    let s = shared();
    let (bob, _) = s.login(BOB).await;
    s.post(&note_path("u2")).bearer(&bob).json(&json!({})).send().await.assert_invalid_field("text");
    s.post(&note_path("u2")).bearer(&bob).json(&json!({"text": 5})).send().await.assert_invalid_field("text");
    s.post("/login").json(&json!({"email": ALICE.0})).send().await.assert_invalid_field("password");
    s.post("/login").json(&json!({"password": ALICE.1})).send().await.assert_invalid_field("email");
    s.post("/login").json(&json!({"email": 1, "password": ALICE.1})).send().await.assert_invalid_field("email");
    let malformed = s.post("/login").body_with_type("application/json", "{\"email\":").send().await;
    malformed.assert_error(422, "UnprocessableContentError");
    let malformed = s.post(&note_path("u2")).bearer(&bob).body_with_type("application/json", "{\"text\":").send().await;
    malformed.assert_error(422, "UnprocessableContentError");
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415() {
    let s = shared();
    let (bob, _) = s.login(BOB).await;
    let resp = s.post("/login").body_with_type("text/plain", "email=alice").send().await;
    resp.assert_error(415, "UnsupportedMediaTypeError");
    let resp = s.post(&note_path("u2")).bearer(&bob).body_with_type("text/plain", "hello").send().await;
    resp.assert_error(415, "UnsupportedMediaTypeError");
    let resp = s
        .post(&note_path("u2"))
        .bearer(&bob)
        .body_with_type("application/x-www-form-urlencoded", "text=x")
        .send()
        .await;
    resp.assert_error(415, "UnsupportedMediaTypeError");
}

#[tokio::test]
async fn a_body_over_2_mib_is_413_and_an_unauthenticated_one_is_401_first() {
    let s = shared();
    let (bob, _) = s.login(BOB).await;
    let size = 2 * 1024 * 1024 + 1;
    let mut body = b"{\"text\":\"".to_vec();
    body.resize(size - 2, b'a');
    body.extend_from_slice(b"\"}");
    let head = |auth: &str| {
        format!(
            "POST /users/u2/notes HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n{auth}Connection: close\r\n\r\n",
            s.addr()
        )
    };
    // Raw bytes: the server answers before the client has written them all.
    let raw = |head: String, body: &[u8]| s.send_raw([head.as_bytes(), body].concat());
    let resp = raw(head(&format!("Authorization: Bearer {bob}\r\n")), &body).await.expect("io").expect("a response");
    assert_eq!(resp.status(), 413, "{resp:?}");
    assert!(resp.header("x-request-id").is_some(), "{resp:?}");
    let resp = raw(head(""), &body).await.expect("io").expect("a response");
    assert_eq!(resp.status(), 401, "auth comes before the body is read: {resp:?}");

    // Chunked, without a length: the limit still applies.
    let mut chunked = Vec::new();
    for piece in body.chunks(64 * 1024) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let head = format!(
        "POST /users/u2/notes HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nAuthorization: Bearer {bob}\r\nConnection: close\r\n\r\n",
        s.addr()
    );
    let resp = raw(head, &chunked).await.expect("io").expect("a response");
    assert_eq!(resp.status(), 413, "{resp:?}");

    // Just under the limit is read (and then judged on its content: the note is too long).
    let mut under = b"{\"text\":\"".to_vec();
    under.resize(1024 * 1024, b'a');
    under.extend_from_slice(b"\"}");
    let resp = s.post(&note_path("u2")).bearer(&bob).body_with_type("application/json", under).send().await;
    resp.assert_invalid_field("text");
}

#[tokio::test]
async fn unknown_path_is_404() {
    let s = shared();
    for path in ["/nope", "/users/u1", "/users/u1/notes/extra", "/health/x"] {
        s.get(path).send().await.assert_error(404, "NotFoundError");
    }
    // Even with valid credentials.
    s.get("/nope").header("x-api-key", API_KEY).send().await.assert_error(404, "NotFoundError");
}

#[tokio::test]
async fn wrong_method_is_405_with_allow() {
    let s = shared();
    let cases = [
        (Method::DELETE, "/me", "GET"),
        (Method::GET, "/login", "POST"),
        (Method::PUT, "/health", "GET"),
        (Method::GET, "/logout", "POST"),
        (Method::DELETE, "/users/u1/notes", "GET"),
    ];
    for (method, path, allowed) in cases {
        let resp = s.request(method.clone(), path).send().await;
        resp.assert_error(405, "MethodNotAllowedError");
        let allow = resp.header("allow").unwrap_or_else(|| panic!("{method} {path}: no Allow"));
        let methods: Vec<&str> = allow.split(',').map(str::trim).collect();
        assert!(methods.contains(&allowed), "{method} {path}: Allow: {allow}");
        assert!(!methods.contains(&method.as_str()), "{method} {path}: Allow: {allow}");
    }
    let allow = s.request(Method::PATCH, "/users/u1/notes").send().await;
    let allow: Vec<String> = allow.header("allow").unwrap().split(',').map(|m| m.trim().to_owned()).collect();
    assert!(allow.contains(&"GET".to_owned()) && allow.contains(&"POST".to_owned()), "{allow:?}");
}

#[tokio::test]
async fn every_response_has_an_x_request_id_and_a_sane_client_id_is_kept() {
    let s = shared();
    let (bob, _) = s.login(BOB).await;
    let requests = [
        s.get("/health"),
        s.get("/me"),
        s.get("/me").bearer(&bob),
        s.get("/admin").bearer(&bob),
        s.get("/nope"),
        s.request(Method::DELETE, "/me"),
        s.post("/login").body_with_type("text/plain", "x"),
        s.post("/login").json(&json!({})),
        s.get("/me").bearer("garbage"),
        s.get("/me").header("x-api-key", "nope"),
    ];
    let mut seen = std::collections::HashSet::new();
    for req in requests {
        let what = format!("{} {}", req.method(), req.uri());
        let resp = req.clone().send().await;
        let id = resp.header("x-request-id").unwrap_or_else(|| panic!("{what}: no x-request-id")).to_owned();
        assert!(!id.is_empty());
        assert!(seen.insert(id.clone()), "{what}: request id {id} repeated");
        if resp.status().is_client_error() {
            assert_eq!(resp.json_value()["errorId"], id.as_str(), "{what}: errorId is the request id");
        }

        let own = format!("client-{:x}", rand::random::<u64>());
        let resp = req.header("x-request-id", &own).send().await;
        assert_eq!(resp.header("x-request-id"), Some(own.as_str()), "{what}: the client's id is kept");
    }
    for insane in ["has spaces in it", &"x".repeat(1000), "tab\there"] {
        let resp = s.get("/health").header("x-request-id", insane).send().await;
        let id = resp.header("x-request-id").expect("x-request-id");
        assert_ne!(id, insane, "an insane id is replaced");
        assert!(!id.is_empty());
    }
}

#[tokio::test]
async fn token_and_session_responses_are_not_cached() {
    let s = shared();
    let resp = s.post("/login").json(&serde_json::json!({"email": BOB.0, "password": BOB.1})).send().await;
    assert_eq!(resp.status(), 200, "{}", resp.text());
    assert_eq!(resp.header("cache-control"), Some("no-store"), "a token and a cookie");
    let (token, cookie) = s.login(BOB).await;
    for req in [s.get("/me").bearer(&token), s.get("/me").cookie("session", &cookie), s.get("/admin").bearer(&token)] {
        let resp = req.send().await;
        assert_eq!(resp.header("cache-control"), Some("no-store"), "{}", resp.text());
    }
    // A removal of a bad cookie, on a public route.
    let resp = s.get("/health").cookie("session", "garbage").send().await;
    assert_eq!(resp.header("cache-control"), Some("no-store"));
    // Nothing personal: no opinion.
    assert_eq!(s.get("/health").send().await.header("cache-control"), None);
}
