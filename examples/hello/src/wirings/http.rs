use pikku::prelude::*;

use crate::functions::{hello, whoami};
use crate::{Services, Session};

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    // Development only (`--features dev`): the session is the JSON in a header, so
    // `curl -H 'x-dev-session: {"user":"ada"}' localhost:3000/whoami` greets ada. Real applications wire
    // `pikku::auth::auth_bearer()` and friends (see examples/auth-demo).
    #[cfg(feature = "dev")]
    w.add_http_middleware("*", [pikku::testing::auth_dev_header(pikku::testing::DEV_SESSION_HEADER)]);
    w.get("/hello", hello);
    w.get("/whoami", whoami);
}
