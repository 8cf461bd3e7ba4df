//! [`HttpClientConfig`]: every knob of an [`HttpClient`](super::HttpClient).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::header::{HeaderMap, HeaderName, HeaderValue};
use url::Url;

use super::redact::RedactedUrl;
use super::Auth;
use crate::resilience::{
    CircuitBreakerConfig, ConfigError, RateLimit, RetryBudgetConfig, RetryPolicy,
};

/// The configuration of an [`HttpClient`](super::HttpClient): pool, timeouts, TLS, headers,
/// authentication, body cap and the resilience pipeline.
///
/// Build it with [`HttpClientConfig::builder`] or load it from the environment with
/// [`HttpClientConfig::from_env`]. `Debug` redacts the credentials, the values of default
/// headers and the password and query of the base URL.
///
/// ```
/// use std::time::Duration;
/// use pythia::http::{Auth, HttpClientConfig};
///
/// let config = HttpClientConfig::builder()
///     .base_url("https://api.example.com/v1")
///     .connect_timeout(Duration::from_secs(5))
///     .auth(Auth::Bearer("token".into()))
///     .build()
///     .unwrap();
/// assert!(!format!("{config:?}").contains("token\""));
/// ```
#[derive(Clone)]
pub struct HttpClientConfig {
    pub(crate) base_url: Option<Url>,
    pub(crate) connect_timeout: Duration,
    pub(crate) read_timeout: Duration,
    pub(crate) attempt_timeout: Option<Duration>,
    pub(crate) total_timeout: Option<Duration>,
    pub(crate) pool_size: usize,
    pub(crate) max_keepalive_connections: usize,
    pub(crate) keepalive_expiry: Duration,
    pub(crate) verify_tls: bool,
    pub(crate) ca_file: Option<PathBuf>,
    pub(crate) client_identity: Option<(PathBuf, PathBuf)>,
    pub(crate) default_headers: HeaderMap,
    pub(crate) user_agent: String,
    pub(crate) follow_redirects: bool,
    pub(crate) max_redirects: usize,
    pub(crate) auth: Auth,
    pub(crate) max_body_bytes: usize,
    pub(crate) retry: RetryPolicy,
    pub(crate) circuit_breaker: Option<CircuitBreakerConfig>,
    pub(crate) rate_limit: Option<RateLimit>,
    pub(crate) retry_budget: Option<RetryBudgetConfig>,
    pub(crate) allow_private_networks: bool,
}

impl HttpClientConfig {
    /// A builder starting from the defaults listed on each setter.
    pub fn builder() -> HttpClientConfigBuilder {
        HttpClientConfigBuilder::default()
    }

    /// The base URL relative request URLs are joined to.
    pub fn base_url(&self) -> Option<&Url> {
        self.base_url.as_ref()
    }

    /// The time allowed to establish a connection (TCP and TLS).
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// The time allowed for each read from the connection.
    pub fn read_timeout(&self) -> Duration {
        self.read_timeout
    }

    /// The time allowed for one attempt, from sending to the end of the body.
    pub fn attempt_timeout(&self) -> Option<Duration> {
        self.attempt_timeout
    }

    /// The time allowed for a whole request, retries and their delays included.
    pub fn total_timeout(&self) -> Option<Duration> {
        self.total_timeout
    }

    /// The most requests in flight at once through the client.
    pub fn pool_size(&self) -> usize {
        self.pool_size
    }

    /// The most idle connections kept per host.
    pub fn max_keepalive_connections(&self) -> usize {
        self.max_keepalive_connections
    }

    /// How long an idle connection is kept.
    pub fn keepalive_expiry(&self) -> Duration {
        self.keepalive_expiry
    }

    /// Whether server certificates are verified.
    pub fn verify_tls(&self) -> bool {
        self.verify_tls
    }

