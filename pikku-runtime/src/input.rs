//! Turning a request's path parameters, query string and JSON body into the
//! one typed input of a function.
//!
//! [`parse_input`] merges the three sources into a single map and
//! deserializes the function's input type from it with a custom serde
//! [`Deserializer`]:
//!
//! * Values from the URL (path and query) are strings on the wire; they are
//!   coerced by the type the input asks for (`u32`, `bool`, `f64`, `Option`,
//!   unit enum variants, newtypes, ...). Values from the JSON body are *not*
//!   coerced: `"10"` in the body is a string, as always.
//! * A key given twice with different values is a conflict; the same value
//!   twice is fine.
//! * Fast paths: `()` (and unit structs) ignore the request entirely without
//!   allocating; a body with no URL parameters is deserialized straight from
//!   the bytes (no `serde_json::Value`); URL parameters without a body never
//!   build a `serde_json::Value` either. Decoded strings are borrowed from the
//!   request whenever they contain no escapes.
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
//!   `#[serde(deny_unknown_fields)]`.
//! * `#[serde(flatten)]` and untagged enums buffer values through
//!   `deserialize_any`, which sees URL values as plain strings (no coercion).
//! * A URL value for a sequence/map/struct field is a type error (lists cannot
//!   be given in the URL; duplicate keys are conflicts).
//! * A query key without `=` (`?flag`) has the empty value: `None` for an
//!   `Option`, an error for a plain `bool`.
//! * Duplicate keys *inside* the JSON body: with no URL parameters serde's
//!   derive reports `duplicate field`; when merged with URL parameters the
//!   body is read into a `serde_json::Map`, where the last one wins.
//! * Percent-decoding is lenient: malformed `%` escapes are kept literally and
//!   invalid UTF-8 is replaced with U+FFFD.

use std::borrow::Cow;
use std::fmt::Write as _;

use percent_encoding::percent_decode_str;

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, Visitor};
use serde_json::error::Category;
use serde_json::{Map, Value};

/// The raw pieces of a request's input, borrowed from the request.
#[derive(Debug, Clone, Copy, Default)]
pub struct InputParts<'a> {
    /// Path parameters as matched by the router (still percent-encoded), name then value.
    pub path_params: &'a [(&'a str, &'a str)],
    /// The raw query string, without '?'.
    pub query: Option<&'a str>,
    /// The JSON body bytes (content type already checked by the caller); None or empty = no body.
    pub body: Option<&'a [u8]>,
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

/// Longest echoed value (in chars) inside a message; longer ones are cut with `…`.
const MAX_ECHO: usize = 64;
/// Longest field path (in chars) reported in [`InputError::field`].
const MAX_FIELD: usize = 128;
/// Longest message (in chars).
const MAX_MESSAGE: usize = 1024;

/// Deserializes the function's input type from the request's path
/// parameters, query string and JSON body (see the module docs).
pub fn parse_input<T: de::DeserializeOwned>(parts: &InputParts<'_>) -> Result<T, InputError> {
    let mut failure = None;
    let top = Top {
        path_params: parts.path_params,
        query: parts.query.filter(|q| !q.is_empty()),
        body: parts.body.filter(|b| !b.is_empty()),
        failure: &mut failure,
    };
    match serde_path_to_error::deserialize(top) {
        Ok(value) => Ok(value),
        Err(err) => Err(match failure {
            Some(input_error) => input_error,
            None => from_json_error(&err),
        }),
    }
}

// ---------------------------------------------------------------------------
// Errors

fn input_error(field: Option<String>, message: String) -> InputError {
    InputError { field: field.map(|f| truncate_chars(&f, MAX_FIELD)), message: sanitize_message(&message) }
}

