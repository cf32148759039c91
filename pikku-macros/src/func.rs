//! `#[pikku_func]`: keeps the function as written and registers a typed handler for it.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{ItemFn, Type};

use crate::options::{self, FuncOptions};
use crate::signature::{arg_type, check_shape, last_segment, path_text, result_types, shared_ref_target, type_args};

const EXPECTED: &str = "(services: &Services, data: Input, ctx: &Context<Session>) -> Result<Output, PikkuError>";

/// The parts of a function signature the handler is generated from.
struct FuncModel<'a> {
    services: &'a Type,
    input: &'a Type,
    context: &'a Type,
    session: &'a Type,
    output: &'a Type,
    error: &'a Type,
}

fn model<'a>(item: &'a ItemFn, options: &FuncOptions) -> syn::Result<FuncModel<'a>> {
    check_shape(item, true, 3, "a pikku function", EXPECTED)?;
    let services = shared_ref_target(
        arg_type(item, 0),
        "the first argument is the services, by shared reference: `services: &Services`",
    )?;
    let input = arg_type(item, 1);
    let context_arg = arg_type(item, 2);
    let context = shared_ref_target(
        context_arg,
        "the third argument is the context, by reference: `ctx: &Context<Session>` (or `&OptionalContext<Session>` with `auth = false`)",
    )?;
    let kind = last_segment(context).map(|s| s.ident.to_string()).unwrap_or_default();
    let session = match (kind.as_str(), type_args(context).as_slice()) {
        ("Context" | "OptionalContext", [session]) => *session,
        _ => {
            return Err(syn::Error::new_spanned(
                context_arg,
                "the context is `&Context<Session>` (session required) or `&OptionalContext<Session>` (with `auth = false`)",
            ))
        }
    };
    match (kind.as_str(), options.requires_session()) {
        ("Context", false) => {
            return Err(syn::Error::new_spanned(
                context_arg,
                "an `auth = false` function may run without a session, so it cannot take `&Context<_>`, which guarantees one: take `ctx: &OptionalContext<Session>` and handle `ctx.session()` being `None`",
            ))
        }
        ("OptionalContext", true) => {
            return Err(syn::Error::new_spanned(
                context_arg,
                "this function requires a session (the default), so its context is `&Context<Session>`; to allow requests without one, add `auth = false`",
            ))
        }
        _ => {}
    }
    let (output, error) = result_types(
        &item.sig.output,
        item.sig.ident.span(),
        "a pikku function returns `Result<Output, Error>` where `Error: Into<PikkuError>`: write `-> Result<Output, PikkuError>` (`Result<(), PikkuError>` for no output)",
    )?;
    Ok(FuncModel { services, input, context, session, output, error })
}

