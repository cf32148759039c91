//! Building the merged input, once per request: the URL's entries decoded and deduplicated, the body
//! scanned into its top-level members (each value kept as the JSON text it is), and the two checked
//! against each other.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;

use serde::de::{self, Deserialize, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;

use super::errors::{from_json_error, input_error};
use super::url::{collect_url, conflict, Source, UrlEntry};
use super::{InputError, InputParts};

/// A top-level member of a JSON object body: its key (borrowed unless escaped) and its value's JSON text.
pub(super) type Member<'a> = (Cow<'a, str>, &'a RawValue);

/// The request's input, merged: what the function's input type and every permission's view deserialize
/// from (see `deserializer.rs`).
#[derive(Debug, Default)]
pub(super) struct Merged<'a> {
    /// URL entries (path parameters first, then the query), decoded, duplicates removed.
    pub(super) url: Vec<UrlEntry<'a>>,
    /// The body's top-level members, in order, without those that repeat a URL entry.
    pub(super) members: Vec<Member<'a>>,
    /// Without URL parameters, the body is the input by itself, and a type that is not read member by member
    /// (a sequence, an enum, a non-object body) reads it whole, exactly as `serde_json` would.
    pub(super) whole: Option<Whole<'a>>,
}

/// A body that is the whole input (no URL parameters).
#[derive(Debug, Clone, Copy)]
pub(super) struct Whole<'a> {
    pub(super) bytes: &'a [u8],
    /// Whether the body is a JSON object (and so is in `members`).
    pub(super) object: bool,
}

impl Merged<'_> {
    /// No entry from either source (an `Option` input is then `None`).
    pub(super) fn is_empty(&self) -> bool {
        self.url.is_empty() && self.members.is_empty()
    }
}

/// Merges the parts; errors are the request's 422.
pub(super) fn merge<'a>(parts: &InputParts<'a>) -> Result<Merged<'a>, InputError> {
    let query = parts.query.filter(|q| !q.is_empty());
    let body = parts.body.filter(|b| !b.is_empty());
    if parts.path_params.is_empty() && query.is_none() {
        let Some(bytes) = body else { return Ok(Merged::default()) };
        let members = scan(bytes)?;
        let whole = Some(Whole { bytes, object: members.is_some() });
        return Ok(Merged { url: Vec::new(), members: members.unwrap_or_default(), whole });
    }
    let url = collect_url(parts.path, parts.path_params, query)?;
    let mut members = match body.map(scan).transpose()? {
        None => Vec::new(),
        Some(Some(members)) => members,
        Some(None) => return Err(input_error(None, "the request body must be a JSON object".to_owned())),
    };
    drop_agreeing_members(&url, &mut members)?;
    Ok(Merged { url, members, whole: None })
}

/// A body member under a URL key must state the same value (see [`body_agrees`]); it is then dropped, and
/// the URL value (which is coerced by the type) is kept. Every member under the key is checked, so a key
/// repeated in the body cannot slip a second value past the check.
fn drop_agreeing_members(url: &[UrlEntry<'_>], members: &mut Vec<Member<'_>>) -> Result<(), InputError> {
    if url.is_empty() || members.is_empty() {
        return Ok(());
    }
    // Few URL entries (the usual case): look each member's key up by comparison; many: through a map, so a
    // long query against a large body stays linear.
    let index: Option<HashMap<&str, &UrlEntry<'_>>> =
        (url.len() > URL_LOOKUP_LINEAR_MAX).then(|| url.iter().map(|entry| (entry.key.as_ref(), entry)).collect());
    let find = |key: &str| match &index {
        Some(index) => index.get(key).copied(),
        None => url.iter().find(|entry| entry.key == key),
    };
    let mut result = Ok(());
    members.retain(|(key, value)| match find(key) {
        None => true,
        Some(entry) => {
            if result.is_ok() && !body_agrees(value, &entry.value) {
                result = Err(conflict(&entry.key, entry.source, Source::Body));
            }
            false
        }
    });
    result
}

/// Up to this many URL entries, a body member's key is compared with each; beyond, looked up in a map.
const URL_LOOKUP_LINEAR_MAX: usize = 8;

/// Whether a body value states the same thing as a URL string: a string equal to it, or a number or bool
/// whose canonical text (as `serde_json` prints it: `5`, `1.5`, `true`) equals it. `null`, arrays and
/// objects never agree.
fn body_agrees(value: &RawValue, url: &str) -> bool {
    // Only for a key given in both places, which is rare: parsing the one value here costs little.
    match serde_json::from_str::<Value>(value.get()) {
        Ok(Value::String(s)) => s == url,
        Ok(Value::Bool(true)) => url == "true",
        Ok(Value::Bool(false)) => url == "false",
        Ok(Value::Number(n)) => {
            let mut text = String::new();
            let _ = write!(text, "{n}");
            text == url
        }
        Ok(Value::Null | Value::Array(_) | Value::Object(_)) | Err(_) => false,
    }
}

/// Reads the body once, checking that it is well-formed JSON: an object gives its members (values as raw
/// JSON text, keys borrowed unless escaped); any other value gives `None`.
fn scan(bytes: &[u8]) -> Result<Option<Vec<Member<'_>>>, InputError> {
    let scan = || {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let members = de::Deserializer::deserialize_any(&mut de, ScanVisitor)?;
        de.end()?;
        Ok::<_, serde_json::Error>(members)
    };
    scan().map_err(|e| from_json_error(&e, None))
}

struct ScanVisitor;

impl<'de> Visitor<'de> for ScanVisitor {
    type Value = Option<Vec<Member<'de>>>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::new();
        while let Some(Key(key)) = map.next_key()? {
            members.push((key, map.next_value()?));
        }
        Ok(Some(members))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// An object key, borrowed from the body unless it has escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object key")
            }

            fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(key)))
            }

            fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(key.to_owned())))
            }

            fn visit_string<E>(self, key: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(key)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}
