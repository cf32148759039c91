//! The strategy contract lives in the runtime (the onion runs strategies); the built-in strategies and
//! custom ones use it from here as well.

pub use pikku_runtime::{strategy, AuthStrategy, Authenticated, Step, StepFuture};

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use pikku_runtime::{header, StatusCode};

    use crate::test_support::*;
    use crate::{auth_bearer, auth_cookie, CookieOptions};

    const HOUR: Duration = Duration::from_secs(3600);

    fn bearer_then_cookies(count: usize) -> Vec<pikku_runtime::SharedMiddleware<TestServices, TestSession>> {
        let mut chain = vec![auth_bearer()];
        chain.extend((1..=count).map(|i| auth_cookie(CookieOptions::new(format!("c{i}"), HOUR))));
        chain
    }

    #[tokio::test]
    async fn the_first_strategy_wins_however_many_follow() {
        let services = services(false);
        let bearer = format!("Bearer {}", services.jwt.sign(&alice()).unwrap());
        for count in [1, 4, 5, 9] {
            // Every cookie is valid and names another user: none of them may take the request over.
            let cookies = (1..=count)
                .map(|i| format!("c{i}={}", services.jwt.sign(&bob()).unwrap()))
                .collect::<Vec<_>>()
                .join("; ");
            let request = request("GET", "/me", &[("authorization", &bearer), ("cookie", &cookies)]);
            let outcome = run(&services, bearer_then_cookies(count), request, ok_response()).await;
            assert_eq!(outcome.seen_session, Some(alice()), "bearer + {count} cookies");
            assert_eq!(outcome.response.status(), 200);
        }
    }

    #[tokio::test]
    async fn every_strategy_sees_the_response_of_a_request_another_one_authenticated() {
        let services = services(false);
        let bearer = format!("Bearer {}", services.jwt.sign(&alice()).unwrap());
        // A bearer-authenticated login: every cookie strategy writes its cookie.
        let request = request("POST", "/login", &[("authorization", &bearer)]);
        let outcome = run(&services, bearer_then_cookies(6), request, login_response(bob())).await;
        let written: Vec<String> = outcome
            .response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().split('=').next().unwrap().to_owned())
            .collect();
        assert_eq!(written, ["c6", "c5", "c4", "c3", "c2", "c1"], "innermost first");
    }

    /// A middleware that only passes the request on.
    struct PassOn;

    impl pikku_runtime::HttpMiddleware<TestServices, TestSession> for PassOn {
        fn handle<'a>(
            &'a self,
            _services: &'a TestServices,
            request: pikku_runtime::Request<TestSession>,
            next: pikku_runtime::Next<'a, TestServices, TestSession>,
        ) -> pikku_runtime::BoxFuture<'a, Result<pikku_runtime::Response, pikku_runtime::PikkuError>> {
            Box::pin(async move { Ok(next.run(request).await) })
        }

        fn name(&self) -> &str {
            "pass_on"
        }
    }

    #[tokio::test]
    async fn a_strategy_behind_another_middleware_still_learns_the_session_change() {
        let services = services(false);
        let chain = vec![
            auth_cookie(CookieOptions::new("outer", HOUR)),
            pikku_runtime::SharedMiddleware::new(PassOn),
            auth_cookie(CookieOptions::new("inner", HOUR)),
        ];
        let outcome = run(&services, chain, request("POST", "/login", &[]), login_response(alice())).await;
        let written: Vec<&str> = outcome
            .response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().split('=').next().unwrap())
            .collect();
        assert_eq!(written, ["inner", "outer"]);
    }

    fn removed(response: &pikku_runtime::Response, name: &str) -> bool {
        response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .any(|v| v.to_str().unwrap().starts_with(&format!("{name}=; Max-Age=0")))
    }

    #[tokio::test]
    async fn a_strategy_that_waits_keeps_the_onion_order_on_the_way_back() {
        // The store answers after a wait, so the bearer strategy's answer is a future: the rest of the
        // stretch (the cookie) runs inside it, and both ways back still run, innermost first.
        let remote = RemoteStore(crate::InMemorySessionStore::new());
        let services = TestServices { remote_store: Some(remote), ..services(true) };
        let bearer = format!("Bearer {}", services.jwt.sign(&alice()).unwrap());
        let chain = || vec![auth_bearer(), auth_cookie(CookieOptions::new("session", HOUR))];
        let logout = request("POST", "/logout", &[("authorization", &bearer)]);
        let outcome = run(&services, chain(), logout, logout_response()).await;
        assert_eq!(outcome.seen_session, Some(alice()));
        assert!(removed(&outcome.response, "session"), "the cookie strategy saw the logout");
        let again = request("GET", "/me", &[("authorization", &bearer)]);
        let outcome = run(&services, chain(), again, ok_response()).await;
        assert_eq!(outcome.response.status(), 401, "the bearer strategy revoked its session");
    }

    #[tokio::test]
    async fn a_refusal_still_passes_the_strategies_before_it_on_the_way_back() {
        // Demo order: a bad cookie is treated as absent, then a bad API key refuses the request; the refusal
        // still removes the bad cookie.
        let services = services(false);
        let chain = vec![
            auth_bearer(),
            auth_cookie(CookieOptions::new("session", HOUR)),
            crate::auth_api_key(crate::ApiKeyOptions::new(crate::ApiKeySource::Header)),
        ];
        let pairs = [("cookie", "session=not-a-jwt"), ("x-api-key", "not-a-key")];
        let outcome = run(&services, chain, request("GET", "/me", &pairs), ok_response()).await;
        assert!(!outcome.endpoint_ran);
        assert_eq!(outcome.response.status(), 401);
        assert!(removed(&outcome.response, "session"));
        assert_eq!(outcome.response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }

    #[tokio::test]
    async fn a_strategy_wrapped_as_plain_middleware_behaves_the_same() {
        // Generic code may wrap a strategy's handle in another handle: it then runs on its own future.
        let services = services(false);
        let bearer = format!("Bearer {}", services.jwt.sign(&alice()).unwrap());
        let wrapped = |m| pikku_runtime::SharedMiddleware::new(m);
        let chain = vec![wrapped(auth_bearer()), wrapped(auth_cookie(CookieOptions::new("session", HOUR)))];
        let login = request("POST", "/login", &[("authorization", &bearer)]);
        let outcome = run(&services, chain, login, login_response(bob())).await;
        assert_eq!(outcome.seen_session, Some(alice()), "the first strategy won");
        assert!(outcome.response.headers().get(header::SET_COOKIE).is_some(), "the cookie strategy saw the login");
        let chain = vec![wrapped(auth_bearer())];
        let outcome = run(&services, chain, request("GET", "/me", &[]), || {
            let mut response = pikku_runtime::Response::new(Default::default());
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            response
        })
        .await;
        assert_eq!(outcome.response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }

    #[tokio::test]
    async fn a_change_on_a_response_turned_into_an_error_is_not_applied() {
        let services = services(false);
        let reply = login_response(alice()).with_status(StatusCode::INTERNAL_SERVER_ERROR);
        let outcome = run(&services, bearer_then_cookies(2), request("POST", "/login", &[]), reply).await;
        assert!(outcome.response.headers().get(header::SET_COOKIE).is_none());
    }

    #[tokio::test]
    async fn the_bearer_strategy_adds_its_challenge_to_a_401_that_has_none() {
        let services = services(false);
        let reply = || {
            let mut response = pikku_runtime::Response::new(Default::default());
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            response
        };
        let outcome = run(&services, bearer_then_cookies(1), request("GET", "/me", &[]), reply).await;
        assert_eq!(outcome.response.headers()[header::WWW_AUTHENTICATE], "Bearer");
        // Without a bearer strategy there is no scheme to name.
        let chain = vec![auth_cookie(CookieOptions::new("session", HOUR))];
        let outcome = run(&services, chain, request("GET", "/me", &[]), reply).await;
        assert!(outcome.response.headers().get(header::WWW_AUTHENTICATE).is_none());
    }
}
