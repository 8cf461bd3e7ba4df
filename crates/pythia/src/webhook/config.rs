//! [`WebhookConfig`]: where webhooks go, how they are signed, and how hard to try.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use url::Url;

use super::schedule::DeliverySchedule;
use super::signing::{KeyError, Signer};
use crate::http::{HttpClientConfig, HttpClientConfigBuilder};
use crate::resilience::{CircuitBreakerConfig, ConfigError, Jitter, RateLimit, RetryPolicy};

/// Why a [`WebhookConfig`] could not be built. Messages never contain a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookConfigError {
    /// A URL that cannot be parsed or is not `http`/`https`.
    #[error("endpoint `{endpoint}`: invalid url: {problem}")]
    InvalidUrl {
        /// The endpoint name (`base_url` for the base URL).
        endpoint: String,
        /// What is wrong.
        problem: String,
    },
    /// A relative endpoint path with no base URL to resolve it against.
    #[error("endpoint `{endpoint}` is a path but no base_url is set")]
    NoBaseUrl {
        /// The endpoint name.
        endpoint: String,
    },
    /// A signing secret that cannot be read.
    #[error("{scope}: {source}")]
    Secret {
        /// `secrets` for the shared ones, or `endpoint <name>`.
        scope: String,
        /// What is wrong with it.
        source: KeyError,
    },
    /// A knob out of range.
    #[error("invalid {field}: {problem}")]
    Invalid {
        /// The setting, as named by its builder method.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The HTTP client or a resilience part could not be configured.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl WebhookConfigError {
    /// Always false: a configuration does not fix itself by trying again.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

/// Overrides for one named endpoint. Anything left unset takes the [`WebhookConfig`] value.
///
/// ```
/// use std::time::Duration;
/// use pythia::resilience::RateLimit;
/// use pythia::webhook::{EndpointConfig, WebhookConfig};
///
/// let config = WebhookConfig::builder()
///     .base_url("https://webhooks.example.com")
///     .secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
///     .endpoint("orders", "/orders/webhook")
///     .endpoint_config(
///         "partner",
///         EndpointConfig::new("https://partner.example.net/hooks")
///             .timeout(Duration::from_secs(5))
///             .rate_limit(RateLimit::per_second(10.0))
///             .concurrency_limit(4)
///             .event_types(["order.created"]),
///     )
///     .build()
///     .unwrap();
/// assert_eq!(config.endpoint_names().count(), 2);
/// ```
#[derive(Clone, Default)]
pub struct EndpointConfig {
    url: String,
    secrets: Option<Vec<String>>,
    timeout: Option<Duration>,
    rate_limit: Option<RateLimit>,
    concurrency_limit: Option<usize>,
    retry: Option<RetryPolicy>,
    retry_schedule: Option<DeliverySchedule>,
    // `None`: inherit the sender's breaker; `Some(None)`: no breaker for this endpoint.
    #[allow(clippy::option_option)]
    circuit_breaker: Option<Option<CircuitBreakerConfig>>,
    event_types: Option<Vec<String>>,
}

impl EndpointConfig {
    /// An endpoint at `url`: an absolute `http(s)` URL, or a path under the base URL.
    pub fn new(url: impl Into<String>) -> Self {
        EndpointConfig {
            url: url.into(),
            ..EndpointConfig::default()
        }
    }

    /// Adds a signing secret (`whsec_` or `whsk_`) for this endpoint only; once one is added
    /// the shared secrets no longer apply to it. Call again to sign with several keys during a
    /// rotation. Default: the shared secrets.
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secrets
            .get_or_insert_with(Vec::new)
            .push(secret.into());
        self
    }

    /// Sends this endpoint's webhooks unsigned, whatever the shared secrets. Default: signed
    /// with the shared secrets.
    pub fn unsigned(mut self) -> Self {
        self.secrets = Some(Vec::new());
        self
    }

    /// The time allowed for one attempt. Default: the config's `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The most attempts per second to this endpoint. Default: the config's `rate_limit`.
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// The most attempts in flight to this endpoint at once. Default: the config's
    /// `concurrency_limit`.
    pub fn concurrency_limit(mut self, limit: usize) -> Self {
        self.concurrency_limit = Some(limit);
        self
    }

    /// The in-memory retry policy of [`WebhookSender::send`](super::WebhookSender::send).
    /// Default: the config's.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// The durable retry schedule the outbox dispatcher follows. Default: the config's.
    pub fn retry_schedule(mut self, schedule: DeliverySchedule) -> Self {
        self.retry_schedule = Some(schedule);
        self
    }

    /// This endpoint's circuit breaker, or `None` for none. Default: the config's.
    pub fn circuit_breaker(mut self, config: Option<CircuitBreakerConfig>) -> Self {
        self.circuit_breaker = Some(config);
        self
    }

    /// Only these event types are sent here. Default: every event type.
    pub fn event_types<I, S>(mut self, types: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.event_types = Some(types.into_iter().map(Into::into).collect());
        self
    }
}

