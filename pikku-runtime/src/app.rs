//! The application: settings, start-up, and the command line (`serve`, `info functions`,
//! `info middleware`).

use std::fmt::Display;
use std::future::Future;
use std::marker::PhantomData;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::{Arc, Weak};
use std::time::Duration;

use clap::{Parser, Subcommand};
use ipnet::IpNet;
use tower::{Layer, Service};

use crate::info;
use crate::middleware::RequestBody;
use crate::registry::{Registry, StartupError};
use crate::response::BoxError;
use crate::server::{Server, ServerConfig, ServerInner};
use crate::service::{application_layers, ApplicationLayersFn, DeclaredLayer, PipelineService};

/// An application of services `Sv` and session `S`, before start.
///
/// ```no_run
/// # use pikku_runtime::App;
/// # #[derive(Clone)] struct Session;
/// # struct Services;
/// fn main() -> std::process::ExitCode {
///     App::<Services, Session>::new().run(|| async { Ok::<_, std::convert::Infallible>(Services) })
/// }
/// ```
pub struct App<Sv, S> {
    config: ServerConfig,
    /// `App::layer`, in the order declared (the first outermost).
    layers: Vec<DeclaredLayer>,
    /// How the layers are put around the pipeline, once there are any (see `service::application_layers`).
    wrap: Option<ApplicationLayersFn<Sv, S>>,
    /// See [`App::allow_no_routes`].
    allow_no_routes: bool,
    types: PhantomData<fn() -> (Sv, S)>,
}

impl<Sv, S> Default for App<Sv, S> {
    fn default() -> Self {
        Self { config: ServerConfig::default(), layers: Vec::new(), wrap: None, allow_no_routes: false, types: PhantomData }
    }
}

#[derive(Parser)]
#[command(about = "A pikku-rs application")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP (the default). HOST and PORT come from the environment.
    Serve,
    /// Print the registry.
    Info {
        #[command(subcommand)]
        what: InfoCommand,
    },
}

#[derive(Subcommand)]
enum InfoCommand {
    /// Functions: id, name, tags (verbose: routes, auth, middleware, permissions, source).
    Functions {
        /// Show every column.
        #[arg(long)]
        verbose: bool,
    },
    /// Middleware and strategies, and where each applies.
    Middleware {
        /// Show the configuration of each.
        #[arg(long)]
        verbose: bool,
    },
}

/// Default address when `HOST` is unset: loopback, so a development server is not exposed by accident.
pub const DEFAULT_HOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Default port when `PORT` is unset.
pub const DEFAULT_PORT: u16 = 3000;

