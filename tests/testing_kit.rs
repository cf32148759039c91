//! The test kit as an application's tests use it (docs/testing.md): every method on both clients, the API-key
//! helpers, the cookie jar across login and logout in-process and over a socket, and logs captured from a
//! request. Written with `pikku::testing::prelude` and `block_on` only, as the docs teach: no `tokio`,
//! `http` or `serde_json` import.

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use std::time::Duration;

use pikku::auth::{
    auth_api_key, auth_cookie, ApiKeyOptions, ApiKeySource, AuthServices, CookieOptions, JwtService, StaticApiKeys,
};
use pikku::testing::prelude::*;
use serde::{Deserialize, Serialize};

const SECRET: &[u8] = b"a-test-secret-of-at-least-32-bytes!!";
const API_KEY: &str = "ci-bot key/1";

pub struct Services {
    jwt: JwtService,
}

impl AuthServices for Services {
    fn jwt(&self) -> &JwtService {
        &self.jwt
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    user_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Login {
    user_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Seen {
    method: &'static str,
    user_id: String,
}

#[pikku_func(auth = false)]
pub(crate) async fn login(_s: &Services, data: Login, ctx: &OptionalContext<Session>) -> Result<(), PikkuError> {
    ctx.set_session(Session { user_id: data.user_id });
    Ok(())
}

#[pikku_func]
pub(crate) async fn logout(_s: &Services, _data: (), ctx: &Context<Session>) -> Result<(), PikkuError> {
    ctx.clear_session();
    Ok(())
}

#[pikku_func]
pub(crate) async fn me(_s: &Services, _data: (), ctx: &Context<Session>) -> Result<Session, PikkuError> {
    tracing::warn!(user_id = %ctx.session().user_id, "me was asked");
    Ok(ctx.session().clone())
}

macro_rules! seen {
    ($name:ident, $method:literal) => {
        #[pikku_func]
        pub(crate) async fn $name(_s: &Services, _data: (), ctx: &Context<Session>) -> Result<Seen, PikkuError> {
            Ok(Seen { method: $method, user_id: ctx.session().user_id.clone() })
        }
    };
}
seen!(seen_get, "GET");
seen!(seen_post, "POST");
seen!(seen_put, "PUT");
seen!(seen_patch, "PATCH");
seen!(seen_delete, "DELETE");

#[pikku_wiring]
fn http(w: &mut Wirings<Services, Session>) {
    let keys = StaticApiKeys::new([(API_KEY, Session { user_id: "ci-bot".into() })]);
    w.add_http_middleware(
        "*",
        [
            auth_cookie(CookieOptions::new("session", Duration::from_secs(3600))),
            auth_api_key(ApiKeyOptions::new(ApiKeySource::All).lookup(keys)),
        ],
    );
    w.post("/login", login);
    w.post("/logout", logout);
    w.get("/me", me);
    w.get("/things", seen_get);
    w.post("/things", seen_post);
    w.put("/things", seen_put);
    w.patch("/things", seen_patch);
    w.delete("/things", seen_delete);
}

fn server() -> pikku::Server<Services, Session> {
    let jwt = JwtService::hs256(SECRET).expect("a valid secret");
    App::<Services, Session>::new().build(Services { jwt }).expect("the application starts")
}

/// Logs in through `client`, checks the jar took the cookie, reads `/me`, logs out, checks the jar let it go.
async fn login_me_logout<T: pikku::testing::Transport + Sync>(client: &CookieClient<'_, T>) {
    client.post("/login").json(&json!({"userId": "ada"})).send().await.assert_status(204);
    assert!(client.jar().contains("session"), "the login's Set-Cookie is in the jar: {:?}", client.jar());
    client.get("/me").send().await.assert_status(200).assert_json(&json!({"userId": "ada"}));

    client.post("/logout").send().await.assert_status(204);
    assert!(!client.jar().contains("session"), "Max-Age=0 took it out: {:?}", client.jar());
    client.get("/me").send().await.assert_error(401, "MissingSessionError");
}

#[test]
fn the_cookie_jar_follows_login_and_logout_in_process() {
    block_on(async {
        let client = TestClient::new(server());
        login_me_logout(&client.with_cookies()).await;
    });
}

#[test]
fn the_cookie_jar_follows_login_and_logout_over_a_socket_and_sends_secure_cookies_over_plain_http() {
    block_on(async {
        let app = TestServer::start(server()).await;
        let browser = app.with_cookies();
        let login = browser.post("/login").json(&json!({"userId": "ada"})).send().await;
        let cookie = login.set_cookie("session").expect("a session cookie");
        assert_eq!(cookie.secure(), Some(true), "the default cookie is Secure, and the kit sends it anyway");
        browser.get("/me").send().await.assert_status(200);
        browser.jar().clear();
        login_me_logout(&browser).await;
    });
}

#[test]
fn a_shared_jar_carries_a_login_from_one_transport_to_another() {
    block_on(async {
        let server = server();
        let in_process = TestClient::new(server.clone());
        let app = TestServer::start(server).await;
        let jar = CookieJar::new();
        CookieClient::with_jar(&in_process, jar.clone())
            .post("/login")
            .json(&json!({"userId": "ada"}))
            .send()
            .await
            .assert_status(204);
        let over_http = CookieClient::with_jar(&app, jar);
        over_http.get("/me").send().await.assert_status(200).assert_json(&json!({"userId": "ada"}));
    });
}

#[test]
fn a_cookie_set_on_the_request_goes_first_and_hides_the_jar_cookie_of_its_name() {
    block_on(async {
        let client = TestClient::new(server());
        let browser = client.with_cookies();
        browser.post("/login").json(&json!({"userId": "ada"})).send().await.assert_status(204);
        let response = browser.get("/me").cookie("session", "forged").send().await;
        // An invalid cookie counts as none, and the strategy removes it: the jar follows.
        response.assert_error(401, "MissingSessionError");
        assert!(!browser.jar().contains("session"), "{:?}", browser.jar());
    });
}

#[test]
fn every_method_helper_reaches_its_route_on_both_clients() {
    block_on(async {
        let server = server();
        let in_process = TestClient::new(server.clone());
        let app = TestServer::start(server).await;
        let methods = [
            (Method::GET, "GET"),
            (Method::POST, "POST"),
            (Method::PUT, "PUT"),
            (Method::PATCH, "PATCH"),
            (Method::DELETE, "DELETE"),
        ];
        for (method, name) in methods {
            let expected = json!({"method": name, "userId": "ci-bot"});
            let a = match name {
                "GET" => in_process.get("/things"),
                "POST" => in_process.post("/things"),
                "PUT" => in_process.put("/things"),
                "PATCH" => in_process.patch("/things"),
                _ => in_process.delete("/things"),
            };
            a.api_key(API_KEY).send().await.assert_status(200).assert_json(&expected);
            let b = match name {
                "GET" => app.get("/things"),
                "POST" => app.post("/things"),
                "PUT" => app.put("/things"),
                "PATCH" => app.patch("/things"),
                _ => app.delete("/things"),
            };
            b.api_key(API_KEY).send().await.assert_status(200).assert_json(&expected);
            app.request(method, "/things").api_key(API_KEY).send().await.assert_status(StatusCode::OK.as_u16());
        }
    });
}

#[test]
fn the_api_key_helpers_use_the_header_and_the_query_auth_api_key_reads() {
    block_on(async {
        let client = TestClient::new(server());
        let expected = json!({"userId": "ci-bot"});
        client.get("/me").api_key(API_KEY).send().await.assert_status(200).assert_json(&expected);
        // The key has a space and a slash: encoded in the query, decoded by the strategy.
        client.get("/me").api_key_in_query(API_KEY).send().await.assert_status(200).assert_json(&expected);
        client.get("/me?x=1").api_key_in_query(API_KEY).send().await.assert_status(200);
        client.get("/me").api_key("wrong").send().await.assert_status(401);
        client.get("/me").api_key_in_query("wrong").send().await.assert_status(401);
    });
}

#[test]
fn a_log_capture_sees_the_function_and_the_pipeline_in_process_and_over_a_socket() {
    block_on(async {
        let server = server();
        let logs = LogCapture::start();
        let client = TestClient::new(server.clone());
        client.get("/me").api_key(API_KEY).header("x-request-id", "in-process-1").send().await.assert_status(200);
        let line = logs.assert_logged_all(&["WARN", "me was asked", "user_id=ci-bot"]);
        assert!(line.contains("in-process-1"), "the request's span names its id: {line}");

        let app = TestServer::start(server).await;
        app.get("/me").api_key(API_KEY).header("x-request-id", "socket-1").send().await.assert_status(200);
        logs.assert_logged_all(&["me was asked", "socket-1"]);
        logs.assert_not_logged(API_KEY);
    });
}
