//! The in-process `TestClient` runs the same pipeline as the server: each case is sent both ways and
//! must give the same status, headers that matter, and body (docs/request-pipeline.md).

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use pikku::prelude::*;
use pikku::testing::{auth_dev_header, Connection, TestClient, TestRequest, TestResponse, TestServer, Transport};
use pikku::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub struct Services;

#[derive(Debug, Clone, Deserialize)]
pub struct Session {
    user: String,
}

#[derive(Serialize)]
pub struct Greeting {
    message: String,
}

#[derive(Deserialize)]
pub struct Page {
    limit: u32,
}

#[pikku_func(auth = false)]
async fn greet(_s: &Services, data: Page, _ctx: &OptionalContext<Session>) -> Result<Greeting, PikkuError> {
    Ok(Greeting { message: format!("limit {}", data.limit) })
}

#[derive(Deserialize)]
pub struct NewNote {
    #[serde(rename = "userId")]
    user_id: u32,
    text: String,
}

#[pikku_func(auth = false)]
async fn create_note(_s: &Services, data: NewNote, _ctx: &OptionalContext<Session>) -> Result<Greeting, PikkuError> {
    Ok(Greeting { message: format!("{}:{}", data.user_id, data.text) })
}

#[pikku_func]
async fn whoami(_s: &Services, _data: (), ctx: &Context<Session>) -> Result<Greeting, PikkuError> {
    Ok(Greeting { message: ctx.session().user.clone() })
}

#[pikku_func(auth = false)]
async fn explode(_s: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<(), PikkuError> {
    panic!("explode: deliberate panic in a test function");
}

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    // The kit's development strategy: `x-user: {"user": "ada"}` is the session.
    w.add_http_middleware("*", [auth_dev_header("x-user")]);
    w.get("/greet", greet);
    w.post("/users/:userId/notes", create_note);
    w.get("/whoami", whoami);
    w.get("/explode", explode);
}

fn build() -> pikku::Server<Services, Session> {
    App::<Services, Session>::new().build(Services).expect("the test application starts")
}

/// One case: method, path, headers, optional JSON body.
struct Case {
    method: Method,
    path: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    body: Option<serde_json::Value>,
}

impl Case {
    fn new(method: Method, path: &'static str) -> Self {
        Self { method, path, headers: vec![("x-request-id", "same-id-both-ways")], body: None }
    }

    fn header(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers.push((name, value));
        self
    }

    fn json(mut self, body: serde_json::Value) -> Self {
        self.body = Some(body);
        self
    }

    /// Sends the case through `transport`: in-process or over the socket, the same request.
    async fn send<T: Transport>(&self, transport: &T) -> TestResponse {
        let mut request = TestRequest::new(transport, self.method.clone(), self.path);
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        if let Some(body) = &self.body {
            request = request.json(body);
        }
        request.send().await
    }
}

/// Sends `case` both ways, asserts they agree, and returns the in-process response.
async fn same_both_ways(
    client: &TestClient<Services, Session>,
    conn: &Connection,
    case: Case,
) -> (TestResponse, serde_json::Value) {
    let local = case.send(client).await;
    let remote = case.send(conn).await;
    let what = format!("{} {}", case.method, case.path);
    assert_eq!(local.status(), remote.status(), "{what}: status");
    assert_eq!(local.bytes(), remote.bytes(), "{what}: body");
    for name in ["content-type", "allow", "www-authenticate", "x-request-id"] {
        assert_eq!(local.header(name), remote.header(name), "{what}: header {name}");
    }
    assert_eq!(local.header("x-request-id"), Some("same-id-both-ways"), "{what}");
    let body = if local.bytes().is_empty() { serde_json::Value::Null } else { local.json_value() };
    (local, body)
}

