//! HTTP/2 with prior knowledge on the server's one port, beside HTTP/1.1, and the limits over HTTP/2
//! (docs/limits.md), with the h2 crate's client over real loopback sockets. Each test starts its own
//! server on 127.0.0.1:0 with short deadlines, so the suite stays fast.

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use h2::client::SendRequest;
use pikku::prelude::*;
use pikku::testing::{within, TestServer, WAIT};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

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
    pub(crate) struct Status {
        pub ok: bool,
    }

    #[pikku_func(auth = false)]
    pub(crate) async fn health(
        _s: &Services,
        _data: (),
        _ctx: &OptionalContext<Session>,
    ) -> Result<Status, PikkuError> {
        Ok(Status { ok: true })
    }

    /// Takes a while: a request in flight when the server shuts down.
    #[pikku_func(auth = false)]
    pub(crate) async fn slow(_s: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<Status, PikkuError> {
        tokio::time::sleep(SHORT).await;
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

    /// Reads a JSON body.
    #[pikku_func(auth = false)]
    pub(crate) async fn echo(_s: &Services, data: Text, _ctx: &OptionalContext<Session>) -> Result<Length, PikkuError> {
        Ok(Length { length: data.text.len() })
    }
}

mod middleware {
    use super::*;

    /// Answers with a body of [`BIG_RESPONSE`] bytes, cut from a static buffer.
    #[pikku_middleware]
    pub async fn big_body(
        _s: &Services,
        _request: Request<Session>,
        _next: Next<'_, Services, Session>,
    ) -> Result<Response, PikkuError> {
        static BIG: [u8; BIG_RESPONSE] = [b'x'; BIG_RESPONSE];
        let text = std::str::from_utf8(&BIG).expect("ASCII");
        Ok(Response::new(pikku::Body::new(pikku::Chunk::from(text))))
    }
}

use functions::*;
use middleware::*;

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    w.get("/health", health);
    w.get("/slow", slow);
    w.post("/echo", echo);
    w.get("/big", health).middleware([big_body]);
}

fn build(app: App<Services, Session>) -> pikku::Server<Services, Session> {
    app.build(Services).expect("the test application starts")
}

/// Far more than the client's flow-control window.
const BIG_RESPONSE: usize = 4 * 1024 * 1024;

/// The deadlines of these tests: short, so the suite stays fast, long enough for a loaded machine.
const SHORT: Duration = Duration::from_millis(300);

// ---------------------------------------------------------------------------------------------------
// The client

/// An HTTP/2 connection with prior knowledge: the request half, and the task that drives the connection
/// (it ends when the server closes it).
struct H2 {
    send: SendRequest<Bytes>,
    driver: JoinHandle<Result<(), h2::Error>>,
}

async fn h2_connect(addr: SocketAddr) -> H2 {
    h2_connect_with(addr, h2::client::Builder::new()).await
}

async fn h2_connect_with(addr: SocketAddr, builder: h2::client::Builder) -> H2 {
    let tcp = within(WAIT, "connect", TcpStream::connect(addr)).await.expect("connect");
    let (send, connection) = within(WAIT, "the HTTP/2 handshake", builder.handshake(tcp)).await.expect("handshake");
    H2 { send, driver: tokio::spawn(connection) }
}

/// A response: status, headers and the whole body.
struct Reply {
    head: http::response::Parts,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// Checks the JSON error shape, as `TestResponse::assert_error` does.
    fn assert_error(&self, status: u16, name: &str) -> serde_json::Value {
        assert_eq!(self.head.status, status, "{:?}", String::from_utf8_lossy(&self.body));
        let body = self.json();
        assert_eq!(body["name"], name, "{body}");
        let request_id = self.head.headers.get("x-request-id").and_then(|v| v.to_str().ok());
        assert_eq!(body["errorId"].as_str(), request_id, "{body}");
        body
    }
}

/// Sends one request on the connection and reads the whole reply.
async fn send(
    connection: &SendRequest<Bytes>,
    request: http::Request<()>,
    body: Option<Bytes>,
) -> Result<Reply, h2::Error> {
    let mut ready = connection.clone().ready().await?;
    let (response, mut stream) = ready.send_request(request, body.is_none())?;
    if let Some(body) = body {
        stream.send_data(body, true)?;
    }
    read_reply(response.await?).await
}

