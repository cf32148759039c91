//! Middleware: an async function with a `next`, able to answer by itself or pass on.
//!
//! Authentication strategies are wired as middleware too: they establish the session on the [`Request`]
//! before the function's auth gate runs, and apply session changes to the response on the way back. The
//! onion runs them itself (see [`AuthStrategy`](crate::AuthStrategy)).

use std::any::Any;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use bytes::{Buf as _, Bytes};
use http::{Extensions, HeaderMap, Method, Uri};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt as _;
use sync_wrapper::SyncWrapper;

use crate::context::{SessionChange, SessionChangeWatch};
use crate::error::PikkuError;
use crate::input::PathParams;
use crate::request_id::RequestId;
use crate::response::{BoxError, Response};
use crate::strategy::{DynStrategy, Found, Step, WayBack};

/// A boxed, sendable future: the return type of middleware, permissions and functions.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The request body, not yet read: the pipeline reads it only after the auth gate passed.
///
/// Also the body tower layers see (it is an [`http_body::Body`]); [`RequestBody::from_body`] takes any other.
#[derive(Debug)]
pub enum RequestBody {
    /// A body arriving from the network.
    Incoming(hyper::body::Incoming),
    /// A body already in memory (the in-process test client).
    Buffered(Bytes),
    /// A body of any other type (one an application nesting pikku-rs hands to its `Service`, such as
    /// axum's), read with the same limit, deadline and budget as one from the network.
    Boxed(BoxedBody),
}

impl RequestBody {
    /// Any body as a request body: hyper's `Incoming` and a `RequestBody` stay what they are (a check of the
    /// type, resolved at compile time: no allocation), any other type is boxed.
    #[allow(clippy::missing_panics_doc)] // the `expect`s state invariants, they cannot fail
    pub fn from_body<B>(body: B) -> Self
    where
        B: http_body::Body + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let mut body = Some(body);
        let any: &mut dyn Any = &mut body;
        if let Some(incoming) = any.downcast_mut::<Option<hyper::body::Incoming>>() {
            return Self::Incoming(incoming.take().expect("filled above"));
        }
        if let Some(own) = any.downcast_mut::<Option<RequestBody>>() {
            return own.take().expect("filled above");
        }
        Self::Boxed(BoxedBody::new(body.expect("filled above")))
    }
}

/// A request body of a type other than hyper's, boxed (see [`RequestBody::Boxed`]).
pub struct BoxedBody {
    /// `Sync` by construction: the body is only ever reached through `&mut`, so a `Request` holding it
    /// stays `Sync` (middleware may hold `&Request` across an await), whatever the body's type.
    body: SyncWrapper<UnsyncBoxBody<Bytes, BoxError>>,
    /// Whether the body was known to be empty when it was boxed (`is_end_stream` needs `&mut` past the
    /// wrapper).
    ended: bool,
}

impl BoxedBody {
    fn new<B>(body: B) -> Self
    where
        B: http_body::Body + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let ended = body.is_end_stream();
        // `Bytes` hands its data over without a copy; any other `Buf` is copied once into one.
        let body = body.map_frame(|frame| frame.map_data(|mut data| data.copy_to_bytes(data.remaining())));
        Self { body: SyncWrapper::new(UnsyncBoxBody::new(body.map_err(Into::into))), ended }
    }

    pub(crate) fn into_inner(self) -> UnsyncBoxBody<Bytes, BoxError> {
        self.body.into_inner()
    }
}

