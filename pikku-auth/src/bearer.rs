//! `Authorization: Bearer <jwt>` (RFC 6750), and the static-token mode kept from Pikku.

use std::fmt;

use pikku_runtime::{
    header, HeaderMap, HeaderValue, PikkuError, Request, Response, SessionChange, SharedMiddleware, StatusCode,
};
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use crate::credential::{verify, Rejection};
use crate::revocation::{revoke_on_logout, TokenState};
use crate::secret::digest;
use crate::strategy::{strategy, AuthStrategy, Authenticated, Step};
use crate::AuthServices;
use pikku_runtime::openapi::SecuritySchemeDoc;

const NAME: &str = "auth_bearer";

/// The challenge sent with every refused bearer credential (RFC 6750 §3.1).
const INVALID_TOKEN_CHALLENGE: HeaderValue = HeaderValue::from_static("Bearer error=\"invalid_token\"");

/// The challenge added to a 401 that carries none, such as the auth gate's `MissingSessionError`: a 401
/// must say how to authenticate (RFC 9110 §15.5.2), and a request without credentials gets no error code
/// (RFC 6750 §3.1).
const BEARER_CHALLENGE: HeaderValue = HeaderValue::from_static("Bearer");

/// The bearer strategy; build it with [`auth_bearer`] or [`auth_bearer_static`].
pub(crate) struct BearerStrategy<S> {
    mode: Mode<S>,
}

enum Mode<S> {
    /// Tokens are JWTs verified by the application's [`JwtService`](crate::jwt::JwtService).
    Jwt,
    /// One fixed token, known only by its SHA-256 digest, mapped to one session.
    Static { digest: [u8; 32], session: S },
}

impl<S> fmt::Debug for BearerStrategy<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.mode {
            Mode::Jwt => "jwt",
            Mode::Static { .. } => "static",
        };
        f.debug_struct("BearerStrategy").field("mode", &mode).finish_non_exhaustive()
    }
}

/// Bearer tokens: `Authorization: Bearer <jwt>`, verified by `services.jwt()` and, with a store, checked
/// for revocation.
///
/// * No `Authorization` header, or another scheme (`Basic`): no session, the request goes on.
/// * The scheme is matched case-insensitively (RFC 7235 §2.1).
/// * A malformed header (no token, extra spaces, non-ASCII) or a token whose signature, algorithm, expiry
///   or shape is wrong, or whose session was revoked: 401 `InvalidSessionError` with
///   `WWW-Authenticate: Bearer error="invalid_token"`, on every route, `auth = false` ones included
///   (a client that sends a bad token should learn it).
/// * After a successful response whose function called `clear_session`, with a store, the token's
///   session is revoked (every token of that session stops working).
///
/// A bearer token carries nothing back: a login function returns its token in the body.
pub fn auth_bearer<Sv, S>() -> SharedMiddleware<Sv, S>
where
    Sv: AuthServices,
    S: DeserializeOwned + Clone + Send + Sync + 'static,
{
    strategy(BearerStrategy { mode: Mode::Jwt })
}

/// Static-token mode (Pikku's `authBearer({ token })`): exactly `token` gives `session`; any other bearer
/// token is refused with 401. The token is kept only as its SHA-256 digest and compared in constant time
/// over the digests, so neither its content nor its length leaks through timing.
pub fn auth_bearer_static<Sv, S>(token: impl AsRef<[u8]>, session: S) -> SharedMiddleware<Sv, S>
where
    Sv: AuthServices,
    S: DeserializeOwned + Clone + Send + Sync + 'static,
{
    strategy(BearerStrategy { mode: Mode::Static { digest: digest(token.as_ref()), session } })
}

/// A bearer credential found in the headers.
#[derive(Debug, PartialEq)]
enum Credential<'a> {
    /// No `Authorization: Bearer` header.
    Absent,
    Token(&'a str),
    Malformed,
}

