//! `#[pikku_auth]` and `#[pikku_permission]`: a permission is a constant of a hidden zero-sized type
//! that implements the runtime's `Permission` trait, so `permissions = [is_admin]` type-checks and a
//! function that is not a permission is a compile error naming it.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{ItemFn, Type};

use crate::signature::{
    arg_type, check_shape, companion_const, expect_bool, last_segment, no_attr, shared_ref_target, type_args,
};

pub(crate) fn expand_auth(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    no_attr(attr, "pikku_auth")?;
    let item: ItemFn = syn::parse2(item)?;
    check_shape(&item, true, 2, "a #[pikku_auth] check", "(services: &Services, session: &Session) -> bool")?;
    expect_bool(&item.sig.output, item.sig.ident.span(), "a #[pikku_auth] check")?;
    let services = shared_ref_target(arg_type(&item, 0), "the first argument is the services: `services: &Services`")?;
    let session = shared_ref_target(arg_type(&item, 1), "the second argument is the session: `session: &Session`")?;
    let check = quote! {
        match session {
            ::core::option::Option::Some(session) => self.call(services, session).await,
            // A `pikku_auth` check without a session is false (docs/permissions.md).
            ::core::option::Option::None => false,
        }
    };
    Ok(generate(&item, "Auth", services, session, check))
}

pub(crate) fn expand_permission(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
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
        // that does not fit denies.
        match input.deserialize::<#view>() {
            ::core::result::Result::Ok(data) => #call,
            ::core::result::Result::Err(_) => false,
        }
    };
    Ok(generate(&item, "Permission", services, session, check))
}

fn generate(item: &ItemFn, kind: &str, services: &Type, session: &Type, check: TokenStream) -> TokenStream {
    let name = &item.sig.ident;
    let id = name.to_string();
    let (ty, companion) = companion_const(item, kind, "Runs the check directly (for unit tests).");
    quote! {
        #companion

        impl ::pikku::__private::Permission<#services, #session> for #ty {
            fn check<'a>(
                &'a self,
                services: &'a #services,
                input: &'a ::pikku::__private::MergedInput<'_>,
                session: ::core::option::Option<&'a #session>,
            ) -> ::pikku::__private::BoxFuture<'a, bool> {
                let _ = input;
                ::std::boxed::Box::pin(async move { #check })
            }

            fn name(&self) -> &'static str {
                #id
            }
        }

        impl ::core::convert::From<#ty> for ::pikku::SharedPermission<#services, #session> {
            fn from(permission: #ty) -> Self {
                ::pikku::SharedPermission::new(permission)
            }
        }
    }
}
