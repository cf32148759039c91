//! A refused `#[pikku_func]` keeps the function: the wiring that names it adds no error of its own.
use pikku::prelude::*;

pub struct Services;

#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Session {
    pub user: String,
}

#[pikku_func]
pub fn not_async(_services: &Services, _data: (), _ctx: &Context<Session>) -> Result<(), PikkuError> {
    Ok(())
}

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    w.get("/x", not_async);
}

fn main() {}
