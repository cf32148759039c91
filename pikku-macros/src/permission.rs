//! `#[pikku_auth]` and `#[pikku_permission]`: a permission is a constant of a hidden zero-sized type
//! that implements the runtime's `Permission` trait, so `permissions = [is_admin]` type-checks and a
//! function that is not a permission is a compile error naming it. Its type is registered, so a route that
//! names it is told to use it as a permission.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::{ItemFn, Type};

use crate::signature::{
    arg_type, check_shape, companion, companion_const, expect_bool, last_segment, no_attr, shared_ref_target, type_args,
};

/// `#[pikku_auth]`; refused, a stand-in under the name (see [`rejected`]).
pub(crate) fn expand_auth(attr: TokenStream, item: TokenStream) -> TokenStream {
    generate_auth(attr, item.clone()).unwrap_or_else(|error| rejected(item, &error))
}

/// `#[pikku_permission]`; refused, a stand-in under the name (see [`rejected`]).
pub(crate) fn expand_permission(attr: TokenStream, item: TokenStream) -> TokenStream {
    generate_permission(attr, item.clone()).unwrap_or_else(|error| rejected(item, &error))
}

/// A refused permission: the error, the function as written (in a block of its own, so the errors of its
/// body are still reported), and, under its name, a stand-in that is a permission of any application, so
/// that `permissions = [it]` and `w.add_permission(it)` add no errors of their own.
fn rejected(item: TokenStream, error: &syn::Error) -> TokenStream {
    let error = error.to_compile_error();
    let Ok(item) = syn::parse2::<ItemFn>(item.clone()) else { return quote!(#item #error) };
    let name = &item.sig.ident;
    let vis = &item.vis;
    let id = name.to_string();
    let ty = companion("Rejected", name);
    quote! {
        #error

        const _: () = {
            #[allow(dead_code)]
            #item
        };

        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug)]
        #vis struct #ty;

        #[allow(non_upper_case_globals)]
        #vis const #name: #ty = #ty;

        impl<Sv: 'static, S: 'static> ::pikku::__private::Permission<Sv, S> for #ty {
            fn check<'a>(
                &'a self,
                _services: &'a Sv,
                _input: &'a ::pikku::__private::MergedInput<'_>,
                _session: ::core::option::Option<&'a S>,
            ) -> ::pikku::__private::BoxFuture<'a, ::core::result::Result<bool, ::pikku::__private::InputError>> {
                ::std::boxed::Box::pin(async { ::core::result::Result::Ok(false) })
            }

            fn name(&self) -> &'static str {
                #id
            }
        }

        impl<Sv: 'static, S: 'static> ::core::convert::From<#ty> for ::pikku::SharedPermission<Sv, S> {
            fn from(permission: #ty) -> Self {
                ::pikku::SharedPermission::new(permission)
            }
        }
    }
}

fn generate_auth(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    no_attr(attr, "pikku_auth")?;
    let item: ItemFn = syn::parse2(item)?;
    check_shape(&item, true, 2, "a #[pikku_auth] check", "(services: &Services, session: &Session) -> bool")?;
    expect_bool(&item.sig.output, item.sig.ident.span(), "a #[pikku_auth] check")?;
    let services = shared_ref_target(arg_type(&item, 0), "the first argument is the services: `services: &Services`")?;
    let session = shared_ref_target(arg_type(&item, 1), "the second argument is the session: `session: &Session`")?;
    let check = quote! {
        ::core::result::Result::Ok(match session {
            ::core::option::Option::Some(session) => self.call(services, session).await,
            // A `pikku_auth` check without a session is false (docs/permissions.md).
            ::core::option::Option::None => false,
        })
    };
    Ok(generate(&item, "Auth", services, session, check, None))
}

fn generate_permission(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    no_attr(attr, "pikku_permission")?;
    let item: ItemFn = syn::parse2(item)?;
    check_shape(
        &item,
        true,
        3,
        "a #[pikku_permission] check",
        "(services: &Services, data: View, session: Option<&Session>) -> bool",
    )?;
    expect_bool(&item.sig.output, item.sig.ident.span(), "a #[pikku_permission] check")?;
    let services = shared_ref_target(arg_type(&item, 0), "the first argument is the services: `services: &Services`")?;
    let data = arg_type(&item, 1);
    let (view, by_ref) = match data {
        Type::Reference(r) if r.mutability.is_none() => (&*r.elem, true),
        other => (other, false),
    };
    let session_arg = arg_type(&item, 2);
    let session_message = "the third argument is the session: `session: Option<&Session>` (or `&Session`, then the check is false without one)";
    let (session, optional) = match session_arg {
        Type::Reference(r) if r.mutability.is_none() => (&*r.elem, false),
        other if last_segment(other).is_some_and(|s| s.ident == "Option") => match type_args(other).as_slice() {
            [inner] => (shared_ref_target(inner, session_message)?, true),
            _ => return Err(syn::Error::new_spanned(other, session_message)),
        },
        other => return Err(syn::Error::new_spanned(other, session_message)),
    };
    let data_arg = if by_ref { quote!(&data) } else { quote!(data) };
    let call = if optional {
        quote!(self.call(services, #data_arg, session).await)
    } else {
        quote! {
            match session {
                ::core::option::Option::Some(session) => self.call(services, #data_arg, session).await,
                ::core::option::Option::None => false,
            }
        }
    };
    let check = quote! {
        // The view is read from the input the function's was read from (merged once per request); a view
        // that does not fit is the application's mistake, which the endpoint answers with a 500.
        match input.deserialize::<#view>() {
            ::core::result::Result::Ok(data) => ::core::result::Result::Ok(#call),
            ::core::result::Result::Err(error) => ::core::result::Result::Err(error),
        }
    };
    let view_text = quote!(#view).to_string();
    let data_view = quote! {
        fn data_view(&self) -> ::core::option::Option<::pikku::__private::DataView> {
            ::core::option::Option::Some(::pikku::__private::DataView {
                type_name: #view_text,
                fields: ::pikku::__private::InputFields::of::<#view>(),
            })
        }
    };
    Ok(generate(&item, "Permission", services, session, check, Some(data_view)))
}

fn generate(
    item: &ItemFn,
    kind: &str,
    services: &Type,
    session: &Type,
    check: TokenStream,
    data_view: Option<TokenStream>,
) -> TokenStream {
    let name = &item.sig.ident;
    let id = name.to_string();
    let (ty, companion) = companion_const(item, kind, "Runs the check directly (for unit tests).");
    let location = quote_spanned!(name.span()=> file: ::core::file!(), line: ::core::line!(),);
    quote! {
        #companion

        impl ::pikku::__private::Permission<#services, #session> for #ty {
            fn check<'a>(
                &'a self,
                services: &'a #services,
                input: &'a ::pikku::__private::MergedInput<'_>,
                session: ::core::option::Option<&'a #session>,
            ) -> ::pikku::__private::BoxFuture<'a, ::core::result::Result<bool, ::pikku::__private::InputError>> {
                let _ = input;
                ::std::boxed::Box::pin(async move { #check })
            }

            fn name(&self) -> &'static str {
                #id
            }

            #data_view
        }

        impl ::core::convert::From<#ty> for ::pikku::SharedPermission<#services, #session> {
            fn from(permission: #ty) -> Self {
                ::pikku::SharedPermission::new(permission)
            }
        }

        ::pikku::__private::inventory::submit! {
            ::pikku::__private::PermissionDef {
                name: #id,
                #location
                permission_type: || ::core::any::TypeId::of::<#ty>(),
            }
        }
    }
}
