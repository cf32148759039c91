use pikku::prelude::*;

pub struct Services;

#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Session {
    pub user: String,
}

#[pikku_auth]
async fn is_admin(_services: &Services) -> bool {
    true
}

fn main() {}
