//! The unit of work that flows between pollers, sources, handlers and webhooks.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A message: what a poller hands to its handler, what a source relays, and what a webhook
/// sends.
///
/// It carries an id, a [`Body`], [`Headers`], a timestamp and [`Metadata`] about where it came
/// from. For a polled response, the headers are the response headers plus two synthetic entries,
/// `status_code` and `response_time` (in milliseconds), so that
/// `message.headers.get("status_code")` reads as it does in the Python framework; the typed
/// forms are [`Message::status_code`] and [`Message::response_time`].
///
/// ```
/// use pythia::Message;
/// use serde_json::json;
///
/// let message = Message::json(json!({"id": 7, "status": "completed"}));
/// assert_eq!(message.body.get("status").and_then(|s| s.as_str()), Some("completed"));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// A unique id. For webhooks it is the `webhook-id`, stable across retries.
    pub id: String,
    /// The payload.
    pub body: Body,
    /// Headers: response headers for a polled message, broker headers for a relayed one.
    pub headers: Headers,
    /// When the message was made (for a polled response: when the response arrived).
    pub timestamp: DateTime<Utc>,
    /// Where the message came from.
    pub meta: Metadata,
}

impl Message {
    /// A message with a fresh id, the given body, no headers and the current time.
    pub fn new(body: impl Into<Body>) -> Self {
        Message {
            id: new_message_id(),
            body: body.into(),
            headers: Headers::default(),
            timestamp: Utc::now(),
            meta: Metadata::default(),
        }
    }

    /// A message whose body is a JSON value.
    pub fn json(value: serde_json::Value) -> Self {
        Message::new(Body::Json(value))
    }

    /// Replaces the id.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// Adds a header, replacing an earlier one of the same name (names compare case-insensitively).
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// The HTTP status code of the response this message came from, if any.
    pub fn status_code(&self) -> Option<u16> {
        self.meta.status_code
    }

    /// How long the response this message came from took, if any.
    pub fn response_time(&self) -> Option<Duration> {
        self.meta.response_time
    }

    /// The URL this message was polled from, if any.
    pub fn url(&self) -> Option<&str> {
        self.meta.url.as_deref()
    }
}

/// A fresh, time-ordered message id of the form `msg_<32 hex digits>`.
pub fn new_message_id() -> String {
    let mut buffer = uuid::Uuid::encode_buffer();
    let hex = uuid::Uuid::now_v7().simple().encode_lower(&mut buffer);
    let mut id = String::with_capacity(4 + hex.len());
    id.push_str("msg_");
    id.push_str(hex);
    id
}

/// A message body: JSON when the payload is JSON, text or raw bytes otherwise.
#[derive(Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Body {
    /// No body.
    #[default]
    Empty,
    /// A JSON value.
    Json(serde_json::Value),
    /// UTF-8 text that is not JSON.
    Text(String),
    /// Bytes that are neither JSON nor text.
    Bytes(#[serde(with = "bytes_base64")] Bytes),
}

impl Body {
    /// Decodes bytes by content type: JSON for `application/json` and `+json` types, text for
    /// `text/*`, and otherwise JSON if the bytes parse as JSON, else text if they are UTF-8, else
    /// raw bytes.
    ///
    /// A body that claims to be JSON but does not parse is an error; the caller decides whether
    /// to count it and carry on.
    pub fn decode(content_type: Option<&str>, bytes: Bytes) -> Result<Body, serde_json::Error> {
        if bytes.is_empty() {
            return Ok(Body::Empty);
        }
        let essence = content_type
            .map(|ct| {
                ct.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        if essence == "application/json" || essence.ends_with("+json") {
            return serde_json::from_slice(&bytes).map(Body::Json);
        }
        if essence.starts_with("text/") {
            return Ok(match String::from_utf8(bytes.to_vec()) {
                Ok(text) => Body::Text(text),
                Err(_) => Body::Bytes(bytes),
            });
        }
        if let Ok(value) = serde_json::from_slice(&bytes) {
            return Ok(Body::Json(value));
        }
        Ok(match std::str::from_utf8(&bytes) {
            Ok(text) if essence.is_empty() => Body::Text(text.to_owned()),
            _ => Body::Bytes(bytes),
        })
    }

    /// Decodes bytes whose type is unknown: JSON if they parse, otherwise raw bytes.
    pub fn from_untyped(bytes: Bytes) -> Body {
        if bytes.is_empty() {
            return Body::Empty;
        }
        match serde_json::from_slice(&bytes) {
            Ok(value) => Body::Json(value),
            Err(_) => Body::Bytes(bytes),
        }
    }

    /// The JSON value, if this is a JSON body.
    pub fn as_json(&self) -> Option<&serde_json::Value> {
        match self {
            Body::Json(value) => Some(value),
            _ => None,
        }
    }

    /// Looks up a key of a JSON object body; `None` for any other body.
    pub fn get(&self, key: &str) -> Option<&serde_json::Value> {
        self.as_json().and_then(|value| value.get(key))
    }

    /// Looks up a JSON pointer (RFC 6901) in a JSON body.
    pub fn pointer(&self, pointer: &str) -> Option<&serde_json::Value> {
        self.as_json().and_then(|value| value.pointer(pointer))
    }

    /// Whether this is a JSON body.
    pub fn is_json(&self) -> bool {
        matches!(self, Body::Json(_))
    }

    /// The bytes to send: compact JSON, the text, or the raw bytes.
    pub fn to_bytes(&self) -> Bytes {
        match self {
            Body::Empty => Bytes::new(),
            Body::Json(value) => Bytes::from(serde_json::to_vec(value).unwrap_or_default()),
            Body::Text(text) => Bytes::from(text.clone()),
            Body::Bytes(bytes) => bytes.clone(),
        }
    }

    /// The content type that fits [`Body::to_bytes`].
    pub fn content_type(&self) -> Option<&'static str> {
        match self {
            Body::Empty => None,
            Body::Json(_) => Some("application/json"),
            Body::Text(_) => Some("text/plain; charset=utf-8"),
            Body::Bytes(_) => Some("application/octet-stream"),
        }
    }

    /// The size in bytes of [`Body::to_bytes`], without a copy for text and bytes.
    pub fn len(&self) -> usize {
        match self {
            Body::Empty => 0,
            Body::Json(_) => self.to_bytes().len(),
            Body::Text(text) => text.len(),
            Body::Bytes(bytes) => bytes.len(),
        }
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Payloads may carry personal data: show their shape, never their content.
        match self {
            Body::Empty => f.write_str("Empty"),
            Body::Json(value) => {
                let shape = match value {
                    serde_json::Value::Object(map) => format!("object, {} keys", map.len()),
                    serde_json::Value::Array(items) => format!("array, {} items", items.len()),
                    _ => "scalar".to_owned(),
                };
                write!(f, "Json({shape})")
            }
            Body::Text(text) => write!(f, "Text({} bytes)", text.len()),
            Body::Bytes(bytes) => write!(f, "Bytes({} bytes)", bytes.len()),
        }
    }
}

impl From<serde_json::Value> for Body {
    fn from(value: serde_json::Value) -> Self {
        Body::Json(value)
    }
}

impl From<String> for Body {
    fn from(text: String) -> Self {
        Body::Text(text)
    }
}

impl From<&str> for Body {
    fn from(text: &str) -> Self {
        Body::Text(text.to_owned())
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Body::Bytes(bytes)
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Self {
        Body::Bytes(Bytes::from(bytes))
    }
}

/// An ordered list of headers with case-insensitive lookup.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Headers(Vec::new())
    }