fn bearer_credential(headers: &HeaderMap) -> Credential<'_> {
    let mut found = Credential::Absent;
    for value in headers.get_all(header::AUTHORIZATION) {
        let bytes = value.as_bytes();
        let (scheme, token) = match bytes.iter().position(|&b| b == b' ') {
            Some(space) => (&bytes[..space], Some(&bytes[space + 1..])),
            None => (bytes, None),
        };
        if !scheme.eq_ignore_ascii_case(b"bearer") {
            continue;
        }
        if found != Credential::Absent {
            // Two bearer credentials: which one would the client mean? Refuse rather than guess.
            return Credential::Malformed;
        }
        // token68 (RFC 7235 §2.1): one space after the scheme, then no more. Which characters the token may
        // hold is the JWT decoder's to check (a stray one fails it with the same 401).
        found = match token.filter(|t| !t.is_empty() && !t.contains(&b' ')).map(std::str::from_utf8) {
            Some(Ok(token)) => Credential::Token(token),
            _ => Credential::Malformed,
        };
    }
    found
}

fn invalid_token() -> PikkuError {
    PikkuError::invalid_session("Invalid or expired token")
        .with_header(header::WWW_AUTHENTICATE, INVALID_TOKEN_CHALLENGE)
}

fn refuse(rejection: Rejection) -> PikkuError {
    rejection.log(NAME);
    invalid_token()
}

