//! [`Transport`]: how webhooks reach the network, hyper-util's pooled clients (plain, and over
//! rustls) with nothing in between.
//!
//! A webhook needs less of a client than [`HttpClient`](crate::http::HttpClient) offers: its
//! URL is fixed per endpoint, the sender keeps retries, breakers and rate limits per
//! endpoint, a redirect is never followed, and of the answer only the status and
//! `Retry-After` matter. So the transport is built from the same [`HttpClientConfig`] (TLS,
//! SSRF guard, pool, timeouts, user agent, auth and default headers) but posts straight
//! through hyper, which keeps a send close to the rate of a bare hyper client.

use std::error::Error as StdError;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue, ACCEPT, USER_AGENT};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body as _, Incoming};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::sync::Semaphore;
use url::Url;

use crate::http::attempt::{is_timed_out, is_tls};
use crate::http::guard::{self, HyperResolver, RefusedAddress};
use crate::http::{tls, Error, ErrorKind, HttpClientConfig};

type Plain = HttpConnector<HyperResolver>;

/// The pooled clients webhooks are posted through, and what they add to every request.
pub(crate) struct Transport {
    /// For `http` URLs: hyper clones its connector for every request, and a plain one is the
    /// cheaper to clone.
    plain: Client<Plain, Full<Bytes>>,
    /// For `https` URLs.
    tls: Client<HttpsConnector<Plain>, Full<Bytes>>,
    /// User agent, `accept: */*`, the auth header and the default headers, one value per name.
    defaults: HeaderMap,
    /// The pool's `pool_size`: the most requests in flight at once.
    slots: Semaphore,
    guard: bool,
    max_body_bytes: usize,
    read_timeout: Duration,
    total_timeout: Option<Duration>,
}

/// Where an endpoint's webhooks go, parsed once when the endpoint is made.
#[derive(Debug)]
pub(crate) struct Target {
    uri: Option<Uri>,
    https: bool,
    /// The host, when it is an IP literal in a refused range.
    refused: Option<IpAddr>,
}

impl Target {
    pub(crate) fn new(url: &Url) -> Self {
        Target {
            uri: url.as_str().parse().ok(),
            https: url.scheme() == "https",
            refused: guard::refused_literal(url),
        }
    }
}

/// What an endpoint answered: the status and headers; the body was read and dropped.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
}

impl Answer {
    /// The `Retry-After` header as a delay from now, if present and valid.
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        crate::http::response::retry_after(&self.headers)
    }
}

