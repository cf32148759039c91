//! The serde side: deserializing a type from the merged input. URL values are strings coerced by the type
//! that asks for them; body values are JSON, read from their text exactly as `serde_json` reads them.

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::merge::{Member, Merged, Whole};
use super::url::UrlEntry;
use super::MergedInput;

/// The top of a deserialization: decides lazily whether the input is needed at all, so `()` (and unit
/// structs) cost nothing and never build the merge.
pub(super) struct Top<'m, 'a>(pub(super) &'m MergedInput<'a>);

impl<'m, 'a> Top<'m, 'a> {
    fn merged(&self) -> Result<&'m Merged<'a>, serde_json::Error> {
        // A failed merge is reported as it is by `MergedInput::deserialize`, which finds it stored.
        self.0.merged().as_ref().map_err(|e| de::Error::custom(&e.message))
    }
}

macro_rules! top_forward {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'m>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, Self::Error> {
            self.merged()?.$method($($arg,)* visitor)
        }
    )*};
}

impl<'m> Deserializer<'m> for Top<'m, '_> {
    type Error = serde_json::Error;

    // `()`, unit structs and ignored input: accept anything, look at nothing.
    fn deserialize_unit<V: Visitor<'m>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'m>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }

    fn deserialize_ignored_any<V: Visitor<'m>>(self, visitor: V) -> Result<V::Value, Self::Error> {
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
// The merged input, lent to one deserialization: as a map of the URL entries then the body's members, or,
// for a body that is the whole input and a type that does not read a map, as the body's JSON text.

/// Reads the whole body with `serde_json` when it is the input by itself and `read_as_map` is false.
macro_rules! whole_or {
    ($merged:ident, $read_as_map:expr, $method:ident($($arg:ident),*), $visitor:ident, $otherwise:expr) => {
        match $merged.whole {
            Some(whole) if !$read_as_map(whole) => {
                let mut de = serde_json::Deserializer::from_slice(whole.bytes);
                let value = (&mut de).$method($($arg,)* $visitor)?;
                de.end()?;
                Ok(value)
            }
            _ => $otherwise,
        }
    };
}

/// A body that is the whole input is read member by member when it is an object.
fn object(whole: Whole<'_>) -> bool {
    whole.object
}

/// Never member by member: the type does not read a map.
fn never(_: Whole<'_>) -> bool {
    false
}

macro_rules! whole_or_any {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'m>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, Self::Error> {
            whole_or!(self, never, $method($($arg),*), visitor, self.deserialize_any(visitor))
        }
    )*};
}

impl<'m> Deserializer<'m> for &'m Merged<'_> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'m>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        whole_or!(self, object, deserialize_any(), visitor, visitor.visit_map(self.access()))
    }

    fn deserialize_map<V: Visitor<'m>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        whole_or!(self, object, deserialize_map(), visitor, visitor.visit_map(self.access()))
    }

    fn deserialize_struct<V: Visitor<'m>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        whole_or!(self, object, deserialize_struct(name, fields), visitor, visitor.visit_map(self.access()))
    }

    fn deserialize_option<V: Visitor<'m>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.whole {
            // An object body is not `null`.
            Some(Whole { object: true, .. }) => visitor.visit_some(self),
            _ => whole_or!(self, never, deserialize_option(), visitor, {
                if self.is_empty() {
                    visitor.visit_none()
                } else {
                    visitor.visit_some(self)
                }
            }),
        }
    }

    fn deserialize_unit<V: Visitor<'m>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }

    fn deserialize_ignored_any<V: Visitor<'m>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'m>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    whole_or_any! {
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
        deserialize_unit_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
    }
}

impl<'m> Merged<'_> {
    fn access(&'m self) -> MergedAccess<'m> {
        MergedAccess { url: self.url.iter(), body: self.members.iter(), pending: None }
    }
}

enum Pending<'m> {
    Url(&'m str),
    Body(&'m RawValue),
}

struct MergedAccess<'m> {
    url: std::slice::Iter<'m, UrlEntry<'m>>,
    body: std::slice::Iter<'m, Member<'m>>,
    pending: Option<Pending<'m>>,
}

impl<'m> MapAccess<'m> for MergedAccess<'m> {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'m>>(&mut self, seed: K) -> Result<Option<K::Value>, Self::Error> {
        if let Some(entry) = self.url.next() {
            self.pending = Some(Pending::Url(&entry.value));
            return seed.deserialize(UrlValue(&entry.key)).map(Some);
        }
        if let Some((key, value)) = self.body.next() {
            self.pending = Some(Pending::Body(value));
            return seed.deserialize(UrlValue(key)).map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'m>>(&mut self, seed: V) -> Result<V::Value, Self::Error> {
        match self.pending.take() {
            Some(Pending::Url(value)) => seed.deserialize(UrlValue(value)),
            // Body values are read from their JSON text, as the body alone would be: no coercion.
            Some(Pending::Body(value)) => seed.deserialize(&mut serde_json::Deserializer::from_str(value.get())),
            None => Err(de::Error::custom("value requested before key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.url.len() + self.body.len())
    }
}

// ---------------------------------------------------------------------------
// A string from the URL (or a map key), coerced by the requested type.

struct UrlValue<'m>(&'m str);

impl UrlValue<'_> {
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
        fn $method<V: Visitor<'m>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            visitor.$visit(self.parse::<$ty>()?)
        }
    )*};
}

impl<'m> Deserializer<'m> for UrlValue<'m> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'m>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_borrowed_str(self.0)
    }

    fn deserialize_bool<V: Visitor<'m>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
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

    fn deserialize_f32<V: Visitor<'m>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_f32(self.parse_float::<f32>()?)
    }

    fn deserialize_f64<V: Visitor<'m>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_f64(self.parse_float::<f64>()?)
    }

    fn deserialize_option<V: Visitor<'m>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        if self.0.is_empty() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'m>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'m>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'m>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'m>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        // Unit variants from the string; serde's string deserializer rejects newtype/tuple/struct variants.
        BorrowedStrDeserializer::<serde_json::Error>::new(self.0).deserialize_enum(name, variants, visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'m>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        <W: Visitor<'m>>
        char str string bytes byte_buf seq tuple tuple_struct map struct identifier
    }
}
