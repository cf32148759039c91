//! Shared by the auth-demo contract tests: the demo binary on an ephemeral loopback port, a small
//! HTTP/1.1 client on hyper, raw TCP for what a well-behaved client will not send, and token crafting
//! with the known secret. Every wait is bounded.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The HS256 secret every test server runs with (at least 32 bytes).
pub const SECRET: &str = "auth-demo-integration-test-secret-0123456789";
/// Longest any single wait may take.
pub const WAIT: Duration = Duration::from_secs(10);
/// The demo binary.
pub const BIN: &str = env!("CARGO_BIN_EXE_auth-demo");

pub const ALICE: (&str, &str) = ("alice@example.com", "correct horse");
pub const BOB: (&str, &str) = ("bob@example.com", "battery staple");
pub const API_KEY: &str = "test-key-1";

/// Awaits `fut`, failing the test with `what` when it takes longer than [`WAIT`].
pub async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(WAIT, fut).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {WAIT:?}: {what}"),
    }
}

// ---------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------

/// The demo binary serving on 127.0.0.1; killed on drop.
pub struct Server {
    pub addr: SocketAddr,
    child: Child,
}

impl Server {
    /// Starts the binary with `PORT=0`, `HOST=127.0.0.1` and [`SECRET`], and waits for its address line.
    pub fn start() -> Self {
        let mut child = Command::new(BIN)
            .env("PORT", "0")
            .env("HOST", "127.0.0.1")
            .env("PIKKU_JWT_SECRET", SECRET)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the auth-demo binary");
        let stdout = child.stdout.take().expect("piped stdout");
        let line = match first_line(stdout, WAIT) {
            Some(line) => line,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("auth-demo printed no address line within {WAIT:?}");
            }
        };
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .and_then(|a| a.parse::<SocketAddr>().ok())
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"));
        assert!(addr.ip().is_loopback(), "{addr}");
        assert_ne!(addr.port(), 0);
        Self { addr, child }
    }

    /// `http://127.0.0.1:<port>`: the origin of this server.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sends one request on a fresh connection.
    pub async fn send(&self, req: Req) -> Resp {
        send(self.addr, req).await
    }

    /// Logs in and returns (bearer token, the cookie's token).
    pub async fn login(&self, who: (&str, &str)) -> (String, String) {
        let resp = self.send(Req::post("/login").json(&serde_json::json!({"email": who.0, "password": who.1}))).await;
        assert_eq!(resp.status, 200, "login: {}", resp.text());
        let token = resp.json()["token"].as_str().expect("token").to_owned();
        let cookie = resp.session_cookie().expect("login sets the session cookie");
        (token, cookie)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first line of `stream`, read on a helper thread so the wait is bounded. The thread then keeps
/// draining the stream so the child never blocks on a full pipe.
pub fn first_line(stream: impl std::io::Read + Send + 'static, limit: Duration) -> Option<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = tx.send(line);
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    rx.recv_timeout(limit).ok().filter(|line| !line.is_empty())
}

/// One server shared by the tests of a binary that run at the same time: it lives while any test holds
/// it, so the process is always killed (statics are never dropped).
pub fn shared() -> Arc<Server> {
    static SHARED: Mutex<Weak<Server>> = Mutex::new(Weak::new());
    let mut slot = SHARED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(server) = slot.upgrade() {
        return server;
    }
    let server = Arc::new(Server::start());
    *slot = Arc::downgrade(&server);
    server
}

// ---------------------------------------------------------------------------
// HTTP client
// ---------------------------------------------------------------------------

/// A request to send.
#[derive(Clone, Debug)]
pub struct Req {
    pub method: Method,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Req {
    pub fn new(method: Method, path: &str) -> Self {
        Self { method, path: path.to_owned(), headers: Vec::new(), body: Vec::new() }
    }

    pub fn get(path: &str) -> Self {
        Self::new(Method::GET, path)
    }

    pub fn post(path: &str) -> Self {
        Self::new(Method::POST, path)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub fn cookie(self, token: &str) -> Self {
        self.header("cookie", &format!("session={token}"))
    }

    pub fn json(self, value: &serde_json::Value) -> Self {
        self.body("application/json", serde_json::to_vec(value).unwrap())
    }

    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self.header("content-type", content_type)
    }
}

/// A response, read in full.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().expect("visible ASCII header"))
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect()
    }

    /// The value of the `session` cookie this response sets (non-empty), if any.
    pub fn session_cookie(&self) -> Option<String> {
        let set = self.set_cookies();
        let value = set.iter().find_map(|c| c.strip_prefix("session="))?;
        let value = value.split(';').next().unwrap_or_default();
        (!value.is_empty()).then(|| value.to_owned())
    }

    /// Whether this response removes the `session` cookie, with the exact removal attributes.
    pub fn removes_session_cookie(&self) -> bool {
        self.set_cookies().iter().any(|c| c.starts_with("session=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"))
    }

    /// Asserts a JSON error body `{"name","message","errorId"}` with this status and name.
    pub fn assert_error(&self, status: u16, name: &str) -> serde_json::Value {
        assert_eq!(self.status, status, "{}", self.text());
        let body = self.json();
        assert_eq!(body["name"], name, "{body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
        assert!(body["errorId"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
        body
    }

    /// Asserts a 422 whose payload and message name `field`.
    pub fn assert_invalid_field(&self, field: &str) {
        let body = self.assert_error(422, "UnprocessableContentError");
        assert_eq!(body["payload"]["field"], field, "{body}");
        assert!(body["message"].as_str().unwrap().contains(field), "{body}");
    }
}

/// Sends `req` to `addr` on a fresh HTTP/1.1 connection.
pub async fn send(addr: SocketAddr, req: Req) -> Resp {
    within(&format!("{} {}", req.method, req.path), async {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("HTTP/1.1 handshake");
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut builder = Request::builder().method(req.method.clone()).uri(&req.path).header("host", addr.to_string());
        for (name, value) in &req.headers {
            builder = builder.header(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_bytes(value.as_bytes()).unwrap(),
            );
        }
        let request = builder.body(Full::new(Bytes::from(req.body.clone()))).expect("request");
        let response = sender.send_request(request).await.expect("response");
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("response body").to_bytes();
        Resp { status: parts.status, headers: parts.headers, body }
    })
    .await
}

/// Writes `head` then `body` on raw TCP (the write may be cut short by the server) and returns the status
/// code and the raw response head.
pub async fn raw(addr: SocketAddr, head: &str, body: &[u8]) -> (u16, String) {
    within("raw request", async {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let (mut reader, mut writer) = stream.into_split();
        let head = head.to_owned();
        let body = body.to_vec();
        let write = tokio::spawn(async move {
            if writer.write_all(head.as_bytes()).await.is_ok() {
                let _ = writer.write_all(&body).await;
            }
            writer
        });
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match reader.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        write.abort();
        let text = String::from_utf8_lossy(&buf).into_owned();
        let status = text
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {text:?}"));
        (status, text)
    })
    .await
}

// ---------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------

pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// The decoded header and payload of a JWT (no verification).
pub fn parts(token: &str) -> (serde_json::Value, serde_json::Value) {
    let mut segments = token.split('.');
    let mut decode = || {
        let segment = segments.next().expect("JWT segment");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).expect("base64url")).expect("JSON")
    };
    let header = decode();
    let payload = decode();
    assert_eq!(token.split('.').count(), 3, "three segments");
    (header, payload)
}

/// The session id: the part of `jti` before `.`.
pub fn session_id(token: &str) -> String {
    let (_, payload) = parts(token);
    let jti = payload["jti"].as_str().expect("jti").to_owned();
    jti.split_once('.').map_or(jti.clone(), |(sid, _)| sid.to_owned())
}

/// Signs `claims` with `alg` and the known secret (or `secret`), header `kid` as given.
pub fn sign_with(alg: jsonwebtoken::Algorithm, kid: Option<&str>, secret: &[u8], claims: &serde_json::Value) -> String {
    let mut header = jsonwebtoken::Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &jsonwebtoken::EncodingKey::from_secret(secret)).expect("sign")
}

