//! pikku-rs and tower (docs/tower.md): a built application is a tower `Service`, so another server (axum, any
//! hyper-based one) can mount it; tower layers wrap the whole application (`App::layer`) or the routes a
//! pattern matches (`Wirings::add_http_layer`).
//!
//! Layers are erased once, at start-up, into boxed clonable services; each layer's inner service is a
//! [`PipelineService`], which takes any request body, so a layer may change the body's type. A route with
//! layers has them as its endpoint ([`RouteLayers`]) and an empty chain: once routed, its request goes
//! through the layers carrying what the rest of the route needs in its extensions ([`Continuation`]), and
//! the innermost service ([`RouteRest`]) takes it out and runs the route's onion. The pipeline itself has no
//! branch for layers, and the code for them is compiled only into programs that declare some: every caller
//! of the pipeline more changes how it is inlined into the server's connections.

use std::any::Any;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, OnceLock, Weak};
use std::task::{Context, Poll};

use bytes::{Buf as _, Bytes};
use futures_util::future::{Either, FutureExt as _, Map};
use http::{StatusCode, Uri};
use http_body::Body as _;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use tower::util::BoxCloneSyncService;
use tower::{Layer, Service, ServiceExt as _};

use crate::client_addr::resolve_client_addr;
use crate::connection::{Activity, TrackedBody};
use crate::error::PikkuError;
use crate::input::PathParams;
use crate::middleware::{BoxFuture, Endpoint, Next, Reply, Request, RequestBody, SharedMiddleware};
use crate::panic::{panic_message, CatchUnwind};
use crate::pipeline::{dispatch, Arrival};
use crate::registry::MiddlewareInfo;
use crate::request_id::{RequestId, REQUEST_ID_HEADER_NAME};
use crate::response::{Body, BoxError, Chunk, Response};
use crate::server::{Server, ServerInner};

/// The connection's peer, put in a request's extensions by whoever serves the application through its
/// `Service` impl: pikku-rs resolves the client's address from it as its own server does (through
/// [`ServerConfig::trusted_proxies`](crate::ServerConfig::trusted_proxies)), and
/// [`Request::client_addr`](crate::Request::client_addr) is `None` without it.
///
/// An axum application served with `into_make_service_with_connect_info::<SocketAddr>()` knows the peer as
/// `ConnectInfo<SocketAddr>`: copy it into a `PeerAddr` in front of the nested application (a
/// `map_request`, as `examples/axum-nest` does).
///
/// ```
/// use bytes::Bytes;
/// use http_body_util::Full;
/// use pikku::prelude::*;
/// use tower::ServiceExt as _;
///
/// pub struct Services;
/// #[derive(Clone)]
/// pub struct Session;
///
/// #[pikku_func(auth = false)]
/// async fn whence(_: &Services, _: (), ctx: &OptionalContext<Session>) -> Result<String, PikkuError> {
///     Ok(ctx.client_addr().map_or_else(|| "unknown".into(), |addr| addr.to_string()))
/// }
///
/// #[pikku_wiring]
/// fn routes(w: &mut Wirings<Services, Session>) {
///     w.get("/whence", whence);
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let server = App::<Services, Session>::new().build(Services).expect("the application starts");
/// // Any body type: here http-body-util's `Full`.
/// let mut request = http::Request::get("/whence").body(Full::new(Bytes::new())).unwrap();
/// request.extensions_mut().insert(pikku::PeerAddr("192.0.2.7:50000".parse().unwrap()));
/// let response = server.oneshot(request).await.expect("infallible");
/// assert_eq!(response.status(), 200);
/// assert!(response.headers().contains_key("x-request-id"));
/// # });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerAddr(pub SocketAddr);

impl From<SocketAddr> for PeerAddr {
    fn from(addr: SocketAddr) -> Self {
        Self(addr)
    }
}

/// A type-erased layered service: what a declared layer is applied to and becomes.
pub(crate) type HttpService = BoxCloneSyncService<http::Request<RequestBody>, Response, BoxError>;

/// The application's layers around its pipeline, answering every request (their errors answered as JSON).
pub(crate) type ApplicationService = BoxCloneSyncService<http::Request<RequestBody>, Response, Infallible>;

/// What a tower layer wraps: the rest of the pipeline (the whole application for
/// [`App::layer`](crate::App::layer), the rest of one route for
/// [`Wirings::add_http_layer`](crate::Wirings::add_http_layer)). It takes a request with any body (a layer may
/// change the body's type: it is read with the server's limit, deadline and budget all the same), answers
/// with a [`Response`], and fails only when a layer dropped what the rest of a route needs.
#[derive(Clone)]
pub struct PipelineService(HttpService);

