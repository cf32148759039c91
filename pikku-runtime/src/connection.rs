//! What the server does per connection and per accept: TLS (feature `tls`), the protocol (HTTP/1.1 or
//! HTTP/2, by ALPN or by the client's first bytes), the deadlines hyper does not keep (the first request,
//! idle and stalled HTTP/2 connections, stalled writes), graceful shutdown, and accept errors that back off
//! and are logged at most once a second.

use std::error::Error as StdError;
use std::future::{poll_fn, Future as _};
use std::io;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Version;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::rt::bounds::Http2ServerConnExec;
use hyper::server::conn::{http1, http2};
use hyper::service::HttpService;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use pin_project_lite::pin_project;
#[cfg(feature = "tls")]
use tokio::io::AsyncReadExt as _;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};

use crate::server::ServerConfig;

/// How every connection of a server is served: the two protocols' settings, the deadlines, and TLS. Built
/// once when the server starts.
pub(crate) struct Protocols {
    http1: http1::Builder,
    http2: http2::Builder<TokioExecutor>,
    header_read_timeout: Duration,
    write_timeout: Duration,
    #[cfg(feature = "tls")]
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl Protocols {
    pub(crate) fn new(config: &ServerConfig) -> Self {
        let mut http1 = http1::Builder::new();
        http1
            .timer(TokioTimer::new())
            .keep_alive(true)
            // hyper arms this timer whenever it waits for a head, also between requests on a kept-alive
            // connection: it is the idle timeout too (pinned by tests/limits.rs).
            .header_read_timeout(config.header_read_timeout)
            // The buffer cap alone is soft (a head that completes within the last read is accepted even
            // when it overshoots); `max_header_size` is the exact cap that answers 431. (hyper-util's
            // automatic builder does not offer it: the reason this module tells the protocols apart itself.)
            .max_header_size(config.max_header_bytes)
            .max_buf_size(config.max_header_bytes.max(8192));
        let mut http2 = http2::Builder::new(TokioExecutor::new());
        http2
            .timer(TokioTimer::new())
            // h2 counts each field as name + value + 32 bytes (RFC 9113, 6.5.2), so the same cap admits a
            // little less than over HTTP/1.1. hyper's own default is 16 KiB.
            .max_header_list_size(u32::try_from(config.max_header_bytes).unwrap_or(u32::MAX))
            .max_concurrent_streams(config.http2_max_concurrent_streams)
            .max_pending_accept_reset_streams(config.http2_max_pending_accept_reset_streams)
            .max_local_error_reset_streams(config.http2_max_local_error_reset_streams)
            .max_send_buf_size(config.http2_max_send_buf_size)
            .initial_stream_window_size(config.http2_initial_stream_window_size)
            .initial_connection_window_size(config.http2_initial_connection_window_size);
        Self {
            http1,
            http2,
            header_read_timeout: config.header_read_timeout,
            write_timeout: config.write_timeout,
            #[cfg(feature = "tls")]
            tls: config.tls.as_ref().map(crate::tls::TlsConfig::acceptor),
        }
    }
}

/// The protocol a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Http1,
    Http2,
}

/// The server's shutdown signal as one connection sees it. The server waits until every connection has
/// dropped its signal (hyper-util's `GracefulShutdown` works the same way, but watches only a hyper
/// connection; this one also covers the TLS handshake, the protocol sniff and the idle watchdog).
#[derive(Debug)]
pub(crate) struct ShutdownSignal {
    receiver: watch::Receiver<()>,
    fired: bool,
}

impl ShutdownSignal {
    pub(crate) fn new(receiver: watch::Receiver<()>) -> Self {
        Self { receiver, fired: false }
    }

