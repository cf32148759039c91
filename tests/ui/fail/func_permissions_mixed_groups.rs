use pikku::prelude::*;

pub struct Services;

#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Session {
    pub user: String,
}

#[pikku_auth]
async fn a(_services: &Services, _session: &Session) -> bool {
    true
}

#[pikku_auth]
async fn b(_services: &Services, _session: &Session) -> bool {
    true
}

#[pikku_func(permissions = [a, [b]])]
pub async fn f(_services: &Services, _data: (), _ctx: &Context<Session>) -> Result<(), PikkuError> {
    Ok(())
}

fn main() {}