impl fmt::Debug for EndpointConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndpointConfig")
            .field("url", &redact_url_text(&self.url))
            .field("secrets", &self.secrets.as_ref().map(Vec::len))
            .field("timeout", &self.timeout)
            .field("rate_limit", &self.rate_limit)
            .field("concurrency_limit", &self.concurrency_limit)
            .field("retry", &self.retry)
            .field("retry_schedule", &self.retry_schedule)
            .field("circuit_breaker", &self.circuit_breaker)
            .field("event_types", &self.event_types)
            .finish()
    }
}

/// Everything one endpoint needs, resolved against the config's defaults.
#[derive(Clone, Debug)]
pub(crate) struct EndpointSettings {
    pub(crate) url: Url,
    pub(crate) signer: Signer,
    pub(crate) timeout: Duration,
    pub(crate) rate_limit: Option<RateLimit>,
    pub(crate) concurrency_limit: usize,
    pub(crate) retry: RetryPolicy,
    pub(crate) retry_schedule: DeliverySchedule,
    pub(crate) circuit_breaker: Option<CircuitBreakerConfig>,
    pub(crate) event_types: Option<Vec<String>>,
}

/// The configuration of a [`WebhookSender`](super::WebhookSender).
///
/// The fields of the specification's `WebhookConfig` (`base_url`, `timeout`, `max_retries`,
/// `retry_delay`, `retry_backoff`, named `endpoints`) plus signing secrets, per-endpoint
/// overrides ([`EndpointConfig`]) and the HTTP client underneath. `Debug` never shows a secret.
///
/// ```
/// use std::time::Duration;
/// use pythia::webhook::WebhookConfig;
///
/// let config = WebhookConfig::builder()
///     .base_url("https://webhooks.example.com")
///     .timeout(Duration::from_secs(30))
///     .max_retries(5)
///     .retry_delay(Duration::from_secs(2))
///     .retry_backoff(2.0)
///     .endpoint("orders", "/orders/webhook")
///     .endpoint("users", "/users/webhook")
///     .endpoint("alerts", "/system/alerts")
///     .build()
///     .unwrap();
/// assert_eq!(config.max_retries(), 5);
/// ```
#[derive(Clone)]
pub struct WebhookConfig {
    pub(crate) base_url: Option<Url>,
    pub(crate) defaults: EndpointSettingsDefaults,
    pub(crate) endpoints: BTreeMap<String, EndpointSettings>,
    pub(crate) http: HttpClientConfig,
    max_retries: u32,
    retry_delay: Duration,
    retry_backoff: f64,
}

/// The settings an endpoint gets when nothing overrides them; ad-hoc endpoints (paths and
/// URLs given straight to `send`) get exactly these.
#[derive(Clone, Debug)]
pub(crate) struct EndpointSettingsDefaults {
    pub(crate) signer: Signer,
    pub(crate) timeout: Duration,
    pub(crate) rate_limit: Option<RateLimit>,
    pub(crate) concurrency_limit: usize,
    pub(crate) retry: RetryPolicy,
    pub(crate) retry_schedule: DeliverySchedule,
    pub(crate) circuit_breaker: Option<CircuitBreakerConfig>,
}

impl EndpointSettingsDefaults {
    pub(crate) fn for_url(&self, url: Url) -> EndpointSettings {
        EndpointSettings {
            url,
            signer: self.signer.clone(),
            timeout: self.timeout,
            rate_limit: self.rate_limit,
            concurrency_limit: self.concurrency_limit,
            retry: self.retry.clone(),
            retry_schedule: self.retry_schedule.clone(),
            circuit_breaker: self.circuit_breaker.clone(),
            event_types: None,
        }
    }
}

