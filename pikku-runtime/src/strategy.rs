//! Authentication strategies: the public two-step contract (`authenticate` on the way in, `respond` on
//! the way back) and how the onion runs them.
//!
//! A strategy is wired like any middleware, but the onion runs a stretch of consecutive strategies itself,
//! without a future per strategy: each is asked to authenticate only while the request has no session (the
//! first one wins), its way back is kept in a growable list, and the list runs on the response, innermost
//! first. Only a strategy that must wait for I/O, or that kept state, costs an allocation.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::context::SessionChange;
use crate::error::PikkuError;
use crate::middleware::{BoxFuture, Request, SharedMiddleware};
use crate::openapi::SecuritySchemeDoc;
use crate::response::Response;

/// An answer now, or a future of it: how strategies, session stores and key lookups answer. Most answers
/// need no I/O (a JWT is verified in memory, an in-process store is a map lookup), and answering them as
/// [`Step::Ready`] costs no future at all; only real I/O (a Redis store, a database lookup) pays for a
/// boxed one.
///
/// A `Step` can be awaited either way:
///
/// ```
/// # tokio_test_block(async {
/// use pikku_runtime::Step;
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
///   a session the later ones are not asked (the first one wins). They are shown the request through
///   [`alongside`](Self::alongside) instead, so a logout can revoke their credentials too.
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
/// use pikku_runtime::{header, strategy, AuthStrategy, Authenticated, HeaderMap, Method, SharedMiddleware, PikkuError, Request, Step};
/// use pikku_runtime::openapi::SecuritySchemeDoc;
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
///     // How the OpenAPI document shows the credential (any Security Scheme Object).
///     fn openapi_schemes(&self) -> Vec<(String, SecuritySchemeDoc)> {
///         vec![("basicAuth".into(), SecuritySchemeDoc::Raw(serde_json::json!({"type": "http", "scheme": "basic"})))]
///     }
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
/// let basic: SharedMiddleware<Services, Session> = strategy(Basic); // wire it like any middleware
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

    /// How the OpenAPI document describes the credentials this strategy reads: one security scheme per way
    /// of presenting one, each with the name the document gives it (`("bearerAuth", HttpBearer { .. })`; an
    /// API key read from a header and from the query is two). Every route the strategy runs on and that
    /// requires a session lists them as alternatives. By default none: the document then shows no way to
    /// authenticate through this strategy.
    fn openapi_schemes(&self) -> Vec<(String, SecuritySchemeDoc)> {
        Vec::new()
    }

    /// The statuses this strategy may refuse a request with on a route of `method`, which the OpenAPI
    /// document declares for every route it runs on. By default 401: a credential of its kind that is not
    /// valid (a 503 from a session store that cannot be reached is the document's `default` response).
    fn openapi_statuses(&self, method: &http::Method) -> Vec<u16> {
        let _ = method;
        vec![401]
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

    /// Called instead of [`authenticate`](Self::authenticate) when an earlier strategy has already
    /// established the session. It establishes nothing, but may keep what [`respond`](Self::respond) needs
    /// to act on a credential of its own kind that the request carries as well: a logout revokes every
    /// credential the request presented, not only the one that won. By default keeps nothing.
    ///
    /// Runs on every request where an earlier strategy won, so it should cost little when the credential is
    /// absent (a header lookup).
    fn alongside(&self, services: &Sv, request: &Request<S>) -> Option<Self::State> {
        let _ = (services, request);
        None
    }

    /// Runs on the way back of every request that passed through the strategy, with the state
    /// `authenticate` or `alongside` returned (`None` when it returned none) and the session change the
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

/// Turns any [`AuthStrategy`] into the [`SharedMiddleware`] wirings take.
pub fn strategy<Sv, S, T>(strategy: T) -> SharedMiddleware<Sv, S>
where
    Sv: Send + Sync + 'static,
    S: Send + Sync + 'static,
    T: AuthStrategy<Sv, S>,
{
    SharedMiddleware::from_strategy(std::sync::Arc::new(strategy))
}

/// What the onion keeps of one strategy for the way back.
pub(crate) enum WayBack<'a, Sv, S> {
    /// The strategy found nothing to keep: `respond` gets no state.
    Stateless(&'a dyn DynStrategy<Sv, S>),
    /// The strategy kept state for its `respond`.
    Stateful(Box<dyn PendingRespond<Sv, S> + 'a>),
}

impl<'a, Sv: 'static, S: 'static> WayBack<'a, Sv, S> {
    pub(crate) fn respond(
        self,
        services: &'a Sv,
        change: Option<&SessionChange<S>>,
        response: &mut Response,
    ) -> Step<'a, Result<(), PikkuError>> {
        match self {
            WayBack::Stateless(strategy) => strategy.respond_stateless(services, change, response),
            WayBack::Stateful(pending) => pending.respond(services, change, response),
        }
    }
}

/// What one strategy's `authenticate` came to: the session to establish and the way back.
pub(crate) struct Found<'a, Sv, S> {
    pub(crate) session: Option<S>,
    pub(crate) way_back: WayBack<'a, Sv, S>,
}

