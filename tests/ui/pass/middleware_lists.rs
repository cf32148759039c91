//! Every way a wiring lists middleware compiles without `.into()`: `#[pikku_middleware]` functions and
//! strategies side by side, a hand-written `HttpMiddleware` through `SharedMiddleware::new`, a `Vec`, one
//! alone; and the older `.into()` form still compiles.

use pikku::prelude::*;
use pikku::{AuthStrategy, Authenticated, BoxFuture, HttpMiddleware, Step};

pub struct Services;

#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Session {
    pub user: String,
}

#[pikku_middleware]
async fn timing(
    _services: &Services,
    request: Request<Session>,
    next: Next<'_, Services, Session>,
) -> Result<Response, PikkuError> {
    Ok(next.run(request).await)
}

#[pikku_middleware]
async fn audit(
    _services: &Services,
    request: Request<Session>,
    next: Next<'_, Services, Session>,
) -> Result<Response, PikkuError> {
    Ok(next.run(request).await)
}

/// A strategy built by a function, as `auth_bearer()` is: it never finds a session.
fn header_session() -> SharedMiddleware<Services, Session> {
    struct Nobody;

    impl AuthStrategy<Services, Session> for Nobody {
        type State = ();

        fn name(&self) -> &str {
            "header_session"
        }

        fn authenticate<'a>(
            &'a self,
            _services: &'a Services,
            _request: &Request<Session>,
        ) -> Step<'a, Result<Authenticated<Session, ()>, PikkuError>> {
            Step::Ready(Ok(Authenticated::none()))
        }
    }

    pikku::strategy(Nobody)
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

#[pikku_func(auth = false, middleware = [timing, audit])]
pub async fn ping(_services: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<(), PikkuError> {
    Ok(())
}

#[pikku_wiring]
#[allow(clippy::useless_conversion)] // the older form, kept compiling on purpose
fn routes(w: &mut Wirings<Services, Session>) {
    w.add_middleware([timing, header_session(), SharedMiddleware::new(Stamp)]);
    w.add_http_middleware("*", vec![audit, timing]);
    w.add_tag_middleware("t", audit);
    w.get("/ping", ping).middleware([timing.into()]).tags(["t"]);
}

fn main() {
    let registry = App::<Services, Session>::new().registry().expect("the application starts");
    let applied: Vec<(String, String)> =
        registry.middleware.iter().map(|m| (m.name.clone(), m.applied.clone())).collect();
    let expected = [
        ("timing", "global"),
        ("header_session", "global"),
        ("stamp", "global"),
        ("audit", "http *"),
        ("timing", "http *"),
        ("audit", "tag t"),
        ("timing", "route GET /ping"),
        ("timing", "function ping"),
        ("audit", "function ping"),
    ];
    let expected: Vec<(String, String)> = expected.iter().map(|(n, a)| ((*n).to_owned(), (*a).to_owned())).collect();
    assert_eq!(applied, expected);
}
