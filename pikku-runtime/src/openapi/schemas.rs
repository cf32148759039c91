//! The document's schemas: one generator per direction, merged into one `components.schemas`.
//!
//! Inputs are described as they deserialize (a `#[serde(default)]` field is not required) and outputs as they
//! serialize (a `skip_serializing` field is absent, an `Option` without `skip_serializing_if` is always there),
//! so the generator of each direction carries its schemars contract. A type used in both directions whose two
//! schemas agree is one component; when they differ, the output's is renamed (`NoteOutput`). Component names
//! the framework reserves (`Error`) are never given to an application's type.

use std::collections::{BTreeMap, BTreeSet};

use schemars::generate::SchemaSettings;
use schemars::SchemaGenerator;
use serde_json::{Map, Value};

/// Where the generators place definitions, and so where every `$ref` they write points.
pub(super) const COMPONENTS_PATH: &str = "/components/schemas";

/// A generator whose definitions land under `#/components/schemas`, with no `$schema` key.
pub(super) fn generator(for_output: bool) -> SchemaGenerator {
    let settings = SchemaSettings::draft2020_12().with(|settings| {
        settings.definitions_path = COMPONENTS_PATH.into();
        settings.meta_schema = None;
    });
    if for_output { settings.for_serialize() } else { settings.for_deserialize() }.into_generator()
}

/// The `$ref` that points at the component `name`, written as schemars writes it: a JSON pointer (`~0`, `~1`) in
/// a URI fragment (other characters a fragment cannot hold percent-encoded).
pub(super) fn component_ref(name: &str) -> String {
    use std::fmt::Write as _;

    let mut reference = format!("#{COMPONENTS_PATH}/");
    for byte in name.bytes() {
        match byte {
            b'~' => reference.push_str("~0"),
            b'/' => reference.push_str("~1"),
            b'!' | b'$' | b'&'..=b';' | b'=' | b'?'..=b'Z' | b'_' | b'a'..=b'z' => reference.push(char::from(byte)),
            // `2X`, not `02X`: byte for byte what schemars writes, so the references it made are found.
            _ => write!(reference, "%{byte:2X}").expect("writing to a String cannot fail"),
        }
    }
    reference
}

/// `$ref` rewrites (old reference to new reference) for one direction's schemas.
pub(super) type Renames = BTreeMap<String, String>;

/// The merged components and the rewrites the schemas of each direction need.
#[derive(Debug)]
pub(super) struct Merged {
    pub(super) components: Map<String, Value>,
    pub(super) input_renames: Renames,
    pub(super) output_renames: Renames,
}

/// Merges the input and output definitions, keeping `reserved` names free.
pub(super) fn merge(inputs: Map<String, Value>, outputs: Map<String, Value>, reserved: &[&str]) -> Merged {
    let mut taken: BTreeSet<String> = reserved
        .iter()
        .map(|name| (*name).to_owned())
        .chain(inputs.keys().cloned())
        .chain(outputs.keys().cloned())
        .collect();

    let mut input_names = BTreeMap::new();
    for name in inputs.keys() {
        let final_name = if reserved.contains(&name.as_str()) { fresh(name, &mut taken) } else { name.clone() };
        input_names.insert(name.clone(), final_name);
    }

    let shared = shared_names(&inputs, &outputs, reserved);
    let mut output_names = BTreeMap::new();
    for name in outputs.keys() {
        let final_name = if shared.contains(name) {
            name.clone()
        } else if inputs.contains_key(name) {
            fresh(&format!("{name}Output"), &mut taken)
        } else if reserved.contains(&name.as_str()) {
            fresh(name, &mut taken)
        } else {
            name.clone()
        };
        output_names.insert(name.clone(), final_name);
    }

    let input_renames = renames(&input_names);
    let output_renames = renames(&output_names);
    let mut components = Map::new();
    for (name, mut schema) in inputs {
        rewrite_refs(&mut schema, &input_renames);
        components.insert(input_names[&name].clone(), schema);
    }
    for (name, mut schema) in outputs {
        if shared.contains(&name) {
            continue;
        }
        rewrite_refs(&mut schema, &output_renames);
        components.insert(output_names[&name].clone(), schema);
    }
    Merged { components, input_renames, output_renames }
}

/// The names both directions can share: the same schema text, referring only to names that are shared too
/// (the same text can mean two things when a type it refers to differs between the directions).
fn shared_names(inputs: &Map<String, Value>, outputs: &Map<String, Value>, reserved: &[&str]) -> BTreeSet<String> {
    let by_ref: BTreeMap<String, &String> = outputs.keys().map(|name| (component_ref(name), name)).collect();
    let mut shared: BTreeSet<String> = outputs
        .iter()
        .filter(|(name, schema)| !reserved.contains(&name.as_str()) && inputs.get(*name) == Some(*schema))
        .map(|(name, _)| name.clone())
        .collect();
    loop {
        let unshareable: Vec<String> = shared
            .iter()
            .filter(|name| {
                let mut references = BTreeSet::new();
                collect_refs(&outputs[name.as_str()], &mut references);
                references.iter().filter_map(|reference| by_ref.get(reference)).any(|target| !shared.contains(*target))
            })
            .cloned()
            .collect();
        if unshareable.is_empty() {
            return shared;
        }
        for name in unshareable {
            shared.remove(&name);
        }
    }
}

