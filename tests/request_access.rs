//! Request access on the context (docs/functions.md, "Reading the request"): headers, method, path, client
//! address and request id, and typed values a middleware put on the request (request extensions), over
//! a socket, in-process, and in direct unit tests of a function with the test context's builders.

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use std::net::IpAddr;

use pikku::prelude::*;
use pikku::testing::{TestClient, TestServer};
use pikku::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub struct Services;

#[derive(Debug, Clone, Deserialize)]
pub struct Session;

/// Put on the request by the `require_tenant` middleware.
#[derive(Debug, Clone, PartialEq)]
pub struct Tenant(String);

/// Put on the request by `stamp`, raised by `restamp` nearer the function.
#[derive(Debug, Clone, PartialEq)]
pub struct Stamp(u32);

#[pikku_middleware]
async fn require_tenant(
    _: &Services,
    mut request: Request<Session>,
    next: Next<'_, Services, Session>,
) -> Result<Response, PikkuError> {
    let Some(tenant) = request.headers().get("x-tenant").and_then(|value| value.to_str().ok()).map(str::to_owned)
    else {
        return Err(PikkuError::bad_request("the x-tenant header is required"));
    };
    request.extensions_mut().insert(Tenant(tenant));
    Ok(next.run(request).await)
}

#[pikku_middleware]
async fn stamp(
    _: &Services,
    mut request: Request<Session>,
    next: Next<'_, Services, Session>,
) -> Result<Response, PikkuError> {
    request.extensions_mut().insert(Stamp(1));
    Ok(next.run(request).await)
}

/// Reads what an outer middleware put on the request and replaces it.
#[pikku_middleware]
async fn restamp(
    _: &Services,
    mut request: Request<Session>,
    next: Next<'_, Services, Session>,
) -> Result<Response, PikkuError> {
    let Some(Stamp(n)) = request.extensions().get::<Stamp>().cloned() else {
        return Err(PikkuError::internal("restamp runs inside stamp"));
    };
    request.extensions_mut().insert(Stamp(n + 1));
    Ok(next.run(request).await)
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Seen {
    method: String,
    path: String,
    query: Option<String>,
    language: Option<String>,
    /// `x-name` as text, `None` when it is not visible ASCII.
    name_text: Option<String>,
    /// `x-name`'s bytes, however they are.
    name_bytes: Option<Vec<u8>>,
    forwarded: Vec<String>,
    client_addr: Option<IpAddr>,
    request_id: String,
    tenant: Option<String>,
    stamp: Option<u32>,
}

/// The tenant's id from the path (absent on `/plain/seen`); the function reads the rest from the request
/// itself.
#[derive(Deserialize)]
pub struct Anything {
    #[allow(dead_code)]
    id: Option<String>,
}

#[pikku_func(auth = false)]
async fn seen(_: &Services, _data: Anything, ctx: &OptionalContext<Session>) -> Result<Seen, PikkuError> {
    Ok(Seen {
        method: ctx.method().to_string(),
        path: ctx.path().to_owned(),
        query: ctx.uri().query().map(str::to_owned),
        language: ctx.header(pikku::header::ACCEPT_LANGUAGE).map(str::to_owned),
        name_text: ctx.header("X-Name").map(str::to_owned),
        name_bytes: ctx.headers().get("x-name").map(|value| value.as_bytes().to_vec()),
        forwarded: ctx.headers().get_all("x-forwarded-for").iter().map(|v| v.to_str().unwrap().to_owned()).collect(),
        client_addr: ctx.client_addr(),
        request_id: ctx.request_id().to_string(),
        tenant: ctx.extension::<Tenant>().map(|found| found.0.clone()),
        stamp: ctx.extension::<Stamp>().map(|found| found.0),
    })
}

/// The function's own middleware puts the value there.
#[pikku_func(auth = false, middleware = [stamp])]
async fn stamped(_: &Services, _: (), ctx: &OptionalContext<Session>) -> Result<Option<u32>, PikkuError> {
    Ok(ctx.extension::<Stamp>().map(|found| found.0))
}

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    w.add_http_middleware("/tenants/*", [require_tenant, stamp, restamp]);
    w.get("/tenants/:id/seen", seen);
    w.post("/tenants/:id/seen", seen);
    w.get("/plain/seen", seen);
    w.get("/stamped", stamped);
}

fn server() -> pikku::Server<Services, Session> {
    App::<Services, Session>::new().build(Services).expect("the application starts")
}