#[tokio::test]
async fn test_client_and_http_agree_on_success() {
    let server = build();
    let app = TestServer::start(server.clone()).await;
    let client = TestClient::new(server);
    let conn = app.connect().await;

    let (response, body) = same_both_ways(&client, &conn, Case::new(Method::GET, "/greet?limit=10")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(body, json!({"message": "limit 10"}));

    let case = Case::new(Method::POST, "/users/7/notes").json(json!({"text": "hi"}));
    let (response, body) = same_both_ways(&client, &conn, case).await;
    assert_eq!(response.status(), 200);
    assert_eq!(body, json!({"message": "7:hi"}));

    let case = Case::new(Method::GET, "/whoami").header("x-user", r#"{"user": "ada"}"#);
    let (response, body) = same_both_ways(&client, &conn, case).await;
    assert_eq!(response.status(), 200);
    assert_eq!(body, json!({"message": "ada"}));
}

#[tokio::test]
async fn test_client_and_http_agree_on_404_and_405() {
    let server = build();
    let app = TestServer::start(server.clone()).await;
    let client = TestClient::new(server);
    let conn = app.connect().await;

    let (response, body) = same_both_ways(&client, &conn, Case::new(Method::GET, "/nowhere")).await;
    assert_eq!(response.status(), 404);
    assert_eq!(body["name"], "NotFoundError");
    assert_eq!(body["errorId"], "same-id-both-ways");

    let (response, body) = same_both_ways(&client, &conn, Case::new(Method::DELETE, "/greet")).await;
    assert_eq!(response.status(), 405);
    assert_eq!(body["name"], "MethodNotAllowedError");
    assert_eq!(response.header("allow"), Some("GET, HEAD"));
}

#[tokio::test]
async fn test_client_and_http_agree_on_401_and_422() {
    let server = build();
    let app = TestServer::start(server.clone()).await;
    let client = TestClient::new(server);
    let conn = app.connect().await;

    let (response, body) = same_both_ways(&client, &conn, Case::new(Method::GET, "/whoami")).await;
    assert_eq!(response.status(), 401);
    assert_eq!(body["name"], "MissingSessionError");
    assert!(response.header("www-authenticate").is_some());

    let (response, body) = same_both_ways(&client, &conn, Case::new(Method::GET, "/greet?limit=ten")).await;
    assert_eq!(response.status(), 422);
    assert_eq!(body["name"], "UnprocessableContentError");
    assert_eq!(body["payload"]["field"], "limit");

    let case = Case::new(Method::POST, "/users/7/notes").json(json!({"userId": 8, "text": "hi"}));
    let (response, body) = same_both_ways(&client, &conn, case).await;
    assert_eq!(response.status(), 422);
    assert_eq!(body["payload"]["field"], "userId");

    let case = Case::new(Method::POST, "/users/7/notes").json(json!({}));
    let (response, body) = same_both_ways(&client, &conn, case).await;
    assert_eq!(response.status(), 422);
    assert_eq!(body["payload"]["field"], "text");
}

#[tokio::test]
async fn test_client_and_http_agree_on_a_panic() {
    let server = build();
    let app = TestServer::start(server.clone()).await;
    let client = TestClient::new(server);
    let conn = app.connect().await;

    let (response, body) = same_both_ways(&client, &conn, Case::new(Method::GET, "/explode")).await;
    assert_eq!(response.status(), 500);
    assert_eq!(body["name"], "InternalServerError");
    assert!(!body.to_string().contains("deliberate"), "{body}");

    // Both keep serving afterwards.
    let (response, _) = same_both_ways(&client, &conn, Case::new(Method::GET, "/greet?limit=1")).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn test_client_reads_no_body_on_get_and_checks_content_type_on_post() {
    let client = TestClient::new(build());
    let response = client.get("/greet?limit=2").header("content-type", "text/x-junk").body("junk{").send().await;
    assert_eq!(response.status(), 200);
    let response = client.post("/users/7/notes").header("content-type", "text/plain").body("{}").send().await;
    assert_eq!(response.status(), 415);
}
