//! The tenant a request acts for: read once by a middleware, handed to the functions as a typed value.

use pikku::prelude::*;

use crate::{Services, Session};

/// The tenant of the request (`x-tenant`): 1 to 32 lowercase letters, digits or `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tenant(pub String);

/// The header naming the tenant.
pub const TENANT_HEADER: &str = "x-tenant";

/// Reads `x-tenant` (400 when it is missing or malformed) and puts the [`Tenant`] on the request, where
/// every function finds it with `ctx.extension::<Tenant>()`.
#[pikku_middleware]
pub async fn resolve_tenant(
    _services: &Services,
    mut request: Request<Session>,
    next: Next<'_, Services, Session>,
) -> Result<Response, PikkuError> {
    let tenant = match request.headers().get(TENANT_HEADER).map(|value| value.to_str()) {
        Some(Ok(name)) if is_tenant_name(name) => Tenant(name.to_owned()),
        Some(_) => return Err(PikkuError::bad_request("`x-tenant` must be 1 to 32 of a-z, 0-9 and -")),
        None => return Err(PikkuError::bad_request("the `x-tenant` header is required")),
    };
    request.extensions_mut().insert(tenant);
    Ok(next.run(request).await)
}

fn is_tenant_name(name: &str) -> bool {
    (1..=32).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The tenant `resolve_tenant` put on the request.
pub(crate) fn tenant_of(ctx: &Context<Session>) -> Result<&Tenant, PikkuError> {
    // Only a wiring mistake (the middleware not wired for the route) gets here: the server's fault.
    ctx.extension::<Tenant>()
        .ok_or_else(|| PikkuError::internal("no Tenant on the request: is `resolve_tenant` wired?"))
}
