//! [`PollerConfig`]: what to poll and how, as in the specification's `PollerConfig`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use url::Url;

use super::error::ConfigError;
use super::redact::{redact_text, redact_url};

/// The connect timeout when none is set (capped at the interval).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The read timeout when none is set (capped at the interval).
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The interval when none is set.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// The largest response body accepted when no cap is set: 10 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// What to poll and how: the request, its interval and the HTTP settings of the
/// specification's `PollerConfig`.
///
/// Built with [`PollerConfig::builder`] or read from the environment with
/// [`PollerConfig::from_env`]. Timeouts longer than the interval are refused; timeouts left
/// unset default to 10 s (connect) and 30 s (read), shortened to the interval when it is
/// shorter. `Debug` shows header names but never their values, and the URL without secrets.
///
/// ```
/// use std::time::Duration;
/// use pythia::poller::PollerConfig;
///
/// let config = PollerConfig::builder()
///     .url("https://api.payments.example/status")
///     .interval(Duration::from_secs(30))
///     .header("authorization", "Bearer your-token")
///     .query("status", "pending")
///     .build()?;
/// assert_eq!(config.url().as_str(), "https://api.payments.example/status?status=pending");
/// # Ok::<(), pythia::poller::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct PollerConfig {
    pub(crate) url: Url,
    pub(crate) interval: Duration,
    pub(crate) method: Method,
    pub(crate) connect_timeout: Duration,
    pub(crate) read_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) verify_tls: bool,
    pub(crate) follow_redirects: bool,
    pub(crate) user_agent: Option<String>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<Bytes>,
    pub(crate) max_body_bytes: usize,
}

impl PollerConfig {
    /// A builder with every default.
    pub fn builder() -> PollerConfigBuilder {
        PollerConfigBuilder::default()
    }

    /// Reads `POLLER_URL`, `POLLER_INTERVAL`, `POLLER_METHOD`, `POLLER_CONNECT_TIMEOUT` and
    /// `POLLER_READ_TIMEOUT` from the process environment.
    pub fn from_env() -> Result<PollerConfig, ConfigError> {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// Like [`PollerConfig::from_env`], reading variables through `lookup`.
    pub fn from_env_with(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<PollerConfig, ConfigError> {
        PollerConfigBuilder::default().env_with(lookup).build()
    }

    /// The URL polled: `url` resolved against `base_url`, with the query parameters added.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The interval between polls.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The HTTP method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The connect timeout in effect.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// The read timeout in effect (per attempt).
    pub fn read_timeout(&self) -> Duration {
        self.read_timeout
    }

    /// The size of the connection pool.
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// Whether TLS certificates are verified.
    pub fn verify_tls(&self) -> bool {
        self.verify_tls
    }

    /// Whether redirects are followed.
    pub fn follow_redirects(&self) -> bool {
        self.follow_redirects
    }

    /// The `User-Agent`, if one is set.
    pub fn user_agent(&self) -> Option<&str> {
        self.user_agent.as_deref()
    }

    /// The request headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The request body.
    pub fn body(&self) -> Option<&Bytes> {
        self.body.as_ref()
    }

    /// The largest response body accepted.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// The URL as it may be shown in a log line.
    pub fn display_url(&self) -> String {
        redact_url(&self.url)
    }
}

impl fmt::Debug for PollerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.keys().map(HeaderName::as_str).collect();
        f.debug_struct("PollerConfig")
            .field("url", &self.display_url())
            .field("interval", &self.interval)
            .field("method", &self.method)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("max_connections", &self.max_connections)
            .field("verify_tls", &self.verify_tls)
            .field("follow_redirects", &self.follow_redirects)
            .field("user_agent", &self.user_agent)
            .field("headers", &header_names)
            .field("body_bytes", &self.body.as_ref().map(Bytes::len))
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

/// Builds a [`PollerConfig`]. Setters never fail; [`PollerConfigBuilder::build`] reports the
/// first problem.
#[derive(Clone, Default)]
pub struct PollerConfigBuilder {
    base_url: Option<String>,
    url: Option<String>,
    interval: Option<Duration>,
    method: Option<String>,
    connect_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    max_connections: Option<usize>,
    verify_tls: Option<bool>,
    follow_redirects: Option<bool>,
    user_agent: Option<String>,
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
    body: Option<Bytes>,
    max_body_bytes: Option<usize>,
    env_error: Option<ConfigError>,
}

impl fmt::Debug for PollerConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PollerConfigBuilder")
            .field("url", &self.url.as_deref().map(redact_text))
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl PollerConfigBuilder {
    /// The base URL that a relative [`url`](Self::url) is resolved against. Default: none.
    pub fn base_url(mut self, base_url: &str) -> Self {
        self.base_url = Some(base_url.to_owned());
        self
    }

    /// The URL to poll, absolute or relative to the base URL. Required.
    pub fn url(mut self, url: &str) -> Self {
        self.url = Some(url.to_owned());
        self
    }

    /// The time between polls. Default: 60 s.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }

    /// The HTTP method, such as `"GET"` or `"POST"`. Default: `GET`.
    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_owned());
        self
    }

