//! notes-api: notes kept per tenant, behind API keys. It shows what a REST API needs beyond `200` JSON:
//!
//! * `POST /notes` answers `201 Created` with `Location` and `ETag` ([`pikku::Reply`]);
//! * `PUT /notes/:id` reads `If-Match` from the request (`ctx.header(..)`): `428` without it, `412` when the
//!   note changed since, so two editors cannot overwrite each other; `GET /notes/:id` answers `304` to a
//!   matching `If-None-Match`;
//! * the `resolve_tenant` middleware reads `x-tenant` once and hands a typed [`Tenant`] to every function
//!   (`request.extensions_mut().insert(..)` there, `ctx.extension::<Tenant>()` here);
//! * API keys are looked up in the services (`ApiKeyLookup` gets `&Services`), where a database pool would
//!   be; the keys come from `NOTES_API_KEYS`, and without them the server refuses to start;
//! * a command of its own beside `serve` and `info` ([`App::run_with_cli`](pikku::App::run_with_cli)):
//!   `notes-api check-keys` checks the keys and lists who holds one, never a key;
//! * `GET /openapi.json` (public) and `notes-api info openapi`: the OpenAPI document, where
//!   `#[pikku_func(responses = [..])]` declares what each function answers besides 200 (201, 304, 404, 412,
//!   428).
//!
//! ```sh
//! NOTES_API_KEYS='dev-key-1=ada' cargo run -p notes-api &
//! curl -i localhost:3000/notes -H 'x-api-key: dev-key-1' -H 'x-tenant: acme' \
//!      -H 'content-type: application/json' -d '{"text":"buy milk"}'           # 201, Location: /notes/1
//! curl -i -X PUT localhost:3000/notes/1 -H 'x-api-key: dev-key-1' -H 'x-tenant: acme' \
//!      -H 'if-match: "1"' -H 'content-type: application/json' -d '{"text":"buy oat milk"}'
//! ```
//!
//! The application is a library (its tests drive it in-process with `pikku::testing`) with a one-line
//! binary.

pub mod functions;
pub mod store;
pub mod tenant;
mod wirings;

use std::process::ExitCode;

use pikku::auth::{AuthServices, JwtService, StaticApiKeys};
use pikku::clap;
use pikku::prelude::*;
use serde::{Deserialize, Serialize};

pub use tenant::Tenant;

/// The environment variable holding the API keys: `key=user` pairs, comma-separated.
pub const API_KEYS_VAR: &str = "NOTES_API_KEYS";
/// Shortest API key accepted: anything shorter can be guessed.
pub const MIN_API_KEY_LEN: usize = 8;

/// The session: who holds the API key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub user_id: String,
}

/// What every function, middleware and key lookup receives.
pub struct Services {
    /// The API keys, each with its session. A stand-in for a table in a database: with one, the pool lives
    /// here and the lookup queries it (see `wirings.rs`).
    pub api_keys: StaticApiKeys<Session>,
    /// The notes.
    pub notes: store::NoteStore,
    /// The API-key strategy's JWT service, which it uses only for keys without a lookup (none here).
    pub jwt: JwtService,
    /// Who holds a key, in the order given: what `check-keys` prints (never the keys).
    pub key_holders: Vec<String>,
}

impl AuthServices for Services {
    fn jwt(&self) -> &JwtService {
        &self.jwt
    }
}

impl Services {
    /// Services with these `(key, user)` pairs and no notes.
    pub fn new<K: AsRef<[u8]>>(api_keys: impl IntoIterator<Item = (K, String)>) -> Self {
        let (keys, key_holders): (Vec<K>, Vec<String>) = api_keys.into_iter().unzip();
        let sessions =
            keys.into_iter().zip(&key_holders).map(|(key, user_id)| (key, Session { user_id: user_id.clone() }));
        let api_keys = StaticApiKeys::new(sessions);
        let jwt = JwtService::builder().hs256_random_key("notes-api").build().expect("a random key is long enough");
        Self { api_keys, notes: store::NoteStore::default(), jwt, key_holders }
    }

    /// Services from the environment: the keys in [`API_KEYS_VAR`].
    pub fn from_env() -> Result<Self, String> {
        let keys = std::env::var(API_KEYS_VAR).map_err(|_| {
            format!("{API_KEYS_VAR} is not set: give the API keys as `key=user` pairs, comma-separated (for example {API_KEYS_VAR}='dev-key-1=ada')")
        })?;
        let keys = parse_api_keys(&keys).map_err(|why| format!("{API_KEYS_VAR}: {why}"))?;
        Ok(Self::new(keys))
    }
}

/// `key=user` pairs, comma-separated; spaces around items are ignored.
pub fn parse_api_keys(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut keys = Vec::new();
    for item in text.split(',').map(str::trim).filter(|item| !item.is_empty()) {
        // The key is never echoed: an error names the item's position instead.
        let position = keys.len() + 1;
        let Some((key, user)) = item.split_once('=') else {
            return Err(format!("item {position} is not `key=user`"));
        };
        if key.len() < MIN_API_KEY_LEN {
            return Err(format!("the key of item {position} is shorter than {MIN_API_KEY_LEN} characters"));
        }
        if user.is_empty() {
            return Err(format!("item {position} names no user"));
        }
        keys.push((key.to_owned(), user.to_owned()));
    }
    if keys.is_empty() {
        return Err("no API key given".into());
    }
    Ok(keys)
}

/// The application with its settings.
pub fn app() -> App<Services, Session> {
    App::new()
}

/// The application's own commands, beside `serve` and `info`.
#[derive(Debug, clap::Subcommand)]
pub enum Commands {
    /// Checks the API keys in NOTES_API_KEYS and lists who holds one (never the keys), without serving.
    CheckKeys,
}

/// The binary's `main`: serve (refusing to start without API keys), answer `info`, or run [`Commands`].
pub fn main() -> ExitCode {
    app().run_with_cli(
        |_: pikku::NoFlags| async { Services::from_env() },
        |command: Commands, _, services: Services| async move {
            match command {
                Commands::CheckKeys => {
                    println!("{} API key(s), held by: {}", services.key_holders.len(), services.key_holders.join(", "));
                }
            }
            Ok::<_, String>(())
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_are_key_user_pairs_and_errors_never_show_a_key() {
        assert_eq!(
            parse_api_keys(" dev-key-1=ada, ci-key-99=ci-bot ,").unwrap(),
            [("dev-key-1".to_owned(), "ada".to_owned()), ("ci-key-99".to_owned(), "ci-bot".to_owned())]
        );
        assert_eq!(parse_api_keys("").unwrap_err(), "no API key given");
        assert_eq!(parse_api_keys("dev-key-1=ada,secretkey").unwrap_err(), "item 2 is not `key=user`");
        assert_eq!(parse_api_keys("short=ada").unwrap_err(), "the key of item 1 is shorter than 8 characters");
        assert_eq!(parse_api_keys("dev-key-1=").unwrap_err(), "item 1 names no user");
    }
}