fn from_json_error(err: &serde_path_to_error::Error<serde_json::Error>) -> InputError {
    let inner = err.inner();
    let path = err.path().to_string();
    let path = (path != ".").then_some(path);
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

// ---------------------------------------------------------------------------
// Percent-decoding

/// The first value of the query parameter `name`, form-decoded (`%XX` escapes and `+` as a space) the way
/// function inputs are; borrowed when there is nothing to decode.
///
/// A key without `=` (`?flag`) has the empty value.
///
/// ```
/// use pikku_runtime::input::query_param;
///
/// assert_eq!(query_param("limit=5&apiKey=a%2Bb", "apiKey").as_deref(), Some("a+b"));
/// assert_eq!(query_param("limit=5", "apiKey"), None);
/// ```
pub fn query_param<'a>(query: &'a str, name: &str) -> Option<Cow<'a, str>> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(key, true) == name).then(|| decode(value, true))
    })
}

/// Percent-decodes `s` (and turns `+` into a space when `plus_as_space`, as forms encode it), borrowing
/// when there is nothing to decode. Malformed escapes are kept as written; invalid UTF-8 becomes U+FFFD.
fn decode(s: &str, plus_as_space: bool) -> Cow<'_, str> {
    if plus_as_space && s.contains('+') {
        let spaced = s.replace('+', " ");
        return Cow::Owned(percent_decode_str(&spaced).decode_utf8_lossy().into_owned());
    }
    percent_decode_str(s).decode_utf8_lossy()
}

// ---------------------------------------------------------------------------
// Collecting and merging the sources

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Path,
    Query,
    Body,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::Path => "path",
            Source::Query => "query",
            Source::Body => "body",
        }
    }
}

struct UrlEntry<'a> {
    key: Cow<'a, str>,
    value: Cow<'a, str>,
    source: Source,
}

fn conflict(key: &str, first: Source, second: Source) -> InputError {
    let sources = if first == second {
        format!("given twice in the {}", first.name())
    } else {
        format!("{} and {}", first.name(), second.name())
    };
    input_error(Some(key.to_owned()), format!("conflicting values for `{key}` ({sources})"))
}

/// Path parameters then query pairs, decoded, with duplicates removed (same
/// value) or reported (different values).
fn collect_url<'a>(
    path_params: &'a [(&'a str, &'a str)],
    query: Option<&'a str>,
) -> Result<Vec<UrlEntry<'a>>, InputError> {
    let query_pairs = query.map_or(0, |q| q.split('&').filter(|p| !p.is_empty()).count());
    let mut entries = Vec::with_capacity(path_params.len() + query_pairs);
    for &(name, value) in path_params {
        entries.push(UrlEntry { key: Cow::Borrowed(name), value: decode(value, false), source: Source::Path });
    }
    if let Some(query) = query {
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            entries.push(UrlEntry { key: decode(key, true), value: decode(value, true), source: Source::Query });
        }
    }
    dedupe(&mut entries)?;
    Ok(entries)
}

fn dedupe(entries: &mut Vec<UrlEntry<'_>>) -> Result<(), InputError> {
    if entries.len() < 2 {
        return Ok(());
    }
    let mut drop = vec![false; entries.len()];
    let check = |first: usize, second: usize, drop: &mut [bool]| {
        let (a, b) = (&entries[first], &entries[second]);
        if a.key != b.key {
            return Ok(());
        }
        if a.value != b.value {
            return Err(conflict(&a.key, a.source, b.source));
        }
        drop[second] = true;
        Ok(())
    };
    if entries.len() <= 16 {
        for second in 1..entries.len() {
            for first in 0..second {
                check(first, second, &mut drop)?;
                if drop[second] {
                    break;
                }
            }
        }
    } else {
        // Many pairs: sort indices by key (stable, so the first occurrence
        // leads each group) and compare neighbours.
        let mut order: Vec<usize> = (0..entries.len()).collect();
        order.sort_by(|&a, &b| entries[a].key.cmp(&entries[b].key));
        let mut lead = order[0];
        for &next in &order[1..] {
            if entries[lead].key == entries[next].key {
                check(lead, next, &mut drop)?;
            } else {
                lead = next;
            }
        }
    }
    let mut drop = drop.into_iter();
    entries.retain(|_| !drop.next().unwrap_or(false));
    Ok(())
}

