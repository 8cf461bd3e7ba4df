//! Turning a response into messages and handing them to the handler.

use std::panic::AssertUnwindSafe;

use chrono::Utc;
use futures::FutureExt;
use serde_json::Value;

use super::observe;
use super::redact::redact_url;
use super::stats::PollerStats;
use super::target::Target;
use crate::http::Response;
use crate::message::new_message_id;
use crate::{Body, Headers, Message, Metadata};

/// The items of one page, and how many there are for pagination: the extractor's items of a
/// JSON body (none of an empty one), or else the body itself, empty or not (counting the
/// elements of a JSON array).
pub(crate) fn items(target: &Target, body: Body) -> (Vec<Body>, usize) {
    match (&target.extractor, body) {
        (Some(extractor), Body::Json(value)) => {
            let items: Vec<Body> = extractor
                .extract(&value)
                .into_iter()
                .map(Body::Json)
                .collect();
            let count = items.len();
            (items, count)
        }
        (Some(_), Body::Empty) => (Vec::new(), 0),
        (_, body) => {
            // Every response is a message, an empty one (a 204) included.
            let count = match &body {
                Body::Json(Value::Array(items)) => items.len(),
                Body::Empty => 0,
                _ => 1,
            };
            (vec![body], count)
        }
    }
}

/// The response headers plus the synthetic `status_code` and `response_time` (milliseconds).
pub(crate) fn response_headers(response: &Response) -> Headers {
    let mut headers = Headers::from(response.headers());
    headers.insert("status_code", response.status().as_u16().to_string());
    let millis = response.elapsed().as_secs_f64() * 1000.0;
    headers.insert("response_time", format!("{millis:.3}"));
    headers
}

/// Hands one item to the handler unless its key was seen before; `true` when a new key was
/// remembered (the state changed).
pub(crate) async fn deliver(
    target: &Target,
    stats: &PollerStats,
    body: Body,
    headers: &Headers,
    response: &Response,
) -> bool {
    let mut remembered = false;
    if let (Some(dedup), Body::Json(value)) = (&target.dedup, &body) {
        if let Some(key) = dedup.key_of(value) {
            let fresh = target.live.memory.lock().seen.insert(key, dedup.max_keys());
            if !fresh {
                observe::duplicate(target, stats);
                return false;
            }
            remembered = true;
        }
    }

    let message = Message {
        id: new_message_id(),
        body,
        headers: headers.clone(),
        timestamp: Utc::now(),
        meta: Metadata {
            status_code: Some(response.status().as_u16()),
            response_time: Some(response.elapsed()),
            url: Some(redact_url(response.url())),
            attempt: None,
            origin: Some(target.name.to_string()),
        },
    };
    observe::item(target, stats);
    let outcome = AssertUnwindSafe(target.handler.process_message(message))
        .catch_unwind()
        .await;
    match outcome {
        Ok(Ok(outcome)) => observe::handled(target, &outcome),
        Ok(Err(error)) => observe::handler_error(target, stats, &error.to_string()),
        Err(_) => observe::handler_error(target, stats, "the handler panicked"),
    }
    remembered
}
