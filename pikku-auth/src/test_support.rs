//! A small harness for the strategies' unit tests: services with a JWT service and an optional store, a
//! request builder, and an onion runner whose function answers with a chosen response. Token forging is
//! the test kit's (`crate::testing`); the functions at the end only bind it to the harness's secret.

use std::sync::{Arc, Mutex};

use http::HeaderName;
use http_body_util::BodyExt;
use pikku_runtime::{
    BoxFuture, HeaderMap, HeaderValue, Method, Next, Request, Response, SessionChange, SharedMiddleware, StatusCode,
    TestEndpoint,
};
use serde::{Deserialize, Serialize};

use crate::jwt::JwtService;
use crate::strategy::Step;
pub(crate) use crate::testing::tamper;
use crate::testing::{now, session_claims, TokenForger};
use crate::{AuthServices, InMemorySessionStore, SessionRef, SessionStore, StoreError};

pub(crate) const SECRET: [u8; 32] = [42; 32];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TestSession {
    pub(crate) user_id: String,
    pub(crate) role: String,
}

pub(crate) fn alice() -> TestSession {
    TestSession { user_id: "u1".into(), role: "admin".into() }
}

pub(crate) fn bob() -> TestSession {
    TestSession { user_id: "u2".into(), role: "user".into() }
}

pub(crate) struct TestServices {
    pub(crate) jwt: JwtService,
    pub(crate) store: InMemorySessionStore,
    pub(crate) use_store: bool,
    pub(crate) failing_store: bool,
    /// When set, the store answers as a remote one would: after a wait (`Step::Wait`).
    pub(crate) remote_store: Option<RemoteStore>,
}

/// A store that answers like a remote one (Redis): every answer comes after a wait.
pub(crate) struct RemoteStore(pub(crate) InMemorySessionStore);

impl SessionStore for RemoteStore {
    fn is_revoked<'a>(&'a self, token: SessionRef<'_>) -> Step<'a, Result<bool, StoreError>> {
        let answer = self.0.is_revoked(token);
        Step::Wait(Box::pin(async move {
            tokio::task::yield_now().await;
            answer.await
        }))
    }
    fn revoke<'a>(&'a self, session_id: &'a str, expires_at: i64) -> BoxFuture<'a, Result<(), StoreError>> {
        self.0.revoke(session_id, expires_at)
    }
    fn revoke_user<'a>(&'a self, user: &'a str, cutoff: i64, keep: i64) -> BoxFuture<'a, Result<(), StoreError>> {
        self.0.revoke_user(user, cutoff, keep)
    }
}

/// Whether the store has `session_id` revoked (by id: no user cut-off applies).
pub(crate) async fn revoked(store: &dyn SessionStore, session_id: &str) -> bool {
    store.is_revoked(SessionRef { session_id, user: None, auth_time: Some(now()) }).await.unwrap()
}

pub(crate) fn services(use_store: bool) -> TestServices {
    TestServices {
        jwt: JwtService::hs256(SECRET).unwrap(),
        store: InMemorySessionStore::new(),
        use_store,
        failing_store: false,
        remote_store: None,
    }
}

struct FailingStore;

#[derive(Debug, thiserror::Error)]
#[error("connection refused")]
struct Refused;

impl SessionStore for FailingStore {
    fn is_revoked<'a>(&'a self, _: SessionRef<'_>) -> Step<'a, Result<bool, StoreError>> {
        // A remote store's shape: the answer comes after a wait (which fails here).
        Step::Wait(Box::pin(async { Err(StoreError::Unavailable(Box::new(Refused))) }))
    }
    fn revoke<'a>(&'a self, _: &'a str, _: i64) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Err(StoreError::Unavailable(Box::new(Refused))) })
    }
    fn revoke_user<'a>(&'a self, _: &'a str, _: i64, _: i64) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Err(StoreError::Unavailable(Box::new(Refused))) })
    }
}

static FAILING: FailingStore = FailingStore;

impl AuthServices for TestServices {
    fn jwt(&self) -> &JwtService {
        &self.jwt
    }
    fn session_store(&self) -> Option<&dyn SessionStore> {
        if self.failing_store {
            Some(&FAILING)
        } else if let Some(remote) = &self.remote_store {
            Some(remote)
        } else if self.use_store {
            Some(&self.store)
        } else {
            None
        }
    }
}

pub(crate) fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
    }
    map
}

