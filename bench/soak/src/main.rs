//! The soak client of `bench/soak.sh`: minutes of mixed traffic against a running auth demo over
//! keep-alive HTTP/1.1 connections, checked against the demo's contract (docs/auth-demo.md) as it goes,
//! with the server's RSS and open file descriptors sampled from `/proc`.
//!
//! ```text
//! PIKKU_JWT_SECRET=... pikku-soak --addr 127.0.0.1:3000 --seconds 300 --pid <server pid> --csv samples.csv
//! ```
//!
//! Each connection runs one worker that logs in as alice (admin) and bob, then picks operations at random:
//! health, good and bad logins, `/me` by bearer, cookie and API key (header and query), bad and expired
//! tokens, tampered cookies, `/admin`, notes added and listed, and logouts of fresh logins. Every answer is
//! checked (its status, and what the contract says of it); at the end every note that was accepted must be
//! listed, no request may have got a 5xx or failed to connect, and the server's descriptors must be back
//! to where they started. Exits 1 on any violation, after the summary.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use clap::Parser;
use http::{header, HeaderMap, Method, Request};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use jsonwebtoken::{EncodingKey, Header};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde_json::{json, Value};
use tokio::net::TcpSocket;

/// Longest a request may take before it counts as a connection error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// A user's notes are listed with this limit (the demo's largest)...
const LIST_LIMIT: usize = 500;
/// ...so each soak user gets fewer notes than that, and every accepted one must be listed.
const NOTES_PER_USER: usize = 400;
/// Violations printed in full; the rest are counted.
const SHOWN_VIOLATIONS: usize = 20;
/// Descriptors the server may hold beyond its starting count once every client connection is closed.
const FD_SLACK: u64 = 4;

const ALICE: (&str, &str, &str) = ("alice@example.com", "correct horse", "u1");
const BOB: (&str, &str, &str) = ("bob@example.com", "battery staple", "u2");
const API_KEY: &str = "test-key-1";

#[derive(Parser, Debug)]
#[command(about = "Mixed traffic against a running auth demo, its invariants checked")]
struct Args {
    /// The demo's address.
    #[arg(long)]
    addr: SocketAddr,
    /// How long to run.
    #[arg(long, default_value_t = 300)]
    seconds: u64,
    /// Concurrent keep-alive connections (one worker each).
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// The server's pid: its RSS and open descriptors are sampled.
    #[arg(long)]
    pid: Option<u32>,
    /// Seconds between samples.
    #[arg(long, default_value_t = 5)]
    sample_seconds: u64,
    /// Where to write the samples (CSV: elapsed_s,requests,rss_kib,fds).
    #[arg(long)]
    csv: Option<PathBuf>,
    /// The loopback address bad logins are sent from: the demo's login throttle counts failures per client
    /// address, so they must not lock out the good logins, which come from the default address.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))]
    bad_login_source: IpAddr,
    /// Leave out what the server keeps by contract (notes, and the revocations of logouts), so its memory
    /// should stay flat: what grows then is a leak.
    #[arg(long)]
    stateless: bool,
}

/// One answer, read in full.
struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn excerpt(&self) -> String {
        String::from_utf8_lossy(&self.body[..self.body.len().min(200)]).into_owned()
    }
}

/// One keep-alive connection, reopened after an error.
struct Conn {
    addr: SocketAddr,
    source: Option<IpAddr>,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    fn new(addr: SocketAddr, source: Option<IpAddr>) -> Self {
        Self { addr, source, sender: None }
    }

    async fn open(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let socket = if self.addr.is_ipv4() { TcpSocket::new_v4() } else { TcpSocket::new_v6() };
        let socket = socket.map_err(|e| format!("socket: {e}"))?;
        if let Some(source) = self.source {
            socket.bind(SocketAddr::new(source, 0)).map_err(|e| format!("bind {source}: {e}"))?;
        }
        let stream = socket.connect(self.addr).await.map_err(|e| format!("connect: {e}"))?;
        stream.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }

    async fn send(&mut self, request: Request<Full<Bytes>>) -> Result<Reply, String> {
        let attempt = async {
            let mut sender = match self.sender.take() {
                Some(sender) => sender,
                None => self.open().await?,
            };
            sender.ready().await.map_err(|e| format!("connection not ready: {e}"))?;
            let response = sender.send_request(request).await.map_err(|e| format!("request: {e}"))?;
            let (head, body) = response.into_parts();
            let body = body.collect().await.map_err(|e| format!("body: {e}"))?.to_bytes();
            self.sender = Some(sender);
            Ok(Reply { status: head.status.as_u16(), headers: head.headers, body })
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, attempt).await {
            Ok(result) => result,
            Err(_) => {
                self.sender = None;
                Err(format!("no answer within {REQUEST_TIMEOUT:?}"))
            }
        }
    }
}

