//! Services everywhere (docs/services.md): an API-key lookup and a custom strategy that read the
//! application's services (a key table that changes while the server runs, standing in for a database),
//! and blocking work run off the threads that serve requests, its panic a 500 for its request only.

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use pikku::auth::{auth_api_key, ApiKeyLookup, ApiKeyOptions, ApiKeySource, AuthServices, JwtService};
use pikku::auth::{strategy, AuthStrategy, Authenticated, Step};
use pikku::prelude::*;
use pikku::testing::{within, TestServer, WAIT};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A stand-in for a database pool: tables behind an async API.
#[derive(Default)]
pub struct Db {
    api_keys: Mutex<HashMap<String, String>>,
    devices: Mutex<HashMap<String, String>>,
}

impl Db {
    async fn client_of_key(&self, key: &str) -> Option<String> {
        tokio::task::yield_now().await; // a round trip
        self.api_keys.lock().unwrap().get(key).cloned()
    }

    async fn owner_of_device(&self, device: &str) -> Option<String> {
        tokio::task::yield_now().await;
        self.devices.lock().unwrap().get(device).cloned()
    }
}

pub struct Services {
    jwt: JwtService,
    db: Db,
}

impl AuthServices for Services {
    fn jwt(&self) -> &JwtService {
        &self.jwt
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    user_id: String,
}

/// API keys in the services' database.
pub struct KeysInDb;

impl ApiKeyLookup<Services, Session> for KeysInDb {
    fn lookup<'a>(&'a self, services: &'a Services, key: &str) -> Step<'a, Result<Option<Session>, PikkuError>> {
        let key = key.to_owned();
        Step::Wait(Box::pin(
            async move { Ok(services.db.client_of_key(&key).await.map(|user_id| Session { user_id })) },
        ))
    }
}

/// `x-device: <id>`, looked up in the services' database.
pub struct DeviceStrategy;

impl AuthStrategy<Services, Session> for DeviceStrategy {
    type State = ();

    fn name(&self) -> &str {
        "auth_device"
    }

    fn authenticate<'a>(
        &'a self,
        services: &'a Services,
        request: &Request<Session>,
    ) -> Step<'a, Result<Authenticated<Session, ()>, PikkuError>> {
        let Some(device) = request.headers().get("x-device").and_then(|v| v.to_str().ok()).map(str::to_owned) else {
            return Step::Ready(Ok(Authenticated::none()));
        };
        Step::Wait(Box::pin(async move {
            match services.db.owner_of_device(&device).await {
                Some(user_id) => Ok(Authenticated::session(Session { user_id })),
                None => Err(PikkuError::invalid_session("Unknown device")),
            }
        }))
    }
}

#[pikku_func]
async fn me(_: &Services, _: (), ctx: &Context<Session>) -> Result<Session, PikkuError> {
    Ok(ctx.session().clone())
}

#[derive(Deserialize)]
pub struct NewKey {
    key: String,
}

/// Issues a key for the caller: stored in the services, usable at once.
#[pikku_func]
async fn add_key(services: &Services, data: NewKey, ctx: &Context<Session>) -> Result<Reply, PikkuError> {
    services.db.api_keys.lock().unwrap().insert(data.key, ctx.session().user_id.clone());
    Ok(Reply::no_content())
}

#[derive(Deserialize)]
pub struct Sleep {
    ms: u64,
}

/// Blocks its thread for `ms`: on the blocking pool, so the server keeps answering.
#[pikku_func(auth = false)]
async fn slow(_: &Services, data: Sleep, _: &OptionalContext<Session>) -> Result<&'static str, PikkuError> {
    pikku::blocking(move || std::thread::sleep(Duration::from_millis(data.ms))).await?;
    Ok("slept")
}

#[pikku_func(auth = false)]
async fn fast(_: &Services, _: (), _: &OptionalContext<Session>) -> Result<&'static str, PikkuError> {
    Ok("fast")
}

#[pikku_func(auth = false)]
async fn blocking_panic(_: &Services, _: (), _: &OptionalContext<Session>) -> Result<u32, PikkuError> {
    pikku::blocking(|| -> u32 { panic!("deliberate panic in blocking work") }).await
}

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    w.add_http_middleware(
        "*",
        [strategy(DeviceStrategy), auth_api_key(ApiKeyOptions::new(ApiKeySource::Header).lookup(KeysInDb))],
    );
    w.get("/me", me);
    w.post("/keys", add_key);
    w.get("/slow", slow);
    w.get("/fast", fast);
    w.get("/blocking-panic", blocking_panic);
}

async fn server() -> TestServer {
    let db = Db::default();
    db.devices.lock().unwrap().insert("phone-1".into(), "ada".into());
    let services = Services { jwt: JwtService::hs256([5u8; 32]).unwrap(), db };
    TestServer::start(App::<Services, Session>::new().build(services).expect("the application starts")).await
}

#[tokio::test]
async fn a_custom_strategy_and_an_api_key_lookup_read_the_services() {
    let app = server().await;
    let me = app.get("/me").header("x-device", "phone-1").send().await;
    assert_eq!(me.assert_status(200).json_value(), json!({"userId": "ada"}));
    app.get("/me").header("x-device", "stolen").send().await.assert_error(401, "InvalidSessionError");

    // A key does not exist until the application stores one; then the lookup finds it.
    app.get("/me").header("x-api-key", "ci-bot-key").send().await.assert_error(401, "InvalidSessionError");
    app.post("/keys").header("x-device", "phone-1").json(&json!({"key": "ci-bot-key"})).send().await.assert_status(204);
    let me = app.get("/me").header("x-api-key", "ci-bot-key").send().await;
    assert_eq!(me.assert_status(200).json_value(), json!({"userId": "ada"}));
}

/// The test runtime has one thread, which also runs the server: work blocking it would hold every other
/// request until it is done.
#[tokio::test(flavor = "current_thread")]
async fn blocking_work_does_not_stall_the_thread_that_serves_requests() {
    let app = server().await;
    let client = app.client();
    let slow = tokio::spawn(async move { client.get("/slow?ms=2000").send().await });
    // Let the slow request reach its blocking work.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let fast = within(Duration::from_millis(1500), "a request beside blocking work", app.get("/fast").send()).await;
    assert_eq!(fast.assert_status(200).json_value(), json!("fast"));
    assert!(!slow.is_finished(), "the fast request was answered while the blocking work ran");
    let slow = within(WAIT, "the blocking work", slow).await.unwrap();
    assert_eq!(slow.assert_status(200).json_value(), json!("slept"));
}

#[tokio::test]
async fn a_panic_in_blocking_work_is_a_500_for_its_request_only() {
    let app = server().await;
    let body = app.get("/blocking-panic").send().await.assert_error(500, "InternalServerError");
    assert!(!body.to_string().contains("deliberate"), "{body}");
    app.get("/fast").send().await.assert_status(200);
    assert_eq!(app.get("/slow?ms=1").send().await.assert_status(200).json_value(), json!("slept"));
}
