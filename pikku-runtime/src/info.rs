//! `info functions` and `info middleware`: the registry as aligned tables, fitted to 120 columns unless
//! asked to be wide.

use std::fmt::Write;

use http::Method;

use crate::registry::{parse_template, Registry};

/// How wide `info` tables are by default: a common terminal, and a code review's line.
const DEFAULT_TABLE_WIDTH: usize = 120;

/// A wrapped column is not narrowed below this many characters (or its natural width, when smaller), nor
/// below its header: narrower, a cell of a few words would take a line each.
const NARROWEST_COLUMN: usize = 24;

/// Space between columns.
const GAP: &str = "  ";

/// Indent of a record's fields when a table is shown as records.
const FIELD_INDENT: &str = "  ";

/// How a table is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Every line fits this many characters: the table as it is when it fits; else its widest columns
    /// narrowed and their cells wrapped onto more lines; else, when even that does not fit, one record per
    /// row (the first cell on a line of its own, then one `name  value` line per other column).
    Fit(usize),
    /// Every row on one line, however long: for `grep` and wide screens.
    Wide,
}

impl Layout {
    /// `--wide` or the default width.
    fn from_wide(wide: bool) -> Self {
        if wide {
            Self::Wide
        } else {
            Self::Fit(DEFAULT_TABLE_WIDTH)
        }
    }
}

/// Renders rows under `header` as `layout` says: an aligned table whose columns are padded to their widest
/// cell, narrowed and wrapped, or records.
fn render_table(header: &[&str], rows: &[Vec<String>], layout: Layout) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    if let Layout::Fit(limit) = layout {
        let room = limit.saturating_sub(GAP.len() * header.len().saturating_sub(1));
        // The first column (the id) is what a reader looks for: never wrapped.
        let floors: Vec<usize> = widths
            .iter()
            .zip(header)
            .enumerate()
            .map(
                |(i, (&natural, h))| {
                    if i == 0 {
                        natural
                    } else {
                        natural.min(NARROWEST_COLUMN.max(h.chars().count()))
                    }
                },
            )
            .collect();
        if floors.iter().sum::<usize>() > room {
            return render_records(header, rows, limit);
        }
        narrow(&mut widths, &floors, room);
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                text.push_str(GAP);
            }
            let _ = write!(text, "{cell:<width$}", width = widths[i]);
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    line(&rule.iter().map(String::as_str).collect::<Vec<_>>());
    for row in rows {
        let wrapped: Vec<Vec<String>> = row.iter().zip(&widths).map(|(cell, &width)| wrap(cell, width)).collect();
        let height = wrapped.iter().map(Vec::len).max().unwrap_or(0);
        for index in 0..height {
            let cells: Vec<&str> = wrapped.iter().map(|lines| lines.get(index).map_or("", String::as_str)).collect();
            line(&cells);
        }
    }
    out
}

/// One record per row, for a table too wide to wrap: the first cell alone, then each other column as an
/// indented `name  value` line (the header in lower case), values wrapped to fit `limit`; a blank line
/// between records.
fn render_records(header: &[&str], rows: &[Vec<String>], limit: usize) -> String {
    let labels: Vec<String> = header.iter().skip(1).map(|h| h.to_lowercase()).collect();
    let label_width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let value_indent = FIELD_INDENT.len() + label_width + GAP.len();
    let value_width = limit.saturating_sub(value_indent).max(NARROWEST_COLUMN);
    let mut out = String::new();
    for (n, row) in rows.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        out.push_str(row.first().map_or("", String::as_str));
        out.push('\n');
        for (label, cell) in labels.iter().zip(row.iter().skip(1)) {
            for (i, part) in wrap(cell, value_width).iter().enumerate() {
                let label = if i == 0 { label.as_str() } else { "" };
                let text = format!("{FIELD_INDENT}{label:<label_width$}{GAP}{part}");
                out.push_str(text.trim_end());
                out.push('\n');
            }
        }
    }
    out
}