impl<Sv, S> AuthStrategy<Sv, S> for BearerStrategy<S>
where
    Sv: AuthServices,
    S: DeserializeOwned + Clone + Send + Sync + 'static,
{
    type State = TokenState;

    fn name(&self) -> &str {
        NAME
    }

    fn describe(&self) -> String {
        match self.mode {
            Mode::Jwt => "scheme=Bearer, token=jwt".to_owned(),
            Mode::Static { .. } => "scheme=Bearer, token=static".to_owned(),
        }
    }

    fn openapi_schemes(&self) -> Vec<(String, SecuritySchemeDoc)> {
        let bearer_format = match self.mode {
            Mode::Jwt => Some("JWT".to_owned()),
            Mode::Static { .. } => None,
        };
        vec![("bearerAuth".to_owned(), SecuritySchemeDoc::HttpBearer { bearer_format })]
    }

    fn authenticate<'a>(
        &'a self,
        services: &'a Sv,
        request: &Request<S>,
    ) -> Step<'a, Result<Authenticated<S, TokenState>, PikkuError>> {
        let token = match bearer_credential(request.headers()) {
            Credential::Absent => return Step::Ready(Ok(Authenticated::none())),
            Credential::Malformed => return Step::Ready(Err(refuse(Rejection::Malformed))),
            Credential::Token(token) => token,
        };
        match &self.mode {
            Mode::Jwt => verify::<Sv, S>(services, NAME, token).map(|verified| match verified? {
                Ok((session, meta)) => Ok(Authenticated::session_with_state(session, TokenState::Verified(meta))),
                Err(rejection) => Err(refuse(rejection)),
            }),
            Mode::Static { digest: expected, session } => {
                Step::Ready(if bool::from(digest(token.as_bytes()).ct_eq(expected)) {
                    Ok(Authenticated::session(session.clone()))
                } else {
                    Err(refuse(Rejection::Unknown))
                })
            }
        }
    }

    fn alongside(&self, _services: &Sv, request: &Request<S>) -> Option<TokenState> {
        match (&self.mode, bearer_credential(request.headers())) {
            (Mode::Jwt, Credential::Token(token)) => Some(TokenState::Presented(token.into())),
            _ => None,
        }
    }

    fn respond<'a>(
        &'a self,
        services: &'a Sv,
        state: Option<TokenState>,
        change: Option<&SessionChange<S>>,
        response: &mut Response,
    ) -> Step<'a, Result<(), PikkuError>> {
        if response.status() == StatusCode::UNAUTHORIZED && !response.headers().contains_key(header::WWW_AUTHENTICATE) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, BEARER_CHALLENGE);
        }
        revoke_on_logout(services, NAME, state, change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;

    #[test]
    fn scheme_is_case_insensitive_and_other_schemes_are_not_ours() {
        assert_eq!(
            bearer_credential(&headers(&[("authorization", "bEaReR abc.def.ghi")])),
            Credential::Token("abc.def.ghi")
        );
        assert_eq!(bearer_credential(&headers(&[("authorization", "Basic YTpi")])), Credential::Absent);
        assert_eq!(bearer_credential(&headers(&[])), Credential::Absent);
    }

    #[test]
    fn empty_token_extra_spaces_and_non_ascii_are_malformed() {
        for value in ["Bearer", "Bearer ", "Bearer  tok", "Bearer tok extra", "Bearer tok "] {
            assert_eq!(bearer_credential(&headers(&[("authorization", value)])), Credential::Malformed, "{value:?}");
        }
        let mut map = HeaderMap::new();
        map.insert(header::AUTHORIZATION, HeaderValue::from_bytes(b"Bearer t\xffk").unwrap());
        assert_eq!(bearer_credential(&map), Credential::Malformed);
        assert_eq!(
            bearer_credential(&headers(&[("authorization", "Bearer a"), ("authorization", "Bearer b")])),
            Credential::Malformed
        );
    }

    #[tokio::test]
    async fn valid_bearer_token_establishes_the_session() {
        let services = services(false);
        let token = services.jwt.sign(&alice()).unwrap();
        let request = request("GET", "/me", &[("authorization", &format!("Bearer {token}"))]);
        let outcome = run(&services, vec![auth_bearer()], request, ok_response()).await;
        assert_eq!(outcome.seen_session, Some(alice()));
        assert_eq!(outcome.response.status(), 200);
    }

    #[tokio::test]
    async fn missing_header_or_other_scheme_passes_on_without_session() {
        let services = services(false);
        for extra in [&[][..], &[("authorization", "Basic YWxpY2U6cHc=")][..]] {
            let outcome = run(&services, vec![auth_bearer()], request("GET", "/me", extra), ok_response()).await;
            assert!(outcome.endpoint_ran);
            assert_eq!(outcome.seen_session, None);
        }
    }

    async fn assert_invalid_token(services: &TestServices, authorization: &str) {
        let request = request("GET", "/health", &[("authorization", authorization)]);
        let outcome = run(services, vec![auth_bearer()], request, ok_response()).await;
        assert!(!outcome.endpoint_ran, "{authorization:?} must not reach the function");
        assert_eq!(outcome.response.status(), 401);
        assert_eq!(outcome.response.headers()[header::WWW_AUTHENTICATE], "Bearer error=\"invalid_token\"");
        let body = body_text(outcome.response).await;
        assert!(body.contains("InvalidSessionError"), "{body}");
        if let Some(token) = authorization.strip_prefix("Bearer ") {
            if !token.is_empty() {
                assert!(!body.contains(token.trim()), "the token must not be echoed");
            }
        }
    }

    #[tokio::test]
    async fn malformed_header_is_401_invalid_token_even_without_auth() {
        let services = services(false);
        for value in ["Bearer", "Bearer ", "bearer  x.y.z", "Bearer x.y.z extra"] {
            assert_invalid_token(&services, value).await;
        }
    }

    #[tokio::test]
    async fn expired_tampered_or_foreign_token_is_401_invalid_token() {
        let services = services(false);
        let expired = expired_token(&services.jwt, &alice());
        assert_invalid_token(&services, &format!("Bearer {expired}")).await;

        let token = services.jwt.sign(&alice()).unwrap();
        assert_invalid_token(&services, &format!("Bearer {}", tamper(&token))).await;

        let foreign = crate::jwt::JwtService::hs256([7u8; 32]).unwrap().sign(&alice()).unwrap();
        assert_invalid_token(&services, &format!("Bearer {foreign}")).await;
        assert_invalid_token(&services, "Bearer not-a-jwt").await;
    }

    #[tokio::test]
    async fn logout_revokes_the_bearer_session_and_the_token_then_fails() {
        let services = services(true);
        let token = services.jwt.sign(&alice()).unwrap();
        let auth = format!("Bearer {token}");
        let outcome = run(
            &services,
            vec![auth_bearer()],
            request("POST", "/logout", &[("authorization", &auth)]),
            logout_response(),
        )
        .await;
        assert_eq!(outcome.response.status(), 204);
        assert_eq!(services.store.len(), 1);
        assert_invalid_token(&services, &auth).await;

        // Another login of the same user is another session: it keeps working.
        let other = services.jwt.sign(&alice()).unwrap();
        let outcome = run(
            &services,
            vec![auth_bearer()],
            request("GET", "/me", &[("authorization", &format!("Bearer {other}"))]),
            ok_response(),
        )
        .await;
        assert_eq!(outcome.seen_session, Some(alice()));
    }

    #[tokio::test]
    async fn failed_logout_does_not_revoke() {
        let services = services(true);
        let token = services.jwt.sign(&alice()).unwrap();
        let auth = format!("Bearer {token}");
        let failing = logout_response().with_status(pikku_runtime::StatusCode::INTERNAL_SERVER_ERROR);
        run(&services, vec![auth_bearer()], request("POST", "/logout", &[("authorization", &auth)]), failing).await;
        assert!(services.store.is_empty());
    }

    #[tokio::test]
    async fn pikku_token_without_jti_is_revoked_by_an_id_derived_from_its_signature() {
        let services = services(true);
        let token = token_without_jti(&alice());
        let auth = format!("Bearer {token}");
        let outcome =
            run(&services, vec![auth_bearer()], request("GET", "/me", &[("authorization", &auth)]), ok_response())
                .await;
        assert_eq!(outcome.seen_session, Some(alice()));
        run(&services, vec![auth_bearer()], request("POST", "/logout", &[("authorization", &auth)]), logout_response())
            .await;
        let (_, meta) = crate::credential::decode::<_, TestSession>(&services, &token).unwrap();
        assert!(revoked(&services.store, meta.session_id()).await);
        assert_invalid_token(&services, &auth).await;
    }

    #[tokio::test]
    async fn store_failure_fails_closed_with_503() {
        let services = TestServices { failing_store: true, ..services(true) };
        let token = services.jwt.sign(&alice()).unwrap();
        let request = request("GET", "/me", &[("authorization", &format!("Bearer {token}"))]);
        let outcome = run(&services, vec![auth_bearer()], request, ok_response()).await;
        assert!(!outcome.endpoint_ran);
        assert_eq!(outcome.response.status(), 503);
        let retry_after = outcome.response.headers().get(pikku_runtime::header::RETRY_AFTER);
        assert_eq!(retry_after.and_then(|v| v.to_str().ok()), Some("2"), "the client is told when to retry");
    }

    #[tokio::test]
    async fn a_remote_store_answers_after_a_wait_and_revocation_still_holds() {
        let remote = RemoteStore(crate::InMemorySessionStore::new());
        let services = TestServices { remote_store: Some(remote), ..services(true) };
        let token = services.jwt.sign(&alice()).unwrap();
        let bearer = format!("Bearer {token}");
        let outcome =
            run(&services, vec![auth_bearer()], request("GET", "/me", &[("authorization", &bearer)]), ok_response())
                .await;
        assert_eq!(outcome.seen_session, Some(alice()));

        let logout = run(
            &services,
            vec![auth_bearer()],
            request("POST", "/logout", &[("authorization", &bearer)]),
            logout_response(),
        )
        .await;
        assert_eq!(logout.response.status(), 204);
        let outcome =
            run(&services, vec![auth_bearer()], request("GET", "/me", &[("authorization", &bearer)]), ok_response())
                .await;
        assert!(!outcome.endpoint_ran);
        assert_eq!(outcome.response.status(), 401);
    }

    #[tokio::test]
    async fn static_token_maps_to_its_session_and_other_tokens_are_refused() {
        let services = services(false);
        let mw = || vec![auth_bearer_static("s3cr3t-static-token", bob())];
        let outcome = run(
            &services,
            mw(),
            request("GET", "/me", &[("authorization", "Bearer s3cr3t-static-token")]),
            ok_response(),
        )
        .await;
        assert_eq!(outcome.seen_session, Some(bob()));
        let outcome = run(
            &services,
            mw(),
            request("GET", "/me", &[("authorization", "Bearer s3cr3t-static-tokeX")]),
            ok_response(),
        )
        .await;
        assert_eq!(outcome.response.status(), 401);
        assert_eq!(outcome.response.headers()[header::WWW_AUTHENTICATE], "Bearer error=\"invalid_token\"");
    }

    #[test]
    fn static_token_never_appears_in_debug_or_describe() {
        let mw: SharedMiddleware<TestServices, TestSession> = auth_bearer_static("s3cr3t-static-token", bob());
        assert_eq!(mw.name(), "auth_bearer");
        assert!(!mw.describe().contains("s3cr3t"));
        let strategy = BearerStrategy { mode: Mode::Static { digest: digest(b"s3cr3t"), session: bob() } };
        let debug = format!("{strategy:?}");
        assert!(!debug.contains("s3cr3t") && !debug.contains("bob"), "{debug}");
    }
}
