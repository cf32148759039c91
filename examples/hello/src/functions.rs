//! Plain async functions: what an author writes.

use pikku::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{Services, Session};

/// Input of `hello`: filled from the query string.
#[derive(Deserialize)]
pub(crate) struct HelloInput {
    name: Option<String>,
}

/// Output of `hello` and `whoami`.
#[derive(Serialize)]
pub(crate) struct Greeting {
    message: String,
}

/// Greets anyone; no session needed.
#[pikku_func(auth = false, description = "Greets the caller by name", tags = ["public"])]
pub(crate) async fn hello(
    services: &Services,
    data: HelloInput,
    _ctx: &OptionalContext<Session>,
) -> Result<Greeting, PikkuError> {
    Ok(Greeting { message: greeting(services, data.name.as_deref().unwrap_or("world")) })
}

/// Greets the session's user: the session is guaranteed by the type.
#[pikku_func(description = "Greets the signed-in user")]
pub(crate) async fn whoami(services: &Services, _data: (), ctx: &Context<Session>) -> Result<Greeting, PikkuError> {
    Ok(Greeting { message: greeting(services, &ctx.session().user) })
}

/// `Hello, Ada!`: what `hello`, `whoami` and the `greet` command answer.
pub(crate) fn greeting(services: &Services, name: &str) -> String {
    format!("{}, {name}!", services.greeting)
}
