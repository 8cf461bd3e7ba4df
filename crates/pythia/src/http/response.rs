//! [`Response`]: a status, headers and a capped body, fully read.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::RETRY_AFTER;
use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use super::{Error, ErrorKind};
use crate::resilience::parse_retry_after;

/// A response whose body has been read (up to the client's cap).
///
/// Any status is a response: a `503` that survived its retries comes back here, not as an
/// [`Error`], so pollers and webhooks see the final status.
#[derive(Debug, Clone)]
pub struct Response {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) url: Url,
    pub(crate) elapsed: Duration,
    pub(crate) attempts: u32,
}

impl Response {
    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The body, consuming the response.
    pub fn into_body(self) -> Bytes {
        self.body
    }

    /// The body decoded as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::new(ErrorKind::Decode)
                .with_detail(format!("invalid json ({e})"))
                .with_status(self.status)
                .with_url(&self.url)
        })
    }

    /// The body as text; invalid UTF-8 sequences become `U+FFFD`.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The time from the start of the request to the end of this body, every attempt and
    /// delay included.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// The attempts made, this one included.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The final URL (after redirects).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The `Retry-After` header as a delay from now, if present and valid.
    pub fn retry_after(&self) -> Option<Duration> {
        retry_after(&self.headers)
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }
}

/// The `Retry-After` header of `headers` as a delay from now, if present and valid.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| parse_retry_after(v, SystemTime::now()))
}
