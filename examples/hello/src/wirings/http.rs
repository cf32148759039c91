use pikku::prelude::*;

use crate::functions::{hello, whoami};
use crate::{Services, Session};

/// A development-only stand-in for an authentication strategy: `x-dev-user: ada` becomes the session.
/// Real applications use `pikku::auth::auth_bearer()` and friends (see examples/auth-demo).
#[pikku_middleware]
async fn dev_session(
    _services: &Services,
    mut request: Request<Session>,
    next: Next<'_, Services, Session>,
) -> Result<Response, PikkuError> {
    if let Some(user) = request.headers().get("x-dev-user").and_then(|v| v.to_str().ok()) {
        let user = user.to_owned();
        request.set_session(Session { user });
    }
    // Like every strategy, it names its scheme in a 401 that names none.
    let mut response = next.run(request).await;
    if response.status() == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .entry(pikku::header::WWW_AUTHENTICATE)
            .or_insert(pikku::HeaderValue::from_static("x-dev-user"));
    }
    Ok(response)
}

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    w.add_http_middleware("*", [dev_session.into()]);
    w.get("/hello", hello);
    w.get("/whoami", whoami);
}
