//! Whether a concrete type has a JSON Schema, asked without requiring it: the `#[pikku_func]` macro documents a
//! function's input and output when their types derive `JsonSchema`, and a function whose types derive none must
//! still compile.
//!
//! This is autoref specialisation: [`JsonSchemaProbe`] is implemented for [`Probe<T>`] only when `T:
//! JsonSchema`, [`FallbackProbe`] for `&Probe<T>` always. A method call on `&Probe<T>` tries the receiver type
//! `&Probe<T>` first (the `&self` of `JsonSchemaProbe`), and only when that impl does not apply moves on to
//! `&&Probe<T>` (the `&self` of `FallbackProbe`). The choice is made where the call is written, so it only works
//! with a concrete type there: inside a function generic over `T` the fallback always wins. Generated code names
//! concrete types, which is the case it serves.
//!
//! ```
//! use pikku_runtime::schema_fn_of;
//!
//! #[derive(pikku_runtime::JsonSchema)]
//! #[schemars(crate = "pikku_runtime::schemars")]
//! struct Described { id: u32 }
//!
//! struct Undescribed;
//!
//! assert!(schema_fn_of!(Described).is_some());
//! assert!(schema_fn_of!(Undescribed).is_none());
//! ```

use std::fmt;
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator};

use super::SchemaFn;

/// A zero-sized stand-in for the type `T`, whose [`schema_fn`](JsonSchemaProbe::schema_fn) method says
/// whether `T` has a schema (see the module docs; call it through [`schema_fn_of!`](crate::schema_fn_of)).
pub struct Probe<T: ?Sized>(PhantomData<T>);

impl<T: ?Sized> Probe<T> {
    /// The probe for `T`.
    #[must_use]
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

impl<T: ?Sized> Default for Probe<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: ?Sized> fmt::Debug for Probe<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Probe<{}>", std::any::type_name::<T>())
    }
}

/// The branch taken when `T: JsonSchema`: `Some` schema function.
pub trait JsonSchemaProbe {
    /// The function that writes the type's schema into a document's generator.
    fn schema_fn(&self) -> Option<SchemaFn>;
}

impl<T: JsonSchema + ?Sized> JsonSchemaProbe for Probe<T> {
    fn schema_fn(&self) -> Option<SchemaFn> {
        Some(subschema::<T>)
    }
}

/// The branch taken for any other type: `None`.
pub trait FallbackProbe {
    /// Always `None`: the type has no schema.
    fn schema_fn(&self) -> Option<SchemaFn>;
}

impl<T: ?Sized> FallbackProbe for &Probe<T> {
    fn schema_fn(&self) -> Option<SchemaFn> {
        None
    }
}

/// `T`'s schema as the document places it: a `$ref` into the components for a named type, inline otherwise.
fn subschema<T: JsonSchema + ?Sized>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// `Option<SchemaFn>` for a concrete type: `Some` when it implements `JsonSchema`, `None` otherwise, without
/// requiring the bound (see [`openapi::probe`](crate::openapi::probe)).
///
/// ```
/// use pikku_runtime::openapi::SchemaFn;
///
/// let described: Option<SchemaFn> = pikku_runtime::schema_fn_of!(Vec<String>);
/// let undescribed: Option<SchemaFn> = pikku_runtime::schema_fn_of!(std::time::Instant);
/// assert!(described.is_some() && undescribed.is_none());
/// ```
#[macro_export]
macro_rules! schema_fn_of {
    ($type:ty) => {{
        #[allow(unused_imports)]
        use $crate::openapi::probe::{FallbackProbe as _, JsonSchemaProbe as _};
        (&$crate::openapi::probe::Probe::<$type>::new()).schema_fn()
    }};
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(crate::JsonSchema)]
    #[schemars(crate = "crate::schemars")]
    #[allow(dead_code)]
    struct Described {
        id: u32,
    }

    #[allow(dead_code)]
    struct Undescribed {
        id: u32,
    }

    #[test]
    fn a_type_deriving_json_schema_yields_its_schema_function() {
        let schema_fn = crate::schema_fn_of!(Described).expect("Described derives JsonSchema");
        let mut generator = SchemaGenerator::default();
        let reference = schema_fn(&mut generator);
        assert_eq!(reference.as_value(), &json!({"$ref": "#/$defs/Described"}));
        let definition = &generator.definitions()["Described"];
        assert_eq!(definition["properties"]["id"]["type"], "integer");
        assert_eq!(definition["required"], json!(["id"]));
    }

    #[test]
    fn a_type_without_json_schema_yields_none() {
        assert!(crate::schema_fn_of!(Undescribed).is_none());
        assert!(crate::schema_fn_of!(std::time::Instant).is_none());
    }

    #[test]
    fn std_types_with_schemas_are_found_through_the_probe() {
        let mut generator = SchemaGenerator::default();
        let string = crate::schema_fn_of!(String).expect("String has a schema");
        assert_eq!(string(&mut generator).as_value(), &json!({"type": "string"}));
        let list = crate::schema_fn_of!(Vec<Described>).expect("a list of described items has a schema");
        assert_eq!(list(&mut generator).as_value(), &json!({"type": "array", "items": {"$ref": "#/$defs/Described"}}));
    }

    #[test]
    fn the_probe_debug_names_its_type() {
        assert_eq!(
            format!("{:?}", Probe::<Undescribed>::new()),
            format!("Probe<{}>", std::any::type_name::<Undescribed>())
        );
    }
}
