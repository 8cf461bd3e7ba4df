//! The specification's `PaymentWebhookProcessor` ("Common Use Cases"): each payment event read
//! from stdin, one JSON object per line, goes to `/payments/completed` or `/payments/failed` by
//! its `status`; other statuses are ignored.
//!
//! ```text
//! cargo run -p pythia-cli -- listen --secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
//! echo '{"id":"pay_1","status":"completed","amount":42}' | \
//!     cargo run -p pythia --example webhook_payment_processor -- http://127.0.0.1:9000 \
//!     --allow-private
//! cargo run -p pythia --example webhook_payment_processor -- http://127.0.0.1:9000 \
//!     --allow-private --outbox payments.db < payments.jsonl
//! cargo run -p pythia-cli -- outbox --outbox payments.db stats
//! ```
//!
//! Without `--outbox`, each event is sent at once with in-memory retries, as in the
//! specification, and is lost if the process dies meanwhile. With `--outbox PATH`, each event is
//! first stored in a SQLite outbox and a dispatcher delivers from there, so a crash or Ctrl-C
//! loses nothing: what is still pending goes out on the next run with the same `webhook-id`.
//! Each event is stored under the idempotency key `<id>:<status>`, so feeding the same events
//! again after a crash sends none of them twice. At the end of the input the example waits until
//! the outbox is empty (a retryable failure is retried on the outbox's schedule, 5 s first, then
//! longer; Ctrl-C stops waiting and keeps it for the next run).
//!
//! `WEBHOOK_SECRET` signs the webhooks; without it the documented test secret above is used.
//! Loopback and private addresses are refused unless `--allow-private` is given. The exit status
//! is 1 when an event was not delivered (sent directly) or was dead-lettered (through the
//! outbox), or when a line was not a JSON object.

#[path = "webhook_common/mod.rs"]
mod common;

use std::io::BufRead;
use std::process::ExitCode;
use std::time::Duration;

use common::cli::Spec;
use pythia::outbox::{NewMessage, Outbox, SqliteOutbox};
use pythia::webhook::dispatch::{Dispatcher, WebhookQueue};
use pythia::webhook::WebhookSender;
use pythia::BoxError;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

static CLI: Spec = Spec {
    example: "webhook_payment_processor",
    positional: "base-url",
    switches: &[common::ALLOW_PRIVATE],
    options: &[("--outbox", "PATH")],
};

/// The endpoint of a payment event, by its status; `None` for a status nobody is told about.
fn endpoint_for(payment: &Value) -> Option<&'static str> {
    match payment.get("status").and_then(Value::as_str) {
        Some("completed") => Some("/payments/completed"),
        Some("failed") => Some("/payments/failed"),
        _ => None,
    }
}

/// The payment events of stdin, each line parsed; read on a thread of its own because stdin
/// blocks. A line that is not a JSON object comes as an error carrying its line number.
fn payment_events() -> mpsc::Receiver<Result<Value, usize>> {
    let (events, received) = mpsc::channel(64);
    std::thread::spawn(move || {
        for (index, line) in std::io::stdin().lock().lines().enumerate() {
            let Ok(line) = line else { break };
            if line.trim().is_empty() {
                continue;
            }
            let event = match serde_json::from_str::<Value>(&line) {
                Ok(payment) if payment.is_object() => Ok(payment),
                _ => Err(index + 1),
            };
            if events.blocking_send(event).is_err() {
                break;
            }
        }
    });
    received
}

/// `<id>:<status>`, when the event has an id: the same event fed twice is stored once.
fn idempotency_key(payment: &Value) -> Option<String> {
    let status = payment.get("status").and_then(Value::as_str)?;
    match payment.get("id")? {
        Value::String(id) => Some(format!("{id}:{status}")),
        Value::Number(id) => Some(format!("{id}:{status}")),
        _ => None,
    }
}

/// Sends each event at once, as the specification does.
#[derive(Debug)]
struct PaymentWebhookProcessor {
    sender: WebhookSender,
}

impl PaymentWebhookProcessor {
    /// Whether the event was delivered, or needed no webhook.
    async fn process_payment_event(&self, payment: Value) -> bool {
        let Some(endpoint) = endpoint_for(&payment) else {
            tracing::info!(payment_id = ?payment.get("id"), "payment event needs no webhook");
            return true;
        };
        let outcome = self.sender.send(endpoint, payment, &[]).await;
        common::report(&outcome);
        outcome.is_delivered()
    }
}

