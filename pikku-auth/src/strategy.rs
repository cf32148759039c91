//! The public strategy trait the built-in strategies implement, and the adapter that makes any strategy a
//! middleware.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};

use pikku_runtime::{
    BoxFuture, HttpMiddleware, Middleware, Next, NextFuture, PikkuError, Request, Response, SessionChange,
    SessionChangeWatch,
};

/// An answer now, or a future of it: how strategies, session stores and key lookups answer. Most answers
/// need no I/O (a JWT is verified in memory, an in-process store is a map lookup), and answering them as
/// [`Step::Ready`] costs no future at all; only real I/O (a Redis store, a database lookup) pays for a
/// boxed one.
///
/// A `Step` can be awaited either way:
///
/// ```
/// # tokio_test_block(async {
/// use pikku_auth::Step;
///
/// let now: Step<'_, u32> = Step::Ready(1);
/// let later: Step<'_, u32> = Step::Wait(Box::pin(async { 2 }));
/// assert_eq!(now.await + later.await, 3);
/// # });
/// # fn tokio_test_block(f: impl std::future::Future<Output = ()>) {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
pub enum Step<'a, T> {
    /// The answer, without waiting.
    Ready(T),
    /// The answer after I/O.
    Wait(BoxFuture<'a, T>),
}

impl<'a, T: Send + 'a> Step<'a, T> {
    /// Transforms the answer, now or when it comes.
    pub fn map<U>(self, f: impl FnOnce(T) -> U + Send + 'a) -> Step<'a, U> {
        match self {
            Step::Ready(value) => Step::Ready(f(value)),
            Step::Wait(future) => Step::Wait(Box::pin(async move { f(future.await) })),
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Step<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Ready(value) => f.debug_tuple("Ready").field(value).finish(),
            Step::Wait(_) => f.write_str("Wait(..)"),
        }
    }
}

impl<'a, T: Send + 'a> IntoFuture for Step<'a, T> {
    type Output = T;
    type IntoFuture = StepFuture<'a, T>;

    fn into_future(self) -> StepFuture<'a, T> {
        StepFuture(match self {
            Step::Ready(value) => StepState::Ready(Some(value)),
            Step::Wait(future) => StepState::Wait(future),
        })
    }
}

/// The future of a [`Step`] (what `.await` on a `Step` polls).
pub struct StepFuture<'a, T>(StepState<'a, T>);

enum StepState<'a, T> {
    Ready(Option<T>),
    Wait(BoxFuture<'a, T>),
}

impl<T> std::fmt::Debug for StepFuture<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            StepState::Ready(_) => "StepFuture::Ready",
            StepState::Wait(_) => "StepFuture::Wait",
        })
    }
}

impl<T> Future for StepFuture<'_, T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match &mut self.get_mut().0 {
            StepState::Ready(value) => Poll::Ready(value.take().expect("a StepFuture is polled after completion")),
            StepState::Wait(future) => future.as_mut().poll(cx),
        }
    }
}

// `T` is only ever moved out, never pinned in place, so the future is `Unpin` whatever `T` is.
impl<T> Unpin for StepFuture<'_, T> {}

/// What [`AuthStrategy::authenticate`] found.
///
/// | credential | `session` | `state` |
/// |---|---|---|
/// | none of this kind | `None` | `None` ([`Authenticated::none`]) |
/// | valid | `Some` | optional ([`Authenticated::session`], [`Authenticated::session_with_state`]) |
/// | invalid, treated as absent (the cookie) | `None` | `Some` ([`Authenticated::absent`]) |
///
/// A credential that must be refused is an `Err(PikkuError)` instead.
#[derive(Debug)]
pub struct Authenticated<S, St> {
    /// The session to establish.
    pub session: Option<S>,
    /// What [`AuthStrategy::respond`] needs on the way back.
    pub state: Option<St>,
}

impl<S, St> Authenticated<S, St> {
    /// No credential of this strategy's kind: the request goes on, the next strategy may try.
    pub fn none() -> Self {
        Self { session: None, state: None }
    }

    /// A valid credential: establish `session`.
    pub fn session(session: S) -> Self {
        Self { session: Some(session), state: None }
    }

    /// A valid credential: establish `session` and keep `state` for the way back.
    pub fn session_with_state(session: S, state: St) -> Self {
        Self { session: Some(session), state: Some(state) }
    }

