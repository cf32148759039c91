//! CORS reflecting every origin with credentials (docs/cors.md): any origin is mirrored, `null` is not,
//! and none of them passes the CSRF check on CORS's word. Each test starts its own server on 127.0.0.1:0.

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use pikku::prelude::*;
use pikku::testing::TestServer;
use pikku::{CorsOptions, Method};

pub struct Services;

#[derive(Clone)]
pub struct Session;

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
    w.post("/csrf-flag", csrf_flag).middleware([report_csrf_flag]);
    w.cors(CorsOptions::new().reflect_origin().credentials(true).allowed_headers(["Content-Type"]));
}

async fn start() -> TestServer {
    TestServer::start(App::<Services, Session>::new().build(Services).expect("the test application starts")).await
}

#[tokio::test]
async fn every_origin_is_mirrored_with_credentials_on_preflights_and_actual_requests() {
    let app = start().await;
    for origin in ["https://anyone.example", "http://127.0.0.1:9999", "https://[2001:db8::1]"] {
        let preflight = app
            .request(Method::OPTIONS, "/csrf-flag")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
            .await;
        preflight.assert_status(204);
        assert_eq!(preflight.header("access-control-allow-origin"), Some(origin));
        assert_eq!(preflight.header("access-control-allow-credentials"), Some("true"));
        assert_eq!(preflight.header("access-control-allow-headers"), Some("Content-Type"));
        assert_eq!(preflight.header_all("vary"), ["Origin"]);

        let actual = app.post("/csrf-flag").header("origin", origin).send().await;
        assert_eq!(actual.assert_status(200).json_value()["listed"], false, "reflect does not count for CSRF");
        assert_eq!(actual.header("access-control-allow-origin"), Some(origin));
        assert_eq!(actual.header("access-control-allow-credentials"), Some("true"));
        assert_eq!(actual.header_all("vary"), ["Origin"]);
    }
}

#[tokio::test]
async fn a_null_origin_is_not_mirrored() {
    let app = start().await;
    let response = app.post("/csrf-flag").header("origin", "null").send().await;
    response.assert_status(200);
    assert!(response.header("access-control-allow-origin").is_none());
    assert!(response.header("access-control-allow-credentials").is_none());
    assert_eq!(response.header_all("vary"), ["Origin"]);
}