/// HS256 with the server's secret.
pub fn sign(kid: Option<&str>, claims: &serde_json::Value) -> String {
    sign_with(jsonwebtoken::Algorithm::HS256, kid, SECRET.as_bytes(), claims)
}

/// A random base64url string of `bytes` random-ish bytes (unique per call; no rand dependency).
pub fn random_b64(bytes: usize) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64
        ^ COUNTER.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ u64::from(std::process::id()) << 32;
    let mut state = seed | 1;
    let raw: Vec<u8> = (0..bytes)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    URL_SAFE_NO_PAD.encode(raw)
}

/// A `jti` as the demo mints: `<22 base64url chars>.<12 base64url chars>`.
pub fn new_jti() -> String {
    format!("{}.{}", random_b64(16), random_b64(9))
}

/// A demo-layout token for `userId`/`role` issued `age` seconds ago and living `lifetime` seconds.
pub fn aged_token(user_id: &str, role: &str, age: i64, lifetime: i64) -> String {
    let iat = now() - age;
    sign(
        Some("primary"),
        &serde_json::json!({"userId": user_id, "role": role, "iat": iat, "exp": iat + lifetime, "jti": new_jti()}),
    )
}

/// Changes the first character of the signature (the last one may only carry padding bits).
pub fn tamper(token: &str) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let first = token.rfind('.').unwrap() + 1;
    bytes[first] = if bytes[first] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

pub const DAY: i64 = 24 * 60 * 60;

/// Seconds since the epoch of an IMF-fixdate such as `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn parse_http_date(date: &str) -> i64 {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let fields: Vec<&str> = date.split_whitespace().collect();
    assert_eq!(fields.len(), 6, "not an HTTP date: {date:?}");
    assert_eq!(fields[5], "GMT", "{date:?}");
    let day: i64 = fields[1].parse().unwrap();
    let month = MONTHS.iter().position(|m| *m == fields[2]).unwrap_or_else(|| panic!("month in {date:?}")) as i64 + 1;
    let year: i64 = fields[3].parse().unwrap();
    let hms: Vec<i64> = fields[4].split(':').map(|p| p.parse().unwrap()).collect();
    // Days from civil (Howard Hinnant).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * DAY + hms[0] * 3600 + hms[1] * 60 + hms[2]
}