impl std::fmt::Debug for PipelineService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PipelineService").finish_non_exhaustive()
    }
}

impl<B> Service<http::Request<B>> for PipelineService
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Response, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        self.0.call(request.map(RequestBody::from_body))
    }
}

/// A layer as declared (`App::layer`, `Wirings::add_http_layer`): how to wrap a service in it, and its type
/// name for `info middleware`.
#[derive(Clone)]
pub(crate) struct DeclaredLayer {
    type_name: &'static str,
    apply: Arc<dyn Fn(HttpService) -> HttpService + Send + Sync>,
}

impl std::fmt::Debug for DeclaredLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.type_name)
    }
}

impl DeclaredLayer {
    pub(crate) fn new<L, B>(layer: L) -> Self
    where
        L: Layer<PipelineService> + Send + Sync + 'static,
        L::Service: Service<http::Request<RequestBody>, Response = http::Response<B>> + Clone + Send + Sync + 'static,
        <L::Service as Service<http::Request<RequestBody>>>::Error: Into<BoxError>,
        <L::Service as Service<http::Request<RequestBody>>>::Future: Send + 'static,
        B: http_body::Body + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Self {
            type_name: std::any::type_name::<L>(),
            apply: Arc::new(move |inner: HttpService| {
                let layered = layer.layer(PipelineService(inner));
                HttpService::new(layered.map_response(into_response::<B>).map_err(Into::into))
            }),
        }
    }

    /// `layers` around `inner`, the first outermost.
    pub(crate) fn stack<'l>(layers: impl DoubleEndedIterator<Item = &'l Self>, inner: HttpService) -> HttpService {
        layers.rev().fold(inner, |inner, layer| (layer.apply)(inner))
    }

    /// Its row in `info middleware`: the type's short name, its full name as the configuration.
    pub(crate) fn info(&self, applied: String) -> MiddlewareInfo {
        MiddlewareInfo { name: short_type_name(self.type_name), description: self.type_name.to_owned(), applied }
    }
}

/// `tower_http::compression::layer::CompressionLayer<a::B>` as `CompressionLayer<B>`.
fn short_type_name(full: &str) -> String {
    let mut short = String::with_capacity(full.len());
    let mut start = 0;
    let is_path = |c: char| c.is_alphanumeric() || c == '_' || c == ':';
    for (at, c) in full.char_indices() {
        if !is_path(c) {
            short.push_str(full[start..at].rsplit("::").next().unwrap_or_default());
            short.push(c);
            start = at + c.len_utf8();
        }
    }
    short.push_str(full[start..].rsplit("::").next().unwrap_or_default());
    short
}

/// A layer's response as the pipeline's: pikku's own body is kept as it is, any other is streamed.
fn into_response<B>(response: http::Response<B>) -> Response
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<BoxError>,
{
    let (head, body) = response.into_parts();
    let mut body = Some(body);
    let any: &mut dyn Any = &mut body;
    let body = match any.downcast_mut::<Option<Body>>() {
        Some(own) => own.take().expect("filled above"),
        // `Bytes` data (a compressed body) is handed over as it is; any other `Buf` is copied into `Bytes`.
        None => Body::from_body(
            body.expect("filled above")
                .map_frame(|frame| frame.map_data(|mut data| data.copy_to_bytes(data.remaining()))),
        ),
    };
    http::Response::from_parts(head, body)
}

/// A layer's error as the JSON error it answers: a [`PikkuError`] as it is, a timeout (tower's or tokio's
/// `Elapsed`) 504 `GatewayTimeoutError`, anything else 500 (the error is logged, the client gets the generic
/// message).
pub(crate) fn layer_error(error: BoxError) -> PikkuError {
    let error = match error.downcast::<PikkuError>() {
        Ok(error) => return *error,
        Err(error) => error,
    };
    if error.is::<tower::timeout::error::Elapsed>() || error.is::<tokio::time::error::Elapsed>() {
        return PikkuError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "GatewayTimeoutError",
            "the request did not complete within a tower layer's timeout",
        );
    }
    PikkuError::internal(format!("a tower layer failed: {error}"))
}

// ---------------------------------------------------------------------------------------------------
// The application as a Service

