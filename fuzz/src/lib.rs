//! What the fuzz targets share: the service's secret, a JSON reader that keeps repeated keys, the rules an
//! accepted token must satisfy ([`jwt_oracle`]) and the auth demo run in-process with the rules every
//! response must satisfy ([`demo`]).
//!
//! A broken rule panics, which libFuzzer reports as a crash with the input that caused it.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

pub mod demo;
pub mod jwt_oracle;

/// The HS256 secret every target's `JwtService` uses (at least 32 bytes). The seed corpus signs with it.
pub const FUZZ_SECRET: &[u8] = b"pikku-fuzz-secret-pikku-fuzz-secret-0123";

/// The service's clock-skew leeway, in seconds (`pikku::auth::DEFAULT_LEEWAY`).
pub const LEEWAY_SECS: i64 = 5;

/// The service the targets decode with, as the demo builds it from `PIKKU_JWT_SECRET`.
pub fn jwt_service() -> pikku::auth::JwtService {
    auth_demo::demo_jwt("primary", Some(FUZZ_SECRET.as_ref())).expect("a secret of 32 bytes or more")
}

/// A JSON object's entries in order, a repeated key kept each time it appears.
pub type Entries = Vec<(String, Value)>;

struct EntriesOf(Entries);

impl<'de> Deserialize<'de> for EntriesOf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Object;
        impl<'de> Visitor<'de> for Object {
            type Value = EntriesOf;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<EntriesOf, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(EntriesOf(entries))
            }
        }
        d.deserialize_map(Object)
    }
}

/// The entries of the JSON object in `bytes`.
///
/// # Errors
/// When `bytes` is not one JSON object.
pub fn entries(bytes: &[u8]) -> Result<Entries, serde_json::Error> {
    serde_json::from_slice::<EntriesOf>(bytes).map(|e| e.0)
}