impl std::fmt::Debug for BoxedBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoxedBody").field("ended", &self.ended).finish_non_exhaustive()
    }
}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            Self::Incoming(body) => Pin::new(body).poll_frame(cx).map_err(Into::into),
            Self::Buffered(bytes) if bytes.is_empty() => Poll::Ready(None),
            Self::Buffered(bytes) => Poll::Ready(Some(Ok(http_body::Frame::data(std::mem::take(bytes))))),
            Self::Boxed(boxed) => {
                let polled = Pin::new(boxed.body.get_mut()).poll_frame(cx);
                if matches!(polled, Poll::Ready(None)) {
                    boxed.ended = true;
                }
                polled
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Incoming(body) => body.is_end_stream(),
            Self::Buffered(bytes) => bytes.is_empty(),
            Self::Boxed(boxed) => boxed.ended,
        }
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match self {
            Self::Incoming(body) => body.size_hint(),
            Self::Buffered(bytes) => http_body::SizeHint::with_exact(bytes.len() as u64),
            Self::Boxed(boxed) if boxed.ended => http_body::SizeHint::with_exact(0),
            Self::Boxed(_) => http_body::SizeHint::default(),
        }
    }
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
    /// See [`Request::client_addr`].
    pub(crate) client_addr: Option<IpAddr>,
    /// When the body must have arrived; set by the server for a request that has a body to wait for.
    pub(crate) body_deadline: Option<tokio::time::Instant>,
    /// See [`Request::origin_listed_for_credentials`].
    pub(crate) origin_listed_for_credentials: bool,
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

    /// Values middleware put on the request, by type.
    pub fn extensions(&self) -> &Extensions {
        &self.head.extensions
    }

    /// Where a middleware puts a value for the function, which reads it with `ctx.extension::<T>()`: one
    /// value per type, so wrap plain types in a type of the application's own (`struct Tenant(String)`).
    ///
    /// ```
    /// use pikku::prelude::*;
    ///
    /// # pub struct Services;
    /// # #[derive(Clone)] pub struct Session;
    /// #[derive(Clone, Debug)]
    /// pub struct Started(std::time::Instant);
    ///
    /// #[pikku_middleware]
    /// async fn timing(_: &Services, mut request: Request<Session>, next: Next<'_, Services, Session>) -> Result<Response, PikkuError> {
    ///     request.extensions_mut().insert(Started(std::time::Instant::now()));
    ///     Ok(next.run(request).await)
    /// }
    ///
    /// #[pikku_func]
    /// async fn slow(_: &Services, _: (), ctx: &Context<Session>) -> Result<u128, PikkuError> {
    ///     let started = ctx.extension::<Started>().ok_or_else(|| PikkuError::internal("timing is not wired"))?;
    ///     Ok(started.0.elapsed().as_micros())
    /// }
    /// # fn main() {}
    /// ```
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.head.extensions
    }

    /// The request's id.
    pub fn request_id(&self) -> &RequestId {
        &self.request_id
    }

    /// The client's address: the connection's peer, or, when the peer is one of the configured trusted
    /// proxies, the client they report in `X-Forwarded-For` (see `ServerConfig::trusted_proxies`).
    /// `None` for a request dispatched in-process (`Server::dispatch`), which has no peer.
    pub fn client_addr(&self) -> Option<IpAddr> {
        self.client_addr
    }

    /// Whether the request's `Origin` is one that the application's CORS configuration lists by name with
    /// credentials allowed (`CorsOptions::origins` with `credentials(true)`): a page the application trusts
    /// to act for its signed-in users, which the CSRF check of cookie sessions therefore accepts. `false`
    /// without CORS, without an `Origin`, with more than one `Origin`, for an origin that is not listed, and
    /// for origins allowed only by `*` or by reflection (reflecting every origin with credentials must not
    /// switch the CSRF check off for every site).
    pub fn origin_listed_for_credentials(&self) -> bool {
        self.origin_listed_for_credentials
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

    /// Tells the middleware watching for it which change the function recorded.
    pub(crate) fn report_change(&self, change: Option<&SessionChange<S>>)
    where
        S: Clone,
    {
        if let (Some(change), Some(watch)) = (change, &self.change_watch) {
            watch.report(change.clone());
        }
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
            client_addr: None,
            body_deadline: None,
            origin_listed_for_credentials: false,
        }
    }

    /// The same request as if it came from `addr`, for unit tests of middleware that read
    /// [`client_addr`](Self::client_addr).
    #[doc(hidden)]
    #[must_use]
    pub fn with_client_addr(mut self, addr: IpAddr) -> Self {
        self.client_addr = Some(addr);
        self
    }

    /// The same request as if CORS listed its origin with credentials, for unit tests of middleware that
    /// read [`origin_listed_for_credentials`](Self::origin_listed_for_credentials).
    #[doc(hidden)]
    #[must_use]
    pub fn with_origin_listed_for_credentials(mut self) -> Self {
        self.origin_listed_for_credentials = true;
        self
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

/// A shareable middleware, as wirings and functions list them: what a `#[pikku_middleware]` function's name
/// holds, an authentication strategy (`auth_bearer()`, [`strategy`](crate::strategy())), or any
/// [`HttpMiddleware`] wrapped with [`SharedMiddleware::new`]. They share this one type so that a list mixes
/// them as they are: `[timing, auth_bearer()]`.
pub struct SharedMiddleware<Sv, S>(Layer<Sv, S>);

enum Layer<Sv, S> {
    /// A `#[pikku_middleware]` function: a constant, so no allocation.
    Fn(FnMiddleware<Sv, S>),
    Handler(Arc<dyn HttpMiddleware<Sv, S>>),
    Strategy(Arc<dyn DynStrategy<Sv, S>>),
}

/// What runs a middleware written as a function: the function, boxing its future.
pub type MiddlewareFn<Sv, S> =
    for<'a> fn(&'a Sv, Request<S>, Next<'a, Sv, S>) -> BoxFuture<'a, Result<Response, PikkuError>>;

/// A middleware written as a function, with its name.
struct FnMiddleware<Sv, S> {
    name: &'static str,
    handle: MiddlewareFn<Sv, S>,
}

impl<Sv, S> Clone for FnMiddleware<Sv, S> {
    fn clone(&self) -> Self {
        Self { name: self.name, handle: self.handle }
    }
}

/// How the onion runs a layer: a handler with a future of its own, or a strategy in a stretch of them.
enum Kind<'l, Sv, S> {
    Fn(&'l FnMiddleware<Sv, S>),
    Handler(&'l dyn HttpMiddleware<Sv, S>),
    Strategy(&'l dyn DynStrategy<Sv, S>),
}

impl<Sv, S> Layer<Sv, S> {
    fn kind(&self) -> Kind<'_, Sv, S> {
        match self {
            Layer::Fn(middleware) => Kind::Fn(middleware),
            Layer::Handler(middleware) => Kind::Handler(&**middleware),
            Layer::Strategy(strategy) => Kind::Strategy(&**strategy),
        }
    }
}

impl<Sv: 'static, S: 'static> SharedMiddleware<Sv, S> {
    /// Wraps any middleware.
    pub fn new(middleware: impl HttpMiddleware<Sv, S>) -> Self {
        Self(Layer::Handler(Arc::new(middleware)))
    }

    /// A middleware written as a function, usable in a `const`: what `#[pikku_middleware]` puts under the
    /// function's name.
    pub const fn from_fn(name: &'static str, handle: MiddlewareFn<Sv, S>) -> Self {
        Self(Layer::Fn(FnMiddleware { name, handle }))
    }

    pub(crate) fn from_strategy(strategy: Arc<dyn DynStrategy<Sv, S>>) -> Self {
        Self(Layer::Strategy(strategy))
    }

    /// The middleware's name.
    pub fn name(&self) -> &str {
        match self.0.kind() {
            Kind::Fn(middleware) => middleware.name,
            Kind::Handler(middleware) => middleware.name(),
            Kind::Strategy(strategy) => strategy.name(),
        }
    }

    /// What a strategy tells the OpenAPI document about a route of `method` (its
    /// [schemes](crate::AuthStrategy::openapi_schemes) and [statuses](crate::AuthStrategy::openapi_statuses)),
    /// or `None` for a middleware that is not one.
    pub(crate) fn openapi_strategy(&self, method: &Method) -> Option<crate::openapi::routes::StrategyDoc> {
        match self.0.kind() {
            Kind::Strategy(strategy) => Some(crate::openapi::routes::StrategyDoc {
                schemes: strategy.openapi_schemes(),
                statuses: strategy.openapi_statuses(method),
            }),
            Kind::Fn(_) | Kind::Handler(_) => None,
        }
    }

    /// The middleware's description.
    pub fn describe(&self) -> String {
        match self.0.kind() {
            Kind::Fn(_) => String::new(),
            Kind::Handler(middleware) => middleware.describe(),
            Kind::Strategy(strategy) => strategy.describe(),
        }
    }
}

impl<Sv: Send + Sync + 'static, S: Clone + Send + Sync + 'static> SharedMiddleware<Sv, S> {
    /// Runs the middleware directly, as a unit test does: `timing.call(&services, request, next)` with
    /// [`Request::for_test`] and [`Next::for_test`].
    ///
    /// # Errors
    /// The middleware's own error, which the onion would answer with.
    pub fn call<'a>(
        &'a self,
        services: &'a Sv,
        request: Request<S>,
        next: Next<'a, Sv, S>,
    ) -> BoxFuture<'a, Result<Response, PikkuError>> {
        HttpMiddleware::handle(self, services, request, next)
    }
}

