//! `#[pikku_middleware]`: a middleware is a constant of a hidden zero-sized type implementing the
//! runtime's `HttpMiddleware`, usable in wirings (`.into()`) and in `middleware = [...]`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemFn;

use crate::signature::{arg_type, check_shape, companion_const, last_segment, no_attr, shared_ref_target, type_args};

const EXPECTED: &str = "(services: &Services, request: Request<Session>, next: Next<'_, Services, Session>) -> Result<Response, PikkuError>";

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    no_attr(attr, "pikku_middleware")?;
    let item: ItemFn = syn::parse2(item)?;
    check_shape(&item, true, 3, "a #[pikku_middleware] function", EXPECTED)?;
    let services = shared_ref_target(arg_type(&item, 0), "the first argument is the services: `services: &Services`")?;
    let request = arg_type(&item, 1);
    let session = match (last_segment(request), type_args(request).as_slice()) {
        (Some(segment), [session]) if segment.ident == "Request" => *session,
        _ => {
            return Err(syn::Error::new_spanned(
                request,
                "the second argument is the request, by value: `request: Request<Session>`",
            ))
        }
    };
    let next = arg_type(&item, 2);
    if last_segment(next).is_none_or(|s| s.ident != "Next") {
        return Err(syn::Error::new_spanned(
            next,
            "the third argument is the rest of the chain: `next: Next<'_, Services, Session>`",
        ));
    }
    let name = &item.sig.ident;
    let id = name.to_string();
    let (ty, companion) = companion_const(&item, "Middleware", "Runs the middleware directly.");
    Ok(quote! {
        #companion

        impl ::pikku::__private::HttpMiddleware<#services, #session> for #ty {
            fn handle<'a>(
                &'a self,
                services: &'a #services,
                request: ::pikku::Request<#session>,
                next: ::pikku::Next<'a, #services, #session>,
            ) -> ::pikku::__private::BoxFuture<'a, ::core::result::Result<::pikku::Response, ::pikku::PikkuError>> {
                ::std::boxed::Box::pin(self.call(services, request, next))
            }

            fn name(&self) -> &str {
                #id
            }
        }

        impl ::core::convert::From<#ty> for ::pikku::SharedMiddleware<#services, #session> {
            fn from(middleware: #ty) -> Self {
                ::pikku::SharedMiddleware::new(middleware)
            }
        }
    })
}
