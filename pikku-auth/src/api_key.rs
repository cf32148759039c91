//! API keys: the `x-api-key` header and/or the `apiKey` query parameter, resolved by a lookup the
//! application supplies or, as in Pikku, verified as a JWT minted by the service.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use http::HeaderName;
use pikku_runtime::input::query_param;
use pikku_runtime::openapi::{ApiKeyLocation, SecuritySchemeDoc};
use pikku_runtime::{PikkuError, Request, Response, SessionChange, SharedMiddleware};
use serde::de::DeserializeOwned;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use crate::credential::{verify, Rejection};
use crate::revocation::{revoke_on_logout, TokenState};
use crate::secret::digest;
use crate::strategy::{strategy, AuthStrategy, Authenticated, Step};
use crate::AuthServices;

const NAME: &str = "auth_api_key";
const HEADER: HeaderName = HeaderName::from_static("x-api-key");
const QUERY: &str = "apiKey";

/// Where [`auth_api_key`] reads the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKeySource {
    /// The `x-api-key` header.
    Header,
    /// The `apiKey` query parameter. Query strings end up in access logs and browser history: prefer the
    /// header where the client can send one.
    Query,
    /// The header, or else the query parameter (a header that is present wins, valid or not).
    All,
}

/// Resolves an API key to a session: a static table, or keys stored where the application keeps its data.
/// It is handed the application's services, so a lookup in a database uses the pool the services hold.
///
/// Implementations must compare keys in constant time (or look them up by a hash of the key), so the
/// response time does not tell an attacker how much of a guess was right.
///
/// ```
/// use pikku_auth::{ApiKeyLookup, Step};
/// use pikku_runtime::PikkuError;
/// # use std::collections::HashMap;
/// # #[derive(Clone)] pub struct Session { client: String }
/// # pub struct Pool(HashMap<[u8; 32], String>);
/// # impl Pool {
/// #     async fn client_of_key_digest(&self, digest: [u8; 32]) -> Result<Option<String>, std::io::Error> { Ok(self.0.get(&digest).cloned()) }
/// # }
/// # fn sha256(key: &str) -> [u8; 32] { let mut d = [0; 32]; d[..key.len().min(32)].copy_from_slice(&key.as_bytes()[..key.len().min(32)]); d }
///
/// pub struct Services { db: Pool }
///
/// /// Keys stored as SHA-256 digests in the database: looked up by digest, so no comparison leaks timing.
/// pub struct StoredKeys;
///
/// impl ApiKeyLookup<Services, Session> for StoredKeys {
///     fn lookup<'a>(&'a self, services: &'a Services, key: &str) -> Step<'a, Result<Option<Session>, PikkuError>> {
///         // The future may borrow the services; it owns what it takes from the key.
///         let digest = sha256(key);
///         Step::Wait(Box::pin(async move {
///             match services.db.client_of_key_digest(digest).await {
///                 Ok(client) => Ok(client.map(|client| Session { client })),
///                 // 503, logged with the detail: the key may well be valid.
///                 Err(error) => Err(PikkuError::service_unavailable(format!("API key lookup failed: {error}"))),
///             }
///         }))
///     }
/// }
/// ```
pub trait ApiKeyLookup<Sv, S>: Send + Sync + 'static {
    /// The session of `key`, or `None` for an unknown key (401).
    ///
    /// A lookup in memory answers [`Step::Ready`]; one that queries a database returns [`Step::Wait`]
    /// with a future that may borrow `services` and owns a copy of the key (or of its digest).
    ///
    /// # Errors
    /// A [`PikkuError`] refuses the request with its status: a database that cannot answer is a 503
    /// (`PikkuError::service_unavailable`), not an unknown key.
    fn lookup<'a>(&'a self, services: &'a Sv, key: &str) -> Step<'a, Result<Option<S>, PikkuError>>;
}

