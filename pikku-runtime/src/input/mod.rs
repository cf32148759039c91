//! Turning a request's path parameters, query string and JSON body into the
//! one typed input of a function, and into the data views of its permissions.
//!
//! The endpoint wraps the request's parts in a [`MergedInput`]; the function's
//! input type and every `#[pikku_permission]` view deserialize from it with
//! [`MergedInput::deserialize`]. The merge is built once, on first use, and
//! shared: the URL's entries decoded and deduplicated, their conflicts checked,
//! the body scanned into its top-level members (each value kept as JSON text,
//! so a view reads only the members it names and skips the rest).
//!
//! * Values from the URL (path and query) are strings on the wire; they are
//!   coerced by the type the input asks for (`u32`, `bool`, `f64`, `Option`,
//!   unit enum variants, newtypes, ...). Values from the JSON body are *not*
//!   coerced: `"10"` in the body is a string, as always.
//! * A key given twice with different values is a conflict; the same value
//!   twice is fine.
//! * `()` (and unit structs) ignore the request entirely: the merge is not even
//!   built. A body with no URL parameters is the input by itself: a struct or
//!   map reads its members, any other type (a sequence, an enum) reads it
//!   whole, exactly as `serde_json` would. Decoded strings are borrowed from
//!   the request whenever they contain no escapes.
//!
//! Choices worth knowing:
//! * An **empty** URL value (`?limit=`) deserializes as `None` for an
//!   `Option<_>` field (HTML-form style), for `Option<String>` too.
//! * URL value vs body value for the same key: they agree when the body value
//!   is a string equal to the URL text, or a number/bool whose canonical text
//!   (as `serde_json` prints it: `5`, `1.5`, `true`) equals the URL text.
//!   `null`, arrays and objects never agree with a URL value. When they agree
//!   the URL value is kept (and coerced), so a body `"10"` plus `?n=10` fills a
//!   `u32`.
//! * Router path parameters with a name the input type does not declare are
//!   passed in like any other key: they are ignored unless the type has
//!   `#[serde(deny_unknown_fields)]`. (Start-up refuses such a parameter when
//!   the type's fields can be listed and no permission's view reads it.)
//! * `#[serde(flatten)]` and untagged enums buffer values through
//!   `deserialize_any`, which sees URL values as plain strings (no coercion).
//! * A URL value for a sequence/map/struct field is a type error (lists cannot
//!   be given in the URL; duplicate keys are conflicts).
//! * A query key without `=` (`?flag`) has the empty value: `None` for an
//!   `Option`, an error for a plain `bool`.
//! * Duplicate keys *inside* the JSON body reach the type as they are: serde's
//!   derive reports `duplicate field`. A key repeated in the body that is also
//!   in the URL must agree with the URL every time.
//! * Percent-decoding is lenient: malformed `%` escapes are kept literally and
//!   invalid UTF-8 is replaced with U+FFFD.
//! * A view that does not fit the input (a missing field, a wrong type) is the
//!   server's mistake, not the client's: the request gets a 500 and the log
//!   names the permission and the field (a merge that fails, such as malformed
//!   JSON, stays the client's 422). [`InputFields`] reads the names a type
//!   takes without data, for the start-up checks of route parameters.

use std::sync::OnceLock;

use serde::de::DeserializeOwned;

mod deserializer;
mod errors;
mod fields;
mod merge;
mod url;

pub use fields::InputFields;
pub use url::query_param;
pub(crate) use url::PathParams;

use deserializer::Top;
use errors::from_path_error;
use merge::{merge, Merged};

/// The raw pieces of a request's input, borrowed from the request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InputParts<'a> {
    /// The request's path, which the path parameters index.
    pub(crate) path: &'a str,
    /// Path parameters as matched by the router (still percent-encoded).
    pub(crate) path_params: &'a PathParams,
    /// The raw query string, without '?'.
    pub(crate) query: Option<&'a str>,
    /// The JSON body bytes (content type already checked by the caller); None or empty = no body.
    pub(crate) body: Option<&'a [u8]>,
}

/// Why the input did not fit the function's type: becomes a 422 naming the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct InputError {
    /// The field path (`limit`, `notes[0].text`), when the error concerns one field.
    pub field: Option<String>,
    /// A message for the API client.
    pub message: String,
}

/// A request's input (path parameters, query string and JSON body), merged once and read by the function
/// and by each of its permissions (see the module docs).
///
/// The merge is built on the first [`deserialize`](Self::deserialize) that needs it and kept: a function
/// whose input is `()` and whose permissions read no data never builds it.
#[derive(Debug)]
pub struct MergedInput<'a> {
    parts: InputParts<'a>,
    merged: OnceLock<Result<Merged<'a>, InputError>>,
}

impl<'a> MergedInput<'a> {
    pub(crate) fn new(parts: InputParts<'a>) -> Self {
        Self { parts, merged: OnceLock::new() }
    }

    /// Deserializes `T` from the input: the function's input type, or a permission's view of it.
    ///
    /// # Errors
    /// [`InputError`] naming the field when the input does not fit `T` (a missing field, a wrong type, a
    /// value given twice with different values, malformed JSON).
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, InputError> {
        match serde_path_to_error::deserialize(Top(self)) {
            Ok(value) => Ok(value),
            // A merge that failed is the error, whichever field asked for it.
            Err(err) => Err(match self.merged.get() {
                Some(Err(merge_error)) => merge_error.clone(),
                _ => from_path_error(&err),
            }),
        }
    }

    /// The error of a merge that failed (malformed JSON, a conflict between URL and body): the client's
    /// mistake, whichever type was being read.
    pub(crate) fn merge_error(&self) -> Option<&InputError> {
        self.merged.get().and_then(|merged| merged.as_ref().err())
    }

    /// The merge, built on first use.
    fn merged(&self) -> &Result<Merged<'a>, InputError> {
        self.merged.get_or_init(|| merge(&self.parts))
    }
}

#[cfg(test)]
mod tests;
