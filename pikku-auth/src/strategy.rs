//! The public strategy trait the built-in strategies implement, and the adapter that makes any strategy a
//! middleware.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};

use pikku_runtime::{
    session_change, BoxFuture, HttpMiddleware, Middleware, Next, NextFuture, Participation, PikkuError, Request,
    Response,
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
        match self {
            Step::Ready(value) => StepFuture::Ready(Some(value)),
            Step::Wait(future) => StepFuture::Wait(future),
        }
    }
}

/// The future of a [`Step`].
#[doc(hidden)]
pub enum StepFuture<'a, T> {
    Ready(Option<T>),
    Wait(BoxFuture<'a, T>),
}

impl<T> Future for StepFuture<'_, T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match self.get_mut() {
            StepFuture::Ready(value) => Poll::Ready(value.take().expect("a StepFuture is polled after completion")),
            StepFuture::Wait(future) => future.as_mut().poll(cx),
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
/// Turn one into a middleware with [`strategy`]. Strategies run in their declared order; once one has
/// established a session the later ones are not asked to authenticate. A strategy that must see every
/// response anyway says so with [`responds_without_credential`](Self::responds_without_credential) and
/// gets [`respond_without_credential`](Self::respond_without_credential): that is how the cookie strategy
/// writes the cookie after a login, or removes it after a bearer-authenticated logout.
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
/// # let endpoint = pikku_runtime::TestEndpoint::new(|request: Request<Session>| {
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
    /// established a session. Answer with [`Step::Ready`] when no I/O is needed (the usual case: the
    /// request is then passed on without its future being kept); a [`Step::Wait`] future cannot borrow
    /// the request, so take from it what the wait needs first.
    ///
    /// # Errors
    /// A [`PikkuError`] refuses the request with its status (401 for a bad credential, 403 for CSRF, 503
    /// when the session store fails); the function does not run.
    fn authenticate<'a>(
        &'a self,
        services: &'a Sv,
        request: &Request<S>,
    ) -> Step<'a, Result<Authenticated<S, Self::State>, PikkuError>>;

    /// Whether the request carries something this strategy reads (a cheap look at the headers; the
    /// strategy still decides in [`authenticate`](Self::authenticate)). By default `true`.
    fn presents_credential(&self, request: &Request<S>) -> bool {
        let _ = request;
        true
    }

    /// Whether the strategy looks at the response of requests it did not read a credential from (the
    /// cookie strategy writes the cookie after a login). When `false`, such requests skip the strategy
    /// entirely; when `true`, [`respond_without_credential`](Self::respond_without_credential) runs on
    /// their response. By default `false`.
    fn responds_without_credential(&self) -> bool {
        false
    }

    /// The response hook for requests this strategy read no credential from (an earlier strategy found
    /// the session, or none was presented), when
    /// [`responds_without_credential`](Self::responds_without_credential) says so. Synchronous, so it
    /// costs no future. By default, does nothing.
    ///
    /// # Errors
    /// A [`PikkuError`] replaces the response.
    fn respond_without_credential(&self, services: &Sv, response: &mut Response) -> Result<(), PikkuError> {
        let _ = (services, response);
        Ok(())
    }

    /// Runs on the way back with the state `authenticate` returned (`None` when it returned none).
    /// [`session_change`] tells what the function recorded. Changes to the response are made here, at
    /// once; a [`Step::Wait`] is for what needs I/O afterwards (recording a revocation). By default, does
    /// nothing.
    ///
    /// # Errors
    /// A [`PikkuError`] replaces the response (for example 503 when a revocation could not be stored).
    fn respond<'a>(
        &'a self,
        services: &'a Sv,
        state: Option<Self::State>,
        response: &mut Response,
    ) -> Step<'a, Result<(), PikkuError>> {
        let _ = (services, state, response);
        Step::Ready(Ok(()))
    }
}

/// Adapts an [`AuthStrategy`] into a middleware; build it with [`strategy`].
#[derive(Debug)]
pub struct Strategy<T>(pub T);

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
        // `participation` sends only requests without a session here. When the answer is ready, the
        // request goes on at once and the boxed future keeps only the way back (smaller, and under the
        // allocator's per-thread cache limit).
        match self.0.authenticate(services, &request) {
            Step::Ready(Err(refused)) => Box::pin(std::future::ready(Err(refused))),
            Step::Ready(Ok(found)) => {
                let state = establish(&mut request, found);
                Box::pin(self.way_back(services, state, next.run(request)))
            }
            Step::Wait(found) => Box::pin(async move {
                let state = establish(&mut request, found.await?);
                self.way_back(services, state, next.run(request)).await
            }),
        }
    }

    fn name(&self) -> &str {
        self.0.name()
    }

    fn describe(&self) -> String {
        self.0.describe()
    }

    fn participation(&self, request: &Request<S>) -> Participation {
        // First strategy wins: once a session is established, later strategies do not look at their
        // credential (docs/auth-strategies.md; Pikku lets a later one overwrite).
        if request.session().is_none() && self.0.presents_credential(request) {
            Participation::Handle
        } else if self.0.responds_without_credential() {
            Participation::After
        } else {
            Participation::Skip
        }
    }

    fn after(&self, services: &Sv, response: &mut Response) -> Result<(), PikkuError> {
        self.0.respond_without_credential(services, response)
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
        rest: NextFuture<'_, Sv, S>,
    ) -> Result<Response, PikkuError>
    where
        Sv: Send + Sync + 'static,
        S: Send + Sync + 'static,
        T: AuthStrategy<Sv, S>,
    {
        let mut response = rest.await;
        let after = self.0.respond(services, state, &mut response);
        after.await?;
        Ok(response)
    }
}

/// Whether the function succeeded and recorded a session change the strategies must apply.
pub(crate) fn successful_change<S: Clone + Send + Sync + 'static>(
    response: &Response,
) -> Option<&pikku_runtime::SessionChange<S>> {
    if response.status().is_success() {
        session_change::<S>(response)
    } else {
        None
    }
}
