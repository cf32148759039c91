//! The hyper 1 server: HTTP/1.1 and HTTP/2 on one port (TLS with the `tls` feature), keep-alive, deadlines
//! for the head, the body, idle connections and writes, caps on header size, connections, HTTP/2 streams
//! and buffered bodies, graceful shutdown (docs/limits.md).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use tokio::net::TcpListener;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use crate::connection::{
    serve_connection, AcceptErrors, Activity, Protocols, ShutdownSignal, ACCEPT_ERROR_BACKOFF,
    ACCEPT_ERROR_LOG_INTERVAL,
};
use crate::middleware::RequestBody;
use crate::pipeline::{dispatch, Arrival};
use crate::registry::Registry;
use crate::service::connection_service;

/// Default body limit: 2 MiB (docs/limits.md).
pub const DEFAULT_BODY_LIMIT: usize = 2 * 1024 * 1024;
/// Headers over 64 KiB in total get 431 (hyper's default buffer is far larger; over HTTP/2 hyper's default
/// header list cap is 16 KiB).
pub const DEFAULT_MAX_HEADER_BYTES: usize = 64 * 1024;
/// A client that has not sent complete headers by then is dropped, so it cannot hold a connection. The
/// same deadline closes a kept-alive connection left idle that long (HTTP/1.1 and HTTP/2).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A request body must have arrived in full this long after its headers, or the request gets 408.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// A response write that makes no progress this long (the client does not read) closes the connection.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Open connections at most; past it the server stops accepting until one closes.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// Request body bytes buffered at once across all connections: 256 MiB.
pub const DEFAULT_BODY_BUDGET: usize = 256 * 1024 * 1024;
/// How long requests in flight may take to finish after SIGINT / SIGTERM.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// HTTP/2 streams one connection may have open at once: 100, the least RFC 9113 (5.1.2) recommends, so no
/// client is surprised, and what nginx and Apache advertise. A client that wants more parallel requests
/// opens more connections, and each counts against the connection cap.
pub const DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS: u32 = 100;
/// HTTP/2 streams a client may reset before the server has taken them up; past it the connection is
/// closed (GOAWAY `ENHANCE_YOUR_CALM`). The "rapid reset" protection (CVE-2023-44487); h2's default.
pub const DEFAULT_HTTP2_MAX_PENDING_ACCEPT_RESET_STREAMS: usize = 20;
/// HTTP/2 streams the server may reset on one connection because the client broke the protocol on them;
/// past it the connection is closed (GOAWAY `ENHANCE_YOUR_CALM`). The protection against the rapid-reset
/// variants where the client makes the server send the resets; hyper's default.
pub const DEFAULT_HTTP2_MAX_LOCAL_ERROR_RESET_STREAMS: usize = 1024;
/// Bytes of one HTTP/2 response h2 takes ahead of the client's flow-control window: 128 KiB (hyper's
/// default is 400 KiB). A streamed body is read no further ahead than this.
pub const DEFAULT_HTTP2_MAX_SEND_BUF_SIZE: usize = 128 * 1024;
/// Bytes of one HTTP/2 request body a client may send before the server reads them: 256 KiB (hyper's
/// default is 1 MiB, the protocol's 64 KiB).
pub const DEFAULT_HTTP2_INITIAL_STREAM_WINDOW_SIZE: u32 = 256 * 1024;
/// Bytes of request bodies a client may send on one HTTP/2 connection, all streams together, before the
/// server reads them: 512 KiB. The window bounds what h2 buffers per connection for bodies not read yet
/// (an unauthenticated request's body is never read), and lets two bodies upload at full speed at once.
pub const DEFAULT_HTTP2_INITIAL_CONNECTION_WINDOW_SIZE: u32 = 512 * 1024;

