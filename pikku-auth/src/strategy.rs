//! The public strategy trait the built-in strategies implement, and the adapter that makes any strategy a
//! middleware.

use std::future::Future;

use pikku_runtime::{
    session_change, BoxFuture, HttpMiddleware, Middleware, Next, Participation, PikkuError, Request, Response,
};

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
/// established a session the later ones are not asked to authenticate (their `respond` still runs with
/// `state = None`, so the cookie strategy can write the cookie after a bearer-authenticated request changed
/// the session).
///
/// A custom HTTP Basic strategy against a user table:
///
/// ```
/// use std::collections::HashMap;
/// use base64::{engine::general_purpose::STANDARD, Engine};
/// use pikku_auth::{strategy, AuthStrategy, Authenticated};
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
///     async fn authenticate(
///         &self,
///         services: &Services,
///         request: &Request<Session>,
///     ) -> Result<Authenticated<Session, ()>, PikkuError> {
///         let Some(value) = request.headers().get(header::AUTHORIZATION) else { return Ok(Authenticated::none()) };
///         let Some(encoded) = value.to_str().ok().and_then(|v| v.strip_prefix("Basic ")) else {
///             return Ok(Authenticated::none()); // another scheme: not ours
///         };
///         let refused = || PikkuError::invalid_session("Invalid credentials");
///         let decoded = STANDARD.decode(encoded).map_err(|_| refused())?;
///         let (user, password) = std::str::from_utf8(&decoded).ok().and_then(|s| s.split_once(':')).ok_or_else(refused)?;
///         // A real application compares password hashes (argon2) here.
///         match services.users.get(user) {
///             Some(&expected) if expected == password => Ok(Authenticated::session(Session { user: user.into() })),
///             _ => Err(refused()),
///         }
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
    /// established a session.
    ///
    /// # Errors
    /// A [`PikkuError`] refuses the request with its status (401 for a bad credential, 403 for CSRF, 503
    /// when the session store fails); the function does not run.
    fn authenticate(
        &self,
        services: &Sv,
        request: &Request<S>,
    ) -> impl Future<Output = Result<Authenticated<S, Self::State>, PikkuError>> + Send;

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

    /// Runs on the way back with the state `authenticate` returned (`None` when it returned none or was
    /// not asked). [`session_change`] tells what the function recorded. By default, does nothing.
    ///
    /// # Errors
    /// A [`PikkuError`] replaces the response (for example 503 when a revocation could not be stored).
    fn respond(
        &self,
        services: &Sv,
        state: Option<Self::State>,
        response: &mut Response,
    ) -> impl Future<Output = Result<(), PikkuError>> + Send {
        let _ = (services, state, response);
        async { Ok(()) }
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
        Box::pin(async move {
            // `participation` sends only requests without a session here.
            let found = self.0.authenticate(services, &request).await?;
            if let Some(session) = found.session {
                request.set_session(session);
            }
            let state = found.state;
            let mut response = next.run(request).await;
            self.0.respond(services, state, &mut response).await?;
            Ok(response)
        })
    }

    fn name(&self) -> &str {
        self.0.name()
    }

    fn describe(&self) -> String {
        self.0.describe()
    }

    fn participation(&self, request: &Request<S>) -> Participation {
        // First strategy wins: once a session is established, later strategies do not look at their
        // credential (spec section 4; Pikku lets a later one overwrite).
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