async fn get(connection: &SendRequest<Bytes>, path: &str) -> Reply {
    let request = http::Request::get(format!("http://127.0.0.1{path}")).body(()).unwrap();
    within(WAIT, "an HTTP/2 response", send(connection, request, None)).await.expect("an HTTP/2 response")
}

impl H2 {
    async fn send(&self, request: http::Request<()>, body: Option<Bytes>) -> Result<Reply, h2::Error> {
        send(&self.send, request, body).await
    }

    async fn get(&self, path: &str) -> Reply {
        get(&self.send, path).await
    }

    /// Waits for the server to close the connection; returns how long that took.
    async fn closed_by_server(self, limit: Duration) -> Duration {
        let started = Instant::now();
        // The request half stays: the h2 client closes a connection by itself once it is dropped.
        let H2 { send, driver } = self;
        let _ = within(limit, "the server closes the connection", driver).await.expect("the driver does not panic");
        drop(send);
        started.elapsed()
    }
}

async fn read_reply(response: http::Response<h2::RecvStream>) -> Result<Reply, h2::Error> {
    let (head, mut body) = response.into_parts();
    let mut bytes = BytesMut::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        body.flow_control().release_capacity(chunk.len())?;
        bytes.extend_from_slice(&chunk);
    }
    Ok(Reply { head, body: bytes.freeze() })
}

fn json_post(path: &str, body_len: usize) -> http::Request<()> {
    http::Request::post(format!("http://127.0.0.1{path}"))
        .header("content-type", "application/json")
        .header("content-length", body_len.to_string())
        .body(())
        .unwrap()
}

