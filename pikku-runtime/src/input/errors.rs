//! Turning serde errors into [`InputError`]s that name the field, with every value echoed from the request
//! cut short.

use serde_json::error::Category;

use super::InputError;

/// Longest echoed value (in chars) inside a message; longer ones are cut with `…`.
const MAX_ECHO: usize = 64;
/// Longest field path (in chars) reported in [`InputError::field`].
const MAX_FIELD: usize = 128;
/// Longest message (in chars).
const MAX_MESSAGE: usize = 1024;

pub(super) fn input_error(field: Option<String>, message: String) -> InputError {
    InputError { field: field.map(|f| truncate_chars(&f, MAX_FIELD)), message: sanitize_message(&message) }
}

/// An error raised while deserializing the input type, at the field path serde_path_to_error tracked.
pub(super) fn from_path_error(err: &serde_path_to_error::Error<serde_json::Error>) -> InputError {
    let path = err.path().to_string();
    from_json_error(err.inner(), (path != ".").then_some(path))
}

/// A serde_json error (syntax or data) at `path` (`None`: the input as a whole).
pub(super) fn from_json_error(inner: &serde_json::Error, path: Option<String>) -> InputError {
    let full = inner.to_string();
    // serde_json appends " at line L column C" to errors raised while reading text.
    let msg = if inner.line() != 0 {
        let suffix = format!(" at line {} column {}", inner.line(), inner.column());
        full.strip_suffix(&suffix).unwrap_or(&full).to_owned()
    } else {
        full
    };
    match inner.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            input_error(path, format!("malformed JSON at line {} column {}: {msg}", inner.line(), inner.column()))
        }
        Category::Data => {
            if let Some(name) = backticked_after(&msg, "missing field `") {
                let field = join_path(path.as_deref(), name);
                let message = format!("missing field `{field}`");
                return input_error(Some(field), message);
            }
            if let Some(name) = backticked_after(&msg, "unknown field `") {
                // The error is raised on the key, so the tracked path already
                // ends with the unknown key; the parent is what precedes it.
                let parent = match path.as_deref() {
                    Some(p) if p == name => None,
                    Some(p) => Some(p.strip_suffix(name).and_then(|s| s.strip_suffix('.')).unwrap_or(p)),
                    None => None,
                };
                let field = join_path(parent, name);
                let message = match parent {
                    None => msg.clone(),
                    Some(p) => format!("invalid value for field `{p}`: {msg}"),
                };
                return input_error(Some(field), message);
            }
            match path {
                Some(p) => {
                    let message = format!("invalid value for field `{p}`: {msg}");
                    input_error(Some(p), message)
                }
                None => input_error(None, msg),
            }
        }
    }
}

/// `msg` = `<prefix>name`...: returns `name` (up to the closing backtick).
fn backticked_after<'m>(msg: &'m str, prefix: &str) -> Option<&'m str> {
    let rest = msg.strip_prefix(prefix)?;
    rest.find('`').map(|end| &rest[..end])
}

fn join_path(path: Option<&str>, name: &str) -> String {
    match path {
        None => name.to_owned(),
        Some(p) => format!("{p}.{name}"),
    }
}

fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_owned(),
        Some((cut, _)) => format!("{}…", &s[..cut]),
    }
}

/// Cuts every quoted (`"..."` or `` `...` ``) segment of a message to
/// [`MAX_ECHO`] chars, so values from the request are never echoed in full,
/// then caps the whole message.
fn sanitize_message(msg: &str) -> String {
    if msg.len() <= MAX_ECHO {
        return msg.to_owned();
    }
    let mut out = String::with_capacity(msg.len().min(MAX_MESSAGE + 8));
    let mut rest = msg;
    while let Some(open) = rest.find(['`', '"']) {
        let quote = rest.as_bytes()[open];
        out.push_str(&rest[..=open]);
        let after = &rest[open + 1..];
        let close = find_closing(after, quote);
        let inner = &after[..close.unwrap_or(after.len())];
        out.push_str(&truncate_chars(inner, MAX_ECHO));
        match close {
            Some(close) => {
                out.push(quote as char);
                rest = &after[close + 1..];
            }
            None => rest = "",
        }
    }
    out.push_str(rest);
    if out.chars().nth(MAX_MESSAGE).is_some() {
        out = truncate_chars(&out, MAX_MESSAGE);
    }
    out
}

/// Byte index of the closing `quote` in `s`; inside `"` strings a backslash
/// escapes the next character (Rust's `{:?}` formatting).
fn find_closing(s: &str, quote: u8) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote == b'"' => i += 2,
            b if b == quote => return Some(i),
            _ => i += 1,
        }
    }
    None
}