    /// The first value of a header, by case-insensitive name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// A header parsed as a number, for the synthetic `status_code` and `response_time`.
    pub fn get_number(&self, name: &str) -> Option<f64> {
        self.get(name).and_then(|value| value.parse().ok())
    }

    /// Sets a header, replacing every earlier value of the same name.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        self.0.retain(|(key, _)| !key.eq_ignore_ascii_case(&name));
        self.0.push((name, value.into()));
    }

    /// Adds a header, keeping earlier values of the same name.
    pub fn append(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push((name.into(), value.into()));
    }

    /// Removes every value of a header.
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(key, _)| !key.eq_ignore_ascii_case(name));
    }

    /// Iterates over name and value pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&http::HeaderMap> for Headers {
    fn from(map: &http::HeaderMap) -> Self {
        Headers(
            map.iter()
                .filter_map(|(name, value)| {
                    value
                        .to_str()
                        .ok()
                        .map(|v| (name.as_str().to_owned(), v.to_owned()))
                })
                .collect(),
        )
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Headers(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

/// Where a message came from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Metadata {
    /// The HTTP status of the response, for polled messages.
    pub status_code: Option<u16>,
    /// How long the response took, for polled messages.
    #[serde(with = "opt_duration_ms", default)]
    pub response_time: Option<Duration>,
    /// The URL polled, without credentials.
    pub url: Option<String>,
    /// The delivery attempt, counting from 1, for relayed and redelivered messages.
    pub attempt: Option<u32>,
    /// The name of the poller or source that produced the message.
    pub origin: Option<String>,
}

mod bytes_base64 {
    use base64::Engine;
    use bytes::Bytes;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &Bytes, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map(Bytes::from)
            .map_err(serde::de::Error::custom)
    }
}

mod opt_duration_ms {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub(super) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&(d.as_secs_f64() * 1000.0)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        let ms: Option<f64> = Option::deserialize(d)?;
        Ok(ms
            .filter(|ms| ms.is_finite() && *ms >= 0.0)
            .map(|ms| Duration::from_secs_f64(ms / 1000.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_content_type_that_does_not_parse_is_an_error() {
        let result = Body::decode(Some("application/json"), Bytes::from_static(b"{not json"));

        assert!(result.is_err());
    }

    #[test]
    fn bodies_decode_by_content_type() {
        let json = Body::decode(Some("application/json; charset=utf-8"), Bytes::from("[1]"));
        let text = Body::decode(Some("text/plain"), Bytes::from("[1]"));
        let bytes = Body::decode(Some("application/octet-stream"), Bytes::from(vec![0xff, 0]));

        assert_eq!(json.unwrap(), Body::Json(json!([1])));
        assert_eq!(text.unwrap(), Body::Text("[1]".into()));
        assert!(matches!(bytes.unwrap(), Body::Bytes(_)));
    }

    #[test]
    fn headers_are_case_insensitive_and_insert_replaces() {
        let mut headers = Headers::new();
        headers.insert("Status_Code", "200");
        headers.insert("status_code", "503");

        assert_eq!(headers.get("STATUS_CODE"), Some("503"));
        assert_eq!(headers.get_number("status_code"), Some(503.0));
        assert_eq!(headers.len(), 1);
    }

    #[test]
    fn debug_of_a_body_never_shows_its_content() {
        let body = Body::Json(json!({"card": "4111 1111 1111 1111"}));

        assert!(!format!("{body:?}").contains("4111"));
    }

    #[test]
    fn messages_round_trip_through_serde() {
        let message = Message::new(Body::Bytes(Bytes::from_static(&[0, 159, 146, 150])))
            .with_header("x-a", "1");

        let text = serde_json::to_string(&message).unwrap();
        let back: Message = serde_json::from_str(&text).unwrap();

        assert_eq!(back, message);
    }
}
