//! The per-request context a function receives: the session and the way to change it, and the request it
//! answers (headers, method, path, client address, request id, and the values middleware put on it).
//!
//! A change recorded with `set_session` / `clear_session` is applied to the response only when the
//! function returns `Ok`: an `Err` or a panic leaves the client's session as it was.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};

use http::header::{AsHeaderName, HeaderName};
use http::{Extensions, HeaderMap, HeaderValue, Method, Uri};

use crate::middleware::Request;
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
/// Both also carry the request the function answers: [`header`](Self::header) and
/// [`headers`](Self::headers), [`method`](Self::method), [`path`](Self::path) and [`uri`](Self::uri),
/// [`client_addr`](Self::client_addr), [`request_id`](Self::request_id), and the values middleware put on
/// the request ([`extension`](Self::extension)).
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
pub struct Context<S> {
    change: RecordedChange<S>,
    /// The request itself, its session included (always there in a `Context`): the endpoint builds the
    /// context from it before reading the body, so the request is held once and nothing of it is copied.
    request: Request<S>,
}

impl<S> Context<S> {
    /// The session the request arrived with.
    #[allow(clippy::missing_panics_doc)] // the `expect` states an invariant, it cannot fail
    pub fn session(&self) -> &S {
        // Both constructors (`from_request`, `for_test`) put a session there, and nothing takes it out.
        self.request.session.as_ref().expect("a Context always has a session")
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
        *lock(&self.change) = Some(Box::new(SessionChange::Cleared));
    }
}

/// Context of an `auth = false` function: the session may be absent.
pub struct OptionalContext<S> {
    change: RecordedChange<S>,
    /// See [`Context`]'s.
    request: Request<S>,
}

impl<S> OptionalContext<S> {
    /// The session the request arrived with, if any.
    pub fn session(&self) -> Option<&S> {
        self.request.session.as_ref()
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
        *lock(&self.change) = Some(Box::new(SessionChange::Cleared));
    }
}

/// The change a function recorded. Boxed: most requests record none, and an unboxed change (a whole session
/// and its id) would make every endpoint's future larger; a login or logout pays for one allocation.
type RecordedChange<S> = Mutex<Option<Box<SessionChange<S>>>>;

fn record_set<S>(change: &RecordedChange<S>, session: S) -> SessionId {
    let id = SessionId::generate();
    *lock(change) = Some(Box::new(SessionChange::Set { session, id }));
    id
}

