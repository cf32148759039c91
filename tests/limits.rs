//! Hostile clients and resource limits over real loopback sockets (docs/limits.md), and the client's
//! address. Each test starts its own server on 127.0.0.1:0 with short deadlines, so the suite stays fast.

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use pikku::prelude::*;
use pikku::testing::{within, TestClient, TestServer, WAIT};
use pikku::{HeaderValue, IpNet};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

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

    /// Answers with a body of [`BIG_RESPONSE`] bytes, cut from a static buffer (no work per request, so a
    /// test's runtime is never busy building one).
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
    w.get("/health", health);
    w.post("/echo", echo);
    w.get("/big", health).middleware([big_body]);
    w.get("/client-addr", client_addr).middleware([seen_addr]);
}

fn build(app: App<Services, Session>) -> pikku::Server<Services, Session> {
    app.build(Services).expect("the test application starts")
}

/// A response far larger than the socket buffers of both ends, so a client that does not read stalls
/// the server's writes.
const BIG_RESPONSE: usize = 16 * 1024 * 1024;

/// The deadlines of these tests: short, so the suite stays fast, long enough for a loaded machine.
const SHORT: Duration = Duration::from_millis(300);

async fn connect(addr: SocketAddr) -> TcpStream {
    within(WAIT, "connect", TcpStream::connect(addr)).await.expect("connect")
}

/// A client that reads nothing: its receive window is tiny, so the server's writes stall at once.
async fn connect_without_reading(addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("a socket");
    socket.set_recv_buffer_size(4096).expect("a small receive buffer");
    within(WAIT, "connect", socket.connect(addr)).await.expect("connect")
}

async fn write(stream: &mut TcpStream, bytes: &[u8]) {
    within(WAIT, "write", stream.write_all(bytes)).await.expect("write");
}

/// Reads until the server closes the connection: everything it sent, or the error that ended it.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> std::io::Result<Vec<u8>> {
    let mut received = Vec::new();
    within(limit, "the server closes the connection", stream.read_to_end(&mut received)).await.map(|_| received)
}

/// A raw response: status line, head (lower-cased) and body.
struct Raw {
    status_line: String,
    head: String,
    body: Vec<u8>,
}

impl Raw {
    fn parse(bytes: &[u8]) -> Self {
        let text = String::from_utf8_lossy(bytes);
        let end = text.find("\r\n\r\n").unwrap_or_else(|| panic!("a complete head: {text:?}"));
        let (status_line, head) = text[..end].split_once("\r\n").unwrap_or((&text[..end], ""));
        Self { status_line: status_line.to_owned(), head: head.to_ascii_lowercase(), body: bytes[end + 4..].to_vec() }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&self.body)))
    }
}

/// Reads one response whose body has a `Content-Length`, leaving the connection open.
async fn read_one_response(stream: &mut TcpStream) -> Raw {
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    within(WAIT, "a response", async {
        loop {
            if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&received[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().expect("a length"));
                if received.len() >= end + 4 + length {
                    return;
                }
            }
            let n = stream.read(&mut chunk).await.expect("read");
            assert!(n > 0, "the connection closed inside a response: {:?}", String::from_utf8_lossy(&received));
            received.extend_from_slice(&chunk[..n]);
        }
    })
    .await;
    Raw::parse(&received)
}

