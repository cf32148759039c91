//! The application as a tower `Service` (in-process, with bodies of other types than hyper's), tower layers
//! around the whole application (`App::layer`, served over loopback sockets with the server's limits) and
//! around the routes of a pattern (`Wirings::add_http_layer`). docs/tower.md.

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use std::convert::Infallible;
use std::future::Future;
use std::io::Read as _;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{stream, StreamExt as _};
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body_util::{BodyExt as _, Full, StreamBody};
use pikku::prelude::*;
use pikku::testing::{within, TestClient, TestServer, WAIT};
use pikku::{BoxError, IpNet, PeerAddr, PipelineService, RequestBody};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tower::{Layer, Service, ServiceExt as _};

// ---------------------------------------------------------------------------------------------------
// The application under test

pub struct Services;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    user: String,
}

mod functions {
    use super::*;

    #[derive(Serialize)]
    pub(crate) struct Status {
        pub ok: bool,
    }

    #[pikku_func(auth = false)]
    pub(crate) async fn health(_: &Services, _: (), _: &OptionalContext<Session>) -> Result<Status, PikkuError> {
        Ok(Status { ok: true })
    }

    #[derive(Deserialize)]
    pub(crate) struct Text {
        pub text: String,
    }

    #[derive(Serialize)]
    pub(crate) struct Length {
        pub length: usize,
    }

    #[pikku_func(auth = false)]
    pub(crate) async fn echo(_: &Services, data: Text, _: &OptionalContext<Session>) -> Result<Length, PikkuError> {
        Ok(Length { length: data.text.len() })
    }

    #[derive(Serialize)]
    pub(crate) struct Seen {
        #[serde(rename = "clientAddr")]
        pub client_addr: Option<String>,
    }

    #[pikku_func(auth = false)]
    pub(crate) async fn client_addr(_: &Services, _: (), ctx: &OptionalContext<Session>) -> Result<Seen, PikkuError> {
        Ok(Seen { client_addr: ctx.client_addr().map(|addr| addr.to_string()) })
    }

    /// Needs a session: 401 without one.
    #[pikku_func]
    pub(crate) async fn me(_: &Services, _: (), ctx: &Context<Session>) -> Result<Session, PikkuError> {
        Ok(ctx.session().clone())
    }

    #[derive(Deserialize)]
    pub(crate) struct ItemId {
        pub id: u32,
    }

    #[derive(Serialize)]
    pub(crate) struct Item {
        pub id: u32,
    }

    #[pikku_func(auth = false)]
    pub(crate) async fn item(_: &Services, data: ItemId, _: &OptionalContext<Session>) -> Result<Item, PikkuError> {
        Ok(Item { id: data.id })
    }

    /// Far slower than any timeout of these tests: a timeout that fires drops it.
    #[pikku_func(auth = false)]
    pub(crate) async fn slow(_: &Services, _: (), _: &OptionalContext<Session>) -> Result<Status, PikkuError> {
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok(Status { ok: true })
    }

    #[derive(Serialize)]
    pub(crate) struct Big {
        pub text: String,
    }

    /// Large enough for compression (tower-http compresses bodies over 32 bytes).
    #[pikku_func(auth = false)]
    pub(crate) async fn big(_: &Services, _: (), _: &OptionalContext<Session>) -> Result<Big, PikkuError> {
        Ok(Big { text: "pikku ".repeat(500) })
    }
}

mod middleware {
    use super::*;

    /// Puts the request's `x-path` (what the layers it passed wrote on the way in) into the response's
    /// `x-seen-path`: pikku middleware runs inside the route's layers.
    #[pikku_middleware]
    pub async fn seen_path(
        _s: &Services,
        request: Request<Session>,
        next: Next<'_, Services, Session>,
    ) -> Result<Response, PikkuError> {
        let seen = request.headers().get("x-path").cloned().unwrap_or(HeaderValue::from_static("-"));
        let mut response = next.run(request).await;
        response.headers_mut().insert("x-seen-path", seen);
        Ok(response)
    }
}