impl WebhookConfig {
    /// A builder starting from the defaults listed on each setter.
    pub fn builder() -> WebhookConfigBuilder {
        WebhookConfigBuilder::default()
    }

    /// The base URL that endpoint paths are resolved against.
    pub fn base_url(&self) -> Option<&Url> {
        self.base_url.as_ref()
    }

    /// The default time allowed for one attempt.
    pub fn timeout(&self) -> Duration {
        self.defaults.timeout
    }

    /// Retries after the first attempt in [`send`](super::WebhookSender::send).
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The delay before the first retry.
    pub fn retry_delay(&self) -> Duration {
        self.retry_delay
    }

    /// The factor each retry delay grows by.
    pub fn retry_backoff(&self) -> f64 {
        self.retry_backoff
    }

    /// The default in-memory retry policy.
    pub fn retry(&self) -> &RetryPolicy {
        &self.defaults.retry
    }

    /// The names of the configured endpoints, in order.
    pub fn endpoint_names(&self) -> impl Iterator<Item = &str> {
        self.endpoints.keys().map(String::as_str)
    }

    /// The URL of a named endpoint.
    pub fn endpoint_url(&self, name: &str) -> Option<&Url> {
        self.endpoints.get(name).map(|endpoint| &endpoint.url)
    }

    /// Resolves a path (or an absolute URL) against the base URL.
    pub(crate) fn resolve(&self, endpoint: &str) -> Result<Url, WebhookConfigError> {
        resolve(self.base_url.as_ref(), endpoint, endpoint)
    }
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let endpoints: BTreeMap<&str, String> = self
            .endpoints
            .iter()
            .map(|(name, settings)| (name.as_str(), redact_url_text(settings.url.as_str())))
            .collect();
        f.debug_struct("WebhookConfig")
            .field(
                "base_url",
                &self.base_url.as_ref().map(|u| redact_url_text(u.as_str())),
            )
            .field("timeout", &self.defaults.timeout)
            .field("max_retries", &self.max_retries)
            .field("retry_delay", &self.retry_delay)
            .field("retry_backoff", &self.retry_backoff)
            .field("signing_keys", &self.defaults.signer.len())
            .field("endpoints", &endpoints)
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

/// Builds a [`WebhookConfig`]. Setters never fail; [`build`](Self::build) reports the first
/// bad setting.
#[derive(Debug)]
pub struct WebhookConfigBuilder {
    base_url: Option<String>,
    timeout: Duration,
    max_retries: u32,
    retry_delay: Duration,
    retry_backoff: f64,
    retry: Option<RetryPolicy>,
    retry_schedule: Option<DeliverySchedule>,
    secrets: Vec<Secret>,
    endpoints: Vec<(String, EndpointConfig)>,
    rate_limit: Option<RateLimit>,
    concurrency_limit: usize,
    circuit_breaker: Option<CircuitBreakerConfig>,
    http: Option<HttpClientConfigBuilder>,
}

/// A secret held only to be parsed at `build()`; `Debug` shows nothing of it.
#[derive(Clone)]
struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Default for WebhookConfigBuilder {
    fn default() -> Self {
        WebhookConfigBuilder {
            base_url: None,
            timeout: Duration::from_secs(30),
            max_retries: 3,
            retry_delay: Duration::from_secs(1),
            retry_backoff: 2.0,
            retry: None,
            retry_schedule: None,
            secrets: Vec::new(),
            endpoints: Vec::new(),
            rate_limit: None,
            concurrency_limit: 64,
            circuit_breaker: Some(CircuitBreakerConfig::default()),
            http: None,
        }
    }
}

impl WebhookConfigBuilder {
    /// The URL that endpoint paths are appended to (`/orders` on `https://h.example/v1` is
    /// `https://h.example/v1/orders`). Default: none; endpoints must then be absolute URLs.
    pub fn base_url(mut self, url: &str) -> Self {
        self.base_url = Some(url.to_owned());
        self
    }

