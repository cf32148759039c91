use pikku::prelude::*;

pub struct Services;

#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Session {
    pub user: String,
}

#[pikku_func]
pub async fn f<T>(_services: &Services, _data: (), _ctx: &Context<Session>) -> Result<(), PikkuError> {
    Ok(())
}

fn main() {}