/// What one worker counted.
#[derive(Default)]
struct Stats {
    requests: u64,
    connection_errors: u64,
    by_status: BTreeMap<u16, u64>,
    by_operation: BTreeMap<(&'static str, u16), u64>,
    violations: Vec<String>,
    violation_count: u64,
    notes_added: u64,
    notes_verified: u64,
    notes_lost: u64,
}

impl Stats {
    fn violation(&mut self, message: String) {
        self.violation_count += 1;
        if self.violations.len() < SHOWN_VIOLATIONS {
            self.violations.push(message);
        }
    }

    fn merge(&mut self, other: Stats) {
        self.requests += other.requests;
        self.connection_errors += other.connection_errors;
        for (k, v) in other.by_status {
            *self.by_status.entry(k).or_default() += v;
        }
        for (k, v) in other.by_operation {
            *self.by_operation.entry(k).or_default() += v;
        }
        self.violation_count += other.violation_count;
        for v in other.violations {
            if self.violations.len() < SHOWN_VIOLATIONS {
                self.violations.push(v);
            }
        }
        self.notes_added += other.notes_added;
        self.notes_verified += other.notes_verified;
        self.notes_lost += other.notes_lost;
    }
}

/// A logged-in user: the bearer token and the cookie's token of one login.
#[derive(Clone)]
struct Login {
    bearer: String,
    cookie: String,
    user_id: &'static str,
}

/// Invalid tokens every worker sends.
struct BadTokens {
    expired: String,
    foreign: String,
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn forge(secret: &[u8], claims: &Value) -> String {
    let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("primary".to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).expect("HMAC signing does not fail")
}

/// The token with one signature character changed: still well-formed, no longer ours.
fn tamper(token: &str) -> String {
    let (signed, signature) = token.rsplit_once('.').expect("a JWT has three segments");
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).expect("base64url signature");
    bytes[0] ^= 0x01;
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The operations and their weights in the mix.
const OPERATIONS: [(Op, u32); 13] = [
    (Op::Health, 10),
    (Op::LoginGood, 3),
    (Op::LoginBad, 5),
    (Op::MeBearer, 14),
    (Op::MeCookie, 14),
    (Op::MeApiKeyHeader, 5),
    (Op::MeApiKeyQuery, 3),
    (Op::BadToken, 8),
    (Op::TamperedCookie, 5),
    (Op::Admin, 4),
    (Op::AddNote, 14),
    (Op::ListNotes, 6),
    (Op::Logout, 5),
];

#[derive(Clone, Copy, Debug)]
enum Op {
    Health,
    LoginGood,
    LoginBad,
    MeBearer,
    MeCookie,
    MeApiKeyHeader,
    MeApiKeyQuery,
    BadToken,
    TamperedCookie,
    Admin,
    AddNote,
    ListNotes,
    Logout,
}

struct Worker {
    id: usize,
    conn: Conn,
    bad_login_conn: Conn,
    host: String,
    rng: StdRng,
    stats: Stats,
    alice: Login,
    bob: Login,
    bad: Arc<BadTokens>,
    /// Note ids accepted per soak user, in the order they were added.
    notes: HashMap<String, Vec<u64>>,
    user_generation: usize,
    bad_logins: u64,
    counter: Arc<AtomicU64>,
}

fn request(method: Method, uri: &str, host: &str) -> http::request::Builder {
    Request::builder().method(method).uri(uri).header(header::HOST, host)
}

fn empty(builder: http::request::Builder) -> Request<Full<Bytes>> {
    builder.body(Full::new(Bytes::new())).expect("a valid request")
}

fn with_json(builder: http::request::Builder, value: &Value) -> Request<Full<Bytes>> {
    let body = serde_json::to_vec(value).expect("JSON");
    builder
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("a valid request")
}

impl Worker {
    /// Sends `request` on the main connection (or the bad-login one), counts it, and checks its status is
    /// one of `expected`. `Some` only for an expected answer.
    async fn call(
        &mut self,
        operation: &'static str,
        request: Request<Full<Bytes>>,
        expected: &[u16],
        bad_login: bool,
    ) -> Option<Reply> {
        let what = format!("{} {}", request.method(), request.uri());
        let conn = if bad_login { &mut self.bad_login_conn } else { &mut self.conn };
        let result = conn.send(request).await;
        self.stats.requests += 1;
        self.counter.fetch_add(1, Ordering::Relaxed);
        match result {
            Err(e) => {
                self.stats.connection_errors += 1;
                self.stats.violation(format!("worker {}: {operation} ({what}): connection error: {e}", self.id));
                None
            }
            Ok(reply) => {
                *self.stats.by_status.entry(reply.status).or_default() += 1;
                *self.stats.by_operation.entry((operation, reply.status)).or_default() += 1;
                if !expected.contains(&reply.status) {
                    self.stats.violation(format!(
                        "worker {}: {operation} ({what}): {} (expected {expected:?}): {}",
                        self.id,
                        reply.status,
                        reply.excerpt()
                    ));
                    return None;
                }
                Some(reply)
            }
        }
    }