    /// The extra CA bundle trusted, if any.
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca_file.as_deref()
    }

    /// The client certificate and key files for mutual TLS, if any.
    pub fn client_identity(&self) -> Option<(&Path, &Path)> {
        self.client_identity
            .as_ref()
            .map(|(c, k)| (c.as_path(), k.as_path()))
    }

    /// The headers sent with every request.
    pub fn default_headers(&self) -> &HeaderMap {
        &self.default_headers
    }

    /// The `User-Agent` sent with every request.
    pub fn user_agent(&self) -> &str {
        &self.user_agent
    }

    /// Whether redirects are followed.
    pub fn follow_redirects(&self) -> bool {
        self.follow_redirects
    }

    /// How requests authenticate.
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// The cap on a response body, in bytes.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// The retry policy of every request unless overridden.
    pub fn retry(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The configuration of the per-host circuit breakers, if enabled.
    pub fn circuit_breaker(&self) -> Option<&CircuitBreakerConfig> {
        self.circuit_breaker.as_ref()
    }

    /// The per-host rate limit, if any.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.rate_limit
    }

    /// The per-host retry budget, if enabled.
    pub fn retry_budget(&self) -> Option<RetryBudgetConfig> {
        self.retry_budget
    }

    /// Whether loopback, private, link-local and metadata addresses may be reached.
    pub fn allow_private_networks(&self) -> bool {
        self.allow_private_networks
    }
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        HttpClientConfig::builder()
            .build()
            .expect("the default configuration is valid")
    }
}

impl fmt::Debug for HttpClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.default_headers.keys().map(|k| k.as_str()).collect();
        f.debug_struct("HttpClientConfig")
            .field("base_url", &self.base_url.as_ref().map(RedactedUrl::new))
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("total_timeout", &self.total_timeout)
            .field("pool_size", &self.pool_size)
            .field("max_keepalive_connections", &self.max_keepalive_connections)
            .field("keepalive_expiry", &self.keepalive_expiry)
            .field("verify_tls", &self.verify_tls)
            .field("ca_file", &self.ca_file)
            .field("client_identity", &self.client_identity)
            .field("default_headers", &header_names)
            .field("user_agent", &self.user_agent)
            .field("follow_redirects", &self.follow_redirects)
            .field("auth", &self.auth)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("retry", &self.retry)
            .field("circuit_breaker", &self.circuit_breaker)
            .field("rate_limit", &self.rate_limit)
            .field("retry_budget", &self.retry_budget)
            .field("allow_private_networks", &self.allow_private_networks)
            .finish()
    }
}

/// Builds an [`HttpClientConfig`]. Setters never fail; [`build`](Self::build) reports the
/// first bad setting.
#[derive(Debug)]
pub struct HttpClientConfigBuilder {
    config: HttpClientConfig,
    base_url: Option<String>,
    headers: Vec<(String, String)>,
}

impl Default for HttpClientConfigBuilder {
    fn default() -> Self {
        HttpClientConfigBuilder {
            config: HttpClientConfig {
                base_url: None,
                connect_timeout: Duration::from_secs(10),
                read_timeout: Duration::from_secs(30),
                attempt_timeout: None,
                total_timeout: None,
                pool_size: 100,
                max_keepalive_connections: 20,
                keepalive_expiry: Duration::from_secs(90),
                verify_tls: true,
                ca_file: None,
                client_identity: None,
                default_headers: HeaderMap::new(),
                user_agent: concat!("pythia/", env!("CARGO_PKG_VERSION")).to_owned(),
                follow_redirects: true,
                max_redirects: 10,
                auth: Auth::None,
                max_body_bytes: 10 * 1024 * 1024,
                retry: RetryPolicy::default(),
                circuit_breaker: Some(CircuitBreakerConfig::default()),
                rate_limit: None,
                retry_budget: Some(RetryBudgetConfig::default()),
                allow_private_networks: true,
            },
            base_url: None,
            headers: Vec::new(),
        }
    }
}

impl HttpClientConfigBuilder {
    /// The base URL that relative request URLs are appended to (`/events` on
    /// `https://api.example.com/v1` is `https://api.example.com/v1/events`).
    ///
    /// Default: none; request URLs must be absolute.
    pub fn base_url(mut self, url: &str) -> Self {
        self.base_url = Some(url.to_owned());
        self
    }

