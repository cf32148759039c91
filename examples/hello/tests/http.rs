//! The application's HTTP behaviour, with the test kit in-process: what the README's "Writing tests" shows.

use hello::{Services, Session};
use pikku::testing::prelude::*;

/// The application as `main` builds it, with the services a test chooses.
fn app() -> TestClient<Services, Session> {
    TestClient::new(App::<Services, Session>::new().build(Services::new("Hello")).expect("the application starts"))
}

// Tests may add wirings of their own: this one gives every route the development strategy, so a test
// chooses its session with a header. It exists in this test binary only, never in the application.
#[pikku_wiring]
fn test_sessions(w: &mut Wirings<Services, Session>) {
    w.add_http_middleware("*", [auth_dev_header(DEV_SESSION_HEADER)]);
}

#[test]
fn hello_greets_by_the_name_in_the_query_or_the_world() {
    block_on(async {
        let client = app();
        client.get("/hello?name=Ada").send().await.assert_status(200).assert_json(&json!({"message": "Hello, Ada!"}));
        client.get("/hello").send().await.assert_json(&json!({"message": "Hello, world!"}));
    });
}

#[test]
fn whoami_needs_a_session_and_greets_its_user() {
    block_on(async {
        let client = app();
        client.get("/whoami").send().await.assert_error(401, "MissingSessionError");
        let ada = Session { user: "ada".into() };
        let response = client.get("/whoami").json_header(DEV_SESSION_HEADER, &ada).send().await;
        response.assert_status(200).assert_json(&json!({"message": "Hello, ada!"}));
    });
}

#[test]
fn a_method_the_route_does_not_have_is_405_naming_the_allowed_ones() {
    block_on(async {
        let response = app().post("/hello").send().await;
        response.assert_error(405, "MethodNotAllowedError");
        response.assert_header(header::ALLOW.as_str(), "GET, HEAD");
    });
}
