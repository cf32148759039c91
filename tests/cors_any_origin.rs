//! CORS with its defaults (the `cors` npm package's, as Pikku's `cors()`): any origin answered with `*`,
//! the requested headers mirrored, no credentials (docs/cors.md). Each test starts its own server on
//! 127.0.0.1:0.

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use pikku::prelude::*;
use pikku::testing::{TestResponse, TestServer};
use pikku::{CorsOptions, Method};

pub struct Services;

#[derive(Clone)]
pub struct Session;

#[pikku_func(auth = false)]
async fn hello(_s: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<&'static str, PikkuError> {
    Ok("hello")
}

#[pikku_func]
async fn me(_s: &Services, _data: (), _ctx: &Context<Session>) -> Result<(), PikkuError> {
    Ok(())
}

#[pikku_func(auth = false)]
async fn csrf_flag(_s: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<(), PikkuError> {
    Ok(())
}

/// Answers with what the request says of its origin for the CSRF check.
#[pikku_middleware]
async fn report_csrf_flag(
    _s: &Services,
    request: Request<Session>,
    _next: Next<'_, Services, Session>,
) -> Result<Response, PikkuError> {
    pikku::json_response(StatusCode::OK, &serde_json::json!({"listed": request.origin_listed_for_credentials()}))
}

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    w.get("/hello", hello);
    w.get("/me", me);
    w.get("/csrf-flag", csrf_flag).middleware([report_csrf_flag]);
    w.cors(CorsOptions::new());
}

async fn start() -> TestServer {
    TestServer::start(App::<Services, Session>::new().build(Services).expect("the test application starts")).await
}

fn assert_star(response: &TestResponse, what: &str) {
    assert_eq!(response.header("access-control-allow-origin"), Some("*"), "{what}");
    assert!(response.header("access-control-allow-credentials").is_none(), "{what}");
    assert!(response.header("access-control-expose-headers").is_none(), "{what}");
    assert_eq!(response.header_all("vary"), ["Origin"], "{what}");
}

#[tokio::test]
async fn a_preflight_from_any_origin_gets_a_star_the_default_methods_and_its_own_headers_back() {
    let app = start().await;
    for (path, origin) in [("/hello", "https://a.example"), ("/me", "http://localhost:8080"), ("/nowhere", "null")] {
        let response = app
            .request(Method::OPTIONS, path)
            .header("origin", origin)
            .header("access-control-request-method", "PUT")
            .header("access-control-request-headers", "x-custom, content-type")
            .send()
            .await;
        response.assert_status(204);
        assert_eq!(response.header("access-control-allow-origin"), Some("*"), "{path}");
        assert_eq!(response.header("access-control-allow-methods"), Some("GET, HEAD, PUT, PATCH, POST, DELETE"));
        assert_eq!(response.header("access-control-allow-headers"), Some("x-custom, content-type"), "{path}");
        assert_eq!(response.header_all("vary"), ["Origin, Access-Control-Request-Headers"], "{path}");
        for absent in ["access-control-allow-credentials", "access-control-max-age"] {
            assert!(response.header(absent).is_none(), "{path}: {absent}");
        }
    }
}

#[tokio::test]
async fn actual_responses_to_any_origin_carry_a_star_errors_included() {
    let app = start().await;
    for (path, status) in [("/hello", 200), ("/me", 401), ("/nowhere", 404)] {
        let response = app.get(path).header("origin", "https://a.example").send().await;
        response.assert_status(status);
        assert_star(&response, path);
    }
    let response = app.delete("/hello").header("origin", "https://b.example").send().await;
    response.assert_error(405, "MethodNotAllowedError");
    assert_star(&response, "405");
    let response = app.get("/hello").send().await;
    assert!(response.header("access-control-allow-origin").is_none() && response.header("vary").is_none());
}

#[tokio::test]
async fn any_origin_never_counts_for_the_csrf_check() {
    let app = start().await;
    let response = app.get("/csrf-flag").header("origin", "https://a.example").send().await;
    assert_eq!(response.assert_status(200).json_value()["listed"], false);
}
