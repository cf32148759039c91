//! A hand-written `HttpMiddleware` is the one middleware that does not join a list as it is: the error says
//! how it does (`SharedMiddleware::new(value)`).
use pikku::prelude::*;
use pikku::{BoxFuture, HttpMiddleware};

pub struct Services;

#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Session {
    pub user: String,
}

pub struct Stamp;

impl HttpMiddleware<Services, Session> for Stamp {
    fn handle<'a>(
        &'a self,
        _services: &'a Services,
        request: Request<Session>,
        next: Next<'a, Services, Session>,
    ) -> BoxFuture<'a, Result<Response, PikkuError>> {
        Box::pin(async move { Ok(next.run(request).await) })
    }

    fn name(&self) -> &str {
        "stamp"
    }
}

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    w.add_http_middleware("*", [Stamp]);
}

fn main() {}