use functions::*;
use middleware::*;

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    w.get("/health", health);
    w.post("/echo", echo);
    w.get("/client-addr", client_addr);
    w.get("/me", me);
    w.get("/slow", slow);
    w.get("/big", big);
    w.get("/api/items/:id", item).middleware([seen_path]);
    w.post("/api/echo", echo);
    w.get("/api/slow", slow);
    w.get("/api/big", big);
    w.get("/api/failing", health);
    w.get("/api/amnesia", health);
    w.get("/api/panicking", health);

    // Every route under /api/: `a` outside `b`; then `c` on one route only.
    w.add_http_layer("/api/*", Stamp("a"));
    w.add_http_layer("/api/*", Stamp("b"));
    w.add_http_layer("/api/items/{id}", Stamp("c"));
    w.add_http_layer("/api/slow", tower::timeout::TimeoutLayer::new(ROUTE_TIMEOUT));
    w.add_http_layer("/api/big", tower_http::compression::CompressionLayer::new());
    w.add_http_layer("/api/failing", tower::layer::layer_fn(|_rest: PipelineService| AlwaysFails));
    w.add_http_layer("/api/panicking", tower::layer::layer_fn(|_rest: PipelineService| Panics));
    w.add_http_layer(
        "/api/amnesia",
        tower::util::MapRequestLayer::new(|mut request: http::Request<RequestBody>| {
            request.extensions_mut().clear();
            request
        }),
    );
    // A layer may change the request body's type: the rest of the route still reads it, with its limit.
    w.add_http_layer(
        "/api/echo",
        tower::util::MapRequestLayer::new(|request: http::Request<RequestBody>| {
            request.map(|body| http_body_util::Limited::new(body, 1024 * 1024))
        }),
    );
}

const ROUTE_TIMEOUT: Duration = Duration::from_millis(200);
/// The deadlines of these tests: short, so the suite stays fast, long enough for a loaded machine.
const SHORT: Duration = Duration::from_millis(300);
const LIMIT: usize = 1024;

fn build(app: App<Services, Session>) -> pikku::Server<Services, Session> {
    app.build(Services).expect("the test application starts")
}

// ---------------------------------------------------------------------------------------------------
// Layers of the tests

/// Appends its name to the request's `x-path` on the way in and to the response's `x-layers` on the way
/// out, so a test sees which layers a request passed and in which order.
#[derive(Clone, Copy)]
pub struct Stamp(&'static str);

impl<S> Layer<S> for Stamp {
    type Service = Stamped<S>;

    fn layer(&self, inner: S) -> Stamped<S> {
        Stamped { name: self.0, inner }
    }
}

#[derive(Clone)]
pub struct Stamped<S> {
    name: &'static str,
    inner: S,
}

fn append(headers: &mut HeaderMap, name: &'static str, value: &str) {
    let joined = match headers.get(name).and_then(|v| v.to_str().ok()) {
        Some(before) => format!("{before},{value}"),
        None => value.to_owned(),
    };
    headers.insert(name, HeaderValue::from_str(&joined).expect("header text"));
}

impl<S, B, R> Service<http::Request<B>> for Stamped<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<R>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        append(request.headers_mut(), "x-path", self.name);
        let name = self.name;
        let answer = self.inner.call(request);
        Box::pin(async move {
            let mut response = answer.await?;
            append(response.headers_mut(), "x-layers", name);
            Ok(response)
        })
    }
}

/// A layer that fails every request with an error that must not reach the client.
#[derive(Clone)]
pub struct AlwaysFails;

impl Service<http::Request<RequestBody>> for AlwaysFails {
    type Response = http::Response<pikku::Body>;
    type Error = BoxError;
    type Future = std::future::Ready<Result<http::Response<pikku::Body>, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: http::Request<RequestBody>) -> Self::Future {
        std::future::ready(Err("cache at redis://:hunter2@10.0.0.9 unreachable".into()))
    }
}

