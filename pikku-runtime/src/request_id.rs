//! Request ids: the client's `x-request-id` when it is sane, otherwise one generated here.
//!
//! The id is stored inline (no heap allocation) because every request carries one.

use std::cell::RefCell;
use std::fmt;

use bytes::BytesMut;
use http::HeaderValue;

/// Longest client-supplied id we echo; longer ones are replaced (they are not "short").
pub(crate) const MAX_REQUEST_ID_LEN: usize = 48;

/// The header that carries the request id both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The header as a parsed name, so looking it up costs no parsing per request.
pub(crate) static REQUEST_ID_HEADER_NAME: http::HeaderName = http::HeaderName::from_static(REQUEST_ID_HEADER);

/// A request id: 1 to 48 visible ASCII characters.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RequestId {
    len: u8,
    bytes: [u8; MAX_REQUEST_ID_LEN],
}

impl RequestId {
    /// Accepts a client-supplied id if it is short and made of visible ASCII (no spaces, no control
    /// characters), so it is safe to echo in a header, a JSON body and a log line.
    pub fn parse(candidate: &str) -> Option<Self> {
        let raw = candidate.as_bytes();
        if raw.is_empty() || raw.len() > MAX_REQUEST_ID_LEN || !raw.iter().all(|b| b.is_ascii_graphic()) {
            return None;
        }
        let mut bytes = [0u8; MAX_REQUEST_ID_LEN];
        bytes[..raw.len()].copy_from_slice(raw);
        Some(Self { len: raw.len() as u8, bytes })
    }

    /// The client's id from the headers when sane, else a fresh one.
    pub fn from_headers(headers: &http::HeaderMap) -> Self {
        headers
            .get(&REQUEST_ID_HEADER_NAME)
            .and_then(|v| v.to_str().ok())
            .and_then(Self::parse)
            .unwrap_or_else(Self::generate)
    }

    /// A fresh id: 128 random bits as 32 hex digits. Random rather than a counter, so an id tells nothing
    /// about how many requests the server has handled; 128 bits, so ids do not repeat. From the
    /// per-thread generator (a CSPRNG seeded by the OS): no lock, no allocation.
    pub fn generate() -> Self {
        use rand::Rng as _;
        let random: u128 = rand::thread_rng().gen();
        let mut bytes = [0u8; MAX_REQUEST_ID_LEN];
        write_hex(&mut bytes[..GENERATED_LEN], random);
        Self { len: GENERATED_LEN as u8, bytes }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only visible ASCII is ever stored.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or_default()
    }

    /// The id as a header value. Every response carries one, so the bytes are cut from a per-thread
    /// shared buffer (one allocation per few hundred ids) instead of a copy of their own each.
    #[allow(clippy::missing_panics_doc)] // the `expect` states an invariant, it cannot fail
    pub fn to_header_value(&self) -> HeaderValue {
        let id = &self.bytes[..self.len as usize];
        let shared = ID_ARENA.with(|arena| {
            let mut arena = arena.borrow_mut();
            if arena.capacity() < id.len() {
                *arena = BytesMut::with_capacity(ID_ARENA_BYTES);
            }
            arena.extend_from_slice(id);
            arena.split().freeze()
        });
        HeaderValue::from_maybe_shared(shared).expect("visible ASCII is a valid header value")
    }
}

/// Size of the per-thread buffer request ids are cut from: a few hundred ids.
const ID_ARENA_BYTES: usize = 16 * 1024;

thread_local! {
    static ID_ARENA: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// Length of a generated id: 32 hex digits.
const GENERATED_LEN: usize = 32;

/// Writes `value` as 32 hex digits, most significant first.
fn write_hex(out: &mut [u8], value: u128) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = HEX[((value >> (124 - 4 * i)) & 0xf) as usize];
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestId({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_client_id_is_kept() {
        assert_eq!(RequestId::parse("abc-123_x.y").unwrap().as_str(), "abc-123_x.y");
    }

    #[test]
    fn insane_client_ids_are_refused() {
        assert!(RequestId::parse("").is_none());
        assert!(RequestId::parse("has space").is_none());
        assert!(RequestId::parse("line\nbreak").is_none());
        assert!(RequestId::parse("é").is_none());
        assert!(RequestId::parse(&"a".repeat(MAX_REQUEST_ID_LEN + 1)).is_none());
        assert!(RequestId::parse(&"a".repeat(MAX_REQUEST_ID_LEN)).is_some());
    }

    #[test]
    fn header_values_carry_exactly_the_id_even_across_buffer_refills() {
        let ids: Vec<RequestId> = (0..2 * ID_ARENA_BYTES / GENERATED_LEN).map(|_| RequestId::generate()).collect();
        let values: Vec<HeaderValue> = ids.iter().map(RequestId::to_header_value).collect();
        for (id, value) in ids.iter().zip(&values) {
            assert_eq!(value.to_str().unwrap(), id.as_str());
        }
    }

    #[test]
    fn generated_ids_are_unique_and_well_formed() {
        let a = RequestId::generate();
        let b = RequestId::generate();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), GENERATED_LEN);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert!(RequestId::parse(a.as_str()).is_some());
    }

    #[test]
    fn generated_ids_are_random_not_a_sequence() {
        // A counter (even behind a random prefix) moves by one and changes a digit or two per id; random
        // ids are unordered and differ in about 30 of their 32 digits.
        let ids: Vec<u128> =
            (0..200).map(|_| u128::from_str_radix(RequestId::generate().as_str(), 16).expect("hex")).collect();
        let pairs = ids.windows(2);
        assert!(pairs.clone().all(|pair| pair[1].wrapping_sub(pair[0]) != 1), "consecutive ids");
        let ascending = pairs.clone().filter(|pair| pair[1] > pair[0]).count();
        assert!((50..150).contains(&ascending), "{ascending} of 199 steps go up");
        let differing: u32 = pairs.map(|pair| (pair[0] ^ pair[1]).count_ones()).sum();
        let average_bits = f64::from(differing) / 199.0;
        assert!((54.0..74.0).contains(&average_bits), "ids differ in {average_bits} bits on average");
    }
}
