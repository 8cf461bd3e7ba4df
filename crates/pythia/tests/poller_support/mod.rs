//! Shared pieces of the poller tests: a recording handler, and a worker run in the background
//! that a test stops when it has seen enough.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use pythia::poller::{Handler, Outcome, PollerConfig};
use pythia::runtime::{HealthHandle, HealthRegistry, ShutdownTrigger, Worker, WorkerContext};
use pythia::{BoxError, Message};
use tokio::task::JoinHandle;

/// Records every message it is given.
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    messages: Arc<Mutex<Vec<Message>>>,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder::default()
    }

    pub fn messages(&self) -> Vec<Message> {
        self.messages.lock().clone()
    }

    pub fn len(&self) -> usize {
        self.messages.lock().len()
    }

    /// The JSON bodies received, in order.
    pub fn bodies(&self) -> Vec<serde_json::Value> {
        self.messages
            .lock()
            .iter()
            .filter_map(|m| m.body.as_json().cloned())
            .collect()
    }
}

#[async_trait]
impl Handler for Recorder {
    async fn process_message(&self, message: Message) -> Result<Outcome, BoxError> {
        self.messages.lock().push(message);
        Ok(Outcome::Processed)
    }
}

/// A config for `url` with `interval`.
pub fn config(url: &str, interval: Duration) -> PollerConfig {
    PollerConfig::builder()
        .url(url)
        .interval(interval)
        .build()
        .unwrap()
}

/// A worker running in the background.
pub struct Running {
    trigger: ShutdownTrigger,
    task: JoinHandle<Result<(), BoxError>>,
    pub health: HealthHandle,
}

impl Running {
    pub fn start(mut worker: impl Worker) -> Running {
        let trigger = ShutdownTrigger::new();
        let health = HealthRegistry::new().register(worker.name());
        let ctx = WorkerContext::new(trigger.shutdown(), health.clone());
        let task = tokio::spawn(async move { worker.run(ctx).await });
        Running {
            trigger,
            task,
            health,
        }
    }

    /// Triggers shutdown and waits for the worker to drain and return.
    pub async fn stop(self) {
        self.trigger.trigger();
        self.task.await.unwrap().unwrap();
    }
}

/// Lets the paused clock run for `duration`.
pub async fn after(duration: Duration) {
    tokio::time::sleep(duration).await;
}