/// A layer that panics on every request.
#[derive(Clone)]
pub struct Panics;

impl Service<http::Request<RequestBody>> for Panics {
    type Response = http::Response<pikku::Body>;
    type Error = BoxError;
    type Future = std::future::Ready<Result<http::Response<pikku::Body>, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: http::Request<RequestBody>) -> Self::Future {
        panic!("a layer's bug")
    }
}

// ---------------------------------------------------------------------------------------------------
// Helpers

/// A response read whole: status, headers, body.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {} {:?}", self.status, String::from_utf8_lossy(&self.body)))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().expect("header text"))
    }

    /// A JSON error of `status` and `name` whose `errorId` is the `x-request-id`; the body.
    #[track_caller]
    fn assert_error(&self, status: u16, name: &str) -> serde_json::Value {
        assert_eq!(self.status.as_u16(), status, "{:?}", String::from_utf8_lossy(&self.body));
        assert_eq!(self.header("content-type"), Some("application/json"));
        let body = self.json();
        assert_eq!(body["name"], name, "{body}");
        assert_eq!(body["errorId"].as_str(), self.header("x-request-id"), "{body}");
        body
    }
}

/// One request through the `Service` impl, in-process.
async fn call<B>(server: &pikku::Server<Services, Session>, request: http::Request<B>) -> Answer
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<BoxError>,
{
    let response = within(WAIT, "the service answers", server.clone().oneshot(request)).await.expect("infallible");
    let (head, body) = response.into_parts();
    let body = within(WAIT, "the body", body.collect()).await.expect("the body streams").to_bytes();
    Answer { status: head.status, headers: head.headers, body }
}

fn request(method: &str, uri: &str) -> http::request::Builder {
    http::Request::builder().method(method).uri(uri)
}

fn full(body: &'static str) -> Full<Bytes> {
    Full::new(Bytes::from_static(body.as_bytes()))
}

fn gunzip(bytes: &[u8]) -> serde_json::Value {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes).read_to_string(&mut text).expect("gzip");
    serde_json::from_str(&text).expect("JSON inside")
}

// ---------------------------------------------------------------------------------------------------
// The Service, with bodies of other types

