//! What a poller hands its messages to.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;

use crate::{BoxError, Message};

/// What a handler reports about one message.
///
/// The poller counts outcomes; it never stops on one. The Python framework's handlers return a
/// free-form dictionary, which is [`Outcome::Report`] here.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Outcome {
    /// The message was handled.
    Processed,
    /// The handler looked at the message and chose to do nothing with it.
    Ignored,
    /// The message was handled, with a report (as the Python handlers return a dictionary).
    Report(serde_json::Value),
}

/// Handles each message a poller produces: the Rust form of subclassing the Python
/// `PollerWorker` and overriding `process_message`.
///
/// A handler error is logged and counted (`pythia_poller_handler_errors_total`) and never stops
/// the poller; a panic inside a handler is caught and treated as an error. Polls of different
/// targets run concurrently, so a handler shared by several targets takes `&self`; keep state in
/// atomics or a lock.
///
/// ```
/// use async_trait::async_trait;
/// use pythia::poller::{Handler, Outcome};
/// use pythia::{BoxError, Message};
///
/// #[derive(Debug)]
/// struct PaymentStatus;
///
/// #[async_trait]
/// impl Handler for PaymentStatus {
///     async fn process_message(&self, message: Message) -> Result<Outcome, BoxError> {
///         let status = message.body.get("status").and_then(|s| s.as_str());
///         Ok(match status {
///             Some("completed") => Outcome::Processed,
///             _ => Outcome::Ignored,
///         })
///     }
/// }
/// ```
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Handles one message: one response, or one item that an extractor pulled out of it.
    async fn process_message(&self, message: Message) -> Result<Outcome, BoxError>;
}

#[async_trait]
impl<H: Handler + ?Sized> Handler for Arc<H> {
    async fn process_message(&self, message: Message) -> Result<Outcome, BoxError> {
        (**self).process_message(message).await
    }
}

/// A [`Handler`] made from an async closure, see [`handler_fn`].
pub struct HandlerFn<F> {
    f: F,
}

impl<F> fmt::Debug for HandlerFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerFn").finish_non_exhaustive()
    }
}

/// Makes a [`Handler`] from a closure that takes a [`Message`] and returns a future.
///
/// ```
/// use pythia::poller::{handler_fn, Outcome};
///
/// let handler = handler_fn(|message: pythia::Message| async move {
///     println!("status {:?}", message.status_code());
///     Ok(Outcome::Processed)
/// });
/// # let _ = handler;
/// ```
pub fn handler_fn<F, Fut>(f: F) -> HandlerFn<F>
where
    F: Fn(Message) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Outcome, BoxError>> + Send + 'static,
{
    HandlerFn { f }
}

#[async_trait]
impl<F, Fut> Handler for HandlerFn<F>
where
    F: Fn(Message) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Outcome, BoxError>> + Send + 'static,
{
    async fn process_message(&self, message: Message) -> Result<Outcome, BoxError> {
        (self.f)(message).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn closure_handlers_see_the_message_and_return_its_outcome() {
        let handler = handler_fn(|message: Message| async move {
            Ok(Outcome::Report(
                json!({"status": message.body.get("status")}),
            ))
        });

        let outcome = handler
            .process_message(Message::json(json!({"status": "completed"})))
            .await
            .unwrap();

        assert_eq!(outcome, Outcome::Report(json!({"status": "completed"})));
    }

    #[tokio::test]
    async fn closure_handler_errors_reach_the_caller() {
        let handler =
            handler_fn(|_message: Message| async move { Err::<Outcome, BoxError>("boom".into()) });

        let result = handler.process_message(Message::json(json!(1))).await;

        assert_eq!(result.unwrap_err().to_string(), "boom");
    }
}
