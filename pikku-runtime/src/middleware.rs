//! Middleware: an async function with a `next`, able to answer by itself or pass on.
//!
//! Authentication strategies are middleware too: they establish the session on the [`Request`] before
//! the function's auth gate runs, and apply session changes to the response on the way back.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method, Uri};

use crate::context::{SessionChange, SessionChangeWatch};
use crate::error::PikkuError;
use crate::input::PathParams;
use crate::request_id::RequestId;
use crate::response::Response;

/// A boxed, sendable future: the return type of middleware, permissions and functions.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The request body, not yet read: the pipeline reads it only after the auth gate passed.
#[derive(Debug)]
pub enum RequestBody {
    /// A body arriving from the network.
    Incoming(hyper::body::Incoming),
    /// A body already in memory (the in-process test client).
    Buffered(Bytes),
}

/// A request travelling through the middleware onion.
#[derive(Debug)]
pub struct Request<S> {
    pub(crate) head: http::request::Parts,
    pub(crate) body: RequestBody,
    pub(crate) session: Option<S>,
    pub(crate) request_id: RequestId,
    /// The router's path parameters, indexing `head.uri`'s path (the URI never changes once routed).
    pub(crate) path_params: PathParams,
    /// Where the function reports its session change, once a middleware asked to see it.
    pub(crate) change_watch: Option<SessionChangeWatch<S>>,
}

impl<S> Request<S> {
    /// The request method.
    pub fn method(&self) -> &Method {
        &self.head.method
    }

    /// The request URI.
    pub fn uri(&self) -> &Uri {
        &self.head.uri
    }

    /// The request headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.head.headers
    }

    /// The raw query string, if any.
    pub fn query(&self) -> Option<&str> {
        self.head.uri.query()
    }

    /// The request's id.
    pub fn request_id(&self) -> &RequestId {
        &self.request_id
    }

    /// The session established so far by earlier strategies.
    pub fn session(&self) -> Option<&S> {
        self.session.as_ref()
    }

    /// Establishes the session (what an authentication strategy does).
    pub fn set_session(&mut self, session: S) {
        self.session = Some(session);
    }

    /// A handle that tells, once the rest of the onion has answered, which session change the function
    /// recorded (`set_session` / `clear_session`), if it returned `Ok`. Call it before passing the request
    /// on; every middleware that asks shares one handle. This is how a cookie strategy learns that a login
    /// wants a cookie written.
    ///
    /// ```
    /// # use pikku_runtime::{Next, PikkuError, Request, Response, SessionChange};
    /// async fn audit(request: Request<String>, next: Next<'_, (), String>) -> Result<Response, PikkuError> {
    ///     let mut request = request;
    ///     let change = request.watch_session_change();
    ///     let response = next.run(request).await;
    ///     if let Some(SessionChange::Cleared) = change.get() {
    ///         tracing::info!("logged out");
    ///     }
    ///     Ok(response)
    /// }
    /// ```
    pub fn watch_session_change(&mut self) -> SessionChangeWatch<S> {
        self.change_watch.get_or_insert_with(SessionChangeWatch::new).clone()
    }

    /// A path parameter by name, still percent-encoded.
    pub fn path_param(&self, name: &str) -> Option<&str> {
        self.path_params.get(self.head.uri.path(), name)
    }

    /// A request for unit tests of middleware (no body, no path parameters, a generated request id).
    #[doc(hidden)]
    pub fn for_test(method: Method, uri: &str, headers: HeaderMap) -> Self {
        let (mut head, ()) =
            http::Request::builder().method(method).uri(uri).body(()).expect("test request URI is valid").into_parts();
        head.headers = headers;
        Self {
            head,
            body: RequestBody::Buffered(Bytes::new()),
            session: None,
            request_id: RequestId::generate(),
            path_params: PathParams::default(),
            change_watch: None,
        }
    }
}

/// One middleware: the trait that `#[pikku_middleware]` functions and authentication strategies implement.
///
/// A middleware either answers (returns without calling `next`) or passes the request on with
/// `next.run(request).await` and may then change the response. That is the whole contract: the runtime
/// knows nothing else about a middleware, authentication strategies included.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a pikku middleware",
    note = "write an `async fn(services: &Services, request: Request<Session>, next: Next<'_, Services, Session>) -> Result<Response, PikkuError>` and mark it `#[pikku_middleware]`"
)]
pub trait HttpMiddleware<Sv, S>: Send + Sync + 'static {
    /// Handles the request.
    ///
    /// # Errors
    /// A [`PikkuError`] answers the request with its status and the JSON error body.
    fn handle<'a>(
        &'a self,
        services: &'a Sv,
        request: Request<S>,
        next: Next<'a, Sv, S>,
    ) -> BoxFuture<'a, Result<Response, PikkuError>>;

    /// The name `info middleware` prints.
    fn name(&self) -> &str;

    /// A one-line description of the configuration for `info middleware --verbose`.
    fn describe(&self) -> String {
        String::new()
    }
}

/// A shareable middleware, as wirings and functions list them.
pub struct Middleware<Sv, S>(pub(crate) Arc<dyn HttpMiddleware<Sv, S>>);

impl<Sv: 'static, S: 'static> Middleware<Sv, S> {
    /// Wraps any middleware.
    pub fn new(middleware: impl HttpMiddleware<Sv, S>) -> Self {
        Self(Arc::new(middleware))
    }