/// A poisoned lock only means another holder panicked; the recorded change is still meaningful.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The request accessors and the unit-test builders, the same on both context types.
macro_rules! request_access {
    ($context:ident) => {
        impl<S> $context<S> {
            /// The request's id, as echoed in `x-request-id` and error bodies.
            pub fn request_id(&self) -> &RequestId {
                &self.request.request_id
            }

            /// The client's address, as [`Request::client_addr`](crate::Request::client_addr) gives it: the
            /// peer's, or behind a trusted proxy the client's; `None` in-process.
            pub fn client_addr(&self) -> Option<IpAddr> {
                self.request.client_addr
            }

            /// The request method.
            pub fn method(&self) -> &Method {
                &self.request.head.method
            }

            /// The request URI (path and query) as the client sent it, percent-encoded.
            pub fn uri(&self) -> &Uri {
                &self.request.head.uri
            }

            /// The request path, percent-encoded (`/notes/7`).
            pub fn path(&self) -> &str {
                self.request.head.uri.path()
            }

            /// The request headers.
            pub fn headers(&self) -> &HeaderMap {
                &self.request.head.headers
            }

            /// The first value of header `name` (case-insensitive), as text: `None` when the request has no
            /// such header, or when its value is not visible ASCII (read those bytes from
            /// [`headers`](Self::headers)). Repeated headers: see [`HeaderMap::get_all`].
            pub fn header(&self, name: impl AsHeaderName) -> Option<&str> {
                self.request.head.headers.get(name).and_then(|value| value.to_str().ok())
            }

            /// The value of type `T` a middleware put on the request with
            /// [`Request::extensions_mut`](crate::Request::extensions_mut) (a tenant, a start time, an
            /// account loaded once), or `None` if none did.
            pub fn extension<T: Send + Sync + 'static>(&self) -> Option<&T> {
                self.request.head.extensions.get::<T>()
            }

            /// Every value middleware put on the request.
            pub fn extensions(&self) -> &Extensions {
                &self.request.head.extensions
            }

            /// The same test context as if the request came from `addr`.
            #[must_use]
            pub fn with_client_addr(mut self, addr: IpAddr) -> Self {
                self.request.client_addr = Some(addr);
                self
            }

            /// The same test context with one more request header (a header already there keeps its
            /// values: this one is added after them).
            ///
            /// # Panics
            /// If `name` or `value` is not a valid header name or value (a mistake in the test).
            #[must_use]
            pub fn with_header<K, V>(mut self, name: K, value: V) -> Self
            where
                K: TryInto<HeaderName>,
                K::Error: std::fmt::Debug,
                V: TryInto<HeaderValue>,
                V::Error: std::fmt::Debug,
            {
                let name = name.try_into().expect("with_header: not a valid header name");
                let value = value.try_into().expect("with_header: not a valid header value");
                self.request.head.headers.append(name, value);
                self
            }

            /// The same test context with `value` on the request, as a middleware would put it there with
            /// [`Request::extensions_mut`](crate::Request::extensions_mut).
            #[must_use]
            pub fn with_extension<T: Clone + Send + Sync + 'static>(mut self, value: T) -> Self {
                self.request.head.extensions.insert(value);
                self
            }

            /// The same test context for a request of `method` to `uri` (by default `GET /`).
            ///
            /// # Panics
            /// If `uri` is not a valid request URI (a mistake in the test).
            #[must_use]
            pub fn with_request(mut self, method: Method, uri: &str) -> Self {
                self.request.head.method = method;
                self.request.head.uri = uri.parse().expect("with_request: not a valid URI");
                self
            }

            /// The change the function recorded (for unit tests).
            pub fn recorded_change(&self) -> Option<SessionChange<S>>
            where
                S: Clone,
            {
                lock(&self.change).as_deref().cloned()
            }
        }
    };
}

request_access!(Context);
request_access!(OptionalContext);

impl<S: std::fmt::Debug> std::fmt::Debug for Context<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        debug_context(f, "Context", self.session(), &self.change, &self.request)
    }
}

impl<S: std::fmt::Debug> std::fmt::Debug for OptionalContext<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        debug_context(f, "OptionalContext", &self.session(), &self.change, &self.request)
    }
}

/// The request's header names, not their values: a context printed into a log must not carry the
/// `Authorization` or `Cookie` it arrived with.
fn debug_context<S: std::fmt::Debug>(
    f: &mut std::fmt::Formatter<'_>,
    name: &str,
    session: &dyn std::fmt::Debug,
    change: &RecordedChange<S>,
    request: &Request<S>,
) -> std::fmt::Result {
    f.debug_struct(name)
        .field("session", session)
        .field("change", &*lock(change))
        .field("request_id", &request.request_id)
        .field("client_addr", &request.client_addr)
        .field("method", &request.head.method)
        .field("path", &request.head.uri.path())
        .field("header_names", &request.head.headers.keys().collect::<Vec<_>>())
        .finish_non_exhaustive()
}

/// The two context types a function can take; the pipeline's auth gate is derived from it.
pub trait SessionContext<S>: Send + Sync + Sized + 'static {
    /// Whether the function refuses to run without a session (401).
    const REQUIRES_SESSION: bool;
    /// The context of `request`, which it takes over, session included.
    ///
    /// # Errors
    /// The request's id when a session is required and the request has none.
    fn from_request(request: Request<S>) -> Result<Self, RequestId>;
    /// The request, for the endpoint.
    fn request(&self) -> &Request<S>;
    /// The request, for the endpoint's body read.
    fn request_mut(&mut self) -> &mut Request<S>;
    /// The change recorded by the function.
    fn take_change(&mut self) -> Option<SessionChange<S>>;
    /// The session, for permissions.
    fn session_ref(&self) -> Option<&S>;
}

