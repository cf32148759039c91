//! Response types and how function outputs become responses.

use std::any::TypeId;

use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};
use serde::Serialize;

use crate::error::PikkuError;

/// The body type of every response: one buffered chunk.
pub type Body = http_body_util::Full<Chunk>;

/// A response body's bytes: shared [`Bytes`], or a `Vec` handed over as serialised (turning a `Vec`
/// into `Bytes` costs an allocation on every JSON response).
#[derive(Debug)]
pub enum Chunk {
    /// Shared or static bytes.
    Bytes(Bytes),
    /// An owned buffer, read from `position`.
    Vec {
        /// The bytes.
        bytes: Vec<u8>,
        /// How far the writer has read.
        position: usize,
    },
}

impl From<Bytes> for Chunk {
    fn from(bytes: Bytes) -> Self {
        Self::Bytes(bytes)
    }
}

impl From<Vec<u8>> for Chunk {
    fn from(bytes: Vec<u8>) -> Self {
        Self::Vec { bytes, position: 0 }
    }
}

impl From<&'static str> for Chunk {
    fn from(text: &'static str) -> Self {
        Self::Bytes(Bytes::from_static(text.as_bytes()))
    }
}

impl bytes::Buf for Chunk {
    fn remaining(&self) -> usize {
        match self {
            Self::Bytes(bytes) => bytes.remaining(),
            Self::Vec { bytes, position } => bytes.len() - position,
        }
    }

    fn chunk(&self) -> &[u8] {
        match self {
            Self::Bytes(bytes) => bytes.chunk(),
            Self::Vec { bytes, position } => &bytes[*position..],
        }
    }

    fn advance(&mut self, count: usize) {
        match self {
            Self::Bytes(bytes) => bytes.advance(count),
            Self::Vec { bytes, position } => {
                assert!(count <= bytes.len() - *position, "advance past the end of the body");
                *position += count;
            }
        }
    }
}

/// The response type middleware and the pipeline work with.
pub type Response = http::Response<Body>;

/// `()` gives `204 No Content`; anything else is serialised as JSON with `200`.
pub fn output_response<O: Serialize + 'static>(output: &O) -> Result<Response, PikkuError> {
    if TypeId::of::<O>() == TypeId::of::<()>() {
        let mut response = Response::new(Body::default());
        *response.status_mut() = StatusCode::NO_CONTENT;
        return Ok(response);
    }
    json_response(StatusCode::OK, output)
}

/// A JSON response with the given status.
pub fn json_response<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Result<Response, PikkuError> {
    let bytes =
        serde_json::to_vec(value).map_err(|e| PikkuError::internal(format!("output serialisation failed: {e}")))?;
    let mut response = Response::new(Body::new(Chunk::from(bytes)));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}