    /// The middleware's name.
    pub fn name(&self) -> &str {
        self.0.name()
    }

    /// The middleware's description.
    pub fn describe(&self) -> String {
        self.0.describe()
    }
}

impl<Sv, S> Clone for Middleware<Sv, S> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<Sv: 'static, S: 'static> std::fmt::Debug for Middleware<Sv, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Middleware").field(&self.0.name()).finish()
    }
}

/// A `Middleware` is itself a middleware, so a function's `middleware = [...]` takes strategies too.
impl<Sv: 'static, S: 'static> HttpMiddleware<Sv, S> for Middleware<Sv, S> {
    fn handle<'a>(
        &'a self,
        services: &'a Sv,
        request: Request<S>,
        next: Next<'a, Sv, S>,
    ) -> BoxFuture<'a, Result<Response, PikkuError>> {
        self.0.handle(services, request, next)
    }

    fn name(&self) -> &str {
        self.0.name()
    }

    fn describe(&self) -> String {
        self.0.describe()
    }
}

/// What runs after the function's middleware: the auth gate, the input, permissions and the function.
pub(crate) trait Endpoint<Sv, S>: Send + Sync + 'static {
    fn call<'a>(&'a self, services: &'a Sv, request: Request<S>) -> BoxFuture<'a, Response>;
}

/// A stand-in for the function, for unit tests of middleware: answers every request with a closure and,
/// like a function that called `set_session` / `clear_session`, may report a session change.
#[allow(clippy::type_complexity)]
pub struct TestEndpoint<S> {
    respond: Box<dyn Fn(&Request<S>) -> Response + Send + Sync>,
    change: Option<SessionChange<S>>,
}

impl<S> TestEndpoint<S> {
    /// An endpoint that answers with `respond`, recording no session change.
    pub fn new(respond: impl Fn(&Request<S>) -> Response + Send + Sync + 'static) -> Self {
        Self { respond: Box::new(respond), change: None }
    }

    /// Reports `change` to the middleware watching for it, as a function does when it returns `Ok`.
    #[must_use]
    pub fn recording(mut self, change: SessionChange<S>) -> Self {
        self.change = Some(change);
        self
    }
}

impl<S> std::fmt::Debug for TestEndpoint<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestEndpoint").field("records_change", &self.change.is_some()).finish_non_exhaustive()
    }
}

impl<Sv, S: Clone + Send + Sync + 'static> Endpoint<Sv, S> for TestEndpoint<S> {
    fn call<'a>(&'a self, _services: &'a Sv, request: Request<S>) -> BoxFuture<'a, Response> {
        let response = (self.respond)(&request);
        if let (Some(change), Some(watch)) = (&self.change, &request.change_watch) {
            watch.report(change.clone());
        }
        Box::pin(std::future::ready(response))
    }
}

/// The rest of the onion.
pub struct Next<'a, Sv, S> {
    pub(crate) services: &'a Sv,
    pub(crate) chain: &'a [Middleware<Sv, S>],
    pub(crate) endpoint: &'a dyn Endpoint<Sv, S>,
}

impl<'a, Sv, S: Clone + Send + Sync + 'static> Next<'a, Sv, S> {
    /// An onion for unit tests of middleware: `chain` in order, then `endpoint`.
    pub fn for_test(services: &'a Sv, chain: &'a [Middleware<Sv, S>], endpoint: &'a TestEndpoint<S>) -> Self {
        Self { services, chain, endpoint }
    }
}

impl<'a, Sv: Sync + 'static, S: Send + 'static> Next<'a, Sv, S> {
    /// Passes the request to the next middleware, or to the function when none is left.
    pub fn run(self, request: Request<S>) -> NextFuture<'a> {
        let request_id = request.request_id;
        let inner = match self.chain.split_first() {
            Some((first, rest)) => {
                let next = Next { services: self.services, chain: rest, endpoint: self.endpoint };
                Inner::Middleware(first.0.handle(self.services, request, next))
            }
            None => Inner::Endpoint(self.endpoint.call(self.services, request)),
        };
        NextFuture { inner, request_id }
    }
}

impl<Sv, S> std::fmt::Debug for Next<'_, Sv, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Next").field("middleware_left", &self.chain.len()).finish_non_exhaustive()
    }
}

enum Inner<'a> {
    Endpoint(BoxFuture<'a, Response>),
    Middleware(BoxFuture<'a, Result<Response, PikkuError>>),
}

/// The response of the rest of the onion. A middleware's own error is rendered as its JSON response here.
pub struct NextFuture<'a> {
    inner: Inner<'a>,
    request_id: RequestId,
}

impl std::fmt::Debug for NextFuture<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NextFuture").field("request_id", &self.request_id).finish_non_exhaustive()
    }
}

impl Future for NextFuture<'_> {
    type Output = Response;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Response> {
        let this = self.get_mut();
        let response = match &mut this.inner {
            Inner::Endpoint(future) => std::task::ready!(future.as_mut().poll(cx)),
            Inner::Middleware(future) => match std::task::ready!(future.as_mut().poll(cx)) {
                Ok(response) => response,
                Err(e) => e.into_response(&this.request_id),
            },
        };
        std::task::Poll::Ready(response)
    }
}
