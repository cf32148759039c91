//! `#[pikku_auth]`, `#[pikku_permission]` and `#[pikku_middleware]` leave a value under the function's name
//! whose `call(&self, ..)` runs the function as written, so a unit test calls it directly, without an
//! application or a request pipeline.

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use pikku::prelude::*;
use pikku::{HeaderMap, HeaderValue, Method, TestEndpoint};
use serde::Deserialize;

pub struct Services {
    admins: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Session {
    user: String,
}

#[pikku_auth]
async fn is_admin(services: &Services, session: &Session) -> bool {
    services.admins.contains(&session.user)
}

#[derive(Deserialize)]
pub struct Target {
    user: String,
}

#[pikku_permission]
async fn is_self(_services: &Services, data: Target, session: Option<&Session>) -> bool {
    session.is_some_and(|s| s.user == data.user)
}

#[pikku_permission]
async fn is_self_by_ref(_services: &Services, data: &Target, session: &Session) -> bool {
    session.user == data.user
}

/// Answers 401 by itself without an `x-user` header; otherwise passes on and tags the response.
#[pikku_middleware]
async fn require_user(
    _services: &Services,
    request: Request<Session>,
    next: Next<'_, Services, Session>,
) -> Result<Response, PikkuError> {
    if request.headers().get("x-user").is_none() {
        return Err(PikkuError::unauthorized("x-user required"));
    }
    let mut response = next.run(request).await;
    response.headers_mut().insert("x-tagged", HeaderValue::from_static("yes"));
    Ok(response)
}

fn services() -> Services {
    Services { admins: vec!["root".to_owned()] }
}

fn session(user: &str) -> Session {
    Session { user: user.to_owned() }
}

#[tokio::test]
async fn an_auth_check_is_called_directly() {
    let services = services();
    assert!(is_admin.call(&services, &session("root")).await);
    assert!(!is_admin.call(&services, &session("alice")).await);
}

#[tokio::test]
async fn a_permission_is_called_directly_with_its_view() {
    let services = services();
    let target = || Target { user: "alice".to_owned() };
    assert!(is_self.call(&services, target(), Some(&session("alice"))).await);
    assert!(!is_self.call(&services, target(), Some(&session("bob"))).await);
    assert!(!is_self.call(&services, target(), None).await);
    assert!(is_self_by_ref.call(&services, &target(), &session("alice")).await);
}

#[tokio::test]
async fn a_middleware_is_called_directly_with_a_test_request_and_next() {
    let services = services();
    let endpoint = TestEndpoint::new(|_request| {
        pikku::json_response(StatusCode::OK, &serde_json::json!({"ok": true})).expect("a JSON response")
    });

    let request = Request::for_test(Method::GET, "/anything", HeaderMap::new());
    let next = Next::for_test(&services, &[], &endpoint);
    let refused = require_user.call(&services, request, next).await.expect_err("no x-user: answered by itself");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    let mut headers = HeaderMap::new();
    headers.insert("x-user", HeaderValue::from_static("alice"));
    let request = Request::for_test(Method::GET, "/anything", headers);
    let next = Next::for_test(&services, &[], &endpoint);
    let response = require_user.call(&services, request, next).await.expect("passed on");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers().get("x-tagged").map(HeaderValue::as_bytes), Some(&b"yes"[..]));
}
