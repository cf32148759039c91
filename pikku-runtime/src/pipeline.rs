//! One request through the application: route match (404 / 405), the middleware onion, the endpoint,
//! and the `x-request-id` header on every response.

use std::future::Future;
use std::net::IpAddr;
use std::panic::AssertUnwindSafe;

use tracing::Instrument;

use crate::error::PikkuError;
use crate::input::PathParams;
use crate::middleware::{Next, NextFuture, Request, RequestBody};
use crate::panic::{panic_message, CatchUnwind};
use crate::registry::Registry;
use crate::request_id::{RequestId, REQUEST_ID_HEADER_NAME};
use crate::response::Response;

/// What the server knows of a request beyond its head and body.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Arrival {
    /// The client's address (`None` in-process).
    pub(crate) client_addr: Option<IpAddr>,
    /// When the body must have arrived (`None` when there is none to wait for).
    pub(crate) body_deadline: Option<tokio::time::Instant>,
}

/// Runs one request through the exact pipeline the server uses.
///
/// Routing and the start of the onion are synchronous (each layer boxes its own future), so they run
/// before the returned future exists: it holds only the rest of the onion, not the request. That keeps it
/// small, and hyper moves it into place for every request.
pub(crate) fn dispatch<'a, Sv: Send + Sync + 'static, S: Clone + Send + Sync + 'static>(
    registry: &'a Registry<Sv, S>,
    services: &'a Sv,
    request: http::Request<RequestBody>,
    arrival: Arrival,
) -> impl Future<Output = Response> + Send + 'a {
    let (head, body) = request.into_parts();
    let request_id = RequestId::from_headers(&head.headers);
    // Every log line of the request carries its id: warnings and errors name it themselves; debug lines
    // get it from this span, which costs nothing unless debug logging is on.
    let span = tracing::debug_span!("request", request_id = %request_id, method = %head.method, path = head.uri.path());
    // A panic in a function is caught where it happens (its 500 still passes the middleware on the way
    // back); these catch one in middleware, so it too costs only its own request.
    let routed = {
        let _entered = span.enter();
        std::panic::catch_unwind(AssertUnwindSafe(|| route(registry, services, head, body, request_id, arrival)))
    };
    async move {
        let outcome = match routed {
            Ok(Routed::Answered(response)) => Ok(response),
            Ok(Routed::Running(rest)) => CatchUnwind(rest).instrument(span).await,
            Err(panic) => Err(panic),
        };
        let mut response = outcome.unwrap_or_else(|panic| {
            PikkuError::internal(format!("middleware panicked: {}", panic_message(&*panic))).into_response(&request_id)
        });
        tracing::debug!(request_id = %request_id, status = response.status().as_u16(), "responded");
        response.headers_mut().insert(REQUEST_ID_HEADER_NAME.clone(), request_id.to_header_value());
        response
    }
}

/// A request after routing: answered already (404, 405), or on its way through the onion.
enum Routed<'a, Sv, S> {
    Answered(Response),
    Running(NextFuture<'a, Sv, S>),
}

fn route<'a, Sv: Send + Sync + 'static, S: Clone + Send + Sync + 'static>(
    registry: &'a Registry<Sv, S>,
    services: &'a Sv,
    head: http::request::Parts,
    body: RequestBody,
    request_id: RequestId,
    arrival: Arrival,
) -> Routed<'a, Sv, S> {
    let path = head.uri.path();
    let Ok(matched) = registry.router.at(path) else {
        return Routed::Answered(
            PikkuError::not_found(format!("No route for {}", truncate(path))).into_response(&request_id),
        );
    };
    let entry = &registry.paths[*matched.value];
    let Some(target) = entry.target(&head.method) else {
        return Routed::Answered(PikkuError::method_not_allowed(entry.allow.clone()).into_response(&request_id));
    };
    // The router hands out the values in template order, as slices of `path`; the route's names are in
    // the same order.
    let path_params = PathParams::new(entry.params.clone(), path, matched.params.iter().map(|(_, value)| value));
    let request = Request {
        head,
        body,
        session: None,
        request_id,
        path_params,
        change_watch: None,
        client_addr: arrival.client_addr,
        body_deadline: arrival.body_deadline,
    };
    let next = Next { services, chain: &target.chain, endpoint: &*target.endpoint };
    Routed::Running(next.run(request))
}

/// Echoing a client's path in a message: bounded, so a huge URI does not become a huge body.
fn truncate(path: &str) -> &str {
    const MAX_ECHOED_PATH: usize = 128;
    if path.len() <= MAX_ECHOED_PATH {
        return path;
    }
    let mut end = MAX_ECHOED_PATH;
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    &path[..end]
}
