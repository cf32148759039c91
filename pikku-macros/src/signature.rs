//! Reading the parts of a signature the generated code needs, with errors that say what to write.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, ItemFn, PathArguments, ReturnType, Type, TypePath};

pub(crate) fn no_attr(attr: proc_macro2::TokenStream, macro_name: &str) -> syn::Result<()> {
    if attr.is_empty() {
        Ok(())
    } else {
        Err(syn::Error::new_spanned(attr, format!("#[{macro_name}] takes no options")))
    }
}

/// Checks the parts every macro shares: `async` (or not), no generics, no `self`, and the arity.
pub(crate) fn check_shape(
    item: &ItemFn,
    want_async: bool,
    arity: usize,
    what: &str,
    expected: &str,
) -> syn::Result<()> {
    let sig = &item.sig;
    if want_async && sig.asyncness.is_none() {
        return Err(syn::Error::new(
            sig.fn_token.span,
            format!("{what} must be `async`: write `async fn {}{expected}`", sig.ident),
        ));
    }
    if !want_async && sig.asyncness.is_some() {
        return Err(syn::Error::new(sig.asyncness.span(), format!("{what} is not async: remove `async`")));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        let message = format!("{what} cannot be generic: name the concrete types");
        return Err(if sig.generics.params.is_empty() {
            syn::Error::new_spanned(&sig.generics.where_clause, message)
        } else {
            syn::Error::new_spanned(&sig.generics, message)
        });
    }
    if let Some(FnArg::Receiver(receiver)) = sig.inputs.first() {
        return Err(syn::Error::new_spanned(
            receiver,
            format!("{what} is a free function, not a method: remove `self`"),
        ));
    }
    if sig.inputs.len() != arity {
        let message = format!(
            "{what} takes exactly {arity} arguments, found {}: write `{}fn {}{expected}`",
            sig.inputs.len(),
            if want_async { "async " } else { "" },
            sig.ident
        );
        return Err(if sig.inputs.is_empty() {
            syn::Error::new(sig.paren_token.span.join(), message)
        } else {
            syn::Error::new_spanned(&sig.inputs, message)
        });
    }
    Ok(())
}

pub(crate) fn arg_type(item: &ItemFn, index: usize) -> &Type {
    match &item.sig.inputs[index] {
        FnArg::Typed(pat) => &pat.ty,
        FnArg::Receiver(_) => unreachable!("receivers are refused by check_shape"),
    }
}

/// `&T` → `T`, else an error at the type saying what to write.
pub(crate) fn shared_ref_target<'t>(ty: &'t Type, message: &str) -> syn::Result<&'t Type> {
    match ty {
        Type::Reference(r) if r.mutability.is_none() => Ok(&r.elem),
        _ => Err(syn::Error::new_spanned(ty, message)),
    }
}

/// The last path segment of a type, when it is a path.
pub(crate) fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(TypePath { qself: None, path }) => path.segments.last(),
        _ => None,
    }
}

/// The type arguments of the last path segment.
pub(crate) fn type_args(ty: &Type) -> Vec<&Type> {
    let Some(segment) = last_segment(ty) else { return Vec::new() };
    let PathArguments::AngleBracketed(args) = &segment.arguments else { return Vec::new() };
    args.args
        .iter()
        .filter_map(|arg| match arg {
            GenericArgument::Type(t) => Some(t),
            _ => None,
        })
        .collect()
}

/// `-> Result<T, E>` → (T, E).
pub(crate) fn result_types<'t>(
    output: &'t ReturnType,
    fallback: Span,
    message: &str,
) -> syn::Result<(&'t Type, &'t Type)> {
    let ReturnType::Type(_, ty) = output else {
        return Err(syn::Error::new(fallback, message));
    };
    let is_result = last_segment(ty).is_some_and(|s| s.ident == "Result");
    let args = type_args(ty);
    if !is_result || args.len() != 2 {
        return Err(syn::Error::new_spanned(ty, message));
    }
    Ok((args[0], args[1]))
}

/// `-> bool`, else an error.
pub(crate) fn expect_bool(output: &ReturnType, fallback: Span, what: &str) -> syn::Result<()> {
    let ok = matches!(output, ReturnType::Type(_, ty) if last_segment(ty).is_some_and(|s| s.ident == "bool" && s.arguments.is_empty()));
    if ok {
        Ok(())
    } else {
        let message = format!("{what} returns `bool`: `true` lets the request through");
        Err(match output {
            ReturnType::Type(_, ty) => syn::Error::new_spanned(ty, message),
            ReturnType::Default => syn::Error::new(fallback, message),
        })
    }
}

/// A path expression as `a::b::c`, for names printed by `info`.
pub(crate) fn path_text(path: &syn::Path) -> String {
    path.segments.iter().map(|s| s.ident.to_string()).collect::<Vec<_>>().join("::")
}

/// A hidden companion type name, `__Pikku<Kind>_<name>`.
pub(crate) fn companion(kind: &str, ident: &syn::Ident) -> syn::Ident {
    syn::Ident::new(&format!("__Pikku{kind}_{ident}"), ident.span())
}

/// What `#[pikku_auth]`, `#[pikku_permission]` and `#[pikku_middleware]` turn a function into: a hidden
/// zero-sized type with the function's body as its `call(&self, ..)`, and a constant of that type under the
/// function's name, so the name can be listed (`permissions = [is_admin]`) and type-checked, and a unit test
/// calls it as `is_admin.call(&services, &session).await`.
pub(crate) fn companion_const(
    item: &syn::ItemFn,
    kind: &str,
    call_doc: &str,
) -> (syn::Ident, proc_macro2::TokenStream) {
    let name = &item.sig.ident;
    let vis = &item.vis;
    let attrs = &item.attrs;
    let ty = companion(kind, name);
    let mut call_sig = item.sig.clone();
    call_sig.ident = syn::Ident::new("call", name.span());
    // A method of the constant, so `is_admin.call(&services, &session)` reads like the function it was.
    call_sig.inputs.insert(0, syn::parse_quote_spanned!(name.span()=> &self));
    let body = &item.block;
    let tokens = quote::quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug)]
        #vis struct #ty;

        #(#attrs)*
        #[allow(non_upper_case_globals)]
        #vis const #name: #ty = #ty;

        impl #ty {
            #[doc = #call_doc]
            #vis #call_sig #body
        }
    };
    (ty, tokens)
}