    /// The connect timeout. Default: 10 s, or the interval when it is shorter.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// The read timeout of one attempt. Default: 30 s, or the interval when it is shorter.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = Some(timeout);
        self
    }

    /// The size of the connection pool. Default: 10.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = Some(max);
        self
    }

    /// Whether to verify TLS certificates. Default: true.
    pub fn verify_tls(mut self, verify: bool) -> Self {
        self.verify_tls = Some(verify);
        self
    }

    /// Whether to follow redirects. Default: true.
    pub fn follow_redirects(mut self, follow: bool) -> Self {
        self.follow_redirects = Some(follow);
        self
    }

    /// The `User-Agent` header. Default: the HTTP client's.
    pub fn user_agent(mut self, user_agent: &str) -> Self {
        self.user_agent = Some(user_agent.to_owned());
        self
    }

    /// Adds a request header. Default: none.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds a query parameter. Default: none.
    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The request body. Default: none.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// The largest response body accepted; a larger one fails the poll. Default: 10 MiB.
    pub fn max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = Some(max);
        self
    }

    /// Applies `POLLER_URL`, `POLLER_INTERVAL`, `POLLER_METHOD`, `POLLER_CONNECT_TIMEOUT` and
    /// `POLLER_READ_TIMEOUT` read through `lookup`; a value that does not parse is reported by
    /// [`build`](Self::build) with the variable's name.
    pub fn env_with(mut self, lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        if let Some(url) = get("POLLER_URL") {
            self.url = Some(url.trim().to_owned());
        }
        if let Some(method) = get("POLLER_METHOD") {
            self.method = Some(method.trim().to_owned());
        }
        let durations: [(&'static str, &mut Option<Duration>); 3] = [
            ("POLLER_INTERVAL", &mut self.interval),
            ("POLLER_CONNECT_TIMEOUT", &mut self.connect_timeout),
            ("POLLER_READ_TIMEOUT", &mut self.read_timeout),
        ];
        for (name, slot) in durations {
            if let Some(value) = get(name) {
                match parse_duration(&value) {
                    Some(duration) => *slot = Some(duration),
                    None => {
                        self.env_error
                            .get_or_insert(ConfigError::InvalidDuration { name, value });
                    }
                }
            }
        }
        self
    }

    /// Checks every setting and builds the configuration.
    pub fn build(self) -> Result<PollerConfig, ConfigError> {
        if let Some(error) = self.env_error {
            return Err(error);
        }
        let url = resolve_url(self.base_url.as_deref(), self.url.as_deref(), &self.query)?;

        let interval = self.interval.unwrap_or(DEFAULT_INTERVAL);
        if interval.is_zero() {
            return Err(ConfigError::ZeroInterval);
        }
        let connect_timeout = timeout(
            "connect timeout",
            self.connect_timeout,
            DEFAULT_CONNECT_TIMEOUT,
            interval,
        )?;
        let read_timeout = timeout(
            "read timeout",
            self.read_timeout,
            DEFAULT_READ_TIMEOUT,
            interval,
        )?;

        let method = match self.method.as_deref() {
            None => Method::GET,
            Some(text) => Method::from_str(&text.to_ascii_uppercase())
                .map_err(|_| ConfigError::InvalidMethod(text.to_owned()))?,
        };

        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            let invalid = || ConfigError::InvalidHeader { name: name.clone() };
            let header = HeaderName::from_str(name).map_err(|_| invalid())?;
            let mut value = HeaderValue::from_str(value).map_err(|_| invalid())?;
            value.set_sensitive(is_sensitive_header(&header));
            headers.append(header, value);
        }

        let max_connections = self.max_connections.unwrap_or(10);
        if max_connections == 0 {
            return Err(ConfigError::Invalid {
                name: "max connections",
                reason: "it must be at least 1",
            });
        }

        Ok(PollerConfig {
            url,
            interval,
            method,
            connect_timeout,
            read_timeout,
            max_connections,
            verify_tls: self.verify_tls.unwrap_or(true),
            follow_redirects: self.follow_redirects.unwrap_or(true),
            user_agent: self.user_agent,
            headers,
            body: self.body,
            max_body_bytes: self.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES),
        })
    }
}

/// Seconds as a number (`"30"`, `"2.5"`) or a human duration (`"1m 30s"`).
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    humantime::parse_duration(text).ok()
}

fn timeout(
    name: &'static str,
    given: Option<Duration>,
    default: Duration,
    interval: Duration,
) -> Result<Duration, ConfigError> {
    match given {
        Some(timeout) if timeout > interval => Err(ConfigError::TimeoutExceedsInterval {
            name,
            timeout,
            interval,
        }),
        Some(timeout) if timeout.is_zero() => Err(ConfigError::Invalid {
            name,
            reason: "it must be greater than zero",
        }),
        Some(timeout) => Ok(timeout),
        None => Ok(default.min(interval)),
    }
}

