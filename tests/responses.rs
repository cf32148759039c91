//! Response control over a real socket (docs/functions.md, "Status and headers"): `Reply` with 201 and
//! `Location`, custom headers, redirects and 204 / 304 without a body, a stream with headers, an invalid
//! header value from user data as a 500 that costs only its request, the session write-back and
//! `Cache-Control: no-store` on replies, and the JSON error shape left as it was.

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use std::time::Duration;

use pikku::auth::{auth_cookie, AuthServices, CookieOptions, JwtService};
use pikku::header::{CACHE_CONTROL, ETAG};
use pikku::prelude::*;
use pikku::testing::{TestResponse, TestServer};
use pikku::{Event, EventStream};
use serde::{Deserialize, Serialize};
use serde_json::json;

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

#[derive(Debug, Serialize, Deserialize)]
pub struct Item {
    id: u32,
    name: String,
}

#[derive(Deserialize)]
pub struct NewItem {
    name: String,
}

#[pikku_func(auth = false)]
async fn create_item(_: &Services, data: NewItem, _: &OptionalContext<Session>) -> Result<Reply<Item>, PikkuError> {
    if data.name.is_empty() {
        return Err(PikkuError::invalid_field("name", "`name` must not be empty"));
    }
    let item = Item { id: 7, name: data.name };
    Ok(Reply::created(format!("/items/{}", item.id), item))
}

#[pikku_func(auth = false)]
async fn tagged(_: &Services, _: (), _: &OptionalContext<Session>) -> Result<Reply<Item>, PikkuError> {
    Ok(Reply::new(Item { id: 1, name: "tagged".into() }).header("x-custom", "yes").header(ETAG, "\"v1\""))
}

#[derive(Deserialize)]
pub struct Kind {
    kind: String,
}

#[pikku_func(auth = false)]
async fn go(_: &Services, data: Kind, _: &OptionalContext<Session>) -> Result<Reply, PikkuError> {
    Ok(match data.kind.as_str() {
        "see-other" => Reply::redirect("/items/7"),
        "temporary" => Reply::temporary_redirect("/items/7"),
        "permanent" => Reply::permanent_redirect("/items/7"),
        _ => return Err(PikkuError::not_found("no such kind")),
    })
}

#[derive(Deserialize)]
pub struct ItemId {
    id: String,
}

#[pikku_func(auth = false)]
async fn delete_item(_: &Services, item: ItemId, _: &OptionalContext<Session>) -> Result<Reply, PikkuError> {
    Ok(Reply::no_content().header("x-deleted", item.id))
}

/// A value with a 204: the value is not sent.
#[pikku_func(auth = false)]
async fn quiet_item(_: &Services, _: (), _: &OptionalContext<Session>) -> Result<Reply<Item>, PikkuError> {
    Ok(Reply::new(Item { id: 1, name: "never sent".into() }).status(StatusCode::NO_CONTENT))
}

/// A conditional GET: `If-None-Match` read from the request, 304 without a body when it matches.
#[pikku_func(auth = false)]
async fn cached_item(_: &Services, _: (), ctx: &OptionalContext<Session>) -> Result<Reply<Item>, PikkuError> {
    let reply = Reply::new(Item { id: 1, name: "cached".into() }).header(ETAG, "\"v1\"");
    Ok(if ctx.header("if-none-match") == Some("\"v1\"") { reply.status(StatusCode::NOT_MODIFIED) } else { reply })
}

#[derive(Deserialize)]
pub struct Target {
    to: String,
}

/// Redirects to a location from user data, which may hold a line break.
#[pikku_func(auth = false)]
async fn echo_redirect(_: &Services, data: Target, _: &OptionalContext<Session>) -> Result<Reply, PikkuError> {
    Ok(Reply::redirect(data.to))
}

#[pikku_func(auth = false)]
async fn conflict(_: &Services, _: (), _: &OptionalContext<Session>) -> Result<Reply<Item>, PikkuError> {
    Err(PikkuError::conflict("item exists"))
}

