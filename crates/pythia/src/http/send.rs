//! The pipeline a request runs through: rate limit, total deadline, retry, circuit breaker,
//! attempt.

use std::time::Duration;

use http::StatusCode;
use tokio::time::Instant;

use super::attempt::{attempt, Attempt};
use super::hosts::{host_key, Host};
use super::{guard, Error, ErrorKind, RequestBuilder, Response};
use crate::resilience::RetryPolicy;

pub(crate) async fn send(request: RequestBuilder) -> Result<Response, Error> {
    if let Some(error) = request.error {
        return Err(error);
    }
    let url = request.url?;
    let shared = &request.client.shared;
    let config = &shared.config;
    if !config.allow_private_networks {
        guard::check_literal(&url).map_err(|refused| {
            Error::new(ErrorKind::RefusedAddress)
                .with_detail(refused.to_string())
                .with_url(&url)
        })?;
    }

    let key = request.breaker_key.unwrap_or_else(|| host_key(&url));
    let host = shared.hosts.get(&key, config);
    let started = Instant::now();

    // 1. Rate limit.
    if let Some(limiter) = &host.limiter {
        limiter.acquire().await;
    }

    // 2. Total deadline, over retries and their delays.
    let deadline = request.total_timeout.map(|t| Instant::now() + t);

    let call = Attempt {
        client: &shared.http,
        slots: &shared.slots,
        max_body_bytes: config.max_body_bytes,
        method: &request.method,
        url: &url,
        headers: &request.headers,
        body: request.body.as_ref(),
        timeout: request.timeout,
    };
    let policy = request.retry.as_ref().unwrap_or(&config.retry);
    let outcome = retry(&call, &host, policy, deadline).await;

    let elapsed = started.elapsed();
    metrics::histogram!("pythia_http_request_duration_seconds").record(elapsed.as_secs_f64());
    match outcome {
        Ok((mut response, attempts)) => {
            response.elapsed = elapsed;
            response.attempts = attempts;
            metrics::counter!("pythia_http_requests_total", "outcome" => "response").increment(1);
            Ok(response)
        }
        Err((error, attempts)) => {
            let kind = error.kind().as_str();
            metrics::counter!("pythia_http_requests_total", "outcome" => kind).increment(1);
            tracing::debug!(host = %key, error = %error, attempts, "http request failed");
            Err(error.with_attempts(attempts))
        }
    }
}

type Outcome = Result<(Response, u32), (Error, u32)>;

/// 3. Retry: repeats attempts per the policy, within the host's budget and the deadline.
async fn retry(
    call: &Attempt<'_>,
    host: &Host,
    policy: &RetryPolicy,
    deadline: Option<Instant>,
) -> Outcome {
    if let Some(budget) = &host.budget {
        budget.deposit();
    }
    let mut state = policy.start();
    let mut attempts = 0;

    loop {
        if let Some(until) = host.paused_until(Instant::now()) {
            if deadline.is_some_and(|d| until > d) {
                return Err((deadline_error(call), attempts));
            }
            tokio::time::sleep_until(until).await;
        }

        attempts += 1;
        let result = guarded(call, host, deadline).await;

        let retry_after = match &result {
            Ok(response) if policy.is_retryable_status(response.status) => {
                let retry_after = response.retry_after();
                if response.status == StatusCode::TOO_MANY_REQUESTS {
                    if let Some(wait) = retry_after {
                        pause_host(host, call, wait.min(policy.retry_after_cap()));
                    }
                }
                retry_after
            }
            Ok(_) => return result.map(|r| (r, attempts)).map_err(|e| (e, attempts)),
            Err(error) if !error.is_retryable() || is_final(error.kind()) => {
                return result.map(|r| (r, attempts)).map_err(|e| (e, attempts));
            }
            Err(_) => None,
        };

        let Some(delay) = state.next_delay(retry_after) else {
            return result.map(|r| (r, attempts)).map_err(|e| (e, attempts));
        };
        if deadline.is_some_and(|d| Instant::now() + delay >= d) {
            return result.map(|r| (r, attempts)).map_err(|e| (e, attempts));
        }
        if host.budget.as_ref().is_some_and(|b| !b.try_withdraw()) {
            metrics::counter!("pythia_http_retry_budget_exhausted_total").increment(1);
            tracing::debug!(url = %call.url.host_str().unwrap_or_default(), "retry budget spent");
            return result.map(|r| (r, attempts)).map_err(|e| (e, attempts));
        }

        metrics::counter!("pythia_http_retries_total").increment(1);
        tracing::debug!(
            host = call.url.host_str().unwrap_or_default(),
            attempt = attempts,
            delay_seconds = delay.as_secs_f64(),
            status = result.as_ref().ok().map(|r| r.status.as_u16()),
            error = result.as_ref().err().map(|e| e.kind().as_str()),
            "retrying http request"
        );
        tokio::time::sleep(delay).await;
    }
}

/// Errors the retry loop never repeats within one request.
fn is_final(kind: ErrorKind) -> bool {
    matches!(kind, ErrorKind::CircuitOpen | ErrorKind::Deadline)
}

/// 4. Circuit breaker, then 5. the attempt, bounded by the deadline.
async fn guarded(
    call: &Attempt<'_>,
    host: &Host,
    deadline: Option<Instant>,
) -> Result<Response, Error> {
    let permit = match &host.breaker {
        Some(breaker) => Some(breaker.try_acquire().map_err(|open| {
            metrics::counter!("pythia_http_circuit_open_total").increment(1);
            Error::new(ErrorKind::CircuitOpen)
                .with_detail(format!("retry in {:.1} s", open.retry_in.as_secs_f64()))
                .with_url(call.url)
                .with_source(open)
        })?),
        None => None,
    };

    let started = Instant::now();
    let result = match deadline {
        Some(deadline) => match tokio::time::timeout_at(deadline, attempt(call)).await {
            Ok(result) => result,
            Err(_) => Err(deadline_error(call)),
        },
        None => attempt(call).await,
    };

    if let Some(permit) = permit {
        let elapsed = started.elapsed();
        if counts_as_failure(&result) {
            permit.failure(elapsed);
        } else {
            permit.success(elapsed);
        }
    }
    result
}

/// Whether an outcome says the host is unwell: transport failures, timeouts, 408 and 5xx
/// except 501. A 429 or another 4xx is the host answering, which is healthy.
fn counts_as_failure(result: &Result<Response, Error>) -> bool {
    match result {
        Ok(response) => {
            let status = response.status;
            status == StatusCode::REQUEST_TIMEOUT
                || (status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED)
        }
        Err(error) => matches!(
            error.kind(),
            ErrorKind::Connect | ErrorKind::Timeout | ErrorKind::Request | ErrorKind::Tls
        ),
    }
}

fn pause_host(host: &Host, call: &Attempt<'_>, wait: Duration) {
    host.pause_until(Instant::now() + wait);
    metrics::counter!("pythia_http_host_paused_total").increment(1);
    tracing::debug!(
        host = call.url.host_str().unwrap_or_default(),
        pause_seconds = wait.as_secs_f64(),
        "host answered 429, pausing its requests"
    );
}

fn deadline_error(call: &Attempt<'_>) -> Error {
    Error::new(ErrorKind::Deadline).with_url(call.url)
}