    /// The time allowed to establish a connection, TLS handshake included.
    ///
    /// Default: 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// The time allowed for each read from a connection (waiting for the response head, or for
    /// the next chunk of the body).
    ///
    /// Default: 30 s.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.config.read_timeout = timeout;
        self
    }

    /// The time allowed for one attempt, from sending the request to the end of the body.
    /// Requests may override it with [`RequestBuilder::timeout`](super::RequestBuilder::timeout).
    ///
    /// Default: none (connect and read timeouts still apply).
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.config.attempt_timeout = Some(timeout);
        self
    }

    /// The time allowed for a whole request once it has passed the rate limit: every attempt,
    /// every retry delay and any pause of the host after a `429`. When it passes, the request
    /// fails with
    /// [`ErrorKind::Deadline`](super::ErrorKind::Deadline).
    ///
    /// Default: none.
    pub fn total_timeout(mut self, timeout: Duration) -> Self {
        self.config.total_timeout = Some(timeout);
        self
    }

    /// The most requests in flight at once through this client; more wait for a slot.
    ///
    /// Default: 100.
    pub fn pool_size(mut self, size: usize) -> Self {
        self.config.pool_size = size;
        self
    }

    /// The most idle connections kept open per host.
    ///
    /// Default: 20.
    pub fn max_keepalive_connections(mut self, connections: usize) -> Self {
        self.config.max_keepalive_connections = connections;
        self
    }

    /// How long an idle connection is kept open.
    ///
    /// Default: 90 s.
    pub fn keepalive_expiry(mut self, expiry: Duration) -> Self {
        self.config.keepalive_expiry = expiry;
        self
    }

    /// Whether server certificates are verified. Turning it off accepts any certificate and
    /// should be reserved for tests.
    ///
    /// Default: true.
    pub fn verify_tls(mut self, verify: bool) -> Self {
        self.config.verify_tls = verify;
        self
    }

    /// A PEM file of CA certificates trusted in addition to the built-in roots.
    ///
    /// Default: none.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.ca_file = Some(path.into());
        self
    }

    /// A client certificate (PEM, chain allowed) and its private key (PEM) for mutual TLS.
    ///
    /// Default: none.
    pub fn client_identity(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.config.client_identity = Some((cert.into(), key.into()));
        self
    }

    /// A header sent with every request (a request's own header of the same name wins).
    ///
    /// Default: none.
    pub fn default_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The `User-Agent` header.
    ///
    /// Default: `pythia/<version>`.
    pub fn user_agent(mut self, agent: &str) -> Self {
        self.config.user_agent = agent.to_owned();
        self
    }

    /// Whether redirects are followed (up to 10).
    ///
    /// Default: true.
    pub fn follow_redirects(mut self, follow: bool) -> Self {
        self.config.follow_redirects = follow;
        self
    }

    /// How requests authenticate.
    ///
    /// Default: [`Auth::None`].
    pub fn auth(mut self, auth: Auth) -> Self {
        self.config.auth = auth;
        self
    }

    /// The cap on a response body; a larger body fails the request with
    /// [`ErrorKind::BodyTooLarge`](super::ErrorKind::BodyTooLarge).
    ///
    /// Default: 10 MiB.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.config.max_body_bytes = bytes;
        self
    }

    /// The retry policy of every request (requests may override it).
    ///
    /// Default: [`RetryPolicy::default`] (3 attempts, exponential from 1 s, full jitter).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.config.retry = policy;
        self
    }

    /// The circuit breaker kept per host (or per request breaker key); `None` disables them.
    ///
    /// Default: `Some(CircuitBreakerConfig::default())` (5 consecutive failures, 30 s open).
    pub fn circuit_breaker(mut self, config: Option<CircuitBreakerConfig>) -> Self {
        self.config.circuit_breaker = config;
        self
    }

    /// A rate limit applied per host; `None` disables it.
    ///
    /// Default: none.
    pub fn rate_limit(mut self, limit: Option<RateLimit>) -> Self {
        self.config.rate_limit = limit;
        self
    }

    /// The retry budget kept per host; `None` disables it.
    ///
    /// Default: `Some(RetryBudgetConfig::default())` (20% of requests plus 1 per second).
    pub fn retry_budget(mut self, budget: Option<RetryBudgetConfig>) -> Self {
        self.config.retry_budget = budget;
        self
    }

    /// Whether loopback, private, link-local and cloud metadata addresses may be reached. When
    /// false, each resolved address is checked at connect time (and IP-literal hosts before
    /// sending), and a refused one fails with
    /// [`ErrorKind::RefusedAddress`](super::ErrorKind::RefusedAddress).
    ///
    /// Default: true (the `pythia` binary turns it off).
    pub fn allow_private_networks(mut self, allow: bool) -> Self {
        self.config.allow_private_networks = allow;
        self
    }

    /// Checks the settings and builds the configuration.
    pub fn build(self) -> Result<HttpClientConfig, ConfigError> {
        let mut config = self.config;

        if let Some(text) = self.base_url {
            config.base_url = Some(parse_base_url(&text)?);
        }

        for (name, value) in self.headers {
            let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                ConfigError::invalid("default_header", format!("{name:?} is not a header name"))
            })?;
            let mut value = HeaderValue::from_str(&value).map_err(|_| {
                ConfigError::invalid("default_header", format!("the value of {name} is invalid"))
            })?;
            value.set_sensitive(true);
            config.default_headers.append(header, value);
        }

        if HeaderValue::from_str(&config.user_agent).is_err() {
            return Err(ConfigError::invalid(
                "user_agent",
                "not a valid header value",
            ));
        }
        config.auth.header()?;

        if config.pool_size == 0 {
            return Err(ConfigError::invalid("pool_size", "must be at least 1"));
        }
        if config.max_body_bytes == 0 {
            return Err(ConfigError::invalid("max_body_bytes", "must be at least 1"));
        }
        for (field, timeout) in [
            ("connect_timeout", Some(config.connect_timeout)),
            ("read_timeout", Some(config.read_timeout)),
            ("attempt_timeout", config.attempt_timeout),
            ("total_timeout", config.total_timeout),
        ] {
            if timeout.is_some_and(|t| t.is_zero()) {
                return Err(ConfigError::invalid(field, "must be greater than zero"));
            }
        }
        if let Some(limit) = config.rate_limit {
            limit.validate()?;
        }
        if let Some(budget) = config.retry_budget {
            budget.validate()?;
        }
        Ok(config)
    }
}

