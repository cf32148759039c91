//! Response types and how function outputs become responses.

use std::any::TypeId;

use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};
use serde::Serialize;

use crate::error::PikkuError;

/// The body type of every response: one buffered chunk.
pub type Body = http_body_util::Full<Bytes>;

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
    let mut response = Response::new(Body::new(Bytes::from(bytes)));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}
