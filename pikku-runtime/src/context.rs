//! The per-request context a function receives: the session and the way to change it.
//!
//! A change recorded with `set_session` / `clear_session` is applied to the response only when the
//! function returns `Ok`: an `Err` or a panic leaves the client's session as it was.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};

use crate::request_id::RequestId;
use crate::session_id::SessionId;

/// A change of session recorded by a function, applied by the strategies after a successful response.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionChange<S> {
    /// Issue this session (log in, or update the session's contents) under a fresh session id.
    Set {
        /// The session to issue.
        session: S,
        /// Its id, chosen by `set_session`: every credential minted for it carries this id.
        id: SessionId,
    },
    /// Remove the session (log out; with a session store, also revoke it).
    Cleared,
}

/// Tells a middleware which session change the function recorded; see
/// [`Request::watch_session_change`](crate::Request::watch_session_change).
///
/// The change is reported only when the function returned `Ok`: an `Err` or a panic changes nothing.
/// A middleware applying it to the response should also check that the final response is a success, since
/// a middleware nearer the function may have replaced it with an error.
pub struct SessionChangeWatch<S>(Arc<OnceLock<SessionChange<S>>>);

impl<S> SessionChangeWatch<S> {
    pub(crate) fn new() -> Self {
        Self(Arc::new(OnceLock::new()))
    }

    /// The change the function recorded, once the rest of the onion has answered; `None` before that,
    /// and when the function recorded none or failed.
    pub fn get(&self) -> Option<&SessionChange<S>> {
        self.0.get()
    }

    pub(crate) fn report(&self, change: SessionChange<S>) {
        // One function runs per request, so the slot is empty here.
        let _ = self.0.set(change);
    }
}

impl<S> Clone for SessionChangeWatch<S> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<S: std::fmt::Debug> std::fmt::Debug for SessionChangeWatch<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SessionChangeWatch").field(&self.0.get()).finish()
    }
}

/// Context of a function that requires a session: the session is guaranteed to be there.
///
/// A function that takes `&Context<Session>` runs only with a session (without one the request gets 401
/// before the body is read); an `auth = false` function takes [`OptionalContext`] instead.
///
/// ```
/// use pikku::prelude::*;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
/// pub struct Session { user_id: String, role: String }
/// pub struct Services;
///
/// #[derive(Serialize)]
/// struct Profile { user_id: String }
///
/// /// Reads the session: no `Option`, no unwrap.
/// #[pikku_func]
/// async fn me(_: &Services, _: (), ctx: &Context<Session>) -> Result<Profile, PikkuError> {
///     Ok(Profile { user_id: ctx.session().user_id.clone() })
/// }
///
/// /// Promotes the caller: the new session is issued only if the function returns `Ok`.
/// #[pikku_func]
/// async fn promote(_: &Services, _: (), ctx: &Context<Session>) -> Result<(), PikkuError> {
///     let mut session = ctx.session().clone();
///     session.role = "admin".into();
///     ctx.set_session(session);
///     Ok(())
/// }
///
/// # fn main() {
/// // Functions stay plain functions: call them directly in unit tests.
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let ctx = Context::for_test(Session { user_id: "u1".into(), role: "user".into() });
/// promote(&Services, (), &ctx).await.unwrap();
/// let Some(pikku::SessionChange::Set { session, .. }) = ctx.recorded_change() else { panic!("no session set") };
/// assert_eq!(session, Session { user_id: "u1".into(), role: "admin".into() });
/// # });
/// # }
/// ```
#[derive(Debug)]
pub struct Context<S> {
    session: S,
    change: Mutex<Option<SessionChange<S>>>,
    request_id: RequestId,
    client_addr: Option<IpAddr>,
}

impl<S> Context<S> {
    /// The session the request arrived with.
    pub fn session(&self) -> &S {
        &self.session
    }

    /// Records a new session, applied to the response if the function succeeds, and returns the id it
    /// gets. A new id on every change defeats session fixation (OWASP Session Management Cheat Sheet,
    /// "Renew the Session ID After Any Privilege Level Change"). Mint any other credential of this login
    /// (a bearer token) for the same id, so that logging out with either revokes both.
    pub fn set_session(&self, session: S) -> SessionId {
        record_set(&self.change, session)
    }

    /// Records the end of the session, applied to the response if the function succeeds.
    pub fn clear_session(&self) {
        *lock(&self.change) = Some(SessionChange::Cleared);
    }

    /// The request's id, as echoed in `x-request-id` and error bodies.
    pub fn request_id(&self) -> &RequestId {
        &self.request_id
    }

    /// The client's address, as [`Request::client_addr`](crate::Request::client_addr) gives it: the
    /// peer's, or behind a trusted proxy the client's; `None` in-process.
    pub fn client_addr(&self) -> Option<IpAddr> {
        self.client_addr
    }
}

