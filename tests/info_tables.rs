//! `info functions` and `info middleware` (docs/command-line.md): the middleware column shows the whole chain
//! each route runs, in onion order (global, HTTP patterns, tags, route, function; strategies where they are
//! wired), the default output fits 120 columns, and `--wide` prints one line per function.

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use pikku::auth::{auth_bearer, AuthServices, JwtService};
use pikku::prelude::*;
use serde::{Deserialize, Serialize};

pub struct Services {
    jwt: JwtService,
}

impl AuthServices for Services {
    fn jwt(&self) -> &JwtService {
        &self.jwt
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    user: String,
}

macro_rules! pass_through {
    ($($name:ident),*) => {$(
        #[pikku_middleware]
        pub(crate) async fn $name(_s: &Services, request: Request<Session>, next: Next<'_, Services, Session>) -> Result<Response, PikkuError> {
            Ok(next.run(request).await)
        }
    )*};
}
pass_through!(everywhere, under_api, tagged, on_the_route, on_the_function, elsewhere);

#[pikku_func(
    auth = false,
    middleware = [on_the_function],
    tags = ["audited"],
    description = "A function whose description is long enough that the default table has to wrap it onto a second line, or show records"
)]
pub(crate) async fn audited(_s: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<(), PikkuError> {
    Ok(())
}

#[pikku_func(auth = false)]
pub(crate) async fn plain(_s: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<(), PikkuError> {
    Ok(())
}

#[pikku_func(auth = false)]
pub(crate) async fn unrouted(_s: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<(), PikkuError> {
    Ok(())
}

#[pikku_wiring]
fn http(w: &mut Wirings<Services, Session>) {
    w.add_middleware([everywhere]);
    w.add_http_middleware("/api/*", [auth_bearer(), under_api]);
    w.add_http_middleware("/elsewhere/*", [elsewhere]);
    w.add_tag_middleware("audited", [tagged]);
    w.post("/api/audited", audited).middleware([on_the_route]);
    w.get("/api/plain", plain);
    w.get("/plain", plain);
}

fn registry() -> pikku::Registry<Services, Session> {
    App::<Services, Session>::new().registry().expect("the wirings resolve")
}

/// The value of `field` in the record of `id` (records layout: `id` alone, then `  field  value` lines).
fn record_field(table: &str, id: &str, field: &str) -> String {
    let mut lines = table.lines().skip_while(|line| *line != id).skip(1).take_while(|line| line.starts_with(' '));
    let mut value = Vec::new();
    let mut inside = false;
    for line in &mut lines {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix(field).filter(|rest| rest.starts_with(' ')) {
            inside = true;
            value.push(rest.trim().to_owned());
        } else if inside && line.starts_with("    ") && !trimmed.contains("  ") {
            value.push(trimmed.to_owned());
        } else if inside {
            break;
        }
    }
    assert!(inside, "no field {field} for {id} in\n{table}");
    value.join(" ")
}

#[test]
fn the_middleware_column_shows_the_whole_chain_in_onion_order() {
    let table = registry().functions_table(true, false);
    assert_eq!(
        record_field(&table, "audited", "middleware"),
        "everywhere > auth_bearer > under_api > tagged > on_the_route > on_the_function",
        "{table}"
    );
    assert_eq!(record_field(&table, "unrouted", "middleware"), "-", "an unrouted function runs nothing");
}

#[test]
fn routes_of_one_function_with_different_chains_are_shown_each() {
    let table = registry().functions_table(true, true);
    let row = table.lines().find(|line| line.starts_with("plain ")).unwrap_or_else(|| panic!("{table}"));
    assert!(
        row.contains("GET /api/plain: everywhere > auth_bearer > under_api; GET /plain: everywhere"),
        "each route's chain:\n{table}"
    );
}

#[test]
fn the_default_tables_fit_120_columns_and_wide_prints_one_line_per_row() {
    let registry = registry();
    for verbose in [false, true] {
        let table = registry.functions_table(verbose, false);
        let widest = table.lines().map(|line| line.chars().count()).max().unwrap();
        assert!(widest <= 120, "verbose={verbose}: {widest} columns:\n{table}");
        let table = registry.middleware_table(verbose, false);
        assert!(table.lines().all(|line| line.chars().count() <= 120), "{table}");
    }
    let plain = registry.functions_table(false, false);
    assert!(plain.starts_with("ID "), "a table: {plain}");
    assert!(plain.lines().count() > 2 + 3, "the long description wraps:\n{plain}");

    let wide = registry.functions_table(true, true);
    assert_eq!(wide.lines().count(), 2 + 3, "header, rule and one line per function:\n{wide}");
    assert!(wide.lines().any(|line| line.chars().count() > 120), "nothing is wrapped:\n{wide}");
    let header = wide.lines().next().unwrap();
    for column in ["ID", "ROUTES", "AUTH", "MIDDLEWARE", "PERMISSIONS", "TYPES", "SOURCE"] {
        assert!(header.contains(column), "{header}");
    }
}
