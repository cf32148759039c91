//! The options of `#[pikku_func(...)]`.

use syn::parse::ParseStream;
use syn::{Expr, LitBool, LitStr, Path};

const KNOWN: &str = "`id`, `auth`, `permissions`, `middleware`, `tags`, `description`, `responses`";

/// What a function declares about itself.
#[derive(Default)]
pub(crate) struct FuncOptions {
    /// The function's id, when it is not to be derived from its name.
    pub(crate) id: Option<LitStr>,
    pub(crate) auth: Option<LitBool>,
    /// OR of AND-groups; one group for a plain list.
    pub(crate) permissions: Vec<Vec<Path>>,
    pub(crate) middleware: Vec<Expr>,
    pub(crate) tags: Vec<LitStr>,
    pub(crate) description: Option<LitStr>,
    /// Statuses the function answers besides 200/204 and the pipeline's own (a `Reply`'s 201, a 409 of its
    /// own error type), for the OpenAPI document.
    pub(crate) responses: Vec<u16>,
}

impl FuncOptions {
    pub(crate) fn requires_session(&self) -> bool {
        self.auth.as_ref().is_none_or(|b| b.value)
    }
}

pub(crate) fn parse(attr: proc_macro2::TokenStream) -> syn::Result<FuncOptions> {
    let mut options = FuncOptions::default();
    let mut seen: Vec<String> = Vec::new();
    let parser = syn::meta::parser(|meta| {
        let name = meta.path.get_ident().map(ToString::to_string).unwrap_or_default();
        if !["id", "auth", "permissions", "middleware", "tags", "description", "responses"].contains(&name.as_str()) {
            return Err(meta.error(format!("unknown option `{}`; the options are {KNOWN}", path_display(&meta.path))));
        }
        if seen.contains(&name) {
            return Err(meta.error(format!("duplicate option `{name}`: give it once")));
        }
        seen.push(name.clone());
        let value = meta.value().map_err(|_| meta.error(format!("`{name}` needs a value: `{name} = ...`")))?;
        match name.as_str() {
            "id" => options.id = Some(parse_id(value)?),
            "auth" => options.auth = Some(parse_bool(value)?),
            "permissions" => options.permissions = parse_permissions(value)?,
            "middleware" => options.middleware = parse_array(value, "middleware")?,
            "tags" => options.tags = parse_tags(value)?,
            "description" => {
                options.description = Some(value.parse().map_err(|e| {
                    syn::Error::new(e.span(), "`description` takes a string literal: `description = \"...\"`")
                })?)
            }
            "responses" => options.responses = parse_responses(value)?,
            _ => unreachable!("checked above"),
        }
        Ok(())
    });
    syn::parse::Parser::parse2(parser, attr)?;
    Ok(options)
}

fn path_display(path: &Path) -> String {
    crate::signature::path_text(path)
}

/// An id is a name tools can use as it is (issue 12's OpenAPI `operationId`): no spaces, no punctuation
/// beyond `_`, `-`, `.` and `:`.
fn parse_id(value: ParseStream<'_>) -> syn::Result<LitStr> {
    const WHAT: &str =
        "`id` is a non-empty string of letters, digits, `_`, `-`, `.` and `:`, such as `id = \"projects.list\"`";
    let expr: Expr = value.parse()?;
    match &expr {
        Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(id), .. }) => {
            let text = id.value();
            if text.is_empty() || !text.chars().all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c)) {
                return Err(syn::Error::new_spanned(id, WHAT));
            }
            Ok(id.clone())
        }
        other => Err(syn::Error::new_spanned(other, WHAT)),
    }
}

fn parse_bool(value: ParseStream<'_>) -> syn::Result<LitBool> {
    let expr: Expr = value.parse()?;
    match &expr {
        Expr::Lit(syn::ExprLit { lit: syn::Lit::Bool(b), .. }) => Ok(b.clone()),
        other => Err(syn::Error::new_spanned(
            other,
            "`auth` takes `true` or `false`: write `auth = false` for a function that may run without a session",
        )),
    }
}

fn parse_array(value: ParseStream<'_>, name: &str) -> syn::Result<Vec<Expr>> {
    let expr: Expr = value.parse()?;
    match expr {
        Expr::Array(array) => Ok(array.elems.into_iter().collect()),
        other => Err(syn::Error::new_spanned(other, format!("`{name}` takes a list: `{name} = [...]`"))),
    }
}