/// Takes one character at a time from the widest column still above its floor until the columns fit
/// `room`: the long descriptions and configurations wrap, the short ids and methods stay whole.
fn narrow(widths: &mut [usize], floors: &[usize], room: usize) {
    let mut total: usize = widths.iter().sum();
    while total > room {
        let widest = widths
            .iter()
            .zip(floors)
            .enumerate()
            .filter(|(_, (width, floor))| width > floor)
            .max_by_key(|(i, (width, _))| (**width, std::cmp::Reverse(*i)))
            .map(|(i, _)| i);
        let Some(widest) = widest else { return };
        widths[widest] -= 1;
        total -= 1;
    }
}

/// Splits `text` into lines of at most `width` characters, breaking after a space, a `/` or a `,` where it
/// can, and inside a word only when the word alone is wider.
fn wrap(text: &str, width: usize) -> Vec<String> {
    if text.chars().count() <= width || width == 0 {
        return vec![text.to_owned()];
    }
    let mut pieces: Vec<&str> = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if matches!(c, ' ' | '/' | ',') {
            pieces.push(&text[start..i + c.len_utf8()]);
            start = i + c.len_utf8();
        }
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for piece in pieces {
        let fits = current.chars().count() + piece.trim_end().chars().count() <= width;
        if !fits && !current.is_empty() {
            lines.push(current.trim_end().to_owned());
            current.clear();
        }
        if piece.trim_end().chars().count() > width {
            let chars: Vec<char> = piece.chars().collect();
            for chunk in chars.chunks(width) {
                if current.chars().count() + chunk.len() > width {
                    lines.push(current.trim_end().to_owned());
                    current.clear();
                }
                current.extend(chunk);
            }
        } else {
            current.push_str(piece);
        }
    }
    if !current.trim_end().is_empty() {
        lines.push(current.trim_end().to_owned());
    }
    lines
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

/// What runs for one route, in onion order (global, HTTP patterns, tags, route, function; strategies where
/// they are wired): the chain the registry resolved for it.
fn route_chain<Sv: 'static, S: 'static>(registry: &Registry<Sv, S>, route: &str) -> Option<String> {
    let (method, template) = route.split_once(' ')?;
    let method = Method::from_bytes(method.as_bytes()).ok()?;
    let template = parse_template(template).ok()?;
    // The router takes the template's own `{name}` segments as parameter values: it finds the route itself.
    let matched = registry.router.at(&template.router_path).ok()?;
    let target = registry.paths.get(*matched.value)?.target(&method)?;
    let names: Vec<&str> = target.chain.iter().map(|m| m.name()).collect();
    Some(if names.is_empty() { "-".to_owned() } else { names.join(" > ") })
}

/// The middleware chains of a function's routes: one chain when they all run the same, else each route's.
fn chains_summary<Sv: 'static, S: 'static>(registry: &Registry<Sv, S>, routes: &[String]) -> String {
    let chains: Vec<String> =
        routes.iter().map(|route| route_chain(registry, route).unwrap_or_else(|| "?".to_owned())).collect();
    match chains.first() {
        None => "-".to_owned(),
        Some(first) if chains.iter().all(|chain| chain == first) => first.clone(),
        Some(_) => {
            let each: Vec<String> =
                routes.iter().zip(&chains).map(|(route, chain)| format!("{route}: {chain}")).collect();
            each.join("; ")
        }
    }
}

impl<Sv: 'static, S: 'static> Registry<Sv, S> {
    /// The table `info functions` prints: id, description and tags; `verbose` adds the routes, auth, the
    /// middleware chain each route runs (global, HTTP patterns, tags, route, function, strategies included,
    /// in onion order), permissions, types and source. `wide` prints each function on one line; otherwise the
    /// output fits 120 columns, as a table with wrapped cells or, when the columns cannot fit, one record per
    /// function.
    pub fn functions_table(&self, verbose: bool, wide: bool) -> String {
        functions_table(self, verbose, Layout::from_wide(wide))
    }

    /// The table `info middleware` prints: each middleware and strategy and where it applies; `verbose` adds
    /// its configuration. `wide` as for [`functions_table`](Self::functions_table).
    pub fn middleware_table(&self, verbose: bool, wide: bool) -> String {
        middleware_table(self, verbose, Layout::from_wide(wide))
    }
}

fn functions_table<Sv: 'static, S: 'static>(registry: &Registry<Sv, S>, verbose: bool, layout: Layout) -> String {
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
                    chains_summary(registry, &f.routes),
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
            layout,
        )
    } else {
        render_table(&["ID", "DESCRIPTION", "TAGS"], &rows, layout)
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

fn middleware_table<Sv, S>(registry: &Registry<Sv, S>, verbose: bool, layout: Layout) -> String {
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
        render_table(&["MIDDLEWARE", "APPLIED TO", "CONFIGURATION"], &rows, layout)
    } else {
        render_table(&["MIDDLEWARE", "APPLIED TO"], &rows, layout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns_to_the_widest_cell() {
        let rows = [vec!["a".into(), "1".into()], vec!["long_id".into(), "2".into()]];
        let expected = "ID       X\n-------  -\na        1\nlong_id  2\n";
        assert_eq!(render_table(&["ID", "X"], &rows, Layout::Wide), expected);
        assert_eq!(render_table(&["ID", "X"], &rows, Layout::Fit(120)), expected, "a narrow table is left alone");
    }

    fn widest_line(table: &str) -> usize {
        table.lines().map(|line| line.chars().count()).max().unwrap_or(0)
    }

    #[test]
    fn a_fitted_table_narrows_the_widest_column_and_wraps_its_cells() {
        let description = "A description long enough that it cannot share one line of sixty characters with the rest";
        let rows = [vec!["short".into(), description.into(), "src/functions.rs:12".into()]];
        let table = render_table(&["ID", "DESCRIPTION", "SOURCE"], &rows, Layout::Fit(70));
        assert!(widest_line(&table) <= 70, "{table}");
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[2].starts_with("short  "), "the short column keeps its width:\n{table}");
        assert!(lines[2].ends_with("src/functions.rs:12"), "the narrow column is whole:\n{table}");
        assert!(lines[3].starts_with("       "), "continuation lines leave the id column empty:\n{table}");
        let words: Vec<&str> = table.lines().skip(2).flat_map(str::split_whitespace).collect();
        for word in description.split(' ') {
            assert!(words.contains(&word), "{word:?} is kept whole:\n{table}");
        }

        let wide = render_table(&["ID", "DESCRIPTION", "SOURCE"], &rows, Layout::Wide);
        assert_eq!(wide.lines().count(), 3, "one line per row:\n{wide}");
        assert!(wide.contains(description));
    }

    #[test]
    fn the_first_column_is_never_wrapped() {
        let rows = [vec!["an_identifier_of_some_length".into(), "word ".repeat(30)]];
        let table = render_table(&["ID", "TEXT"], &rows, Layout::Fit(60));
        assert!(widest_line(&table) <= 60, "{table}");
        assert!(table.lines().nth(2).unwrap().starts_with("an_identifier_of_some_length  word"), "{table}");
    }

    #[test]
    fn a_table_too_wide_to_wrap_becomes_one_record_per_row() {
        let header = ["ID", "ROUTES", "MIDDLEWARE", "SOURCE", "TYPES"];
        let row = |id: &str| {
            vec![
                id.to_owned(),
                "POST /users/:userId/notes".to_owned(),
                "auth_bearer > auth_cookie > auth_api_key > timing".to_owned(),
                "examples/auth-demo/src/functions.rs:124".to_owned(),
                "NewNote -> Note".to_owned(),
            ]
        };
        let table = render_table(&header, &[row("add_note"), row("list_notes")], Layout::Fit(60));
        assert!(widest_line(&table) <= 60, "{table}");
        let expected = "\
add_note
  routes      POST /users/:userId/notes
  middleware  auth_bearer > auth_cookie > auth_api_key >
              timing
  source      examples/auth-demo/src/functions.rs:124
  types       NewNote -> Note

list_notes
";
        assert!(table.starts_with(expected), "{table}");
        let wide = render_table(&header, &[row("add_note")], Layout::Wide);
        assert_eq!(wide.lines().count(), 3, "{wide}");
    }

    #[test]
    fn wrapping_breaks_after_spaces_slashes_and_commas_and_inside_a_word_only_when_it_must() {
        assert_eq!(wrap("GET /users/:userId/notes", 12), ["GET /users/", ":userId/", "notes"]);
        assert_eq!(wrap("a > b > c", 5), ["a > b", "> c"]);
        assert_eq!(wrap("name=session, expires_in=30d", 14), ["name=session,", "expires_in=30d"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("fits", 10), ["fits"]);
        for (text, width) in [("examples/auth-demo/src/functions.rs:124", 10), ("é é é é é é", 3)] {
            let lines = wrap(text, width);
            assert!(lines.iter().all(|l| l.chars().count() <= width), "{lines:?}");
            assert_eq!(lines.concat().replace(' ', ""), text.replace(' ', ""), "nothing lost");
        }
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
            route_docs: Vec::new(),
            api_info: crate::openapi::ApiInfo {
                title: "t".into(),
                version: "1".into(),
                description: None,
                servers: Vec::new(),
            },
        }
    }

    #[test]
    fn the_middleware_table_shows_cors_first_when_configured() {
        let options = crate::CorsOptions::new().origins(["https://app.example"]).credentials(true);
        let table = middleware_table(&registry(Some(options)), true, Layout::Wide);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[2].starts_with("cors "), "{table}");
        assert!(lines[2].contains("every request, before routing"), "{table}");
        assert!(lines[2].contains("origins=https://app.example"), "{table}");
        assert!(lines[2].contains("credentials=true"), "{table}");
        assert!(lines[3].starts_with("auth_bearer "), "{table}");

        let table = middleware_table(&registry(None), true, Layout::Wide);
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
            docs: "",
            responses: &[],
            input_type: "()",
            output_type: "Vec < Project >",
            input_fields: crate::input::InputFields::of::<()>,
            input_doc: || crate::openapi::InputDoc::Nothing,
            output_doc: || crate::openapi::OutputDoc::NoContent,
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
        let table = functions_table(&registry, false, Layout::Wide);
        assert_eq!(table.lines().nth(2), Some("projects::list  Lists projects  -"), "{table}");
        let verbose = functions_table(&registry, true, Layout::Wide);
        assert!(verbose.lines().nth(2).is_some_and(|row| row.starts_with("projects::list ")), "{verbose}");
    }

    #[test]
    fn the_functions_table_lists_the_routes_whose_fields_were_not_checked() {
        let mut registry = registry(None);
        assert!(!functions_table(&registry, true, Layout::Wide).contains("fields not checked"));
        registry.unchecked_routes.push(crate::UncheckedRoute {
            route: "GET /search/:term".into(),
            function: "search".into(),
            reason: "the input `Filter` reads fields that cannot be listed without data".into(),
        });
        let verbose = functions_table(&registry, true, Layout::Wide);
        assert!(
            verbose.ends_with(
                "fields not checked (route parameters against fields that cannot be listed without data):\n  GET /search/:term (search): the input `Filter` reads fields that cannot be listed without data\n"
            ),
            "{verbose}"
        );
        let short = functions_table(&registry, false, Layout::Wide);
        assert!(short.contains("fields not checked: 1 route(s)"), "{short}");
    }
}