/// Whether a body value states the same thing as a URL string.
fn body_agrees(value: &Value, url: &str) -> bool {
    match value {
        Value::String(s) => s == url,
        Value::Bool(true) => url == "true",
        Value::Bool(false) => url == "false",
        Value::Number(n) => {
            let mut text = String::new();
            let _ = write!(text, "{n}");
            text == url
        }
        Value::Null | Value::Array(_) | Value::Object(_) => false,
    }
}

// ---------------------------------------------------------------------------
// The top-level deserializer: decides lazily which path to take, so `()`
// costs nothing.

struct Top<'a, 's> {
    path_params: &'a [(&'a str, &'a str)],
    query: Option<&'a str>,
    body: Option<&'a [u8]>,
    failure: &'s mut Option<InputError>,
}

enum Plan<'a> {
    /// No URL parameters: deserialize straight from the body bytes.
    Body(&'a [u8]),
    /// URL parameters and/or body entries (possibly none at all).
    Map(Merged<'a>),
}

impl<'a> Top<'a, '_> {
    fn plan(self) -> Result<Plan<'a>, serde_json::Error> {
        if self.path_params.is_empty() && self.query.is_none() {
            return Ok(match self.body {
                Some(body) => Plan::Body(body),
                None => Plan::Map(Merged::default()),
            });
        }
        match self.merge() {
            Ok(merged) => Ok(Plan::Map(merged)),
            Err(MergeError::Json(e)) => Err(e),
            Err(MergeError::Input(e)) => {
                let message = e.message.clone();
                *self.failure = Some(e);
                Err(de::Error::custom(message))
            }
        }
    }

    fn merge(&self) -> Result<Merged<'a>, MergeError> {
        let url = collect_url(self.path_params, self.query).map_err(MergeError::Input)?;
        let body = match self.body {
            None => None,
            Some(bytes) => match serde_json::from_slice::<Value>(bytes) {
                Err(e) => return Err(MergeError::Json(e)),
                Ok(Value::Object(mut map)) => {
                    for entry in &url {
                        if let Some(value) = map.get(entry.key.as_ref()) {
                            if !body_agrees(value, &entry.value) {
                                return Err(MergeError::Input(conflict(&entry.key, entry.source, Source::Body)));
                            }
                            map.remove(entry.key.as_ref());
                        }
                    }
                    Some(map)
                }
                Ok(_) => {
                    return Err(MergeError::Input(input_error(
                        None,
                        "the request body must be a JSON object".to_owned(),
                    )))
                }
            },
        };
        Ok(Merged { url, body })
    }
}

enum MergeError {
    Json(serde_json::Error),
    Input(InputError),
}

macro_rules! top_forward {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'a>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, Self::Error> {
            match self.plan()? {
                Plan::Body(bytes) => {
                    let mut de = serde_json::Deserializer::from_slice(bytes);
                    let value = (&mut de).$method($($arg,)* visitor)?;
                    de.end()?;
                    Ok(value)
                }
                Plan::Map(merged) => merged.$method($($arg,)* visitor),
            }
        }
    )*};
}

impl<'a> Deserializer<'a> for Top<'a, '_> {
    type Error = serde_json::Error;

    // `()`, unit structs and ignored input: accept anything, look at nothing.
    fn deserialize_unit<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'a>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }

    fn deserialize_ignored_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }

    top_forward! {
        deserialize_any();
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_option();
        deserialize_newtype_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
    }
}

// ---------------------------------------------------------------------------
// The merged map

#[derive(Default)]
struct Merged<'a> {
    url: Vec<UrlEntry<'a>>,
    body: Option<Map<String, Value>>,
}

