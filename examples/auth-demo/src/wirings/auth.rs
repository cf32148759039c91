use pikku::auth::{auth_api_key, auth_bearer, auth_cookie, ApiKeyOptions, ApiKeySource, CookieOptions, StaticApiKeys};
use pikku::prelude::*;

use crate::{Services, UserSession, COOKIE_LIFETIME, DEMO_API_KEY};

/// Credentials accepted on every route, in this order: the first that finds a session wins.
#[pikku_wiring]
fn strategies(w: &mut Wirings<Services, UserSession>) {
    let api_keys = StaticApiKeys::new([(DEMO_API_KEY, UserSession { user_id: "svc".into(), role: "user".into() })]);
    w.add_http_middleware(
        "*",
        [
            auth_bearer(),
            auth_cookie(CookieOptions::new("session", COOKIE_LIFETIME)),
            auth_api_key(ApiKeyOptions::new(ApiKeySource::All).lookup(api_keys)),
        ],
    );
}