#[tokio::test]
async fn the_service_answers_as_the_server_does_with_a_foreign_body() {
    let server = build(App::new().body_limit(LIMIT));
    let over_http = TestServer::start(server.clone()).await;
    let oversize = format!(r#"{{"text":"{}"}}"#, "a".repeat(LIMIT));
    // (method, path, JSON body, expected status)
    let cases: Vec<(&str, &str, Option<String>, u16)> = vec![
        ("GET", "/health", None, 200),
        ("GET", "/nowhere", None, 404),
        ("POST", "/health", None, 405),
        ("GET", "/me", None, 401),
        ("POST", "/echo", Some(r#"{"text":"hello"}"#.into()), 200),
        ("POST", "/echo", Some(r#"{"text":5}"#.into()), 422),
        ("POST", "/echo", Some(r#"{"text":"#.into()), 422),
        ("POST", "/echo", Some(oversize), 413),
        ("GET", "/api/items/7", None, 200),
        ("GET", "/api/items/x", None, 422),
    ];
    for (method, path, body, expected) in cases {
        let id = format!("case-{}", expected);
        let mut builder = request(method, path).header("x-request-id", &id);
        let mut socket_request = over_http.request(method.parse().expect("a method"), path).header("x-request-id", &id);
        if let Some(body) = &body {
            builder = builder.header("content-type", "application/json").header("content-length", body.len());
            socket_request = socket_request.body_with_type("application/json", body.clone());
        }
        let bytes = Bytes::from(body.unwrap_or_default());
        let answer = call(&server, builder.body(Full::new(bytes)).expect("a request")).await;
        let reference = socket_request.send().await;
        assert_eq!(answer.status.as_u16(), expected, "{method} {path}: {:?}", answer.body);
        assert_eq!(answer.status, reference.status(), "{method} {path}");
        assert_eq!(answer.header("x-request-id"), Some(id.as_str()), "{method} {path}");
        assert_eq!(answer.json(), reference.json_value(), "{method} {path}");
        assert_eq!(answer.header("allow"), reference.header("allow"), "{method} {path}");
        assert_eq!(answer.header("www-authenticate"), reference.header("www-authenticate"), "{method} {path}");
    }
}

#[tokio::test]
async fn a_streamed_foreign_body_is_read_with_the_limit_and_the_deadline() {
    let server = build(App::new().body_limit(LIMIT).body_read_timeout(SHORT));

    // In pieces, without a declared length, within the limit.
    let pieces = [r#"{"te"#, r#"xt":"#, r#""hello"}"#]
        .map(|piece| Ok::<_, Infallible>(http_body::Frame::data(Bytes::from(piece))));
    let body = StreamBody::new(stream::iter(pieces));
    let answer =
        call(&server, request("POST", "/echo").header("content-type", "application/json").body(body).unwrap()).await;
    assert_eq!((answer.status.as_u16(), answer.json()), (200, json!({"length": 5})));

    // Past the limit without a declared length: refused as it streams past it.
    let pieces = (0..8).map(|_| Ok::<_, Infallible>(http_body::Frame::data(Bytes::from(vec![b' '; LIMIT / 4]))));
    let body = StreamBody::new(stream::iter(pieces));
    let answer =
        call(&server, request("POST", "/echo").header("content-type", "application/json").body(body).unwrap()).await;
    answer.assert_error(413, "PayloadTooLargeError");

    // A body that stops coming: 408 at the deadline.
    let first = stream::iter([Ok::<_, Infallible>(http_body::Frame::data(Bytes::from_static(b"{")))]);
    let body = StreamBody::new(first.chain(stream::pending()));
    let started = Instant::now();
    let answer =
        call(&server, request("POST", "/echo").header("content-type", "application/json").body(body).unwrap()).await;
    answer.assert_error(408, "RequestTimeoutError");
    let waited = started.elapsed();
    assert!(waited >= SHORT - Duration::from_millis(50) && waited < SHORT + Duration::from_secs(2), "{waited:?}");
}

#[tokio::test]
async fn a_foreign_body_takes_its_share_of_the_budget() {
    let server = build(App::new().body_limit(LIMIT).body_budget(LIMIT / 2));
    let text = "a".repeat(LIMIT / 2);
    let body = format!(r#"{{"text":"{text}"}}"#);
    let answer = call(
        &server,
        request("POST", "/echo").header("content-type", "application/json").body(Full::new(Bytes::from(body))).unwrap(),
    )
    .await;
    answer.assert_error(503, "ServiceUnavailableError");
    assert_eq!(answer.header("retry-after"), Some("1"));
    // What fits is served.
    let answer = call(
        &server,
        request("POST", "/echo").header("content-type", "application/json").body(full(r#"{"text":"ok"}"#)).unwrap(),
    )
    .await;
    assert_eq!(answer.status, 200);
}

#[tokio::test]
async fn the_peer_in_the_extensions_is_the_client_address_through_trusted_proxies() {
    let proxy: SocketAddr = "10.0.0.5:4711".parse().unwrap();
    let server = build(App::new().trusted_proxies(["10.0.0.0/8".parse::<IpNet>().unwrap()]));
    let ask = |peer: Option<SocketAddr>, forwarded: Option<&'static str>| {
        let mut builder = request("GET", "/client-addr");
        if let Some(forwarded) = forwarded {
            builder = builder.header("x-forwarded-for", forwarded);
        }
        let mut request = builder.body(Full::<Bytes>::default()).unwrap();
        if let Some(peer) = peer {
            request.extensions_mut().insert(PeerAddr(peer));
        }
        let server = server.clone();
        async move { call(&server, request).await.json()["clientAddr"].clone() }
    };
    assert_eq!(ask(Some(proxy), Some("1.2.3.4, 203.0.113.7")).await, "203.0.113.7");
    assert_eq!(ask(Some(proxy), None).await, "10.0.0.5");
    // An untrusted peer cannot claim another address.
    assert_eq!(ask(Some("198.51.100.9:1".parse().unwrap()), Some("203.0.113.7")).await, "198.51.100.9");
    // No peer, as in-process: none.
    assert_eq!(ask(None, Some("203.0.113.7")).await, serde_json::Value::Null);
}

#[tokio::test]
async fn the_bytes_service_answers_the_same_with_bytes_data() {
    let server = build(App::new());
    let response = server.bytes_service().oneshot(request("GET", "/big").body(Full::<Bytes>::default()).unwrap()).await;
    let (head, body) = response.expect("infallible").into_parts();
    let body: Bytes = body.collect().await.expect("the body").to_bytes();
    assert_eq!(head.status, 200);
    let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(value["text"].as_str().map(str::len), Some(3000));
    // A small answer, kept inline in the response, comes out whole too.
    let response =
        server.bytes_service().oneshot(request("GET", "/health").body(Full::<Bytes>::default()).unwrap()).await;
    let body = response.expect("infallible").into_body().collect().await.expect("the body").to_bytes();
    assert_eq!(&body[..], br#"{"ok":true}"#);
}

// ---------------------------------------------------------------------------------------------------
// App::layer

/// The whole application: a stamp outside gzip compression.
fn layered_app() -> App<Services, Session> {
    App::new().layer(Stamp("app")).layer(tower_http::compression::CompressionLayer::new())
}

#[tokio::test]
async fn application_layers_are_served_over_a_socket() {
    let app = TestServer::start(build(layered_app())).await;

    let plain = app.get("/big").send().await;
    plain.assert_status(200);
    assert_eq!(plain.header("x-layers"), Some("app"));
    assert_eq!(plain.header("content-encoding"), None);
    assert!(plain.header("x-request-id").is_some());

    let gzipped = app.get("/big").header("accept-encoding", "gzip").send().await;
    gzipped.assert_status(200);
    assert_eq!(gzipped.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(gzipped.bytes()), plain.json_value());

    // The application's layers see what routing refuses too; the client's address is the socket's peer.
    let missing = app.get("/nowhere").send().await;
    missing.assert_error(404, "NotFoundError");
    assert_eq!(missing.header("x-layers"), Some("app"));
    let seen = app.get("/client-addr").send().await;
    assert_eq!(seen.json_value(), json!({"clientAddr": "127.0.0.1"}));
    // Route layers run inside the application's.
    let item = app.get("/api/items/3").send().await;
    assert_eq!(item.header("x-layers"), Some("c,b,a,app"));
}

#[tokio::test]
async fn application_layers_keep_the_servers_limits() {
    let app =
        TestServer::start(build(layered_app().body_limit(LIMIT).max_header_bytes(8192).body_read_timeout(SHORT))).await;

    // Headers past the cap: hyper's 431, before any layer.
    let huge = format!("GET /health HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n", "h".repeat(16 * 1024));
    let refused = app.send_raw(huge).await.expect("an answer").expect("not a bare close");
    refused.assert_status(431);

    // A body over the limit: 413 from the pipeline, through the layers.
    let oversize = format!(r#"{{"text":"{}"}}"#, "a".repeat(LIMIT));
    let too_large = app.post("/echo").body_with_type("application/json", oversize).send().await;
    too_large.assert_error(413, "PayloadTooLargeError");
    assert_eq!(too_large.header("x-layers"), Some("app"));

    // A body that stops coming: 408 at the deadline, and the connection is closed.
    let mut slow = within(WAIT, "connect", tokio::net::TcpStream::connect(app.addr())).await.expect("connect");
    let head = b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"te";
    slow.write_all(head).await.expect("write");
    let started = Instant::now();
    let mut received = Vec::new();
    within(WAIT, "the server closes the connection", slow.read_to_end(&mut received)).await.expect("a clean close");
    let waited = started.elapsed();
    let text = String::from_utf8_lossy(&received).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 408"), "{text}");
    assert!(text.contains("x-layers: app"), "{text}");
    assert!(waited >= SHORT - Duration::from_millis(50) && waited < SHORT + Duration::from_secs(2), "{waited:?}");
}

#[tokio::test]
async fn an_error_of_an_application_layer_is_the_json_error() {
    let server = build(App::new().layer(tower::timeout::TimeoutLayer::new(Duration::from_millis(100))));
    // In-process through the Service impl, and over a socket.
    let started = Instant::now();
    let answer =
        call(&server, request("GET", "/slow").header("x-request-id", "slow-1").body(Full::<Bytes>::default()).unwrap())
            .await;
    let body = answer.assert_error(504, "GatewayTimeoutError");
    assert_eq!(body["errorId"], "slow-1");
    assert_eq!(body["message"], "The server could not complete the request");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());

    let app = TestServer::start(server).await;
    let timed_out = app.get("/slow").send().await;
    timed_out.assert_error(504, "GatewayTimeoutError");
    // A generated id, the same in the header and the body.
    assert_eq!(timed_out.header("x-request-id").map(str::len), Some(32));
    app.get("/health").send().await.assert_status(200);
}

#[tokio::test]
async fn a_panic_in_an_application_layer_is_a_500_for_that_request_only() {
    let server = build(App::new().layer(tower::layer::layer_fn(|_rest: PipelineService| Panics)));
    let answer = call(&server, request("GET", "/health").body(Full::<Bytes>::default()).unwrap()).await;
    answer.assert_error(500, "InternalServerError");
    let app = TestServer::start(server).await;
    app.get("/health").send().await.assert_error(500, "InternalServerError");
    app.get("/health").send().await.assert_error(500, "InternalServerError");
}

#[test]
fn info_lists_the_layers_by_type_name_where_they_apply() {
    let registry = layered_app().registry().expect("the application resolves");
    let rows: Vec<(String, String)> = registry.middleware.iter().map(|m| (m.name.clone(), m.applied.clone())).collect();
    let expect = |name: &str, applied: &str| {
        assert!(rows.contains(&(name.to_owned(), applied.to_owned())), "{name} {applied} in {rows:#?}");
    };
    expect("Stamp", "tower layer (application)");
    expect("CompressionLayer", "tower layer (application)");
    expect("Stamp", "tower layer /api/*");
    expect("Stamp", "tower layer /api/items/{id}");
    expect("TimeoutLayer", "tower layer /api/slow");
    assert_eq!(rows[0], ("Stamp".to_owned(), "tower layer (application)".to_owned()), "application layers first");
    let verbose = registry.middleware.iter().find(|m| m.name == "TimeoutLayer").expect("listed");
    assert_eq!(verbose.description, "tower::timeout::layer::TimeoutLayer");
}

// ---------------------------------------------------------------------------------------------------
// add_http_layer

#[tokio::test]
async fn route_layers_apply_to_matching_routes_in_declaration_order() {
    let client = TestClient::new(build(App::new()));
    let item = client.get("/api/items/7").send().await;
    item.assert_status(200);
    assert_eq!(item.json_value(), json!({"id": 7}));
    // In: a, then b, then c, then the route's middleware; out in reverse.
    assert_eq!(item.header("x-seen-path"), Some("a,b,c"));
    assert_eq!(item.header("x-layers"), Some("c,b,a"));

    let other = client.get("/api/big").send().await;
    assert_eq!(other.header("x-layers"), Some("b,a"), "only the /api/* layers");
    let outside = client.get("/health").send().await;
    assert_eq!(outside.header("x-layers"), None);

    // Routing answers before any route layer.
    let missing = client.get("/api/nowhere").send().await;
    missing.assert_error(404, "NotFoundError");
    assert_eq!(missing.header("x-layers"), None);
    let not_allowed = client.delete("/api/items/7").send().await;
    not_allowed.assert_error(405, "MethodNotAllowedError");
    assert_eq!(not_allowed.header("x-layers"), None);
}

#[tokio::test]
async fn a_route_layer_timeout_is_a_504_json_error() {
    let app = TestServer::start(build(App::new())).await;
    let started = Instant::now();
    let timed_out = app.get("/api/slow").header("x-request-id", "slow-2").send().await;
    let body = timed_out.assert_error(504, "GatewayTimeoutError");
    assert_eq!(body["errorId"], "slow-2");
    let waited = started.elapsed();
    assert!(
        waited >= ROUTE_TIMEOUT - Duration::from_millis(50) && waited < ROUTE_TIMEOUT + Duration::from_secs(2),
        "{waited:?}"
    );
}

#[tokio::test]
async fn a_route_layer_may_compress_the_response() {
    let client = TestClient::new(build(App::new()));
    let plain = client.get("/api/big").send().await;
    assert_eq!(plain.header("content-encoding"), None);
    let gzipped = client.get("/api/big").header("accept-encoding", "gzip").send().await;
    gzipped.assert_status(200);
    assert_eq!(gzipped.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(gzipped.bytes()), plain.json_value());
    assert!(gzipped.bytes().len() < plain.bytes().len() / 10, "{} bytes", gzipped.bytes().len());
}

#[tokio::test]
async fn a_route_layer_may_change_the_request_body_type() {
    let server = build(App::new().body_limit(LIMIT));
    let app = TestServer::start(server.clone()).await;
    let echoed = app.post("/api/echo").json(&json!({"text": "hello"})).send().await;
    assert_eq!((echoed.status().as_u16(), echoed.json_value()), (200, json!({"length": 5})));
    // The limit still applies to the body the layer handed on.
    let oversize = json!({"text": "a".repeat(LIMIT)});
    app.post("/api/echo").json(&oversize).send().await.assert_error(413, "PayloadTooLargeError");
    // And through the Service impl with a foreign body.
    let answer = call(
        &server,
        request("POST", "/api/echo")
            .header("content-type", "application/json")
            .body(full(r#"{"text":"hey"}"#))
            .unwrap(),
    )
    .await;
    assert_eq!((answer.status.as_u16(), answer.json()), (200, json!({"length": 3})));
}

#[tokio::test]
async fn an_error_of_a_route_layer_is_a_generic_500() {
    let client = TestClient::new(build(App::new()));
    let failed = client.get("/api/failing").send().await;
    let body = failed.assert_error(500, "InternalServerError");
    assert_eq!(body["message"], "The server could not complete the request");
    assert!(!failed.text().contains("hunter2"), "{}", failed.text());
}

#[tokio::test]
async fn a_panic_in_a_route_layer_is_a_500_for_that_request_only() {
    let app = TestServer::start(build(App::new())).await;
    app.get("/api/panicking").send().await.assert_error(500, "InternalServerError");
    app.get("/api/items/1").send().await.assert_status(200);
}

#[tokio::test]
async fn a_route_layer_that_drops_the_extensions_gets_a_500_not_a_panic() {
    let client = TestClient::new(build(App::new()));
    let dropped = client.get("/api/amnesia").send().await;
    dropped.assert_error(500, "InternalServerError");
    // The server is unharmed.
    client.get("/health").send().await.assert_status(200);
}
