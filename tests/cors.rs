//! CORS with an explicit list of origins and credentials, over a real socket (docs/cors.md): preflights
//! answered before routing, middleware and authentication; the CORS headers on every response to a listed
//! origin, errors included; nothing for a request without `Origin`. Each test starts its own server on
//! 127.0.0.1:0.

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pikku::prelude::*;
use pikku::testing::{auth_dev_header, TestResponse, TestServer, DEV_SESSION_HEADER};
use pikku::{CorsOptions, HeaderValue, Method};
use serde::{Deserialize, Serialize};
use serde_json::json;

const APP: &str = "https://app.example";
const DEV: &str = "http://localhost:5173";
const BODY_LIMIT: usize = 256;

pub struct Services {
    /// Requests that reached the global middleware.
    reached_middleware: Arc<AtomicUsize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    user: String,
}

#[pikku_func(auth = false)]
async fn hello(_s: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<&'static str, PikkuError> {
    Ok("hello")
}

#[pikku_func]
async fn me(_s: &Services, _data: (), ctx: &Context<Session>) -> Result<Session, PikkuError> {
    Ok(ctx.session().clone())
}

#[derive(Deserialize)]
struct NewItem {
    name: String,
}

#[pikku_func(auth = false)]
async fn create_item(_s: &Services, data: NewItem, _ctx: &OptionalContext<Session>) -> Result<String, PikkuError> {
    Ok(data.name)
}

