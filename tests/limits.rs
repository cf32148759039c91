//! Hostile clients and resource limits over real loopback sockets (docs/limits.md), and the client's
//! address. Each test starts its own server on 127.0.0.1:0 with short deadlines, so the suite stays fast.

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use std::net::IpAddr;

use pikku::prelude::*;
use pikku::testing::{TestClient, TestServer};
use pikku::HeaderValue;
use serde::{Deserialize, Serialize};
use serde_json::json;

// ---------------------------------------------------------------------------------------------------
// The application under test

pub struct Services;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    user: String,
}

mod functions {
    use super::*;

    #[derive(Serialize)]
    pub(crate) struct Seen {
        #[serde(rename = "clientAddr")]
        pub client_addr: Option<String>,
    }

    /// What the function sees as the client's address.
    #[pikku_func(auth = false)]
    pub(crate) async fn client_addr(
        _s: &Services,
        _data: (),
        ctx: &OptionalContext<Session>,
    ) -> Result<Seen, PikkuError> {
        Ok(Seen { client_addr: ctx.client_addr().map(|addr| addr.to_string()) })
    }
}

mod middleware {
    use super::*;

    /// Puts what middleware sees as the client's address into `x-seen-addr`.
    #[pikku_middleware]
    pub async fn seen_addr(
        _s: &Services,
        request: Request<Session>,
        next: Next<'_, Services, Session>,
    ) -> Result<Response, PikkuError> {
        let seen = request.client_addr().map_or_else(|| "none".to_owned(), |addr| addr.to_string());
        let mut response = next.run(request).await;
        response.headers_mut().insert("x-seen-addr", HeaderValue::from_str(&seen).expect("header text"));
        Ok(response)
    }
}

use functions::*;
use middleware::*;

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    w.get("/client-addr", client_addr).middleware([seen_addr.into()]);
}

fn build(app: App<Services, Session>) -> pikku::Server<Services, Session> {
    app.build(Services).expect("the test application starts")
}

// ---------------------------------------------------------------------------------------------------
// The client's address

#[tokio::test]
async fn the_client_address_is_the_peer_for_functions_and_middleware() {
    let app = TestServer::start(build(App::new())).await;
    let reply = app.get("/client-addr").send().await;
    assert_eq!(reply.status(), 200, "{}", reply.text());
    assert_eq!(reply.json_value(), json!({"clientAddr": "127.0.0.1"}));
    assert_eq!(reply.header("x-seen-addr"), Some("127.0.0.1"));
}

#[tokio::test]
async fn in_process_there_is_no_client_address_unless_the_test_gives_one() {
    let client = TestClient::new(build(App::new()));
    let reply = client.get("/client-addr").send().await;
    assert_eq!(reply.json_value(), json!({"clientAddr": null}));
    assert_eq!(reply.header("x-seen-addr"), Some("none"));

    let addr: IpAddr = "203.0.113.7".parse().unwrap();
    let reply = client.get("/client-addr").client_addr(addr).send().await;
    assert_eq!(reply.json_value(), json!({"clientAddr": "203.0.113.7"}));
    assert_eq!(reply.header("x-seen-addr"), Some("203.0.113.7"));
}

#[tokio::test]
#[should_panic(expected = "for the in-process TestClient")]
async fn a_test_cannot_pretend_another_address_over_a_socket() {
    let app = TestServer::start(build(App::new())).await;
    let _ = app.get("/client-addr").client_addr("203.0.113.7".parse().unwrap()).send().await;
}

#[test]
fn a_function_called_directly_sees_the_test_context_address() {
    let addr: IpAddr = "2001:db8::7".parse().unwrap();
    let ctx = OptionalContext::<Session>::for_test(None).with_client_addr(addr);
    assert_eq!(ctx.client_addr(), Some(addr));
    assert_eq!(Context::for_test(Session { user: "ada".into() }).client_addr(), None);
    let request = Request::<Session>::for_test(pikku::Method::GET, "/", pikku::HeaderMap::new());
    assert_eq!(request.client_addr(), None);
    assert_eq!(request.with_client_addr(addr).client_addr(), Some(addr));
}
