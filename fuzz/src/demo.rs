//! The auth demo in-process (`Server::dispatch`, the server's own pipeline), the credentials a fuzz input
//! can splice into a request, and the rules every response must satisfy.
//!
//! Every input meets the same state (an empty session store, no notes): once a request may have changed
//! it (a 2xx to anything but `GET` / `HEAD` / `OPTIONS`: a logout's revocation, a note, a re-login), the
//! next request goes to a freshly built server. So a `POST /logout` of one input does not revoke the
//! credentials of the next, and memory does not grow over millions of inputs. The credentials are minted
//! once, at start, by real logins on a first server; the secret is shared, so every later server accepts
//! them.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use auth_demo::{Services, UserSession};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use http_body_util::BodyExt as _;
use percent_encoding::percent_decode;
use pikku::testing::{tamper, TokenForger};
use pikku::{RequestBody, Server};
use serde_json::{json, Value};

use crate::{jwt_service, FUZZ_SECRET};

/// The `Host` requests carry unless the input chooses another (or none).
pub const HOST: &str = "127.0.0.1:3000";

/// The demo's API key (docs/auth-demo.md): the session `svc`.
pub const API_KEY: &str = auth_demo::DEMO_API_KEY;

/// Re-login once the bearer tokens (one hour) are this old, so a long run keeps valid ones.
const CREDENTIAL_MAX_AGE: Duration = Duration::from_secs(30 * 60);

/// Valid credentials from real logins, and invalid ones a request may carry instead.
#[derive(Debug)]
pub struct Credentials {
    /// alice (`u1`, admin): the bearer token from `/login`.
    pub alice_bearer: String,
    /// alice: the session cookie's token from the same login.
    pub alice_cookie: String,
    /// bob (`u2`, user): bearer token.
    pub bob_bearer: String,
    /// bob: cookie token.
    pub bob_cookie: String,
    /// alice's bearer token with its signature broken.
    pub tampered: String,
    /// alice's session in a token that expired a minute ago.
    pub expired: String,
    /// alice's session signed with another secret.
    pub foreign: String,
    minted: Instant,
}

impl Credentials {
    /// The valid credentials with the user id of the session each one carries.
    pub fn valid(&self) -> [(&str, &'static str); 5] {
        [
            (&self.alice_bearer, "u1"),
            (&self.alice_cookie, "u1"),
            (&self.bob_bearer, "u2"),
            (&self.bob_cookie, "u2"),
            (API_KEY, "svc"),
        ]
    }
}

/// The runtime that drives dispatch, and the credentials.
#[derive(Debug)]
pub struct Demo {
    runtime: tokio::runtime::Runtime,
    credentials: std::sync::Mutex<Credentials>,
    /// The server of the next request; `None` once the last one may have changed its state.
    server: std::sync::Mutex<Option<Server<Services, UserSession>>>,
}

/// One response, read in full.
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Answer {
    /// The body as JSON, if it is.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// The demo, built once per process (libFuzzer runs one input at a time on one thread).
pub fn demo() -> &'static Demo {
    static DEMO: OnceLock<Demo> = OnceLock::new();
    DEMO.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a Tokio runtime");
        let credentials = std::sync::Mutex::new(log_in(&runtime));
        Demo { runtime, credentials, server: std::sync::Mutex::new(None) }
    })
}

fn server() -> Server<Services, UserSession> {
    auth_demo::app().build(Services::with_jwt(jwt_service())).expect("the demo builds")
}

/// Logs alice and bob in on a server, as a client does, and forges the invalid credentials.
fn log_in(runtime: &tokio::runtime::Runtime) -> Credentials {
    let server = server();
    let login = |email: &str, password: &str| {
        let body = serde_json::to_vec(&json!({"email": email, "password": password})).expect("JSON");
        let request = http::Request::post("/login")
            .header("host", HOST)
            .header("content-type", "application/json")
            .header("content-length", body.len())
            .body(RequestBody::Buffered(Bytes::from(body)))
            .expect("a valid request");
        let answer = runtime.block_on(send(&server, request));
        assert_eq!(answer.status, 200, "login of {email}: {:?}", answer.body);
        let token = answer.json().and_then(|b| b["token"].as_str().map(str::to_owned)).expect("a token");
        let cookie = answer
            .headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix("session=").map(|rest| rest.split(';').next().unwrap_or_default().to_owned()))
            .expect("a session cookie");
        (token, cookie)
    };
    let (alice_bearer, alice_cookie) = login("alice@example.com", "correct horse");
    let (bob_bearer, bob_cookie) = login("bob@example.com", "battery staple");
    let alice = json!({"userId": "u1", "role": "admin"});
    Credentials {
        tampered: tamper(&alice_bearer),
        expired: TokenForger::hs256(FUZZ_SECRET).expired_token(&alice),
        foreign: TokenForger::hs256(b"another-secret-another-secret-0123456789").aged_token(&alice, 0, 3600),
        alice_bearer,
        alice_cookie,
        bob_bearer,
        bob_cookie,
        minted: Instant::now(),
    }
}

