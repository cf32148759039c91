//! The application: settings, start-up, and the command line (`serve`, `info functions`,
//! `info middleware`, and the application's own flags and commands).

use std::fmt::Display;
use std::future::Future;
use std::io::IsTerminal;
use std::marker::PhantomData;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::{Arc, Weak};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use ipnet::IpNet;
use tower::{Layer, Service};

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
        Self {
            config: ServerConfig::default(),
            layers: Vec::new(),
            wrap: None,
            allow_no_routes: false,
            types: PhantomData,
        }
    }
}

/// The command line: the application's flags, then `serve`, `info` or one of the application's commands.
#[derive(Parser)]
#[command(about = "A pikku-rs application")]
struct Cli<Flags: Args, Commands: Subcommand> {
    #[command(flatten)]
    flags: Flags,
    #[command(subcommand)]
    command: Option<Command<Commands>>,
}

#[derive(Subcommand)]
enum Command<Commands: Subcommand> {
    /// Serve HTTP (the default). HOST and PORT come from the environment.
    Serve,
    /// Print the registry.
    Info {
        #[command(subcommand)]
        what: InfoCommand,
    },
    #[command(flatten)]
    App(Commands),
}

#[derive(Subcommand)]
enum InfoCommand {
    /// Functions: id, description, tags (verbose: routes, auth, the middleware chain, permissions, types,
    /// source).
    Functions {
        /// Show every column.
        #[arg(long)]
        verbose: bool,
        /// Print each row on one line, however long (by default the table fits 120 columns).
        #[arg(long)]
        wide: bool,
    },
    /// Middleware and strategies, and where each applies.
    Middleware {
        /// Show the configuration of each.
        #[arg(long)]
        verbose: bool,
        /// Print each row on one line, however long (by default the table fits 120 columns).
        #[arg(long)]
        wide: bool,
    },
    /// The OpenAPI 3.1 document (JSON, on stdout); the functions whose types have no JSON schema are listed
    /// on stderr.
    Openapi,
}

/// No flags of the application's own: what [`App::run`] adds to the command line. Name it in
/// [`App::run_with_cli`] when the application has commands but no flags.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct NoFlags {}

/// No commands of the application's own: what [`App::run`] adds beside `serve` and `info`. Name it in
/// [`App::run_with_cli`] when the application has flags but no commands. It has no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoCommands {}

impl NoCommands {
    /// Any type: there is no value to call this on.
    fn unreachable<T>(self) -> T {
        match self {}
    }
}

impl clap::FromArgMatches for NoCommands {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        // Never reached: `has_subcommand` claims no name, so clap hands this type nothing to parse.
        let name = matches.subcommand_name().unwrap_or("");
        Err(clap::Error::raw(clap::error::ErrorKind::InvalidSubcommand, format!("unknown command `{name}`")))
    }

    fn update_from_arg_matches(&mut self, _matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        match *self {}
    }
}

impl Subcommand for NoCommands {
    fn augment_subcommands(command: clap::Command) -> clap::Command {
        command
    }

    fn augment_subcommands_for_update(command: clap::Command) -> clap::Command {
        command
    }

    fn has_subcommand(_name: &str) -> bool {
        false
    }
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
    /// used: start-up fails, naming the variable). To add commands or flags of the application's own, use
    /// [`run_with_cli`](Self::run_with_cli).
    pub fn run<F, Fut, E>(self, make_services: F) -> ExitCode
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Sv, E>>,
        E: Display,
    {
        self.run_with_cli(
            |_: NoFlags| make_services(),
            |command: NoCommands, _: NoFlags, _: Sv| async move {
                command.unreachable::<Result<(), std::convert::Infallible>>()
            },
        )
    }