    async fn login(&mut self, who: (&'static str, &'static str, &'static str)) -> Option<Login> {
        let body = json!({"email": who.0, "password": who.1});
        let reply =
            self.call("login_good", with_json(request(Method::POST, "/login", &self.host), &body), &[200], false);
        let reply = reply.await?;
        let bearer = reply.json()["token"].as_str().map(str::to_owned);
        let cookie = reply.headers.get_all(header::SET_COOKIE).iter().find_map(|v| {
            let v = v.to_str().ok()?.strip_prefix("session=")?;
            Some(v.split(';').next().unwrap_or_default().to_owned())
        });
        match (bearer, cookie) {
            (Some(bearer), Some(cookie)) if !bearer.is_empty() && !cookie.is_empty() => {
                Some(Login { bearer, cookie, user_id: who.2 })
            }
            _ => {
                self.stats.violation(format!("worker {}: login of {} without a token and a cookie", self.id, who.0));
                None
            }
        }
    }

    /// `GET /me` with `credential` expecting `user_id`'s profile.
    async fn me(&mut self, operation: &'static str, builder: http::request::Builder, user_id: &str) {
        if let Some(reply) = self.call(operation, empty(builder), &[200], false).await {
            if reply.json()["userId"] != user_id {
                self.stats.violation(format!(
                    "worker {}: {operation}: not {user_id}'s profile: {}",
                    self.id,
                    reply.excerpt()
                ));
            }
        }
    }

    fn current_user(&mut self) -> String {
        let user = format!("soak-{}-{}", self.id, self.user_generation);
        if self.notes.get(&user).is_some_and(|ids| ids.len() >= NOTES_PER_USER) {
            self.user_generation += 1;
            return self.current_user();
        }
        user
    }

    /// Lists `user`'s notes and checks every accepted note is there.
    async fn verify_notes(&mut self, operation: &'static str, user: &str) {
        let uri = format!("/users/{user}/notes?limit={LIST_LIMIT}");
        let builder = request(Method::GET, &uri, &self.host)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.alice.bearer));
        let Some(reply) = self.call(operation, empty(builder), &[200], false).await else { return };
        let body = reply.json();
        let listed: Vec<u64> = body["notes"]
            .as_array()
            .map(|notes| notes.iter().filter_map(|n| n["id"].as_u64()).collect())
            .unwrap_or_default();
        let accepted = self.notes.get(user).cloned().unwrap_or_default();
        let lost: Vec<u64> = accepted.iter().copied().filter(|id| !listed.contains(id)).collect();
        if operation == "final_list" {
            self.stats.notes_verified += (accepted.len() - lost.len()) as u64;
        }
        if !lost.is_empty() {
            self.stats.notes_lost += lost.len() as u64;
            self.stats.violation(format!("worker {}: {user}: accepted notes missing from the list: {lost:?}", self.id));
        }
    }