impl<Sv, S, B> Service<http::Request<B>> for Server<Sv, S>
where
    Sv: Send + Sync + 'static,
    S: Clone + Send + Sync + 'static,
    B: http_body::Body + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    /// Always ready: the pipeline holds no per-caller resource.
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    /// The request through the application's layers ([`App::layer`](crate::App::layer)), if any, and its
    /// pipeline, with the server's body limit, body deadline and budget. The client's address comes from a
    /// [`PeerAddr`] extension.
    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let request = request.map(RequestBody::from_body);
        match &self.inner.layers {
            None => {
                let server = self.clone();
                Box::pin(async move { Ok(server.pipeline(request).await) })
            }
            Some(layers) => Box::pin(layers.clone().oneshot(request)),
        }
    }
}

impl<Sv: Send + Sync + 'static, S: Clone + Send + Sync + 'static> Server<Sv, S> {
    /// The pipeline for a request handed over as a `Service` call: the peer from [`PeerAddr`], the body's
    /// deadline from now, as the server sets them for a request it read.
    fn pipeline(&self, request: http::Request<RequestBody>) -> impl Future<Output = Response> + Send + '_ {
        let config = &self.inner.config;
        let client_addr = request
            .extensions()
            .get::<PeerAddr>()
            .map(|peer| resolve_client_addr(peer.0.ip(), request.headers(), &config.trusted_proxies));
        let body_deadline =
            (!request.body().is_end_stream()).then(|| tokio::time::Instant::now() + config.body_read_timeout);
        dispatch(&self.inner.registry, &self.inner.services, request, Arrival { client_addr, body_deadline })
    }

    /// This application as a `Service` whose response body has `Bytes` data, which is what axum's
    /// `IntoResponse` asks of a nested service (`Router::nest_service`, `fallback_service`,
    /// `route_service`); otherwise the same as the `Service` impl of `Server`.
    pub fn bytes_service(&self) -> BytesService<Sv, S> {
        BytesService { server: self.clone() }
    }
}

/// The application's layers, answering: the request's id is settled first, so that an error of a layer (a
/// timeout around the whole application) carries the id the pipeline would have used, and a panic in a layer
/// is a 500 for its request only, as one in a middleware is.
#[derive(Clone)]
struct ApplicationLayers {
    stack: HttpService,
}

impl Service<http::Request<RequestBody>> for ApplicationLayers {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: http::Request<RequestBody>) -> Self::Future {
        let request_id = RequestId::from_headers(request.headers());
        request.headers_mut().insert(REQUEST_ID_HEADER_NAME.clone(), request_id.to_header_value());
        let layered = self.stack.clone().oneshot(request);
        Box::pin(async move {
            let mut response = match CatchUnwind(layered).await {
                Ok(Ok(response)) => response,
                Ok(Err(error)) => layer_error(error).into_response(&request_id),
                Err(panic) => PikkuError::internal(format!("a tower layer panicked: {}", panic_message(&*panic)))
                    .into_response(&request_id),
            };
            // Also on an answer a layer gave by itself.
            response.headers_mut().insert(REQUEST_ID_HEADER_NAME.clone(), request_id.to_header_value());
            Ok(response)
        })
    }
}

/// The innermost service of the application's layers: the pipeline.
struct ApplicationRest<Sv, S> {
    server: Weak<ServerInner<Sv, S>>,
}

impl<Sv, S> Clone for ApplicationRest<Sv, S> {
    fn clone(&self) -> Self {
        Self { server: Weak::clone(&self.server) }
    }
}

impl<Sv: Send + Sync + 'static, S: Clone + Send + Sync + 'static> Service<http::Request<RequestBody>>
    for ApplicationRest<Sv, S>
{
    type Response = Response;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Response, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<RequestBody>) -> Self::Future {
        let server = self.server.upgrade();
        Box::pin(async move {
            let inner = server.ok_or_else(server_gone)?;
            Ok(Server { inner }.pipeline(request).await)
        })
    }
}

/// [`application_layers`], as `App` keeps it.
pub(crate) type ApplicationLayersFn<Sv, S> = fn(&Weak<ServerInner<Sv, S>>, &[DeclaredLayer]) -> ApplicationService;

