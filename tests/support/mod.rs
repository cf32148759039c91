//! Helpers shared by the HTTP test binaries: a real server on an ephemeral loopback port, a small
//! HTTP/1.1 client on hyper, and raw TCP for the cases a well-behaved client cannot produce.
//! Every network wait is bounded.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Longest any single network wait may take in a test.
pub const WAIT: Duration = Duration::from_secs(5);

/// Awaits `fut`, failing the test with `what` when it takes longer than [`WAIT`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    within_for(WAIT, what, fut).await
}

/// Awaits `fut`, failing the test with `what` when it takes longer than `limit`.
pub async fn within_for<T>(limit: Duration, what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, fut).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {limit:?}: {what}"),
    }
}

/// A server serving on 127.0.0.1 with an ephemeral port until [`Running::shutdown`] or drop.
pub struct Running {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<std::io::Result<()>>>,
}

impl Running {
    /// Binds 127.0.0.1:0 and spawns `server.serve(..)` on the test's runtime.
    pub async fn start<Sv, S>(server: pikku::Server<Sv, S>) -> Self
    where
        Sv: Send + Sync + 'static,
        S: Clone + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind an ephemeral loopback port");
        let addr = listener.local_addr().expect("local address");
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(server.serve(listener, async move {
            let _ = rx.await;
        }));
        Self { addr, shutdown: Some(tx), handle: Some(handle) }
    }

    /// Fires the shutdown signal.
    pub fn shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Waits (bounded) for `serve` to return after the shutdown signal.
    pub async fn stopped(mut self) -> std::io::Result<()> {
        self.shutdown();
        let handle = self.handle.take().expect("not yet awaited");
        within("serve returns after the shutdown signal", handle).await.expect("the serve task does not panic")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A response, fully read.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// One header as text (the first, when repeated).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every value of a header, in order.
    pub fn header_all(&self, name: &str) -> Vec<String> {
        self.headers.get_all(name).iter().map(|v| v.to_str().unwrap_or_default().to_owned()).collect()
    }

    /// The body as JSON (panics with the body when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("body is not JSON ({e}); status {}: {:?}", self.status, String::from_utf8_lossy(&self.body))
        })
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts the error shape `{name, message, errorId}` (plus an optional payload) and the status.
    pub fn assert_error(&self, status: u16, name: &str) -> serde_json::Value {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.text());
        assert_eq!(self.header("content-type"), Some("application/json"), "error bodies are JSON");
        let body = self.json();
        assert_eq!(body["name"], name, "error name; body: {body}");
        assert!(body["message"].is_string(), "error message is a string: {body}");
        assert!(body["errorId"].is_string(), "errorId is a string: {body}");
        assert_eq!(
            body["errorId"].as_str(),
            self.header("x-request-id"),
            "errorId is the request id echoed in x-request-id"
        );
        let keys: Vec<&str> = body.as_object().expect("an object").keys().map(String::as_str).collect();
        for key in &keys {
            assert!(["name", "message", "payload", "errorId"].contains(key), "unexpected key {key} in {body}");
        }
        body
    }
}

/// A request builder for `method` and `path`, with a `Host` header.
pub fn request(method: Method, path: &str) -> http::request::Builder {
    Request::builder().method(method).uri(path).header("host", "127.0.0.1")
}

/// A JSON body.
pub fn json_body(value: &serde_json::Value) -> Full<Bytes> {
    Full::new(Bytes::from(serde_json::to_vec(value).expect("serialises")))
}

/// No body.
pub fn empty() -> Full<Bytes> {
    Full::new(Bytes::new())
}

/// One keep-alive client connection (hyper's HTTP/1.1 client).
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    driver: JoinHandle<()>,
}

impl Conn {
    /// Connects to `addr`.
    pub async fn open(addr: SocketAddr) -> Self {
        let stream = within("connect", TcpStream::connect(addr)).await.expect("connect to the test server");
        let (sender, connection) =
            within("handshake", hyper::client::conn::http1::handshake(TokioIo::new(stream))).await.expect("handshake");
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        Self { sender, driver }
    }

    /// Sends one request and reads the whole response.
    pub async fn send(&mut self, request: Request<Full<Bytes>>) -> Reply {
        within("response", async {
            self.sender.ready().await.expect("connection ready for another request");
            let response = self.sender.send_request(request).await.expect("a response");
            let (head, body) = response.into_parts();
            let body = body.collect().await.expect("the response body").to_bytes();
            Reply { status: head.status, headers: head.headers, body }
        })
        .await
    }

    /// Whether the server closed this connection.
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// Sends one request on a fresh connection.
pub async fn send(addr: SocketAddr, request: Request<Full<Bytes>>) -> Reply {
    Conn::open(addr).await.send(request).await
}

/// `GET path` on a fresh connection.
pub async fn get(addr: SocketAddr, path: &str) -> Reply {
    send(addr, request(Method::GET, path).body(empty()).expect("request")).await
}

/// Connects a raw TCP stream.
pub async fn raw_connect(addr: SocketAddr) -> TcpStream {
    within("connect", TcpStream::connect(addr)).await.expect("connect to the test server")
}

/// Writes `bytes` on a fresh raw connection and reads one response (or `None` when the server closed
/// the connection without answering).
pub async fn raw(addr: SocketAddr, bytes: &[u8]) -> std::io::Result<Option<Reply>> {
    let mut stream = raw_connect(addr).await;
    within("raw write", stream.write_all(bytes)).await?;
    within("raw response", read_response(&mut stream)).await
}

/// Reads one HTTP/1.1 response from a raw stream: `Ok(None)` on EOF before any byte.
pub async fn read_response(stream: &mut TcpStream) -> std::io::Result<Option<Reply>> {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(pos) = find(&buf, b"\r\n\r\n") {
            break pos + 4;
        }
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            if buf.is_empty() {
                return Ok(None);
            }
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "EOF inside the response head"));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_end]).expect("an ASCII response head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("a status line");
    let code: u16 = status_line.split(' ').nth(1).and_then(|c| c.parse().ok()).expect("a status code");
    let mut headers = HeaderMap::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').expect("a header line");
        headers.append(
            http::HeaderName::from_bytes(name.trim().as_bytes()).expect("header name"),
            http::HeaderValue::from_str(value.trim()).expect("header value"),
        );
    }
    let length: usize =
        headers.get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Ok(Some(Reply { status: StatusCode::from_u16(code).expect("status"), headers, body: Bytes::from(body) }))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads until the server closes the stream; `Ok(bytes read)` on a clean close, `Err` on a reset.
pub async fn read_to_close(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut all = Vec::new();
    stream.read_to_end(&mut all).await?;
    Ok(all)
}
