use pikku::prelude::*;

pub struct Services;

#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Session {
    pub user: String,
}

#[pikku_middleware]
async fn audit(
    _services: &Services,
    _request: &Request<Session>,
    _next: Next<'_, Services, Session>,
) -> Result<Response, PikkuError> {
    Err(PikkuError::permission_denied())
}

fn main() {}
