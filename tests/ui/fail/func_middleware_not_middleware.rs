use pikku::prelude::*;

pub struct Services;

#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Session {
    pub user: String,
}

async fn not_middleware(_services: &Services, request: Request<Session>) -> Request<Session> {
    request
}

#[pikku_func(middleware = [not_middleware])]
pub async fn f(_services: &Services, _data: (), _ctx: &Context<Session>) -> Result<(), PikkuError> {
    Ok(())
}

fn main() {}