#[pikku_func(auth = false)]
async fn events(_: &Services, _: (), _: &OptionalContext<Session>) -> Result<Reply<EventStream>, PikkuError> {
    let events = futures_util::stream::iter([Event::new().data("one"), Event::new().data("two")]);
    Ok(Reply::new(EventStream::new(events)).header("x-stream", "1").status(StatusCode::ACCEPTED))
}

/// A form login: sets the session and answers 303 to the profile.
#[pikku_func(auth = false)]
async fn login_redirect(_: &Services, _: (), ctx: &OptionalContext<Session>) -> Result<Reply, PikkuError> {
    ctx.set_session(Session { user_id: "ada".into() });
    Ok(Reply::redirect("/me"))
}

/// A sign-up: sets the session and answers 201.
#[pikku_func(auth = false)]
async fn signup(_: &Services, _: (), ctx: &OptionalContext<Session>) -> Result<Reply<Session>, PikkuError> {
    let session = Session { user_id: "bob".into() };
    ctx.set_session(session.clone());
    Ok(Reply::created("/users/bob", session))
}

/// Sets a session, then answers with an error status through a reply: the session is not written.
#[pikku_func(auth = false)]
async fn login_refused(_: &Services, _: (), ctx: &OptionalContext<Session>) -> Result<Reply, PikkuError> {
    ctx.set_session(Session { user_id: "eve".into() });
    Ok(Reply::new(()).status(StatusCode::BAD_REQUEST))
}

#[pikku_func]
async fn me(_: &Services, _: (), ctx: &Context<Session>) -> Result<Session, PikkuError> {
    Ok(ctx.session().clone())
}

/// An authenticated response that chooses its own caching.
#[pikku_func]
async fn me_private(_: &Services, _: (), ctx: &Context<Session>) -> Result<Reply<Session>, PikkuError> {
    Ok(Reply::new(ctx.session().clone()).header(CACHE_CONTROL, "private, max-age=60"))
}

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    w.add_http_middleware("*", [auth_cookie(CookieOptions::new("session", Duration::from_secs(3600)))]);
    w.post("/items", create_item);
    w.get("/tagged", tagged);
    w.get("/go/:kind", go);
    w.delete("/items/:id", delete_item);
    w.get("/quiet", quiet_item);
    w.get("/cached", cached_item);
    w.get("/echo-redirect", echo_redirect);
    w.get("/conflict", conflict);
    w.get("/events", events);
    w.post("/login", login_redirect);
    w.post("/signup", signup);
    w.post("/login-refused", login_refused);
    w.get("/me", me);
    w.get("/me/private", me_private);
}

async fn server() -> TestServer {
    let services = Services { jwt: JwtService::hs256([9u8; 32]).unwrap() };
    TestServer::start(App::<Services, Session>::new().build(services).expect("the application starts")).await
}

fn assert_no_body(response: &TestResponse) {
    assert!(response.bytes().is_empty(), "{}: {:?}", response.status(), response.bytes());
    assert_eq!(response.header("content-type"), None);
}

#[tokio::test]
async fn create_answers_201_with_location_and_the_json_body() {
    let app = server().await;
    let response = app.post("/items").json(&json!({"name": "pen"})).send().await;
    response.assert_status(201);
    assert_eq!(response.header("location"), Some("/items/7"));
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(response.json_value(), json!({"id": 7, "name": "pen"}));
    assert!(response.header("x-request-id").is_some());
}

#[tokio::test]
async fn errors_keep_their_json_shape_whatever_the_output_type() {
    let app = server().await;
    app.post("/items").json(&json!({"name": ""})).send().await.assert_invalid_field("name");
    let body = app.get("/conflict").header("x-request-id", "req-9").send().await.assert_error(409, "ConflictError");
    assert_eq!(body, json!({"name": "ConflictError", "message": "item exists", "errorId": "req-9"}));
}

#[tokio::test]
async fn custom_headers_go_with_a_200_json_body() {
    let app = server().await;
    let response = app.get("/tagged").send().await;
    response.assert_status(200);
    assert_eq!(response.header("x-custom"), Some("yes"));
    assert_eq!(response.header("etag"), Some("\"v1\""));
    assert_eq!(response.json_value(), json!({"id": 1, "name": "tagged"}));
}