/// A fixed table of API keys, kept as SHA-256 digests and compared in constant time against every entry
/// (no early exit, so neither which entry matched nor the key's length leaks through timing).
///
/// ```
/// use pikku_auth::StaticApiKeys;
///
/// let keys = StaticApiKeys::new([("test-key-1", "svc")]);
/// assert_eq!(format!("{keys:?}"), "StaticApiKeys { keys: 1 }");
/// ```
pub struct StaticApiKeys<S> {
    entries: Vec<([u8; 32], S)>,
}

impl<S> StaticApiKeys<S> {
    /// A table of `(key, session)` pairs.
    pub fn new<K: AsRef<[u8]>>(entries: impl IntoIterator<Item = (K, S)>) -> Self {
        Self { entries: entries.into_iter().map(|(key, session)| (digest(key.as_ref()), session)).collect() }
    }

    fn find(&self, key: &str) -> Option<&S> {
        let wanted = digest(key.as_bytes());
        let mut found = Choice::from(0);
        let mut index = 0u64;
        for (i, (entry, _)) in self.entries.iter().enumerate() {
            let equal = wanted.ct_eq(entry);
            index.conditional_assign(&(i as u64), equal);
            found |= equal;
        }
        bool::from(found).then(|| &self.entries[index as usize].1)
    }
}

impl<S> fmt::Debug for StaticApiKeys<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticApiKeys").field("keys", &self.entries.len()).finish()
    }
}

/// Works with any services: the table is its own.
impl<Sv, S: Clone + Send + Sync + 'static> ApiKeyLookup<Sv, S> for StaticApiKeys<S> {
    fn lookup<'a>(&'a self, _services: &'a Sv, key: &str) -> Step<'a, Result<Option<S>, PikkuError>> {
        Step::Ready(Ok(self.find(key).cloned()))
    }
}

/// Options of [`auth_api_key`], for services `Sv` and session `S` (both inferred from where the strategy is
/// wired).
pub struct ApiKeyOptions<Sv, S> {
    source: ApiKeySource,
    lookup: Option<Arc<dyn ApiKeyLookup<Sv, S>>>,
}

impl<Sv, S> fmt::Debug for ApiKeyOptions<Sv, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyOptions")
            .field("source", &self.source)
            .field("lookup", &self.lookup.as_ref().map(|_| "custom"))
            .finish()
    }
}

impl<Sv, S> ApiKeyOptions<Sv, S> {
    /// Keys read from `source`. By default a key is a JWT verified by `services.jwt()` (as in Pikku).
    pub fn new(source: ApiKeySource) -> Self {
        Self { source, lookup: None }
    }

    /// Resolves keys with `lookup` instead of verifying them as JWTs. By default there is no lookup.
    #[must_use]
    pub fn lookup(mut self, lookup: impl ApiKeyLookup<Sv, S>) -> Self {
        self.lookup = Some(Arc::new(lookup));
        self
    }
}

/// The API-key strategy; build it with [`auth_api_key`].
pub(crate) struct ApiKeyStrategy<Sv, S> {
    options: ApiKeyOptions<Sv, S>,
}

impl<Sv, S> fmt::Debug for ApiKeyStrategy<Sv, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyStrategy").field("options", &self.options).finish()
    }
}

/// API keys from the `x-api-key` header, the `apiKey` query parameter, or both (header first).
///
/// * No key: no session, the request goes on.
/// * A lookup's own error (a database that cannot answer: 503) refuses the request with that error.
/// * A key the lookup does not know, or (without a lookup) a JWT that does not verify or whose session was
///   revoked, or an empty key: 401 `InvalidSessionError` `Invalid API key`.
/// * Without a lookup, after a successful `clear_session` with a store, the key's session is revoked.
pub fn auth_api_key<Sv, S>(options: ApiKeyOptions<Sv, S>) -> SharedMiddleware<Sv, S>
where
    Sv: AuthServices,
    S: DeserializeOwned + Clone + Send + Sync + 'static,
{
    strategy(ApiKeyStrategy { options })
}

fn invalid_key(rejection: Rejection) -> PikkuError {
    rejection.log(NAME);
    PikkuError::invalid_session("Invalid API key")
}