    /// An invalid credential treated as absent: no session, but `state` for the way back (for example to
    /// remove a bad cookie).
    pub fn absent(state: St) -> Self {
        Self { session: None, state: Some(state) }
    }
}

/// An authentication strategy: reads a credential on the way in, may write to the response on the way out.
///
/// Two steps, adapted into a middleware by [`strategy`]:
/// * [`authenticate`](Self::authenticate) on the way in: find this strategy's credential, establish a
///   session or refuse the request. Strategies run in their declared order, and once one has established
///   a session the later ones are not asked (the first one wins).
/// * [`respond`](Self::respond) on the way back, on every response that passed through the strategy: it
///   is told the session change the function recorded, and may touch the response (write or remove a
///   cookie, add a challenge header, revoke a session). That is how the cookie strategy writes the cookie
///   after a login, or removes it after a bearer-authenticated logout.
///
/// Answers are sync-first ([`Step`]): a strategy that needs no I/O answers at once and costs no future.
///
/// A custom HTTP Basic strategy against a user table:
///
/// ```
/// use std::collections::HashMap;
/// use base64::{engine::general_purpose::STANDARD, Engine};
/// use pikku_auth::{strategy, AuthStrategy, Authenticated, Step};
/// use pikku_runtime::{header, HeaderMap, Method, Middleware, PikkuError, Request};
///
/// #[derive(Clone, Debug, PartialEq)]
/// struct Session { user: String }
///
/// struct Services { users: HashMap<&'static str, &'static str> }
///
/// struct Basic;
///
/// impl AuthStrategy<Services, Session> for Basic {
///     type State = ();
///
///     fn name(&self) -> &str { "auth_basic" }
///
///     fn authenticate<'a>(
///         &'a self,
///         services: &'a Services,
///         request: &Request<Session>,
///     ) -> Step<'a, Result<Authenticated<Session, ()>, PikkuError>> {
///         // The user table is in memory, so the answer is ready. A database lookup would take the user
///         // and password out of the request and return `Step::Wait(Box::pin(async move { ... }))`.
///         Step::Ready(check(services, request))
///     }
/// }
///
/// fn check(services: &Services, request: &Request<Session>) -> Result<Authenticated<Session, ()>, PikkuError> {
///     let Some(value) = request.headers().get(header::AUTHORIZATION) else { return Ok(Authenticated::none()) };
///     let Some(encoded) = value.to_str().ok().and_then(|v| v.strip_prefix("Basic ")) else {
///         return Ok(Authenticated::none()); // another scheme: not ours
///     };
///     let refused = || PikkuError::invalid_session("Invalid credentials");
///     let decoded = STANDARD.decode(encoded).map_err(|_| refused())?;
///     let (user, password) = std::str::from_utf8(&decoded).ok().and_then(|s| s.split_once(':')).ok_or_else(refused)?;
///     // A real application compares password hashes (argon2) here.
///     match services.users.get(user) {
///         Some(&expected) if expected == password => Ok(Authenticated::session(Session { user: user.into() })),
///         _ => Err(refused()),
///     }
/// }
///
/// let basic: Middleware<Services, Session> = strategy(Basic); // wire it like any middleware
/// # let services = Services { users: HashMap::from([("ada", "lovelace")]) };
/// # let mut headers = HeaderMap::new();
/// # headers.insert(header::AUTHORIZATION, format!("Basic {}", STANDARD.encode("ada:lovelace")).parse().unwrap());
/// # let request = Request::for_test(Method::GET, "/me", headers);
/// # let endpoint = pikku_runtime::TestEndpoint::new(|request: &Request<Session>| {
/// #     assert_eq!(request.session(), Some(&Session { user: "ada".into() }));
/// #     pikku_runtime::Response::new(Default::default())
/// # });
/// # let response = tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(
/// #     pikku_runtime::Next::for_test(&services, &[basic], &endpoint).run(request));
/// # assert_eq!(response.status(), 200);
/// ```
pub trait AuthStrategy<Sv, S>: Send + Sync + 'static {
    /// What the strategy keeps between `authenticate` and `respond`.
    type State: Send + 'static;

    /// The name `info middleware` prints.
    fn name(&self) -> &str;

    /// A one-line description of the configuration (never a secret) for `info middleware --verbose`.
    fn describe(&self) -> String {
        String::new()
    }

    /// Reads this strategy's credential from the request. Called only while no earlier strategy has
    /// established a session. Answer with [`Step::Ready`] when no I/O is needed (the usual case); a
    /// [`Step::Wait`] future cannot borrow the request, so take from it what the wait needs first.
    ///
    /// # Errors
    /// A [`PikkuError`] refuses the request with its status (401 for a bad credential, 403 for CSRF, 503
    /// when the session store fails); the function does not run.
    fn authenticate<'a>(
        &'a self,
        services: &'a Sv,
        request: &Request<S>,
    ) -> Step<'a, Result<Authenticated<S, Self::State>, PikkuError>>;

    /// Runs on the way back of every request that passed through the strategy, with the state
    /// `authenticate` returned (`None` when it returned none or was not asked) and the session change the
    /// function recorded (`None` unless the function and the whole response succeeded). Changes to the
    /// response are made here, at once; a [`Step::Wait`] is for what needs I/O afterwards (recording a
    /// revocation). By default, does nothing.
    ///
    /// # Errors
    /// A [`PikkuError`] replaces the response (for example 503 when a revocation could not be stored).
    fn respond<'a>(
        &'a self,
        services: &'a Sv,
        state: Option<Self::State>,
        change: Option<&SessionChange<S>>,
        response: &mut Response,
    ) -> Step<'a, Result<(), PikkuError>> {
        let _ = (services, state, change, response);
        Step::Ready(Ok(()))
    }
}

