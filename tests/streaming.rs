//! Streamed outputs over a real socket (docs/functions.md, "Streamed outputs"): server-sent events with the
//! session write-back and middleware headers applied, keep-alive comments, a client that disconnects ending
//! the producer, byte streams, and a stream that fails or panics costing only its own response.

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use std::time::Duration;

use bytes::Bytes;
use pikku::auth::{auth_cookie, AuthServices, CookieOptions, JwtService};
use pikku::prelude::*;
use pikku::testing::{TestServer, WAIT};
use pikku::{ByteStream, Event, EventStream, HeaderValue};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

pub struct Services {
    jwt: JwtService,
    /// Told when a producer finds its client gone.
    producer_stopped: mpsc::UnboundedSender<()>,
}

impl AuthServices for Services {
    fn jwt(&self) -> &JwtService {
        &self.jwt
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    user_id: String,
}

mod functions {
    use super::*;

    /// Logs in and answers with a stream: the session cookie must still be set.
    #[pikku_func(auth = false)]
    pub(crate) async fn login_stream(
        _s: &Services,
        _data: (),
        ctx: &OptionalContext<Session>,
    ) -> Result<EventStream, PikkuError> {
        ctx.set_session(Session { user_id: "u1".into() });
        let events = [Event::new().event("welcome").data("u1")];
        Ok(EventStream::new(futures_util::stream::iter(events)))
    }

