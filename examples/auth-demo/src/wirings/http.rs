use pikku::openapi::OpenApiOptions;
use pikku::prelude::*;

use crate::functions::{add_note, admin_dashboard, get_profile, health, list_notes, login, logout, logout_everywhere};
use crate::{Services, UserSession};

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, UserSession>) {
    w.get("/health", health);
    w.post("/login", login);
    w.get("/me", get_profile);
    w.post("/logout", logout);
    w.post("/logout/all", logout_everywhere);
    w.get("/admin", admin_dashboard);
    w.post("/users/:userId/notes", add_note);
    w.get("/users/:userId/notes", list_notes);
    // The OpenAPI document of every route above, public; `auth-demo info openapi` prints the same.
    w.openapi(OpenApiOptions::at("/openapi.json"));
}