impl<Sv, S> Clone for SharedMiddleware<Sv, S> {
    fn clone(&self) -> Self {
        Self(match &self.0 {
            Layer::Fn(middleware) => Layer::Fn(middleware.clone()),
            Layer::Handler(middleware) => Layer::Handler(Arc::clone(middleware)),
            Layer::Strategy(strategy) => Layer::Strategy(Arc::clone(strategy)),
        })
    }
}

impl<Sv: 'static, S: 'static> std::fmt::Debug for SharedMiddleware<Sv, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SharedMiddleware").field(&self.name()).finish()
    }
}

/// A `SharedMiddleware` is itself a middleware, so generic code can take either. (A strategy handled this way
/// runs on its own, with a future of its own; the onion runs wired strategies without one.)
impl<Sv: Send + Sync + 'static, S: Clone + Send + Sync + 'static> HttpMiddleware<Sv, S> for SharedMiddleware<Sv, S> {
    fn handle<'a>(
        &'a self,
        services: &'a Sv,
        mut request: Request<S>,
        next: Next<'a, Sv, S>,
    ) -> BoxFuture<'a, Result<Response, PikkuError>> {
        let strategy = match self.0.kind() {
            Kind::Fn(middleware) => return (middleware.handle)(services, request, next),
            Kind::Handler(middleware) => return middleware.handle(services, request, next),
            Kind::Strategy(strategy) => strategy,
        };
        Box::pin(async move {
            let change = request.watch_session_change();
            let found = if request.session.is_some() {
                Found { session: None, way_back: strategy.alongside_dyn(services, &request) }
            } else {
                strategy.authenticate_dyn(services, &request).await?
            };
            establish(&mut request, found.session);
            let mut response = next.run(request).await;
            let change = if answered_without_error(&response) { change.get() } else { None };
            found.way_back.respond(services, change, &mut response).await?;
            Ok(response)
        })
    }

    fn name(&self) -> &str {
        SharedMiddleware::name(self)
    }

    fn describe(&self) -> String {
        SharedMiddleware::describe(self)
    }
}

