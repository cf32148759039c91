//! The HTTP core over a real socket: routing, input, the auth gate, session write-back, errors,
//! request ids, the middleware onion, permissions, limits and graceful shutdown (docs/functions.md,
//! wirings-and-middleware.md, permissions.md, request-pipeline.md, limits.md). Each test starts its own server on 127.0.0.1:0.

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use pikku::prelude::*;
use pikku::testing::{auth_dev_header, within, TestRequest, TestServer, Transport, WAIT};
use pikku::HeaderValue;
use pikku::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

// ---------------------------------------------------------------------------------------------------
// The application under test

pub struct Services {
    /// Signalled when the slow function has started (for the graceful shutdown test).
    slow_started: Arc<Notify>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    user: String,
}

const BODY_LIMIT: usize = 1024;

fn server() -> (pikku::Server<Services, Session>, Arc<Notify>) {
    let slow_started = Arc::new(Notify::new());
    let server = App::<Services, Session>::new()
        .body_limit(BODY_LIMIT)
        .header_read_timeout(Duration::from_secs(1))
        .shutdown_grace(Duration::from_secs(3))
        .build(Services { slow_started: Arc::clone(&slow_started) })
        .expect("the test application starts");
    (server, slow_started)
}

async fn start() -> TestServer {
    TestServer::start(server().0).await
}

mod functions {
    use super::*;

    #[derive(Serialize)]
    pub(crate) struct Message {
        pub message: String,
    }

    #[pikku_func(auth = false)]
    pub(crate) async fn hello(
        _s: &Services,
        _data: (),
        _ctx: &OptionalContext<Session>,
    ) -> Result<Message, PikkuError> {
        Ok(Message { message: "hello".into() })
    }

    #[pikku_func(auth = false)]
    pub(crate) async fn list_items(
        _s: &Services,
        _data: (),
        _ctx: &OptionalContext<Session>,
    ) -> Result<Vec<u32>, PikkuError> {
        Ok(vec![1, 2])
    }

    #[pikku_func(auth = false)]
    pub(crate) async fn create_item(
        _s: &Services,
        _data: (),
        _ctx: &OptionalContext<Session>,
    ) -> Result<Message, PikkuError> {
        Ok(Message { message: "created".into() })
    }

    #[derive(Deserialize)]
    pub(crate) struct ThingId {
        pub id: u32,
    }

    /// Output `()`: 204.
    #[pikku_func(auth = false)]
    pub(crate) async fn delete_thing(
        _s: &Services,
        data: ThingId,
        _ctx: &OptionalContext<Session>,
    ) -> Result<(), PikkuError> {
        assert!(data.id > 0);
        Ok(())
    }

    #[derive(Deserialize, Serialize)]
    pub(crate) struct NotePath {
        #[serde(rename = "userId")]
        pub user_id: String,
        #[serde(rename = "noteId")]
        pub note_id: u64,
    }

    /// Both parameter syntaxes in one template.
    #[pikku_func(auth = false)]
    pub(crate) async fn get_note(
        _s: &Services,
        data: NotePath,
        _ctx: &OptionalContext<Session>,
    ) -> Result<NotePath, PikkuError> {
        Ok(data)
    }

    #[derive(Deserialize, Serialize)]
    pub(crate) struct NoteInput {
        #[serde(rename = "userId")]
        pub user_id: u64,
        pub text: String,
        pub done: bool,
        pub limit: u32,
        pub tag: Option<String>,
        pub payload: Option<Payload>,
    }

    #[derive(Deserialize, Serialize)]
    pub(crate) struct Payload {
        pub field: String,
    }

    /// Path, query and body merged into one struct.
    #[pikku_func(auth = false)]
    pub(crate) async fn create_note(
        _s: &Services,
        data: NoteInput,
        _ctx: &OptionalContext<Session>,
    ) -> Result<NoteInput, PikkuError> {
        Ok(data)
    }

    #[derive(Deserialize, Serialize)]
    pub(crate) struct Search {
        pub limit: u32,
        pub q: Option<String>,
    }

    #[pikku_func(auth = false)]
    pub(crate) async fn search(
        _s: &Services,
        data: Search,
        _ctx: &OptionalContext<Session>,
    ) -> Result<Search, PikkuError> {
        Ok(data)
    }

    #[derive(Serialize)]
    pub(crate) struct Me {
        pub user: String,
    }

    /// Session required (the default).
    #[pikku_func]
    pub(crate) async fn me(_s: &Services, _data: (), ctx: &Context<Session>) -> Result<Me, PikkuError> {
        Ok(Me { user: ctx.session().user.clone() })
    }