fn resolve_url(
    base: Option<&str>,
    url: Option<&str>,
    query: &[(String, String)],
) -> Result<Url, ConfigError> {
    let invalid = |text: &str, reason: String| ConfigError::InvalidUrl {
        url: redact_text(text),
        reason,
    };
    let text = url.ok_or(ConfigError::MissingUrl)?;
    let mut url = match Url::parse(text) {
        Ok(url) => url,
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            let base_text =
                base.ok_or_else(|| invalid(text, "a relative url needs a base url".to_owned()))?;
            let base = Url::parse(base_text).map_err(|e| invalid(base_text, e.to_string()))?;
            base.join(text).map_err(|e| invalid(text, e.to_string()))?
        }
        Err(error) => return Err(invalid(text, error.to_string())),
    };
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(invalid(
            text,
            "only http and https are supported".to_owned(),
        ));
    }
    if url.host().is_none() {
        return Err(invalid(text, "it has no host".to_owned()));
    }
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    Ok(url)
}

fn is_sensitive_header(name: &HeaderName) -> bool {
    let name = name.as_str();
    name == "authorization"
        || name == "proxy-authorization"
        || name == "cookie"
        || name.contains("key")
        || name.contains("token")
        || name.contains("secret")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn environment_variables_fill_the_configuration() {
        let config = PollerConfig::from_env_with(env(&[
            ("POLLER_URL", "https://api.example.com/events"),
            ("POLLER_INTERVAL", "60"),
            ("POLLER_METHOD", "post"),
            ("POLLER_CONNECT_TIMEOUT", "10.0"),
            ("POLLER_READ_TIMEOUT", "30.0"),
        ]))
        .unwrap();

        assert_eq!(config.url().as_str(), "https://api.example.com/events");
        assert_eq!(config.interval(), Duration::from_secs(60));
        assert_eq!(config.method(), Method::POST);
        assert_eq!(config.connect_timeout(), Duration::from_secs(10));
        assert_eq!(config.read_timeout(), Duration::from_secs(30));
    }

    #[test]
    fn a_bad_environment_value_is_named_in_the_error() {
        let error = PollerConfig::from_env_with(env(&[
            ("POLLER_URL", "https://api.example.com/events"),
            ("POLLER_READ_TIMEOUT", "soon"),
        ]))
        .unwrap_err();

        assert!(error.to_string().contains("POLLER_READ_TIMEOUT"), "{error}");
    }

    #[test]
    fn a_missing_url_is_refused() {
        let error = PollerConfig::from_env_with(env(&[])).unwrap_err();

        assert!(matches!(error, ConfigError::MissingUrl));
    }

    #[test]
    fn a_timeout_longer_than_the_interval_is_refused_with_both_values() {
        let error = PollerConfig::builder()
            .url("https://api.example.com/x")
            .interval(Duration::from_secs(5))
            .read_timeout(Duration::from_secs(30))
            .build()
            .unwrap_err();

        assert!(matches!(error, ConfigError::TimeoutExceedsInterval { .. }));
        assert_eq!(
            error.to_string(),
            "read timeout of 30s is longer than the poll interval of 5s"
        );
    }

    #[test]
    fn default_timeouts_shrink_to_a_short_interval() {
        let config = PollerConfig::builder()
            .url("https://api.example.com/x")
            .interval(Duration::from_secs(2))
            .build()
            .unwrap();

        assert_eq!(config.read_timeout(), Duration::from_secs(2));
        assert_eq!(config.connect_timeout(), Duration::from_secs(2));
    }

    #[test]
    fn relative_urls_resolve_against_the_base_and_queries_are_appended() {
        let config = PollerConfig::builder()
            .base_url("https://api.example.com/v1/")
            .url("events")
            .query("status", "pending")
            .build()
            .unwrap();

        assert_eq!(
            config.url().as_str(),
            "https://api.example.com/v1/events?status=pending"
        );
    }

    #[test]
    fn debug_and_errors_never_show_secrets() {
        let config = PollerConfig::builder()
            .url("https://user:pw-secret@api.example.com/x?token=tok-secret")
            .header("authorization", "Bearer bearer-secret")
            .build()
            .unwrap();
        let error = PollerConfig::builder()
            .url("ftp://user:pw-secret@api.example.com/x")
            .build()
            .unwrap_err();

        let shown = format!("{config:?} {error}");

        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("authorization"), "{shown}");
    }

    #[test]
    fn invalid_methods_and_headers_are_named() {
        let method = PollerConfig::builder()
            .url("http://a.test/")
            .method("G T")
            .build();
        let header = PollerConfig::builder()
            .url("http://a.test/")
            .header("a b", "1")
            .build();

        assert!(matches!(method.unwrap_err(), ConfigError::InvalidMethod(m) if m == "G T"));
        assert!(
            matches!(header.unwrap_err(), ConfigError::InvalidHeader { name } if name == "a b")
        );
    }
}