#[pikku_func(auth = false)]
async fn explode(_s: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<(), PikkuError> {
    panic!("deliberate panic in a test function")
}

#[pikku_func(auth = false)]
async fn unavailable(_s: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<(), PikkuError> {
    Err(PikkuError::service_unavailable("the test's dependency is down"))
}

#[pikku_auth]
async fn is_admin(_s: &Services, session: &Session) -> bool {
    session.user == "admin"
}

#[pikku_func(permissions = [is_admin])]
async fn admin(_s: &Services, _data: (), _ctx: &Context<Session>) -> Result<(), PikkuError> {
    Ok(())
}

#[pikku_func(auth = false)]
async fn varied(_s: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<(), PikkuError> {
    Ok(())
}

#[pikku_func(auth = false)]
async fn csrf_flag(_s: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<(), PikkuError> {
    Ok(())
}

/// Counts the requests that reach middleware at all.
#[pikku_middleware]
async fn count(
    services: &Services,
    request: Request<Session>,
    next: Next<'_, Services, Session>,
) -> Result<Response, PikkuError> {
    services.reached_middleware.fetch_add(1, Ordering::SeqCst);
    Ok(next.run(request).await)
}

/// A response that varies on something already: CORS adds `Origin` beside it.
#[pikku_middleware]
async fn vary_on_encoding(
    _s: &Services,
    request: Request<Session>,
    next: Next<'_, Services, Session>,
) -> Result<Response, PikkuError> {
    let mut response = next.run(request).await;
    response.headers_mut().insert(pikku::header::VARY, HeaderValue::from_static("Accept-Encoding"));
    Ok(response)
}

/// Answers with what the request says of its origin for the CSRF check.
#[pikku_middleware]
async fn report_csrf_flag(
    _s: &Services,
    request: Request<Session>,
    _next: Next<'_, Services, Session>,
) -> Result<Response, PikkuError> {
    pikku::json_response(StatusCode::OK, &json!({"listed": request.origin_listed_for_credentials()}))
}

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    w.add_middleware([count, auth_dev_header(DEV_SESSION_HEADER)]);
    w.get("/hello", hello);
    w.get("/me", me);
    w.post("/items", create_item);
    w.get("/explode", explode);
    w.get("/unavailable", unavailable);
    w.get("/admin", admin);
    w.get("/varied", varied).middleware([vary_on_encoding]);
    w.get("/csrf-flag", csrf_flag).middleware([report_csrf_flag]);
}

#[pikku_wiring]
fn cors(w: &mut Wirings<Services, Session>) {
    w.cors(
        CorsOptions::new()
            .origins([format!("{}/", APP.to_uppercase()), DEV.to_owned()])
            .credentials(true)
            .methods(["GET", "POST", "DELETE"])
            .allowed_headers(["Content-Type", "Authorization", DEV_SESSION_HEADER])
            .max_age(Duration::from_secs(600))
            .expose_headers(["x-request-id"]),
    );
}

async fn start() -> (TestServer, Arc<AtomicUsize>) {
    let reached_middleware = Arc::new(AtomicUsize::new(0));
    let server = App::<Services, Session>::new()
        .body_limit(BODY_LIMIT)
        .build(Services { reached_middleware: Arc::clone(&reached_middleware) })
        .expect("the test application starts");
    (TestServer::start(server).await, reached_middleware)
}

/// The headers every response to a listed origin carries.
fn assert_cors_actual(response: &TestResponse, origin: &str, what: &str) {
    assert_eq!(response.header("access-control-allow-origin"), Some(origin), "{what}");
    assert_eq!(response.header("access-control-allow-credentials"), Some("true"), "{what}");
    assert_eq!(response.header("access-control-expose-headers"), Some("x-request-id"), "{what}");
    assert_eq!(response.header_all("vary"), ["Origin"], "{what}");
    assert!(response.header("access-control-allow-methods").is_none(), "{what}: a preflight header");
    assert!(response.header("x-request-id").is_some(), "{what}");
}

fn assert_no_cors(response: &TestResponse, what: &str) {
    for (name, _) in response.headers() {
        assert!(!name.as_str().starts_with("access-control-"), "{what}: {name}");
    }
}

#[tokio::test]
async fn a_preflight_from_a_listed_origin_is_answered_before_routing_middleware_and_authentication() {
    let (app, reached_middleware) = start().await;
    // A public route, a session route without credentials, an unknown path, a path without that method.
    for (path, method) in [("/hello", "GET"), ("/me", "GET"), ("/nowhere", "PATCH"), ("/items", "DELETE")] {
        for origin in [APP, DEV, "https://APP.example:443"] {
            let response = app
                .request(Method::OPTIONS, path)
                .header("origin", origin)
                .header("access-control-request-method", method)
                .header("access-control-request-headers", "content-type, x-dev-session")
                .header("x-request-id", "preflight-1")
                .send()
                .await;
            let what = format!("{origin} {method} {path}");
            response.assert_status(204);
            assert_eq!(response.header("access-control-allow-origin"), Some(origin), "{what}");
            assert_eq!(response.header("access-control-allow-credentials"), Some("true"), "{what}");
            assert_eq!(response.header("access-control-allow-methods"), Some("GET, POST, DELETE"), "{what}");
            let allowed = response.header("access-control-allow-headers").unwrap_or_default().to_ascii_lowercase();
            for requested in ["content-type", "authorization", "x-dev-session"] {
                assert!(allowed.split(", ").any(|h| h == requested), "{what}: {requested} not in {allowed}");
            }
            assert_eq!(response.header("access-control-max-age"), Some("600"), "{what}");
            assert_eq!(response.header_all("vary"), ["Origin"], "{what}");
            assert_eq!(response.header("x-request-id"), Some("preflight-1"), "{what}");
            assert!(response.header("www-authenticate").is_none() && response.header("allow").is_none(), "{what}");
            assert!(response.bytes().is_empty(), "{what}");
        }
    }
    assert_eq!(reached_middleware.load(Ordering::SeqCst), 0, "no preflight reaches middleware");
}

#[tokio::test]
async fn a_preflight_from_an_unlisted_origin_gets_no_allow_header() {
    let (app, reached_middleware) = start().await;
    for origin in ["https://evil.example", "http://app.example", "https://app.example:8443", "null"] {
        let response = app
            .request(Method::OPTIONS, "/hello")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
            .await;
        response.assert_status(204);
        assert_no_cors(&response, origin);
        assert_eq!(response.header_all("vary"), ["Origin"], "{origin}");
        assert!(response.header("x-request-id").is_some());
    }
    assert_eq!(reached_middleware.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_options_without_access_control_request_method_is_routed_as_before() {
    let (app, reached_middleware) = start().await;
    let response = app.request(Method::OPTIONS, "/hello").header("origin", APP).send().await;
    response.assert_error(405, "MethodNotAllowedError");
    assert_eq!(response.header("allow"), Some("GET, HEAD"));
    assert_cors_actual(&response, APP, "OPTIONS without Access-Control-Request-Method");

    // Without `Origin`, not a CORS request at all.
    let response = app.request(Method::OPTIONS, "/hello").header("access-control-request-method", "GET").send().await;
    response.assert_error(405, "MethodNotAllowedError");
    assert_no_cors(&response, "OPTIONS without Origin");
    assert_eq!(reached_middleware.load(Ordering::SeqCst), 0, "405 is answered by routing");
}

#[tokio::test]
async fn every_response_to_a_listed_origin_carries_the_cors_headers_errors_included() {
    let (app, _) = start().await;
    let admin = json!({"user": "admin"});
    let ada = json!({"user": "ada"});

    let ok = app.get("/hello").header("origin", APP).send().await;
    ok.assert_status(200);
    assert_cors_actual(&ok, APP, "200");

    let me = app.get("/me").header("origin", DEV).json_header(DEV_SESSION_HEADER, &admin).send().await;
    assert_eq!(me.assert_status(200).json_value(), admin);
    assert_cors_actual(&me, DEV, "200 with a session");

    let checks = [
        ("401", app.get("/me").header("origin", APP).send().await, 401, "MissingSessionError"),
        (
            "403",
            app.get("/admin").header("origin", APP).json_header(DEV_SESSION_HEADER, &ada).send().await,
            403,
            "ForbiddenError",
        ),
        ("404", app.get("/nowhere").header("origin", APP).send().await, 404, "NotFoundError"),
        ("405", app.delete("/hello").header("origin", APP).send().await, 405, "MethodNotAllowedError"),
        (
            "413",
            app.post("/items").header("origin", APP).json(&json!({"name": "x".repeat(BODY_LIMIT)})).send().await,
            413,
            "PayloadTooLargeError",
        ),
        (
            "422",
            app.post("/items").header("origin", APP).json(&json!({})).send().await,
            422,
            "UnprocessableContentError",
        ),
        ("500", app.get("/explode").header("origin", APP).send().await, 500, "InternalServerError"),
        ("503", app.get("/unavailable").header("origin", APP).send().await, 503, "ServiceUnavailableError"),
    ];
    for (what, response, status, name) in checks {
        response.assert_error(status, name);
        assert_cors_actual(&response, APP, what);
    }

    // The server keeps serving after the panic.
    app.get("/hello").header("origin", APP).send().await.assert_status(200);
}

#[tokio::test]
async fn a_response_to_an_unlisted_origin_varies_on_origin_and_allows_nothing() {
    let (app, _) = start().await;
    for (path, status) in [("/hello", 200), ("/me", 401), ("/nowhere", 404)] {
        let response = app.get(path).header("origin", "https://evil.example").send().await;
        response.assert_status(status);
        assert_no_cors(&response, path);
        assert_eq!(response.header_all("vary"), ["Origin"], "{path}");
    }
}

#[tokio::test]
async fn a_request_without_origin_is_answered_as_without_cors() {
    let (app, _) = start().await;
    for (path, status) in [("/hello", 200), ("/me", 401), ("/nowhere", 404), ("/explode", 500)] {
        let response = app.get(path).send().await;
        response.assert_status(status);
        assert_no_cors(&response, path);
        assert!(response.header("vary").is_none(), "{path}");
    }
    let response = app.get("/varied").send().await;
    assert_eq!(response.header_all("vary"), ["Accept-Encoding"]);
}

#[tokio::test]
async fn vary_origin_is_added_beside_the_response_s_own_vary() {
    let (app, _) = start().await;
    let response = app.get("/varied").header("origin", APP).send().await;
    response.assert_status(204);
    assert_eq!(response.header_all("vary"), ["Accept-Encoding", "Origin"]);
    assert_eq!(response.header("access-control-allow-origin"), Some(APP));
}

#[tokio::test]
async fn only_one_listed_origin_counts_for_the_csrf_check() {
    let (app, _) = start().await;
    let listed = |response: TestResponse| response.assert_status(200).json_value()["listed"].as_bool().unwrap();
    assert!(listed(app.get("/csrf-flag").header("origin", APP).send().await));
    assert!(listed(app.get("/csrf-flag").header("origin", "https://app.example:443").send().await));
    assert!(!listed(app.get("/csrf-flag").header("origin", "https://evil.example").send().await));
    assert!(!listed(app.get("/csrf-flag").send().await));
    let twice = app.get("/csrf-flag").header("origin", APP).header("origin", "https://evil.example").send().await;
    assert!(!listed(twice));
}
