//! [`HttpClient`]: one connection pool and its per-host resilience state.

use std::fmt;
use std::sync::Arc;

use http::header::HeaderMap;
use http::Method;
use tokio::sync::Semaphore;

use super::guard::{self, GuardedResolver};
use super::hosts::Hosts;
use super::tls;
use super::{Error, ErrorKind, HttpClientConfig, RequestBuilder};
use crate::resilience::{BreakerState, CircuitBreaker};

pub(crate) struct Shared {
    pub(crate) http: reqwest::Client,
    pub(crate) config: HttpClientConfig,
    pub(crate) hosts: Hosts,
    pub(crate) slots: Semaphore,
}

/// A pooled HTTP client whose requests run through the resilience pipeline.
///
/// Each request goes through, in this order:
///
/// 1. **rate limit**: waits for a token of the host's
///    [`RateLimiter`](crate::resilience::RateLimiter), if one is configured;
/// 2. **total deadline**: from here on, the request's `total_timeout` bounds everything;
/// 3. **retry**: attempts are repeated per the [`RetryPolicy`](crate::resilience::RetryPolicy)
///    for retryable statuses and errors, within the host's retry budget, waiting at least as
///    long as a `Retry-After` says (up to its cap); a `429` with `Retry-After` also pauses
///    every other request to that host until then;
/// 4. **circuit breaker**: each attempt asks the host's breaker; an open breaker fails the
///    request at once with [`ErrorKind::CircuitOpen`], without touching the network;
/// 5. **attempt**: one HTTP exchange bounded by the per-attempt timeout (and the connect and
///    read timeouts), its body read up to the cap.
///
/// Cheap to clone: clones share the pool and the per-host state.
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use pythia::http::{HttpClient, HttpClientConfig};
///
/// let config = HttpClientConfig::builder().base_url("https://api.example.com").build()?;
/// let client = HttpClient::new(config)?;
/// let response = client.get("/status").query(&[("state", "pending")]).send().await?;
/// println!("{} after {} attempt(s)", response.status(), response.attempts());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct HttpClient {
    pub(crate) shared: Arc<Shared>,
}

impl HttpClient {
    /// Builds the pool: reads the CA and client identity files, applies TLS, timeouts and
    /// default headers.
    pub fn new(config: HttpClientConfig) -> Result<Self, Error> {
        let http = build_reqwest(&config)?;
        let slots = Semaphore::new(config.pool_size.min(Semaphore::MAX_PERMITS));
        Ok(HttpClient {
            shared: Arc::new(Shared {
                http,
                config,
                hosts: Hosts::new(),
                slots,
            }),
        })
    }

    /// A request with this method; `url` is absolute or relative to the base URL.
    pub fn request(&self, method: Method, url: impl AsRef<str>) -> RequestBuilder {
        RequestBuilder::new(self.clone(), method, url.as_ref())
    }

    /// A `GET` request.
    pub fn get(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    /// A `POST` request.
    pub fn post(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    /// A `PUT` request.
    pub fn put(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::PUT, url)
    }

    /// A `PATCH` request.
    pub fn patch(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::PATCH, url)
    }

    /// A `DELETE` request.
    pub fn delete(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::DELETE, url)
    }

    /// The configuration this client was built from.
    pub fn config(&self) -> &HttpClientConfig {
        &self.shared.config
    }

    /// The state of every breaker made so far, by key (`host[:port]` unless a request set its
    /// own breaker key), sorted by key.
    pub fn breaker_states(&self) -> Vec<(String, BreakerState)> {
        self.shared.hosts.breaker_states()
    }

    /// The breaker for `key`, if a request has used it.
    pub fn breaker(&self, key: &str) -> Option<CircuitBreaker> {
        self.shared.hosts.breaker(key)
    }
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("config", &self.shared.config)
            .finish()
    }
}

fn build_reqwest(config: &HttpClientConfig) -> Result<reqwest::Client, Error> {
    let mut headers = HeaderMap::new();
    if let Some((name, value)) = config.auth.header().map_err(builder_error)? {
        headers.insert(name, value);
    }
    for (name, value) in &config.default_headers {
        headers.append(name.clone(), value.clone());
    }

    let mut tls = tls::client_config(config)?;
    // What reqwest offers by itself with its http2 feature on; a preconfigured TLS keeps
    // whatever ALPN it is given.
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let mut builder = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .default_headers(headers)
        .user_agent(config.user_agent.clone())
        .connect_timeout(config.connect_timeout)
        .read_timeout(config.read_timeout)
        .pool_max_idle_per_host(config.max_keepalive_connections)
        .pool_idle_timeout(config.keepalive_expiry)
        .tcp_nodelay(true)
        .redirect(redirect_policy(config));

    if !config.allow_private_networks {
        builder = builder.dns_resolver(Arc::new(GuardedResolver));
    }

    builder.build().map_err(|e| {
        Error::new(ErrorKind::Builder)
            .with_detail("cannot build the pool")
            .with_source(e)
    })
}

fn redirect_policy(config: &HttpClientConfig) -> reqwest::redirect::Policy {
    if !config.follow_redirects {
        return reqwest::redirect::Policy::none();
    }
    let max = config.max_redirects;
    let guard = !config.allow_private_networks;
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > max {
            return attempt.error(TooManyRedirects(max));
        }
        if guard {
            if let Err(refused) = guard::check_literal(attempt.url()) {
                return attempt.error(refused);
            }
        }
        attempt.follow()
    })
}

/// More redirects than allowed.
#[derive(Debug, thiserror::Error)]
#[error("more than {0} redirects")]
pub(crate) struct TooManyRedirects(usize);

fn builder_error(error: crate::resilience::ConfigError) -> Error {
    Error::new(ErrorKind::Builder).with_detail(error.to_string())
}
