//! The smallest pikku-rs application: `cargo run -p hello`, then `curl 'localhost:3000/hello?name=Ada'`.
//! With `--features dev`, `whoami` takes its session from the `x-dev-session` header (see `wirings/http.rs`).

mod functions;
mod wirings;

use std::convert::Infallible;
use std::process::ExitCode;

use pikku::prelude::*;

/// The application's services: what every function receives first.
pub struct Services {
    greeting: &'static str,
}

/// The application's session.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Session {
    /// Who is calling.
    pub user: String,
}

fn main() -> ExitCode {
    App::<Services, Session>::new().run(|| async { Ok::<_, Infallible>(Services { greeting: "Hello" }) })
}