/// `base`, or `base2`, `base3`, ... whichever is free first; the name is then taken.
fn fresh(base: &str, taken: &mut BTreeSet<String>) -> String {
    let name = if taken.contains(base) {
        (2..).map(|n| format!("{base}{n}")).find(|candidate| !taken.contains(candidate)).expect("an unbounded range")
    } else {
        base.to_owned()
    };
    taken.insert(name.clone());
    name
}

fn renames(names: &BTreeMap<String, String>) -> Renames {
    names.iter().filter(|(old, new)| old != new).map(|(old, new)| (component_ref(old), component_ref(new))).collect()
}

/// Replaces every `$ref` listed in `renames`.
pub(super) fn rewrite_refs(value: &mut Value, renames: &Renames) {
    if renames.is_empty() {
        return;
    }
    match value {
        Value::Object(object) => {
            for (key, member) in object.iter_mut() {
                match member {
                    Value::String(reference) if key == "$ref" => {
                        if let Some(renamed) = renames.get(reference.as_str()) {
                            reference.clone_from(renamed);
                        }
                    }
                    _ => rewrite_refs(member, renames),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| rewrite_refs(item, renames)),
        _ => {}
    }
}

fn collect_refs(value: &Value, references: &mut BTreeSet<String>) {
    match value {
        Value::Object(object) => {
            for (key, member) in object {
                match member {
                    Value::String(reference) if key == "$ref" => {
                        references.insert(reference.clone());
                    }
                    _ => collect_refs(member, references),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, references)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!("the tests pass objects"),
        }
    }

    #[test]
    fn equal_schemas_are_shared_and_differing_ones_renamed() {
        let inputs = map(json!({
            "Same": {"type": "string"},
            "Note": {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}},
        }));
        let outputs = map(json!({
            "Same": {"type": "string"},
            "Note": {"type": "object", "required": ["id", "text"], "properties": {"text": {"type": "string"}, "id": {"type": "integer"}}},
            "List": {"type": "array", "items": {"$ref": "#/components/schemas/Note"}},
        }));
        let merged = merge(inputs, outputs, &["Error"]);
        let names: Vec<&str> = merged.components.keys().map(String::as_str).collect();
        assert_eq!(names, ["List", "Note", "NoteOutput", "Same"]);
        assert_eq!(merged.components["Note"]["required"], json!(["text"]));
        assert_eq!(merged.components["NoteOutput"]["required"], json!(["id", "text"]));
        assert_eq!(merged.components["List"]["items"]["$ref"], "#/components/schemas/NoteOutput");
        assert!(merged.input_renames.is_empty());
        assert_eq!(merged.output_renames["#/components/schemas/Note"], "#/components/schemas/NoteOutput");
    }

    #[test]
    fn the_same_text_referring_to_a_differing_type_is_not_shared() {
        let inputs = map(json!({
            "Page": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
            "Item": {"type": "object", "properties": {"a": {"type": "string"}}},
        }));
        let outputs = map(json!({
            "Page": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
            "Item": {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}},
        }));
        let merged = merge(inputs, outputs, &[]);
        assert_eq!(merged.components["Page"]["items"]["$ref"], "#/components/schemas/Item");
        assert_eq!(merged.components["PageOutput"]["items"]["$ref"], "#/components/schemas/ItemOutput");
        assert_eq!(merged.components["ItemOutput"]["required"], json!(["a"]));
    }

    #[test]
    fn reserved_names_go_to_no_application_type() {
        let inputs = map(json!({"Error": {"type": "string"}, "Error2": {"type": "boolean"}}));
        let outputs = map(json!({"Error": {"type": "integer"}, "Wrap": {"$ref": "#/components/schemas/Error"}}));
        let merged = merge(inputs, outputs, &["Error"]);
        assert!(!merged.components.contains_key("Error"));
        assert_eq!(merged.components["Error2"], json!({"type": "boolean"}));
        assert_eq!(merged.components["Error3"], json!({"type": "string"}));
        assert_eq!(merged.components["ErrorOutput"], json!({"type": "integer"}));
        assert_eq!(merged.components["Wrap"]["$ref"], "#/components/schemas/ErrorOutput");
        assert_eq!(merged.input_renames["#/components/schemas/Error"], "#/components/schemas/Error3");
    }

    #[test]
    fn a_property_named_ref_is_not_rewritten() {
        let mut schema =
            json!({"properties": {"$ref": {"$ref": "#/components/schemas/A"}}, "enum": ["#/components/schemas/A"]});
        let renames = Renames::from([("#/components/schemas/A".to_owned(), "#/components/schemas/B".to_owned())]);
        rewrite_refs(&mut schema, &renames);
        assert_eq!(
            schema,
            json!({"properties": {"$ref": {"$ref": "#/components/schemas/B"}}, "enum": ["#/components/schemas/A"]})
        );
    }
}