impl<Sv, S> ApiKeyStrategy<Sv, S> {
    /// The key the request carries: `Ok(None)` when there is none, `Err` when it is not text.
    fn key<'r, Sn>(&self, request: &'r Request<Sn>) -> Result<Option<Cow<'r, str>>, Rejection> {
        let from_header = || match request.headers().get(&HEADER) {
            None => Ok(None),
            Some(value) => value.to_str().map(|v| Some(Cow::Borrowed(v))).map_err(|_| Rejection::Malformed),
        };
        let from_query = || request.query().and_then(|query| query_param(query, QUERY));
        match self.options.source {
            ApiKeySource::Header => from_header(),
            ApiKeySource::Query => Ok(from_query()),
            ApiKeySource::All => Ok(match from_header()? {
                Some(key) => Some(key),
                None => from_query(),
            }),
        }
    }
}

impl<Sv, S> AuthStrategy<Sv, S> for ApiKeyStrategy<Sv, S>
where
    Sv: AuthServices,
    S: DeserializeOwned + Clone + Send + Sync + 'static,
{
    /// The JWT key, to revoke its session on logout.
    type State = TokenState;

    fn name(&self) -> &str {
        NAME
    }

    fn describe(&self) -> String {
        let source = match self.options.source {
            ApiKeySource::Header => "header x-api-key",
            ApiKeySource::Query => "query apiKey",
            ApiKeySource::All => "header x-api-key, then query apiKey",
        };
        let keys = if self.options.lookup.is_some() { "lookup" } else { "jwt" };
        format!("source={source}, keys={keys}")
    }

    fn openapi_schemes(&self) -> Vec<(String, SecuritySchemeDoc)> {
        let header = || {
            let scheme = SecuritySchemeDoc::ApiKey { location: ApiKeyLocation::Header, name: HEADER.as_str().into() };
            ("apiKeyHeader".to_owned(), scheme)
        };
        let query = || {
            let scheme = SecuritySchemeDoc::ApiKey { location: ApiKeyLocation::Query, name: QUERY.into() };
            ("apiKeyQuery".to_owned(), scheme)
        };
        match self.options.source {
            ApiKeySource::Header => vec![header()],
            ApiKeySource::Query => vec![query()],
            ApiKeySource::All => vec![header(), query()],
        }
    }

    fn authenticate<'a>(
        &'a self,
        services: &'a Sv,
        request: &Request<S>,
    ) -> Step<'a, Result<Authenticated<S, TokenState>, PikkuError>> {
        let key = match self.key(request) {
            Ok(Some(key)) => key,
            Ok(None) => return Step::Ready(Ok(Authenticated::none())),
            Err(rejection) => return Step::Ready(Err(invalid_key(rejection))),
        };
        if key.is_empty() {
            return Step::Ready(Err(invalid_key(Rejection::Malformed)));
        }
        match &self.options.lookup {
            Some(lookup) => lookup.lookup(services, &key).map(|found| match found? {
                Some(session) => Ok(Authenticated::session(session)),
                None => Err(invalid_key(Rejection::Unknown)),
            }),
            None => verify::<Sv, S>(services, NAME, &key).map(|verified| match verified? {
                Ok((session, meta)) => Ok(Authenticated::session_with_state(session, TokenState::Verified(meta))),
                Err(rejection) => Err(invalid_key(rejection)),
            }),
        }
    }

    fn alongside(&self, _services: &Sv, request: &Request<S>) -> Option<TokenState> {
        if self.options.lookup.is_some() {
            // Looked-up keys are the application's to revoke, not a logout's.
            return None;
        }
        match self.key(request) {
            Ok(Some(key)) if !key.is_empty() => Some(TokenState::Presented(key.as_ref().into())),
            _ => None,
        }
    }

    fn respond<'a>(
        &'a self,
        services: &'a Sv,
        state: Option<TokenState>,
        change: Option<&SessionChange<S>>,
        _response: &mut Response,
    ) -> Step<'a, Result<(), PikkuError>> {
        revoke_on_logout(services, NAME, state, change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;
    use crate::SessionStore;

    fn keyed(source: ApiKeySource) -> SharedMiddleware<TestServices, TestSession> {
        let svc = TestSession { user_id: "svc".into(), role: "user".into() };
        auth_api_key(ApiKeyOptions::new(source).lookup(StaticApiKeys::new([("test-key-1", svc), ("other-key", bob())])))
    }

    fn svc() -> TestSession {
        TestSession { user_id: "svc".into(), role: "user".into() }
    }

    #[tokio::test]
    async fn header_key_resolves_through_the_lookup() {
        let services = services(false);
        let outcome = run(
            &services,
            vec![keyed(ApiKeySource::Header)],
            request("GET", "/me", &[("x-api-key", "test-key-1")]),
            ok_response(),
        )
        .await;
        assert_eq!(outcome.seen_session, Some(svc()));
        let outcome = run(
            &services,
            vec![keyed(ApiKeySource::Header)],
            request("GET", "/me?apiKey=test-key-1", &[]),
            ok_response(),
        )
        .await;
        assert!(outcome.endpoint_ran);
        assert_eq!(outcome.seen_session, None, "a header source ignores the query");
    }

    #[tokio::test]
    async fn query_key_is_percent_decoded() {
        let services = services(false);
        let outcome = run(
            &services,
            vec![keyed(ApiKeySource::Query)],
            request("GET", "/me?limit=1&apiKey=test%2Dkey-1", &[]),
            ok_response(),
        )
        .await;
        assert_eq!(outcome.seen_session, Some(svc()));
    }

    #[tokio::test]
    async fn all_source_prefers_the_header_over_the_query() {
        let services = services(false);
        let outcome = run(
            &services,
            vec![keyed(ApiKeySource::All)],
            request("GET", "/me?apiKey=test-key-1", &[("x-api-key", "other-key")]),
            ok_response(),
        )
        .await;
        assert_eq!(outcome.seen_session, Some(bob()));
        let outcome =
            run(&services, vec![keyed(ApiKeySource::All)], request("GET", "/me?apiKey=test-key-1", &[]), ok_response())
                .await;
        assert_eq!(outcome.seen_session, Some(svc()));
    }

    #[tokio::test]
    async fn unknown_or_empty_key_is_401_and_never_echoed() {
        let services = services(false);
        for (uri, pairs) in [
            ("/me", &[("x-api-key", "wrong-key-zzz")][..]),
            ("/me?apiKey=wrong-key-zzz", &[][..]),
            ("/me?apiKey=", &[][..]),
        ] {
            let outcome =
                run(&services, vec![keyed(ApiKeySource::All)], request("GET", uri, pairs), ok_response()).await;
            assert!(!outcome.endpoint_ran);
            assert_eq!(outcome.response.status(), 401);
            let body = body_text(outcome.response).await;
            assert!(body.contains("Invalid API key") && body.contains("InvalidSessionError"), "{body}");
            assert!(!body.contains("wrong-key-zzz"));
        }
    }

    #[tokio::test]
    async fn without_lookup_the_key_is_a_jwt_of_the_service() {
        let services = services(true);
        let key = services.jwt.sign(&alice()).unwrap();
        let mw = || vec![auth_api_key(ApiKeyOptions::new(ApiKeySource::Header))];
        let outcome = run(&services, mw(), request("GET", "/me", &[("x-api-key", &key)]), ok_response()).await;
        assert_eq!(outcome.seen_session, Some(alice()));
        let outcome = run(&services, mw(), request("GET", "/me", &[("x-api-key", &tamper(&key))]), ok_response()).await;
        assert_eq!(outcome.response.status(), 401);

        run(&services, mw(), request("POST", "/logout", &[("x-api-key", &key)]), logout_response()).await;
        let outcome = run(&services, mw(), request("GET", "/me", &[("x-api-key", &key)]), ok_response()).await;
        assert_eq!(outcome.response.status(), 401, "a revoked JWT key is refused");
    }

    /// Keys that are session ids in the services' store: valid until revoked there. The answer borrows the
    /// services across a wait, as a database lookup through a pool in the services does.
    struct KeysInTheServicesStore;

    impl ApiKeyLookup<TestServices, TestSession> for KeysInTheServicesStore {
        fn lookup<'a>(
            &'a self,
            services: &'a TestServices,
            key: &str,
        ) -> Step<'a, Result<Option<TestSession>, PikkuError>> {
            let key = key.to_owned();
            Step::Wait(Box::pin(async move {
                tokio::task::yield_now().await;
                if services.failing_store {
                    return Err(PikkuError::service_unavailable("the key table cannot be read"));
                }
                let token = crate::SessionRef { session_id: &key, user: None, auth_time: None };
                let revoked = services.store.is_revoked(token).await.unwrap();
                Ok((key.starts_with("key-") && !revoked).then(svc))
            }))
        }
    }

    #[tokio::test]
    async fn a_lookup_reaches_the_application_services() {
        let services = services(false);
        let chain = || vec![auth_api_key(ApiKeyOptions::new(ApiKeySource::Header).lookup(KeysInTheServicesStore))];
        let outcome = run(&services, chain(), request("GET", "/me", &[("x-api-key", "key-1")]), ok_response()).await;
        assert_eq!(outcome.seen_session, Some(svc()));
        let outcome = run(&services, chain(), request("GET", "/me", &[("x-api-key", "nokey")]), ok_response()).await;
        assert_eq!(outcome.response.status(), 401);

        services.store.revoke("key-1", i64::MAX).await.unwrap();
        let outcome = run(&services, chain(), request("GET", "/me", &[("x-api-key", "key-1")]), ok_response()).await;
        assert_eq!(outcome.response.status(), 401, "the lookup read the revocation from the services");

        // A lookup that cannot answer refuses with its own error, not as an unknown key.
        let failing = TestServices { failing_store: true, ..services };
        let outcome = run(&failing, chain(), request("GET", "/me", &[("x-api-key", "key-2")]), ok_response()).await;
        assert!(!outcome.endpoint_ran);
        assert_eq!(outcome.response.status(), 503);
        assert!(body_text(outcome.response).await.contains("ServiceUnavailableError"));
    }

    #[test]
    fn static_lookup_finds_each_entry_and_nothing_else() {
        let keys = StaticApiKeys::new([("a", 1), ("bb", 2), ("ccc", 3)]);
        assert_eq!(keys.find("a"), Some(&1));
        assert_eq!(keys.find("bb"), Some(&2));
        assert_eq!(keys.find("ccc"), Some(&3));
        assert_eq!(keys.find("cc"), None);
        assert_eq!(keys.find(""), None);
    }

    #[test]
    fn keys_never_appear_in_debug_or_describe() {
        let options: ApiKeyOptions<TestServices, _> =
            ApiKeyOptions::new(ApiKeySource::All).lookup(StaticApiKeys::new([("test-key-1", svc())]));
        let strategy = ApiKeyStrategy { options };
        let debug = format!("{strategy:?}");
        assert!(!debug.contains("test-key-1"), "{debug}");
        let mw = keyed(ApiKeySource::All);
        assert_eq!(mw.name(), "auth_api_key");
        assert_eq!(mw.describe(), "source=header x-api-key, then query apiKey, keys=lookup");
    }

    #[tokio::test]
    async fn logout_revokes_a_jwt_key_presented_beside_a_winning_bearer_token() {
        let services = services(true);
        let bearer = services.jwt.sign(&alice()).unwrap();
        let key = services.jwt.sign(&bob()).unwrap();
        let chain = || vec![crate::auth_bearer(), auth_api_key(ApiKeyOptions::new(ApiKeySource::Header))];
        let pairs = [("authorization", &*format!("Bearer {bearer}")), ("x-api-key", &*key)];
        let outcome = run(&services, chain(), request("POST", "/logout", &pairs), logout_response()).await;
        assert_eq!(outcome.seen_session, Some(alice()));
        assert_eq!(services.store.len(), 2, "the bearer token's session and the key's");
        let outcome = run(&services, chain(), request("GET", "/me", &[("x-api-key", &key)]), ok_response()).await;
        assert_eq!(outcome.response.status(), 401);
    }
}