impl<Sv: Send + Sync + 'static, S: Clone + Send + Sync + 'static> App<Sv, S> {
    /// An application with default settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// Largest accepted request body. By default 2 MiB.
    #[must_use]
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.config.body_limit = bytes;
        self
    }

    /// Time a client has to send its headers; also how long a kept-alive connection may stay idle. By
    /// default 10 seconds.
    #[must_use]
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.config.header_read_timeout = timeout;
        self
    }

    /// Cap on request line plus headers. By default 64 KiB.
    #[must_use]
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.config.max_header_bytes = bytes;
        self
    }

    /// Time the whole request body has to arrive after its headers (408 past it). By default 30 seconds.
    #[must_use]
    pub fn body_read_timeout(mut self, timeout: Duration) -> Self {
        self.config.body_read_timeout = timeout;
        self
    }

    /// Time a response write may make no progress before the connection is closed. By default 30 seconds.
    #[must_use]
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.config.write_timeout = timeout;
        self
    }

    /// Open connections at most (at least 1). By default 4096.
    #[must_use]
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.config.max_connections = connections;
        self
    }

    /// Request body bytes buffered at once across all connections (503 past it). By default 256 MiB.
    #[must_use]
    pub fn body_budget(mut self, bytes: usize) -> Self {
        self.config.body_budget = bytes;
        self
    }

    /// Proxies whose `X-Forwarded-For` is believed: addresses or networks (`"10.0.0.0/8".parse()?`, or
    /// `IpNet::from(addr)` for one address). By default none; see [`ServerConfig::trusted_proxies`].
    #[must_use]
    pub fn trusted_proxies(mut self, proxies: impl IntoIterator<Item = IpNet>) -> Self {
        self.config.trusted_proxies = proxies.into_iter().collect();
        self
    }

    /// Time requests in flight get to finish on shutdown. By default 10 seconds.
    #[must_use]
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.config.shutdown_grace = grace;
        self
    }

    /// HTTP/2 streams one connection may have open at once. By default 100; see
    /// [`ServerConfig::http2_max_concurrent_streams`].
    #[must_use]
    pub fn http2_max_concurrent_streams(mut self, streams: u32) -> Self {
        self.config.http2_max_concurrent_streams = streams;
        self
    }

    /// HTTP/2 streams a client may reset before the server takes them up, past which the connection is
    /// closed (rapid reset). By default 20.
    #[must_use]
    pub fn http2_max_pending_accept_reset_streams(mut self, streams: usize) -> Self {
        self.config.http2_max_pending_accept_reset_streams = streams;
        self
    }

    /// HTTP/2 streams the server may reset on one connection for the client's protocol errors, past which
    /// the connection is closed. By default 1024.
    #[must_use]
    pub fn http2_max_local_error_reset_streams(mut self, streams: usize) -> Self {
        self.config.http2_max_local_error_reset_streams = streams;
        self
    }

    /// Bytes of one HTTP/2 response queued ahead of the client's flow-control window. By default 128 KiB.
    #[must_use]
    pub fn http2_max_send_buf_size(mut self, bytes: usize) -> Self {
        self.config.http2_max_send_buf_size = bytes;
        self
    }

    /// The HTTP/2 receive window of each stream: request body bytes a client may send before the server
    /// reads them. By default 256 KiB.
    #[must_use]
    pub fn http2_initial_stream_window_size(mut self, bytes: u32) -> Self {
        self.config.http2_initial_stream_window_size = bytes;
        self
    }

    /// The HTTP/2 receive window of each connection, all its streams together. By default 512 KiB.
    #[must_use]
    pub fn http2_initial_connection_window_size(mut self, bytes: u32) -> Self {
        self.config.http2_initial_connection_window_size = bytes;
        self
    }

    /// Serves TLS (ALPN `h2` and `http/1.1`) instead of clear text. By default clear text; [`run`](Self::run)
    /// also takes the certificate and key from `PIKKU_TLS_CERT` and `PIKKU_TLS_KEY`.
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn tls(mut self, tls: crate::tls::TlsConfig) -> Self {
        self.config.tls = Some(tls);
        self
    }

    /// `PIKKU_TLS_CERT` and `PIKKU_TLS_KEY`, when set, give the TLS configuration.
    #[cfg(feature = "tls")]
    fn with_tls_from_env(mut self) -> Result<Self, String> {
        if let Some(tls) = tls_from_env()? {
            self.config.tls = Some(tls);
        }
        Ok(self)
    }

    /// Without the `tls` feature, a certificate in the environment is refused rather than ignored: serving
    /// clear text to an operator who asked for TLS would be worse than not starting.
    #[cfg(not(feature = "tls"))]
    fn with_tls_from_env(self) -> Result<Self, String> {
        match tls_files_from_env()? {
            None => Ok(self),
            Some(_) => Err(format!(
                "{TLS_CERT_VAR} and {TLS_KEY_VAR} are set, but this application was built without TLS (the `tls` feature of pikku)"
            )),
        }
    }

    /// A tower layer around the whole application (tower-http's `CompressionLayer`, `TraceLayer`, a
    /// `TimeoutLayer`, ...): every request goes through it before routing, so it sees 404s and 405s too.
    /// Layers stack: the first added is the outermost. [`run`](Self::run), [`Server::serve`] and the
    /// [`Server`]'s `Service` impl apply them, inside the server's limits (header size, body limit, body
    /// deadline and budget, connections, write deadline), which hold as without layers. Without any, the
    /// server serves exactly as before they existed: no box, no allocation.
    ///
    /// A response body the layer changes is streamed; an error it returns is the JSON error: a
    /// [`PikkuError`](crate::PikkuError) as it is, a timeout (`tower::timeout::error::Elapsed`) 504
    /// `GatewayTimeoutError`, anything else 500 (docs/tower.md). For the routes of one pattern only, see
    /// [`Wirings::add_http_layer`](crate::Wirings::add_http_layer).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// # use pikku_runtime::App;
    /// # #[derive(Clone)] struct Session;
    /// # struct Services;
    ///
    /// fn main() -> std::process::ExitCode {
    ///     App::<Services, Session>::new()
    ///         // Every request, whatever its route, answers within 30 s (504 `GatewayTimeoutError` past it).
    ///         .layer(tower::timeout::TimeoutLayer::new(Duration::from_secs(30)))
    ///         .run(|| async { Ok::<_, std::convert::Infallible>(Services) })
    /// }
    /// ```
    #[must_use]
    pub fn layer<L, B>(mut self, layer: L) -> Self
    where
        L: Layer<PipelineService> + Send + Sync + 'static,
        L::Service: Service<http::Request<RequestBody>, Response = http::Response<B>> + Clone + Send + Sync + 'static,
        <L::Service as Service<http::Request<RequestBody>>>::Error: Into<BoxError>,
        <L::Service as Service<http::Request<RequestBody>>>::Future: Send + 'static,
        B: http_body::Body + Send + 'static,
        B::Error: Into<BoxError>,
    {
        self.layers.push(DeclaredLayer::new(layer));
        self.wrap = Some(application_layers::<Sv, S>);
        self
    }

    /// Starts even when no wiring declares a route. Without it, an application whose wirings declare no
    /// route refuses to start ([`StartupError::NoRoutes`], [`StartupError::NothingRegistered`]): that is
    /// almost always a wiring module that is not declared (`mod wirings;`).
    #[must_use]
    pub fn allow_no_routes(mut self) -> Self {
        self.allow_no_routes = true;
        self
    }

    /// Resolves functions and wirings, without services (what `info` needs).
    ///
    /// # Errors
    /// A [`StartupError`] naming the places at fault.
    pub fn registry(&self) -> Result<Registry<Sv, S>, StartupError> {
        let mut registry = Registry::build_with(&self.config, self.allow_no_routes)?;
        let applied = || "tower layer (application)".to_owned();
        registry.middleware.splice(0..0, self.layers.iter().map(|layer| layer.info(applied())));
        Ok(registry)
    }

    /// Builds the server with its services.
    ///
    /// # Errors
    /// A [`StartupError`] naming the places at fault.
    pub fn build(self, services: Sv) -> Result<Server<Sv, S>, StartupError> {
        let registry = self.registry()?;
        let inner = Arc::new_cyclic(|server| {
            // The innermost services of the layers run the pipeline of this server, which owns them.
            let _ = registry.server.set(Weak::clone(server));
            let layers = self.wrap.map(|wrap| wrap(server, &self.layers));
            ServerInner { registry, services, config: self.config, layers }
        });
        Ok(Server { inner })
    }

    /// The application's `main`: parses the command line, then serves (default) or prints the registry.
    /// Returns a failure exit code, with the reason on stderr, when start-up fails.
    ///
    /// Serving reads `HOST` and `PORT`, and, with the `tls` feature, `PIKKU_TLS_CERT` and `PIKKU_TLS_KEY`
    /// (PEM files; both set: TLS, overriding `App::tls`; only one set, or a file that cannot be
    /// used: start-up fails, naming the variable).
    pub fn run<F, Fut, E>(self, make_services: F) -> ExitCode
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Sv, E>>,
        E: Display,
    {
        let command = Cli::parse().command.unwrap_or(Command::Serve);
        // `info` prints a table; only warnings belong beside it.
        init_tracing(if matches!(command, Command::Info { .. }) { "warn" } else { "info" });
        match command {
            Command::Info { what } => {
                let registry = match self.registry() {
                    Ok(registry) => registry,
                    Err(e) => return fail(&e),
                };
                let table = match what {
                    InfoCommand::Functions { verbose } => info::functions_table(&registry, verbose),
                    InfoCommand::Middleware { verbose } => info::middleware_table(&registry, verbose),
                };
                print!("{table}");
                ExitCode::SUCCESS
            }
            Command::Serve => {
                let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                    Ok(runtime) => runtime,
                    Err(e) => return fail(&e),
                };
                runtime.block_on(async move {
                    let addr = match address_from_env() {
                        Ok(addr) => addr,
                        Err(e) => return fail(&e),
                    };
                    let app = match self.with_tls_from_env() {
                        Ok(app) => app,
                        Err(e) => return fail(&e),
                    };
                    let services = match make_services().await {
                        Ok(services) => services,
                        Err(e) => return fail(&e),
                    };
                    let server = match app.build(services) {
                        Ok(server) => server,
                        Err(e) => return fail(&e),
                    };
                    match server.bind_and_serve(addr).await {
                        Ok(()) => ExitCode::SUCCESS,
                        Err(e) => fail(&format!("cannot serve on {addr}: {e}")),
                    }
                })
            }
        }
    }
}

