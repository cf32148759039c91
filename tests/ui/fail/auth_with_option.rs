use pikku::prelude::*;

pub struct Services;

#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Session {
    pub user: String,
}

#[pikku_auth(admin)]
async fn is_admin(_services: &Services, _session: &Session) -> bool {
    true
}

fn main() {}
