//! The ingest API: `POST /v1/messages` puts webhooks into the outbox and answers `202` only
//! once they are durable.
//!
//! ```json
//! {"endpoint": "orders", "payload": {"order": 42}, "id": "ord-42"}
//! {"endpoints": ["orders", "audit"], "payload": {...}}
//! {"event_type": "order.created", "payload": {...}}
//! ```
//!
//! `id` is an idempotency key: sending the same id again stores nothing and answers with the
//! earlier message id.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use pythia::outbox::NewMessage;
use pythia::webhook::dispatch::{QueueError, WebhookQueue};
use serde::Deserialize;
use serde_json::{json, Value};

use super::routing::Endpoints;

/// What the ingest handlers share.
#[derive(Clone)]
pub(crate) struct IngestState {
    /// The dispatcher's queue: enqueues durably and wakes the dispatcher.
    pub(crate) queue: WebhookQueue,
    pub(crate) endpoints: Arc<Endpoints>,
    pub(crate) token: Option<Arc<str>>,
    /// Set when shutdown starts: every request then gets `503`.
    pub(crate) draining: Arc<AtomicBool>,
}

impl std::fmt::Debug for IngestState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestState")
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

/// The router of the ingest listener.
pub(crate) fn router(state: IngestState, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/v1/messages", post(accept))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IngestRequest {
    endpoint: Option<String>,
    endpoints: Option<Vec<String>>,
    event_type: Option<String>,
    payload: Option<Value>,
    id: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

async fn accept(
    State(state): State<IngestState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if state.draining.load(Ordering::Acquire) {
        return reject(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the daemon is shutting down",
        );
    }
    if let Some(token) = &state.token {
        if !authorized(&headers, token) {
            return reject(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing or wrong bearer token",
            );
        }
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return reject(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "the request body is over the size limit",
            );
        }
        Err(rejection) => {
            return reject(StatusCode::BAD_REQUEST, "bad_body", &rejection.body_text())
        }
    };

    let request: IngestRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return reject(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                &format!("invalid request: {e}"),
            )
        }
    };
    let messages = match build_messages(&state.endpoints, request) {
        Ok(messages) => messages,
        Err(message) => return reject(StatusCode::BAD_REQUEST, "invalid_request", &message),
    };

    let count = messages.len();
    let endpoints: Vec<String> = messages.iter().map(|m| m.endpoint.clone()).collect();
    let result = if count == 1 {
        let message = messages.into_iter().next().expect("one message");
        state.queue.enqueue(message).await.map(|done| vec![done])
    } else {
        state.queue.enqueue_batch(messages).await
    };
    match result {
        Ok(done) => {
            metrics::counter!("pythia_ingest_accepted_total").increment(count as u64);
            let duplicate = done.iter().all(|d| d.duplicate);
            let listed: Vec<Value> = done
                .iter()
                .zip(&endpoints)
                .map(|(d, endpoint)| {
                    json!({"endpoint": endpoint, "id": d.id, "duplicate": d.duplicate})
                })
                .collect();
            let id = done.first().map(|d| d.id.clone()).unwrap_or_default();
            (
                StatusCode::ACCEPTED,
                Json(json!({"id": id, "duplicate": duplicate, "messages": listed})),
            )
                .into_response()
        }
        Err(QueueError::UnknownEndpoint(name)) => reject(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("unknown endpoint `{name}`"),
        ),
        Err(QueueError::PayloadTooLarge { .. }) => reject(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "the payload is over the size limit",
        ),
        Err(error) => outbox_unavailable(&error),
    }
}

/// The answer to a storage failure: `503` with `Retry-After`, counted once (by [`reject`],
/// as `reason="outbox_unavailable"`).
fn outbox_unavailable(error: &QueueError) -> Response {
    tracing::error!(
        %error,
        "ingest could not store a message; the client was told to retry"
    );
    let mut response = reject(
        StatusCode::SERVICE_UNAVAILABLE,
        "outbox_unavailable",
        "the outbox cannot store the message now; retry",
    );
    response
        .headers_mut()
        .insert("retry-after", HeaderValue::from_static("1"));
    response
}

