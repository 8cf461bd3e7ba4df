//! [`WebhookSender`]: the shared transport, the endpoints, and one attempt.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use parking_lot::RwLock;
use tokio::time::Instant;

use super::attempt::{AttemptRequest, AttemptResult};
use super::config::WebhookConfig;
use super::endpoint::Endpoint;
use super::metrics;
use super::outcome::ErrorClass;
use super::signing::{HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use super::transport::{Answer, Transport};
use crate::http::{Error as HttpError, ErrorKind};
use crate::resilience::RetryPolicy;

/// Ad-hoc endpoints (paths and URLs not named in the config) remembered with their own state;
/// past this many, further ones get fresh state on each call so memory stays bounded.
const MAX_ADHOC_ENDPOINTS: usize = 10_000;

/// Sends signed webhooks: one at a time with retries ([`send`](Self::send)), built from a
/// [`Message`](crate::Message) ([`send_from_message`](Self::send_from_message)), to many
/// endpoints at once ([`broadcast`](Self::broadcast)), or as single attempts for the outbox
/// dispatcher ([`attempt`](Self::attempt)).
///
/// Cloning is cheap and clones share everything: the connection pools, and one circuit
/// breaker, rate limiter and concurrency limit per endpoint. Redirects are never followed; a
/// `410 Gone` disables the endpoint.
///
/// ```no_run
/// use pythia::webhook::{WebhookConfig, WebhookSender};
/// use serde_json::json;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let sender = WebhookSender::new(
///     WebhookConfig::builder()
///         .base_url("https://webhooks.example.com")
///         .secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
///         .build()?,
/// )?;
///
/// let outcome = sender
///     .send("/orders/created", json!({"order_id": 7}), &[("x-event-source", "orders")])
///     .await;
/// if !outcome.is_delivered() {
///     eprintln!("not delivered after {} attempts: {:?}", outcome.attempts(), outcome.error());
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct WebhookSender {
    pub(crate) shared: Arc<Shared>,
}

pub(crate) struct Shared {
    transport: Transport,
    pub(crate) config: WebhookConfig,
    named: HashMap<String, Arc<Endpoint>>,
    adhoc: RwLock<HashMap<String, Arc<Endpoint>>>,
}

/// Why a [`WebhookSender`] could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SenderError {
    /// The HTTP client could not be built (a CA file that cannot be read, for instance).
    #[error("cannot build the webhook http client: {0}")]
    Http(#[from] HttpError),
}

impl SenderError {
    /// Always false: the configuration has to change.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

impl WebhookSender {
    /// A sender with its own connection pool, built from `config`.
    pub fn new(config: WebhookConfig) -> Result<Self, SenderError> {
        let transport = Transport::new(&config.http)?;
        let named = config
            .endpoints
            .iter()
            .map(|(name, settings)| {
                (
                    name.clone(),
                    Arc::new(Endpoint::new(name, settings.clone())),
                )
            })
            .collect();
        Ok(WebhookSender {
            shared: Arc::new(Shared {
                transport,
                config,
                named,
                adhoc: RwLock::new(HashMap::new()),
            }),
        })
    }

    /// The configuration the sender was built from.
    pub fn config(&self) -> &WebhookConfig {
        &self.shared.config
    }

    /// An endpoint by configured name, path under the base URL, or absolute URL; `None` for a
    /// bare word that is not a configured name, or a path with no base URL.
    pub fn endpoint(&self, endpoint: &str) -> Option<Arc<Endpoint>> {
        if let Some(named) = self.shared.named.get(endpoint) {
            return Some(Arc::clone(named));
        }
        if !(endpoint.starts_with('/')
            || endpoint.starts_with("http://")
            || endpoint.starts_with("https://"))
        {
            return None;
        }
        if let Some(known) = self.shared.adhoc.read().get(endpoint) {
            return Some(Arc::clone(known));
        }
        let url = self.shared.config.resolve(endpoint).ok()?;
        let settings = self.shared.config.defaults.for_url(url);
        let mut adhoc = self.shared.adhoc.write();
        if let Some(known) = adhoc.get(endpoint) {
            return Some(Arc::clone(known));
        }
        let created = Arc::new(Endpoint::new(endpoint, settings));
        if adhoc.len() < MAX_ADHOC_ENDPOINTS {
            adhoc.insert(endpoint.to_owned(), Arc::clone(&created));
        }
        Some(created)
    }

    /// The configured endpoints and the ad-hoc ones used so far.
    pub fn endpoints(&self) -> Vec<Arc<Endpoint>> {
        let mut all: Vec<Arc<Endpoint>> = self.shared.named.values().cloned().collect();
        all.extend(self.shared.adhoc.read().values().cloned());
        all
    }

    /// Makes one signed attempt, with no retry: through the endpoint's concurrency limit,
    /// rate limit and circuit breaker. The outbox dispatcher calls this and does the retrying
    /// itself, by the endpoint's [retry schedule](Endpoint::retry_schedule).
    pub async fn attempt(&self, request: &AttemptRequest) -> AttemptResult {
        let Some(endpoint) = self.endpoint(&request.endpoint) else {
            metrics::attempt(&request.endpoint, "unknown_endpoint", None);
            return AttemptResult::UnknownEndpoint;
        };
        let extra = match header_map(
            request
                .headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        ) {
            Ok(headers) => headers,
            Err(error) => {
                metrics::attempt(endpoint.label(), "failed", None);
                return AttemptResult::Failed {
                    status: None,
                    error,
                    retryable: false,
                    retry_after: None,
                };
            }
        };
        let signed = Signed {
            id: &request.id,
            timestamp: request.timestamp,
            payload: &request.payload,
            content_type: None,
            extra: &extra,
        };
        self.attempt_on(&endpoint, &signed, endpoint.retry_policy())
            .await
            .0
    }

    /// One attempt on a resolved endpoint; `policy` decides which statuses are retryable.
    /// Returns the result and, for a failure, its class.
    pub(crate) async fn attempt_on(
        &self,
        endpoint: &Endpoint,
        signed: &Signed<'_>,
        policy: &RetryPolicy,
    ) -> (AttemptResult, Option<ErrorClass>) {
        if endpoint.is_disabled() {
            metrics::attempt(endpoint.label(), "endpoint_disabled", None);
            return (
                AttemptResult::EndpointDisabled,
                Some(ErrorClass::EndpointDisabled),
            );
        }
        let permit = match endpoint.breaker().map(|breaker| breaker.try_acquire()) {
            Some(Err(open)) => {
                metrics::attempt(endpoint.label(), "breaker_open", None);
                let result = AttemptResult::BreakerOpen {
                    retry_in: open.retry_in,
                };
                return (result, Some(ErrorClass::BreakerOpen));
            }
            Some(Ok(permit)) => Some(permit),
            None => None,
        };
        let _slot = endpoint
            .slots()
            .acquire()
            .await
            .expect("endpoint semaphores are never closed");
        if let Some(limiter) = endpoint.limiter() {
            limiter.acquire().await;
        }

        let transport = &self.shared.transport;
        let headers = signed.headers(endpoint, transport.spare_headers());
        let started = Instant::now();
        let response = transport
            .post(
                endpoint.target(),
                endpoint.url(),
                headers,
                signed.payload.clone(),
                endpoint.timeout(),
            )
            .await;
        let latency = started.elapsed();

        let (result, class, breaker_failure) = classify(endpoint, response, latency, policy);
        if let Some(permit) = permit {
            if breaker_failure {
                permit.failure(latency);
            } else {
                permit.success(latency);
            }
        }
        if let Some(state) = endpoint.breaker_state() {
            endpoint.metrics().breaker_state(state);
        }
        endpoint
            .metrics()
            .attempt(endpoint.label(), result.label(), latency);
        (result, class)
    }
}

/// What an attempt signs and sends, borrowed from the caller.
#[derive(Debug)]
pub(crate) struct Signed<'a> {
    pub(crate) id: &'a str,
    pub(crate) timestamp: Option<i64>,
    pub(crate) payload: &'a Bytes,
    pub(crate) content_type: Option<&'static str>,
    pub(crate) extra: &'a HeaderMap,
}

impl Signed<'_> {
    /// The extra headers plus the content type and the three `webhook-*` headers, signed now,
    /// in a map with room for `spare` more.
    fn headers(&self, endpoint: &Endpoint, spare: usize) -> HeaderMap {
        let mut headers = HeaderMap::with_capacity(self.extra.len() + 4 + spare);
        for (name, value) in self.extra {
            headers.append(name, value.clone());
        }
        if !headers.contains_key(CONTENT_TYPE) {
            let content_type = self.content_type.unwrap_or("application/json");
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        let timestamp = self.timestamp.unwrap_or_else(unix_now);
        if let Ok(id) = HeaderValue::from_str(self.id) {
            headers.insert(HeaderName::from_static(HEADER_ID), id);
        }
        headers.insert(
            HeaderName::from_static(HEADER_TIMESTAMP),
            HeaderValue::from(timestamp),
        );
        let signer = endpoint.signer();
        if !signer.is_empty() {
            let signature = Bytes::from(signer.sign(self.id, timestamp, self.payload));
            if let Ok(value) = HeaderValue::from_maybe_shared(signature) {
                headers.insert(HeaderName::from_static(HEADER_SIGNATURE), value);
            }
        }
        headers
    }
}

/// Extra headers as a map; the `webhook-*` headers are the sender's and are dropped.
pub(crate) fn header_map<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        let name =
            HeaderName::try_from(name).map_err(|_| format!("invalid header name `{name}`"))?;
        if matches!(
            name.as_str(),
            HEADER_ID | HEADER_TIMESTAMP | HEADER_SIGNATURE
        ) {
            continue;
        }
        let value = HeaderValue::try_from(value)
            .map_err(|_| format!("invalid value for header `{name}`"))?;
        headers.append(name, value);
    }
    Ok(headers)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_secs() as i64)
        .unwrap_or(0)
}