fn fail(reason: &dyn Display) -> ExitCode {
    eprintln!("error: {reason}");
    ExitCode::FAILURE
}

/// `HOST` (default 127.0.0.1) and `PORT` (default 3000).
fn address_from_env() -> Result<SocketAddr, String> {
    let host = match std::env::var("HOST") {
        Ok(host) => host.parse::<IpAddr>().map_err(|_| format!("HOST={host:?} is not an IP address"))?,
        Err(_) => DEFAULT_HOST,
    };
    let port = match std::env::var("PORT") {
        Ok(port) => port.parse::<u16>().map_err(|_| format!("PORT={port:?} is not a port number"))?,
        Err(_) => DEFAULT_PORT,
    };
    Ok(SocketAddr::new(host, port))
}

/// Names the certificate chain's PEM file, for `App::run`.
const TLS_CERT_VAR: &str = "PIKKU_TLS_CERT";
/// Names the private key's PEM file, for `App::run`.
const TLS_KEY_VAR: &str = "PIKKU_TLS_KEY";

/// `PIKKU_TLS_CERT` and `PIKKU_TLS_KEY`: both or neither. An empty value counts as unset.
fn tls_files_from_env() -> Result<Option<(std::path::PathBuf, std::path::PathBuf)>, String> {
    let var = |name| std::env::var_os(name).filter(|value| !value.is_empty()).map(std::path::PathBuf::from);
    match (var(TLS_CERT_VAR), var(TLS_KEY_VAR)) {
        (None, None) => Ok(None),
        (Some(cert), Some(key)) => Ok(Some((cert, key))),
        (Some(_), None) => Err(format!("{TLS_CERT_VAR} is set but {TLS_KEY_VAR} is not: set both for TLS, or neither")),
        (None, Some(_)) => Err(format!("{TLS_KEY_VAR} is set but {TLS_CERT_VAR} is not: set both for TLS, or neither")),
    }
}

