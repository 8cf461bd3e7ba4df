//! One poll of one target: lease, request, pages, messages, state.

use std::sync::atomic::Ordering;

use http::header::{
    CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, USER_AGENT,
};
use http::{HeaderValue, StatusCode};
use tokio::time::Instant;

use super::deliver::{deliver, items, response_headers};
use super::observe;
use super::pagination::PageWalk;
use super::stats::PollerStats;
use super::target::Target;
use crate::http::{HttpClient, Response};
use crate::Body;

/// How a poll ended.
#[derive(Debug)]
pub(crate) enum PollResult {
    /// Every page was fetched and handed over.
    Ok,
    /// The first page answered `304 Not Modified`.
    NotModified,
    /// The poll failed; `outcome` is the metric label, `reason` is safe to log.
    Failed {
        outcome: &'static str,
        reason: String,
    },
    /// The lease was held elsewhere (or failed): no request was made.
    Skipped,
}

impl PollResult {
    fn failed(outcome: &'static str, reason: impl Into<String>) -> PollResult {
        PollResult::Failed {
            outcome,
            reason: reason.into(),
        }
    }
}

/// Polls `target` once. `epoch` is the scheduler's start, against which `Retry-After` is kept.
pub(crate) async fn poll(
    target: &Target,
    client: &HttpClient,
    stats: &PollerStats,
    epoch: Instant,
) -> PollResult {
    if !holds_lease(target, stats).await {
        return PollResult::Skipped;
    }
    load_state(target, stats).await;

    let (etag, last_modified, cursor) = {
        let memory = target.live.memory.lock();
        (
            memory.etag.clone(),
            memory.last_modified.clone(),
            memory.cursor.clone(),
        )
    };
    let mut walk = PageWalk::start(
        target.pagination.as_ref(),
        target.config.url.clone(),
        cursor.clone(),
    );
    let mut changed = false;
    let mut pages = 0;
    let result = loop {
        pages += 1;
        let first = pages == 1;
        let url = walk.url().clone();
        let mut request = client
            .request(target.config.method.clone(), url.as_str())
            .headers(target.config.headers.clone())
            .retry(target.retry.clone());
        if let Some(timeout) = target.attempt_timeout {
            request = request.timeout(timeout);
        }
        if let Some(agent) = &target.config.user_agent {
            if let Ok(value) = HeaderValue::from_str(agent) {
                request = request.header(USER_AGENT, value);
            }
        }
        if let Some(body) = &target.config.body {
            request = request.body(body.clone());
        }
        if first {
            request = conditional(request, etag.as_deref(), last_modified.as_deref());
        }

        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                break PollResult::failed(error_outcome(&error), error.to_string());
            }
        };
        let status = response.status();
        observe::response(target, &url, status, response.elapsed());

        if status == StatusCode::NOT_MODIFIED {
            break if first {
                PollResult::NotModified
            } else {
                PollResult::Ok
            };
        }
        if !status.is_success() {
            push_back(target, &response, stats, epoch);
            if target.deliver_errors {
                let body = lenient_body(&response);
                let headers = response_headers(&response);
                deliver(target, stats, body, &headers, &response).await;
            }
            break PollResult::failed("http_status", format!("http status {}", status.as_u16()));
        }
        if response.body().len() > target.config.max_body_bytes {
            break PollResult::failed(
                "body_too_large",
                format!(
                    "response body of {} bytes is over the cap of {} bytes",
                    response.body().len(),
                    target.config.max_body_bytes
                ),
            );
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let body = match Body::decode(content_type, response.body().clone()) {
            Ok(body) => body,
            Err(error) => {
                break PollResult::failed("invalid_body", format!("invalid json body ({error})"))
            }
        };
        if first {
            changed |= remember_validators(target, &response);
        }

        let found = walk.cursor_in(&body);
        let (items, count) = items(target, body);
        let headers = response_headers(&response);
        let next = walk.advance(&response, found, count);
        for item in items {
            changed |= deliver(target, stats, item, &headers, &response).await;
        }

        if !next {
            break PollResult::Ok;
        }
        if pages >= target.max_pages {
            observe::page_cap(target, stats, pages);
            break PollResult::Ok;
        }
    };

    if matches!(result, PollResult::Ok | PollResult::NotModified) {
        let resume = walk.resume_cursor();
        if resume != cursor && target.pagination.is_some() {
            target.live.memory.lock().cursor = resume;
            changed = true;
        }
    }
    if changed {
        save_state(target, stats).await;
    }
    result
}