/// Stores each event in the outbox; the dispatcher sends it.
#[derive(Debug)]
struct DurablePaymentWebhookProcessor {
    queue: WebhookQueue,
}

impl DurablePaymentWebhookProcessor {
    /// Whether the event is durably queued (or needed no webhook).
    async fn process_payment_event(&self, payment: Value) -> bool {
        let Some(endpoint) = endpoint_for(&payment) else {
            tracing::info!(payment_id = ?payment.get("id"), "payment event needs no webhook");
            return true;
        };
        let mut message = NewMessage::new(endpoint, payment.to_string());
        if let Some(key) = idempotency_key(&payment) {
            message = message.idempotency_key(key);
        }
        match self.queue.enqueue(message).await {
            Ok(enqueued) => {
                let state = if enqueued.duplicate {
                    "duplicate"
                } else {
                    "queued"
                };
                println!("{endpoint} {state} id={}", enqueued.id);
                true
            }
            Err(error) => {
                tracing::error!(endpoint, %error, "payment webhook not queued");
                false
            }
        }
    }
}

/// Sends every event at once; returns whether all were delivered.
async fn send_directly(sender: WebhookSender) -> bool {
    let processor = PaymentWebhookProcessor { sender };
    let mut events = payment_events();
    let mut all_ok = true;
    while let Some(event) = events.recv().await {
        all_ok &= match event {
            Ok(payment) => processor.process_payment_event(payment).await,
            Err(line) => invalid(line),
        };
    }
    all_ok
}

/// Queues every event in the outbox at `path` and lets the dispatcher deliver them until the
/// outbox is empty or Ctrl-C; returns whether everything was queued and nothing died.
async fn send_durably(sender: WebhookSender, path: &str) -> Result<bool, BoxError> {
    let outbox = SqliteOutbox::open(path)?;
    let dead_before = outbox.stats(None).await?.dead;
    let dispatcher = Dispatcher::builder(outbox.clone(), sender)
        .name("payment-webhooks")
        .build();
    let processor = DurablePaymentWebhookProcessor {
        queue: dispatcher.queue(),
    };
    let stop = CancellationToken::new();
    let dispatching = tokio::spawn(dispatcher.run_until(stop.clone().cancelled_owned()));
    let interrupt = ctrl_c();

    let mut all_ok = true;
    let mut events = payment_events();
    loop {
        let event = tokio::select! {
            () = interrupt.cancelled() => break,
            event = events.recv() => event,
        };
        all_ok &= match event {
            Some(Ok(payment)) => processor.process_payment_event(payment).await,
            Some(Err(line)) => invalid(line),
            None => break,
        };
    }
    tokio::select! {
        () = interrupt.cancelled() => {}
        result = drained(&outbox) => result?,
    }
    stop.cancel();
    dispatching.await?;

    let stats = outbox.stats(None).await?;
    if interrupt.is_cancelled() {
        tracing::info!(
            path,
            pending = stats.depth(),
            "stopped; pending webhooks stay queued"
        );
    }
    let died = stats.dead.saturating_sub(dead_before);
    if died > 0 {
        tracing::error!(
            path,
            dead_letters = died,
            "payment webhooks were dead-lettered"
        );
    }
    Ok(all_ok && died == 0)
}

/// A token cancelled by the first Ctrl-C.
fn ctrl_c() -> CancellationToken {
    let interrupt = CancellationToken::new();
    let cancel = interrupt.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            cancel.cancel();
        }
    });
    interrupt
}

/// Returns once the outbox holds nothing pending or in flight.
async fn drained(outbox: &SqliteOutbox) -> Result<(), BoxError> {
    let mut check = tokio::time::interval(Duration::from_millis(100));
    loop {
        check.tick().await;
        if outbox.stats(None).await?.depth() == 0 {
            return Ok(());
        }
    }
}

fn invalid(line: usize) -> bool {
    tracing::error!(line, "input line is not a json object, skipped");
    false
}

#[tokio::main]
async fn main() -> Result<ExitCode, BoxError> {
    common::init_logging();
    let args = CLI.parse();
    let sender = WebhookSender::new(common::config(&args).build()?)?;

    let all_ok = match args.value("--outbox") {
        Some(path) => send_durably(sender, path).await?,
        None => send_directly(sender).await,
    };
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
