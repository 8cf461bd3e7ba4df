//! [`RecordedRequest`]: what the server saw.

use bytes::Bytes;
use http::{HeaderMap, Method};
use tokio::time::Instant;

/// One request as the server received it, with its arrival time on the tokio clock.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// The request method.
    pub method: Method,
    /// The path, without the query.
    pub path: String,
    /// The raw query string, without the `?`, when there is one.
    pub query: Option<String>,
    /// Every request header.
    pub headers: HeaderMap,
    /// The whole request body.
    pub body: Bytes,
    /// When the request head arrived (tokio clock, so it follows a paused clock).
    pub at: Instant,
}

impl RecordedRequest {
    /// The first value of a header as text, when present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as text, with invalid UTF-8 replaced.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// The value of one query parameter, undecoded, when present.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.as_deref()?.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key == name).then_some(value)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_with_query(query: Option<&str>) -> RecordedRequest {
        RecordedRequest {
            method: Method::GET,
            path: "/".into(),
            query: query.map(str::to_owned),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            at: Instant::now(),
        }
    }

    #[test]
    fn query_param_finds_a_parameter_among_several() {
        let request = request_with_query(Some("a=1&page=3&flag"));

        assert_eq!(request.query_param("page"), Some("3"));
        assert_eq!(request.query_param("flag"), Some(""));
        assert_eq!(request.query_param("missing"), None);
    }

    #[test]
    fn query_param_is_none_without_a_query() {
        assert_eq!(request_with_query(None).query_param("page"), None);
    }
}