/// What the function's endpoint answers: the response, and the session change the function recorded
/// (only when it returned `Ok`).
pub(crate) struct Reply<S> {
    pub(crate) response: Response,
    pub(crate) change: Option<SessionChange<S>>,
}

/// What runs after the function's middleware: the auth gate, the input, permissions and the function.
pub(crate) trait Endpoint<Sv, S>: Send + Sync + 'static {
    fn call<'a>(&'a self, services: &'a Sv, request: Request<S>) -> BoxFuture<'a, Reply<S>>;
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
    fn call<'a>(&'a self, _services: &'a Sv, request: Request<S>) -> BoxFuture<'a, Reply<S>> {
        let response = (self.respond)(&request);
        let change = self.change.clone();
        request.report_change(change.as_ref());
        Box::pin(std::future::ready(Reply { response, change }))
    }
}

/// The rest of the onion.
pub struct Next<'a, Sv, S> {
    pub(crate) services: &'a Sv,
    pub(crate) chain: &'a [SharedMiddleware<Sv, S>],
    pub(crate) endpoint: &'a dyn Endpoint<Sv, S>,
}

impl<'a, Sv, S: Clone + Send + Sync + 'static> Next<'a, Sv, S> {
    /// An onion for unit tests of middleware: `chain` in order, then `endpoint`.
    pub fn for_test(services: &'a Sv, chain: &'a [SharedMiddleware<Sv, S>], endpoint: &'a TestEndpoint<S>) -> Self {
        Self { services, chain, endpoint }
    }
}

