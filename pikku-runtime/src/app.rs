//! The application: settings, start-up, and the command line (`serve`, `info functions`,
//! `info middleware`).

use std::fmt::Display;
use std::future::Future;
use std::marker::PhantomData;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use ipnet::IpNet;

use crate::info;
use crate::registry::{Registry, StartupError};
use crate::server::{Server, ServerConfig, ServerInner};

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
    /// See [`App::allow_no_routes`].
    allow_no_routes: bool,
    types: PhantomData<fn() -> (Sv, S)>,
}

impl<Sv, S> Default for App<Sv, S> {
    fn default() -> Self {
        Self { config: ServerConfig::default(), allow_no_routes: false, types: PhantomData }
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
        Registry::build_with(&self.config, self.allow_no_routes)
    }

    /// Builds the server with its services.
    ///
    /// # Errors
    /// A [`StartupError`] naming the places at fault.
    pub fn build(self, services: Sv) -> Result<Server<Sv, S>, StartupError> {
        let registry = self.registry()?;
        Ok(Server { inner: Arc::new(ServerInner { registry, services, config: self.config }) })
    }

    /// The application's `main`: parses the command line, then serves (default) or prints the registry.
    /// Returns a failure exit code, with the reason on stderr, when start-up fails.
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
                    let services = match make_services().await {
                        Ok(services) => services,
                        Err(e) => return fail(&e),
                    };
                    let server = match self.build(services) {
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
            .field("allow_no_routes", &self.allow_no_routes)
            .finish_non_exhaustive()
    }
}
