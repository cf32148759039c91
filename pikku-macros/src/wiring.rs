//! `#[pikku_wiring]`: registers a wiring function, found by the runtime at start-up.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::{ItemFn, Type};

use crate::signature::{arg_type, check_shape, last_segment, no_attr};

/// The wiring function and its registration; refused, the function as written beside the error.
pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    match generate(attr, item.clone()) {
        Ok(tokens) => tokens,
        Err(error) => {
            let error = error.into_compile_error();
            quote!(#item #error)
        }
    }
}

fn generate(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    no_attr(attr, "pikku_wiring")?;
    let item: ItemFn = syn::parse2(item)?;
    check_shape(&item, false, 1, "a #[pikku_wiring] function", "(w: &mut Wirings<Services, Session>)")?;
    let arg = arg_type(&item, 0);
    let is_wirings = matches!(arg, Type::Reference(r) if r.mutability.is_some() && last_segment(&r.elem).is_some_and(|s| s.ident == "Wirings"));
    if !is_wirings {
        return Err(syn::Error::new_spanned(
            arg,
            "a wiring function takes the wirings mutably: `w: &mut Wirings<Services, Session>`",
        ));
    }
    let name = &item.sig.ident;
    let id = name.to_string();
    let location = quote_spanned!(name.span()=> file: ::core::file!(), line: ::core::line!(),);
    Ok(quote! {
        #item

        ::pikku::__private::inventory::submit! {
            ::pikku::__private::WiringDef {
                name: #id,
                #location
                register: |target| ::pikku::__private::register(target, #name),
                // `option_env!`: a build without Cargo (Bazel, Buck) sets none of these, and still compiles.
                package: match ::core::option_env!("CARGO_PKG_NAME") { ::core::option::Option::Some(v) => v, ::core::option::Option::None => "" },
                package_version: match ::core::option_env!("CARGO_PKG_VERSION") { ::core::option::Option::Some(v) => v, ::core::option::Option::None => "" },
                package_description: match ::core::option_env!("CARGO_PKG_DESCRIPTION") { ::core::option::Option::Some(v) => v, ::core::option::Option::None => "" },
            }
        }
    })
}