impl<Sv, S> std::fmt::Debug for Next<'_, Sv, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Next").field("middleware_left", &self.chain.len()).finish_non_exhaustive()
    }
}

impl<'a, Sv: Sync + 'static, S: Clone + Send + Sync + 'static> Next<'a, Sv, S> {
    /// Passes the request to the next middleware, or to the function when none is left.
    pub fn run(self, mut request: Request<S>) -> NextFuture<'a, Sv, S> {
        let Next { services, mut chain, endpoint } = self;
        let request_id = request.request_id;
        // A stretch of strategies runs here, without a future each: their ways back are kept in order
        // (outermost first) and run on the response in `NextFuture`.
        let mut way_back = WaysBack::new();
        let mut watch = None;
        let phase = loop {
            let Some((first, rest)) = chain.split_first() else {
                break Phase::Endpoint(endpoint.call(services, request));
            };
            chain = rest;
            let strategy = match first.0.kind() {
                Kind::Strategy(strategy) => strategy,
                kind => {
                    // The function's change cannot come back through another middleware's answer: watch it.
                    if !way_back.is_empty() {
                        watch = Some(request.watch_session_change());
                    }
                    let next = Next { services, chain, endpoint };
                    break Phase::Middleware(match kind {
                        Kind::Fn(middleware) => (middleware.handle)(services, request, next),
                        Kind::Handler(middleware) => middleware.handle(services, request, next),
                        Kind::Strategy(_) => unreachable!("matched above"),
                    });
                }
            };
            // First strategy wins (Pikku lets a later one overwrite): once a session is established, the
            // later strategies only see the response. Checked on the request, whatever set the session.
            if request.session.is_some() {
                way_back.push(strategy.alongside_dyn(services, &request));
                continue;
            }
            match strategy.authenticate_dyn(services, &request) {
                Step::Ready(Ok(found)) => {
                    establish(&mut request, found.session);
                    way_back.push(found.way_back);
                }
                Step::Ready(Err(refused)) => {
                    let reply = Reply { response: refused.into_response(&request_id), change: None };
                    break Phase::Responding(Box::new(Answered { reply, waiting: None }));
                }
                Step::Wait(found) => {
                    if !way_back.is_empty() {
                        watch = Some(request.watch_session_change());
                    }
                    let next = Next { services, chain, endpoint };
                    break Phase::Middleware(Box::pin(async move {
                        let found = found.await?;
                        establish(&mut request, found.session);
                        let mut rest = next.run(request);
                        // This strategy is outermost of the rest: its way back runs last there.
                        rest.way_back.insert(0, found.way_back);
                        Ok(rest.await)
                    }));
                }
            }
        };
        NextFuture { phase, services, request_id, way_back, watch }
    }
}

/// Whether a session change still applies to `response`: any status below 400, so a login may answer with a
/// redirect (`303`) as well as with `200`.
fn answered_without_error(response: &Response) -> bool {
    response.status().as_u16() < 400
}

fn establish<S>(request: &mut Request<S>, session: Option<S>) {
    if let Some(session) = session {
        request.session = Some(session);
    }
}

