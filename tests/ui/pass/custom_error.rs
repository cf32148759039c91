//! A function may return its own error type, given `impl From<MyError> for PikkuError`.

use pikku::prelude::*;
use serde::{Deserialize, Serialize};

pub struct Services;

#[derive(Clone, Serialize, Deserialize)]
pub struct Session {
    pub user: String,
}

pub enum MyError {
    NotFound(String),
}

impl From<MyError> for PikkuError {
    fn from(error: MyError) -> Self {
        match error {
            MyError::NotFound(what) => PikkuError::not_found(format!("{what} not found")),
        }
    }
}

#[pikku_func]
pub async fn find(_services: &Services, data: String, _ctx: &Context<Session>) -> Result<u32, MyError> {
    data.parse().map_err(|_| MyError::NotFound(data))
}

#[pikku_func(auth = false, permissions = [])]
pub async fn nothing(_services: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<(), PikkuError> {
    Ok(())
}

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    w.get("/find", find);
    w.post("/nothing", nothing);
}

fn main() {}