/// Server settings; every field states its default. Exceeding a limit costs the offending request or
/// connection only (docs/limits.md).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest accepted request body in bytes (413 past it). Default [`DEFAULT_BODY_LIMIT`] (2 MiB).
    pub body_limit: usize,
    /// Cap on the request line and headers in bytes (hyper's read buffer; minimum 8192): 431 past it.
    /// Over HTTP/2 it is the advertised `SETTINGS_MAX_HEADER_LIST_SIZE` (each field counted as name +
    /// value + 32 bytes); a header block past it gets 431 on its stream, a far larger one may close the
    /// connection. Default [`DEFAULT_MAX_HEADER_BYTES`] (64 KiB).
    pub max_header_bytes: usize,
    /// Time a client has to send complete headers, counted from the connection's accept (TLS handshake
    /// included) or, on a kept-alive connection, from the end of the previous response: it is also the
    /// idle timeout. Over HTTP/2: the first stream must start within it, and a connection with no stream
    /// open and nothing sent for that long gets GOAWAY (then is dropped if the client keeps it open
    /// another such period). Default [`DEFAULT_HEADER_READ_TIMEOUT`] (10 s).
    pub header_read_timeout: Duration,
    /// Time the whole request body has to arrive, counted from the end of its headers; past it the
    /// request gets 408 and the connection is closed. Default [`DEFAULT_BODY_READ_TIMEOUT`] (30 s).
    pub body_read_timeout: Duration,
    /// Time a response write may make no progress (the client does not read) before the connection is
    /// closed. Over HTTP/2 it also bounds a response held back by the client's flow control while
    /// nothing is written. Default [`DEFAULT_WRITE_TIMEOUT`] (30 s).
    pub write_timeout: Duration,
    /// Open connections at most (at least 1); past it the server stops accepting until one closes, and
    /// new clients wait in the listen backlog. Default [`DEFAULT_MAX_CONNECTIONS`] (4096).
    pub max_connections: usize,
    /// Request body bytes buffered at once across all connections; a request whose body would exceed
    /// it gets 503 with `Retry-After`. Default [`DEFAULT_BODY_BUDGET`] (256 MiB).
    pub body_budget: usize,
    /// Proxies whose `X-Forwarded-For` is believed (addresses or CIDR networks, such as `10.0.0.0/8`).
    /// When the peer is one of them, [`Request::client_addr`](crate::Request::client_addr) is the rightmost
    /// address in `X-Forwarded-For` that is not a trusted proxy. Default: none, so the client address is
    /// always the peer's.
    pub trusted_proxies: Vec<IpNet>,
    /// Time requests in flight get to finish on shutdown. Default [`DEFAULT_SHUTDOWN_GRACE`] (10 s).
    pub shutdown_grace: Duration,
    /// HTTP/2 streams one connection may have open at once (`SETTINGS_MAX_CONCURRENT_STREAMS`).
    /// Default [`DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS`] (100).
    pub http2_max_concurrent_streams: u32,
    /// HTTP/2 streams a client may reset before the server takes them up (rapid reset, CVE-2023-44487).
    /// Default [`DEFAULT_HTTP2_MAX_PENDING_ACCEPT_RESET_STREAMS`] (20).
    pub http2_max_pending_accept_reset_streams: usize,
    /// HTTP/2 streams the server may reset on one connection for the client's protocol errors.
    /// Default [`DEFAULT_HTTP2_MAX_LOCAL_ERROR_RESET_STREAMS`] (1024).
    pub http2_max_local_error_reset_streams: usize,
    /// Bytes of one HTTP/2 response queued ahead of the client's window.
    /// Default [`DEFAULT_HTTP2_MAX_SEND_BUF_SIZE`] (128 KiB).
    pub http2_max_send_buf_size: usize,
    /// The HTTP/2 receive window of each stream. Default [`DEFAULT_HTTP2_INITIAL_STREAM_WINDOW_SIZE`]
    /// (256 KiB).
    pub http2_initial_stream_window_size: u32,
    /// The HTTP/2 receive window of each connection. Default
    /// [`DEFAULT_HTTP2_INITIAL_CONNECTION_WINDOW_SIZE`] (512 KiB).
    pub http2_initial_connection_window_size: u32,
    /// TLS (feature `tls`): when set, every connection is TLS, with ALPN `h2` and `http/1.1`. Default:
    /// none (clear text). `App::run` sets it from `PIKKU_TLS_CERT` and `PIKKU_TLS_KEY`.
    #[cfg(feature = "tls")]
    pub tls: Option<crate::tls::TlsConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            body_limit: DEFAULT_BODY_LIMIT,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            body_budget: DEFAULT_BODY_BUDGET,
            trusted_proxies: Vec::new(),
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            http2_max_concurrent_streams: DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS,
            http2_max_pending_accept_reset_streams: DEFAULT_HTTP2_MAX_PENDING_ACCEPT_RESET_STREAMS,
            http2_max_local_error_reset_streams: DEFAULT_HTTP2_MAX_LOCAL_ERROR_RESET_STREAMS,
            http2_max_send_buf_size: DEFAULT_HTTP2_MAX_SEND_BUF_SIZE,
            http2_initial_stream_window_size: DEFAULT_HTTP2_INITIAL_STREAM_WINDOW_SIZE,
            http2_initial_connection_window_size: DEFAULT_HTTP2_INITIAL_CONNECTION_WINDOW_SIZE,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