    /// Completes when the server starts shutting down (or is gone).
    async fn fired(&mut self) {
        if !self.fired {
            // An error means the server dropped its end: shutting down as well.
            let _ = self.receiver.changed().await;
            self.fired = true;
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Activity: what the watchdog of an HTTP/2 connection reads

/// Counters kept by a connection's service (requests), its HTTP/2 response bodies (open and parked
/// streams) and its socket (writes). Shared by the connection's task and its HTTP/2 streams' tasks; read
/// by the watchdog a few times per deadline.
#[derive(Debug, Default)]
pub(crate) struct Activity {
    requests: AtomicU64,
    /// HTTP/2 streams whose response body has not been handed to h2 in full.
    open_streams: AtomicUsize,
    /// HTTP/2 response bodies that gave hyper a chunk hyper has not sent yet: it waits for the client's
    /// flow-control window.
    parked_streams: AtomicUsize,
    /// Writes to the socket that made progress.
    writes: AtomicU64,
}

impl Activity {
    /// Counts a request (a stream, over HTTP/2); the guard tracks an HTTP/2 stream until its response
    /// body is done. Over HTTP/1.1 hyper keeps the deadlines itself, and the guard is empty.
    pub(crate) fn request_started(self: &Arc<Self>, version: Version) -> OpenStream {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if version != Version::HTTP_2 {
            return OpenStream { activity: None, parked: false };
        }
        self.open_streams.fetch_add(1, Ordering::Relaxed);
        OpenStream { activity: Some(Arc::clone(self)), parked: false }
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            requests: self.requests.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
            open_streams: self.open_streams.load(Ordering::Relaxed),
            parked_streams: self.parked_streams.load(Ordering::Relaxed),
        }
    }
}

/// One HTTP/2 stream, from the request until hyper drops its response body (or the request's future,
/// when the client resets the stream first).
#[derive(Debug)]
pub(crate) struct OpenStream {
    activity: Option<Arc<Activity>>,
    parked: bool,
}

impl OpenStream {
    /// The response body, watched until it is done.
    pub(crate) fn track<B>(self, body: B) -> TrackedBody<B> {
        TrackedBody { body, stream: self }
    }

    fn set_parked(&mut self, parked: bool) {
        if self.parked == parked {
            return;
        }
        if let Some(activity) = &self.activity {
            self.parked = parked;
            if parked {
                activity.parked_streams.fetch_add(1, Ordering::Relaxed);
            } else {
                activity.parked_streams.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.set_parked(false);
        if let Some(activity) = &self.activity {
            activity.open_streams.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

pin_project! {
    /// A response body that tells its stream's [`Activity`] when hyper is waiting to send a chunk of it.
    #[derive(Debug)]
    pub(crate) struct TrackedBody<B> {
        #[pin]
        body: B,
        stream: OpenStream,
    }
}

impl<B: Body> Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let mut this = self.project();
        // hyper asks for the next chunk only once the previous one has been given window to go out.
        this.stream.set_parked(false);
        let polled = this.body.as_mut().poll_frame(cx);
        if matches!(&polled, Poll::Ready(Some(Ok(frame))) if frame.is_data()) && !this.body.is_end_stream() {
            this.stream.set_parked(true);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

// ---------------------------------------------------------------------------------------------------
// The socket

/// A connection's socket whose writes fail once one has made no progress for `write_timeout`.
///
/// hyper has no write timeout: a client that stops reading leaves the response in hyper's buffers and
/// the socket's, for as long as the client keeps the connection open. Here a write that stays pending
/// (the socket's send buffer is full) arms a timer; any progress disarms it; when it fires, the write
/// fails with `TimedOut`, hyper drops the connection, and its buffers go with it. It sits right on the
/// socket, under TLS, so it sees the bytes as they leave, whatever the protocol.
///
/// The timer is allocated the first time a write stalls on the connection and reused after, so a
/// connection whose client reads promptly never has one. Writes that make progress are counted for the
/// connection's watchdog.
pub(crate) struct WriteDeadline {
    stream: TcpStream,
    write_timeout: Duration,
    stall: Option<Pin<Box<Sleep>>>,
    /// Whether `stall` is running for the current stall (rather than left over from an earlier one).
    stalled: bool,
    activity: Arc<Activity>,
}

impl WriteDeadline {
    pub(crate) fn new(stream: TcpStream, write_timeout: Duration, activity: Arc<Activity>) -> Self {
        Self { stream, write_timeout, stall: None, stalled: false, activity }
    }

    /// After a pending write: arms the timer on the first stall, and fails once it fires.
    fn poll_stall(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if !self.stalled {
            self.stalled = true;
            let deadline = Instant::now() + self.write_timeout;
            match &mut self.stall {
                Some(stall) => stall.as_mut().reset(deadline),
                None => self.stall = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
        }
        let Some(stall) = &mut self.stall else { return Poll::Pending };
        match stall.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client did not read the response within the write timeout",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn progressed(&mut self, written: Poll<io::Result<usize>>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        match written {
            Poll::Ready(result) => {
                self.stalled = false;
                if matches!(result, Ok(written) if written > 0) {
                    self.activity.writes.fetch_add(1, Ordering::Relaxed);
                }
                Poll::Ready(result)
            }
            Poll::Pending => self.poll_stall(cx),
        }
    }
}

impl AsyncRead for WriteDeadline {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteDeadline {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.progressed(written, cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.progressed(written, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

// ---------------------------------------------------------------------------------------------------
// Telling the protocols apart

/// What a client with prior knowledge of HTTP/2 sends first (RFC 9113, 3.4). No HTTP/1.1 request starts
/// with it.
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// A stream whose first bytes were read to tell the protocol (TLS without ALPN): they are read again
/// first.
#[cfg(feature = "tls")]
struct Sniffed<I> {
    prefix: [u8; H2_PREFACE.len()],
    read: usize,
    filled: usize,
    io: I,
}

#[cfg(feature = "tls")]
impl<I> Sniffed<I> {
    /// A stream whose protocol ALPN told: nothing was read ahead.
    fn unread(io: I) -> Self {
        Self { prefix: [0; H2_PREFACE.len()], read: 0, filled: 0, io }
    }
}

/// Reads until the bytes are the HTTP/2 preface or cannot be: HTTP/2 for the whole preface, HTTP/1.1 at
/// the first byte that differs (or at the end of the stream). `None` when the client sent nothing at all.
#[cfg(feature = "tls")]
async fn sniff<I: AsyncRead + Unpin>(mut io: I) -> io::Result<Option<(Protocol, Sniffed<I>)>> {
    let mut prefix = [0; H2_PREFACE.len()];
    let mut filled = 0;
    let protocol = loop {
        let read = io.read(&mut prefix[filled..]).await?;
        if read == 0 {
            if filled == 0 {
                return Ok(None);
            }
            break Protocol::Http1;
        }
        filled += read;
        if prefix[..filled] != H2_PREFACE[..filled] {
            break Protocol::Http1;
        }
        if filled == H2_PREFACE.len() {
            break Protocol::Http2;
        }
    };
    Ok(Some((protocol, Sniffed { prefix, read: 0, filled, io })))
}

#[cfg(feature = "tls")]
impl<I: AsyncRead + Unpin> AsyncRead for Sniffed<I> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.read < this.filled {
            let count = buf.remaining().min(this.filled - this.read);
            buf.put_slice(&this.prefix[this.read..this.read + count]);
            this.read += count;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

#[cfg(feature = "tls")]
impl<I: AsyncWrite + Unpin> AsyncWrite for Sniffed<I> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

// ---------------------------------------------------------------------------------------------------
// Serving one connection

/// Serves one accepted connection until it closes: TLS when configured (ALPN picks the protocol), else
/// the first bytes do; then HTTP/1.1 or HTTP/2 with their deadlines. Runs in the connection's own task,
/// so a slow handshake never holds up accepting.
///
/// The first request must arrive within the header read timeout of the accept, TLS handshake included;
/// a connection that has not sent one by then is dropped. Shutdown drops a connection still in its
/// handshake or sniff, and asks one that is serving to finish (HTTP/1.1: after the request in flight;
/// HTTP/2: GOAWAY, the open streams finish).
pub(crate) async fn serve_connection<S, B>(
    protocols: Arc<Protocols>,
    stream: TcpStream,
    activity: Arc<Activity>,
    service: S,
    mut shutdown: ShutdownSignal,
) where
    S: HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: Body + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
    TokioExecutor: Http2ServerConnExec<S::Future, B>,
{
    let connection = Connection {
        protocols: &protocols,
        first_request_deadline: Instant::now() + protocols.header_read_timeout,
        activity: &activity,
    };
    #[cfg(feature = "tls")]
    if let Some(acceptor) = &protocols.tls {
        let socket = WriteDeadline::new(stream, protocols.write_timeout, Arc::clone(&activity));
        let Some(handshake) = connection.before_deadline(&mut shutdown, acceptor.accept(socket)).await else {
            return;
        };
        let tls = match handshake {
            Ok(tls) => tls,
            // A client's mistake, a scanner, a port probe: nothing an operator must act on.
            Err(error) => {
                tracing::debug!(%error, "TLS handshake failed");
                return;
            }
        };
        let (protocol, io) = match tls.get_ref().1.alpn_protocol() {
            Some(b"h2") => (Protocol::Http2, Sniffed::unread(tls)),
            Some(b"http/1.1") => (Protocol::Http1, Sniffed::unread(tls)),
            // No ALPN: the first bytes decide, as in clear text.
            _ => match connection.before_deadline(&mut shutdown, sniff(tls)).await {
                Some(Ok(Some(sniffed))) => sniffed,
                Some(Ok(None)) | None => return,
                Some(Err(error)) => {
                    tracing::debug!(%error, "connection closed with an error");
                    return;
                }
            },
        };
        return connection.run(io, protocol, service, shutdown).await;
    }
    // In clear text the first bytes are peeked at, not read: hyper then reads the socket itself, with
    // nothing in between.
    let protocol = match connection.before_deadline(&mut shutdown, peek_protocol(&stream)).await {
        Some(Ok(Some(protocol))) => protocol,
        Some(Ok(None)) | None => return,
        Some(Err(error)) => {
            tracing::debug!(%error, "connection closed with an error");
            return;
        }
    };
    let socket = WriteDeadline::new(stream, protocols.write_timeout, Arc::clone(&activity));
    connection.run(socket, protocol, service, shutdown).await;
}

/// While a connection waits for a partial HTTP/2 preface to be completed: the socket stays readable while
/// bytes wait in it, so a peek would return at once, again and again.
const PARTIAL_PREFACE_PAUSE: Duration = Duration::from_millis(5);

/// The protocol of a clear-text connection, from its first bytes, left in the socket: HTTP/2 for the
/// whole preface, HTTP/1.1 at the first byte that differs. `None` when the client closed without sending
/// anything.
async fn peek_protocol(stream: &TcpStream) -> io::Result<Option<Protocol>> {
    let mut first = [0; H2_PREFACE.len()];
    loop {
        let peeked = stream.peek(&mut first).await?;
        if peeked == 0 {
            return Ok(None);
        }
        if first[..peeked] != H2_PREFACE[..peeked] {
            return Ok(Some(Protocol::Http1));
        }
        if peeked == H2_PREFACE.len() {
            return Ok(Some(Protocol::Http2));
        }
        // A client that never completes it is dropped at the first request's deadline.
        tokio::time::sleep(PARTIAL_PREFACE_PAUSE).await;
    }
}

/// One connection being served.
struct Connection<'c> {
    protocols: &'c Protocols,
    first_request_deadline: Instant,
    activity: &'c Activity,
}

impl Connection<'_> {
    /// `work` (the TLS handshake, the protocol sniff), unless the first request's deadline passes or the
    /// server shuts down first (`None`: drop the connection).
    async fn before_deadline<F: std::future::Future>(
        &self,
        shutdown: &mut ShutdownSignal,
        work: F,
    ) -> Option<F::Output> {
        tokio::select! {
            done = tokio::time::timeout_at(self.first_request_deadline, work) => {
                if done.is_err() {
                    tracing::debug!("no request within the header read timeout");
                }
                done.ok()
            }
            () = shutdown.fired() => None,
        }
    }

    async fn run<I, S, B>(self, io: I, protocol: Protocol, service: S, shutdown: ShutdownSignal)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        S: HttpService<Incoming, ResBody = B>,
        S::Error: Into<Box<dyn StdError + Send + Sync>>,
        B: Body + 'static,
        B::Error: Into<Box<dyn StdError + Send + Sync>>,
        TokioExecutor: Http2ServerConnExec<S::Future, B>,
    {
        let io = TokioIo::new(io);
        let result = match protocol {
            Protocol::Http1 => self.drive_http1(self.protocols.http1.serve_connection(io, service), shutdown).await,
            Protocol::Http2 => self.drive_http2(self.protocols.http2.serve_connection(io, service), shutdown).await,
        };
        match result {
            Ok(()) => {}
            Err(Closed::Hyper(error)) => tracing::debug!(%error, "connection closed with an error"),
            Err(Closed::Watchdog(reason)) => tracing::debug!(reason, "connection dropped"),
        }
    }

    /// hyper keeps HTTP/1.1's deadlines (the head, idle keep-alive); this adds the first request's, which
    /// started at the accept, and shutdown.
    ///
    /// Polled by hand rather than with `select!`: once the first request has come, a wake costs the
    /// connection's poll and the shutdown signal's, nothing more (no timer polled on every wake).
    async fn drive_http1<I, S, B>(
        &self,
        connection: http1::Connection<I, S>,
        mut shutdown: ShutdownSignal,
    ) -> Result<(), Closed>
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
        S: HttpService<Incoming, ResBody = B>,
        S::Error: Into<Box<dyn StdError + Send + Sync>>,
        B: Body + 'static,
        B::Error: Into<Box<dyn StdError + Send + Sync>>,
    {
        let mut connection = pin!(connection);
        let mut shutdown = pin!(shutdown.fired());
        let mut shutting_down = false;
        let mut first_request = Some(Box::pin(tokio::time::sleep_until(self.first_request_deadline)));
        poll_fn(|cx| {
            if !shutting_down && shutdown.as_mut().poll(cx).is_ready() {
                shutting_down = true;
                connection.as_mut().graceful_shutdown();
            }
            if let Some(deadline) = &mut first_request {
                if self.activity.requests.load(Ordering::Relaxed) > 0 {
                    first_request = None;
                } else if deadline.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(Closed::Watchdog("no request within the header read timeout")));
                }
            }
            connection.as_mut().poll(cx).map_err(Closed::Hyper)
        })
        .await
    }

    /// hyper keeps no deadline over HTTP/2 but the streams' own (the body's, in the pipeline): the
    /// watchdog closes a connection without a first request, an idle one, and one whose client stalls
    /// a response by granting no window.
    async fn drive_http2<I, S, B>(
        &self,
        connection: http2::Connection<I, S, TokioExecutor>,
        mut shutdown: ShutdownSignal,
    ) -> Result<(), Closed>
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
        S: HttpService<Incoming, ResBody = B>,
        S::Error: Into<Box<dyn StdError + Send + Sync>>,
        B: Body + 'static,
        B::Error: Into<Box<dyn StdError + Send + Sync>>,
        TokioExecutor: Http2ServerConnExec<S::Future, B>,
    {
        let mut connection = pin!(connection);
        let mut shutdown = pin!(shutdown.fired());
        let mut shutting_down = false;
        let now = Instant::now();
        let mut watchdog = Watchdog::new(
            now,
            self.first_request_deadline,
            self.protocols.header_read_timeout,
            self.protocols.write_timeout,
        );
        let period = watchdog.period();
        let mut tick = pin!(tokio::time::sleep_until(now + period));
        poll_fn(|cx| {
            if !shutting_down && shutdown.as_mut().poll(cx).is_ready() {
                shutting_down = true;
                connection.as_mut().graceful_shutdown();
            }
            while tick.as_mut().poll(cx).is_ready() {
                let now = Instant::now();
                match watchdog.check(now, self.activity.snapshot()) {
                    Verdict::Carry => {}
                    Verdict::GoAway => connection.as_mut().graceful_shutdown(),
                    Verdict::Close(reason) => return Poll::Ready(Err(Closed::Watchdog(reason))),
                }
                tick.as_mut().reset(now + period);
            }
            connection.as_mut().poll(cx).map_err(Closed::Hyper)
        })
        .await
    }
}

/// How a connection ended other than cleanly.
enum Closed {
    Hyper(hyper::Error),
    Watchdog(&'static str),
}

// ---------------------------------------------------------------------------------------------------
// The HTTP/2 watchdog

/// The counters of a connection at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Snapshot {
    requests: u64,
    writes: u64,
    open_streams: usize,
    parked_streams: usize,
}

/// What the watchdog decides at a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Nothing to do.
    Carry,
    /// Idle: send GOAWAY and let the client close (graceful shutdown).
    GoAway,
    /// Drop the connection, for this reason.
    Close(&'static str),
}

/// The deadlines of an HTTP/2 connection, checked on the counters a few times per deadline (so each fires
/// within a quarter of itself after it is due):
///
/// * no request (stream) within the header read timeout of the accept: dropped, as over HTTP/1.1;
/// * idle (no stream open, none started, nothing written) for the header read timeout: GOAWAY, then
///   dropped if still open after another such period (a client that never answers the GOAWAY's ping);
/// * a response held by the client's flow control (a body chunk waits for window) while nothing is
///   written for the write timeout: dropped, the HTTP/2 counterpart of a client that does not read.
#[derive(Debug)]
struct Watchdog {
    first_request_deadline: Instant,
    idle_timeout: Duration,
    stall_timeout: Duration,
    last: Snapshot,
    /// The last tick that saw a stream open or started, or a write.
    busy_at: Instant,
    /// The last tick that saw no response waiting for window, or a write.
    moving_at: Instant,
    going_away: bool,
}

impl Watchdog {
    fn new(now: Instant, first_request_deadline: Instant, idle_timeout: Duration, stall_timeout: Duration) -> Self {
        Self {
            first_request_deadline,
            idle_timeout,
            stall_timeout,
            last: Snapshot::default(),
            busy_at: now,
            moving_at: now,
            going_away: false,
        }
    }

    fn period(&self) -> Duration {
        (self.idle_timeout.min(self.stall_timeout) / 4).max(Duration::from_millis(1))
    }

    fn check(&mut self, now: Instant, seen: Snapshot) -> Verdict {
        if seen.requests == 0 {
            return if now >= self.first_request_deadline {
                Verdict::Close("no request within the header read timeout")
            } else {
                Verdict::Carry
            };
        }
        let wrote = seen.writes != self.last.writes;
        if wrote || seen.requests != self.last.requests || seen.open_streams > 0 {
            self.busy_at = now;
        }
        if wrote || seen.parked_streams == 0 {
            self.moving_at = now;
        }
        self.last = seen;
        if now.saturating_duration_since(self.moving_at) >= self.stall_timeout {
            return Verdict::Close("the client let a response stall (no flow-control window) past the write timeout");
        }
        if now.saturating_duration_since(self.busy_at) >= self.idle_timeout {
            if self.going_away {
                return Verdict::Close("idle, and still open a header read timeout after GOAWAY");
            }
            self.going_away = true;
            self.busy_at = now;
            return Verdict::GoAway;
        }
        Verdict::Carry
    }
}

// ---------------------------------------------------------------------------------------------------
// Accept errors

/// Pause after a failed `accept` (typically `EMFILE` / `ENFILE`: out of file descriptors). The error
/// persists until a connection closes, so retrying at once would spin a core and flood the log.
pub(crate) const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// At most one log line per this period about failed accepts; the next line counts the ones left out.
pub(crate) const ACCEPT_ERROR_LOG_INTERVAL: Duration = Duration::from_secs(1);

/// Accept errors: a pause after each, and a log line at most once per interval.
#[derive(Debug)]
pub(crate) struct AcceptErrors {
    backoff: Duration,
    log_interval: Duration,
    last_logged: Option<Instant>,
    suppressed: u64,
}

impl AcceptErrors {
    pub(crate) fn new(backoff: Duration, log_interval: Duration) -> Self {
        Self { backoff, log_interval, last_logged: None, suppressed: 0 }
    }

    /// Counts an error at `now`. When a line is due, returns how many errors were left out since the
    /// last one.
    fn record(&mut self, now: Instant) -> Option<u64> {
        if self.last_logged.is_some_and(|last| now.saturating_duration_since(last) < self.log_interval) {
            self.suppressed += 1;
            return None;
        }
        self.last_logged = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }

    /// Logs `error` when a line is due, then waits out the back-off. Returns whether it logged.
    pub(crate) async fn on_error(&mut self, error: &io::Error) -> bool {
        let logged = match self.record(Instant::now()) {
            Some(0) => {
                tracing::warn!(error = %error, "accept failed; retrying");
                true
            }
            Some(suppressed) => {
                tracing::warn!(error = %error, suppressed, "accept failed; retrying ({suppressed} more failures not logged)");
                true
            }
            None => false,
        };
        tokio::time::sleep(self.backoff).await;
        logged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_errors_are_logged_at_most_once_per_interval_and_counted() {
        let mut errors = AcceptErrors::new(ACCEPT_ERROR_BACKOFF, Duration::from_secs(1));
        let t0 = Instant::now();
        assert_eq!(errors.record(t0), Some(0), "the first error is logged");
        for ms in (50..1000).step_by(50) {
            assert_eq!(errors.record(t0 + Duration::from_millis(ms)), None, "at {ms} ms");
        }
        // 19 left out, then the next line says so.
        assert_eq!(errors.record(t0 + Duration::from_millis(1000)), Some(19));
        assert_eq!(errors.record(t0 + Duration::from_millis(1500)), None);
        assert_eq!(errors.record(t0 + Duration::from_millis(2000)), Some(1));
        // A long quiet spell: the next error is logged at once.
        assert_eq!(errors.record(t0 + Duration::from_secs(60)), Some(0));
    }

    #[tokio::test]
    async fn an_accept_error_backs_off_and_a_burst_logs_one_line() {
        let backoff = Duration::from_millis(20);
        let mut errors = AcceptErrors::new(backoff, Duration::from_secs(60));
        let error = io::Error::from_raw_os_error(24); // EMFILE
        let started = std::time::Instant::now();
        let mut lines = 0;
        for _ in 0..5 {
            lines += u32::from(errors.on_error(&error).await);
        }
        assert!(started.elapsed() >= backoff * 5, "backed off only {:?}", started.elapsed());
        assert_eq!(lines, 1);
    }

    const T: Duration = Duration::from_secs(10);
    const W: Duration = Duration::from_secs(30);

    fn seen(requests: u64, writes: u64, open_streams: usize, parked_streams: usize) -> Snapshot {
        Snapshot { requests, writes, open_streams, parked_streams }
    }

    #[test]
    fn an_http2_connection_without_a_request_is_closed_at_the_first_request_deadline() {
        let t0 = Instant::now();
        let mut watchdog = Watchdog::new(t0, t0 + T, T, W);
        assert_eq!(watchdog.period(), T / 4);
        // The server's SETTINGS and the client's pings are writes, but not requests.
        assert_eq!(watchdog.check(t0 + T / 2, seen(0, 3, 0, 0)), Verdict::Carry);
        assert!(matches!(watchdog.check(t0 + T, seen(0, 5, 0, 0)), Verdict::Close(_)));
    }

    #[test]
    fn an_idle_http2_connection_gets_goaway_then_is_closed_if_it_stays() {
        let t0 = Instant::now();
        let mut watchdog = Watchdog::new(t0, t0 + T, T, W);
        let tick = |n: u32| t0 + T / 4 * n;
        // A request that came and went within the first period.
        assert_eq!(watchdog.check(tick(1), seen(1, 2, 0, 0)), Verdict::Carry);
        // A stream open for a long time (a slow function) is not idle, however long it takes.
        for n in 2..20 {
            assert_eq!(watchdog.check(tick(n), seen(2, 2, 1, 0)), Verdict::Carry, "tick {n}");
        }
        // Done at tick 20: idle from then on.
        assert_eq!(watchdog.check(tick(20), seen(2, 3, 0, 0)), Verdict::Carry);
        for n in 21..24 {
            assert_eq!(watchdog.check(tick(n), seen(2, 3, 0, 0)), Verdict::Carry, "tick {n}");
        }
        assert_eq!(watchdog.check(tick(24), seen(2, 3, 0, 0)), Verdict::GoAway);
        // The GOAWAY went out; a client that does not close is dropped one period of idleness later.
        assert_eq!(watchdog.check(tick(25), seen(2, 4, 0, 0)), Verdict::Carry);
        for n in 26..29 {
            assert_eq!(watchdog.check(tick(n), seen(2, 4, 0, 0)), Verdict::Carry, "tick {n}");
        }
        assert!(matches!(watchdog.check(tick(29), seen(2, 4, 0, 0)), Verdict::Close(_)));
    }

    #[test]
    fn a_slow_download_is_not_idle_but_a_response_stalled_by_flow_control_is_closed() {
        let t0 = Instant::now();
        let mut watchdog = Watchdog::new(t0, t0 + T, T, W);
        let tick = |n: u32| t0 + T / 4 * n;
        // The body was handed to h2 at once (no open stream), and goes out a little at every tick.
        for n in 1..40 {
            assert_eq!(watchdog.check(tick(n), seen(1, u64::from(n), 0, 0)), Verdict::Carry, "tick {n}");
        }
        // A streamed body waits for window while nothing is written: closed after the write timeout.
        let mut verdict = Verdict::Carry;
        let mut n = 40;
        while verdict == Verdict::Carry {
            n += 1;
            verdict = watchdog.check(tick(n), seen(1, 39, 1, 1));
        }
        assert!(matches!(verdict, Verdict::Close(_)), "{verdict:?}");
        let waited = tick(n) - tick(39);
        assert!(waited >= W && waited <= W + watchdog.period(), "{waited:?}");
    }

    #[tokio::test]
    async fn a_peek_at_the_first_bytes_picks_the_protocol_and_leaves_them_in_the_socket() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

        async fn peeked(chunks: &[&[u8]]) -> (Option<Protocol>, Vec<u8>) {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
            let (mut server, _) = listener.accept().await.unwrap();
            for chunk in chunks {
                client.write_all(chunk).await.unwrap();
                tokio::time::sleep(PARTIAL_PREFACE_PAUSE * 2).await;
            }
            drop(client);
            let protocol = tokio::time::timeout(Duration::from_secs(5), peek_protocol(&server)).await.unwrap().unwrap();
            let mut all = Vec::new();
            server.read_to_end(&mut all).await.unwrap();
            (protocol, all)
        }

        let h2 = [&H2_PREFACE[..], b"\0\0\0\x04"].concat();
        // The preface in two pieces: the first is only a prefix, so the peek waits for the rest.
        assert_eq!(peeked(&[&h2[..10], &h2[10..]]).await, (Some(Protocol::Http2), h2.clone()));
        let h1 = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n".to_vec();
        assert_eq!(peeked(&[&h1]).await, (Some(Protocol::Http1), h1.clone()));
        assert_eq!(peeked(&[b"PRI / HTTP/1.1\r\n"]).await.0, Some(Protocol::Http1));
        assert_eq!(peeked(&[]).await, (None, Vec::new()));
    }

    #[cfg(feature = "tls")]
    #[tokio::test]
    async fn the_preface_picks_http2_and_anything_else_http1_and_the_bytes_are_read_again() {
        use tokio::io::AsyncWriteExt as _;

        async fn sniffed(chunks: &[&[u8]]) -> Option<(Protocol, Vec<u8>)> {
            let (mut client, server) = tokio::io::duplex(1024);
            for chunk in chunks {
                client.write_all(chunk).await.unwrap();
            }
            drop(client);
            let (protocol, mut stream) = sniff(server).await.unwrap()?;
            let mut all = Vec::new();
            stream.read_to_end(&mut all).await.unwrap();
            Some((protocol, all))
        }

        let h2 = [&H2_PREFACE[..], b"\0\0\0\x04"].concat();
        assert_eq!(sniffed(&[&h2[..10], &h2[10..]]).await, Some((Protocol::Http2, h2.clone())));
        let h1 = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n".to_vec();
        assert_eq!(sniffed(&[&h1]).await, Some((Protocol::Http1, h1.clone())));
        // `PRI` then something else, or a preface cut short by the end of the stream: HTTP/1.1's to refuse.
        assert_eq!(sniffed(&[b"PRI / HTTP/1.1\r\n"]).await.map(|(p, _)| p), Some(Protocol::Http1));
        assert_eq!(sniffed(&[&H2_PREFACE[..5]]).await, Some((Protocol::Http1, H2_PREFACE[..5].to_vec())));
        assert_eq!(sniffed(&[]).await, None);
    }
}
