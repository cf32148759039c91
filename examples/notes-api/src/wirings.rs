//! How the functions are reached: API keys and the tenant on every route, then the routes.

use pikku::auth::{auth_api_key, ApiKeyLookup, ApiKeyOptions, ApiKeySource, Step};
use pikku::openapi::OpenApiOptions;
use pikku::prelude::*;

use crate::functions::{create_note, delete_note, get_note, list_notes, update_note};
use crate::tenant::resolve_tenant;
use crate::{Services, Session};

/// API keys looked up in the services. The table is in memory here; with a database the lookup queries the
/// pool the services hold: `Step::Wait(Box::pin(async move { services.db.session_of_key(&digest).await }))`,
/// a database error becoming `PikkuError::service_unavailable(..)` (503).
struct KeysInServices;

impl ApiKeyLookup<Services, Session> for KeysInServices {
    fn lookup<'a>(&'a self, services: &'a Services, key: &str) -> Step<'a, Result<Option<Session>, PikkuError>> {
        services.api_keys.lookup(services, key)
    }
}

#[pikku_wiring]
fn http(w: &mut Wirings<Services, Session>) {
    // The key and the tenant on the notes' routes; `/openapi.json` needs neither.
    for pattern in ["/notes", "/notes/*"] {
        w.add_http_middleware(
            pattern,
            [auth_api_key(ApiKeyOptions::new(ApiKeySource::Header).lookup(KeysInServices)), resolve_tenant],
        );
    }
    w.post("/notes", create_note);
    w.get("/notes", list_notes);
    w.get("/notes/:id", get_note);
    w.put("/notes/:id", update_note);
    w.delete("/notes/:id", delete_note);
    // The OpenAPI document: `responses = [..]` on the functions declares their 201, 304, 404, 412 and 428.
    w.openapi(OpenApiOptions::at("/openapi.json"));
}
