//! Middleware: an async function with a `next`, able to answer by itself or pass on.
//!
//! Authentication strategies are middleware too: they establish the session on the [`Request`] before
//! the function's auth gate runs, and apply session changes to the response on the way back.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method, Uri};

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
        }
    }
}

/// One middleware: the trait that `#[pikku_middleware]` functions and authentication strategies implement.
///
/// A middleware either answers (returns without calling `next`) or passes the request on with
/// `next.run(request).await` and may then change the response.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a pikku middleware",
    note = "write an `async fn(services: &Services, request: Request<Session>, next: Next<'_, Services, Session>) -> Result<Response, PikkuError>` and mark it `#[pikku_middleware]`"
)]
pub trait HttpMiddleware<Sv, S>: Send + Sync + 'static {
    /// Handles the request.
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

    /// How this middleware takes part in `request`. Anything but [`Participation::Handle`] spares the
    /// allocation of [`handle`](Self::handle)'s future: a bearer strategy has nothing to do for a request
    /// without an `Authorization` header ([`Participation::Skip`]); a cookie strategy only needs to look
    /// at the response of such a request ([`Participation::After`]). By default every request is handled.
    fn participation(&self, request: &Request<S>) -> Participation {
        let _ = request;
        Participation::Handle
    }

    /// The response hook of [`Participation::After`]: runs on the way back, in onion order.
    ///
    /// # Errors
    /// A [`PikkuError`] replaces the response.
    fn after(&self, services: &Sv, response: &mut Response) -> Result<(), PikkuError> {
        let _ = (services, response);
        Ok(())
    }
}

/// How a middleware takes part in one request (see [`HttpMiddleware::participation`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Participation {
    /// Not at all: the request goes straight on.
    Skip,
    /// Only [`HttpMiddleware::after`], synchronously, on the response.
    After,
    /// Through [`HttpMiddleware::handle`].
    Handle,
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

    fn participation(&self, request: &Request<S>) -> Participation {
        self.0.participation(request)
    }

    fn after(&self, services: &Sv, response: &mut Response) -> Result<(), PikkuError> {
        self.0.after(services, response)
    }
}

/// What runs after the function's middleware: the auth gate, the input, permissions and the function.
pub(crate) trait Endpoint<Sv, S>: Send + Sync + 'static {
    fn call<'a>(&'a self, services: &'a Sv, request: Request<S>) -> BoxFuture<'a, Response>;
}

/// A stand-in for the function, for unit tests of middleware: answers every request with the closure.
#[doc(hidden)]
#[allow(clippy::type_complexity)]
pub struct TestEndpoint<S>(Box<dyn Fn(Request<S>) -> Response + Send + Sync>);

impl<S> TestEndpoint<S> {
    /// An endpoint that answers with `respond`.
    pub fn new(respond: impl Fn(Request<S>) -> Response + Send + Sync + 'static) -> Self {
        Self(Box::new(respond))
    }
}

impl<Sv, S: Send + 'static> Endpoint<Sv, S> for TestEndpoint<S> {
    fn call<'a>(&'a self, _services: &'a Sv, request: Request<S>) -> BoxFuture<'a, Response> {
        let response = (self.0)(request);
        Box::pin(std::future::ready(response))
    }
}

/// The rest of the onion.
pub struct Next<'a, Sv, S> {
    pub(crate) services: &'a Sv,
    pub(crate) chain: &'a [Middleware<Sv, S>],
    pub(crate) endpoint: &'a dyn Endpoint<Sv, S>,
}

impl<'a, Sv, S: Send + 'static> Next<'a, Sv, S> {
    /// An onion for unit tests of middleware: `chain` in order, then `endpoint`.
    #[doc(hidden)]
    pub fn for_test(services: &'a Sv, chain: &'a [Middleware<Sv, S>], endpoint: &'a TestEndpoint<S>) -> Self {
        Self { services, chain, endpoint }
    }
}

impl<'a, Sv: Sync + 'static, S: Send + 'static> Next<'a, Sv, S> {
    /// Passes the request to the next middleware, or to the function when none is left.
    pub fn run(self, request: Request<S>) -> NextFuture<'a, Sv, S> {
        let request_id = request.request_id;
        let mut after = AfterHooks { hooks: [None; MAX_AFTER_HOOKS], len: 0 };
        let mut chain = self.chain;
        while let Some((first, rest)) = chain.split_first() {
            let participation = match first.0.participation(&request) {
                Participation::After if after.len == MAX_AFTER_HOOKS => Participation::Handle,
                participation => participation,
            };
            match participation {
                Participation::Skip => {}
                Participation::After => {
                    after.hooks[after.len] = Some(&*first.0);
                    after.len += 1;
                }
                Participation::Handle => {
                    let next = Next { services: self.services, chain: rest, endpoint: self.endpoint };
                    let inner = Inner::Middleware(first.0.handle(self.services, request, next));
                    return NextFuture { inner, after, services: self.services, request_id };
                }
            }
            chain = rest;
        }
        let inner = Inner::Endpoint(self.endpoint.call(self.services, request));
        NextFuture { inner, after, services: self.services, request_id }
    }
}

/// Response hooks one `Next` collects before the next middleware that handles the request; beyond
/// this many, a middleware is handled the general way.
const MAX_AFTER_HOOKS: usize = 4;

struct AfterHooks<'a, Sv, S> {
    hooks: [Option<&'a dyn HttpMiddleware<Sv, S>>; MAX_AFTER_HOOKS],
    len: usize,
}

enum Inner<'a> {
    Endpoint(BoxFuture<'a, Response>),
    Middleware(BoxFuture<'a, Result<Response, PikkuError>>),
}

/// The response of the rest of the onion. A middleware's own error is rendered as JSON here, and the
/// response hooks of the middleware passed on the way run here, innermost first: no allocation per layer.
pub struct NextFuture<'a, Sv, S> {
    inner: Inner<'a>,
    after: AfterHooks<'a, Sv, S>,
    services: &'a Sv,
    request_id: RequestId,
}

impl<Sv: 'static, S: 'static> Future for NextFuture<'_, Sv, S> {
    type Output = Response;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Response> {
        let this = self.get_mut();
        let mut response = match &mut this.inner {
            Inner::Endpoint(future) => std::task::ready!(future.as_mut().poll(cx)),
            Inner::Middleware(future) => match std::task::ready!(future.as_mut().poll(cx)) {
                Ok(response) => response,
                Err(e) => e.into_response(&this.request_id),
            },
        };
        for hook in this.after.hooks[..this.after.len].iter().rev().flatten() {
            if let Err(e) = hook.after(this.services, &mut response) {
                response = e.into_response(&this.request_id);
            }
        }
        std::task::Poll::Ready(response)
    }
}
