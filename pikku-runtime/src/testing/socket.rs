//! Loopback transports: a server spawned on `127.0.0.1:0`, a client of any address, one keep-alive
//! connection, and raw bytes for what a well-behaved client cannot send. Every wait is bounded by
//! [`WAIT`].

use std::fmt;
use std::io;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, Mutex};
use tokio::task::JoinHandle;

use super::{request_methods, sealed, within, ClientAddr, TestResponse, Transport, WAIT};
use crate::middleware::BoxFuture;
use crate::server::Server;

/// Most response header lines [`HttpClient::send_raw`] reads.
const MAX_RAW_HEADERS: usize = 64;

/// An application served on `127.0.0.1` with an ephemeral port, on the test's Tokio runtime, until
/// [`shutdown`](Self::shutdown), [`stopped`](Self::stopped) or drop. Each request goes on a fresh
/// connection; [`connect`](Self::connect) opens one to keep.
///
/// ```
/// # async fn demo<Sv: Send + Sync + 'static, S: Clone + Send + Sync + 'static>(server: pikku_runtime::Server<Sv, S>) {
/// let app = pikku_runtime::testing::TestServer::start(server).await;
/// app.get("/health").send().await.assert_status(200);
/// app.stopped().await.expect("serve returns Ok");
/// # }
/// ```
pub struct TestServer {
    client: HttpClient,
    shutdown: Option<oneshot::Sender<()>>,
    serving: Option<JoinHandle<io::Result<()>>>,
}

impl fmt::Debug for TestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestServer").field("addr", &self.client.addr).finish_non_exhaustive()
    }
}

impl TestServer {
    /// Binds `127.0.0.1:0` and spawns `server.serve(..)`.
    ///
    /// # Panics
    /// Outside a Tokio runtime, or when no loopback port can be bound.
    pub async fn start<Sv, S>(server: Server<Sv, S>) -> Self
    where
        Sv: Send + Sync + 'static,
        S: Clone + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind an ephemeral loopback port");
        let addr = listener.local_addr().expect("the bound address");
        let (tx, rx) = oneshot::channel::<()>();
        let serving = tokio::spawn(server.serve(listener, async move {
            // A dropped sender stops the server too.
            let _ = rx.await;
        }));
        Self { client: HttpClient::new(addr), shutdown: Some(tx), serving: Some(serving) }
    }

    /// The address served.
    pub fn addr(&self) -> SocketAddr {
        self.client.addr
    }

    /// A client of this server that can be copied into spawned tasks.
    pub fn client(&self) -> HttpClient {
        self.client
    }

    /// Opens one keep-alive connection.
    ///
    /// # Panics
    /// When the server cannot be reached within [`WAIT`].
    pub async fn connect(&self) -> Connection {
        Connection::open(self.client.addr).await
    }

    /// Sends raw bytes on a fresh connection and reads one response; see [`HttpClient::send_raw`].
    ///
    /// # Errors
    /// See [`HttpClient::send_raw`].
    pub async fn send_raw(&self, bytes: impl Into<Vec<u8>>) -> io::Result<Option<TestResponse>> {
        self.client.send_raw(bytes).await
    }

    /// Fires the shutdown signal: the server stops accepting and lets requests in flight finish.
    pub fn shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Fires the shutdown signal and waits for `serve` to return.
    ///
    /// # Errors
    /// What `serve` returned.
    ///
    /// # Panics
    /// When `serve` panicked or did not return within [`WAIT`].
    pub async fn stopped(mut self) -> io::Result<()> {
        self.shutdown();
        let serving = self.serving.take().expect("`stopped` consumes the server");
        within(WAIT, "serve returns after the shutdown signal", serving).await.expect("the serve task does not panic")
    }

    request_methods!();
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl sealed::Sealed for TestServer {}

impl Transport for TestServer {
    fn exchange(&self, request: http::Request<Bytes>) -> BoxFuture<'_, TestResponse> {
        self.client.exchange(request)
    }
}

/// A client of a server at any address (a binary the test started, for example): each request goes on a
/// fresh HTTP/1.1 connection (hyper's client). `Copy`, so it moves into spawned tasks.
///
/// ```
/// # async fn demo(addr: std::net::SocketAddr) {
/// let client = pikku_runtime::testing::HttpClient::new(addr);
/// let response = client.get("/me").bearer("eyJ...").send().await;
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct HttpClient {
    addr: SocketAddr,
}

impl HttpClient {
    /// A client of the server at `addr`.
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr }
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Opens one keep-alive connection.
    ///
    /// # Panics
    /// When the server cannot be reached within [`WAIT`].
    pub async fn connect(&self) -> Connection {
        Connection::open(self.addr).await
    }

    /// Writes `bytes` on a fresh connection, as they are, and reads one response: for what a
    /// well-behaved client cannot send (a malformed head, a body larger than declared, a huge header).
    /// The write runs beside the read, so a server that answers early and stops reading does not block
    /// it. The response is read up to its `Content-Length` (no chunked bodies).
    ///
    /// # Errors
    /// `Ok(None)` when the server closed the connection without a byte of answer; `Err` when connecting
    /// or reading failed (a reset) before any byte came.
    ///
    /// # Panics
    /// When there is no complete answer within [`WAIT`], or the answer is not HTTP.
    pub async fn send_raw(&self, bytes: impl Into<Vec<u8>>) -> io::Result<Option<TestResponse>> {
        let bytes = bytes.into();
        within(WAIT, "a raw exchange", async {
            let (mut reader, mut writer) = TcpStream::connect(self.addr).await?.into_split();
            // The server may answer and close before it has read everything: a failed write is expected.
            let write = tokio::spawn(async move {
                let _ = writer.write_all(&bytes).await;
                writer
            });
            let read = read_response(&mut reader).await;
            write.abort();
            read
        })
        .await
    }

    request_methods!();
}