#[tokio::test]
async fn a_function_reads_the_request_and_what_middleware_put_on_it_over_a_socket() {
    let app = TestServer::start(server()).await;
    let response = app
        .post("/tenants/t1/seen?page=2")
        .header("x-tenant", "acme")
        .header("accept-language", "fi, en;q=0.5")
        .header("x-request-id", "req-42")
        .json(&json!({}))
        .send()
        .await;
    let seen: Seen = response.assert_status(200).json();
    assert_eq!(
        seen,
        Seen {
            method: "POST".into(),
            path: "/tenants/t1/seen".into(),
            query: Some("page=2".into()),
            language: Some("fi, en;q=0.5".into()),
            name_text: None,
            name_bytes: None,
            forwarded: vec![],
            client_addr: Some(IpAddr::from([127, 0, 0, 1])),
            request_id: "req-42".into(),
            tenant: Some("acme".into()),
            stamp: Some(2),
        }
    );
    assert_eq!(response.header("x-request-id"), Some("req-42"));
}

#[tokio::test]
async fn the_generated_request_id_is_the_one_echoed() {
    let app = TestServer::start(server()).await;
    let response = app.get("/plain/seen").send().await;
    let seen: Seen = response.assert_status(200).json();
    assert_eq!(Some(seen.request_id.as_str()), response.header("x-request-id"));
    assert_eq!(seen.request_id.len(), 32);
}

#[tokio::test]
async fn without_the_middleware_there_is_no_value_and_a_middleware_can_refuse() {
    let client = TestClient::new(server());
    let seen: Seen = client.get("/plain/seen").header("x-tenant", "acme").send().await.assert_status(200).json();
    assert_eq!((seen.tenant, seen.stamp), (None, None));
    client.get("/tenants/t1/seen").send().await.assert_error(400, "BadRequestError");
    // The function's own middleware.
    assert_eq!(client.get("/stamped").send().await.assert_status(200).json_value(), json!(1));
}

#[tokio::test]
async fn repeated_and_non_text_headers_are_all_there() {
    let client = TestClient::new(server());
    let seen: Seen = client
        .get("/plain/seen")
        .header("x-name", "Jyv\u{e4}skyl\u{e4}")
        .header("x-forwarded-for", "203.0.113.1")
        .header("x-forwarded-for", "198.51.100.2")
        .client_addr(IpAddr::from([192, 0, 2, 9]))
        .send()
        .await
        .assert_status(200)
        .json();
    assert_eq!(seen.name_text, None, "not visible ASCII: not given as text");
    assert_eq!(seen.name_bytes.as_deref(), Some("Jyv\u{e4}skyl\u{e4}".as_bytes()));
    assert_eq!(seen.forwarded, ["203.0.113.1", "198.51.100.2"]);
    assert_eq!(seen.client_addr, Some(IpAddr::from([192, 0, 2, 9])));
}

#[tokio::test]
async fn a_function_is_unit_tested_with_the_request_it_reads() {
    let addr = IpAddr::from([203, 0, 113, 7]);
    let ctx = OptionalContext::<Session>::for_test(None)
        .with_request(Method::PUT, "/tenants/t9/seen?x=1")
        .with_header("accept-language", "sv")
        .with_header("x-forwarded-for", "10.0.0.1")
        .with_header("x-forwarded-for", "10.0.0.2")
        .with_extension(Tenant("test-tenant".into()))
        .with_extension(Stamp(5))
        .with_client_addr(addr);
    let seen = seen(&Services, Anything { id: Some("t1".into()) }, &ctx).await.unwrap();
    assert_eq!(seen.method, "PUT");
    assert_eq!(seen.path, "/tenants/t9/seen");
    assert_eq!(seen.query.as_deref(), Some("x=1"));
    assert_eq!(seen.language.as_deref(), Some("sv"));
    assert_eq!(seen.forwarded, ["10.0.0.1", "10.0.0.2"]);
    assert_eq!(seen.client_addr, Some(addr));
    assert_eq!(seen.tenant.as_deref(), Some("test-tenant"));
    assert_eq!(seen.stamp, Some(5));
    assert_eq!(seen.request_id, ctx.request_id().to_string());

    // The defaults: `GET /`, nothing else.
    let ctx = Context::for_test(Session);
    assert_eq!((ctx.method(), ctx.path(), ctx.headers().len()), (&Method::GET, "/", 0));
    assert_eq!(ctx.extension::<Tenant>(), None);
}