    /// Events for the session's user until the client goes; each event numbered.
    #[pikku_func]
    pub(crate) async fn ticks(s: &Services, _data: (), ctx: &Context<Session>) -> Result<EventStream, PikkuError> {
        let user = ctx.session().user_id.clone();
        let stopped = s.producer_stopped.clone();
        let (sender, events) = EventStream::channel(1);
        tokio::spawn(async move {
            for n in 0u64.. {
                let event = Event::new().event("tick").id(&n.to_string()).data(format!("{user} {n}"));
                if sender.send(event).await.is_err() {
                    let _ = stopped.send(());
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        Ok(events)
    }

    /// No event for a while: only keep-alive comments.
    #[pikku_func(auth = false)]
    pub(crate) async fn quiet(
        _s: &Services,
        _data: (),
        _ctx: &OptionalContext<Session>,
    ) -> Result<EventStream, PikkuError> {
        Ok(EventStream::new(futures_util::stream::pending()).keep_alive(Some(Duration::from_millis(50))))
    }

    #[pikku_func(auth = false)]
    pub(crate) async fn export(
        _s: &Services,
        _data: (),
        _ctx: &OptionalContext<Session>,
    ) -> Result<ByteStream, PikkuError> {
        let lines = (1..=3).map(|n| Ok::<_, std::io::Error>(Bytes::from(format!("line {n}\n"))));
        Ok(ByteStream::new(futures_util::stream::iter(lines)).content_type("text/plain; charset=utf-8"))
    }

    /// A first chunk, then (once it has had time to leave) a failure.
    fn first_chunk_then(failure: impl std::future::Future<Output = std::io::Error> + Send + 'static) -> ByteStream {
        use futures_util::StreamExt as _;
        let first = futures_util::stream::once(async { Ok(Bytes::from_static(b"first\n")) });
        let then = futures_util::stream::once(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Err(failure.await)
        });
        ByteStream::new(first.chain(then))
    }

    #[pikku_func(auth = false)]
    pub(crate) async fn broken_export(
        _s: &Services,
        _data: (),
        _ctx: &OptionalContext<Session>,
    ) -> Result<ByteStream, PikkuError> {
        Ok(first_chunk_then(async { std::io::Error::other("disk gone") }))
    }

    #[pikku_func(auth = false)]
    pub(crate) async fn panicking_export(
        _s: &Services,
        _data: (),
        _ctx: &OptionalContext<Session>,
    ) -> Result<ByteStream, PikkuError> {
        Ok(first_chunk_then(async { panic!("deliberate panic in a response stream") }))
    }

    #[pikku_func(auth = false)]
    pub(crate) async fn hello(_s: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<String, PikkuError> {
        Ok("hello".into())
    }
}

mod middleware {
    use super::*;

    /// A header added on the way back: it must reach a streamed response too.
    #[pikku_middleware]
    pub(crate) async fn stamp(
        _s: &Services,
        request: Request<Session>,
        next: Next<'_, Services, Session>,
    ) -> Result<Response, PikkuError> {
        let mut response = next.run(request).await;
        response.headers_mut().insert("x-stamped", HeaderValue::from_static("yes"));
        Ok(response)
    }
}

use functions::*;
use middleware::*;

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    w.add_http_middleware("*", [stamp, auth_cookie(CookieOptions::new("session", Duration::from_secs(3600)))]);
    w.post("/login", login_stream);
    w.get("/ticks", ticks);
    w.get("/quiet", quiet);
    w.get("/export", export);
    w.get("/export/broken", broken_export);
    w.get("/export/panicking", panicking_export);
    w.get("/hello", hello);
}

async fn start() -> (TestServer, mpsc::UnboundedReceiver<()>) {
    start_with_grace(pikku::DEFAULT_SHUTDOWN_GRACE).await
}

async fn start_with_grace(grace: Duration) -> (TestServer, mpsc::UnboundedReceiver<()>) {
    let (producer_stopped, stopped) = mpsc::unbounded_channel();
    let jwt = JwtService::builder().hs256_random_key("primary").build().expect("a random key is long enough");
    let server = App::<Services, Session>::new()
        .shutdown_grace(grace)
        .build(Services { jwt, producer_stopped })
        .expect("the test application starts");
    (TestServer::start(server).await, stopped)
}

/// A raw HTTP/1.1 exchange: sends `request`, then reads until `until` is in what arrived.
struct RawStream {
    socket: TcpStream,
    received: Vec<u8>,
}

impl RawStream {
    async fn open(server: &TestServer, request: &str) -> Self {
        let mut socket = TcpStream::connect(server.addr()).await.unwrap();
        socket.write_all(request.as_bytes()).await.unwrap();
        Self { socket, received: Vec::new() }
    }

    async fn read_until(&mut self, until: &str) -> String {
        let read = async {
            let mut buffer = [0u8; 4096];
            while !String::from_utf8_lossy(&self.received).contains(until) {
                let n = self.socket.read(&mut buffer).await.unwrap();
                assert!(n > 0, "connection closed before {until:?}: {}", String::from_utf8_lossy(&self.received));
                self.received.extend_from_slice(&buffer[..n]);
            }
        };
        tokio::time::timeout(WAIT, read)
            .await
            .unwrap_or_else(|_| panic!("no {until:?} within {WAIT:?}: {}", String::from_utf8_lossy(&self.received)));
        String::from_utf8_lossy(&self.received).into_owned()
    }

    /// Reads until the server closes the connection.
    async fn read_to_close(&mut self) -> String {
        tokio::time::timeout(WAIT, self.socket.read_to_end(&mut self.received))
            .await
            .expect("the server closes the connection")
            .unwrap();
        String::from_utf8_lossy(&self.received).into_owned()
    }
}

#[tokio::test]
async fn a_stream_answer_still_sets_the_session_cookie_and_middleware_headers() {
    let (app, _) = start().await;
    let reply = app.post("/login").send().await;
    assert_eq!(reply.status(), 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("text/event-stream"));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.header("x-stamped"), Some("yes"));
    assert!(reply.set_cookie("session").is_some(), "no session cookie: {:?}", reply.headers());
    assert_eq!(reply.text(), "event: welcome\ndata: u1\n\n");
}

#[tokio::test]
async fn events_flow_as_produced_and_a_client_that_disconnects_stops_the_producer() {
    let (app, mut stopped) = start().await;
    let cookie = app.post("/login").send().await.set_cookie("session").expect("logged in");
    let mut stream =
        RawStream::open(&app, &format!("GET /ticks HTTP/1.1\r\nhost: t\r\ncookie: session={}\r\n\r\n", cookie.value()))
            .await;
    let head_and_events = stream.read_until("data: u1 2\n\n").await;
    assert!(head_and_events.starts_with("HTTP/1.1 200 OK\r\n"), "{head_and_events}");
    assert!(head_and_events.contains("content-type: text/event-stream\r\n"), "{head_and_events}");
    assert!(head_and_events.contains("transfer-encoding: chunked\r\n"), "{head_and_events}");
    assert!(head_and_events.contains("event: tick\nid: 0\ndata: u1 0\n\n"), "{head_and_events}");
    assert!(stopped.try_recv().is_err(), "the producer stopped while the client was reading");

    drop(stream);
    tokio::time::timeout(WAIT, stopped.recv())
        .await
        .expect("the producer learns that its client is gone")
        .expect("a producer reported");
}

#[tokio::test]
async fn a_stream_needing_a_session_is_refused_without_one_before_it_starts() {
    let (app, _) = start().await;
    let reply = app.get("/ticks").send().await;
    reply.assert_error(401, "MissingSessionError");
}

#[tokio::test]
async fn an_idle_event_stream_sends_keep_alive_comments() {
    let (app, _) = start().await;
    let mut stream = RawStream::open(&app, "GET /quiet HTTP/1.1\r\nhost: t\r\n\r\n").await;
    let received = stream.read_until(":\n\n").await;
    // Each comment is one chunk of three bytes; two in a row show that they repeat.
    stream.read_until("3\r\n:\n\n\r\n3\r\n:\n\n\r\n").await;
    assert!(received.starts_with("HTTP/1.1 200 OK\r\n"), "{received}");
}

#[tokio::test]
async fn a_byte_stream_is_sent_whole_with_its_content_type() {
    let (app, _) = start().await;
    let reply = app.get("/export").send().await;
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(reply.header("content-length"), None);
    assert_eq!(reply.text(), "line 1\nline 2\nline 3\n");
}

#[tokio::test]
async fn a_failing_or_panicking_stream_cuts_its_response_short_and_the_server_keeps_serving() {
    let (app, _) = start().await;
    for path in ["/export/broken", "/export/panicking"] {
        let mut stream = RawStream::open(&app, &format!("GET {path} HTTP/1.1\r\nhost: t\r\n\r\n")).await;
        let received = stream.read_to_close().await;
        assert!(received.starts_with("HTTP/1.1 200 OK\r\n"), "{path}: {received}");
        assert!(received.contains("first\n"), "{path}: {received}");
        // No last chunk: the client can tell the body is incomplete.
        assert!(!received.ends_with("0\r\n\r\n"), "{path}: the body was ended as if complete: {received:?}");
    }
    let reply = app.get("/hello").send().await;
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.json::<String>(), "hello");
}

#[tokio::test]
async fn shutdown_ends_open_event_streams_after_the_grace_period() {
    let (app, _) = start_with_grace(Duration::from_millis(300)).await;
    let cookie = app.post("/login").send().await.set_cookie("session").expect("logged in");
    let mut stream =
        RawStream::open(&app, &format!("GET /ticks HTTP/1.1\r\nhost: t\r\ncookie: session={}\r\n\r\n", cookie.value()))
            .await;
    stream.read_until("data: u1 0\n\n").await;
    // An endless stream is a request in flight: shutdown waits for it only as long as the grace period.
    app.stopped().await.expect("the server stops");
    let received = stream.read_to_close().await;
    assert!(received.contains("data: u1 1\n\n"), "{received}");
}