/// Adapts an [`AuthStrategy`] into a middleware; build it with [`strategy`].
#[derive(Debug)]
struct Strategy<T>(T);

/// Turns any [`AuthStrategy`] into the [`Middleware`] wirings take.
pub fn strategy<Sv, S, T>(strategy: T) -> Middleware<Sv, S>
where
    Sv: Send + Sync + 'static,
    S: Send + Sync + 'static,
    T: AuthStrategy<Sv, S>,
{
    Middleware::new(Strategy(strategy))
}

impl<Sv, S, T> HttpMiddleware<Sv, S> for Strategy<T>
where
    Sv: Send + Sync + 'static,
    S: Send + Sync + 'static,
    T: AuthStrategy<Sv, S>,
{
    fn handle<'a>(
        &'a self,
        services: &'a Sv,
        mut request: Request<S>,
        next: Next<'a, Sv, S>,
    ) -> BoxFuture<'a, Result<Response, PikkuError>> {
        let change = request.watch_session_change();
        // First strategy wins (a later one does not even look at its credential; Pikku lets it overwrite):
        // checked here, on the request itself, whatever ran before.
        let found = if request.session().is_some() {
            Step::Ready(Ok(Authenticated::none()))
        } else {
            self.0.authenticate(services, &request)
        };
        // When the answer is ready, the request goes on at once and the boxed future keeps only the way back.
        match found {
            Step::Ready(Err(refused)) => Box::pin(std::future::ready(Err(refused))),
            Step::Ready(Ok(found)) => {
                let state = establish(&mut request, found);
                Box::pin(self.way_back(services, state, change, next.run(request)))
            }
            Step::Wait(found) => Box::pin(async move {
                let state = establish(&mut request, found.await?);
                self.way_back(services, state, change, next.run(request)).await
            }),
        }
    }

    fn name(&self) -> &str {
        self.0.name()
    }

    fn describe(&self) -> String {
        self.0.describe()
    }
}

fn establish<S, St>(request: &mut Request<S>, found: Authenticated<S, St>) -> Option<St> {
    if let Some(session) = found.session {
        request.set_session(session);
    }
    found.state
}

impl<T> Strategy<T> {
    async fn way_back<Sv, S>(
        &self,
        services: &Sv,
        state: Option<T::State>,
        change: SessionChangeWatch<S>,
        rest: NextFuture<'_>,
    ) -> Result<Response, PikkuError>
    where
        Sv: Send + Sync + 'static,
        S: Send + Sync + 'static,
        T: AuthStrategy<Sv, S>,
    {
        let mut response = rest.await;
        // A change is applied only to a successful response: a middleware nearer the function may have
        // turned the function's success into an error.
        let change = if response.status().is_success() { change.get() } else { None };
        self.0.respond(services, state, change, &mut response).await?;
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use pikku_runtime::{header, StatusCode};

    use crate::test_support::*;
    use crate::{auth_bearer, auth_cookie, CookieOptions};

    const HOUR: Duration = Duration::from_secs(3600);

    fn bearer_then_cookies(count: usize) -> Vec<pikku_runtime::Middleware<TestServices, TestSession>> {
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