pub(crate) fn request(method: &str, uri: &str, pairs: &[(&str, &str)]) -> Request<TestSession> {
    Request::for_test(Method::from_bytes(method.as_bytes()).unwrap(), uri, headers(pairs))
}

pub(crate) struct Outcome {
    pub(crate) response: Response,
    pub(crate) endpoint_ran: bool,
    pub(crate) seen_session: Option<TestSession>,
}

/// What the stand-in function answers: a response, and the session change it recorded.
#[allow(clippy::type_complexity)]
pub(crate) struct Reply {
    respond: Box<dyn Fn() -> Response + Send + Sync>,
    pub(crate) change: Option<SessionChange<TestSession>>,
}

impl Reply {
    /// The same reply with another status (a function that recorded a change, then a middleware nearer the
    /// function turned its answer into an error).
    pub(crate) fn with_status(self, status: StatusCode) -> Self {
        let respond = self.respond;
        Self {
            respond: Box::new(move || {
                let mut response = respond();
                *response.status_mut() = status;
                response
            }),
            change: self.change,
        }
    }
}

pub(crate) trait IntoReply {
    fn into_reply(self) -> Reply;
}

impl IntoReply for Reply {
    fn into_reply(self) -> Reply {
        self
    }
}

impl<F: Fn() -> Response + Send + Sync + 'static> IntoReply for F {
    fn into_reply(self) -> Reply {
        Reply { respond: Box::new(self), change: None }
    }
}

/// Runs `request` through `chain` and a function that answers with `reply`.
pub(crate) async fn run(
    services: &TestServices,
    chain: Vec<SharedMiddleware<TestServices, TestSession>>,
    request: Request<TestSession>,
    reply: impl IntoReply,
) -> Outcome {
    let Reply { respond, change } = reply.into_reply();
    let seen = Arc::new(Mutex::new(None));
    let seen_in_endpoint = Arc::clone(&seen);
    let mut endpoint = TestEndpoint::new(move |request: &Request<TestSession>| {
        *seen_in_endpoint.lock().unwrap() = Some(request.session().cloned());
        respond()
    });
    if let Some(change) = change {
        endpoint = endpoint.recording(change);
    }
    let response = Next::for_test(services, &chain, &endpoint).run(request).await;
    let seen = seen.lock().unwrap().take();
    Outcome { response, endpoint_ran: seen.is_some(), seen_session: seen.flatten() }
}

fn status_response(status: StatusCode) -> Response {
    let mut response = Response::new(Default::default());
    *response.status_mut() = status;
    response
}

pub(crate) fn ok_response() -> impl Fn() -> Response + Send + Sync + 'static {
    || status_response(StatusCode::OK)
}

pub(crate) fn error_response(status: StatusCode) -> impl Fn() -> Response + Send + Sync + 'static {
    move || status_response(status)
}

/// A successful function that called `clear_session`.
pub(crate) fn logout_response() -> Reply {
    Reply { respond: Box::new(|| status_response(StatusCode::NO_CONTENT)), change: Some(SessionChange::Cleared) }
}

/// A successful function that called `set_session(session)`.
pub(crate) fn login_response(session: TestSession) -> Reply {
    Reply {
        respond: Box::new(|| status_response(StatusCode::OK)),
        change: Some(SessionChange::Set { session, id: pikku_runtime::SessionId::generate() }),
    }
}

pub(crate) async fn body_text(response: Response) -> String {
    String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

/// Forges tokens with the harness's secret, as `services(..).jwt` signs them (kit: `testing`).
pub(crate) fn forger() -> TokenForger {
    TokenForger::hs256(SECRET)
}

/// A token of this service that expired a minute ago (beyond the leeway).
pub(crate) fn expired_token(_jwt: &JwtService, session: &TestSession) -> String {
    forger().expired_token(session)
}

/// A token as a Pikku TypeScript service mints it: no `kid`, no `jti`.
pub(crate) fn token_without_jti(session: &TestSession) -> String {
    let now = now();
    forger().kid(None).forge(&session_claims(session, now, now + 3600))
}

/// A token of session `sid` issued `age` seconds ago, living `lifetime` seconds.
pub(crate) fn aged_token(session: &TestSession, sid: &str, age: i64, lifetime: i64) -> String {
    let iat = now() - age;
    let mut claims = session_claims(session, iat, iat + lifetime);
    claims["jti"] = format!("{sid}.nonce").into();
    forger().forge(&claims)
}