/// The application's `layers` around its pipeline, referring to the server weakly (the server owns them).
///
/// Named only by `App::layer`, so that a program without application layers has none of this code: every
/// caller of the pipeline, or of what it inlines, more changes how it is inlined into the server's
/// connections, at some 50 to 150 instructions a request (`pikku-runtime/examples/serve_loop.rs` measures
/// them).
pub(crate) fn application_layers<Sv: Send + Sync + 'static, S: Clone + Send + Sync + 'static>(
    server: &Weak<ServerInner<Sv, S>>,
    layers: &[DeclaredLayer],
) -> ApplicationService {
    let rest = HttpService::new(ApplicationRest { server: Weak::clone(server) });
    ApplicationService::new(ApplicationLayers { stack: DeclaredLayer::stack(layers.iter(), rest) })
}

fn server_gone() -> BoxError {
    PikkuError::internal("the application was dropped while a request was inside its tower layers").into()
}

/// The per-connection service of [`Server::serve`]: without application layers, the pipeline as before they
/// existed (no box, no allocation); with them, the layers, the peer in a [`PeerAddr`]. Each request's
/// response body is tracked by the connection's `activity` (the HTTP/2 watchdog sees open streams).
pub(crate) fn connection_service<Sv, S>(
    server: &Server<Sv, S>,
    peer: SocketAddr,
    activity: Arc<Activity>,
) -> impl hyper::service::Service<
    http::Request<Incoming>,
    Response = http::Response<TrackedBody<Body>>,
    Error = Infallible,
    Future = impl Future<Output = Result<http::Response<TrackedBody<Body>>, Infallible>> + Send + 'static,
> + 'static
where
    Sv: Send + Sync + 'static,
    S: Clone + Send + Sync + 'static,
{
    let server = server.clone();
    // A dual-stack listener reports IPv4 clients as `::ffff:a.b.c.d`.
    let peer_ip: IpAddr = peer.ip().to_canonical();
    hyper::service::service_fn(move |request: http::Request<Incoming>| {
        let stream = activity.request_started(request.version());
        let server = server.clone();
        if let Some(layers) = &server.inner.layers {
            let layered = through_layers(layers, request, peer);
            return Either::Right(async move {
                let Ok(response) = layered.await;
                Ok::<_, Infallible>(response.map(|body| stream.track(body)))
            });
        }
        let config = &server.inner.config;
        let client_addr = resolve_client_addr(peer_ip, request.headers(), &config.trusted_proxies);
        // Only a request with a body to wait for reads the clock.
        let body_deadline =
            (!request.body().is_end_stream()).then(|| tokio::time::Instant::now() + config.body_read_timeout);
        let arrival = Arrival { client_addr: Some(client_addr), body_deadline };
        Either::Left(async move {
            let request = request.map(RequestBody::Incoming);
            let response = dispatch(&server.inner.registry, &server.inner.services, request, arrival).await;
            Ok::<_, Infallible>(response.map(|body| stream.track(body)))
        })
    })
}

/// A request of a connection to an application with layers (its peer in a [`PeerAddr`]). Out of the way of
/// the plain path, which must not pay for it.
#[cold]
#[inline(never)]
fn through_layers(
    layers: &ApplicationService,
    mut request: http::Request<Incoming>,
    peer: SocketAddr,
) -> BoxFuture<'static, Result<Response, Infallible>> {
    request.extensions_mut().insert(PeerAddr(peer));
    Box::pin(layers.clone().oneshot(request.map(RequestBody::Incoming)))
}

// ---------------------------------------------------------------------------------------------------
// Route layers

/// What the rest of a layered route needs of the request, beyond its head and body: it travels in the
/// request's extensions through the route's layers.
#[derive(Clone)]
pub(crate) struct Continuation {
    request_id: RequestId,
    path_params: PathParams,
    client_addr: Option<IpAddr>,
    body_deadline: Option<tokio::time::Instant>,
    origin_listed_for_credentials: bool,
    /// The URI the request was routed by: the path parameters index its path, so a layer that rewrites
    /// the URI does not reach the rest of the route (it would not be routed again anyway).
    uri: Uri,
}

/// What a route with layers runs in place of its middleware and function: its layers, the first declared
/// outermost, around the rest of the route ([`RouteRest`]). A layer's error is answered as its JSON error.
///
/// The route's chain is empty, so the pipeline hands the request straight here, after routing: the plain
/// path has no branch for layers at all.
struct RouteLayers {
    stack: HttpService,
}