async fn send(server: &Server<Services, UserSession>, request: http::Request<RequestBody>) -> Answer {
    let (head, body) = server.dispatch(request).await.into_parts();
    let body = body.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
    Answer { status: head.status, headers: head.headers, body }
}

impl Demo {
    /// The credentials, re-minted by new logins once the bearer tokens near their expiry.
    pub fn credentials(&self) -> std::sync::MutexGuard<'_, Credentials> {
        let mut credentials = self.credentials.lock().unwrap_or_else(|p| p.into_inner());
        if credentials.minted.elapsed() > CREDENTIAL_MAX_AGE {
            *credentials = log_in(&self.runtime);
        }
        credentials
    }

    /// Runs `request` through a demo server in its initial state.
    pub fn send(&self, request: http::Request<RequestBody>) -> Answer {
        let mut slot = self.server.lock().unwrap_or_else(|p| p.into_inner());
        let may_change_state = !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        let server = slot.take().unwrap_or_else(server);
        let answer = self.runtime.block_on(send(&server, request));
        if !(may_change_state && answer.status.is_success()) {
            *slot = Some(server);
        }
        answer
    }
}

/// Which credential a fuzz input splices in.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Credential {
    /// alice's bearer token.
    AliceBearer,
    /// alice's cookie token.
    AliceCookie,
    /// bob's bearer token.
    BobBearer,
    /// bob's cookie token.
    BobCookie,
    /// The API key.
    ApiKey,
    /// alice's token, signature broken.
    Tampered,
    /// An expired token.
    Expired,
    /// A token signed with another secret.
    Foreign,
    /// alice's token cut short at a position.
    Truncated(u16),
    /// alice's token with one byte replaced.
    Mutated(u16, u8),
}

impl Credential {
    /// The credential's bytes.
    pub fn bytes(self, c: &Credentials) -> Vec<u8> {
        match self {
            Credential::AliceBearer => c.alice_bearer.clone().into_bytes(),
            Credential::AliceCookie => c.alice_cookie.clone().into_bytes(),
            Credential::BobBearer => c.bob_bearer.clone().into_bytes(),
            Credential::BobCookie => c.bob_cookie.clone().into_bytes(),
            Credential::ApiKey => API_KEY.as_bytes().to_vec(),
            Credential::Tampered => c.tampered.clone().into_bytes(),
            Credential::Expired => c.expired.clone().into_bytes(),
            Credential::Foreign => c.foreign.clone().into_bytes(),
            Credential::Truncated(at) => {
                let token = c.alice_bearer.as_bytes();
                token[..usize::from(at) % token.len()].to_vec()
            }
            Credential::Mutated(at, byte) => {
                let mut token = c.alice_bearer.clone().into_bytes();
                let at = usize::from(at) % token.len();
                token[at] = byte;
                token
            }
        }
    }
}

/// Text a fuzz input gives: a credential, a word the pipeline knows, or raw bytes.
#[derive(Arbitrary, Debug, Clone)]
pub enum Text {
    /// A credential.
    Credential(Credential),
    /// One of [`WORDS`].
    Word(u8),
    /// Raw bytes.
    Raw(Vec<u8>),
}

/// Words worth trying where the demo reads text.
pub const WORDS: &[&str] = &[
    "session",
    "Session",
    "apiKey",
    "apikey",
    "limit",
    "userId",
    "text",
    "u1",
    "u2",
    "svc",
    "0",
    "1",
    "500",
    "501",
    "-1",
    "4294967296",
    "true",
    "null",
    "",
    " ",
    "%",
    "%zz",
    "%00",
    "=",
    ";",
    ",",
    "\"",
    "Bearer",
    "bearer",
    "Basic",
];

impl Text {
    /// The text's bytes.
    pub fn bytes(&self, c: &Credentials) -> Vec<u8> {
        match self {
            Text::Credential(credential) => credential.bytes(c),
            Text::Word(i) => WORDS[usize::from(*i) % WORDS.len()].as_bytes().to_vec(),
            Text::Raw(bytes) => bytes.clone(),
        }
    }
}

/// A `Cookie` header value: raw bytes, or `name=value` pairs with chosen separators, so repeated names
/// (`session=garbage; session=<valid>`), quoting and stray spaces are all reachable.
#[derive(Arbitrary, Debug, Clone)]
pub enum CookieValue {
    /// Raw bytes.
    Raw(Vec<u8>),
    /// Pairs.
    Pairs(Vec<CookiePair>),
}

