//! [`WebhookSender::broadcast`]: one payload to many endpoints at once.

use futures::stream::{FuturesUnordered, StreamExt};
use tokio_util::sync::CancellationToken;

use super::outcome::{BroadcastOutcome, ErrorClass, Outcome};
use super::payload::Payload;
use super::sender::{header_map, WebhookSender};
use crate::message::new_message_id;

impl WebhookSender {
    /// Sends one payload to every endpoint concurrently, each with its own retries, breaker,
    /// rate limit and concurrency limit, and returns one outcome per endpoint in the order
    /// given. Every endpoint gets the same `webhook-id`.
    ///
    /// With `fail_fast`, the first endpoint that finally fails (its retries spent, or a failure
    /// that no retry fixes) cancels the deliveries still running; they come back with
    /// [`ErrorClass::Cancelled`]. Deliveries already done stay done.
    pub async fn broadcast<I, S>(
        &self,
        endpoints: I,
        payload: impl Into<Payload>,
        headers: &[(&str, &str)],
        fail_fast: bool,
    ) -> BroadcastOutcome
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let payload = payload.into();
        let id = new_message_id();
        let endpoints: Vec<S> = endpoints.into_iter().collect();
        let extra = match header_map(headers.iter().copied()) {
            Ok(extra) => extra,
            Err(error) => {
                let outcomes = endpoints
                    .iter()
                    .map(|endpoint| {
                        Outcome::new(endpoint.as_ref(), &id)
                            .failed(ErrorClass::InvalidRequest, error.clone())
                    })
                    .collect();
                return BroadcastOutcome { outcomes };
            }
        };

        let cancel = CancellationToken::new();
        let mut running: FuturesUnordered<_> = endpoints
            .iter()
            .enumerate()
            .map(|(index, endpoint)| {
                let (payload, extra, id, cancel) = (&payload, &extra, &id, &cancel);
                async move {
                    let outcome = self
                        .deliver(endpoint.as_ref(), id.clone(), payload, extra, Some(cancel))
                        .await;
                    (index, outcome)
                }
            })
            .collect();

        let mut slots: Vec<Option<Outcome>> = vec![None; endpoints.len()];
        while let Some((index, outcome)) = running.next().await {
            if fail_fast && !outcome.is_delivered() && !cancel.is_cancelled() {
                tracing::debug!(endpoint = %outcome.endpoint(), "broadcast failing fast");
                cancel.cancel();
            }
            slots[index] = Some(outcome);
        }
        let outcomes = slots.into_iter().flatten().collect();
        BroadcastOutcome { outcomes }
    }
}