/// The TLS configuration `PIKKU_TLS_CERT` and `PIKKU_TLS_KEY` name, if they are set; errors name the
/// variable at fault.
#[cfg(feature = "tls")]
fn tls_from_env() -> Result<Option<crate::tls::TlsConfig>, String> {
    let Some((cert, key)) = tls_files_from_env()? else { return Ok(None) };
    crate::tls::TlsConfig::from_pem_files(&cert, &key).map(Some).map_err(|e| {
        use crate::tls::TlsError;
        // By what is missing first: the two variables may name one file holding both.
        let variable = match (&e, e.path()) {
            (TlsError::NoCertificate { .. }, _) => TLS_CERT_VAR.to_owned(),
            (TlsError::NoPrivateKey { .. }, _) => TLS_KEY_VAR.to_owned(),
            (_, Some(path)) if path == cert => TLS_CERT_VAR.to_owned(),
            (_, Some(_)) => TLS_KEY_VAR.to_owned(),
            (_, None) => format!("{TLS_CERT_VAR} and {TLS_KEY_VAR}"),
        };
        format!("{variable}: {e}")
    })
}

/// Logs to stderr, filtered by `RUST_LOG` (default `default_level`).
fn init_tracing(default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

impl<Sv, S> std::fmt::Debug for App<Sv, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("config", &self.config)
            .field("layers", &self.layers)
            .field("allow_no_routes", &self.allow_no_routes)
            .finish_non_exhaustive()
    }
}