    async fn run(&mut self, op: Op) {
        let host = self.host.clone();
        match op {
            Op::Health => {
                if let Some(reply) =
                    self.call("health", empty(request(Method::GET, "/health", &host)), &[200], false).await
                {
                    if reply.json() != json!({"ok": true}) {
                        self.stats.violation(format!("worker {}: health: {}", self.id, reply.excerpt()));
                    }
                }
            }
            Op::LoginGood => {
                let who = if self.rng.gen_bool(0.5) { ALICE } else { BOB };
                if let Some(login) = self.login(who).await {
                    let builder = request(Method::GET, "/me", &host)
                        .header(header::AUTHORIZATION, format!("Bearer {}", login.bearer));
                    self.me("me_bearer", builder, login.user_id).await;
                }
            }
            Op::LoginBad => {
                // A new unknown email each time: the per-email throttle never sees one twice, the per-address
                // one answers 429 once this source address has failed often enough.
                self.bad_logins += 1;
                let email = format!("nobody-{}-{}@soak.invalid", self.id, self.bad_logins);
                let body = json!({"email": email, "password": "not the password"});
                let builder = request(Method::POST, "/login", &host);
                self.call("login_bad", with_json(builder, &body), &[401, 429], true).await;
            }
            Op::MeBearer => {
                let login = if self.rng.gen_bool(0.5) { self.alice.clone() } else { self.bob.clone() };
                let builder = request(Method::GET, "/me", &host)
                    .header(header::AUTHORIZATION, format!("Bearer {}", login.bearer));
                self.me("me_bearer", builder, login.user_id).await;
            }
            Op::MeCookie => {
                let login = if self.rng.gen_bool(0.5) { self.alice.clone() } else { self.bob.clone() };
                let cookie = format!("theme=dark; session={}; lang=en", login.cookie);
                let builder = request(Method::GET, "/me", &host).header(header::COOKIE, cookie);
                self.me("me_cookie", builder, login.user_id).await;
            }
            Op::MeApiKeyHeader => {
                let builder = request(Method::GET, "/me", &host).header("x-api-key", API_KEY);
                self.me("me_api_key_header", builder, "svc").await;
            }
            Op::MeApiKeyQuery => {
                let builder = request(Method::GET, &format!("/me?apiKey={API_KEY}"), &host);
                self.me("me_api_key_query", builder, "svc").await;
            }
            Op::BadToken => {
                let token = match self.rng.gen_range(0..4) {
                    0 => "not-a-jwt".to_owned(),
                    1 => tamper(&self.alice.bearer),
                    2 => self.bad.expired.clone(),
                    _ => self.bad.foreign.clone(),
                };
                let builder =
                    request(Method::GET, "/me", &host).header(header::AUTHORIZATION, format!("Bearer {token}"));
                if let Some(reply) = self.call("bad_token", empty(builder), &[401], false).await {
                    if reply.json()["name"] != "InvalidSessionError" {
                        self.stats.violation(format!("worker {}: bad_token: {}", self.id, reply.excerpt()));
                    }
                }
            }
            Op::TamperedCookie => {
                let cookie = format!("session={}", tamper(&self.alice.cookie));
                let builder = request(Method::GET, "/me", &host).header(header::COOKIE, cookie);
                if let Some(reply) = self.call("tampered_cookie", empty(builder), &[401], false).await {
                    let removed = reply
                        .headers
                        .get_all(header::SET_COOKIE)
                        .iter()
                        .any(|v| v.to_str().is_ok_and(|v| v.starts_with("session=;") && v.contains("Max-Age=0")));
                    if !removed {
                        self.stats.violation(format!("worker {}: tampered_cookie: the cookie is not removed", self.id));
                    }
                }
            }
            Op::Admin => {
                let (login, expected) =
                    if self.rng.gen_bool(0.5) { (self.alice.clone(), 200) } else { (self.bob.clone(), 403) };
                let builder = request(Method::GET, "/admin", &host)
                    .header(header::AUTHORIZATION, format!("Bearer {}", login.bearer));
                self.call("admin", empty(builder), &[expected], false).await;
            }
            Op::AddNote => {
                let user = self.current_user();
                let text = format!("note {} of worker {}", self.stats.requests, self.id);
                // alice is an admin: she may add notes to any user (`owns_or_admin`).
                let builder = request(Method::POST, &format!("/users/{user}/notes"), &host)
                    .header(header::AUTHORIZATION, format!("Bearer {}", self.alice.bearer));
                if let Some(reply) =
                    self.call("add_note", with_json(builder, &json!({"text": text})), &[200], false).await
                {
                    let body = reply.json();
                    match body["id"].as_u64() {
                        Some(id) if body["userId"] == user.as_str() && body["text"] == text.as_str() => {
                            self.notes.entry(user).or_default().push(id);
                            self.stats.notes_added += 1;
                        }
                        _ => self.stats.violation(format!("worker {}: add_note: {}", self.id, reply.excerpt())),
                    }
                }
            }
            Op::ListNotes => {
                let user = self.current_user();
                self.verify_notes("list_notes", &user).await;
            }
            Op::Logout => {
                let who = if self.rng.gen_bool(0.5) { ALICE } else { BOB };
                let Some(login) = self.login(who).await else { return };
                // Log out with the bearer token or with the cookie; that credential is then refused.
                let by_cookie = self.rng.gen_bool(0.5);
                let with_credential = |builder: http::request::Builder| {
                    if by_cookie {
                        builder.header(header::COOKIE, format!("session={}", login.cookie))
                    } else {
                        builder.header(header::AUTHORIZATION, format!("Bearer {}", login.bearer))
                    }
                };
                let builder = with_credential(request(Method::POST, "/logout", &host));
                if self.call("logout", empty(builder), &[204], false).await.is_some() {
                    let builder = with_credential(request(Method::GET, "/me", &host));
                    self.call("me_after_logout", empty(builder), &[401], false).await;
                }
            }
        }
    }
}

/// RSS (KiB) and open descriptors of `pid`.
fn sample(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss =
        status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64;
    Some((rss, fds))
}

/// Samples: the first, the largest, the last.
#[derive(Default, Debug, Clone, Copy)]
struct Range {
    start: Option<u64>,
    max: u64,
    end: u64,
}

impl Range {
    fn add(&mut self, value: u64) {
        self.start.get_or_insert(value);
        self.max = self.max.max(value);
        self.end = value;
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let Ok(secret) = std::env::var("PIKKU_JWT_SECRET") else {
        eprintln!("pikku-soak: PIKKU_JWT_SECRET must be the server's secret (expired tokens are forged with it)");
        return ExitCode::from(2);
    };
    let host = args.addr.to_string();
    let iat = now() - 2 * 3600;
    let alice_session =
        json!({"userId": "u1", "role": "admin", "iat": iat, "exp": iat + 3600, "jti": "c29hay1leHBpcmVk.bm9uY2U"});
    let bad = Arc::new(BadTokens {
        expired: forge(secret.as_bytes(), &alice_session),
        foreign: forge(
            b"a-different-secret-of-32-bytes-or-more",
            &json!({"userId": "u1", "role": "admin", "exp": now() + 3600}),
        ),
    });

    // The bad-login source must be a loopback address this machine can bind; else bad logins share the
    // good logins' address, and the throttle may refuse good logins too.
    let bad_source = match std::net::TcpListener::bind(SocketAddr::new(args.bad_login_source, 0)) {
        Ok(_) => Some(args.bad_login_source),
        Err(e) => {
            eprintln!(
                "pikku-soak: cannot bind {} ({e}); bad logins come from the default address",
                args.bad_login_source
            );
            None
        }
    };

    let counter = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let rss = Arc::new(std::sync::Mutex::new(Range::default()));
    let fds = Arc::new(std::sync::Mutex::new(Range::default()));
    let mut csv = match &args.csv {
        Some(path) => match std::fs::File::create(path) {
            Ok(mut file) => {
                let _ = writeln!(file, "elapsed_s,requests,rss_kib,fds");
                Some(file)
            }
            Err(e) => {
                eprintln!("pikku-soak: cannot write {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let mut record = {
        let (rss, fds, counter) = (rss.clone(), fds.clone(), counter.clone());
        move |pid: u32| {
            if let Some((r, f)) = sample(pid) {
                rss.lock().expect("not poisoned").add(r);
                fds.lock().expect("not poisoned").add(f);
                if let Some(file) = csv.as_mut() {
                    let _ = writeln!(
                        file,
                        "{:.1},{},{r},{f}",
                        started.elapsed().as_secs_f64(),
                        counter.load(Ordering::Relaxed)
                    );
                }
            }
        }
    };
    if let Some(pid) = args.pid {
        record(pid);
    }

    let stateless = args.stateless;
    let mut workers = Vec::new();
    for id in 0..args.connections {
        let mut worker = Worker {
            id,
            conn: Conn::new(args.addr, None),
            bad_login_conn: Conn::new(args.addr, bad_source),
            host: host.clone(),
            rng: StdRng::seed_from_u64(id as u64),
            stats: Stats::default(),
            alice: Login { bearer: String::new(), cookie: String::new(), user_id: ALICE.2 },
            bob: Login { bearer: String::new(), cookie: String::new(), user_id: BOB.2 },
            bad: bad.clone(),
            notes: HashMap::new(),
            user_generation: 0,
            bad_logins: 0,
            counter: counter.clone(),
        };
        workers.push(tokio::spawn(async move {
            match (worker.login(ALICE).await, worker.login(BOB).await) {
                (Some(alice), Some(bob)) => {
                    worker.alice = alice;
                    worker.bob = bob;
                }
                _ => return worker.stats,
            }
            let mix: Vec<(Op, u32)> = OPERATIONS
                .into_iter()
                .filter(|(op, _)| !(stateless && matches!(op, Op::AddNote | Op::ListNotes | Op::Logout)))
                .collect();
            let total: u32 = mix.iter().map(|(_, w)| w).sum();
            while Instant::now() < deadline {
                let mut pick = worker.rng.gen_range(0..total);
                let op = mix
                    .iter()
                    .find(|(_, w)| {
                        if pick < *w {
                            true
                        } else {
                            pick -= w;
                            false
                        }
                    })
                    .map(|(op, _)| *op);
                worker.run(op.expect("a weight covers every pick")).await;
            }
            // Nothing lost: every accepted note of every soak user of this worker is listed.
            let users: Vec<String> = worker.notes.keys().cloned().collect();
            for user in users {
                worker.verify_notes("final_list", &user).await;
            }
            worker.stats
        }));
    }

    let sampler = args.pid.map(|pid| {
        let every = Duration::from_secs(args.sample_seconds.max(1));
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                if Instant::now() >= deadline {
                    return record;
                }
                record(pid);
            }
        })
    });

    let mut stats = Stats::default();
    for worker in workers {
        match worker.await {
            Ok(s) => stats.merge(s),
            Err(e) => stats.violation(format!("a worker panicked: {e}")),
        }
    }
    let elapsed = started.elapsed();
    // Every client connection is closed now (the workers dropped them): the server's descriptors must
    // come back to where they started.
    if let (Some(pid), Some(sampler)) = (args.pid, sampler) {
        let mut record = sampler.await.expect("the sampler does not panic");
        tokio::time::sleep(Duration::from_secs(1)).await;
        record(pid);
    }
    let rss = *rss.lock().expect("not poisoned");
    let fds = *fds.lock().expect("not poisoned");
    if args.pid.is_some() {
        let start = fds.start.unwrap_or_default();
        if fds.end > start + FD_SLACK {
            stats.violation(format!("the server holds {} descriptors after the run, {start} before it", fds.end));
        }
    }
    if stats.by_status.keys().any(|s| *s >= 500) {
        // Already a violation each (no operation expects one); said once more for the summary.
        stats.violation("5xx answers (see the statuses)".to_owned());
    }

    let mut out = String::new();
    let secs = elapsed.as_secs_f64();
    let _ = writeln!(
        out,
        "soak: {:.0} s, {} connections, {} mix (bad logins from {}), server pid {}",
        secs,
        args.connections,
        if stateless { "stateless" } else { "full" },
        bad_source.map_or_else(|| "the default address".to_owned(), |a| a.to_string()),
        args.pid.map_or_else(|| "not given".to_owned(), |p| p.to_string())
    );
    let _ = writeln!(
        out,
        "requests: {} ({:.0} req/s), connection errors: {}",
        stats.requests,
        stats.requests as f64 / secs,
        stats.connection_errors
    );
    let statuses: Vec<String> = stats.by_status.iter().map(|(s, n)| format!("{s}: {n}")).collect();
    let _ = writeln!(out, "statuses: {}", statuses.join(", "));
    let mut operations: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for ((op, status), n) in &stats.by_operation {
        operations.entry(op).or_default().push(format!("{status}x{n}"));
    }
    for (op, counts) in operations {
        let _ = writeln!(out, "  {op:<18} {}", counts.join(" "));
    }
    let _ = writeln!(
        out,
        "notes: {} accepted, {} listed at the end, {} lost",
        stats.notes_added, stats.notes_verified, stats.notes_lost
    );
    if args.pid.is_some() {
        let mib = |kib: u64| kib as f64 / 1024.0;
        let _ = writeln!(
            out,
            "server RSS: start {:.1} MiB, max {:.1} MiB, end {:.1} MiB",
            mib(rss.start.unwrap_or_default()),
            mib(rss.max),
            mib(rss.end)
        );
        let _ = writeln!(out, "server fds: start {}, max {}, end {}", fds.start.unwrap_or_default(), fds.max, fds.end);
    }
    let _ = writeln!(out, "violations: {}", stats.violation_count);
    for v in &stats.violations {
        let _ = writeln!(out, "  {v}");
    }
    print!("{out}");
    if stats.violation_count == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
