//! One attempt: a single HTTP exchange, its body read up to the cap, its error classified.

use std::error::Error as StdError;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Method};
use tokio::sync::Semaphore;
use url::Url;

use super::client::TooManyRedirects;
use super::guard::RefusedAddress;
use super::{Error, ErrorKind, Response};

/// Everything an attempt needs, borrowed from the request.
pub(crate) struct Attempt<'a> {
    pub(crate) client: &'a reqwest::Client,
    pub(crate) slots: &'a Semaphore,
    pub(crate) max_body_bytes: usize,
    pub(crate) method: &'a Method,
    pub(crate) url: &'a Url,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: Option<&'a Bytes>,
    pub(crate) timeout: Option<Duration>,
}

/// Makes one exchange. `elapsed` and `attempts` of the response are filled in by the caller.
pub(crate) async fn attempt(call: &Attempt<'_>) -> Result<Response, Error> {
    let _slot = call.slots.acquire().await.map_err(|_| {
        Error::new(ErrorKind::Request)
            .with_detail("the client is closed")
            .with_url(call.url)
    })?;

    let mut request = reqwest::Request::new(call.method.clone(), call.url.clone());
    if !call.headers.is_empty() {
        *request.headers_mut() = call.headers.clone();
    }
    if let Some(body) = call.body {
        *request.body_mut() = Some(body.clone().into());
    }
    *request.timeout_mut() = call.timeout;

    let mut response = call
        .client
        .execute(request)
        .await
        .map_err(|e| classify(e, call.url))?;

    let status = response.status();
    let headers = std::mem::take(response.headers_mut());
    let url = if response.url() == call.url {
        call.url.clone()
    } else {
        response.url().clone()
    };
    let cap = call.max_body_bytes;
    let too_large = |url: &Url| {
        Error::new(ErrorKind::BodyTooLarge)
            .with_detail(format!("more than {cap} bytes"))
            .with_status(status)
            .with_url(url)
    };

    let body = match response.content_length() {
        Some(length) if length > cap as u64 => return Err(too_large(call.url)),
        Some(_) => response.bytes().await.map_err(|e| classify(e, call.url))?,
        None => {
            let mut buffer = BytesMut::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| classify(e, call.url))? {
                if buffer.len() + chunk.len() > cap {
                    return Err(too_large(call.url));
                }
                buffer.extend_from_slice(&chunk);
            }
            buffer.freeze()
        }
    };

    Ok(Response {
        status,
        headers,
        body,
        url,
        elapsed: Duration::ZERO,
        attempts: 1,
    })
}

/// Turns a reqwest error into ours: the kind from the error and its causes, the detail from
/// the innermost cause, and the URL without its secrets.
pub(crate) fn classify(error: reqwest::Error, url: &Url) -> Error {
    let causes = || std::iter::successors(error.source(), |e| (*e).source());

    let kind = if causes().any(|e| e.is::<RefusedAddress>()) {
        ErrorKind::RefusedAddress
    } else if causes().any(|e| e.is::<TooManyRedirects>()) || error.is_redirect() {
        ErrorKind::Redirect
    } else if error.is_timeout() || causes().any(is_timed_out) {
        ErrorKind::Timeout
    } else if causes().any(is_tls) {
        ErrorKind::Tls
    } else if error.is_connect() {
        ErrorKind::Connect
    } else if error.is_builder() {
        ErrorKind::InvalidUrl
    } else {
        ErrorKind::Request
    };

    let detail = causes().last().map(ToString::to_string);
    let mut classified = Error::new(kind).with_url(url);
    if let Some(detail) = detail {
        classified = classified.with_detail(detail);
    }
    classified.with_source(error.without_url())
}

/// Whether the error is an `io::Error` that timed out (a connect timeout, for instance).
pub(crate) fn is_timed_out(error: &(dyn StdError + 'static)) -> bool {
    error
        .downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::TimedOut)
}

/// Whether the error is a rustls error, possibly wrapped in `io::Error`s: the connector
/// nests one `io::Error` in another, and `io::Error::source` skips the error it wraps, so
/// the wrapped errors are walked through `get_ref` here.
pub(crate) fn is_tls(error: &(dyn StdError + 'static)) -> bool {
    let mut current = error;
    loop {
        if current.is::<rustls::Error>() {
            return true;
        }
        let inner = current
            .downcast_ref::<std::io::Error>()
            .and_then(|e| e.get_ref());
        match inner {
            Some(inner) => current = inner,
            None => return false,
        }
    }
}