/// A built application: registry, services and settings. Cheap to clone.
pub struct Server<Sv, S> {
    pub(crate) inner: Arc<ServerInner<Sv, S>>,
}

impl<Sv, S> Clone for Server<Sv, S> {
    fn clone(&self) -> Self {
        Self { inner: Arc::clone(&self.inner) }
    }
}

impl<Sv, S> std::fmt::Debug for Server<Sv, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("functions", &self.inner.registry.functions.len()).finish_non_exhaustive()
    }
}

pub(crate) struct ServerInner<Sv, S> {
    pub(crate) registry: Registry<Sv, S>,
    pub(crate) services: Sv,
    pub(crate) config: ServerConfig,
    /// The tower layers around the whole application (`App::layer`), `None` without any.
    pub(crate) layers: Option<crate::service::ApplicationService>,
}

impl<Sv: Send + Sync + 'static, S: Clone + Send + Sync + 'static> Server<Sv, S> {
    /// The registry, for introspection.
    pub fn registry(&self) -> &Registry<Sv, S> {
        &self.inner.registry
    }

    /// The services.
    pub fn services(&self) -> &Sv {
        &self.inner.services
    }

    /// Runs one request through the pipeline exactly as the server does for a request it has read
    /// (routing, middleware, gate, input, permissions, function, `x-request-id`). For benchmarks and tests.
    ///
    /// The request has no peer: its [`client_addr`](crate::Request::client_addr) is `None`. The layers of
    /// [`App::layer`](crate::App::layer) are not applied (the `Service` impl and `serve` apply them).
    pub fn dispatch(&self, request: http::Request<RequestBody>) -> impl Future<Output = crate::Response> + Send + '_ {
        dispatch(&self.inner.registry, &self.inner.services, request, Arrival::default())
    }

    /// [`dispatch`](Self::dispatch) as if the request came from `client_addr` (the in-process test client's
    /// `TestRequest::client_addr`).
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn dispatch_from(
        &self,
        request: http::Request<RequestBody>,
        client_addr: Option<std::net::IpAddr>,
    ) -> impl Future<Output = crate::Response> + Send + '_ {
        dispatch(&self.inner.registry, &self.inner.services, request, Arrival { client_addr, body_deadline: None })
    }

    /// Serves connections from `listener` until `shutdown` completes, then stops accepting and lets
    /// requests in flight finish within the configured grace period. Each connection speaks HTTP/1.1 or
    /// HTTP/2: TLS with ALPN when `ServerConfig::tls` is set (feature `tls`); in clear, a client with prior
    /// knowledge of HTTP/2 is told apart by its first bytes. The layers of [`App::layer`](crate::App::layer),
    /// if any, wrap every request (docs/tower.md).
    ///
    /// # Errors
    /// Never fails after start; accept errors are logged (at most once a second) and retried after a
    /// short pause.
    #[allow(clippy::missing_panics_doc)] // the `expect` states an invariant, it cannot fail
    pub async fn serve(self, listener: TcpListener, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
        let config = &self.inner.config;
        let protocols = Arc::new(Protocols::new(config));
        // Every connection holds a receiver until it closes: the sender sees them all gone.
        let (shutting_down, shutdown_signal) = watch::channel(());
        let connections = Arc::new(Semaphore::new(config.max_connections.clamp(1, Semaphore::MAX_PERMITS)));
        let mut at_cap = false;
        let mut accept_errors = AcceptErrors::new(ACCEPT_ERROR_BACKOFF, ACCEPT_ERROR_LOG_INTERVAL);
        // A slot taken for an accept that failed is kept for the next attempt.
        let mut slot: Option<OwnedSemaphorePermit> = None;
        // The connections' tasks, so the ones still open after the grace period can be ended.
        let mut open = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            let permit = match slot.take() {
                Some(permit) => permit,
                None => match Arc::clone(&connections).try_acquire_owned() {
                    Ok(permit) => {
                        at_cap = false;
                        permit
                    }
                    Err(_) => {
                        // One line when the cap is reached, another only after it has been below it again.
                        if !at_cap {
                            at_cap = true;
                            tracing::warn!(
                                max_connections = config.max_connections,
                                "connection cap reached: new connections wait in the listen backlog until one closes"
                            );
                        }
                        tokio::select! {
                            permit = Arc::clone(&connections).acquire_owned() => {
                                permit.expect("the connection semaphore is never closed")
                            }
                            () = &mut shutdown => break,
                        }
                    }
                },
            };
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        slot = Some(permit);
                        tokio::select! {
                            _ = accept_errors.on_error(&e) => continue,
                            () = &mut shutdown => break,
                        }
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let activity = Arc::new(Activity::default());
            let service = connection_service(&self, peer, Arc::clone(&activity));
            let connection = serve_connection(
                Arc::clone(&protocols),
                stream,
                activity,
                service,
                ShutdownSignal::new(shutdown_signal.clone()),
            );
            // Finished connections are reaped here, so the set holds only open ones.
            while open.try_join_next().is_some() {}
            open.spawn(async move {
                connection.await;
                // The connection's slot frees only now, when its socket is closed.
                drop(permit);
            });
        }
        drop(listener);
        drop(shutdown_signal);
        tracing::info!("shutting down: waiting for requests in flight");
        // No receiver left (no connection open) is not an error: there is nothing to wait for.
        let _ = shutting_down.send(());
        if tokio::time::timeout(self.inner.config.shutdown_grace, shutting_down.closed()).await.is_err() {
            // Endless responses (event streams) and clients that never finish end here, not with the process.
            tracing::warn!(connections = open.len(), "requests still in flight after the grace period were dropped");
            open.shutdown().await;
        }
        Ok(())
    }

    /// `https` when the server serves TLS, else `http`.
    fn scheme(&self) -> &'static str {
        #[cfg(feature = "tls")]
        if self.inner.config.tls.is_some() {
            return "https";
        }
        "http"
    }

    /// Binds `addr` and serves until SIGINT or SIGTERM.
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn bind_and_serve(self, addr: SocketAddr) -> std::io::Result<()> {
        let listener = TcpListener::bind(addr).await?;
        // Handlers first: once the address is printed, SIGINT / SIGTERM must shut down gracefully.
        let shutdown = shutdown_signal();
        println!("listening on {}://{}", self.scheme(), listener.local_addr()?);
        self.serve(listener, shutdown).await
    }
}

/// Completes on SIGINT or SIGTERM. Call it within a Tokio runtime.
///
/// The handlers are installed when this is called, not when the future is first polled: a signal that
/// arrives in between (e.g. right after the address line is printed) must stop the server cleanly,
/// not kill the process with the default disposition.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, Signal, SignalKind};
        async fn received(signal: Option<Signal>) {
            match signal {
                Some(mut signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        let interrupt = signal(SignalKind::interrupt()).ok();
        let terminate = signal(SignalKind::terminate()).ok();
        async move {
            tokio::select! {
                () = received(interrupt) => {},
                () = received(terminate) => {},
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
