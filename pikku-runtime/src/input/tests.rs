//! The input's behaviour, pinned through the same entry the endpoint uses ([`MergedInput::deserialize`]).

use std::borrow::Cow;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::url::decode;
use super::*;

/// A request's input parts, owned, as the router and the body reader would give them.
struct Parts<'a> {
    path: String,
    path_params: PathParams,
    query: Option<&'a str>,
    body: Option<&'a str>,
}

impl Parts<'_> {
    fn input(&self) -> MergedInput<'_> {
        MergedInput::new(InputParts {
            path: &self.path,
            path_params: &self.path_params,
            query: self.query,
            body: self.body.map(str::as_bytes),
        })
    }
}

fn parts<'a>(path_params: &[(&str, &str)], query: Option<&'a str>, body: Option<&'a str>) -> Parts<'a> {
    let (path, path_params) = PathParams::from_pairs(path_params);
    Parts { path, path_params, query, body }
}

/// One deserialization from a fresh input, as a function without permissions reads it.
fn parse_input<T: DeserializeOwned>(parts: &Parts<'_>) -> Result<T, InputError> {
    parts.input().deserialize()
}

fn query<T: DeserializeOwned>(q: &str) -> Result<T, InputError> {
    parse_input(&parts(&[], Some(q), None))
}

fn body<T: DeserializeOwned>(b: &str) -> Result<T, InputError> {
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
    let err = parse_input::<Note>(&parts(&[("userId", "9")], None, Some(r#"{"userId":10,"text":"hi"}"#))).unwrap_err();
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
    assert_eq!(err.message, "invalid value for field `notes[1].text`: invalid type: integer `5`, expected a string");
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

// ---------------------------------------------------------------------------
// One merge, shared by the function and its permissions

/// What `add_note` and `owns_or_admin` read: the function's input and a permission's view of it.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct NewNote {
    user_id: String,
    text: String,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct UserScoped {
    user_id: String,
}

#[test]
fn function_input_and_permission_view_read_one_merge() {
    let p = parts(&[("userId", "u%201")], Some("x=1"), Some(r#"{"text":"hi"}"#));
    let input = p.input();
    assert_eq!(input.deserialize::<NewNote>(), Ok(NewNote { user_id: "u 1".into(), text: "hi".into() }));
    let built = input.merged.get().map(|m| m.as_ref().map(|m| m as *const Merged<'_>));
    assert_eq!(input.deserialize::<UserScoped>(), Ok(UserScoped { user_id: "u 1".into() }));
    let again = input.merged.get().map(|m| m.as_ref().map(|m| m as *const Merged<'_>));
    assert!(matches!(built, Some(Ok(_))));
    assert_eq!(built, again, "the view reads the merge the function's input built");
}

#[test]
fn unit_input_does_not_build_the_merge() {
    let p = parts(&[("userId", "1")], Some("a=1&a=2"), Some("not json"));
    let input = p.input();
    assert_eq!(input.deserialize::<()>(), Ok(()));
    assert!(input.merged.get().is_none());
    // A view that needs the data then meets the input's error, as the function would have.
    let err = input.deserialize::<UserScoped>().unwrap_err();
    assert_eq!(err.message, "conflicting values for `a` (given twice in the query)");
}

#[test]
fn a_failed_merge_is_the_error_of_every_reader() {
    let p = parts(&[("userId", "1")], None, Some(r#"{"userId":"2","text":"x"}"#));
    let input = p.input();
    let first = input.deserialize::<NewNote>().unwrap_err();
    assert_eq!(first.message, "conflicting values for `userId` (path and body)");
    assert_eq!(input.deserialize::<UserScoped>(), Err(first));
}

#[test]
fn a_view_that_does_not_fit_fails_alone() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct WantsCount {
        count: u32,
    }
    let p = parts(&[("userId", "u1")], None, Some(r#"{"text":"hi"}"#));
    let input = p.input();
    assert_eq!(input.deserialize::<WantsCount>().unwrap_err().message, "missing field `count`");
    assert_eq!(input.deserialize::<NewNote>(), Ok(NewNote { user_id: "u1".into(), text: "hi".into() }));
}

#[test]
fn body_alone_fills_any_shape_as_serde_json_would() {
    #[derive(Debug, Deserialize, PartialEq)]
    enum Command {
        Add { text: String },
        Clear,
    }
    assert_eq!(body::<Command>(r#"{"Add":{"text":"x"}}"#), Ok(Command::Add { text: "x".into() }));
    assert_eq!(body::<Command>(r#""Clear""#), Ok(Command::Clear));
    assert_eq!(body::<Option<Limit>>(r#"{"limit":1}"#), Ok(Some(Limit { limit: 1 })));
    assert_eq!(body::<Option<Limit>>("null"), Ok(None));
    assert_eq!(body::<serde_json::Value>(r#"{"a":[1,{"b":null}]}"#), Ok(serde_json::json!({"a":[1,{"b":null}]})));
}

#[test]
fn duplicate_body_key_is_reported_with_or_without_url_parameters() {
    let err = body::<Limit>(r#"{"limit":1,"limit":2}"#).unwrap_err();
    assert!(err.message.contains("duplicate field `limit`"), "{err:?}");
    let err = parse_input::<Note>(&parts(&[("userId", "1")], None, Some(r#"{"text":"a","text":"b"}"#))).unwrap_err();
    assert!(err.message.contains("duplicate field `text`"), "{err:?}");
    // Under a URL key, every repetition must agree with the URL.
    let err = parse_input::<Note>(&parts(&[("userId", "1")], None, Some(r#"{"userId":1,"userId":2,"text":"a"}"#)))
        .unwrap_err();
    assert_eq!(err.message, "conflicting values for `userId` (path and body)");
}

#[test]
fn many_url_keys_against_body_members_are_checked() {
    let q: Vec<String> = (0..20).map(|i| format!("k{i}=v")).collect();
    let q = q.join("&");
    let ok = parse_input::<Limit>(&parts(&[], Some(&q), Some(r#"{"k7":"v","limit":3}"#)));
    assert_eq!(ok, Ok(Limit { limit: 3 }));
    let err = parse_input::<Limit>(&parts(&[], Some(&q), Some(r#"{"k7":"w","limit":3}"#))).unwrap_err();
    assert_eq!(err.message, "conflicting values for `k7` (query and body)");
}

#[test]
fn escaped_body_keys_are_matched_decoded() {
    assert_eq!(body::<Limit>(r#"{"\u006cimit":4}"#), Ok(Limit { limit: 4 }));
}