impl<Sv: Send + Sync + 'static, S: Clone + Send + Sync + 'static> Endpoint<Sv, S> for RouteLayers {
    fn call<'a>(&'a self, _services: &'a Sv, request: Request<S>) -> BoxFuture<'a, Reply<S>> {
        let Request {
            mut head,
            body,
            request_id,
            path_params,
            client_addr,
            body_deadline,
            origin_listed_for_credentials,
            ..
        } = request;
        let continuation = Continuation {
            request_id,
            path_params,
            client_addr,
            body_deadline,
            origin_listed_for_credentials,
            uri: head.uri.clone(),
        };
        head.extensions.insert(continuation);
        let layered = self.stack.clone().oneshot(http::Request::from_parts(head, body));
        Box::pin(async move {
            let response = match layered.await {
                Ok(response) => response,
                Err(error) => layer_error(error).into_response(&request_id),
            };
            // The strategies, inside, have written the session back already.
            Reply { response, change: None }
        })
    }
}

/// A route's `layers` around the rest of the route. Named only by `add_http_layer`, so a program without
/// route layers has none of this code (see [`application_layers`]).
pub(crate) fn route_layers<Sv: Send + Sync + 'static, S: Clone + Send + Sync + 'static>(
    rest: RouteRest<Sv, S>,
    layers: &[&DeclaredLayer],
) -> Arc<dyn Endpoint<Sv, S>> {
    let stack = DeclaredLayer::stack(layers.iter().copied(), HttpService::new(rest));
    Arc::new(RouteLayers { stack })
}

/// The innermost service of a route's layers: the rest of the route (its middleware, strategies and
/// function), given the request's [`Continuation`].
pub(crate) struct RouteRest<Sv, S> {
    /// The server, once built (the registry is built first, and owned by it).
    pub(crate) server: Arc<OnceLock<Weak<ServerInner<Sv, S>>>>,
    pub(crate) chain: Arc<[SharedMiddleware<Sv, S>]>,
    pub(crate) endpoint: Arc<dyn Endpoint<Sv, S>>,
}

impl<Sv, S> Clone for RouteRest<Sv, S> {
    fn clone(&self) -> Self {
        Self { server: Arc::clone(&self.server), chain: Arc::clone(&self.chain), endpoint: Arc::clone(&self.endpoint) }
    }
}

impl<Sv: Send + Sync + 'static, S: Clone + Send + Sync + 'static> Service<http::Request<RequestBody>>
    for RouteRest<Sv, S>
{
    type Response = Response;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Response, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<RequestBody>) -> Self::Future {
        let (mut head, body) = request.into_parts();
        let continuation = head.extensions.remove::<Continuation>();
        let server = self.server.get().and_then(Weak::upgrade);
        let rest = self.clone();
        Box::pin(async move {
            let Some(continuation) = continuation else {
                return Err(PikkuError::internal(
                    "a tower layer of this route dropped the request's extensions, which carry the rest of the route",
                )
                .into());
            };
            let inner = server.ok_or_else(server_gone)?;
            head.uri = continuation.uri;
            let request = Request {
                head,
                body,
                session: None,
                request_id: continuation.request_id,
                path_params: continuation.path_params,
                change_watch: None,
                client_addr: continuation.client_addr,
                body_deadline: continuation.body_deadline,
                origin_listed_for_credentials: continuation.origin_listed_for_credentials,
            };
            let next = Next { services: &inner.services, chain: &rest.chain, endpoint: &*rest.endpoint };
            Ok(next.run(request).await)
        })
    }
}

// ---------------------------------------------------------------------------------------------------
// axum

/// The application as a `Service` whose response body has `Bytes` data: what
/// [`Server::bytes_service`] gives, for axum's `Router::nest_service` and friends.
pub struct BytesService<Sv, S> {
    server: Server<Sv, S>,
}

impl<Sv, S> Clone for BytesService<Sv, S> {
    fn clone(&self) -> Self {
        Self { server: self.server.clone() }
    }
}

impl<Sv, S> std::fmt::Debug for BytesService<Sv, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BytesService").field("server", &self.server).finish()
    }
}

/// The future of [`BytesService`]: the [`Server`]'s, its body's data turned into `Bytes`.
pub type BytesServiceFuture = Map<
    BoxFuture<'static, Result<Response, Infallible>>,
    fn(Result<Response, Infallible>) -> Result<http::Response<BytesBody>, Infallible>,
>;

impl<Sv, S, B> Service<http::Request<B>> for BytesService<Sv, S>
where
    Sv: Send + Sync + 'static,
    S: Clone + Send + Sync + 'static,
    B: http_body::Body + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<BytesBody>;
    type Error = Infallible;
    type Future = BytesServiceFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let bytes: fn(Result<Response, Infallible>) -> Result<http::Response<BytesBody>, Infallible> =
            |response| response.map(|response| response.map(BytesBody));
        self.server.call(request).map(bytes)
    }
}

