//! [`Reply`]: one scripted answer.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, StatusCode};

/// What the server does with the connection once the request is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Write the response.
    Respond,
    /// Close the connection without writing anything.
    Reset,
    /// Never answer; the connection stays open until the client gives up.
    Hang,
}

/// One scripted answer: a status, headers, a body, an optional delay, or a misbehaviour
/// ([`Reply::reset`], [`Reply::hang`]).
///
/// Setters panic on invalid header names or values and on status codes outside 100..=999:
/// those are mistakes in a test, reported where they are made.
///
/// ```
/// use std::time::Duration;
/// use pythia_testkit::Reply;
///
/// let reply = Reply::status(503).retry_after("2").delay(Duration::from_millis(50));
/// # let _ = reply;
/// ```
#[derive(Debug, Clone)]
pub struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) delay: Option<Duration>,
    pub(crate) action: Action,
    /// Send the body in chunks of this many bytes, without `Content-Length`.
    pub(crate) chunk_size: Option<usize>,
}

impl Default for Reply {
    /// `200 OK` with an empty body.
    fn default() -> Self {
        Self {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            delay: None,
            action: Action::Respond,
            chunk_size: None,
        }
    }
}

impl Reply {
    /// `200 OK` with an empty body.
    pub fn ok() -> Self {
        Self::default()
    }

    /// A reply with this status and an empty body.
    ///
    /// # Panics
    ///
    /// When `code` is not a valid status code (100..=999).
    pub fn status(code: u16) -> Self {
        let status = StatusCode::from_u16(code)
            .unwrap_or_else(|_| panic!("{code} is not a valid http status code"));
        Self {
            status,
            ..Self::default()
        }
    }

    /// Closes the connection without writing a response (the client sees the connection end
    /// before a response arrives). A [`delay`](Self::delay) applies before the close.
    pub fn reset() -> Self {
        Self {
            action: Action::Reset,
            ..Self::default()
        }
    }

    /// Never answers: the connection stays open until the client gives up or the server is
    /// dropped. Under a paused tokio clock the client's timeout fires without real waiting.
    pub fn hang() -> Self {
        Self {
            action: Action::Hang,
            ..Self::default()
        }
    }

    /// Sets a JSON body and `content-type: application/json`.
    pub fn json(mut self, value: serde_json::Value) -> Self {
        let body = serde_json::to_vec(&value).expect("a serde_json::Value always serializes");
        self.body = Bytes::from(body);
        self.headers
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        self
    }

    /// Sets a text body and `content-type: text/plain; charset=utf-8`.
    pub fn text(mut self, text: &str) -> Self {
        self.body = Bytes::copy_from_slice(text.as_bytes());
        self.headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        self
    }

    /// Sets a raw body; no content type is added (set one with [`header`](Self::header)).
    pub fn bytes(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Adds a response header (repeat the call for several values of one name).
    ///
    /// # Panics
    ///
    /// When the name or the value is not valid in HTTP.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let name = HeaderName::try_from(name)
            .unwrap_or_else(|_| panic!("{name:?} is not a valid header name"));
        let value = HeaderValue::try_from(value)
            .unwrap_or_else(|_| panic!("{value:?} is not a valid header value"));
        self.headers.append(name, value);
        self
    }

    /// Sends the body in chunks of `size` bytes (at least 1) with chunked transfer encoding
    /// and no `Content-Length`, so the client only learns the length by reading. Default: the
    /// whole body at once, with `Content-Length`.
    pub fn chunked(mut self, size: usize) -> Self {
        self.chunk_size = Some(size.max(1));
        self
    }

    /// Waits this long (on the tokio clock) before answering. Default: no delay.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Sets `Retry-After`, either seconds (`"2"`) or an HTTP date.
    pub fn retry_after(self, value: &str) -> Self {
        let name = RETRY_AFTER.as_str();
        self.header(name, value)
    }

    /// Sets `Retry-After` as the HTTP date of `at` (whole seconds, as HTTP dates go).
    pub fn retry_after_at(self, at: SystemTime) -> Self {
        let date = httpdate::fmt_http_date(at);
        self.retry_after(&date)
    }

    /// The status this reply answers with.
    pub fn status_code(&self) -> StatusCode {
        self.status
    }

    /// The body this reply answers with.
    pub fn body(&self) -> &Bytes {
        &self.body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_sets_the_body_and_the_content_type() {
        let reply = Reply::status(201).json(serde_json::json!({"a": 1}));

        assert_eq!(reply.status, StatusCode::CREATED);
        assert_eq!(&reply.body[..], br#"{"a":1}"#);
        assert_eq!(reply.headers[CONTENT_TYPE], "application/json");
    }

    #[test]
    fn header_appends_repeated_values() {
        let reply = Reply::ok().header("x-a", "1").header("x-a", "2");

        let values: Vec<_> = reply.headers.get_all("x-a").iter().collect();
        assert_eq!(values, ["1", "2"]);
    }

    #[test]
    #[should_panic(expected = "not a valid http status code")]
    fn status_rejects_an_impossible_code() {
        let _ = Reply::status(42);
    }
}