/// Context of an `auth = false` function: the session may be absent.
#[derive(Debug)]
pub struct OptionalContext<S> {
    session: Option<S>,
    change: Mutex<Option<SessionChange<S>>>,
    request_id: RequestId,
    client_addr: Option<IpAddr>,
}

impl<S> OptionalContext<S> {
    /// The session the request arrived with, if any.
    pub fn session(&self) -> Option<&S> {
        self.session.as_ref()
    }

    /// Records a new session (for example on login), applied if the function succeeds, and returns the id
    /// it gets. Mint any other credential of this login (the bearer token a login returns) for the same id,
    /// so that logging out with either revokes both (with pikku-auth: `jwt.encode_for_session(lifetime,
    /// &session, &id)`).
    pub fn set_session(&self, session: S) -> SessionId {
        record_set(&self.change, session)
    }

    /// Records the end of the session, applied if the function succeeds.
    pub fn clear_session(&self) {
        *lock(&self.change) = Some(SessionChange::Cleared);
    }

    /// The request's id, as echoed in `x-request-id` and error bodies.
    pub fn request_id(&self) -> &RequestId {
        &self.request_id
    }

    /// The client's address, as [`Request::client_addr`](crate::Request::client_addr) gives it: the
    /// peer's, or behind a trusted proxy the client's; `None` in-process.
    pub fn client_addr(&self) -> Option<IpAddr> {
        self.client_addr
    }
}

fn record_set<S>(change: &Mutex<Option<SessionChange<S>>>, session: S) -> SessionId {
    let id = SessionId::generate();
    *lock(change) = Some(SessionChange::Set { session, id });
    id
}

/// A poisoned lock only means another holder panicked; the recorded change is still meaningful.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The two context types a function can take; the pipeline's auth gate is derived from it.
pub trait SessionContext<S>: Send + Sync + Sized + 'static {
    /// Whether the function refuses to run without a session (401).
    const REQUIRES_SESSION: bool;
    /// Builds the context, or `None` when a required session is missing.
    fn from_session(session: Option<S>, request_id: RequestId, client_addr: Option<IpAddr>) -> Option<Self>;
    /// The change recorded by the function.
    fn into_change(self) -> Option<SessionChange<S>>;
    /// The session, for permissions.
    fn session_ref(&self) -> Option<&S>;
}

impl<S: Send + Sync + 'static> SessionContext<S> for Context<S> {
    const REQUIRES_SESSION: bool = true;
    fn from_session(session: Option<S>, request_id: RequestId, client_addr: Option<IpAddr>) -> Option<Self> {
        session.map(|session| Self { session, change: Mutex::new(None), request_id, client_addr })
    }
    fn into_change(self) -> Option<SessionChange<S>> {
        self.change.into_inner().unwrap_or_else(|p| p.into_inner())
    }
    fn session_ref(&self) -> Option<&S> {
        Some(&self.session)
    }
}

impl<S: Send + Sync + 'static> SessionContext<S> for OptionalContext<S> {
    const REQUIRES_SESSION: bool = false;
    fn from_session(session: Option<S>, request_id: RequestId, client_addr: Option<IpAddr>) -> Option<Self> {
        Some(Self { session, change: Mutex::new(None), request_id, client_addr })
    }
    fn into_change(self) -> Option<SessionChange<S>> {
        self.change.into_inner().unwrap_or_else(|p| p.into_inner())
    }
    fn session_ref(&self) -> Option<&S> {
        self.session.as_ref()
    }
}

impl<S> Context<S> {
    /// A context for calling a function directly in a unit test.
    pub fn for_test(session: S) -> Self {
        Self { session, change: Mutex::new(None), request_id: RequestId::generate(), client_addr: None }
    }

    /// The same test context as if the request came from `addr`.
    #[must_use]
    pub fn with_client_addr(mut self, addr: IpAddr) -> Self {
        self.client_addr = Some(addr);
        self
    }

    /// The change the function recorded (for unit tests).
    pub fn recorded_change(&self) -> Option<SessionChange<S>>
    where
        S: Clone,
    {
        lock(&self.change).clone()
    }
}

impl<S> OptionalContext<S> {
    /// A context for calling an `auth = false` function directly in a unit test.
    pub fn for_test(session: Option<S>) -> Self {
        Self { session, change: Mutex::new(None), request_id: RequestId::generate(), client_addr: None }
    }

    /// The same test context as if the request came from `addr`.
    #[must_use]
    pub fn with_client_addr(mut self, addr: IpAddr) -> Self {
        self.client_addr = Some(addr);
        self
    }

    /// The change the function recorded (for unit tests).
    pub fn recorded_change(&self) -> Option<SessionChange<S>>
    where
        S: Clone,
    {
        lock(&self.change).clone()
    }
}