/// A response [`Body`] whose data is `Bytes`: a body's bytes handed over without a copy, except for a
/// small JSON answer kept inline in the response, which is copied once.
#[derive(Debug)]
pub struct BytesBody(Body);

impl BytesBody {
    /// The body it wraps.
    pub fn into_inner(self) -> Body {
        self.0
    }
}

impl http_body::Body for BytesBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.0).poll_frame(cx).map(|frame| {
            frame.map(|frame| {
                frame.map(|frame| frame.map_data(|mut chunk: Chunk| chunk.copy_to_bytes(chunk.remaining())))
            })
        })
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.0.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_are_shortened_path_by_path() {
        assert_eq!(short_type_name("tower::timeout::layer::TimeoutLayer"), "TimeoutLayer");
        assert_eq!(
            short_type_name("tower::util::map_response::MapResponseLayer<app::wirings::stamp>"),
            "MapResponseLayer<stamp>"
        );
        assert_eq!(short_type_name("a::B<c::D, (e::F, [g::H; 2])>"), "B<D, (F, [H; 2])>");
        assert_eq!(short_type_name("app::layers::{{closure}}"), "{{closure}}");
    }

    async fn bytes_of(body: Body) -> Vec<Bytes> {
        let mut body = BytesBody(body);
        let mut frames = Vec::new();
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            frames.push(frame.expect("no error").into_data().expect("data"));
        }
        frames
    }

    #[tokio::test]
    async fn bytes_bodies_hand_shared_bytes_over_and_copy_only_inline_ones() {
        static SHARED: &[u8] = b"shared bytes, handed over as they are";
        let frames = bytes_of(Body::new(Bytes::from_static(SHARED))).await;
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].as_ptr(), SHARED.as_ptr(), "no copy");

        let large = vec![b'v'; 300];
        let at = large.as_ptr();
        let frames = bytes_of(Body::new(large)).await;
        assert_eq!((frames[0].len(), frames[0].as_ptr()), (300, at), "the Vec itself");

        let inline = crate::response::json_response(StatusCode::OK, &"small").expect("JSON");
        let frames = bytes_of(inline.into_body()).await;
        assert_eq!(frames.concat(), br#""small""#);
    }

    #[tokio::test]
    async fn request_bodies_are_kept_or_boxed_by_type() {
        let own = RequestBody::from_body(RequestBody::Buffered(Bytes::from_static(b"{}")));
        assert!(matches!(&own, RequestBody::Buffered(bytes) if &bytes[..] == b"{}"), "{own:?}");
        let foreign = RequestBody::from_body(http_body_util::Full::new(Bytes::from_static(b"abc")));
        assert!(matches!(foreign, RequestBody::Boxed(_)), "{foreign:?}");
        assert!(!foreign.is_end_stream());
        assert_eq!(foreign.collect().await.expect("a body").to_bytes(), "abc");
        let empty = RequestBody::from_body(http_body_util::Empty::<Bytes>::new());
        assert!(empty.is_end_stream() && empty.size_hint().exact() == Some(0));

        // A buffered body read as a body: its bytes once, then the end.
        let buffered = RequestBody::Buffered(Bytes::from_static(b"xyz"));
        assert_eq!(buffered.size_hint().exact(), Some(3));
        assert_eq!(buffered.collect().await.expect("a body").to_bytes(), "xyz");
    }

    #[test]
    fn requests_stay_sync_whatever_their_body() {
        fn sync<T: Sync>() {}
        sync::<Request<()>>();
        sync::<RequestBody>();
    }

    #[test]
    fn layer_errors_become_their_json_errors() {
        let pikku: BoxError = PikkuError::conflict("taken").into();
        assert_eq!(layer_error(pikku).status(), StatusCode::CONFLICT);
        let elapsed: BoxError = tower::timeout::error::Elapsed::new().into();
        let timeout = layer_error(elapsed);
        assert_eq!((timeout.status(), timeout.name()), (StatusCode::GATEWAY_TIMEOUT, "GatewayTimeoutError"));
        let other: BoxError = "disk on fire".into();
        let other = layer_error(other);
        assert_eq!(other.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(other.message().contains("disk on fire"), "the detail is logged: {}", other.message());
    }
}