impl Transport {
    /// The pool, its TLS (built-in roots, CA file, client identity) and its resolver, from
    /// `config`. Its redirect, retry, breaker and rate limit settings are not used: the sender
    /// never follows redirects and keeps the rest per endpoint.
    pub(crate) fn new(config: &HttpClientConfig) -> Result<Self, Error> {
        let guard = !config.allow_private_networks();
        let mut http = HttpConnector::new_with_resolver(HyperResolver { guard });
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(config.connect_timeout()));
        let https = HttpsConnectorBuilder::new()
            .with_tls_config(tls::client_config(config)?)
            .https_only()
            .enable_all_versions()
            .wrap_connector(http.clone());
        let mut builder = Client::builder(TokioExecutor::new());
        builder
            .pool_max_idle_per_host(config.max_keepalive_connections())
            .pool_idle_timeout(config.keepalive_expiry())
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new());
        Ok(Transport {
            plain: builder.build(http),
            tls: builder.build(https),
            defaults: default_headers(config)?,
            slots: Semaphore::new(config.pool_size().min(Semaphore::MAX_PERMITS)),
            guard,
            max_body_bytes: config.max_body_bytes(),
            read_timeout: config.read_timeout(),
            total_timeout: config.total_timeout(),
        })
    }

    /// How many headers [`post`](Self::post) and hyper add at most (the defaults, `host` and
    /// `content-length`), to size a request's header map once: growing it reallocates.
    pub(crate) fn spare_headers(&self) -> usize {
        self.defaults.len() + 2
    }

    /// Posts `body` with `headers` (plus the defaults the request does not set) to `target`,
    /// reads the answer's body up to the cap, all within `timeout`. `url` is the target's, for
    /// errors, which show it redacted.
    pub(crate) async fn post(
        &self,
        target: &Target,
        url: &Url,
        mut headers: HeaderMap,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Answer, Error> {
        let Some(uri) = &target.uri else {
            return Err(Error::new(ErrorKind::InvalidUrl)
                .with_detail("not a valid http uri")
                .with_url(url));
        };
        if self.guard {
            if let Some(ip) = target.refused {
                let refused = guard::refuse(ip);
                return Err(Error::new(ErrorKind::RefusedAddress)
                    .with_detail(refused.to_string())
                    .with_url(url));
            }
        }
        for (name, value) in &self.defaults {
            if let http::header::Entry::Vacant(entry) = headers.entry(name) {
                entry.insert(value.clone());
            }
        }
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = uri.clone();
        *request.headers_mut() = headers;

        let _slot = self.slots.acquire().await.map_err(|_| {
            Error::new(ErrorKind::Request)
                .with_detail("the client is closed")
                .with_url(url)
        })?;
        let timeout = self
            .total_timeout
            .map_or(timeout, |total| total.min(timeout));
        let exchange = self.exchange(request, target.https, timeout);
        match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result.map_err(|error| error.with_url(url)),
            Err(_) => Err(timed_out(timeout).with_url(url)),
        }
    }

    /// Sends the request and reads the answer, each wait bounded by the read timeout when it
    /// is shorter than the attempt's.
    async fn exchange(
        &self,
        request: Request<Full<Bytes>>,
        https: bool,
        timeout: Duration,
    ) -> Result<Answer, Error> {
        let per_read = (self.read_timeout < timeout).then_some(self.read_timeout);
        let sent = if https {
            self.tls.request(request)
        } else {
            self.plain.request(request)
        };
        let response = within(per_read, sent).await?.map_err(classify)?;
        let (parts, body) = response.into_parts();
        self.drain(body, per_read)
            .await
            .map_err(|error| error.with_status(parts.status))?;
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
        })
    }

    /// Reads the body to its end, so the connection goes back to the pool, and drops it. A
    /// body over the cap is an error, and the connection is dropped with it.
    async fn drain(&self, mut body: Incoming, per_read: Option<Duration>) -> Result<(), Error> {
        let cap = self.max_body_bytes;
        let too_large =
            || Error::new(ErrorKind::BodyTooLarge).with_detail(format!("more than {cap} bytes"));
        if body.size_hint().lower() > cap as u64 {
            return Err(too_large());
        }
        let mut read = 0usize;
        while let Some(frame) = within(per_read, body.frame()).await? {
            let frame = frame.map_err(|e| {
                Error::new(ErrorKind::Request)
                    .with_detail(e.to_string())
                    .with_source(e)
            })?;
            if let Some(data) = frame.data_ref() {
                read += data.len();
                if read > cap {
                    return Err(too_large());
                }
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.defaults.keys().map(|k| k.as_str()).collect();
        f.debug_struct("Transport")
            .field("default_headers", &header_names)
            .field("guard", &self.guard)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

/// The headers reqwest added to every request of an `HttpClient`, kept so that receivers see
/// no change: `accept: */*`, the auth header, the default headers (the last value of a
/// repeated name) and the user agent, which no default header replaces.
fn default_headers(config: &HttpClientConfig) -> Result<HeaderMap, Error> {
    let mut defaults = HeaderMap::new();
    defaults.insert(ACCEPT, HeaderValue::from_static("*/*"));
    let auth = config
        .auth()
        .header()
        .map_err(|e| Error::new(ErrorKind::Builder).with_detail(e.to_string()))?;
    if let Some((name, value)) = auth {
        defaults.insert(name, value);
    }
    for (name, value) in config.default_headers() {
        defaults.insert(name, value.clone());
    }
    let agent = HeaderValue::from_str(config.user_agent()).map_err(|_| {
        Error::new(ErrorKind::Builder).with_detail("the user agent is not a valid header value")
    })?;
    defaults.insert(USER_AGENT, agent);
    Ok(defaults)
}

/// Awaits `future`, within `limit` when there is one.
async fn within<F: std::future::Future>(
    limit: Option<Duration>,
    future: F,
) -> Result<F::Output, Error> {
    match limit {
        Some(limit) => tokio::time::timeout(limit, future)
            .await
            .map_err(|_| timed_out(limit)),
        None => Ok(future.await),
    }
}

fn timed_out(after: Duration) -> Error {
    Error::new(ErrorKind::Timeout).with_detail(format!(
        "no answer within {}",
        humantime::format_duration(after)
    ))
}

/// Turns a hyper client error into ours: the kind from its causes, the detail from the
/// innermost one. Neither carries the URL.
fn classify(error: hyper_util::client::legacy::Error) -> Error {
    let causes = || std::iter::successors(error.source(), |e| (*e).source());
    let kind = if causes().any(|e| e.is::<RefusedAddress>()) {
        ErrorKind::RefusedAddress
    } else if causes().any(is_timed_out) {
        ErrorKind::Timeout
    } else if causes().any(is_tls) {
        ErrorKind::Tls
    } else if error.is_connect() {
        ErrorKind::Connect
    } else {
        ErrorKind::Request
    };
    let detail = causes()
        .last()
        .map_or_else(|| error.to_string(), ToString::to_string);
    Error::new(kind).with_detail(detail).with_source(error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Auth;

    #[test]
    fn defaults_are_those_reqwest_sent_and_the_user_agent_wins() {
        let config = HttpClientConfig::builder()
            .auth(Auth::Bearer("t0ken".into()))
            .default_header("x-team", "a")
            .default_header("x-team", "b")
            .default_header("user-agent", "other")
            .user_agent("pythia-test")
            .build()
            .unwrap();

        let defaults = default_headers(&config).unwrap();

        assert_eq!(defaults["accept"], "*/*");
        assert_eq!(defaults["authorization"], "Bearer t0ken");
        assert_eq!(defaults.get_all("x-team").iter().count(), 1);
        assert_eq!(defaults["x-team"], "b");
        assert_eq!(defaults["user-agent"], "pythia-test");
    }

    #[test]
    fn a_refused_literal_is_found_once_and_names_are_left_to_the_resolver() {
        let target = |u: &str| Target::new(&Url::parse(u).unwrap());

        assert!(target("http://127.0.0.1:9/x").refused.is_some());
        assert!(target("http://[::1]/x").refused.is_some());
        assert!(target("http://localhost/x").refused.is_none());
        assert!(target("https://93.184.216.34/x").refused.is_none());
        assert!(target("https://93.184.216.34/x").uri.is_some());
    }
}
