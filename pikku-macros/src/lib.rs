//! Procedural macros of pikku-rs. Each macro is a thin shim: the parsing and code generation live in
//! ordinary functions (`func`, `permission`, `middleware`, `wiring`) that return `syn::Result`, so misuse
//! becomes a compile error at the offending token and the generators are unit-testable.
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

fn expand(result: syn::Result<proc_macro2::TokenStream>) -> TokenStream {
    result.unwrap_or_else(syn::Error::into_compile_error).into()
}

/// Registers an `async fn(services: &Services, data: Input, ctx: &Context<Session>) -> Result<Output, Error>`
/// as a pikku function. Options: `auth = false` (the context becomes `&OptionalContext<Session>`),
/// `permissions = [a, b]` (AND) or `permissions = [[a], [b, c]]` (OR of ANDs), `middleware = [...]`,
/// `tags = ["..."]`, `description = "..."`.
#[proc_macro_attribute]
pub fn pikku_func(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(func::expand(attr.into(), item.into()))
}

/// Turns an `async fn(services: &Services, session: &Session) -> bool` into a permission (Pikku's
/// `pikkuAuth`) usable in `permissions = [...]`. Without a session the check is `false`.
///
/// The name then holds a value whose `call(&self, ..)` runs the function as written, so a unit test calls
/// it directly: `assert!(is_admin.call(&services, &session).await)`. The same holds for
/// `#[pikku_permission]` and `#[pikku_middleware]`.
#[proc_macro_attribute]
pub fn pikku_auth(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(permission::expand_auth(attr.into(), item.into()))
}

/// Turns an `async fn(services: &Services, data: View, session: Option<&Session>) -> bool` into a
/// permission (Pikku's `pikkuPermission`). `View` is any deserialisable type, read from the same input
/// as the function's (path, query and body, merged once per request), so one permission serves functions
/// of different inputs. A view that does not fit the input denies.
#[proc_macro_attribute]
pub fn pikku_permission(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(permission::expand_permission(attr.into(), item.into()))
}

/// Turns an `async fn(services: &Services, request: Request<Session>, next: Next<'_, Services, Session>)
/// -> Result<Response, PikkuError>` into a middleware usable in wirings and `middleware = [...]`.
#[proc_macro_attribute]
pub fn pikku_middleware(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(middleware::expand(attr.into(), item.into()))
}

/// Registers a `fn(w: &mut Wirings<Services, Session>)` as a wiring file's declarations.
#[proc_macro_attribute]
pub fn pikku_wiring(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(wiring::expand(attr.into(), item.into()))
}
