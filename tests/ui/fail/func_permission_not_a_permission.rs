use pikku::prelude::*;

pub struct Services;

#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Session {
    pub user: String,
}

async fn not_a_permission(_services: &Services, _session: &Session) -> bool {
    true
}

#[pikku_func(permissions = [not_a_permission])]
pub async fn f(_services: &Services, _data: (), _ctx: &Context<Session>) -> Result<(), PikkuError> {
    Ok(())
}

fn main() {}
