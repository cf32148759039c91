//! The pikku-rs runtime: the function registry, wirings, the request pipeline (CORS included), sessions and
//! request access as a typed context, response control, errors, the hyper server and the application's
//! command line.
//!
//! Applications use it through the `pikku` crate and its prelude; this crate holds the machinery.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod app;
mod blocking;
mod body;
mod client_addr;
mod connection;
mod context;
mod cors;
mod error;
mod function;
mod info;
pub mod input;
mod middleware;
pub mod openapi;
mod output;
mod panic;
mod permission;
mod pipeline;
mod registry;
mod request_id;
mod response;
mod server;
mod service;
mod session_id;
mod strategy;
mod stream;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
#[cfg(feature = "tls")]
mod tls;
mod wiring;

pub use app::{App, NoCommands, NoFlags, DEFAULT_HOST, DEFAULT_PORT};
pub use blocking::blocking;
/// clap, for an application's own flags and commands ([`App::run_with_cli`]): `use pikku::clap;` in the
/// module that derives them is enough, without a `clap` dependency of the application's own (the derives
/// name `clap::…`, which the `use` brings into scope).
pub use clap;
pub use context::{Context, OptionalContext, SessionChange, SessionChangeWatch};
pub use cors::{CorsError, CorsOptions};
pub use error::PikkuError;
pub use http::{header, Extensions, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
/// An IP network (`10.0.0.0/8`) or, with its full prefix, one address: a trusted proxy
/// ([`ServerConfig::trusted_proxies`], [`App::trusted_proxies`]). Parse one with `"10.0.0.0/8".parse()`.
pub use ipnet::IpNet;
pub use middleware::{
    BoxFuture, BoxedBody, HttpMiddleware, MiddlewareFn, Next, NextFuture, Request, RequestBody, SharedMiddleware,
    TestEndpoint,
};
pub use output::Reply;
pub use permission::{DataView, Permission, SharedPermission};
pub use registry::{FunctionInfo, MiddlewareInfo, Registry, StartupError, UncheckedRoute};
pub use request_id::{RequestId, REQUEST_ID_HEADER};
pub use response::{json_response, output_response, Body, BoxError, Chunk, Response};
/// JSON Schemas of the [`openapi`] document; an application derives with `#[schemars(crate = "pikku::schemars")]`.
pub use schemars::{self, JsonSchema};
pub use server::{
    shutdown_signal, Server, ServerConfig, DEFAULT_BODY_BUDGET, DEFAULT_BODY_LIMIT, DEFAULT_BODY_READ_TIMEOUT,
    DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_HTTP2_INITIAL_CONNECTION_WINDOW_SIZE,
    DEFAULT_HTTP2_INITIAL_STREAM_WINDOW_SIZE, DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS,
    DEFAULT_HTTP2_MAX_LOCAL_ERROR_RESET_STREAMS, DEFAULT_HTTP2_MAX_PENDING_ACCEPT_RESET_STREAMS,
    DEFAULT_HTTP2_MAX_SEND_BUF_SIZE, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_HEADER_BYTES, DEFAULT_SHUTDOWN_GRACE,
    DEFAULT_WRITE_TIMEOUT,
};
pub use service::{BytesBody, BytesService, BytesServiceFuture, PeerAddr, PipelineService};
pub use session_id::SessionId;
pub use strategy::{strategy, AuthStrategy, Authenticated, Step, StepFuture};
pub use stream::{ByteStream, Event, EventStream, FunctionOutput, DEFAULT_KEEP_ALIVE};
#[cfg(feature = "tls")]
pub use tls::{TlsConfig, TlsError};
pub use wiring::{MiddlewareList, RouteBuilder, SourceLocation, Wirings};

/// What generated code needs, at absolute paths, so an application adds no dependency of its own.
#[doc(hidden)]
pub mod __private {
    pub use crate::context::SessionContext;
    pub use crate::function::{install, FunctionDef, FunctionSlot, PikkuFunction, TypeMismatch};
    pub use crate::input::{InputError, InputFields, MergedInput};
    pub use crate::middleware::{BoxFuture, HttpMiddleware};
    pub use crate::openapi::probe::{FallbackProbe, JsonSchemaProbe, Probe};
    pub use crate::openapi::{input_doc, output_doc, InputDoc, OutputDoc};
    pub use crate::permission::{DataView, Permission, PermissionDef};
    pub use crate::wiring::{register, WiringDef};
    pub use inventory;
    pub use serde;
    pub use serde_json;

    use crate::middleware::SharedMiddleware;
    use crate::permission::SharedPermission;

    /// A permission of the application's types, as a function's `permissions = [...]` names it.
    pub fn permission<Sv: 'static, S: 'static, P: Permission<Sv, S>>(permission: P) -> SharedPermission<Sv, S> {
        SharedPermission::new(permission)
    }

    /// A middleware of the application's types, as a function's `middleware = [...]` names it: a
    /// `#[pikku_middleware]` function or a `SharedMiddleware` such as `auth_bearer()`.
    pub fn middleware<Sv: 'static, S: 'static, M: HttpMiddleware<Sv, S>>(middleware: M) -> SharedMiddleware<Sv, S> {
        // A strategy (`auth_bearer()`) is already a `SharedMiddleware`: keep it as it is, so the onion runs it as a
        // strategy rather than as a wrapped middleware.
        let any: Box<dyn std::any::Any> = Box::new(middleware);
        match any.downcast::<SharedMiddleware<Sv, S>>() {
            Ok(handle) => *handle,
            Err(any) => SharedMiddleware::new(*any.downcast::<M>().expect("the value is an M")),
        }
    }

    /// `TypeId` of a value's type (the function item a route names).
    pub fn type_id_of_val<T: 'static>(_: &T) -> std::any::TypeId {
        std::any::TypeId::of::<T>()
    }

    /// A function's error as a `PikkuError`. Generated code names it at the error type's span, so a missing
    /// `impl From<MyError> for PikkuError` is one error, pointing at `MyError` in the return type.
    pub fn function_error<E: Into<crate::PikkuError>>(error: E) -> crate::PikkuError {
        error.into()
    }
}