    #[derive(Deserialize)]
    pub(crate) struct Upload {
        pub text: String,
    }

    #[pikku_func]
    pub(crate) async fn upload(_s: &Services, data: Upload, _ctx: &Context<Session>) -> Result<Message, PikkuError> {
        Ok(Message { message: data.text })
    }

    #[pikku_func]
    pub(crate) async fn session_ok(_s: &Services, _data: (), ctx: &Context<Session>) -> Result<(), PikkuError> {
        ctx.set_session(Session { user: "renewed".into() });
        Ok(())
    }

    #[pikku_func]
    pub(crate) async fn session_fail(_s: &Services, _data: (), ctx: &Context<Session>) -> Result<(), PikkuError> {
        ctx.set_session(Session { user: "renewed".into() });
        Err(PikkuError::conflict("refused after set_session"))
    }

    /// An application error with its own status and name.
    pub enum ThingError {
        Duplicate,
    }

    impl From<ThingError> for PikkuError {
        fn from(e: ThingError) -> Self {
            match e {
                ThingError::Duplicate => {
                    PikkuError::new(StatusCode::CONFLICT, "DuplicateThingError", "that thing exists already")
                }
            }
        }
    }

    #[pikku_func(auth = false)]
    pub(crate) async fn duplicate(_s: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<(), ThingError> {
        Err(ThingError::Duplicate)
    }

    #[pikku_func(auth = false)]
    pub(crate) async fn leak(_s: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<(), PikkuError> {
        Err(PikkuError::internal("db password=hunter2 refused"))
    }

    #[pikku_func(auth = false)]
    pub(crate) async fn explode(_s: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<(), PikkuError> {
        panic!("explode: deliberate panic in a test function");
    }

    #[pikku_func(auth = false)]
    pub(crate) async fn slow(s: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<Message, PikkuError> {
        s.slow_started.notify_one();
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok(Message { message: "slow done".into() })
    }

    #[derive(Deserialize)]
    pub(crate) struct TraceId {
        #[allow(dead_code)]
        pub id: String,
    }

    #[pikku_func(auth = false, tags = ["fntag"], middleware = [t_func])]
    pub(crate) async fn traced(
        _s: &Services,
        _data: TraceId,
        _ctx: &OptionalContext<Session>,
    ) -> Result<(), PikkuError> {
        Ok(())
    }

    #[pikku_func(auth = false, middleware = [t_func])]
    pub(crate) async fn stopped(_s: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<(), PikkuError> {
        panic!("the function behind a middleware that answers must not run");
    }

    // Permissions

    #[pikku_auth]
    pub async fn is_admin(_s: &Services, session: &Session) -> bool {
        session.user == "admin"
    }

    #[pikku_auth]
    pub async fn is_staff(_s: &Services, session: &Session) -> bool {
        session.user.starts_with("staff")
    }

    #[derive(Deserialize)]
    pub struct UserView {
        #[serde(rename = "userId")]
        pub user_id: String,
    }

    /// The data view: the path's `userId`.
    #[pikku_permission]
    pub async fn is_self(_s: &Services, data: UserView, session: Option<&Session>) -> bool {
        session.is_some_and(|s| s.user == data.user_id)
    }

    /// The global permission: every function, independently of its own permissions.
    #[pikku_permission]
    pub async fn not_banned(_s: &Services, _data: (), session: Option<&Session>) -> bool {
        session.is_none_or(|s| s.user != "banned")
    }

    #[derive(Deserialize, Serialize)]
    pub(crate) struct UserPath {
        #[serde(rename = "userId")]
        pub user_id: String,
    }

    #[pikku_func(permissions = [is_staff, is_self])]
    pub(crate) async fn and_user(
        _s: &Services,
        data: UserPath,
        _ctx: &Context<Session>,
    ) -> Result<UserPath, PikkuError> {
        Ok(data)
    }

    #[pikku_func(permissions = [[is_admin], [is_self]])]
    pub(crate) async fn or_user(
        _s: &Services,
        data: UserPath,
        _ctx: &Context<Session>,
    ) -> Result<UserPath, PikkuError> {
        Ok(data)
    }

    #[pikku_func(auth = false, permissions = [is_admin])]
    pub(crate) async fn public_admin(
        _s: &Services,
        _data: (),
        _ctx: &OptionalContext<Session>,
    ) -> Result<(), PikkuError> {
        Ok(())
    }

    #[derive(Deserialize)]
    pub struct TextView {
        pub text: String,
    }

    /// A view of the body: read from the input the function's own was read from.
    #[pikku_permission]
    pub async fn polite(_s: &Services, data: TextView, _session: Option<&Session>) -> bool {
        !data.text.contains("rude")
    }

    #[derive(Deserialize, Serialize)]
    pub(crate) struct Post {
        #[serde(rename = "userId")]
        pub user_id: String,
        pub text: String,
    }

    #[pikku_func(permissions = [is_self, polite])]
    pub(crate) async fn post_as_user(_s: &Services, data: Post, _ctx: &Context<Session>) -> Result<Post, PikkuError> {
        Ok(data)
    }

    #[derive(Deserialize, Serialize)]
    pub(crate) struct Limit {
        pub limit: u32,
    }

    #[pikku_func(permissions = [is_admin])]
    pub(crate) async fn admin_limit(_s: &Services, data: Limit, _ctx: &Context<Session>) -> Result<Limit, PikkuError> {
        Ok(data)
    }
}

mod middleware {
    use super::*;

    /// Puts the session change the strategies would see into `x-session-change`.
    #[pikku_middleware]
    pub async fn record_change(
        _s: &Services,
        mut request: Request<Session>,
        next: Next<'_, Services, Session>,
    ) -> Result<Response, PikkuError> {
        let change = request.watch_session_change();
        let mut response = next.run(request).await;
        let seen = match change.get() {
            None => "none".to_owned(),
            Some(pikku::SessionChange::Set { session, .. }) => format!("set:{}", session.user),
            Some(pikku::SessionChange::Cleared) => "cleared".to_owned(),
        };
        response.headers_mut().insert("x-session-change", HeaderValue::from_str(&seen).expect("header text"));
        Ok(response)
    }

    macro_rules! tracers {
        ($($name:ident),* $(,)?) => {$(
            /// Appends its name to `x-trace` on the way back.
            #[pikku_middleware]
            pub async fn $name(
                _s: &Services,
                request: Request<Session>,
                next: Next<'_, Services, Session>,
            ) -> Result<Response, PikkuError> {
                let mut response = next.run(request).await;
                response.headers_mut().append("x-trace", HeaderValue::from_static(stringify!($name)));
                Ok(response)
            }
        )*};
    }

    tracers!(t_global, t_exact, t_star, t_api, t_fntag, t_routetag, t_route, t_func);

    /// Answers by itself: the rest of the chain and the function do not run.
    #[pikku_middleware]
    pub async fn stopper(
        _s: &Services,
        _request: Request<Session>,
        _next: Next<'_, Services, Session>,
    ) -> Result<Response, PikkuError> {
        pikku::json_response(StatusCode::IM_A_TEAPOT, &json!({"stoppedBy": "stopper"}))
    }

    /// Panics on the way in: a bug in middleware, not in a function.
    #[pikku_middleware]
    pub async fn exploding_middleware(
        _s: &Services,
        _request: Request<Session>,
        _next: Next<'_, Services, Session>,
    ) -> Result<Response, PikkuError> {
        panic!("deliberate middleware panic")
    }
}

use functions::*;
use middleware::*;

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    // The kit's development strategy: `x-user: {"user": "ada"}` is the session.
    w.add_middleware([auth_dev_header("x-user"), t_global]);
    w.add_permission(not_banned);

    w.get("/hello", hello);
    w.get("/items", list_items);
    w.post("/items", create_item);
    w.delete("/things/:id", delete_thing);
    w.get("/users/{userId}/notes/:noteId", get_note);
    w.post("/users/:userId/notes", create_note);
    w.get("/search", search);
    w.get("/me", me);
    w.post("/me/upload", upload);
    w.post("/session/ok", session_ok).middleware([record_change]);
    w.post("/session/fail", session_fail).middleware([record_change]);
    w.get("/duplicate", duplicate);
    w.get("/leak", leak);
    w.get("/explode", explode);
    w.get("/explode/middleware", hello).middleware([exploding_middleware]);
    w.get("/slow", slow);
    w.get("/and/users/:userId", and_user);
    w.get("/or/users/:userId", or_user);
    w.get("/public-admin", public_admin);
    w.get("/admin/limit", admin_limit);
    w.post("/posts/:userId", post_as_user);
}

/// The onion: declared out of "specificity" order on purpose, so declaration order is what is pinned.
#[pikku_wiring]
fn traced_routes(w: &mut Wirings<Services, Session>) {
    w.add_http_middleware("/api/trace/:id", [t_exact]);
    w.add_http_middleware("*", [t_star]);
    w.add_http_middleware("/api/*", [t_api]);
    w.add_tag_middleware("fntag", [t_fntag]);
    w.add_tag_middleware("routetag", [t_routetag]);
    w.get("/api/trace/{id}", traced).middleware([t_route]).tags(["routetag"]);
    w.get("/api/stop", stopped).middleware([t_route, stopper]).tags(["routetag"]);
}

/// `request` made as `user`: the session the development strategy reads from `x-user`.
fn as_user<'a, T: Transport>(request: TestRequest<'a, T>, user: &str) -> TestRequest<'a, T> {
    request.json_header("x-user", &Session { user: user.to_owned() })
}

// ---------------------------------------------------------------------------------------------------
// Routing

#[tokio::test]
async fn get_route_answers_200_json() {
    let app = start().await;
    let reply = app.get("/hello").send().await;
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.json_value(), json!({"message": "hello"}));
}

#[tokio::test]
async fn unit_output_is_204_with_empty_body() {
    let app = start().await;
    let reply = app.delete("/things/5").send().await;
    assert_eq!(reply.status(), 204);
    assert!(reply.bytes().is_empty(), "204 has no body: {:?}", reply.bytes());
}

#[tokio::test]
async fn unknown_path_is_404_json_error() {
    let app = start().await;
    let reply = app.get("/no/such/path").send().await;
    let body = reply.assert_error(404, "NotFoundError");
    assert!(!body["message"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn wrong_method_is_405_with_allow_listing_methods_and_head() {
    let app = start().await;
    let reply = app.post("/hello").send().await;
    reply.assert_error(405, "MethodNotAllowedError");
    assert_eq!(reply.header("allow"), Some("GET, HEAD"));

    let reply = app.delete("/items").send().await;
    reply.assert_error(405, "MethodNotAllowedError");
    let mut allowed: Vec<String> =
        reply.header("allow").unwrap().split(',').map(|m| m.trim().to_owned()).collect::<Vec<_>>();
    allowed.sort();
    assert_eq!(allowed, ["GET", "HEAD", "POST"]);

    // A path with no GET does not advertise HEAD.
    let reply = app.get("/session/ok").send().await;
    reply.assert_error(405, "MethodNotAllowedError");
    assert_eq!(reply.header("allow"), Some("POST"));
}

#[tokio::test]
async fn head_on_a_get_route_answers_without_body() {
    let app = start().await;
    let reply = app.request(Method::HEAD, "/hello").send().await;
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert!(reply.bytes().is_empty());
}

#[tokio::test]
async fn colon_and_brace_parameters_fill_the_input() {
    let app = start().await;
    let reply = app.get("/users/ada/notes/42").send().await;
    assert_eq!(reply.status(), 200, "{}", reply.text());
    assert_eq!(reply.json_value(), json!({"userId": "ada", "noteId": 42}));
}

// ---------------------------------------------------------------------------------------------------
// Input

#[tokio::test]
async fn path_query_and_body_merge_into_one_typed_input() {
    let app = start().await;
    let reply = app.post("/users/7/notes?limit=10&done=true").json(&json!({"text": "hi"})).send().await;
    assert_eq!(reply.status(), 200, "{}", reply.text());
    assert_eq!(
        reply.json_value(),
        json!({"userId": 7, "text": "hi", "done": true, "limit": 10, "tag": null, "payload": null})
    );
    // Option fields filled from the query and the body.
    let reply = app
        .post("/users/7/notes?limit=0&done=false&tag=x")
        .json(&json!({"text": "t", "payload": {"field": "f"}}))
        .send()
        .await;
    assert_eq!(reply.status(), 200, "{}", reply.text());
    assert_eq!(
        reply.json_value(),
        json!({"userId": 7, "text": "t", "done": false, "limit": 0, "tag": "x", "payload": {"field": "f"}})
    );
}

#[tokio::test]
async fn conflicting_duplicate_keys_are_422() {
    let app = start().await;
    let reply = app.post("/users/7/notes?limit=1&limit=2&done=true").json(&json!({"text": "hi"})).send().await;
    let body = reply.assert_error(422, "UnprocessableContentError");
    assert_eq!(body["payload"]["field"], "limit", "{body}");

    let reply = app.post("/users/7/notes?limit=1&done=true").json(&json!({"text": "hi", "userId": 8})).send().await;
    let body = reply.assert_error(422, "UnprocessableContentError");
    assert_eq!(body["payload"]["field"], "userId", "{body}");

    // The same value twice is no conflict.
    let reply =
        app.post("/users/7/notes?limit=1&limit=1&done=true").json(&json!({"text": "hi", "userId": 7})).send().await;
    assert_eq!(reply.status(), 200, "{}", reply.text());
}

#[tokio::test]
async fn malformed_json_is_422_naming_the_position() {
    let app = start().await;
    let reply =
        app.post("/users/7/notes?limit=1&done=true").body_with_type("application/json", r#"{"text": }"#).send().await;
    let body = reply.assert_error(422, "UnprocessableContentError");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("line 1 column 10"), "{message}");
}

#[tokio::test]
async fn missing_field_is_422_naming_the_field() {
    let app = start().await;
    let reply = app.post("/users/7/notes?limit=1&done=true").json(&json!({})).send().await;
    let body = reply.assert_error(422, "UnprocessableContentError");
    assert!(body["message"].as_str().unwrap().contains("`text`"), "{body}");
    assert_eq!(body["payload"]["field"], "text");

    // A nested field is named by its path.
    let reply = app.post("/users/7/notes?limit=1&done=true").json(&json!({"text": "t", "payload": {}})).send().await;
    let body = reply.assert_error(422, "UnprocessableContentError");
    assert!(body["message"].as_str().unwrap().contains("payload.field"), "{body}");
    assert_eq!(body["payload"]["field"], "payload.field");

    // A missing query field too.
    let reply = app.post("/users/7/notes?done=true").json(&json!({"text": "t"})).send().await;
    let body = reply.assert_error(422, "UnprocessableContentError");
    assert_eq!(body["payload"]["field"], "limit", "{body}");
}

#[tokio::test]
async fn wrong_type_is_422_naming_the_field() {
    let app = start().await;
    let reply = app.post("/users/7/notes?limit=1&done=true").json(&json!({"text": 5})).send().await;
    let body = reply.assert_error(422, "UnprocessableContentError");
    assert!(body["message"].as_str().unwrap().contains("`text`"), "{body}");
    assert_eq!(body["payload"]["field"], "text");

    for (query, field) in [("limit=ten&done=true", "limit"), ("limit=1&done=yes", "done")] {
        let reply = app.post(&format!("/users/7/notes?{query}")).json(&json!({"text": "t"})).send().await;
        let body = reply.assert_error(422, "UnprocessableContentError");
        assert_eq!(body["payload"]["field"], field, "{body}");
        assert!(body["message"].as_str().unwrap().contains(&format!("`{field}`")), "{body}");
    }
    let reply = app.get("/users/ada/notes/not-a-number").send().await;
    let body = reply.assert_error(422, "UnprocessableContentError");
    assert_eq!(body["payload"]["field"], "noteId", "{body}");
}

#[tokio::test]
async fn non_json_body_is_415() {
    let app = start().await;
    let req = app.post("/users/7/notes?limit=1&done=true").body_with_type("text/plain", r#"{"text":"hi"}"#);
    req.send().await.assert_error(415, "UnsupportedMediaTypeError");
    // No content type at all is not JSON either.
    let req = app.post("/users/7/notes?limit=1&done=true").body(r#"{"text":"hi"}"#);
    req.send().await.assert_error(415, "UnsupportedMediaTypeError");
}

#[tokio::test]
async fn body_within_the_limit_is_accepted() {
    let app = start().await;
    let text = "x".repeat(BODY_LIMIT - 100);
    let reply = app.post("/users/7/notes?limit=1&done=true").json(&json!({ "text": text })).send().await;
    assert_eq!(reply.status(), 200, "{}", reply.text());
}

#[tokio::test]
async fn declared_body_over_the_limit_is_413_before_it_is_sent() {
    let app = start().await;
    // Only the head: the server must answer from the declared length without waiting for the body.
    let head = format!(
        "POST /users/7/notes?limit=1&done=true HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        BODY_LIMIT + 1
    );
    let reply = app.send_raw(head.as_bytes()).await.expect("io").expect("a response");
    reply.assert_error(413, "PayloadTooLargeError");
}

#[tokio::test]
async fn chunked_body_over_the_limit_is_413_without_reading_it_all() {
    let app = start().await;
    let chunk = "x".repeat(BODY_LIMIT + 500);
    // One chunk over the limit and no terminating chunk: the server must stop reading and answer.
    let request = format!(
        "POST /users/7/notes?limit=1&done=true HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{chunk}\r\n",
        chunk.len()
    );
    let reply = app.send_raw(request.as_bytes()).await.expect("io").expect("a response");
    reply.assert_error(413, "PayloadTooLargeError");
}

#[tokio::test]
async fn get_reads_no_body() {
    let app = start().await;
    // A junk body with a junk content type: not read, so neither 415 nor 422.
    let req = app.get("/search?limit=3&q=rust").body_with_type("text/x-junk", "{not json at all");
    let reply = req.send().await;
    assert_eq!(reply.status(), 200, "{}", reply.text());
    assert_eq!(reply.json_value(), json!({"limit": 3, "q": "rust"}));
    // An oversized declared body on a GET is not read either (no 413).
    let head = format!("GET /search?limit=4 HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n{{", BODY_LIMIT * 10);
    let reply = app.send_raw(head.as_bytes()).await.expect("io").expect("a response");
    assert_eq!(reply.status(), 200, "{}", reply.text());
    assert_eq!(reply.json_value(), json!({"limit": 4, "q": null}));
}

// ---------------------------------------------------------------------------------------------------
// The auth gate and session write-back

#[tokio::test]
async fn session_required_without_session_is_401_with_www_authenticate() {
    let app = start().await;
    let reply = app.get("/me").send().await;
    let body = reply.assert_error(401, "MissingSessionError");
    assert_eq!(body["message"], "Authentication required");
    assert!(reply.header("www-authenticate").is_some_and(|v| !v.is_empty()), "{:?}", reply.headers());

    let reply = as_user(app.get("/me"), "ada").send().await;
    assert_eq!(reply.status(), 200, "{}", reply.text());
    assert_eq!(reply.json_value(), json!({"user": "ada"}));
}

#[tokio::test]
async fn auth_gate_refuses_before_reading_the_body() {
    let app = start().await;
    // Declares 10 MB (over the 1 KiB limit) but sends a few bytes: a 401 promptly, not 413, no hang.
    let head = "POST /me/upload HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 10485760\r\n\r\n{\"te";
    let started = Instant::now();
    let reply = within(Duration::from_secs(2), "a prompt 401", app.send_raw(head.as_bytes()))
        .await
        .expect("io")
        .expect("a response");
    reply.assert_error(401, "MissingSessionError");
    assert!(started.elapsed() < Duration::from_secs(2));
    // With a session the same route does read the body.
    let req = as_user(app.post("/me/upload"), "ada").json(&json!({"text": "uploaded"}));
    let reply = req.send().await;
    assert_eq!(reply.status(), 200, "{}", reply.text());
    assert_eq!(reply.json_value(), json!({"message": "uploaded"}));
}

#[tokio::test]
async fn session_change_is_applied_only_on_success() {
    let app = start().await;
    let reply = as_user(app.post("/session/ok"), "ada").send().await;
    assert_eq!(reply.status(), 204, "{}", reply.text());
    assert_eq!(reply.header("x-session-change"), Some("set:renewed"));

    let reply = as_user(app.post("/session/fail"), "ada").send().await;
    reply.assert_error(409, "ConflictError");
    assert_eq!(reply.header("x-session-change"), Some("none"));
}

// ---------------------------------------------------------------------------------------------------
// Errors

#[tokio::test]
async fn application_error_keeps_its_status_and_name() {
    let app = start().await;
    let body = app.get("/duplicate").send().await.assert_error(409, "DuplicateThingError");
    assert_eq!(body["message"], "that thing exists already");
}

#[tokio::test]
async fn internal_error_detail_is_not_sent() {
    let app = start().await;
    let reply = app.get("/leak").send().await;
    let body = reply.assert_error(500, "InternalServerError");
    let text = reply.text();
    assert!(!text.contains("hunter2") && !text.contains("password"), "{text}");
    assert!(body.get("payload").is_none());
}

#[tokio::test]
async fn panic_is_500_and_the_connection_keeps_serving() {
    let app = start().await;
    let conn = app.connect().await;
    let reply = conn.get("/explode").send().await;
    let body = reply.assert_error(500, "InternalServerError");
    assert!(!body["message"].as_str().unwrap().contains("deliberate"), "{body}");
    // Same keep-alive connection.
    let reply = conn.get("/hello").send().await;
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.json_value(), json!({"message": "hello"}));
    // And a new one.
    assert_eq!(app.get("/hello").send().await.status(), 200);
}

#[tokio::test]
async fn panic_in_middleware_is_500_with_a_request_id_and_the_server_keeps_serving() {
    let app = start().await;
    let conn = app.connect().await;
    let reply = conn.get("/explode/middleware").send().await;
    let body = reply.assert_error(500, "InternalServerError");
    assert!(!body["message"].as_str().unwrap().contains("deliberate"), "{body}");
    let reply = conn.get("/hello").send().await;
    assert_eq!(reply.status(), 200);
}

// ---------------------------------------------------------------------------------------------------
// Request ids

#[tokio::test]
async fn sane_client_request_id_is_echoed_in_header_and_error_id() {
    let app = start().await;
    let reply = app.get("/no/such").header("x-request-id", "client-id_1.2:3").send().await;
    assert_eq!(reply.header("x-request-id"), Some("client-id_1.2:3"));
    assert_eq!(reply.assert_error(404, "NotFoundError")["errorId"], "client-id_1.2:3");

    let reply = app.get("/hello").header("x-request-id", "ok-123").send().await;
    assert_eq!(reply.header("x-request-id"), Some("ok-123"));
}

#[tokio::test]
async fn insane_client_request_id_is_replaced() {
    let app = start().await;
    let long = "a".repeat(100);
    for insane in [long.as_str(), "has space"] {
        let reply = app.get("/no/such").header("x-request-id", insane).send().await;
        let id = reply.header("x-request-id").expect("a request id").to_owned();
        assert_ne!(id, insane);
        assert!(!id.is_empty() && !id.contains(' ') && id.len() <= 64, "{id:?}");
        assert_eq!(reply.assert_error(404, "NotFoundError")["errorId"], id.as_str());
    }
}

#[tokio::test]
async fn every_response_gets_a_distinct_generated_request_id() {
    let app = start().await;
    let conn = app.connect().await;
    let mut ids = Vec::new();
    for path in ["/hello", "/hello", "/no/such", "/me"] {
        let reply = conn.get(path).send().await;
        let id = reply.header("x-request-id").unwrap_or_else(|| panic!("{path}: no x-request-id")).to_owned();
        assert!(!id.is_empty());
        if !reply.status().is_success() {
            assert_eq!(reply.json_value()["errorId"], id.as_str());
        }
        ids.push(id);
    }
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "ids repeat: {ids:?}");
}

// ---------------------------------------------------------------------------------------------------
// The middleware onion

#[tokio::test]
async fn middleware_runs_global_patterns_tags_route_function_in_order() {
    let app = start().await;
    let reply = app.get("/api/trace/1").send().await;
    assert_eq!(reply.status(), 204, "{}", reply.text());
    // Appended on the way back: innermost first.
    let mut trace = reply.header_all("x-trace");
    trace.reverse();
    assert_eq!(trace, ["t_global", "t_exact", "t_star", "t_api", "t_fntag", "t_routetag", "t_route", "t_func"]);

    // Outside /api/ only the global and "*" middleware apply.
    let reply = app.get("/hello").send().await;
    let trace = reply.header_all("x-trace");
    assert_eq!(trace, ["t_star", "t_global"]);
}

#[tokio::test]
async fn middleware_that_answers_stops_the_chain() {
    let app = start().await;
    let reply = app.get("/api/stop").send().await;
    assert_eq!(reply.status(), 418, "{}", reply.text());
    assert_eq!(reply.json_value(), json!({"stoppedBy": "stopper"}));
    let mut trace = reply.header_all("x-trace");
    trace.reverse();
    assert_eq!(trace, ["t_global", "t_star", "t_api", "t_routetag", "t_route"]);
    assert!(reply.header("x-request-id").is_some());
}

// ---------------------------------------------------------------------------------------------------
// Permissions

async fn status_as(app: &TestServer, path: &str, user: &str) -> u16 {
    let reply = as_user(app.get(path), user).send().await;
    if reply.status() == 403 {
        let body = reply.assert_error(403, "ForbiddenError");
        assert_eq!(body["message"], "Permission denied");
    }
    reply.status().as_u16()
}

#[tokio::test]
async fn permission_list_is_an_and() {
    let app = start().await;
    assert_eq!(status_as(&app, "/and/users/staff1", "staff1").await, 200);
    assert_eq!(status_as(&app, "/and/users/bob", "staff1").await, 403);
    assert_eq!(status_as(&app, "/and/users/bob", "bob").await, 403);
}

#[tokio::test]
async fn permission_groups_are_an_or_of_ands() {
    let app = start().await;
    assert_eq!(status_as(&app, "/or/users/bob", "admin").await, 200);
    assert_eq!(status_as(&app, "/or/users/bob", "bob").await, 200);
    assert_eq!(status_as(&app, "/or/users/bob", "carol").await, 403);
}

#[tokio::test]
async fn global_permission_must_pass_as_well() {
    let app = start().await;
    assert_eq!(status_as(&app, "/me", "ada").await, 200);
    assert_eq!(status_as(&app, "/me", "banned").await, 403);
    // Even where the function's own permissions pass.
    assert_eq!(status_as(&app, "/or/users/banned", "banned").await, 403);
    let reply = app.get("/hello").send().await;
    assert_eq!(reply.status(), 200);
}

#[tokio::test]
async fn auth_check_without_a_session_is_false() {
    let app = start().await;
    app.get("/public-admin").send().await.assert_error(403, "ForbiddenError");
    assert_eq!(status_as(&app, "/public-admin", "admin").await, 204);
}

#[tokio::test]
async fn permissions_run_after_input_parsing() {
    let app = start().await;
    assert_eq!(status_as(&app, "/admin/limit?limit=ten", "bob").await, 422);
    assert_eq!(status_as(&app, "/admin/limit?limit=5", "bob").await, 403);
    assert_eq!(status_as(&app, "/admin/limit?limit=5", "admin").await, 200);
    // And after the auth gate.
    app.get("/admin/limit?limit=5").send().await.assert_error(401, "MissingSessionError");
}

#[tokio::test]
async fn permission_views_read_the_path_and_body_the_function_read() {
    let app = start().await;
    let post = |user: &str, body: serde_json::Value| {
        let app = &app;
        let user = user.to_owned();
        async move { as_user(app.post("/posts/bob"), &user).json(&body).send().await }
    };
    let reply = post("bob", json!({"text": "hello"})).await;
    assert_eq!(reply.status(), 200, "{}", reply.text());
    assert_eq!(reply.json_value(), json!({"userId": "bob", "text": "hello"}));
    // The body's view denies; the path's view denies.
    post("bob", json!({"text": "a rude note"})).await.assert_error(403, "ForbiddenError");
    post("carol", json!({"text": "hello"})).await.assert_error(403, "ForbiddenError");
    // A body that contradicts the path is the input's 422, before any permission runs.
    let reply = post("bob", json!({"userId": "carol", "text": "hello"})).await;
    let body = reply.assert_error(422, "UnprocessableContentError");
    assert_eq!(body["message"], "conflicting values for `userId` (path and body)");
}

// ---------------------------------------------------------------------------------------------------
// Limits

#[tokio::test]
async fn headers_over_64_kib_get_431() {
    let app = start().await;
    let big = "a".repeat(70 * 1024);
    let request = format!("GET /hello HTTP/1.1\r\nhost: x\r\nx-big: {big}\r\n\r\n");
    match app.send_raw(request.as_bytes()).await {
        Ok(Some(reply)) => assert_eq!(reply.status(), 431, "{:?}", reply.headers()),
        // The server may close before the client reads the answer; it must not serve the request.
        Ok(None) => {}
        Err(e) => {
            assert!(matches!(e.kind(), std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe), "{e}")
        }
    }
    // Headers under the cap are served.
    let fine = "a".repeat(40 * 1024);
    let request = format!("GET /hello HTTP/1.1\r\nhost: x\r\nx-big: {fine}\r\n\r\n");
    let reply = app.send_raw(request.as_bytes()).await.expect("io").expect("a response");
    assert_eq!(reply.status(), 200);
}

#[tokio::test]
async fn stalled_client_is_dropped_after_the_header_timeout_while_others_are_served() {
    let app = start().await;
    let mut stalled = within(WAIT, "connect", TcpStream::connect(app.addr())).await.expect("connect");
    within(WAIT, "write half a head", stalled.write_all(b"GET /hello HTTP/1.1\r\nhost: x\r\nx-half: ")).await.unwrap();
    let started = Instant::now();

    // Another client is served meanwhile, promptly.
    let reply = within(Duration::from_millis(500), "a concurrent request", app.get("/hello").send()).await;
    assert_eq!(reply.status(), 200);

    // The stalled one is dropped (closed, possibly after a 408) once the 1 s header timeout passes.
    let mut received = Vec::new();
    let outcome =
        within(Duration::from_secs(4), "the stalled client is dropped", stalled.read_to_end(&mut received)).await;
    let elapsed = started.elapsed();
    if outcome.is_ok() {
        let text = String::from_utf8_lossy(&received);
        assert!(received.is_empty() || text.starts_with("HTTP/1.1 408"), "{text}");
    }
    assert!(elapsed >= Duration::from_millis(800), "dropped too early: {elapsed:?}");
}

// ---------------------------------------------------------------------------------------------------
// Graceful shutdown

#[tokio::test]
async fn shutdown_lets_requests_in_flight_finish_and_refuses_new_connections() {
    let (server, slow_started) = server();
    let app = TestServer::start(server).await;
    let addr = app.addr();
    let client = app.client();
    let in_flight = tokio::spawn(async move { client.get("/slow").send().await });
    within(WAIT, "the slow function starts", slow_started.notified()).await;

    let stopped = tokio::spawn(app.stopped());
    let reply = within(WAIT, "the request in flight", in_flight).await.expect("no panic");
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.json_value(), json!({"message": "slow done"}));

    within(WAIT, "serve returns", stopped).await.expect("no panic").expect("serve returns Ok");
    let refused = tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr)).await;
    assert!(matches!(refused, Ok(Err(_))), "new connections are refused after shutdown");
}
