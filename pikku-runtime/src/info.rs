//! `info functions` and `info middleware`: the registry as aligned tables.

use std::fmt::Write;

use crate::registry::Registry;

/// Renders rows as a table whose columns are padded to their widest cell.
pub(crate) fn render_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            let _ = write!(text, "{cell:<width$}", width = widths[i]);
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    line(&mut rule.iter().map(String::as_str));
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

fn list(items: &[&str]) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items.join(", ")
    }
}

/// Global permissions and the function's groups: `global & (a & b | c)`.
fn permission_summary(global: &[&str], groups: &[&[&str]]) -> String {
    let mut parts: Vec<String> = global.iter().map(|p| (*p).to_owned()).collect();
    let groups: Vec<String> = groups.iter().map(|g| g.join(" & ")).collect();
    match groups.len() {
        0 => {}
        1 => parts.push(groups[0].clone()),
        _ => parts.push(format!("({})", groups.join(" | "))),
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(" & ")
    }
}

pub(crate) fn functions_table<Sv, S>(registry: &Registry<Sv, S>, verbose: bool) -> String {
    let rows: Vec<Vec<String>> = registry
        .functions
        .iter()
        .map(|f| {
            let def = f.def;
            let mut row = vec![f.id.clone(), def.description.to_owned(), list(def.tags)];
            if verbose {
                let routes: Vec<&str> = f.routes.iter().map(String::as_str).collect();
                row.extend([
                    list(&routes),
                    if def.auth { "session".into() } else { "public".into() },
                    list(def.middleware),
                    permission_summary(&registry.global_permissions, def.permissions),
                    format!("{} -> {}", def.input_type, def.output_type),
                    format!("{}:{}", def.file, def.line),
                ]);
            }
            row
        })
        .collect();
    let mut table = if verbose {
        render_table(
            &["ID", "DESCRIPTION", "TAGS", "ROUTES", "AUTH", "MIDDLEWARE", "PERMISSIONS", "TYPES", "SOURCE"],
            &rows,
        )
    } else {
        render_table(&["ID", "DESCRIPTION", "TAGS"], &rows)
    };
    table.push_str(&unchecked_note(registry, verbose));
    table
}

/// The routes whose parameters start-up could not check against their function's fields: each one with
/// `--verbose`, else their number.
fn unchecked_note<Sv, S>(registry: &Registry<Sv, S>, verbose: bool) -> String {
    let unchecked = &registry.unchecked_routes;
    if unchecked.is_empty() {
        return String::new();
    }
    if !verbose {
        return format!(
            "\nfields not checked: {} route(s) whose parameters could not be checked against their function's fields (`info functions --verbose` lists them)\n",
            unchecked.len()
        );
    }
    let mut note =
        String::from("\nfields not checked (route parameters against fields that cannot be listed without data):\n");
    for route in unchecked {
        let _ = writeln!(note, "  {} ({}): {}", route.route, route.function, route.reason);
    }
    note
}

pub(crate) fn middleware_table<Sv, S>(registry: &Registry<Sv, S>, verbose: bool) -> String {
    // CORS is not middleware, but it is what runs first, so it heads the table.
    let cors = registry.cors.as_ref().map(|policy| ("cors", "every request, before routing", policy.describe()));
    let rows: Vec<Vec<String>> = cors
        .into_iter()
        .chain(registry.middleware.iter().map(|m| (m.name.as_str(), m.applied.as_str(), m.description.as_str())))
        .map(|(name, applied, description)| {
            let mut row = vec![name.to_owned(), applied.to_owned()];
            if verbose {
                row.push(if description.is_empty() { "-".into() } else { description.to_owned() });
            }
            row
        })
        .collect();
    if verbose {
        render_table(&["MIDDLEWARE", "APPLIED TO", "CONFIGURATION"], &rows)
    } else {
        render_table(&["MIDDLEWARE", "APPLIED TO"], &rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns_to_the_widest_cell() {
        let table = render_table(&["ID", "X"], &[vec!["a".into(), "1".into()], vec!["long_id".into(), "2".into()]]);
        assert_eq!(table, "ID       X\n-------  -\na        1\nlong_id  2\n");
    }

    fn registry(cors: Option<crate::CorsOptions>) -> Registry<(), ()> {
        Registry {
            router: matchit::Router::new(),
            paths: Vec::new(),
            functions: Vec::new(),
            middleware: vec![crate::registry::MiddlewareInfo {
                name: "auth_bearer".into(),
                description: String::new(),
                applied: "http *".into(),
            }],
            global_permissions: Vec::new(),
            unchecked_routes: Vec::new(),
            cors: cors.map(|options| Box::new(options.resolve().expect("valid options"))),
            server: Default::default(),
        }
    }

    #[test]
    fn the_middleware_table_shows_cors_first_when_configured() {
        let options = crate::CorsOptions::new().origins(["https://app.example"]).credentials(true);
        let table = middleware_table(&registry(Some(options)), true);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[2].starts_with("cors "), "{table}");
        assert!(lines[2].contains("every request, before routing"), "{table}");
        assert!(lines[2].contains("origins=https://app.example"), "{table}");
        assert!(lines[2].contains("credentials=true"), "{table}");
        assert!(lines[3].starts_with("auth_bearer "), "{table}");

        let table = middleware_table(&registry(None), true);
        assert!(!table.contains("cors"), "{table}");
    }

    #[test]
    fn the_functions_table_shows_each_functions_id_not_its_name() {
        let def: &'static crate::__private::FunctionDef = Box::leak(Box::new(crate::__private::FunctionDef {
            name: "list",
            explicit_id: None,
            module_path: "app::projects",
            auth: true,
            permissions: &[],
            middleware: &[],
            tags: &[],
            description: "Lists projects",
            input_type: "()",
            output_type: "Vec < Project >",
            input_fields: crate::input::InputFields::of::<()>,
            file: "src/projects.rs",
            line: 12,
            function_type: || std::any::TypeId::of::<()>(),
            install: |_| Ok(()),
        }));
        let mut registry = registry(None);
        registry.functions.push(crate::FunctionInfo {
            id: "projects::list".into(),
            def,
            routes: vec!["GET /projects".into()],
        });
        let table = functions_table(&registry, false);
        assert_eq!(table.lines().nth(2), Some("projects::list  Lists projects  -"), "{table}");
        let verbose = functions_table(&registry, true);
        assert!(verbose.lines().nth(2).is_some_and(|row| row.starts_with("projects::list ")), "{verbose}");
    }

    #[test]
    fn the_functions_table_lists_the_routes_whose_fields_were_not_checked() {
        let mut registry = registry(None);
        assert!(!functions_table(&registry, true).contains("fields not checked"));
        registry.unchecked_routes.push(crate::UncheckedRoute {
            route: "GET /search/:term".into(),
            function: "search".into(),
            reason: "the input `Filter` reads fields that cannot be listed without data".into(),
        });
        let verbose = functions_table(&registry, true);
        assert!(
            verbose.ends_with(
                "fields not checked (route parameters against fields that cannot be listed without data):\n  GET /search/:term (search): the input `Filter` reads fields that cannot be listed without data\n"
            ),
            "{verbose}"
        );
        let short = functions_table(&registry, false);
        assert!(short.contains("fields not checked: 1 route(s)"), "{short}");
    }
}