/// The ways back of one stretch of strategies: in place for the usual few, growing on the heap beyond.
type WaysBack<'a, Sv, S> = smallvec::SmallVec<[WayBack<'a, Sv, S>; INLINE_WAYS_BACK]>;

/// Strategies an application wires in a row, typically (bearer, cookie, API key and one more).
const INLINE_WAYS_BACK: usize = 4;

enum Phase<'a, S> {
    /// Waiting for the function.
    Endpoint(BoxFuture<'a, Reply<S>>),
    /// Waiting for the next middleware.
    Middleware(BoxFuture<'a, Result<Response, PikkuError>>),
    /// The answer is here and a way back is waiting for I/O (or a strategy refused the request): boxed,
    /// so the future stays small on the usual path, where the ways back run at once.
    Responding(Box<Answered<'a, S>>),
    Done,
}

struct Answered<'a, S> {
    reply: Reply<S>,
    waiting: Option<BoxFuture<'a, Result<(), PikkuError>>>,
}

/// The response of the rest of the onion. A middleware's own error is rendered as its JSON response
/// here, then the strategies passed on the way in see the response, innermost first.
pub struct NextFuture<'a, Sv, S> {
    phase: Phase<'a, S>,
    services: &'a Sv,
    request_id: RequestId,
    /// The ways back of the strategies this stretch ran, outermost first.
    way_back: WaysBack<'a, Sv, S>,
    /// Set when another middleware stands between these strategies and the function.
    watch: Option<SessionChangeWatch<S>>,
}

impl<Sv, S> std::fmt::Debug for NextFuture<'_, Sv, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NextFuture")
            .field("request_id", &self.request_id)
            .field("strategies_on_the_way_back", &self.way_back.len())
            .finish_non_exhaustive()
    }
}

// Nothing in a `NextFuture` is pinned in place: its futures are boxed.
impl<Sv, S> Unpin for NextFuture<'_, Sv, S> {}

impl<Sv: 'static, S: Clone + 'static> Future for NextFuture<'_, Sv, S> {
    type Output = Response;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Response> {
        use std::task::{ready, Poll};
        let this = self.get_mut();
        loop {
            // The answer stays in one `Reply` from here on: a response is large, and every move copies it.
            let mut reply = match &mut this.phase {
                Phase::Endpoint(future) => ready!(future.as_mut().poll(cx)),
                Phase::Middleware(future) => match ready!(future.as_mut().poll(cx)) {
                    Ok(response) => Reply { response, change: this.watch.as_ref().and_then(|w| w.get().cloned()) },
                    Err(e) => Reply { response: e.into_response(&this.request_id), change: None },
                },
                Phase::Responding(answered) => {
                    if let Some(waiting) = &mut answered.waiting {
                        let outcome = ready!(waiting.as_mut().poll(cx));
                        if let Err(e) = outcome {
                            answered.reply.response = e.into_response(&this.request_id);
                        }
                    }
                    let Phase::Responding(answered) = std::mem::replace(&mut this.phase, Phase::Done) else {
                        unreachable!("matched above")
                    };
                    answered.reply
                }
                Phase::Done => panic!("a NextFuture is polled after completion"),
            };
            this.phase = Phase::Done;
            let mut waiting = None;
            while let Some(way_back) = this.way_back.pop() {
                // A change is applied only to a response that is not an error: a middleware nearer the
                // function may have turned the function's success into one.
                let applied = if answered_without_error(&reply.response) { reply.change.as_ref() } else { None };
                match way_back.respond(this.services, applied, &mut reply.response) {
                    Step::Ready(Ok(())) => {}
                    Step::Ready(Err(e)) => reply.response = e.into_response(&this.request_id),
                    Step::Wait(future) => {
                        waiting = Some(future);
                        break;
                    }
                }
            }
            match waiting {
                None => return Poll::Ready(reply.response),
                waiting => this.phase = Phase::Responding(Box::new(Answered { reply, waiting })),
            }
        }
    }
}
