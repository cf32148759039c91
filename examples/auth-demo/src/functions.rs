//! The demo's functions: plain async functions, each marked `#[pikku_func]`.

use pikku::prelude::*;
// The types derive `JsonSchema` for the OpenAPI document (`GET /openapi.json`); the derive finds the crate
// through this `use`.
use pikku::{schemars, JsonSchema};
use serde::{Deserialize, Serialize};

use crate::notes::Note;
use crate::{Services, UserSession, BEARER_TOKEN_LIFETIME, COOKIE_LIFETIME};

/// `GET /health` output.
#[derive(Serialize, JsonSchema)]
pub struct Health {
    ok: bool,
}

/// Liveness: public, cheap.
#[pikku_func(auth = false, description = "Liveness probe", tags = ["public"])]
pub async fn health(
    _services: &Services,
    _data: (),
    _ctx: &OptionalContext<UserSession>,
) -> Result<Health, PikkuError> {
    Ok(Health { ok: true })
}

/// `POST /login` input.
#[derive(Deserialize, JsonSchema)]
pub struct Credentials {
    email: String,
    password: String,
}

/// `POST /login` output: a bearer token (the session cookie is set alongside).
#[derive(Serialize, JsonSchema)]
pub struct LoginResult {
    token: String,
}

/// Checks the credentials, starts a session (the cookie strategy writes it) and returns a bearer token.
/// Failures are throttled per email and per client address (429 with `Retry-After`).
#[pikku_func(auth = false, description = "Log in with email and password", tags = ["public"], responses = [429])]
pub async fn login(
    services: &Services,
    data: Credentials,
    ctx: &OptionalContext<UserSession>,
) -> Result<LoginResult, PikkuError> {
    // Before the password is looked at: while throttled, even the right one gets 429.
    let attempt = services.login_throttle.begin(&data.email, ctx.client_addr()).await?;
    let Some(session) = services.users.verify(&data.email, &data.password).await? else {
        attempt.failed().await?;
        // One message for an unknown email and a wrong password: which one failed is not the client's
        // business.
        return Err(PikkuError::unauthorized("Invalid email or password"));
    };
    attempt.succeeded();
    // One login, one session: the bearer token and the cookie carry the same session id, so logging out
    // with either revokes both.
    let session_id = ctx.set_session(session.clone());
    let token = services
        .jwt
        .encode_for_session(BEARER_TOKEN_LIFETIME, &session, &session_id)
        .map_err(|e| PikkuError::internal(format!("cannot mint a token: {e}")))?;
    Ok(LoginResult { token })
}

/// `GET /me` and `GET /admin` output.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    user_id: String,
    role: String,
}

impl From<&UserSession> for Profile {
    fn from(session: &UserSession) -> Self {
        Self { user_id: session.user_id.clone(), role: session.role.clone() }
    }
}

/// The session's profile.
#[pikku_func(description = "The caller's profile")]
pub async fn get_profile(_services: &Services, _data: (), ctx: &Context<UserSession>) -> Result<Profile, PikkuError> {
    Ok(Profile::from(ctx.session()))
}

/// Ends the session: the cookie is removed and, with the session store, the credential is revoked.
#[pikku_func(description = "Log out (revokes the session)")]
pub async fn logout(_services: &Services, _data: (), ctx: &Context<UserSession>) -> Result<(), PikkuError> {
    ctx.clear_session();
    Ok(())
}

/// Logs out everywhere: every session of the caller's user begun up to now is revoked (every bearer token
/// and cookie issued to that user, on every instance sharing the store), and this one's cookie is removed.
#[pikku_func(description = "Log out everywhere (revokes every session of the user)")]
pub async fn logout_everywhere(services: &Services, _data: (), ctx: &Context<UserSession>) -> Result<(), PikkuError> {
    pikku::auth::revoke_user_sessions(services, &ctx.session().user_id, COOKIE_LIFETIME).await?;
    ctx.clear_session();
    Ok(())
}

/// Admins only.
#[pikku_func(permissions = [is_admin], description = "Admin dashboard", tags = ["admin"])]
pub async fn admin_dashboard(
    _services: &Services,
    _data: (),
    ctx: &Context<UserSession>,
) -> Result<Profile, PikkuError> {
    Ok(Profile::from(ctx.session()))
}

/// Longest accepted note, in characters.
pub const MAX_NOTE_CHARS: usize = 2000;

/// `POST /users/:userId/notes` input: `userId` from the path, `text` from the body.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewNote {
    user_id: String,
    #[schemars(length(min = 1, max = 2000))]
    text: String,
}

/// Adds a note to a user's list.
#[pikku_func(permissions = [owns_or_admin], description = "Add a note for a user")]
pub async fn add_note(services: &Services, data: NewNote, _ctx: &Context<UserSession>) -> Result<Note, PikkuError> {
    let length = data.text.chars().count();
    if length == 0 || length > MAX_NOTE_CHARS {
        return Err(PikkuError::invalid_field(
            "text",
            format!("`text` must be 1 to {MAX_NOTE_CHARS} characters, got {length}"),
        ));
    }
    Ok(services.notes.add(data.user_id, data.text))
}

/// Default and bounds of `limit` in `list_notes`.
pub const DEFAULT_NOTES_LIMIT: u32 = 50;
/// Largest `limit` accepted.
pub const MAX_NOTES_LIMIT: u32 = 500;

/// `GET /users/:userId/notes?limit=N` input.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListNotes {
    user_id: String,
    #[schemars(range(min = 1, max = 500))]
    limit: Option<u32>,
}

/// `GET /users/:userId/notes` output.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NoteList {
    user_id: String,
    notes: Vec<Note>,
}

/// A user's most recent notes, newest last.
#[pikku_func(permissions = [owns_or_admin], description = "List a user's notes")]
pub async fn list_notes(
    services: &Services,
    data: ListNotes,
    _ctx: &Context<UserSession>,
) -> Result<NoteList, PikkuError> {
    let limit = data.limit.unwrap_or(DEFAULT_NOTES_LIMIT);
    if !(1..=MAX_NOTES_LIMIT).contains(&limit) {
        return Err(PikkuError::invalid_field("limit", format!("`limit` must be 1 to {MAX_NOTES_LIMIT}, got {limit}")));
    }
    let notes = services.notes.latest(&data.user_id, limit as usize);
    Ok(NoteList { user_id: data.user_id, notes })
}

/// The session's role is `admin`.
#[pikku_auth]
pub async fn is_admin(_services: &Services, session: &UserSession) -> bool {
    session.role == "admin"
}

/// The part of an input a user-scoped permission looks at.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserScoped {
    user_id: String,
}

/// The session's user is the input's `userId`, or an admin.
#[pikku_permission]
pub async fn owns_or_admin(_services: &Services, data: UserScoped, session: &UserSession) -> bool {
    session.user_id == data.user_id || session.role == "admin"
}
