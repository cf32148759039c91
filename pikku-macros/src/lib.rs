//! Procedural macros of pikku-rs. Each macro is a thin shim: the parsing and code generation live in
//! ordinary functions (`func`, `permission`, `middleware`, `wiring`) that return `syn::Result`, so misuse
//! becomes a compile error at the offending token and the generators are unit-testable.
//!
//! A refused item is not dropped: the error comes with the function as written (and, for a permission or
//! a middleware, a stand-in under its name), so the files that refer to it add no errors of their own.
//!
//! Generated code refers to the runtime through `::pikku::__private`, so an application depends on the
//! `pikku` crate only.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use proc_macro::TokenStream;

mod func;
mod middleware;
mod options;
mod permission;
mod signature;
mod wiring;

/// Registers an `async fn(services: &Services, data: Input, ctx: &Context<Session>) -> Result<Output, Error>`
/// as a pikku function. Options: `id = "..."` (default: the function's name, or its module path and name
/// when another function has that name), `auth = false` (the context becomes `&OptionalContext<Session>`),
/// `permissions = [a, b]` (AND) or `permissions = [[a], [b, c]]` (OR of ANDs), `middleware = [...]`,
/// `tags = ["..."]`, `description = "..."`.
#[proc_macro_attribute]
pub fn pikku_func(attr: TokenStream, item: TokenStream) -> TokenStream {
    func::expand(attr.into(), item.into()).into()
}

/// Turns an `async fn(services: &Services, session: &Session) -> bool` into a permission (Pikku's
/// `pikkuAuth`) usable in `permissions = [...]`. Without a session the check is `false`.
///
/// The name then holds a value whose `call(&self, ..)` runs the function as written, so a unit test calls
/// it directly: `assert!(is_admin.call(&services, &session).await)`. The same holds for
/// `#[pikku_permission]` and `#[pikku_middleware]`.
#[proc_macro_attribute]
pub fn pikku_auth(attr: TokenStream, item: TokenStream) -> TokenStream {
    permission::expand_auth(attr.into(), item.into()).into()
}

/// Turns an `async fn(services: &Services, data: View, session: Option<&Session>) -> bool` into a
/// permission (Pikku's `pikkuPermission`). `View` is any deserialisable type, read from the same input
/// as the function's (path, query and body, merged once per request), so one permission serves functions
/// of different inputs. A view that cannot be read from an input the function accepted is the
/// application's mistake: the request gets a 500 and the log names the permission and the field.
#[proc_macro_attribute]
pub fn pikku_permission(attr: TokenStream, item: TokenStream) -> TokenStream {
    permission::expand_permission(attr.into(), item.into()).into()
}

/// Turns an `async fn(services: &Services, request: Request<Session>, next: Next<'_, Services, Session>)
/// -> Result<Response, PikkuError>` into a middleware: the name holds a `SharedMiddleware<Services,
/// Session>`, listed as it is in wirings (`[timing, auth_bearer()]`) and in `middleware = [...]`.
#[proc_macro_attribute]
pub fn pikku_middleware(attr: TokenStream, item: TokenStream) -> TokenStream {
    middleware::expand(attr.into(), item.into()).into()
}

/// Registers a `fn(w: &mut Wirings<Services, Session>)` as a wiring file's declarations.
#[proc_macro_attribute]
pub fn pikku_wiring(attr: TokenStream, item: TokenStream) -> TokenStream {
    wiring::expand(attr.into(), item.into()).into()
}
