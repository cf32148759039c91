//! The field names a type reads from the input, known at start-up without any data.
//!
//! serde's derive hands a struct's field names (renames and aliases applied, skipped fields left out) to the
//! deserializer it is given, in `deserialize_struct`. A deserializer that records them and stops there tells
//! which names a function's input, or a permission's view, can take from the route's parameters. What does
//! not reach `deserialize_struct` (a map, `#[serde(flatten)]`, `serde_json::Value`, an untagged or
//! internally tagged enum, a scalar) reads names nobody can list: those are [`InputFields::Unknown`], and
//! the start-up checks skip them.

use std::cell::Cell;

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};

/// What a type reads from a request's input, by field name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFields {
    /// A struct: the names it accepts (each `rename` / `rename_all` applied, aliases included).
    Named(&'static [&'static str]),
    /// `()` or a unit struct: reads nothing, so every parameter is dropped.
    Nothing,
    /// Cannot be known without data: a map, `#[serde(flatten)]`, `serde_json::Value`, an untagged or
    /// internally tagged enum, a scalar, or a hand-written `Deserialize` that does not read a struct.
    Unknown,
}

impl InputFields {
    /// Reads the field names of `T` from its `Deserialize` implementation, without data.
    pub fn of<T: DeserializeOwned>() -> Self {
        let recorder = Recorder(Cell::new(None));
        // The recorder stops every deserialization with an error once it has seen the shape (or found it
        // unknowable); a unit type completes. Either way the outcome is what it recorded.
        let _ = T::deserialize(&recorder);
        recorder.0.get().unwrap_or(Self::Unknown)
    }

    /// Whether the type reads `name` (`false` for [`Unknown`](Self::Unknown): ask [`is_known`](Self::is_known)).
    pub fn has(&self, name: &str) -> bool {
        match self {
            Self::Named(fields) => fields.contains(&name),
            Self::Nothing | Self::Unknown => false,
        }
    }

    /// Whether the names are known ([`Named`](Self::Named) or [`Nothing`](Self::Nothing)).
    pub fn is_known(&self) -> bool {
        !matches!(self, Self::Unknown)
    }

    /// The names, empty unless [`Named`](Self::Named).
    pub fn names(&self) -> &'static [&'static str] {
        match self {
            Self::Named(fields) => fields,
            Self::Nothing | Self::Unknown => &[],
        }
    }
}

/// Records the shape the type asks for; never reads a value.
struct Recorder(Cell<Option<InputFields>>);

impl Recorder {
    fn stop<T>(&self, fields: InputFields) -> Result<T, de::value::Error> {
        self.0.set(Some(fields));
        Err(de::Error::custom("field names recorded"))
    }
}

macro_rules! unknown {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* _visitor: V) -> Result<V::Value, Self::Error> {
            $(let _ = $arg;)*
            self.stop(InputFields::Unknown)
        }
    )*};
}

impl<'de> Deserializer<'de> for &Recorder {
    type Error = de::value::Error;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.stop(InputFields::Named(fields))
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.0.set(Some(InputFields::Nothing));
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_unit(visitor)
    }

    // `Option<Input>` and newtypes read what their inner type reads.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    unknown! {
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
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
        deserialize_ignored_any();
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde::Deserialize;

    use super::InputFields;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct CreateTask {
        project_id: String,
        #[serde(alias = "name")]
        title: String,
        #[serde(skip)]
        cached: Option<u8>,
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Flattened {
        id: String,
        #[serde(flatten)]
        rest: HashMap<String, String>,
    }

    #[derive(Deserialize)]
    struct Unit;

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Wrapper(CreateTask);

    #[derive(Deserialize)]
    #[serde(untagged)]
    #[allow(dead_code)]
    enum Either {
        A { a: u8 },
        B { b: u8 },
    }

    #[test]
    fn a_struct_gives_its_names_as_serde_reads_them() {
        assert_eq!(InputFields::of::<CreateTask>(), InputFields::Named(&["projectId", "name", "title"]));
        assert!(InputFields::of::<CreateTask>().has("projectId"));
        assert!(!InputFields::of::<CreateTask>().has("project_id"));
    }

    #[test]
    fn wrappers_read_what_they_wrap() {
        assert_eq!(InputFields::of::<Option<CreateTask>>(), InputFields::of::<CreateTask>());
        assert_eq!(InputFields::of::<Wrapper>(), InputFields::of::<CreateTask>());
        assert_eq!(InputFields::of::<Box<CreateTask>>(), InputFields::of::<CreateTask>());
    }

    #[test]
    fn unit_reads_nothing() {
        assert_eq!(InputFields::of::<()>(), InputFields::Nothing);
        assert_eq!(InputFields::of::<Unit>(), InputFields::Nothing);
    }

    #[test]
    fn what_reads_any_name_is_unknown() {
        assert_eq!(InputFields::of::<Flattened>(), InputFields::Unknown);
        assert_eq!(InputFields::of::<HashMap<String, String>>(), InputFields::Unknown);
        assert_eq!(InputFields::of::<serde_json::Value>(), InputFields::Unknown);
        assert_eq!(InputFields::of::<Either>(), InputFields::Unknown);
        assert_eq!(InputFields::of::<String>(), InputFields::Unknown);
        assert!(!InputFields::Unknown.is_known());
    }
}