impl<S: Send + Sync + 'static> SessionContext<S> for Context<S> {
    const REQUIRES_SESSION: bool = true;
    fn from_request(request: Request<S>) -> Result<Self, RequestId> {
        if request.session.is_none() {
            return Err(request.request_id);
        }
        Ok(Self { change: Mutex::new(None), request })
    }
    fn request(&self) -> &Request<S> {
        &self.request
    }
    fn request_mut(&mut self) -> &mut Request<S> {
        &mut self.request
    }
    fn take_change(&mut self) -> Option<SessionChange<S>> {
        take(&mut self.change)
    }
    fn session_ref(&self) -> Option<&S> {
        self.request.session.as_ref()
    }
}

impl<S: Send + Sync + 'static> SessionContext<S> for OptionalContext<S> {
    const REQUIRES_SESSION: bool = false;
    fn from_request(request: Request<S>) -> Result<Self, RequestId> {
        Ok(Self { change: Mutex::new(None), request })
    }
    fn request(&self) -> &Request<S> {
        &self.request
    }
    fn request_mut(&mut self) -> &mut Request<S> {
        &mut self.request
    }
    fn take_change(&mut self) -> Option<SessionChange<S>> {
        take(&mut self.change)
    }
    fn session_ref(&self) -> Option<&S> {
        self.request.session.as_ref()
    }
}

fn take<S>(change: &mut RecordedChange<S>) -> Option<SessionChange<S>> {
    change.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner).take().map(|change| *change)
}

/// What a unit test's context starts from: a `GET /` without headers, with a fresh request id.
fn test_request<S>() -> Request<S> {
    Request::for_test(Method::GET, "/", HeaderMap::new())
}

impl<S> Context<S> {
    /// A context for calling a function directly in a unit test: a `GET /` without headers or extensions
    /// and a fresh request id; the `with_*` builders set what the function reads.
    ///
    /// ```
    /// use pikku::Context;
    ///
    /// #[derive(Clone, Debug)]
    /// struct Tenant(&'static str);
    ///
    /// let ctx = Context::for_test("ada").with_header("if-match", "\"3\"").with_extension(Tenant("acme"));
    /// assert_eq!(ctx.header("If-Match"), Some("\"3\""));
    /// assert_eq!(ctx.extension::<Tenant>().map(|t| t.0), Some("acme"));
    /// ```
    pub fn for_test(session: S) -> Self {
        let mut request = test_request();
        request.session = Some(session);
        Self { change: Mutex::new(None), request }
    }
}

impl<S> OptionalContext<S> {
    /// A context for calling an `auth = false` function directly in a unit test: a `GET /` without
    /// headers or extensions and a fresh request id; the `with_*` builders set what the function reads.
    pub fn for_test(session: Option<S>) -> Self {
        let mut request = test_request();
        request.session = session;
        Self { change: Mutex::new(None), request }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_prints_header_names_never_their_values() {
        let ctx = Context::for_test("ada")
            .with_header("authorization", "Bearer secret-token")
            .with_header("cookie", "session=secret-cookie");
        let printed = format!("{ctx:?}");
        assert!(printed.contains("\"authorization\"") && printed.contains("\"cookie\""), "{printed}");
        assert!(!printed.contains("secret"), "{printed}");
        let printed = format!("{:?}", OptionalContext::<()>::for_test(None).with_header("cookie", "a=secret"));
        assert!(!printed.contains("secret"), "{printed}");
    }

    #[test]
    fn the_last_recorded_change_is_the_one_taken() {
        let mut ctx = Context::for_test("ada");
        assert!(ctx.recorded_change().is_none());
        let id = ctx.set_session("bob");
        ctx.clear_session();
        assert_eq!(ctx.recorded_change(), Some(SessionChange::Cleared));
        let id2 = ctx.set_session("eve");
        assert_ne!(id, id2);
        assert_eq!(ctx.take_change(), Some(SessionChange::Set { session: "eve", id: id2 }));
        assert_eq!(ctx.take_change(), None);
    }
}