/// The function as written and its registration; when the attribute is refused, the function as written
/// and the error, so what refers to it (a route in a wiring file) compiles and the error stands alone.
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
    let options = options::parse(attr)?;
    let item: ItemFn = syn::parse2(item)?;
    let FuncModel { services, input, context, session, output, error } = model(&item, &options)?;
    let name = &item.sig.ident;
    let fn_name = name.to_string();
    let explicit_id = match &options.id {
        Some(id) => quote!(::core::option::Option::Some(#id)),
        None => quote!(::core::option::Option::None),
    };
    let auth = options.requires_session();
    let description = options.description.as_ref().map(|d| d.value()).unwrap_or_default();
    let docs = doc_text(&item.attrs);
    let responses = &options.responses;
    let tags = &options.tags;
    let permission_names = options.permissions.iter().map(|group| {
        let names = group.iter().map(path_text);
        quote!(&[#(#names),*])
    });
    let permission_groups = options.permissions.iter().map(|group| {
        let checks = group
            .iter()
            .map(|path| quote_spanned!(path.span()=> ::pikku::__private::permission::<#services, #session, _>(#path)));
        quote!(::std::vec![#(#checks),*])
    });
    let middleware_names = options.middleware.iter().map(|m| quote!(#m).to_string().replace(' ', ""));
    let middleware = options
        .middleware
        .iter()
        .map(|m| quote_spanned!(m.span()=> ::pikku::__private::middleware::<#services, #session, _>(#m)));
    let input_text = quote!(#input).to_string();
    let output_text = quote!(#output).to_string();
    let location = quote_spanned!(name.span()=> file: ::core::file!(), line: ::core::line!(),);
    // Named at the error type, so a missing `impl From<MyError> for PikkuError` is one error, there.
    let into_pikku_error = quote_spanned!(error.span()=> |__pikku_error: #error| ::pikku::__private::function_error::<#error>(__pikku_error));

    Ok(quote! {
        #item

        const _: () = {
            struct __PikkuFunction;

            impl ::pikku::__private::PikkuFunction for __PikkuFunction {
                type Services = #services;
                type Session = #session;
                type Input = #input;
                type Output = #output;
                type Context = #context;

                fn call<'a>(
                    services: &'a #services,
                    data: #input,
                    context: &'a #context,
                ) -> impl ::core::future::Future<Output = ::core::result::Result<#output, ::pikku::PikkuError>> + ::core::marker::Send + 'a {
                    async move { #name(services, data, context).await.map_err(#into_pikku_error) }
                }
            }

            ::pikku::__private::inventory::submit! {
                ::pikku::__private::FunctionDef {
                    name: #fn_name,
                    explicit_id: #explicit_id,
                    module_path: ::core::module_path!(),
                    auth: #auth,
                    permissions: &[#(#permission_names),*],
                    middleware: &[#(#middleware_names),*],
                    tags: &[#(#tags),*],
                    description: #description,
                    docs: #docs,
                    responses: &[#(#responses),*],
                    input_type: #input_text,
                    output_type: #output_text,
                    input_fields: ::pikku::__private::InputFields::of::<#input>,
                    input_doc: || {
                        #[allow(unused_imports)]
                        use ::pikku::__private::{FallbackProbe as _, JsonSchemaProbe as _};
                        ::pikku::__private::input_doc::<#input>((&::pikku::__private::Probe::<#input>::new()).schema_fn())
                    },
                    output_doc: || {
                        #[allow(unused_imports)]
                        use ::pikku::__private::{FallbackProbe as _, JsonSchemaProbe as _};
                        // Through the function's impl, whose `Output` bound already reports an output that is
                        // not one, so that mistake stays one error.
                        ::pikku::__private::output_doc::<__PikkuFunction>(
                            (&::pikku::__private::Probe::<#output>::new()).schema_fn(),
                        )
                    },
                    #location
                    function_type: || ::pikku::__private::type_id_of_val(&#name),
                    install: |slot| ::pikku::__private::install::<__PikkuFunction>(
                        slot,
                        || ::std::vec![#(#permission_groups),*],
                        || ::std::vec![#(#middleware),*],
                    ),
                }
            }
        };
    })
}

/// The doc comment, lines joined with `\n`, the one space after each `///` removed.
fn doc_text(attrs: &[syn::Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|attr| attr.path().is_ident("doc"))
        .filter_map(|attr| match &attr.meta {
            syn::Meta::NameValue(syn::MetaNameValue {
                value: syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(text), .. }),
                ..
            }) => Some(text.value()),
            _ => None,
        })
        .map(|line| line.strip_prefix(' ').unwrap_or(&line).trim_end().to_owned())
        .collect();
    lines.join("\n").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(attr: TokenStream, item: TokenStream) -> String {
        generate(attr, item).err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn generates_a_registration_for_a_well_formed_function() {
        let out = generate(
            quote!(permissions = [is_admin]),
            quote!(
                async fn f(s: &Services, d: (), c: &Context<Session>) -> Result<Out, PikkuError> {
                    todo!()
                }
            ),
        )
        .unwrap()
        .to_string();
        assert!(out.contains("FunctionDef"));
        assert!(out.contains("\"is_admin\""));
        assert!(out.contains("type Session = Session"));
        assert!(out.contains("explicit_id : :: core :: option :: Option :: None"), "{out}");
    }

    #[test]
    fn an_explicit_id_is_registered() {
        let out = generate(
            quote!(id = "projects.list"),
            quote!(
                async fn list(s: &Services, d: (), c: &Context<Session>) -> Result<Out, PikkuError> {
                    todo!()
                }
            ),
        )
        .unwrap()
        .to_string();
        assert!(out.contains("explicit_id : :: core :: option :: Option :: Some (\"projects.list\")"), "{out}");
    }

    #[test]
    fn a_refused_function_is_kept_beside_the_error() {
        let item = quote!(
            fn f(s: &S, d: (), c: &Context<X>) -> Result<(), E> {}
        );
        let out = expand(quote!(), item.clone()).to_string();
        assert!(out.starts_with(&item.to_string()), "{out}");
        assert!(out.contains("compile_error"), "{out}");
    }

    #[test]
    fn refuses_what_it_cannot_register() {
        assert!(error(
            quote!(),
            quote!(
                fn f(s: &S, d: (), c: &Context<X>) -> Result<(), E> {}
            )
        )
        .contains("must be `async`"));
        assert!(error(
            quote!(),
            quote!(
                async fn f(s: &S) -> Result<(), E> {}
            )
        )
        .contains("takes exactly 3 arguments"));
        assert!(error(
            quote!(),
            quote!(
                async fn f(s: S, d: (), c: &Context<X>) -> Result<(), E> {}
            )
        )
        .contains("services, by shared reference"));
        assert!(error(
            quote!(auth = false),
            quote!(
                async fn f(s: &S, d: (), c: &Context<X>) -> Result<(), E> {}
            )
        )
        .contains("take `ctx: &OptionalContext<Session>`"));
        assert!(error(
            quote!(),
            quote!(
                async fn f(s: &S, d: (), c: &OptionalContext<X>) -> Result<(), E> {}
            )
        )
        .contains("add `auth = false`"));
        assert!(error(
            quote!(),
            quote!(
                async fn f(s: &S, d: (), c: &Context<X>) -> u32 {}
            )
        )
        .contains("returns `Result<Output, Error>`"));
    }
}