impl Merged<'_> {
    fn is_empty(&self) -> bool {
        self.url.is_empty() && self.body.as_ref().is_none_or(Map::is_empty)
    }
}

impl<'a> Deserializer<'a> for Merged<'a> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_map(MergedAccess {
            url: self.url.into_iter(),
            body: self.body.map(IntoIterator::into_iter),
            pending: None,
        })
    }

    fn deserialize_option<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        if self.is_empty() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        <W: Visitor<'a>>
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

enum Pending<'a> {
    Url(Cow<'a, str>),
    Body(Value),
}

struct MergedAccess<'a> {
    url: std::vec::IntoIter<UrlEntry<'a>>,
    body: Option<serde_json::map::IntoIter>,
    pending: Option<Pending<'a>>,
}

impl<'a> MapAccess<'a> for MergedAccess<'a> {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'a>>(&mut self, seed: K) -> Result<Option<K::Value>, Self::Error> {
        if let Some(entry) = self.url.next() {
            self.pending = Some(Pending::Url(entry.value));
            return seed.deserialize(UrlValue(entry.key)).map(Some);
        }
        if let Some((key, value)) = self.body.as_mut().and_then(Iterator::next) {
            self.pending = Some(Pending::Body(value));
            return seed.deserialize(UrlValue(Cow::Owned(key))).map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'a>>(&mut self, seed: V) -> Result<V::Value, Self::Error> {
        match self.pending.take() {
            Some(Pending::Url(value)) => seed.deserialize(UrlValue(value)),
            Some(Pending::Body(value)) => seed.deserialize(value),
            None => Err(de::Error::custom("value requested before key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.url.len() + self.body.as_ref().map_or(0, ExactSizeIterator::len))
    }
}

// ---------------------------------------------------------------------------
// A string from the URL (or a map key), coerced by the requested type.

struct UrlValue<'a>(Cow<'a, str>);

impl<'a> UrlValue<'a> {
    fn visit<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, serde_json::Error> {
        match self.0 {
            Cow::Borrowed(s) => visitor.visit_borrowed_str(s),
            Cow::Owned(s) => visitor.visit_string(s),
        }
    }

    fn parse<N>(&self) -> Result<N, serde_json::Error>
    where
        N: std::str::FromStr,
        N::Err: std::fmt::Display,
    {
        self.0.parse().map_err(de::Error::custom)
    }

    fn parse_float<N>(&self) -> Result<N, serde_json::Error>
    where
        N: std::str::FromStr + Into<f64> + Copy,
        N::Err: std::fmt::Display,
    {
        let n: N = self.parse()?;
        if n.into().is_finite() {
            Ok(n)
        } else {
            Err(de::Error::custom("expected a finite number"))
        }
    }
}

macro_rules! url_parse {
    ($($method:ident => $visit:ident: $ty:ty,)*) => {$(
        fn $method<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            visitor.$visit(self.parse::<$ty>()?)
        }
    )*};
}

impl<'a> Deserializer<'a> for UrlValue<'a> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.visit(visitor)
    }

    fn deserialize_bool<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0.as_ref() {
            "true" => visitor.visit_bool(true),
            "false" => visitor.visit_bool(false),
            _ => Err(de::Error::custom("expected `true` or `false`")),
        }
    }

    url_parse! {
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_i128 => visit_i128: i128,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
        deserialize_u128 => visit_u128: u128,
    }

    fn deserialize_f32<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_f32(self.parse_float::<f32>()?)
    }

    fn deserialize_f64<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_f64(self.parse_float::<f64>()?)
    }

    fn deserialize_option<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        if self.0.is_empty() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'a>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'a>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        // Unit variants from the string; serde's string deserializers reject
        // newtype/tuple/struct variants.
        match self.0 {
            Cow::Borrowed(s) => {
                BorrowedStrDeserializer::<serde_json::Error>::new(s).deserialize_enum(name, variants, visitor)
            }
            Cow::Owned(s) => {
                IntoDeserializer::<serde_json::Error>::into_deserializer(s).deserialize_enum(name, variants, visitor)
            }
        }
    }

    fn deserialize_ignored_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        <W: Visitor<'a>>
        char str string bytes byte_buf seq tuple tuple_struct map struct identifier
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    fn parts<'a>(
        path_params: &'a [(&'a str, &'a str)],
        query: Option<&'a str>,
        body: Option<&'a str>,
    ) -> InputParts<'a> {
        InputParts { path_params, query, body: body.map(str::as_bytes) }
    }

    fn query<T: de::DeserializeOwned>(q: &str) -> Result<T, InputError> {
        parse_input(&parts(&[], Some(q), None))
    }

    fn body<T: de::DeserializeOwned>(b: &str) -> Result<T, InputError> {
        parse_input(&parts(&[], None, Some(b)))
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Limit {
        limit: u32,
    }

    #[test]
    fn query_value_fills_u32() {
        assert_eq!(query::<Limit>("limit=10"), Ok(Limit { limit: 10 }));
    }

    #[test]
    fn query_value_bad_u32_names_field() {
        let err = query::<Limit>("limit=ten").unwrap_err();
        assert_eq!(err.field.as_deref(), Some("limit"));
        assert_eq!(err.message, "invalid value for field `limit`: invalid digit found in string");
    }

    #[test]
    fn query_value_fills_bool() {
        #[derive(Debug, Deserialize, PartialEq)]
        struct Done {
            done: bool,
        }
        assert_eq!(query::<Done>("done=true"), Ok(Done { done: true }));
        assert_eq!(query::<Done>("done=false"), Ok(Done { done: false }));
        let err = query::<Done>("done=yes").unwrap_err();
        assert_eq!(err.field.as_deref(), Some("done"));
        assert_eq!(err.message, "invalid value for field `done`: expected `true` or `false`");
    }

    #[test]
    fn query_value_fills_option_and_empty_is_none() {
        #[derive(Debug, Deserialize, PartialEq)]
        struct Page {
            limit: Option<u32>,
            q: Option<String>,
        }
        assert_eq!(query::<Page>("limit=5&q=x"), Ok(Page { limit: Some(5), q: Some("x".into()) }));
        assert_eq!(query::<Page>("limit=&q="), Ok(Page { limit: None, q: None }));
        assert_eq!(query::<Page>(""), Ok(Page { limit: None, q: None }));
    }

    #[test]
    fn query_value_fills_f64_and_rejects_non_finite() {
        #[derive(Debug, Deserialize, PartialEq)]
        struct Price {
            price: f64,
        }
        assert_eq!(query::<Price>("price=1.5"), Ok(Price { price: 1.5 }));
        assert_eq!(query::<Price>("price=-2"), Ok(Price { price: -2.0 }));
        assert!(query::<Price>("price=NaN").is_err());
        let err = query::<Price>("price=abc").unwrap_err();
        assert_eq!(err.field.as_deref(), Some("price"));
    }

    #[test]
    fn query_value_fills_i64() {
        #[derive(Debug, Deserialize, PartialEq)]
        struct Offset {
            offset: i64,
        }
        assert_eq!(query::<Offset>("offset=-42"), Ok(Offset { offset: -42 }));
    }

    #[test]
    fn query_value_fills_string_borrowed_or_decoded() {
        #[derive(Debug, Deserialize, PartialEq)]
        struct Search {
            q: String,
        }
        assert_eq!(query::<Search>("q=hello"), Ok(Search { q: "hello".into() }));
        // A numeric-looking value stays a string for a String field.
        assert_eq!(query::<Search>("q=10"), Ok(Search { q: "10".into() }));
    }

    #[test]
    fn query_value_fills_unit_enum() {
        #[derive(Debug, Deserialize, PartialEq)]
        #[serde(rename_all = "lowercase")]
        enum Order {
            Asc,
            Desc,
        }
        #[derive(Debug, Deserialize, PartialEq)]
        struct Sort {
            order: Order,
        }
        assert_eq!(query::<Sort>("order=desc"), Ok(Sort { order: Order::Desc }));
        assert_eq!(query::<Sort>("order=%61sc"), Ok(Sort { order: Order::Asc }));
        let err = query::<Sort>("order=sideways").unwrap_err();
        assert_eq!(err.field.as_deref(), Some("order"));
        assert!(err.message.contains("unknown variant `sideways`"), "{err:?}");
    }

    #[test]
    fn query_value_fills_newtype() {
        #[derive(Debug, Deserialize, PartialEq)]
        struct UserId(u64);
        #[derive(Debug, Deserialize, PartialEq)]
        struct Input {
            id: UserId,
        }
        assert_eq!(query::<Input>("id=7"), Ok(Input { id: UserId(7) }));
    }

    #[test]
    fn path_param_fills_field() {
        #[derive(Debug, Deserialize, PartialEq)]
        #[serde(rename_all = "camelCase")]
        struct Input {
            user_id: u64,
            limit: Option<u32>,
        }
        let got = parse_input::<Input>(&parts(&[("userId", "42")], Some("limit=3"), None));
        assert_eq!(got, Ok(Input { user_id: 42, limit: Some(3) }));
    }

    #[test]
    fn path_param_is_percent_decoded_plus_kept() {
        #[derive(Debug, Deserialize, PartialEq)]
        struct Input {
            name: String,
        }
        let got = parse_input::<Input>(&parts(&[("name", "a%20b+c%2Fd")], None, None));
        assert_eq!(got, Ok(Input { name: "a b+c/d".into() }));
    }

    #[test]
    fn query_is_form_decoded_keys_and_values() {
        #[derive(Debug, Deserialize, PartialEq)]
        struct Input {
            #[serde(rename = "full name")]
            full_name: String,
            text: String,
        }
        let got = query::<Input>("full+name=J%C3%B6rg+M%C3%BCller&text=50%25+off%26more");
        assert_eq!(got, Ok(Input { full_name: "Jörg Müller".into(), text: "50% off&more".into() }));
    }

    #[test]
    fn malformed_percent_escapes_are_kept_literally() {
        assert_eq!(decode("100%", false), "100%");
        assert_eq!(decode("%zz%4", false), "%zz%4");
        assert_eq!(decode("%FF", false), "\u{FFFD}");
        assert!(matches!(decode("plain", true), Cow::Borrowed("plain")));
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Note {
        user_id: u64,
        text: String,
        done: Option<bool>,
    }

    #[test]
    fn body_and_path_are_merged() {
        let got = parse_input::<Note>(&parts(&[("userId", "9")], Some("done=true"), Some(r#"{"text":"hi"}"#)));
        assert_eq!(got, Ok(Note { user_id: 9, text: "hi".into(), done: Some(true) }));
    }

    #[test]
    fn conflicting_duplicate_query_key_is_rejected() {
        let err = query::<Limit>("limit=1&limit=2").unwrap_err();
        assert_eq!(err.field.as_deref(), Some("limit"));
        assert_eq!(err.message, "conflicting values for `limit` (given twice in the query)");
    }

    #[test]
    fn conflicting_duplicate_key_among_many_pairs_is_rejected() {
        let mut q: Vec<String> = (0..40).map(|i| format!("k{i}=v")).collect();
        q.push("limit=1".into());
        q.push("k3=w".into());
        let err = query::<Limit>(&q.join("&")).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("k3"));
        q.pop();
        q.push("k3=v".into());
        assert_eq!(query::<Limit>(&q.join("&")), Ok(Limit { limit: 1 }));
    }

    #[test]
    fn path_vs_query_conflict_is_rejected() {
        let err = parse_input::<Limit>(&parts(&[("limit", "1")], Some("limit=2"), None)).unwrap_err();
        assert_eq!(err.message, "conflicting values for `limit` (path and query)");
    }

    #[test]
    fn path_vs_body_conflict_is_rejected() {
        let err =
            parse_input::<Note>(&parts(&[("userId", "9")], None, Some(r#"{"userId":10,"text":"hi"}"#))).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("userId"));
        assert_eq!(err.message, "conflicting values for `userId` (path and body)");
        let err =
            parse_input::<Note>(&parts(&[("userId", "9")], None, Some(r#"{"userId":null,"text":"hi"}"#))).unwrap_err();
        assert_eq!(err.message, "conflicting values for `userId` (path and body)");
    }

    #[test]
    fn same_value_twice_is_accepted() {
        assert_eq!(query::<Limit>("limit=1&limit=1"), Ok(Limit { limit: 1 }));
        assert_eq!(parse_input::<Limit>(&parts(&[("limit", "1")], Some("limit=1"), None)), Ok(Limit { limit: 1 }));
        let expected = Ok(Note { user_id: 9, text: "hi".into(), done: Some(false) });
        // Number in the body, same text in the path.
        assert_eq!(
            parse_input::<Note>(&parts(
                &[("userId", "9")],
                Some("done=false"),
                Some(r#"{"userId":9,"text":"hi","done":false}"#),
            )),
            expected
        );
        // String in the body equal to the URL text: the URL value is kept and coerced.
        assert_eq!(
            parse_input::<Note>(&parts(&[("userId", "9")], None, Some(r#"{"userId":"9","text":"hi","done":false}"#),)),
            expected
        );
    }

    #[test]
    fn malformed_json_names_position() {
        let err = body::<Note>(r#"{"text": }"#).unwrap_err();
        assert!(err.message.starts_with("malformed JSON at line 1 column 10: expected value"), "{err:?}");
        // Same with URL params (merge path).
        let err = parse_input::<Note>(&parts(&[("userId", "1")], None, Some("{\n  \"text\" \"x\"}"))).unwrap_err();
        assert!(err.message.starts_with("malformed JSON at line 2 column"), "{err:?}");
        let err = body::<Note>(r#"{"userId":1,"text":"x"} extra"#).unwrap_err();
        assert!(err.message.starts_with("malformed JSON at line 1"), "{err:?}");
        let err = body::<Note>(r#"{"userId":1,"#).unwrap_err();
        assert!(err.message.starts_with("malformed JSON at line 1"), "{err:?}");
    }

    #[test]
    fn missing_field_is_named() {
        let err = body::<Note>(r#"{"userId":1}"#).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("text"));
        assert_eq!(err.message, "missing field `text`");
        // Same from URL params only.
        let err = query::<Note>("userId=1").unwrap_err();
        assert_eq!(err.message, "missing field `text`");
        let err = parse_input::<Limit>(&parts(&[], None, None)).unwrap_err();
        assert_eq!(err.message, "missing field `limit`");
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Notebook {
        notes: Vec<Item>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Item {
        text: String,
    }

    #[test]
    fn wrong_type_in_body_names_nested_field_path() {
        let err = body::<Notebook>(r#"{"notes":[{"text":"a"},{"text":5}]}"#).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("notes[1].text"));
        assert_eq!(
            err.message,
            "invalid value for field `notes[1].text`: invalid type: integer `5`, expected a string"
        );
        // Same through the merge path.
        let err = parse_input::<Notebook>(&parts(&[("id", "1")], None, Some(r#"{"notes":[{"text":5}]}"#))).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("notes[0].text"));
        // Nested missing field gets the full path.
        let err = body::<Notebook>(r#"{"notes":[{}]}"#).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("notes[0].text"));
        assert_eq!(err.message, "missing field `notes[0].text`");
    }

    #[test]
    fn body_string_is_not_coerced_to_number() {
        let err = body::<Limit>(r#"{"limit":"10"}"#).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("limit"));
        assert_eq!(err.message, "invalid value for field `limit`: invalid type: string \"10\", expected u32");
        // Also when merged with URL params.
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Input {
            id: u32,
            limit: u32,
        }
        let err = parse_input::<Input>(&parts(&[("id", "1")], None, Some(r#"{"limit":"10"}"#))).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("limit"));
    }

    #[test]
    fn non_object_body_with_url_params_is_rejected() {
        for b in ["[1,2]", "5", "null", "\"x\""] {
            let err = parse_input::<Note>(&parts(&[("userId", "1")], None, Some(b))).unwrap_err();
            assert_eq!(err.message, "the request body must be a JSON object");
            assert_eq!(err.field, None);
        }
        // Without URL params the body goes straight to the type.
        assert_eq!(body::<Vec<u32>>("[1,2]"), Ok(vec![1, 2]));
    }

    #[test]
    fn unit_input_accepts_anything() {
        let inputs = [
            parts(&[], None, None),
            parts(&[("id", "1")], Some("a=1&a=2"), Some("not json")),
            parts(&[], None, Some("[1,2,3]")),
            parts(&[], Some("x=%ZZ"), Some("")),
        ];
        for p in &inputs {
            assert_eq!(parse_input::<()>(p), Ok(()));
        }
        #[derive(Debug, Deserialize, PartialEq)]
        struct Nothing;
        assert_eq!(parse_input::<Nothing>(&inputs[1]), Ok(Nothing));
    }

    #[test]
    fn all_optional_struct_from_no_input() {
        #[derive(Debug, Deserialize, PartialEq, Default)]
        struct Filters {
            limit: Option<u32>,
            #[serde(default)]
            tags: Vec<String>,
            q: Option<String>,
        }
        assert_eq!(parse_input::<Filters>(&parts(&[], None, None)), Ok(Filters::default()));
        // A zero-byte body counts as absent.
        assert_eq!(parse_input::<Filters>(&parts(&[], Some(""), Some(""))), Ok(Filters::default()));
    }

    #[test]
    fn unknown_extra_query_keys_are_ignored() {
        assert_eq!(query::<Limit>("limit=1&utm_source=x&flag"), Ok(Limit { limit: 1 }));
    }

    #[test]
    fn deny_unknown_fields_reports_unknown_key() {
        #[derive(Debug, Deserialize, PartialEq)]
        #[serde(deny_unknown_fields)]
        struct Strict {
            limit: u32,
        }
        let err = query::<Strict>("limit=1&extra=2").unwrap_err();
        assert_eq!(err.field.as_deref(), Some("extra"));
        assert!(err.message.starts_with("unknown field `extra`"), "{err:?}");
        let err = body::<Strict>(r#"{"limit":1,"extra":2}"#).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("extra"));
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Outer {
            inner: Strict,
        }
        let err = body::<Outer>(r#"{"inner":{"limit":1,"extra":2}}"#).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("inner.extra"));
        assert!(err.message.starts_with("invalid value for field `inner`: unknown field `extra`"), "{err:?}");
    }

    #[test]
    fn echoed_values_are_truncated() {
        let long = "x".repeat(10_000);
        let err = body::<Limit>(&format!(r#"{{"limit":"{long}"}}"#)).unwrap_err();
        assert!(err.message.len() < 200, "{}", err.message);
        assert!(err.message.contains('…'));
        let err = query::<Limit>(&format!("{long}=1&{long}=2")).unwrap_err();
        assert!(err.message.len() < 200, "{}", err.message);
        assert!(err.field.unwrap().len() < 200);
    }

    #[test]
    fn map_input_keys_and_values_from_query() {
        use std::collections::BTreeMap;
        let got = query::<BTreeMap<String, String>>("a=1&b=x+y");
        let want: BTreeMap<String, String> = [("a".into(), "1".into()), ("b".into(), "x y".into())].into();
        assert_eq!(got, Ok(want));
    }
}