#[tokio::test]
async fn redirects_answer_their_status_with_location_and_no_body() {
    let app = server().await;
    for (kind, status) in [("see-other", 303), ("temporary", 307), ("permanent", 308)] {
        let response = app.get(&format!("/go/{kind}")).send().await;
        response.assert_status(status);
        assert_eq!(response.header("location"), Some("/items/7"), "{kind}");
        assert_no_body(&response);
    }
}

#[tokio::test]
async fn no_content_and_not_modified_carry_no_body() {
    let app = server().await;
    let response = app.delete("/items/7").send().await;
    response.assert_status(204);
    assert_eq!(response.header("x-deleted"), Some("7"));
    assert_no_body(&response);

    let response = app.get("/quiet").send().await;
    response.assert_status(204);
    assert_no_body(&response);

    let fresh = app.get("/cached").send().await;
    fresh.assert_status(200);
    assert_eq!(fresh.json_value()["name"], "cached");
    let response = app.get("/cached").header("if-none-match", "\"v1\"").send().await;
    response.assert_status(304);
    assert_eq!(response.header("etag"), Some("\"v1\""));
    assert_no_body(&response);
}

#[tokio::test]
async fn an_invalid_header_value_from_user_data_is_a_500_for_that_request_only() {
    let app = server().await;
    let body = app
        .get("/echo-redirect?to=%2Fa%0D%0ASet-Cookie%3A%20evil%3D1")
        .send()
        .await
        .assert_error(500, "InternalServerError");
    assert_eq!(body["message"], "The server could not complete the request");
    assert!(!body.to_string().contains("evil"), "{body}");
    // The server is fine, and a valid value from the same function works.
    let response = app.get("/echo-redirect?to=%2Fitems%2F7").send().await;
    response.assert_status(303);
    assert_eq!(response.header("location"), Some("/items/7"));
}

#[tokio::test]
async fn a_stream_in_a_reply_keeps_its_body_and_takes_the_status_and_headers() {
    let app = server().await;
    let response = app.get("/events").send().await;
    response.assert_status(202);
    assert_eq!(response.header("x-stream"), Some("1"));
    assert_eq!(response.header("content-type"), Some("text/event-stream"));
    assert_eq!(response.text(), "data: one\n\ndata: two\n\n");
}

#[tokio::test]
async fn a_login_that_redirects_or_creates_still_writes_the_session() {
    let app = server().await;
    let response = app.post("/login").send().await;
    response.assert_status(303);
    assert_eq!(response.header("location"), Some("/me"));
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let cookie = response.set_cookie_value("session").expect("the redirect carries the session cookie");
    let me = app.get("/me").cookie("session", &cookie).send().await;
    assert_eq!(me.assert_status(200).json_value(), json!({"userId": "ada"}));

    let response = app.post("/signup").send().await;
    response.assert_status(201);
    assert_eq!(response.header("location"), Some("/users/bob"));
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let cookie = response.set_cookie_value("session").expect("the 201 carries the session cookie");
    let me = app.get("/me").cookie("session", &cookie).send().await;
    assert_eq!(me.assert_status(200).json_value(), json!({"userId": "bob"}));
}

#[tokio::test]
async fn a_reply_with_an_error_status_writes_no_session() {
    let app = server().await;
    let response = app.post("/login-refused").send().await;
    response.assert_status(400);
    assert!(response.set_cookie_value("session").is_none(), "{:?}", response.headers());
}

#[tokio::test]
async fn session_responses_are_no_store_unless_the_function_chose_its_cache_control() {
    let app = server().await;
    let cookie = app.post("/login").send().await.set_cookie_value("session").unwrap();
    let plain = app.get("/me").cookie("session", &cookie).send().await;
    assert_eq!(plain.assert_status(200).header_all("cache-control"), ["no-store"]);
    let chosen = app.get("/me/private").cookie("session", &cookie).send().await;
    assert_eq!(chosen.assert_status(200).header_all("cache-control"), ["private, max-age=60"]);
    // Without a session, nothing is added.
    assert_eq!(app.get("/tagged").send().await.header("cache-control"), None);
}