impl sealed::Sealed for HttpClient {}

impl Transport for HttpClient {
    fn exchange(&self, request: http::Request<Bytes>) -> BoxFuture<'_, TestResponse> {
        Box::pin(async move {
            let connection = Connection::open(self.addr).await;
            connection.exchange(request).await
        })
    }
}

/// One keep-alive HTTP/1.1 connection: requests go one after another on the same socket.
pub struct Connection {
    addr: SocketAddr,
    sender: Mutex<SendRequest<Full<Bytes>>>,
    driver: JoinHandle<()>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl Connection {
    /// Connects to `addr`.
    ///
    /// # Panics
    /// When the server cannot be reached or the handshake fails within [`WAIT`].
    pub async fn open(addr: SocketAddr) -> Self {
        let stream = within(WAIT, "connect", TcpStream::connect(addr))
            .await
            .unwrap_or_else(|e| panic!("connect to the test server at {addr}: {e}"));
        let (sender, connection) =
            within(WAIT, "handshake", hyper::client::conn::http1::handshake(TokioIo::new(stream)))
                .await
                .expect("an HTTP/1.1 handshake");
        let driver = tokio::spawn(async move {
            // Ends when the server closes the connection; the next request then fails loudly.
            let _ = connection.await;
        });
        Self { addr, sender: Mutex::new(sender), driver }
    }

    request_methods!();
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl sealed::Sealed for Connection {}

impl Transport for Connection {
    fn exchange(&self, mut request: http::Request<Bytes>) -> BoxFuture<'_, TestResponse> {
        assert!(
            request.extensions().get::<ClientAddr>().is_none(),
            "TestRequest::client_addr is for the in-process TestClient; over a socket the client is 127.0.0.1 \
             (send X-Forwarded-For from a trusted proxy instead)"
        );
        if !request.headers().contains_key(header::HOST) {
            let host = HeaderValue::from_str(&self.addr.to_string()).expect("an address is a valid Host");
            request.headers_mut().insert(header::HOST, host);
        }
        Box::pin(async move {
            let what = format!("the response to {} {}", request.method(), request.uri());
            within(WAIT, &what, async {
                let mut sender = self.sender.lock().await;
                sender.ready().await.expect("the connection takes another request");
                let response = sender.send_request(request.map(Full::new)).await.expect("a response");
                let (head, body) = response.into_parts();
                let body = body.collect().await.expect("the whole response body").to_bytes();
                TestResponse::new(head.status, head.headers, body)
            })
            .await
        })
    }
}

/// Reads one response: the head parsed with `httparse` (hyper's own parser), then `Content-Length`
/// bytes of body. A read error after the first byte ends the read (a server that answers and resets).
async fn read_response(stream: &mut (impl AsyncReadExt + Unpin)) -> io::Result<Option<TestResponse>> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let (status, headers, head_len) = loop {
        let mut slots = [httparse::EMPTY_HEADER; MAX_RAW_HEADERS];
        let mut parsed = httparse::Response::new(&mut slots);
        match parsed.parse(&buffer) {
            Ok(httparse::Status::Complete(head_len)) => {
                let status = StatusCode::from_u16(parsed.code.expect("a complete head has a status"))
                    .unwrap_or_else(|e| panic!("status of {:?}: {e}", String::from_utf8_lossy(&buffer[..head_len])));
                let mut headers = HeaderMap::new();
                for h in parsed.headers.iter() {
                    let name = HeaderName::from_bytes(h.name.as_bytes()).expect("httparse checked the name");
                    headers.append(name, HeaderValue::from_bytes(h.value).expect("httparse checked the value"));
                }
                break (status, headers, head_len);
            }
            Ok(httparse::Status::Partial) => {}
            Err(e) => panic!("not an HTTP response ({e}): {:?}", String::from_utf8_lossy(&buffer)),
        }
        match stream.read(&mut chunk).await {
            Ok(0) if buffer.is_empty() => return Ok(None),
            Err(e) if buffer.is_empty() => return Err(e),
            Ok(0) | Err(_) => {
                panic!("the connection ended inside the response head: {:?}", String::from_utf8_lossy(&buffer))
            }
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    };
    let length: usize =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = buffer.split_off(head_len);
    while body.len() < length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    body.truncate(length);
    Ok(Some(TestResponse::new(status, headers, Bytes::from(body))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn read_response_parses_the_head_and_reads_the_declared_body() {
        let answer = b"HTTP/1.1 413 Payload Too Large\r\ncontent-type: application/json\r\ncontent-length: 7\r\nx-a: 1\r\nx-a: 2\r\n\r\n{\"a\":1}trailing";
        let response = read_response(&mut &answer[..]).await.unwrap().expect("a response");
        assert_eq!(response.status(), 413);
        assert_eq!(response.header_all("x-a"), ["1", "2"]);
        assert_eq!(response.json_value(), serde_json::json!({"a": 1}));
    }

    #[tokio::test]
    async fn read_response_is_none_when_the_server_closes_without_answering() {
        assert!(read_response(&mut &b""[..]).await.unwrap().is_none());
    }

    #[tokio::test]
    #[should_panic(expected = "inside the response head")]
    async fn a_truncated_head_fails_loudly() {
        let _ = read_response(&mut &b"HTTP/1.1 200 OK\r\ncontent-le"[..]).await;
    }
}