/// `{"text": "aaa..."}` of exactly `len` bytes.
fn text_body(len: usize) -> Bytes {
    let overhead = r#"{"text":""}"#.len();
    Bytes::from(format!(r#"{{"text":"{}"}}"#, "a".repeat(len - overhead)))
}

// ---------------------------------------------------------------------------------------------------
// Both protocols on one port

#[tokio::test]
async fn http2_with_prior_knowledge_and_http1_share_the_port() {
    let app = TestServer::start(build(App::new())).await;
    let h2 = h2_connect(app.addr()).await;
    let reply = h2.get("/health").await;
    assert_eq!(reply.head.status, 200);
    assert_eq!(reply.head.version, http::Version::HTTP_2);
    assert_eq!(reply.json(), json!({"ok": true}));
    assert!(reply.head.headers.contains_key("x-request-id"));
    // Several requests on the one connection, at once.
    let mut streams = Vec::new();
    for _ in 0..8 {
        let connection = h2.send.clone();
        streams.push(tokio::spawn(async move { get(&connection, "/health").await.head.status }));
    }
    for stream in streams {
        assert_eq!(within(WAIT, "a concurrent stream", stream).await.expect("no panic"), 200);
    }
    let posted = within(WAIT, "a POST", h2.send(json_post("/echo", 20), Some(text_body(20)))).await.expect("a reply");
    assert_eq!(posted.json(), json!({"length": 9}));

    // HTTP/1.1 on the same port, meanwhile.
    app.get("/health").send().await.assert_status(200);
    let mut raw = within(WAIT, "connect", TcpStream::connect(app.addr())).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut raw, b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut received = Vec::new();
    within(WAIT, "an HTTP/1.1 response", raw.read_to_end(&mut received)).await.unwrap();
    assert!(received.starts_with(b"HTTP/1.1 200 "), "{:?}", String::from_utf8_lossy(&received));
}

#[tokio::test]
async fn the_advertised_max_concurrent_streams_is_the_setting() {
    for (app, expected) in
        [(App::new(), pikku::DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS), (App::new().http2_max_concurrent_streams(7), 7)]
    {
        let app = TestServer::start(build(app)).await;
        let tcp = within(WAIT, "connect", TcpStream::connect(app.addr())).await.unwrap();
        let (send, mut connection) = within(WAIT, "handshake", h2::client::handshake(tcp)).await.unwrap();
        // The server's SETTINGS arrive while the connection is driven: one request's worth.
        let request = async {
            let mut ready = send.ready().await.unwrap();
            let (response, _) =
                ready.send_request(http::Request::get("http://127.0.0.1/health").body(()).unwrap(), true)?;
            read_reply(response.await?).await
        };
        tokio::pin!(request);
        let reply = within(WAIT, "a response", async {
            tokio::select! {
                reply = &mut request => reply,
                ended = &mut connection => panic!("the connection ended first: {ended:?}"),
            }
        })
        .await
        .expect("a response");
        assert_eq!(reply.head.status, 200);
        assert_eq!(connection.max_concurrent_send_streams(), expected as usize);
    }
}

/// "Rapid reset": `count` requests, each reset at once, in one burst.
async fn rapid_resets(connection: &H2, count: usize) {
    for _ in 0..count {
        let Ok(mut ready) = connection.send.clone().ready().await else { return };
        let request = http::Request::get("http://127.0.0.1/health").body(()).unwrap();
        let Ok((_, mut stream)) = ready.send_request(request, false) else { return };
        stream.send_reset(h2::Reason::CANCEL);
    }
}

#[tokio::test]
async fn streams_reset_before_the_server_takes_them_up_past_the_cap_cost_the_connection() {
    // Under the cap (the default, 20): the connection serves on.
    let app = TestServer::start(build(App::new())).await;
    let h2 = h2_connect(app.addr()).await;
    rapid_resets(&h2, 12).await;
    assert_eq!(h2.get("/health").await.head.status, 200);

    // Over it: GOAWAY, ENHANCE_YOUR_CALM.
    let app = TestServer::start(build(App::new().http2_max_pending_accept_reset_streams(5))).await;
    let rapid = h2_connect(app.addr()).await;
    rapid_resets(&rapid, 12).await;
    let ended = within(WAIT, "the server closes the connection", rapid.driver).await.expect("no panic");
    let error = ended.expect_err("GOAWAY");
    assert!(error.is_go_away() && error.is_remote(), "{error:?}");
    assert_eq!(error.reason(), Some(h2::Reason::ENHANCE_YOUR_CALM), "{error:?}");
    // Others are not disturbed.
    assert_eq!(h2_connect(app.addr()).await.get("/health").await.head.status, 200);
}

// ---------------------------------------------------------------------------------------------------
// Limits over HTTP/2

#[tokio::test]
async fn over_http2_a_100_kib_header_block_gets_431_on_its_stream_and_the_connection_serves_on() {
    let app = TestServer::start(build(App::new())).await;
    let h2 = h2_connect(app.addr()).await;
    // 100 KiB decoded; HPACK's Huffman code sends it in 63 KiB, four 16 KiB frames.
    let big = "a".repeat(100 * 1024);
    let request = http::Request::get("http://127.0.0.1/health").header("x-big", big).body(()).unwrap();
    let reply =
        within(WAIT, "a reply to the big header block", h2.send(request, None)).await.expect("431, not an error");
    assert_eq!(reply.head.status, 431);
    // Headers under the cap are served, on the same connection.
    let fine = "a".repeat(40 * 1024);
    let request = http::Request::get("http://127.0.0.1/health").header("x-fine", fine).body(()).unwrap();
    let reply = within(WAIT, "a reply", h2.send(request, None)).await.expect("a reply");
    assert_eq!(reply.head.status, 200);
}

#[tokio::test]
async fn over_http2_a_far_larger_header_block_closes_its_connection_only() {
    let app = TestServer::start(build(App::new())).await;
    let bystander = h2_connect(app.addr()).await;
    // Over four times the cap decoded (h2's abuse limit), or spread over more than six frames (h2's guard
    // against CONTINUATION floods; 80 KiB that HPACK cannot compress takes seven): GOAWAY, reason
    // ENHANCE_YOUR_CALM.
    for value in ["a".repeat(300 * 1024), "~".repeat(80 * 1024)] {
        let h2 = h2_connect(app.addr()).await;
        let request = http::Request::get("http://127.0.0.1/health").header("x-big", value).body(()).unwrap();
        let error = within(WAIT, "the connection is closed", h2.send(request, None)).await.err().expect("no reply");
        assert!(error.is_go_away() && error.is_remote(), "{error:?}");
        assert_eq!(error.reason(), Some(h2::Reason::ENHANCE_YOUR_CALM), "{error:?}");
        h2.closed_by_server(WAIT).await;
    }
    assert_eq!(bystander.get("/health").await.head.status, 200, "other connections are not disturbed");
}

#[tokio::test]
async fn over_http2_a_body_over_the_limit_gets_413() {
    let app = TestServer::start(build(App::new().body_limit(1024))).await;
    let h2 = h2_connect(app.addr()).await;
    // Declared over the limit: refused before a byte is read.
    let declared = within(WAIT, "a reply", h2.send(json_post("/echo", 4096), Some(text_body(4096)))).await.unwrap();
    declared.assert_error(413, "PayloadTooLargeError");
    // No length declared: refused once the body streams past the limit.
    let undeclared =
        http::Request::post("http://127.0.0.1/echo").header("content-type", "application/json").body(()).unwrap();
    let streamed = within(WAIT, "a reply", h2.send(undeclared, Some(text_body(4096)))).await.unwrap();
    streamed.assert_error(413, "PayloadTooLargeError");
    // At the limit: served.
    let fits = within(WAIT, "a reply", h2.send(json_post("/echo", 1024), Some(text_body(1024)))).await.unwrap();
    assert_eq!(fits.head.status, 200, "{:?}", fits.body);
}

#[tokio::test]
async fn over_http2_a_stalled_body_gets_408_and_other_streams_are_served() {
    let app = TestServer::start(build(App::new().body_read_timeout(SHORT))).await;
    let h2 = h2_connect(app.addr()).await;
    // 100 bytes declared, 10 sent, then nothing: the stream stays open from the client's side.
    let mut ready = h2.send.clone().ready().await.unwrap();
    let (response, mut stream) = ready.send_request(json_post("/echo", 100), false).unwrap();
    stream.send_data(Bytes::from_static(b"{\"text\":\"a"), false).unwrap();
    let started = Instant::now();

    // Another stream of the same connection is served meanwhile.
    assert_eq!(h2.get("/health").await.head.status, 200);

    let reply = within(WAIT, "the 408", async { read_reply(response.await?).await }).await.expect("a 408 reply");
    let elapsed = started.elapsed();
    reply.assert_error(408, "RequestTimeoutError");
    assert!(!reply.head.headers.contains_key("connection"), "no connection header over HTTP/2");
    assert!(elapsed >= SHORT - Duration::from_millis(50), "answered too early: {elapsed:?}");
    assert!(elapsed < SHORT + Duration::from_secs(2), "answered too late: {elapsed:?}");
    // Over HTTP/2 the stalled stream costs only itself: the connection serves on.
    assert_eq!(h2.get("/health").await.head.status, 200);
}

// ---------------------------------------------------------------------------------------------------
// Connections: the cap, the first request, idleness, clients that grant no window

#[tokio::test]
async fn over_http2_past_the_connection_cap_a_new_client_waits_until_one_closes() {
    let app = TestServer::start(build(App::new().max_connections(2))).await;
    let mut open = Vec::new();
    for _ in 0..2 {
        let h2 = h2_connect(app.addr()).await;
        assert_eq!(h2.get("/health").await.head.status, 200);
        open.push(h2);
    }

    let addr = app.addr();
    let mut third = tokio::spawn(async move {
        let h2 = h2_connect(addr).await;
        let status = h2.get("/health").await.head.status.as_u16();
        (status, h2)
    });
    let early = tokio::time::timeout(Duration::from_millis(500), &mut third).await;
    assert!(early.is_err(), "the third connection was served while two were open");

    let closing = open.pop().expect("two open");
    closing.driver.abort();
    drop(closing);
    let (status, _third) = within(WAIT, "the third client is served", third).await.expect("no panic");
    assert_eq!(status, 200);
    assert_eq!(open[0].get("/health").await.head.status, 200, "the other connection was not disturbed");
}

#[tokio::test]
async fn a_client_that_sends_nothing_or_only_the_preface_is_dropped_after_the_header_read_timeout() {
    let app = TestServer::start(build(App::new().header_read_timeout(SHORT))).await;

    // Connects and sends nothing.
    let mut silent = within(WAIT, "connect", TcpStream::connect(app.addr())).await.unwrap();
    let started = Instant::now();
    let mut received = Vec::new();
    let _ = within(WAIT, "the server drops the silent client", silent.read_to_end(&mut received)).await;
    let elapsed = started.elapsed();
    assert!(received.is_empty(), "{received:?}");
    assert!(elapsed >= SHORT - Duration::from_millis(50), "dropped too early: {elapsed:?}");
    assert!(elapsed < SHORT + Duration::from_secs(2), "dropped too late: {elapsed:?}");

    // Sends the preface and its SETTINGS (the h2 handshake), then no request.
    let preface_only = h2_connect(app.addr()).await;
    let elapsed = preface_only.closed_by_server(WAIT).await;
    assert!(elapsed >= SHORT - Duration::from_millis(50), "dropped too early: {elapsed:?}");
    assert!(elapsed < SHORT + Duration::from_secs(2), "dropped too late: {elapsed:?}");

    // Others are served all along.
    app.get("/health").send().await.assert_status(200);
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed_after_the_header_read_timeout() {
    let app = TestServer::start(build(App::new().header_read_timeout(SHORT))).await;

    // A connection in use stays open past the timeout: it is idle time that counts.
    let busy = h2_connect(app.addr()).await;
    let started = Instant::now();
    while started.elapsed() < SHORT * 3 {
        assert_eq!(busy.get("/health").await.head.status, 200);
        tokio::time::sleep(SHORT / 3).await;
    }
    // A request that takes longer than the timeout does not make its connection idle.
    assert_eq!(busy.get("/slow").await.head.status, 200);

    let idle = h2_connect(app.addr()).await;
    assert_eq!(idle.get("/health").await.head.status, 200);
    let idle_for = idle.closed_by_server(WAIT).await;
    assert!(idle_for >= SHORT - Duration::from_millis(50), "closed too early: {idle_for:?}");
    // GOAWAY within a quarter of the timeout after it is due; the client then closes.
    assert!(idle_for < SHORT * 2 + Duration::from_secs(1), "closed too late: {idle_for:?}");
}

#[tokio::test]
async fn an_http2_client_that_grants_no_window_is_dropped_and_frees_its_slot() {
    let app =
        TestServer::start(build(App::new().max_connections(1).header_read_timeout(SHORT).write_timeout(SHORT))).await;
    // The protocol's initial window (64 KiB), never widened: the 4 MiB answer cannot go out.
    let stalled = h2_connect(app.addr()).await;
    let mut ready = stalled.send.clone().ready().await.unwrap();
    let (response, _) = ready.send_request(http::Request::get("http://127.0.0.1/big").body(()).unwrap(), true).unwrap();
    let response = within(WAIT, "the response head", response).await.expect("a head");
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let first = within(WAIT, "the first data", body.data()).await.expect("data").expect("data");
    assert!(!first.is_empty());
    let started = Instant::now();

    // The cap is one connection: the next client is served once the stalled one is dropped.
    let reply = within(WAIT, "the next client is served", app.get("/health").send()).await;
    assert_eq!(reply.status(), 200);
    let waited = started.elapsed();
    assert!(waited >= SHORT - Duration::from_millis(50), "served before the stalled client was dropped: {waited:?}");
    drop(body);
}

#[tokio::test]
async fn shutdown_lets_an_http2_request_in_flight_finish() {
    let app = TestServer::start(build(App::new())).await;
    let h2 = h2_connect(app.addr()).await;
    let mut ready = h2.send.clone().ready().await.unwrap();
    let (response, _) =
        ready.send_request(http::Request::get("http://127.0.0.1/slow").body(()).unwrap(), true).unwrap();
    // Let the server take up the request before the signal.
    tokio::time::sleep(SHORT / 3).await;
    let stopped = tokio::spawn(app.stopped());
    let reply = within(WAIT, "the in-flight response", async { read_reply(response.await?).await }).await.expect("200");
    assert_eq!(reply.head.status, 200);
    within(WAIT, "serve returns", stopped).await.expect("no panic").expect("serve returns Ok");
    // GOAWAY: the connection is done, and the server answers no more.
    let _ = h2.closed_by_server(WAIT).await;
}