    /// [`run`](Self::run) with the application's own command line beside `serve` and `info`: its flags
    /// `Flags` (a `#[derive(clap::Args)]` struct, or [`NoFlags`]) and its subcommands `Commands` (a
    /// `#[derive(clap::Subcommand)]` enum, or [`NoCommands`]), written with clap's derive after `use
    /// pikku::clap;` (no `clap` dependency needed). `--help` lists the built-in commands and the
    /// application's together; no subcommand still serves.
    ///
    /// `make_services` gets the parsed flags, for `serve` and for the application's commands alike; `handle`
    /// runs the application's command, on the same Tokio runtime `serve` uses, with the flags and the built
    /// services. An error from either ends the process with a failure exit code and the error on stderr;
    /// `Ok` exits 0. The log goes to stderr, filtered by `RUST_LOG` (default `info`).
    ///
    /// ```no_run
    /// use pikku_runtime::{clap, App};
    /// # #[derive(Clone)] struct Session;
    /// struct Services { greeting: String }
    ///
    /// #[derive(Clone, clap::Args)]
    /// struct Flags {
    ///     /// The greeting every answer starts with.
    ///     #[arg(long, global = true, default_value = "Hello")]
    ///     greeting: String,
    /// }
    ///
    /// #[derive(clap::Subcommand)]
    /// enum Commands {
    ///     /// Prints a greeting and exits.
    ///     Greet { name: String },
    /// }
    ///
    /// fn main() -> std::process::ExitCode {
    ///     App::<Services, Session>::new().run_with_cli(
    ///         |flags: Flags| async move { Ok::<_, String>(Services { greeting: flags.greeting }) },
    ///         |command: Commands, _flags: Flags, services: Services| async move {
    ///             match command {
    ///                 Commands::Greet { name } => println!("{}, {name}!", services.greeting),
    ///             }
    ///             Ok::<_, String>(())
    ///         },
    ///     )
    /// }
    /// ```
    ///
    /// `my-app greet Ada --greeting Hi` prints `Hi, Ada!`; `my-app --greeting Hi` serves with it. A command
    /// of the application named `serve` or `info` clashes with the built-in one: clap's debug assertions
    /// panic naming it the first time a debug build parses its command line.
    #[allow(clippy::too_many_arguments)] // type parameters: two closures, their futures and their errors
    pub fn run_with_cli<
        Flags,
        Commands,
        MakeServices,
        ServicesFuture,
        ServicesError,
        Handle,
        HandleFuture,
        HandleError,
    >(
        self,
        make_services: MakeServices,
        handle: Handle,
    ) -> ExitCode
    where
        Flags: Args + Clone,
        Commands: Subcommand,
        MakeServices: FnOnce(Flags) -> ServicesFuture,
        ServicesFuture: Future<Output = Result<Sv, ServicesError>>,
        ServicesError: Display,
        Handle: FnOnce(Commands, Flags, Sv) -> HandleFuture,
        HandleFuture: Future<Output = Result<(), HandleError>>,
        HandleError: Display,
    {
        let cli = Cli::<Flags, Commands>::parse();
        let command = cli.command.unwrap_or(Command::Serve);
        // `info` prints a table; only warnings belong beside it.
        init_tracing(if matches!(command, Command::Info { .. }) { "warn" } else { "info" });
        match command {
            Command::Info { what } => {
                let registry = match self.registry() {
                    Ok(registry) => registry,
                    Err(e) => return fail(&e),
                };
                let table = match what {
                    InfoCommand::Functions { verbose, wide } => registry.functions_table(verbose, wide),
                    InfoCommand::Middleware { verbose, wide } => registry.middleware_table(verbose, wide),
                    InfoCommand::Openapi => {
                        let document = match registry.openapi_document() {
                            Ok(document) => document,
                            Err(e) => return fail(&format!("the OpenAPI document cannot be built: {e}")),
                        };
                        for line in registry.openapi_missing_schemas() {
                            eprintln!("warning: {line}");
                        }
                        match serde_json::to_string_pretty(&document) {
                            Ok(text) => text + "\n",
                            Err(e) => return fail(&format!("the OpenAPI document cannot be printed: {e}")),
                        }
                    }
                };
                print!("{table}");
                ExitCode::SUCCESS
            }
            Command::Serve => block_on(async move {
                let addr = match address_from_env() {
                    Ok(addr) => addr,
                    Err(e) => return fail(&e),
                };
                let app = match self.with_tls_from_env() {
                    Ok(app) => app,
                    Err(e) => return fail(&e),
                };
                let services = match make_services(cli.flags).await {
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
            }),
            // The application's own business: its functions and wirings are not resolved for it.
            Command::App(command) => block_on(async move {
                let services = match make_services(cli.flags.clone()).await {
                    Ok(services) => services,
                    Err(e) => return fail(&e),
                };
                match handle(command, cli.flags, services).await {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => fail(&e),
                }
            }),
        }
    }
}

/// Runs `future` on the multi-threaded runtime `serve` and the application's commands get.
fn block_on(future: impl Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(future),
        Err(e) => fail(&e),
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

/// Logs to stderr, filtered by `RUST_LOG` (default `default_level`), in colour only on a terminal.
fn init_tracing(default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let colour = log_colours(std::io::stderr().is_terminal(), std::env::var_os("NO_COLOR").as_deref());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(colour).try_init();
}

/// Whether the log gets ANSI colours: only on a terminal (a file or a pipe gets plain text), and never when
/// `NO_COLOR` is set to anything but the empty string (<https://no-color.org>).
fn log_colours(stderr_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(std::ffi::OsStr::is_empty)
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use std::ffi::OsStr;

    #[test]
    fn logs_are_coloured_only_on_a_terminal_without_no_color() {
        assert!(log_colours(true, None));
        assert!(!log_colours(false, None), "a file or a pipe");
        assert!(!log_colours(true, Some(OsStr::new("1"))));
        assert!(!log_colours(false, Some(OsStr::new("1"))));
        assert!(log_colours(true, Some(OsStr::new(""))), "an empty NO_COLOR does not count (no-color.org)");
    }

    #[derive(Debug, Clone, PartialEq, Args)]
    struct TestFlags {
        /// A database file.
        #[arg(long, global = true, default_value = "app.db")]
        db: String,
    }

    #[derive(Debug, PartialEq, Subcommand)]
    enum TestCommands {
        /// Adds a user.
        AddUser { email: String },
    }

    fn parse(args: &[&str]) -> Result<Cli<TestFlags, TestCommands>, clap::Error> {
        Cli::try_parse_from(std::iter::once("app").chain(args.iter().copied()))
    }

    #[test]
    fn the_application_s_commands_and_flags_sit_beside_the_built_in_ones() {
        Cli::<TestFlags, TestCommands>::command().debug_assert();
        let cli = parse(&["add-user", "a@example.com", "--db", "x.db"]).unwrap();
        assert_eq!(cli.flags.db, "x.db");
        assert!(matches!(cli.command, Some(Command::App(TestCommands::AddUser { email })) if email == "a@example.com"));

        let cli = parse(&["--db", "y.db", "info", "functions", "--wide"]).unwrap();
        assert_eq!(cli.flags.db, "y.db");
        let Some(Command::Info { what: InfoCommand::Functions { verbose: false, wide: true } }) = cli.command else {
            panic!("info functions --wide")
        };

        let cli = parse(&[]).unwrap();
        assert_eq!(cli.flags.db, "app.db");
        assert!(cli.command.is_none(), "no command: serve");
        assert!(matches!(parse(&["serve"]).unwrap().command, Some(Command::Serve)));
        assert!(parse(&["nonsense"]).is_err());
    }

    #[test]
    fn help_lists_the_built_in_commands_and_the_application_s() {
        let help = Cli::<TestFlags, TestCommands>::command().render_help().to_string();
        for expected in ["serve", "info", "add-user", "Adds a user", "--db"] {
            assert!(help.contains(expected), "{expected} in\n{help}");
        }
    }

    #[derive(Debug, Subcommand)]
    enum ClashingCommands {
        /// Serves something else.
        Serve,
    }

    #[test]
    #[should_panic(expected = "serve")]
    fn a_command_of_the_application_named_like_a_built_in_one_is_refused_in_a_debug_build() {
        Cli::<NoFlags, ClashingCommands>::command().debug_assert();
    }

    #[test]
    fn without_commands_of_its_own_the_command_line_is_the_built_in_one() {
        Cli::<NoFlags, NoCommands>::command().debug_assert();
        let cli = Cli::<NoFlags, NoCommands>::try_parse_from(["app", "info", "middleware", "--verbose"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Info { what: InfoCommand::Middleware { verbose: true, wide: false } })
        ));
        assert!(Cli::<NoFlags, NoCommands>::try_parse_from(["app", "add-user"]).is_err());
    }
}