/// The object-safe form of [`AuthStrategy`] the onion holds.
pub(crate) trait DynStrategy<Sv, S>: Send + Sync + 'static {
    fn name(&self) -> &str;
    fn describe(&self) -> String;
    fn openapi_schemes(&self) -> Vec<(String, SecuritySchemeDoc)>;
    fn openapi_statuses(&self, method: &http::Method) -> Vec<u16>;
    fn authenticate_dyn<'a>(
        &'a self,
        services: &'a Sv,
        request: &Request<S>,
    ) -> Step<'a, Result<Found<'a, Sv, S>, PikkuError>>;
    /// The way back of a strategy that was not asked to authenticate, because the session was established.
    fn alongside_dyn<'a>(&'a self, services: &Sv, request: &Request<S>) -> WayBack<'a, Sv, S>;
    fn respond_stateless<'a>(
        &'a self,
        services: &'a Sv,
        change: Option<&SessionChange<S>>,
        response: &mut Response,
    ) -> Step<'a, Result<(), PikkuError>>;
}

/// A strategy's `respond` with the state its `authenticate` kept.
pub(crate) trait PendingRespond<Sv, S>: Send {
    fn respond<'a>(
        self: Box<Self>,
        services: &'a Sv,
        change: Option<&SessionChange<S>>,
        response: &mut Response,
    ) -> Step<'a, Result<(), PikkuError>>
    where
        Self: 'a;
}

struct Pending<'a, T, St> {
    strategy: &'a T,
    state: St,
}

impl<'s, Sv, S, T: AuthStrategy<Sv, S>> PendingRespond<Sv, S> for Pending<'s, T, T::State> {
    fn respond<'a>(
        self: Box<Self>,
        services: &'a Sv,
        change: Option<&SessionChange<S>>,
        response: &mut Response,
    ) -> Step<'a, Result<(), PikkuError>>
    where
        Self: 'a,
    {
        let Pending { strategy, state } = *self;
        strategy.respond(services, Some(state), change, response)
    }
}

/// The way back of `strategy` with the state it kept: a stateless one costs no allocation.
fn way_back<Sv, S, T>(strategy: &T, state: Option<T::State>) -> WayBack<'_, Sv, S>
where
    Sv: Send + Sync + 'static,
    S: Send + Sync + 'static,
    T: AuthStrategy<Sv, S>,
{
    match state {
        None => WayBack::Stateless(strategy as &dyn DynStrategy<Sv, S>),
        Some(state) => WayBack::Stateful(Box::new(Pending { strategy, state })),
    }
}

impl<Sv, S, T> DynStrategy<Sv, S> for T
where
    Sv: Send + Sync + 'static,
    S: Send + Sync + 'static,
    T: AuthStrategy<Sv, S>,
{
    fn name(&self) -> &str {
        AuthStrategy::name(self)
    }

    fn describe(&self) -> String {
        AuthStrategy::describe(self)
    }

    fn openapi_schemes(&self) -> Vec<(String, SecuritySchemeDoc)> {
        AuthStrategy::openapi_schemes(self)
    }

    fn openapi_statuses(&self, method: &http::Method) -> Vec<u16> {
        AuthStrategy::openapi_statuses(self, method)
    }

    fn authenticate_dyn<'a>(
        &'a self,
        services: &'a Sv,
        request: &Request<S>,
    ) -> Step<'a, Result<Found<'a, Sv, S>, PikkuError>> {
        self.authenticate(services, request).map(move |found| {
            let Authenticated { session, state } = found?;
            Ok(Found { session, way_back: way_back(self, state) })
        })
    }

    fn alongside_dyn<'a>(&'a self, services: &Sv, request: &Request<S>) -> WayBack<'a, Sv, S> {
        way_back(self, self.alongside(services, request))
    }

    fn respond_stateless<'a>(
        &'a self,
        services: &'a Sv,
        change: Option<&SessionChange<S>>,
        response: &mut Response,
    ) -> Step<'a, Result<(), PikkuError>> {
        self.respond(services, None, change, response)
    }
}