fn conditional(
    mut request: crate::http::RequestBuilder,
    etag: Option<&str>,
    last_modified: Option<&str>,
) -> crate::http::RequestBuilder {
    if let Some(value) = etag.and_then(|v| HeaderValue::from_str(v).ok()) {
        request = request.header(IF_NONE_MATCH, value);
    }
    if let Some(value) = last_modified.and_then(|v| HeaderValue::from_str(v).ok()) {
        request = request.header(IF_MODIFIED_SINCE, value);
    }
    request
}

/// Keeps the response's `ETag` and `Last-Modified`; `true` when either changed.
fn remember_validators(target: &Target, response: &Response) -> bool {
    let read = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let etag = read(ETAG);
    let last_modified = read(LAST_MODIFIED);
    let mut memory = target.live.memory.lock();
    let changed = memory.etag != etag || memory.last_modified != last_modified;
    memory.etag = etag;
    memory.last_modified = last_modified;
    changed
}

/// A `429` or `503` with `Retry-After` pushes the target's next poll back.
fn push_back(target: &Target, response: &Response, stats: &PollerStats, epoch: Instant) {
    let status = response.status();
    if status != StatusCode::TOO_MANY_REQUESTS && status != StatusCode::SERVICE_UNAVAILABLE {
        return;
    }
    let Some(wait) = response.retry_after() else {
        return;
    };
    let until = (Instant::now() + wait).saturating_duration_since(epoch);
    let nanos = u64::try_from(until.as_nanos()).unwrap_or(u64::MAX);
    target.live.not_before.fetch_max(nanos, Ordering::AcqRel);
    observe::retry_after(target, stats, wait);
}

/// The body of an error response, decoded without failing.
fn lenient_body(response: &Response) -> Body {
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    Body::decode(content_type, response.body().clone())
        .unwrap_or_else(|_| Body::from_untyped(response.body().clone()))
}

fn error_outcome(error: &crate::http::Error) -> &'static str {
    use crate::http::ErrorKind;
    match error.kind() {
        ErrorKind::Timeout | ErrorKind::Deadline => "timeout",
        ErrorKind::Connect => "connect",
        ErrorKind::CircuitOpen => "circuit_open",
        ErrorKind::BodyTooLarge => "body_too_large",
        _ => "error",
    }
}

async fn holds_lease(target: &Target, stats: &PollerStats) -> bool {
    let Some(lease) = &target.lease else {
        return true;
    };
    match lease.try_hold(&target.name, target.lease_ttl()).await {
        Ok(true) => true,
        Ok(false) => {
            observe::lease_skipped(target, stats, None);
            false
        }
        Err(error) => {
            observe::lease_skipped(target, stats, Some(&*error));
            false
        }
    }
}

async fn load_state(target: &Target, stats: &PollerStats) {
    if target.live.memory.lock().loaded {
        return;
    }
    let Some(store) = &target.state_store else {
        target.live.memory.lock().loaded = true;
        return;
    };
    match store.load(&target.name).await {
        Ok(state) => {
            let mut memory = target.live.memory.lock();
            if let Some(state) = state {
                let capacity = target
                    .dedup
                    .as_ref()
                    .map_or(super::DEFAULT_DEDUP_CAPACITY, |d| d.max_keys());
                memory.restore(state, capacity);
            }
            memory.loaded = true;
        }
        // Polling goes on with the state in memory; nothing is saved until a load succeeds,
        // so the stored state is never overwritten by an empty one.
        Err(error) => observe::state_error(target, stats, "load", &*error),
    }
}

async fn save_state(target: &Target, stats: &PollerStats) {
    let Some(store) = &target.state_store else {
        return;
    };
    let state = {
        let memory = target.live.memory.lock();
        if !memory.loaded {
            return;
        }
        memory.to_state()
    };
    if let Err(error) = store.save(&target.name, &state).await {
        observe::state_error(target, stats, "save", &*error);
    }
}
