//! A development strategy: the session is whatever JSON the client puts in a header.

use pikku_runtime::header::{self, HeaderName};
use pikku_runtime::{HeaderValue, PikkuError, Request, Response, SessionChange, SharedMiddleware, StatusCode};
use serde::de::DeserializeOwned;

use crate::strategy::{strategy, AuthStrategy, Authenticated, Step};

/// The header name the examples use with [`auth_dev_header`].
pub const DEV_SESSION_HEADER: &str = "x-dev-session";

/// **Development and tests only: any client chooses its own session.** The session is read from the JSON
/// in header `header`, for example `x-dev-session: {"userId":"u1","role":"admin"}`, so a test (or a
/// developer with curl) can act as any user without logging in. It exists only with the `testing`
/// feature, and warns in the log when it is wired.
///
/// * No such header: no session; the next strategy may try.
/// * The JSON of the session type: that session.
/// * Anything else: 401 `InvalidSessionError` naming the header and what did not parse.
/// * A 401 that names no scheme (the auth gate's) gets `WWW-Authenticate: Dev header="<header>"`.
///
/// ```
/// use pikku_auth::testing::{auth_dev_header, DEV_SESSION_HEADER};
///
/// #[derive(Clone, serde::Deserialize)]
/// struct Session { user_id: String }
/// struct Services;
///
/// let dev: pikku_runtime::SharedMiddleware<Services, Session> = auth_dev_header(DEV_SESSION_HEADER);
/// assert_eq!(dev.name(), "auth_dev_header");
/// ```
///
/// A request of a test then carries the session with `TestRequest::json_header`:
/// `client.get("/me").json_header(DEV_SESSION_HEADER, &session)`.
///
/// # Panics
/// When `header` is not a valid header name.
pub fn auth_dev_header<Sv, S>(header: &str) -> SharedMiddleware<Sv, S>
where
    Sv: Send + Sync + 'static,
    S: DeserializeOwned + Send + Sync + 'static,
{
    strategy(DevHeaderStrategy::new(header))
}

/// The strategy behind [`auth_dev_header`]; **development and tests only**.
#[derive(Debug)]
pub struct DevHeaderStrategy {
    header: HeaderName,
    challenge: HeaderValue,
}

impl DevHeaderStrategy {
    /// Reads the session from `header`; see [`auth_dev_header`].
    ///
    /// # Panics
    /// When `header` is not a valid header name.
    pub fn new(header: &str) -> Self {
        let header =
            HeaderName::from_bytes(header.as_bytes()).unwrap_or_else(|e| panic!("dev session header {header:?}: {e}"));
        tracing::warn!(
            header = %header,
            "auth_dev_header is wired: any client can choose its session with this header (development only)"
        );
        let challenge =
            HeaderValue::try_from(format!("Dev header=\"{header}\"")).expect("a header name is a valid header value");
        Self { header, challenge }
    }
}

impl<Sv, S> AuthStrategy<Sv, S> for DevHeaderStrategy
where
    Sv: Send + Sync + 'static,
    S: DeserializeOwned + Send + Sync + 'static,
{
    type State = ();

    fn name(&self) -> &str {
        "auth_dev_header"
    }

    fn describe(&self) -> String {
        format!("header={} (development only: trusts the client)", self.header)
    }

    fn authenticate<'a>(
        &'a self,
        _services: &'a Sv,
        request: &Request<S>,
    ) -> Step<'a, Result<Authenticated<S, ()>, PikkuError>> {
        let Some(value) = request.headers().get(&self.header) else {
            return Step::Ready(Ok(Authenticated::none()));
        };
        // Bytes, not `to_str`: a session may hold non-ASCII text, sent as UTF-8.
        Step::Ready(match serde_json::from_slice::<S>(value.as_bytes()) {
            Ok(session) => Ok(Authenticated::session(session)),
            Err(e) => Err(PikkuError::invalid_session(format!("{} is not a session: {e}", self.header))),
        })
    }

    fn respond<'a>(
        &'a self,
        _services: &'a Sv,
        _state: Option<()>,
        _change: Option<&SessionChange<S>>,
        response: &mut Response,
    ) -> Step<'a, Result<(), PikkuError>> {
        if response.status() == StatusCode::UNAUTHORIZED {
            response.headers_mut().entry(header::WWW_AUTHENTICATE).or_insert_with(|| self.challenge.clone());
        }
        Step::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;

    fn dev() -> SharedMiddleware<TestServices, TestSession> {
        auth_dev_header(DEV_SESSION_HEADER)
    }

    #[tokio::test]
    async fn the_json_of_the_header_is_the_session() {
        let services = services(false);
        let header = serde_json::to_string(&alice()).unwrap();
        let outcome =
            run(&services, vec![dev()], request("GET", "/me", &[(DEV_SESSION_HEADER, &header)]), ok_response()).await;
        assert_eq!(outcome.seen_session, Some(alice()));
    }

    #[tokio::test]
    async fn without_the_header_there_is_no_session_and_the_next_strategy_tries() {
        let services = services(false);
        let token = services.jwt.sign(&bob()).unwrap();
        let bearer = format!("Bearer {token}");
        let with_bearer = request("GET", "/me", &[("authorization", &bearer)]);
        let outcome = run(&services, vec![dev(), crate::auth_bearer()], with_bearer, ok_response()).await;
        assert_eq!(outcome.seen_session, Some(bob()));
        let outcome = run(&services, vec![dev()], request("GET", "/me", &[]), ok_response()).await;
        assert!(outcome.endpoint_ran);
        assert_eq!(outcome.seen_session, None);
    }

    #[tokio::test]
    async fn a_header_that_is_not_a_session_is_401_naming_the_header() {
        let services = services(false);
        for value in ["ada", r#"{"userId": "u1"}"#, "[]"] {
            let outcome =
                run(&services, vec![dev()], request("GET", "/me", &[(DEV_SESSION_HEADER, value)]), ok_response()).await;
            assert!(!outcome.endpoint_ran, "{value}");
            assert_eq!(outcome.response.status(), 401);
            let body = body_text(outcome.response).await;
            assert!(body.contains("InvalidSessionError") && body.contains(DEV_SESSION_HEADER), "{body}");
        }
    }

    #[test]
    fn it_says_it_is_for_development() {
        let dev = dev();
        assert_eq!(dev.name(), "auth_dev_header");
        assert_eq!(dev.describe(), "header=x-dev-session (development only: trusts the client)");
    }
}
