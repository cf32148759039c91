use pikku::prelude::*;

pub struct Services;

#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Session {
    pub user: String,
}

/// No `impl From<MyError> for PikkuError`.
pub enum MyError {
    Missing,
}

#[pikku_func]
pub async fn find(_services: &Services, _data: (), _ctx: &Context<Session>) -> Result<u32, MyError> {
    Err(MyError::Missing)
}

fn main() {}
