//! `#[pikku_middleware]`: the function's name becomes a constant `SharedMiddleware<Services, Session>`, the
//! one type every middleware and strategy has, so a wiring lists them as they are: `[timing, auth_bearer()]`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{ItemFn, Type};

use crate::signature::{arg_type, check_shape, companion, last_segment, no_attr, shared_ref_target, type_args};

const EXPECTED: &str = "(services: &Services, request: Request<Session>, next: Next<'_, Services, Session>) -> Result<Response, PikkuError>";

/// `#[pikku_middleware]`; refused, a stand-in under the name (see [`rejected`]).
pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    generate(attr, item.clone()).unwrap_or_else(|error| rejected(item, &error))
}

fn services_type(item: &ItemFn) -> Option<&Type> {
    match item.sig.inputs.first()? {
        syn::FnArg::Typed(arg) => shared_ref_target(&arg.ty, "").ok(),
        syn::FnArg::Receiver(_) => None,
    }
}

fn session_type(item: &ItemFn) -> Option<&Type> {
    if item.sig.inputs.len() < 2 || matches!(item.sig.inputs[1], syn::FnArg::Receiver(_)) {
        return None;
    }
    let request = arg_type(item, 1);
    match (last_segment(request), type_args(request).as_slice()) {
        (Some(segment), [session]) if segment.ident == "Request" => Some(*session),
        _ => None,
    }
}

fn generate(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    no_attr(attr, "pikku_middleware")?;
    let item: ItemFn = syn::parse2(item)?;
    check_shape(&item, true, 3, "a #[pikku_middleware] function", EXPECTED)?;
    let services = shared_ref_target(arg_type(&item, 0), "the first argument is the services: `services: &Services`")?;
    let Some(session) = session_type(&item) else {
        return Err(syn::Error::new_spanned(
            arg_type(&item, 1),
            "the second argument is the request, by value: `request: Request<Session>`",
        ));
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
    let vis = &item.vis;
    let attrs = &item.attrs;
    // The function as written lives in the constant's initializer, out of the module's namespace: the name
    // is the constant's.
    let mut function = item.clone();
    function.attrs.clear();
    function.vis = syn::Visibility::Inherited;
    Ok(quote! {
        #(#attrs)*
        #[allow(non_upper_case_globals)]
        #vis const #name: ::pikku::SharedMiddleware<#services, #session> = ::pikku::SharedMiddleware::from_fn(#id, {
            #function

            fn handle<'a>(
                services: &'a #services,
                request: ::pikku::Request<#session>,
                next: ::pikku::Next<'a, #services, #session>,
            ) -> ::pikku::__private::BoxFuture<'a, ::core::result::Result<::pikku::Response, ::pikku::PikkuError>> {
                ::std::boxed::Box::pin(#name(services, request, next))
            }

            handle
        });
    })
}

/// A refused middleware: the error, the function as written (in a block of its own, so the errors of its
/// body are still reported), and a stand-in under its name, so that wirings and `middleware = [..]` that
/// list it add no errors of their own: a `SharedMiddleware` of the signature's types when they can be
/// read, else a value that any application's middleware lists accept one at a time.
fn rejected(item: TokenStream, error: &syn::Error) -> TokenStream {
    let error = error.to_compile_error();
    let Ok(item) = syn::parse2::<ItemFn>(item.clone()) else { return quote!(#item #error) };
    let name = &item.sig.ident;
    let vis = &item.vis;
    let id = name.to_string();
    let stand_in = match (services_type(&item), session_type(&item)) {
        (Some(services), Some(session)) => quote! {
            #[allow(non_upper_case_globals)]
            #vis const #name: ::pikku::SharedMiddleware<#services, #session> = ::pikku::SharedMiddleware::from_fn(#id, {
                fn handle<'a>(
                    _: &'a #services,
                    _: ::pikku::Request<#session>,
                    _: ::pikku::Next<'a, #services, #session>,
                ) -> ::pikku::__private::BoxFuture<'a, ::core::result::Result<::pikku::Response, ::pikku::PikkuError>> {
                    ::core::unreachable!("a refused #[pikku_middleware] is never compiled into a program")
                }
                handle
            });
        },
        _ => {
            let ty = companion("Rejected", name);
            quote! {
                #[doc(hidden)]
                #[allow(non_camel_case_types)]
                #[derive(Clone, Copy, Debug)]
                #vis struct #ty;

                #[allow(non_upper_case_globals)]
                #vis const #name: #ty = #ty;

                impl<Sv: 'static, S: 'static> ::pikku::__private::HttpMiddleware<Sv, S> for #ty {
                    fn handle<'a>(
                        &'a self,
                        _: &'a Sv,
                        _: ::pikku::Request<S>,
                        _: ::pikku::Next<'a, Sv, S>,
                    ) -> ::pikku::__private::BoxFuture<'a, ::core::result::Result<::pikku::Response, ::pikku::PikkuError>> {
                        ::core::unreachable!("a refused #[pikku_middleware] is never compiled into a program")
                    }

                    fn name(&self) -> &str {
                        #id
                    }
                }
            }
        }
    };
    quote! {
        #error

        const _: () = {
            #[allow(dead_code)]
            #item
        };

        #stand_in
    }
}
