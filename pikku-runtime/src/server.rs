//! The hyper 1 server: keep-alive, a header read timeout, a cap on header size, graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::middleware::RequestBody;
use crate::pipeline::{dispatch, Arrival};
use crate::registry::Registry;

/// Default body limit: 2 MiB (docs/limits.md).
pub const DEFAULT_BODY_LIMIT: usize = 2 * 1024 * 1024;
/// Headers over 64 KiB in total get 431 (hyper's default buffer is far larger).
pub const DEFAULT_MAX_HEADER_BYTES: usize = 64 * 1024;
/// A client that has not sent complete headers by then is dropped, so it cannot hold a connection.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long requests in flight may take to finish after SIGINT / SIGTERM.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Server settings; every field states its default.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest accepted request body in bytes. Default [`DEFAULT_BODY_LIMIT`] (2 MiB).
    pub body_limit: usize,
    /// Cap on the request line and headers in bytes (hyper's read buffer; minimum 8192).
    /// Default [`DEFAULT_MAX_HEADER_BYTES`] (64 KiB).
    pub max_header_bytes: usize,
    /// Time a client has to send complete headers. Default [`DEFAULT_HEADER_READ_TIMEOUT`] (10 s).
    pub header_read_timeout: Duration,
    /// Time requests in flight get to finish on shutdown. Default [`DEFAULT_SHUTDOWN_GRACE`] (10 s).
    pub shutdown_grace: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            body_limit: DEFAULT_BODY_LIMIT,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
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
    /// The request has no peer: its [`client_addr`](crate::Request::client_addr) is `None`.
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
        dispatch(&self.inner.registry, &self.inner.services, request, Arrival { client_addr })
    }

    /// Serves connections from `listener` until `shutdown` completes, then stops accepting and lets
    /// requests in flight finish within the configured grace period.
    ///
    /// # Errors
    /// Never fails after start; accept errors are logged and retried.
    pub async fn serve(self, listener: TcpListener, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
        let graceful = GracefulShutdown::new();
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .keep_alive(true)
            .header_read_timeout(self.inner.config.header_read_timeout)
            // The buffer cap alone is soft (a head that completes within the last read is accepted even
            // when it overshoots); `max_header_size` is the exact cap that answers 431.
            .max_header_size(self.inner.config.max_header_bytes)
            .max_buf_size(self.inner.config.max_header_bytes.max(8192));
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(conn) => conn,
                        Err(e) => {
                            // Running out of file descriptors is transient: back off instead of spinning.
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    let server = self.clone();
                    // A dual-stack listener reports IPv4 clients as `::ffff:a.b.c.d`.
                    let peer = peer.ip().to_canonical();
                    let service = service_fn(move |request: http::Request<Incoming>| {
                        let server = server.clone();
                        let arrival = Arrival { client_addr: Some(peer) };
                        async move {
                            let request = request.map(RequestBody::Incoming);
                            Ok::<_, Infallible>(dispatch(&server.inner.registry, &server.inner.services, request, arrival).await)
                        }
                    });
                    let connection = builder.serve_connection(TokioIo::new(stream), service);
                    let connection = graceful.watch(connection);
                    tokio::spawn(async move {
                        if let Err(e) = connection.await {
                            tracing::debug!(error = %e, "connection closed with an error");
                        }
                    });
                }
                () = &mut shutdown => break,
            }
        }
        drop(listener);
        tracing::info!("shutting down: waiting for requests in flight");
        if tokio::time::timeout(self.inner.config.shutdown_grace, graceful.shutdown()).await.is_err() {
            tracing::warn!("requests still in flight after the grace period were dropped");
        }
        Ok(())
    }

    /// Binds `addr` and serves until SIGINT or SIGTERM.
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn bind_and_serve(self, addr: SocketAddr) -> std::io::Result<()> {
        let listener = TcpListener::bind(addr).await?;
        // Handlers first: once the address is printed, SIGINT / SIGTERM must shut down gracefully.
        let shutdown = shutdown_signal();
        println!("listening on http://{}", listener.local_addr()?);
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
