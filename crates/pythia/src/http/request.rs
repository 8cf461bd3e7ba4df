//! [`RequestBuilder`]: one request, built then sent through the pipeline.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use http::Method;
use serde::Serialize;
use url::Url;

use super::{Error, ErrorKind, HttpClient, Response};
use crate::resilience::RetryPolicy;

/// A request being built. Nothing is sent until [`send`](RequestBuilder::send); a mistake made
/// while building (a bad URL, an invalid header) is reported by `send`.
pub struct RequestBuilder {
    pub(crate) client: HttpClient,
    pub(crate) method: Method,
    pub(crate) url: Result<Url, Error>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<Bytes>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) total_timeout: Option<Duration>,
    pub(crate) retry: Option<RetryPolicy>,
    pub(crate) breaker_key: Option<String>,
    pub(crate) error: Option<Error>,
}

impl RequestBuilder {
    pub(crate) fn new(client: HttpClient, method: Method, url: &str) -> Self {
        let url = resolve_url(client.shared.config.base_url.as_ref(), url);
        let total_timeout = client.shared.config.total_timeout;
        let timeout = client.shared.config.attempt_timeout;
        RequestBuilder {
            client,
            method,
            url,
            headers: HeaderMap::new(),
            body: None,
            timeout,
            total_timeout,
            retry: None,
            breaker_key: None,
            error: None,
        }
    }

    /// Adds a header (replacing a default header of the same name).
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        V: TryInto<HeaderValue>,
    {
        match (name.try_into(), value.try_into()) {
            (Ok(name), Ok(value)) => {
                self.headers.append(name, value);
            }
            _ => self.fail(Error::new(ErrorKind::Builder).with_detail("invalid header")),
        }
        self
    }

    /// Adds headers (replacing default headers of the same names).
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        for (name, value) in &headers {
            self.headers.append(name.clone(), value.clone());
        }
        self
    }

    /// Appends query parameters, percent-encoded.
    pub fn query<K: AsRef<str>, V: AsRef<str>>(mut self, pairs: &[(K, V)]) -> Self {
        if let Ok(url) = &mut self.url {
            let mut query = url.query_pairs_mut();
            for (key, value) in pairs {
                query.append_pair(key.as_ref(), value.as_ref());
            }
        }
        self
    }

    /// Sends `value` as JSON, with `Content-Type: application/json` unless already set.
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => {
                self.body = Some(Bytes::from(body));
                if !self.headers.contains_key(CONTENT_TYPE) {
                    self.headers
                        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                }
            }
            Err(e) => self.fail(
                Error::new(ErrorKind::Builder)
                    .with_detail(format!("cannot serialize the json body ({e})")),
            ),
        }
        self
    }

    /// Sends these bytes as the body (the same bytes on every attempt).
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// The time allowed for each attempt, replacing the client's `attempt_timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The time allowed for the whole request, replacing the client's `total_timeout`.
    pub fn total_timeout(mut self, timeout: Duration) -> Self {
        self.total_timeout = Some(timeout);
        self
    }

    /// The retry policy of this request, replacing the client's.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Makes a single attempt.
    pub fn no_retry(self) -> Self {
        self.retry(RetryPolicy::none())
    }

    /// The key of the breaker, rate limiter and retry budget used (default: the URL's
    /// `host[:port]`); webhooks use one per endpoint.
    pub fn breaker_key(mut self, key: impl Into<String>) -> Self {
        self.breaker_key = Some(key.into());
        self
    }

    /// Sends the request through the pipeline; see [`HttpClient`] for the order of its stages.
    pub async fn send(self) -> Result<Response, Error> {
        super::send::send(self).await
    }

    fn fail(&mut self, error: Error) {
        self.error.get_or_insert(error);
    }
}

impl fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.keys().map(|k| k.as_str()).collect();
        f.debug_struct("RequestBuilder")
            .field("method", &self.method)
            .field(
                "url",
                &self.url.as_ref().map(super::redact::RedactedUrl::new).ok(),
            )
            .field("headers", &header_names)
            .field("body_bytes", &self.body.as_ref().map(Bytes::len))
            .finish()
    }
}

/// An absolute http(s) URL, or `target` appended to the base URL's path.
pub(crate) fn resolve_url(base: Option<&Url>, target: &str) -> Result<Url, Error> {
    let invalid = |detail: String| Error::new(ErrorKind::InvalidUrl).with_detail(detail);

    let url = match Url::parse(target) {
        Ok(url) => url,
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            let base = base.ok_or_else(|| {
                invalid("a relative url needs a base url in the client configuration".into())
            })?;
            let mut root = base.clone();
            root.set_query(None);
            root.set_fragment(None);
            let root = root.as_str().trim_end_matches('/').to_owned();
            let joined = if target.is_empty() {
                root
            } else {
                format!("{root}/{}", target.trim_start_matches('/'))
            };
            Url::parse(&joined)
                .map_err(|e| invalid(format!("cannot join to the base url ({e})")))?
        }
        Err(e) => return Err(invalid(format!("cannot parse the url ({e})"))),
    };

    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "scheme must be http or https, not {}",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("the url has no host".into()));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join(base: &str, target: &str) -> String {
        resolve_url(Some(&Url::parse(base).unwrap()), target)
            .unwrap()
            .to_string()
    }

    #[test]
    fn relative_urls_are_appended_to_the_base_path() {
        assert_eq!(
            join("https://a.example/v1", "/events"),
            "https://a.example/v1/events"
        );
        assert_eq!(
            join("https://a.example/v1/", "events?x=1"),
            "https://a.example/v1/events?x=1"
        );
        assert_eq!(
            join("https://a.example", "events"),
            "https://a.example/events"
        );
        assert_eq!(join("https://a.example/v1?k=1", ""), "https://a.example/v1");
    }

    #[test]
    fn absolute_urls_ignore_the_base() {
        assert_eq!(
            join("https://a.example/v1", "http://b.example/x"),
            "http://b.example/x"
        );
    }

    #[test]
    fn bad_urls_are_invalid_url_errors() {
        for target in ["ftp://a.example/x", "http://", "events"] {
            let error = resolve_url(None, target).unwrap_err();

            assert_eq!(error.kind(), ErrorKind::InvalidUrl, "{target}");
        }
    }
}