/// One `name=value` of a `Cookie` header.
#[derive(Arbitrary, Debug, Clone)]
pub struct CookiePair {
    /// The name (`session` by default, as the demo names its cookie).
    pub name: Option<Text>,
    /// The value.
    pub value: Text,
    /// Put the value in double quotes.
    pub quoted: bool,
    /// What separates it from the previous pair: `; `, `;`, `,`, ` ; ` or nothing.
    pub separator: u8,
}

impl CookieValue {
    /// The header value's bytes.
    pub fn bytes(&self, c: &Credentials) -> Vec<u8> {
        match self {
            CookieValue::Raw(bytes) => bytes.clone(),
            CookieValue::Pairs(pairs) => {
                let mut out = Vec::new();
                for (i, pair) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.extend_from_slice([&b"; "[..], b";", b",", b" ; ", b""][usize::from(pair.separator) % 5]);
                    }
                    match &pair.name {
                        Some(name) => out.extend(name.bytes(c)),
                        None => out.extend_from_slice(b"session"),
                    }
                    out.push(b'=');
                    if pair.quoted {
                        out.push(b'"');
                    }
                    out.extend(pair.value.bytes(c));
                    if pair.quoted {
                        out.push(b'"');
                    }
                }
                out
            }
        }
    }
}

/// An `Authorization` header value: a scheme, a separator, a token and a suffix, or raw bytes.
#[derive(Arbitrary, Debug, Clone)]
pub enum AuthorizationValue {
    /// Raw bytes.
    Raw(Vec<u8>),
    /// `<scheme><separator><token><suffix>`.
    Scheme {
        /// `Bearer`, `bearer`, `BEARER`, `Basic`, or other bytes.
        scheme: Text,
        /// ` `, two spaces, a tab, or nothing.
        separator: u8,
        /// The token.
        token: Text,
        /// Bytes after the token.
        suffix: Vec<u8>,
    },
}

impl AuthorizationValue {
    /// The header value's bytes.
    pub fn bytes(&self, c: &Credentials) -> Vec<u8> {
        match self {
            AuthorizationValue::Raw(bytes) => bytes.clone(),
            AuthorizationValue::Scheme { scheme, separator, token, suffix } => {
                let mut out = match scheme {
                    Text::Word(i) => [&b"Bearer"[..], b"bearer", b"BEARER", b"Basic"][usize::from(*i) % 4].to_vec(),
                    other => other.bytes(c),
                };
                out.extend_from_slice([&b" "[..], b"  ", b"\t", b""][usize::from(*separator) % 4]);
                out.extend(token.bytes(c));
                out.extend_from_slice(suffix);
                out
            }
        }
    }
}

/// Appends `name: value` unless `value` is not a valid header value (those never reach the pipeline:
/// hyper refuses them).
pub fn append(headers: &mut HeaderMap, name: &'static str, value: &[u8]) {
    if let Ok(value) = HeaderValue::from_bytes(value) {
        headers.append(HeaderName::from_static(name), value);
    }
}

/// Whether a method is unsafe (RFC 9110 §9.2.1): what CSRF protection guards.
fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE)
}

/// What the response rules need to know of a request, taken before it is sent.
#[derive(Debug)]
pub struct Sent {
    method: Method,
    headers: HeaderMap,
    /// The query, percent-decoded.
    query: String,
}

impl Sent {
    /// Records `request`.
    pub fn of(request: &http::Request<RequestBody>) -> Self {
        let query = request.uri().query().unwrap_or_default();
        let query = percent_decode(query.replace('+', " ").as_bytes()).decode_utf8_lossy().into_owned();
        Self { method: request.method().clone(), headers: request.headers().clone(), query }
    }

    /// The request's headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers.get_all(name).iter().map(HeaderValue::as_bytes)
    }

    /// Whether the request carries `credential` verbatim where a strategy reads one: a bearer or cookie
    /// header, the API-key header or the query.
    fn carries(&self, credential: &str) -> bool {
        let needle = credential.as_bytes();
        let in_headers = ["authorization", "cookie", "x-api-key"]
            .iter()
            .flat_map(|name| self.values(name))
            .any(|value| value.windows(needle.len()).any(|w| w == needle));
        in_headers || self.query.contains(credential)
    }

    /// No bearer and no API key, so only a cookie can authenticate it.
    fn cookie_only(&self) -> bool {
        !self.headers.contains_key("authorization")
            && !self.headers.contains_key("x-api-key")
            && !self.query.to_ascii_lowercase().contains("apikey")
    }

    /// A browser would mark it cross-site: `Sec-Fetch-Site: cross-site`, or an `Origin` that cannot be
    /// the request's own (it does not even contain the `Host`).
    fn cross_site(&self) -> bool {
        let fetch = self.values("sec-fetch-site").any(|v| v.eq_ignore_ascii_case(b"cross-site"));
        let hosts: Vec<Vec<u8>> = self.values("host").map(<[u8]>::to_ascii_lowercase).collect();
        let foreign = self.values("origin").any(|origin| {
            let origin = origin.to_ascii_lowercase();
            !hosts.iter().any(|host| !host.is_empty() && origin.windows(host.len()).any(|w| w == host.as_slice()))
        });
        fetch || foreign
    }
}