fn json_post(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// `{"text": "aaa..."}` of exactly `len` bytes.
fn text_body(len: usize) -> String {
    let overhead = r#"{"text":""}"#.len();
    format!(r#"{{"text":"{}"}}"#, "a".repeat(len - overhead))
}

// ---------------------------------------------------------------------------------------------------
// Slow bodies

#[tokio::test]
async fn a_slow_body_gets_408_json_and_the_connection_is_closed() {
    let app = TestServer::start(build(App::new().body_read_timeout(SHORT))).await;
    let mut slow = connect(app.addr()).await;
    // 100 bytes declared, 10 sent, then nothing.
    write(
        &mut slow,
        b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"text\":\"a",
    )
    .await;
    let started = Instant::now();
    let received = read_until_closed(&mut slow, WAIT).await.expect("a clean close after the answer");
    let elapsed = started.elapsed();
    let reply = Raw::parse(&received);
    assert!(reply.status_line.starts_with("HTTP/1.1 408"), "{}", reply.status_line);
    assert!(reply.head.contains("connection: close"), "{}", reply.head);
    assert!(reply.head.contains("content-type: application/json"), "{}", reply.head);
    let body = reply.json();
    assert_eq!(body["name"], "RequestTimeoutError");
    assert!(body["errorId"].as_str().is_some_and(|id| reply.head.contains(&format!("x-request-id: {id}"))), "{body}");
    assert!(elapsed >= SHORT - Duration::from_millis(50), "answered too early: {elapsed:?}");
    assert!(elapsed < SHORT + Duration::from_secs(2), "answered too late: {elapsed:?}");
}

#[tokio::test]
async fn the_body_deadline_is_for_the_whole_body_not_for_each_piece() {
    let app = TestServer::start(build(App::new().body_read_timeout(SHORT))).await;
    let request = json_post("/echo", &text_body(40));
    let (head, body) = request.split_at(request.len() - 40);

    // Every piece comes well within the deadline of the one before, but the whole body does not.
    let mut trickle = connect(app.addr()).await;
    write(&mut trickle, head).await;
    let started = Instant::now();
    for piece in body.chunks(4) {
        if started.elapsed() > SHORT * 3 {
            break;
        }
        // The server may already have answered and closed: a failed write is expected then.
        if trickle.write_all(piece).await.is_err() {
            break;
        }
        tokio::time::sleep(SHORT / 4).await;
    }
    let received = read_until_closed(&mut trickle, WAIT).await.expect("a clean close after the answer");
    assert!(Raw::parse(&received).status_line.starts_with("HTTP/1.1 408"));

    // A body that arrives in pieces, all of them within the deadline, is served.
    let mut prompt = connect(app.addr()).await;
    write(&mut prompt, head).await;
    for piece in body.chunks(20) {
        tokio::time::sleep(SHORT / 10).await;
        write(&mut prompt, piece).await;
    }
    let reply = read_one_response(&mut prompt).await;
    assert!(reply.status_line.starts_with("HTTP/1.1 200"), "{} {:?}", reply.status_line, reply.body);
    assert_eq!(reply.json(), json!({"length": 40 - r#"{"text":""}"#.len()}));
}

// ---------------------------------------------------------------------------------------------------
// Slow readers

#[tokio::test]
async fn a_client_that_does_not_read_is_dropped_after_the_write_timeout() {
    // One connection at most: the next client is served only once the reader that does not read is gone.
    let app = TestServer::start(build(App::new().write_timeout(SHORT).max_connections(1))).await;
    let mut stalled = connect_without_reading(app.addr()).await;
    write(&mut stalled, b"GET /big HTTP/1.1\r\nhost: x\r\n\r\n").await;

    let started = Instant::now();
    let reply = within(WAIT, "the next client is served", app.get("/health").send()).await;
    assert_eq!(reply.status(), 200);
    let waited = started.elapsed();
    assert!(
        waited >= SHORT - Duration::from_millis(50),
        "served before the stalled connection was dropped: {waited:?}"
    );

    // The stalled client finds a cut response when it finally reads: the rest was abandoned.
    match read_until_closed(&mut stalled, WAIT).await {
        Ok(received) => {
            assert!(
                received.starts_with(b"HTTP/1.1 200"),
                "{:?}",
                String::from_utf8_lossy(&received[..64.min(received.len())])
            );
            assert!(received.len() < BIG_RESPONSE, "the whole response was sent: {} bytes", received.len());
        }
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
}

// ---------------------------------------------------------------------------------------------------
// Idle keep-alive connections

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_read_timeout() {
    let app = TestServer::start(build(App::new().header_read_timeout(SHORT))).await;

    // A connection in use stays open past the timeout: it is idle time that counts.
    let busy = app.connect().await;
    let started = Instant::now();
    while started.elapsed() < SHORT * 3 {
        busy.get("/health").send().await.assert_status(200);
        tokio::time::sleep(SHORT / 3).await;
    }

    let mut idle = connect(app.addr()).await;
    write(&mut idle, b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n").await;
    let reply = read_one_response(&mut idle).await;
    assert!(reply.status_line.starts_with("HTTP/1.1 200"), "{}", reply.status_line);
    assert!(!reply.head.contains("connection: close"), "kept alive: {}", reply.head);
    let answered = Instant::now();
    let rest = read_until_closed(&mut idle, WAIT).await.expect("a clean close");
    let idle_for = answered.elapsed();
    assert!(rest.is_empty() || String::from_utf8_lossy(&rest).starts_with("HTTP/1.1 408"), "{rest:?}");
    assert!(idle_for >= SHORT - Duration::from_millis(50), "closed too early: {idle_for:?}");
    assert!(idle_for < SHORT + Duration::from_secs(2), "closed too late: {idle_for:?}");
}

// ---------------------------------------------------------------------------------------------------
// The connection cap

#[tokio::test]
async fn past_the_connection_cap_a_new_client_waits_until_one_closes() {
    let app = TestServer::start(build(App::new().max_connections(4))).await;
    let mut open = Vec::new();
    for _ in 0..4 {
        let connection = app.connect().await;
        connection.get("/health").send().await.assert_status(200);
        open.push(connection);
    }

    let client = app.client();
    let mut fifth = tokio::spawn(async move {
        let connection = client.connect().await;
        let reply = connection.get("/health").send().await;
        (reply.status().as_u16(), connection)
    });
    let early = tokio::time::timeout(Duration::from_millis(500), &mut fifth).await;
    assert!(early.is_err(), "the fifth connection was served while four were open");

    drop(open.pop());
    let (status, _fifth) = within(WAIT, "the fifth client is served", fifth).await.expect("no panic");
    assert_eq!(status, 200);
    // The others were not disturbed.
    for connection in &open {
        connection.get("/health").send().await.assert_status(200);
    }
}

// ---------------------------------------------------------------------------------------------------
// Health under a mix of hostile clients

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_within_a_second_while_slow_clients_are_timed_out() {
    let app =
        TestServer::start(build(App::new().body_read_timeout(SHORT).write_timeout(SHORT).header_read_timeout(SHORT)))
            .await;
    let mut hostile = Vec::new();
    for i in 0..12 {
        let addr = app.addr();
        hostile.push(tokio::spawn(async move {
            let mut stream = match i % 3 {
                0 => connect_without_reading(addr).await,
                _ => connect(addr).await,
            };
            let bytes: &[u8] = match i % 3 {
                0 => b"GET /big HTTP/1.1\r\nhost: x\r\n\r\n",
                1 => {
                    b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"
                }
                _ => b"GET /health HTTP/1.1\r\nhost: x\r\nx-half",
            };
            write(&mut stream, bytes).await;
            // Each one is dropped by its deadline (a reset is fine).
            let _ = read_until_closed(&mut stream, WAIT).await;
        }));
    }
    let started = Instant::now();
    while started.elapsed() < SHORT * 5 {
        let reply = within(Duration::from_secs(1), "/health on a fresh connection", app.get("/health").send()).await;
        assert_eq!(reply.status(), 200);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for client in hostile {
        within(WAIT, "every hostile client is dropped", client).await.expect("no panic");
    }
}

// ---------------------------------------------------------------------------------------------------
// The buffered body budget

#[tokio::test]
async fn a_body_that_would_exceed_the_budget_gets_503_with_retry_after_and_others_pass() {
    const BUDGET: usize = 1024;
    let app = TestServer::start(build(App::new().body_budget(BUDGET).body_read_timeout(Duration::from_secs(1)))).await;

    // Over the budget on its own (though under the body limit).
    let reply = app.post("/echo").body_with_type("application/json", text_body(BUDGET + 1)).send().await;
    reply.assert_error(503, "ServiceUnavailableError");
    assert_eq!(reply.header("retry-after"), Some("1"));
    app.post("/echo").body_with_type("application/json", text_body(BUDGET)).send().await.assert_status(200);

    // A client holds 800 bytes of a 900-byte body: 224 bytes are left for everyone else.
    let mut holder = connect(app.addr()).await;
    let held = json_post("/echo", &text_body(900));
    write(&mut holder, &held[..held.len() - 100]).await;
    let refused = within(WAIT, "the held bytes are charged", async {
        loop {
            let reply = app.post("/echo").body_with_type("application/json", text_body(500)).send().await;
            if reply.status() == 503 {
                return reply;
            }
            assert_eq!(reply.status(), 200, "{}", reply.text());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let body = refused.assert_error(503, "ServiceUnavailableError");
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_eq!(body["message"], "The server could not complete the request");

    // A small body still fits, and requests without one are not affected.
    app.post("/echo").body_with_type("application/json", text_body(200)).send().await.assert_status(200);
    app.get("/health").send().await.assert_status(200);

    // Once the holder's body times out, its bytes are given back.
    let received = read_until_closed(&mut holder, WAIT).await.expect("a clean close after the answer");
    assert!(Raw::parse(&received).status_line.starts_with("HTTP/1.1 408"));
    app.post("/echo").body_with_type("application/json", text_body(500)).send().await.assert_status(200);
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
async fn behind_a_trusted_proxy_the_client_is_the_rightmost_untrusted_forwarded_address() {
    let loopback: IpNet = "127.0.0.0/8".parse().unwrap();
    let app = TestServer::start(build(App::new().trusted_proxies([loopback]))).await;
    // The client wrote `1.2.3.4` itself; the proxy appended the address it saw, then an inner proxy's.
    let reply = app.get("/client-addr").header("x-forwarded-for", "1.2.3.4, 203.0.113.7, 127.0.0.2").send().await;
    assert_eq!(reply.json_value(), json!({"clientAddr": "203.0.113.7"}));
    assert_eq!(reply.header("x-seen-addr"), Some("203.0.113.7"));
    // A header the proxies wrote badly: the peer.
    let reply = app.get("/client-addr").header("x-forwarded-for", "unknown").send().await;
    assert_eq!(reply.json_value(), json!({"clientAddr": "127.0.0.1"}));

    // Without trusted proxies the header is nobody's word.
    let app = TestServer::start(build(App::new())).await;
    let reply = app.get("/client-addr").header("x-forwarded-for", "203.0.113.7").send().await;
    assert_eq!(reply.json_value(), json!({"clientAddr": "127.0.0.1"}));
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