fn parse_base_url(text: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text.trim())
        .map_err(|e| ConfigError::invalid("base_url", format!("not an absolute url ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::invalid(
            "base_url",
            format!("scheme must be http or https, not {}", url.scheme()),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ConfigError::invalid("base_url", "has no host"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_verify_tls_and_cap_bodies() {
        let config = HttpClientConfig::default();

        assert!(config.verify_tls());
        assert_eq!(config.max_body_bytes(), 10 * 1024 * 1024);
        assert_eq!(config.pool_size(), 100);
        assert!(config.circuit_breaker().is_some());
    }

    #[test]
    fn a_bad_base_url_is_reported() {
        for url in ["not a url", "ftp://example.com", "/relative"] {
            let error = HttpClientConfig::builder()
                .base_url(url)
                .build()
                .unwrap_err();

            assert_eq!(error.field(), "base_url", "{url}");
        }
    }

    #[test]
    fn a_bad_default_header_is_reported() {
        let error = HttpClientConfig::builder()
            .default_header("bad header", "x")
            .build()
            .unwrap_err();

        assert_eq!(error.field(), "default_header");
    }

    #[test]
    fn zero_sizes_and_timeouts_are_reported() {
        let cases = [
            (HttpClientConfig::builder().pool_size(0), "pool_size"),
            (
                HttpClientConfig::builder().max_body_bytes(0),
                "max_body_bytes",
            ),
            (
                HttpClientConfig::builder().connect_timeout(Duration::ZERO),
                "connect_timeout",
            ),
            (
                HttpClientConfig::builder().total_timeout(Duration::ZERO),
                "total_timeout",
            ),
        ];

        for (builder, field) in cases {
            assert_eq!(builder.build().unwrap_err().field(), field);
        }
    }

    #[test]
    fn debug_redacts_credentials_header_values_and_url_secrets() {
        let config = HttpClientConfig::builder()
            .base_url("https://ann:pw-secret@api.example.com/v1?key=q-secret")
            .default_header("X-Custom-Token", "hdr-secret")
            .auth(Auth::ApiKey {
                header: "X-API-Key".into(),
                key: "key-secret".into(),
            })
            .build()
            .unwrap();

        let debug = format!("{config:?}");

        assert!(!debug.contains("secret"), "{debug}");
        assert!(debug.contains("x-custom-token") && debug.contains("api.example.com"));
    }
}