    /// The time allowed for one attempt, from connecting to the response headers. Default: 30 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Retries after the first attempt in [`send`](super::WebhookSender::send). Default: 3.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The delay before the first retry. Default: 1 s.
    pub fn retry_delay(mut self, delay: Duration) -> Self {
        self.retry_delay = delay;
        self
    }

    /// The factor each later retry delay is multiplied by. Default: 2.0.
    pub fn retry_backoff(mut self, factor: f64) -> Self {
        self.retry_backoff = factor;
        self
    }

    /// A full in-memory retry policy, replacing the one `max_retries`, `retry_delay` and
    /// `retry_backoff` describe. Default: exponential from those three, without jitter.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// The durable retry schedule the outbox dispatcher follows. Default:
    /// [`DeliverySchedule::default`], ten attempts over about a day, jittered, never early.
    pub fn retry_schedule(mut self, schedule: DeliverySchedule) -> Self {
        self.retry_schedule = Some(schedule);
        self
    }

    /// Adds a signing secret: `whsec_...` (HMAC, `v1`) or `whsk_...` (Ed25519, `v1a`). Add
    /// several to sign with each during a key rotation. Default: none, webhooks go unsigned.
    pub fn secret(mut self, secret: &str) -> Self {
        self.secrets.push(Secret(secret.to_owned()));
        self
    }

    /// Names an endpoint: `path` is a path under the base URL or an absolute URL, as in the
    /// specification's `endpoints` mapping. Default: no named endpoints.
    pub fn endpoint(self, name: &str, path: &str) -> Self {
        self.endpoint_config(name, EndpointConfig::new(path))
    }

    /// Names an endpoint with its own overrides. A later call with the same name replaces the
    /// earlier one.
    pub fn endpoint_config(mut self, name: &str, config: EndpointConfig) -> Self {
        self.endpoints.retain(|(existing, _)| existing != name);
        self.endpoints.push((name.to_owned(), config));
        self
    }

    /// The most attempts per second to each endpoint. Default: no limit.
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// The most attempts in flight to each endpoint at once. Default: 64.
    pub fn concurrency_limit(mut self, limit: usize) -> Self {
        self.concurrency_limit = limit;
        self
    }

    /// The circuit breaker each endpoint gets, or `None` for none. Default:
    /// [`CircuitBreakerConfig::default`].
    pub fn circuit_breaker(mut self, config: Option<CircuitBreakerConfig>) -> Self {
        self.circuit_breaker = config;
        self
    }

    /// The settings of the connection pool webhooks are posted through (a hyper client, not an
    /// [`HttpClient`](crate::http::HttpClient)): TLS (`verify_tls`, `ca_file`,
    /// `client_identity`), the SSRF guard, `pool_size`, `max_keepalive_connections`,
    /// `keepalive_expiry`, the connect, read and total timeouts (each attempt is also bounded
    /// by the endpoint's `timeout`), the user agent, `auth`, default headers and
    /// `max_body_bytes`. Whatever it says, webhooks never follow redirects and never retry or
    /// break circuits at the client level: the sender does that per endpoint. Default:
    /// [`HttpClientConfig::builder`] with up to 1,024 requests in flight and 1,024 idle
    /// connections kept, so that a broadcast reaches that many endpoints at once (each endpoint
    /// still has its own `concurrency_limit`).
    pub fn http(mut self, builder: HttpClientConfigBuilder) -> Self {
        self.http = Some(builder);
        self
    }