/// The attempt's result, the class of a failure, and whether it counts as a failure for the
/// breaker (the endpoint is unwell: 5xx, 408, 429, timeouts, connection failures).
fn classify(
    endpoint: &Endpoint,
    response: Result<Answer, HttpError>,
    latency: std::time::Duration,
    policy: &RetryPolicy,
) -> (AttemptResult, Option<ErrorClass>, bool) {
    match response {
        Ok(response) => {
            let status = response.status;
            let code = status.as_u16();
            if status.is_success() {
                let result = AttemptResult::Delivered {
                    status: code,
                    latency,
                };
                return (result, None, false);
            }
            let unwell = status.is_server_error() || code == 408 || code == 429;
            let (error, retryable, class) = if code == 410 {
                endpoint.disable();
                let error = "endpoint answered 410 gone and is now disabled".to_owned();
                (error, false, ErrorClass::Gone)
            } else if status.is_redirection() {
                let error = format!("endpoint answered {code}, a redirect, which is not followed");
                (error, false, ErrorClass::Redirect)
            } else {
                let retryable = policy.is_retryable_status(status);
                (
                    format!("endpoint answered {code}"),
                    retryable,
                    ErrorClass::Status,
                )
            };
            let result = AttemptResult::Failed {
                status: Some(code),
                error,
                retryable,
                retry_after: response.retry_after(),
            };
            (result, Some(class), unwell)
        }
        Err(error) => {
            let unwell = error.is_timeout() || error.is_connect() || error.is_retryable();
            let class = match error.kind() {
                ErrorKind::Timeout | ErrorKind::Deadline => ErrorClass::Timeout,
                ErrorKind::Connect | ErrorKind::Tls => ErrorClass::Connect,
                ErrorKind::Builder | ErrorKind::InvalidUrl | ErrorKind::RefusedAddress => {
                    ErrorClass::InvalidRequest
                }
                _ => ErrorClass::Transport,
            };
            let result = AttemptResult::Failed {
                status: error.status().map(|s| s.as_u16()),
                error: error.to_string(),
                retryable: error.is_retryable(),
                retry_after: None,
            };
            (result, Some(class), unwell)
        }
    }
}

impl fmt::Debug for WebhookSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSender")
            .field("config", &self.shared.config)
            .field("adhoc_endpoints", &self.shared.adhoc.read().len())
            .finish_non_exhaustive()
    }
}