fn parse_permissions(value: ParseStream<'_>) -> syn::Result<Vec<Vec<Path>>> {
    let items = parse_array(value, "permissions")?;
    let nested = items.iter().filter(|e| matches!(e, Expr::Array(_))).count();
    if nested == 0 {
        return Ok(vec![items.iter().map(permission_path).collect::<syn::Result<_>>()?]);
    }
    if nested != items.len() {
        let flat = items.iter().find(|e| !matches!(e, Expr::Array(_))).expect("some item is not a list");
        return Err(syn::Error::new_spanned(
            flat,
            "mix of permissions and groups: write either `[a, b]` (all must pass) or `[[a], [b, c]]` (one group must pass)",
        ));
    }
    items
        .iter()
        .map(|group| match group {
            Expr::Array(array) => array.elems.iter().map(permission_path).collect(),
            _ => unreachable!("all items are lists"),
        })
        .collect()
}

fn permission_path(expr: &Expr) -> syn::Result<Path> {
    match expr {
        Expr::Path(p) if p.qself.is_none() => Ok(p.path.clone()),
        other => Err(syn::Error::new_spanned(
            other,
            "a permission is named by its path: `permissions = [is_admin]`, where `is_admin` is a #[pikku_auth] or #[pikku_permission] fn",
        )),
    }
}

fn parse_responses(value: ParseStream<'_>) -> syn::Result<Vec<u16>> {
    const WHAT: &str = "a response is an HTTP status from 100 to 599: `responses = [201, 409]`";
    let mut statuses = Vec::new();
    for item in parse_array(value, "responses")? {
        let status = match &item {
            Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(int), .. }) => int.base10_parse::<u16>().ok(),
            _ => None,
        };
        match status {
            Some(status) if (100..=599).contains(&status) && !statuses.contains(&status) => statuses.push(status),
            Some(status) if statuses.contains(&status) => {
                return Err(syn::Error::new_spanned(item, format!("{status} is listed twice: give it once")))
            }
            _ => return Err(syn::Error::new_spanned(item, WHAT)),
        }
    }
    Ok(statuses)
}

fn parse_tags(value: ParseStream<'_>) -> syn::Result<Vec<LitStr>> {
    parse_array(value, "tags")?
        .into_iter()
        .map(|e| match e {
            Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => Ok(s),
            other => Err(syn::Error::new_spanned(other, "a tag is a string literal: `tags = [\"admin\"]`")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn parses_every_option() {
        let o = parse(quote!(
            id = "things.read",
            auth = false,
            permissions = [a, b::c],
            middleware = [m()],
            tags = ["x"],
            description = "d",
            responses = [201, 409]
        ))
        .unwrap();
        assert_eq!(o.id.as_ref().unwrap().value(), "things.read");
        assert!(!o.requires_session());
        assert_eq!(o.permissions.len(), 1);
        assert_eq!(o.permissions[0].len(), 2);
        assert_eq!(o.middleware.len(), 1);
        assert_eq!(o.tags[0].value(), "x");
        assert_eq!(o.description.unwrap().value(), "d");
        assert_eq!(o.responses, [201, 409]);
    }

    #[test]
    fn nested_permission_lists_are_groups() {
        let o = parse(quote!(permissions = [[a], [b, c]])).unwrap();
        assert_eq!(o.permissions.iter().map(Vec::len).collect::<Vec<_>>(), vec![1, 2]);
    }

    #[test]
    fn misuse_is_reported() {
        let message = |ts| parse(ts).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message(quote!(auht = false)).starts_with("unknown option `auht`"));
        assert!(message(quote!(auth = false, auth = true)).starts_with("duplicate option `auth`"));
        assert!(message(quote!(auth = "no")).starts_with("`auth` takes `true` or `false`"));
        assert!(message(quote!(permissions = [a, [b]])).starts_with("mix of permissions and groups"));
        assert!(message(quote!(permissions = ["a"])).starts_with("a permission is named by its path"));
        assert!(message(quote!(tags = [x])).starts_with("a tag is a string literal"));
        assert!(message(quote!(id = "")).starts_with("`id` is a non-empty string"));
        assert!(message(quote!(id = "list things")).starts_with("`id` is a non-empty string"));
        assert!(message(quote!(id = list)).starts_with("`id` is a non-empty string"));
        assert!(message(quote!(responses = [99])).starts_with("a response is an HTTP status"));
        assert!(message(quote!(responses = ["201"])).starts_with("a response is an HTTP status"));
        assert!(message(quote!(responses = [201, 201])).starts_with("201 is listed twice"));
        assert!(message(quote!(responses = 201)).starts_with("`responses` takes a list"));
    }

    #[test]
    fn no_options_means_a_session_is_required() {
        assert!(parse(quote!()).unwrap().requires_session());
    }
}