    /// Checks every setting and builds the configuration.
    pub fn build(self) -> Result<WebhookConfig, WebhookConfigError> {
        let base_url = match &self.base_url {
            Some(text) => Some(parse_http_url("base_url", text)?),
            None => None,
        };
        if self.timeout.is_zero() {
            return Err(invalid("timeout", "must be above zero"));
        }
        if self.concurrency_limit == 0 {
            return Err(invalid("concurrency_limit", "must be at least 1"));
        }
        if let Some(limit) = &self.rate_limit {
            limit.validate()?;
        }
        let signer =
            Signer::from_secrets(self.secrets.iter().map(|s| s.0.as_str())).map_err(|source| {
                WebhookConfigError::Secret {
                    scope: "secrets".to_owned(),
                    source,
                }
            })?;
        let retry = match self.retry {
            Some(policy) => policy,
            None => spec_retry_policy(self.max_retries, self.retry_delay, self.retry_backoff)?,
        };
        let defaults = EndpointSettingsDefaults {
            signer,
            timeout: self.timeout,
            rate_limit: self.rate_limit,
            concurrency_limit: self.concurrency_limit,
            retry,
            retry_schedule: self.retry_schedule.unwrap_or_default(),
            circuit_breaker: self.circuit_breaker,
        };

        let mut endpoints = BTreeMap::new();
        for (name, config) in self.endpoints {
            let settings = resolve_endpoint(base_url.as_ref(), &defaults, &name, config)?;
            endpoints.insert(name, settings);
        }

        let http = self
            .http
            .unwrap_or_else(|| {
                HttpClientConfig::builder()
                    .pool_size(1024)
                    .max_keepalive_connections(1024)
            })
            .follow_redirects(false)
            .retry(RetryPolicy::none())
            .circuit_breaker(None)
            .rate_limit(None)
            .retry_budget(None)
            .build()?;

        Ok(WebhookConfig {
            base_url,
            defaults,
            endpoints,
            http,
            max_retries: self.max_retries,
            retry_delay: self.retry_delay,
            retry_backoff: self.retry_backoff,
        })
    }
}

fn invalid(field: &str, problem: &str) -> WebhookConfigError {
    WebhookConfigError::Invalid {
        field: field.to_owned(),
        problem: problem.to_owned(),
    }
}

/// The specification's retry knobs as a policy: `max_retries` retries, the first after
/// `retry_delay`, each later one `retry_backoff` times longer.
fn spec_retry_policy(
    max_retries: u32,
    delay: Duration,
    backoff: f64,
) -> Result<RetryPolicy, WebhookConfigError> {
    if !backoff.is_finite() || backoff < 1.0 {
        return Err(invalid(
            "retry_backoff",
            "must be a finite number of at least 1.0",
        ));
    }
    Ok(RetryPolicy::builder()
        .exponential(delay, backoff)
        .jitter(Jitter::None)
        .max_attempts(max_retries.saturating_add(1))
        .build()?)
}

fn resolve_endpoint(
    base_url: Option<&Url>,
    defaults: &EndpointSettingsDefaults,
    name: &str,
    config: EndpointConfig,
) -> Result<EndpointSettings, WebhookConfigError> {
    if name.is_empty() {
        return Err(invalid("endpoint", "names must not be empty"));
    }
    let url = resolve(base_url, name, &config.url)?;
    let signer = match &config.secrets {
        Some(secrets) => {
            Signer::from_secrets(secrets).map_err(|source| WebhookConfigError::Secret {
                scope: format!("endpoint `{name}`"),
                source,
            })?
        }
        None => defaults.signer.clone(),
    };
    if config.timeout.is_some_and(|t| t.is_zero()) {
        return Err(invalid(
            &format!("endpoint `{name}` timeout"),
            "must be above zero",
        ));
    }
    if config.concurrency_limit == Some(0) {
        return Err(invalid(
            &format!("endpoint `{name}` concurrency_limit"),
            "must be at least 1",
        ));
    }
    if let Some(limit) = &config.rate_limit {
        limit.validate()?;
    }
    Ok(EndpointSettings {
        url,
        signer,
        timeout: config.timeout.unwrap_or(defaults.timeout),
        rate_limit: config.rate_limit.or(defaults.rate_limit),
        concurrency_limit: config
            .concurrency_limit
            .unwrap_or(defaults.concurrency_limit),
        retry: config.retry.unwrap_or_else(|| defaults.retry.clone()),
        retry_schedule: config
            .retry_schedule
            .unwrap_or_else(|| defaults.retry_schedule.clone()),
        circuit_breaker: config
            .circuit_breaker
            .unwrap_or_else(|| defaults.circuit_breaker.clone()),
        event_types: config.event_types,
    })
}

/// An absolute `http(s)` URL as is, or a path appended to the base URL.
pub(crate) fn resolve(
    base_url: Option<&Url>,
    name: &str,
    target: &str,
) -> Result<Url, WebhookConfigError> {
    let target = target.trim();
    if target.starts_with("http://") || target.starts_with("https://") {
        return parse_http_url(name, target);
    }
    let Some(base) = base_url else {
        return Err(WebhookConfigError::NoBaseUrl {
            endpoint: name.to_owned(),
        });
    };
    let mut joined = base.clone();
    joined.set_query(None);
    joined.set_fragment(None);
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    let full_path = format!(
        "{}/{}",
        base.path().trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    joined.set_path(&full_path);
    joined.set_query(query);
    Ok(joined)
}

fn parse_http_url(name: &str, text: &str) -> Result<Url, WebhookConfigError> {
    let url = Url::parse(text.trim()).map_err(|error| WebhookConfigError::InvalidUrl {
        endpoint: name.to_owned(),
        problem: error.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(WebhookConfigError::InvalidUrl {
            endpoint: name.to_owned(),
            problem: "only http and https urls with a host are supported".to_owned(),
        });
    }
    Ok(url)
}

/// A URL's text without password or query, safe for logs and `Debug`.
pub(crate) fn redact_url_text(text: &str) -> String {
    match Url::parse(text) {
        Ok(mut url) => {
            if url.password().is_some() {
                let _ = url.set_password(Some("redacted"));
            }
            if url.query().is_some() {
                url.set_query(Some("redacted"));
            }
            url.to_string()
        }
        Err(_) => match text.split_once('?') {
            Some((path, _)) => format!("{path}?redacted"),
            None => text.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_paths_resolve_under_the_base_url_path() {
        let config = WebhookConfig::builder()
            .base_url("https://hooks.example.com/v1/")
            .endpoint("orders", "/orders/webhook")
            .endpoint("absolute", "https://other.example.net/in?x=1")
            .build()
            .unwrap();

        let orders = config.endpoint_url("orders").unwrap();
        let absolute = config.endpoint_url("absolute").unwrap();

        assert_eq!(
            orders.as_str(),
            "https://hooks.example.com/v1/orders/webhook"
        );
        assert_eq!(absolute.as_str(), "https://other.example.net/in?x=1");
    }

    #[test]
    fn a_path_without_a_base_url_is_an_error_naming_the_endpoint() {
        let error = WebhookConfig::builder()
            .endpoint("orders", "/orders")
            .build()
            .unwrap_err();

        assert_eq!(
            error,
            WebhookConfigError::NoBaseUrl {
                endpoint: "orders".into()
            }
        );
    }

    #[test]
    fn bad_secrets_urls_and_knobs_fail_at_build_without_showing_the_secret() {
        let secret = WebhookConfig::builder()
            .secret("whsec_%%%secretish")
            .build()
            .unwrap_err();
        let url = WebhookConfig::builder()
            .base_url("ftp://files.example.com")
            .build()
            .unwrap_err();
        let zero = WebhookConfig::builder()
            .concurrency_limit(0)
            .build()
            .unwrap_err();
        let backoff = WebhookConfig::builder()
            .retry_backoff(0.5)
            .build()
            .unwrap_err();

        assert!(matches!(secret, WebhookConfigError::Secret { .. }));
        assert!(!secret.to_string().contains("secretish"));
        assert!(matches!(url, WebhookConfigError::InvalidUrl { .. }));
        assert!(zero.to_string().contains("concurrency_limit"));
        assert!(backoff.to_string().contains("retry_backoff"));
    }

    #[test]
    fn the_default_pool_lets_a_broadcast_reach_a_thousand_endpoints_at_once() {
        let config = WebhookConfig::builder().build().unwrap();

        assert_eq!(config.http.pool_size(), 1024);
        assert_eq!(config.http.max_keepalive_connections(), 1024);
    }

    #[test]
    fn max_retries_counts_retries_after_the_first_attempt() {
        let config = WebhookConfig::builder().max_retries(5).build().unwrap();

        assert_eq!(config.retry().max_attempts(), 6);
    }

    #[test]
    fn debug_shows_no_secret_and_no_url_password() {
        let config = WebhookConfig::builder()
            .secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .endpoint_config(
                "p",
                EndpointConfig::new("https://user:hunter2@p.example.com/x")
                    .secret("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"),
            )
            .build()
            .unwrap();
        let builder = WebhookConfig::builder().secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");

        let shown = format!("{config:?} {builder:?}");

        assert!(!shown.contains("MfKQ9r8"));
        assert!(!shown.contains("C2FVsBQ"));
        assert!(!shown.contains("hunter2"));
    }
}
