//! The smallest pikku-rs application: `cargo run -p hello`, then `curl 'localhost:3000/hello?name=Ada'`.
//! With `--features dev`, `whoami` takes its session from the `x-dev-session` header (see `wirings/http.rs`).
//!
//! The application is a library with a one-line binary (`src/main.rs`), so its tests (`tests/`) can build
//! it in-process with the test kit. Beside `serve` and `info`, its command line has a flag, `--greeting`,
//! and a command of its own: `cargo run -p hello -- greet Ada --greeting Hi` prints `Hi, Ada!`.

mod functions;
mod wirings;

use std::convert::Infallible;
use std::process::ExitCode;

use pikku::clap;
use pikku::prelude::*;

/// The application's services: what every function receives first.
pub struct Services {
    greeting: String,
}

impl Services {
    /// Services whose answers start with `greeting`.
    pub fn new(greeting: impl Into<String>) -> Self {
        Self { greeting: greeting.into() }
    }
}

/// The application's session.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Session {
    /// Who is calling.
    pub user: String,
}

/// The application's own flags, beside `serve` and `info` (and before or after any command: `global`).
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    /// The word every greeting starts with.
    #[arg(long, global = true, default_value = "Hello")]
    pub greeting: String,
}

/// The application's own commands, listed by `--help` beside `serve` and `info`.
#[derive(Debug, clap::Subcommand)]
pub enum Commands {
    /// Prints the greeting for NAME and exits, without serving.
    Greet {
        /// Who to greet.
        name: String,
    },
}

/// The whole binary: `serve` (the default), `info`, and [`Commands`].
pub fn main() -> ExitCode {
    App::<Services, Session>::new().run_with_cli(
        |flags: Flags| async move { Ok::<_, Infallible>(Services::new(flags.greeting)) },
        |command: Commands, _flags: Flags, services: Services| async move {
            match command {
                Commands::Greet { name } => println!("{}", functions::greeting(&services, &name)),
            }
            Ok::<_, Infallible>(())
        },
    )
}
