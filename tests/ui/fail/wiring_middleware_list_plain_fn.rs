//! A plain `async fn` in a wiring's middleware list: the error says to mark it `#[pikku_middleware]`.
use pikku::prelude::*;

pub struct Services;

#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Session {
    pub user: String,
}

async fn timing(_services: &Services, request: Request<Session>, next: Next<'_, Services, Session>) -> Result<Response, PikkuError> {
    Ok(next.run(request).await)
}

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    w.add_middleware([timing]);
}

fn main() {}