/// One outbox message per target endpoint.
fn build_messages(
    endpoints: &Endpoints,
    request: IngestRequest,
) -> Result<Vec<NewMessage>, String> {
    let payload = request.payload.ok_or("`payload` is required")?;
    let targets: Vec<String> = match (request.endpoint, request.endpoints, &request.event_type) {
        (Some(one), None, _) => vec![one],
        (None, Some(many), _) if !many.is_empty() => many,
        (None, None, Some(event_type)) => {
            let subscribed = endpoints.subscribed_to(event_type);
            if subscribed.is_empty() {
                return Err(format!(
                    "no endpoint subscribes to event type `{event_type}`"
                ));
            }
            subscribed
        }
        (Some(_), Some(_), _) => return Err("give `endpoint` or `endpoints`, not both".into()),
        _ => return Err("name an `endpoint`, `endpoints` or an `event_type`".into()),
    };
    for target in &targets {
        if !endpoints.contains(target) {
            return Err(format!("unknown endpoint `{target}`"));
        }
    }
    if let Some(id) = &request.id {
        if id.is_empty() || id.len() > 256 {
            return Err("`id` must be 1 to 256 characters".into());
        }
    }
    check_headers(&request.headers)?;

    let bytes = Bytes::from(serde_json::to_vec(&payload).map_err(|e| e.to_string())?);
    let mut seen = std::collections::HashSet::new();
    Ok(targets
        .into_iter()
        .filter(|target| seen.insert(target.clone()))
        .map(|target| {
            let mut message = NewMessage::new(target.clone(), bytes.clone());
            message.headers = request
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if let Some(id) = &request.id {
                message = message.idempotency_key(format!("ingest:{target}:{id}"));
            }
            if let Some(event_type) = &request.event_type {
                message = message.event_type(event_type.clone());
            }
            message
        })
        .collect())
}

/// Refuses a header that could never be sent, so the message is not accepted only to end as
/// a dead letter. The value is never quoted: it may be a credential.
fn check_headers(headers: &BTreeMap<String, String>) -> Result<(), String> {
    for (name, value) in headers {
        let shown: String = name.escape_default().take(64).collect();
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(format!("`headers`: `{shown}` is not a valid header name"));
        }
        if HeaderValue::from_str(value).is_err() {
            return Err(format!(
                "`headers`: the value of `{shown}` is not a valid header value"
            ));
        }
    }
    Ok(())
}

/// Compares the bearer token in constant time.
fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
    else {
        return false;
    };
    let (given, token) = (given.trim().as_bytes(), token.as_bytes());
    let mut difference = given.len() ^ token.len();
    for (at, byte) in token.iter().enumerate() {
        difference |= usize::from(given.get(at).copied().unwrap_or(0) ^ byte);
    }
    difference == 0
}

fn reject(status: StatusCode, code: &'static str, message: &str) -> Response {
    metrics::counter!("pythia_ingest_rejected_total", "reason" => code).increment(1);
    tracing::debug!(status = status.as_u16(), code, "ingest request rejected");
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_storage_failure_counts_once_under_one_reason() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let error = QueueError::Outbox(pythia::outbox::OutboxError::Open {
            location: "x".into(),
            reason: "gone".into(),
        });

        let response = metrics::with_local_recorder(&recorder, || outbox_unavailable(&error));

        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let rejected: Vec<String> = handle
            .render()
            .lines()
            .filter(|line| line.starts_with("pythia_ingest_rejected_total"))
            .map(str::to_owned)
            .collect();
        assert_eq!(
            rejected,
            ["pythia_ingest_rejected_total{reason=\"outbox_unavailable\"} 1"]
        );
    }

    #[test]
    fn the_token_must_match_exactly() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer s3cret".parse().unwrap());

        assert!(authorized(&headers, "s3cret"));
        assert!(!authorized(&headers, "s3cre"));
        assert!(!authorized(&headers, "s3cret!"));
        assert!(!authorized(&HeaderMap::new(), "s3cret"));
    }
}
