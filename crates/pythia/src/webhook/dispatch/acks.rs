//! Acknowledgements in batches: one write stores every delivery acked while the previous write
//! was being stored, and an attempt's slot is free as soon as its delivery is queued here.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::settle::report_unsettled;
use crate::outbox::{Lease, Outbox};

/// The most acks stored in one write.
const MAX_BATCH: usize = 1024;

/// A delivered message waiting for its ack: its id, lease and endpoint.
pub(super) type Delivered = (String, Lease, String);

/// The ack writer of one dispatcher.
#[derive(Debug)]
pub(super) struct Acks {
    sender: mpsc::Sender<Delivered>,
    task: JoinHandle<()>,
}

impl Acks {
    /// Starts the writer; at most `pending` acks wait for it before attempts wait too.
    pub(super) fn start(outbox: Arc<dyn Outbox>, pending: usize) -> Self {
        let (sender, receiver) = mpsc::channel(pending.max(1));
        let task = tokio::spawn(write(outbox, receiver));
        Acks { sender, task }
    }

    /// Where attempts queue their deliveries.
    pub(super) fn sender(&self) -> mpsc::Sender<Delivered> {
        self.sender.clone()
    }

    /// Stores every ack still waiting, then stops. Attempts must be finished first: an ack
    /// queued after this has no writer (its message comes back when its lease ends).
    pub(super) async fn finish(self) {
        drop(self.sender);
        if let Err(error) = self.task.await {
            tracing::error!(%error, "the webhook ack writer failed");
        }
    }
}

async fn write(outbox: Arc<dyn Outbox>, mut receiver: mpsc::Receiver<Delivered>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let acks: Vec<(&str, &Lease)> = batch
            .iter()
            .map(|(id, lease, _)| (id.as_str(), lease))
            .collect();
        let results = outbox.ack_batch(&acks).await;
        metrics::histogram!("pythia_outbox_ack_batch_size").record(batch.len() as f64);
        for ((id, _, endpoint), result) in batch.iter().zip(results) {
            if let Err(error) = result {
                report_unsettled(endpoint, id, &error);
            }
        }
        batch.clear();
    }
}
