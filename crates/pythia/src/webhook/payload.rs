//! [`Payload`]: the bytes a webhook carries, serialised once.

use std::fmt;

use bytes::Bytes;
use serde::Serialize;

use crate::Body;

/// The body of a webhook: bytes serialised once, signed and sent exactly as they are, with the
/// content type that fits them.
///
/// Anything that can become one is accepted where a payload is expected: a JSON value (or a
/// reference to one), a [`Body`], text or bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Payload {
    bytes: Bytes,
    content_type: Option<&'static str>,
}

impl Payload {
    /// Any serialisable value as compact JSON.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        Ok(Payload {
            bytes: Bytes::from(serde_json::to_vec(value)?),
            content_type: Some("application/json"),
        })
    }

    /// Bytes sent as they are, with this content type.
    pub fn bytes(bytes: impl Into<Bytes>, content_type: &'static str) -> Self {
        Payload {
            bytes: bytes.into(),
            content_type: Some(content_type),
        }
    }

    /// The bytes that are signed and sent.
    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The `content-type` sent with them, if any.
    pub fn content_type(&self) -> Option<&'static str> {
        self.content_type
    }

    /// The number of bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Payloads may carry personal data: their size only.
        f.debug_struct("Payload")
            .field("bytes", &self.bytes.len())
            .field("content_type", &self.content_type)
            .finish()
    }
}

impl From<&serde_json::Value> for Payload {
    fn from(value: &serde_json::Value) -> Self {
        // Serialising a `Value` to memory cannot fail: its map keys are always strings.
        Payload::json(value).expect("a json value always serialises")
    }
}

impl From<serde_json::Value> for Payload {
    fn from(value: serde_json::Value) -> Self {
        Payload::from(&value)
    }
}

impl From<&Body> for Payload {
    fn from(body: &Body) -> Self {
        Payload {
            bytes: body.to_bytes(),
            content_type: body.content_type(),
        }
    }
}

impl From<Body> for Payload {
    fn from(body: Body) -> Self {
        Payload::from(&body)
    }
}

impl From<Bytes> for Payload {
    fn from(bytes: Bytes) -> Self {
        Payload {
            bytes,
            content_type: Some("application/octet-stream"),
        }
    }
}

impl From<Vec<u8>> for Payload {
    fn from(bytes: Vec<u8>) -> Self {
        Payload::from(Bytes::from(bytes))
    }
}

impl From<String> for Payload {
    fn from(text: String) -> Self {
        Payload::from(Body::Text(text))
    }
}

impl From<&str> for Payload {
    fn from(text: &str) -> Self {
        Payload::from(text.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_payloads_are_compact_and_typed() {
        let payload = Payload::from(json!({"a": 1, "b": [true]}));

        assert_eq!(payload.as_bytes().as_ref(), br#"{"a":1,"b":[true]}"#);
        assert_eq!(payload.content_type(), Some("application/json"));
    }

    #[test]
    fn debug_shows_the_size_not_the_content() {
        let payload = Payload::from(json!({"card": "4111 1111"}));

        assert!(!format!("{payload:?}").contains("4111"));
    }
}
