//! `auth = false`: the context is `&OptionalContext<Session>` and the session an `Option`.

use pikku::prelude::*;
use serde::{Deserialize, Serialize};

pub struct Services;

#[derive(Clone, Serialize, Deserialize)]
pub struct Session {
    pub user: String,
}

#[pikku_func(auth = false)]
pub async fn greet(_services: &Services, _data: (), ctx: &OptionalContext<Session>) -> Result<String, PikkuError> {
    let session: Option<&Session> = ctx.session();
    Ok(match session {
        Some(session) => format!("hello, {}", session.user),
        None => "hello, stranger".to_owned(),
    })
}

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    w.get("/greet", greet);
}

fn main() {}