/// The rules every response of the demo satisfies, whatever the request (docs/request-pipeline.md,
/// docs/auth-demo.md, docs/auth-strategies.md):
///
/// * no 5xx: the in-memory demo has nothing that may fail, so one is a bug (a 500 is a caught panic);
/// * `x-request-id` on every response; every error body is JSON `{"name","message","errorId"}` with
///   `errorId` the `x-request-id` (except for `HEAD`, which has no body);
/// * a 2xx from anything but `/health` and `/login` (a session route) only for a request that carries a
///   valid credential verbatim, and a profile (`/me`, `/admin`) only of a user whose credential it carries;
/// * no 2xx on a session route for an unsafe, cookie-only request a browser marks cross-site (CSRF).
///
/// # Panics
/// On the first rule broken, naming it.
pub fn check(sent: &Sent, answer: &Answer, credentials: &Credentials) {
    let status = answer.status;
    assert!(!status.is_server_error(), "{status} for {sent:?}: {answer:?}");
    let request_id = answer.headers.get("x-request-id").and_then(|v| v.to_str().ok());
    let request_id = request_id.unwrap_or_else(|| panic!("no x-request-id on {status} for {sent:?}"));

    if status.is_client_error() && sent.method != Method::HEAD {
        let body = answer.json().unwrap_or_else(|| panic!("{status} body is not JSON: {answer:?}"));
        for field in ["name", "message", "errorId"] {
            assert!(body[field].is_string(), "{status} body without `{field}`: {body} for {sent:?}");
        }
        assert_eq!(body["errorId"], request_id, "errorId is not the x-request-id: {body}");
    }

    // In-process, a `HEAD` answer keeps its body (hyper drops it on the wire); should it ever be empty,
    // the route cannot be told from it.
    if !status.is_success() || (sent.method == Method::HEAD && answer.body.is_empty()) {
        return;
    }
    let body = answer.json();
    let public = match &body {
        Some(b) => *b == json!({"ok": true}) || b.get("token").is_some(),
        None => false,
    };
    if public {
        return;
    }
    let valid = credentials.valid();
    assert!(
        valid.iter().any(|(credential, _)| sent.carries(credential)),
        "{status} on a session route without a valid credential: {sent:?} -> {answer:?}"
    );
    if let Some(Value::Object(profile)) = &body {
        if profile.len() == 2 && profile.contains_key("role") {
            let user = profile["userId"].as_str().unwrap_or_default();
            assert!(
                valid.iter().any(|(credential, owner)| *owner == user && sent.carries(credential)),
                "the profile of {user} for a request without their credential: {sent:?}"
            );
        }
    }
    assert!(
        !(is_unsafe(&sent.method) && sent.cookie_only() && sent.cross_site()),
        "{status} for a cross-site, cookie-only {} (CSRF): {sent:?}",
        sent.method
    );
}

/// A JSON value built by the fuzzer, depth-limited.
#[derive(Debug, Clone)]
pub struct ArbJson(pub Value);

impl<'a> Arbitrary<'a> for ArbJson {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        arb_value(u, 0).map(ArbJson)
    }
}

fn arb_value(u: &mut arbitrary::Unstructured<'_>, depth: u32) -> arbitrary::Result<Value> {
    let kinds = if depth >= 3 { 6 } else { 8 };
    Ok(match u.int_in_range(0..=kinds - 1)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => Value::from(u.arbitrary::<i64>()?),
        3 => Value::from(u.arbitrary::<u64>()?),
        4 => serde_json::Number::from_f64(u.arbitrary()?).map_or(Value::Null, Value::Number),
        5 => Value::String(u.arbitrary()?),
        6 => {
            let len = u.int_in_range(0..=4)?;
            Value::Array((0..len).map(|_| arb_value(u, depth + 1)).collect::<arbitrary::Result<_>>()?)
        }
        _ => {
            let len = u.int_in_range(0..=4)?;
            let mut map = serde_json::Map::new();
            for _ in 0..len {
                map.insert(u.arbitrary()?, arb_value(u, depth + 1)?);
            }
            Value::Object(map)
        }
    })
}
