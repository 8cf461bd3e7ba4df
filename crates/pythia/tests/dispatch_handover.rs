//! A webhook handed from a dispatcher's queue straight to its attempts is delivered even when
//! the caller stops waiting halfway: the hand-over finishes without it.
#![cfg(feature = "sqlite")]

use std::time::Duration;

use pythia::outbox::{Outbox, SqliteOutbox};
use pythia::webhook::dispatch::Dispatcher;
use pythia::webhook::{WebhookConfig, WebhookSender};
use pythia_testkit::{Reply, Route, TestServer};
use tokio_util::sync::CancellationToken;

/// A generous bound for a real-clock wait; the test fails rather than hangs.
const PATIENCE: Duration = Duration::from_secs(20);
const SENDS: usize = 50;

#[tokio::test]
async fn sends_abandoned_by_their_callers_are_still_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = SqliteOutbox::open(dir.path().join("outbox.db")).unwrap();
    let server = TestServer::start().await;
    server.route("/hook", Route::reply(Reply::ok()));
    let config = WebhookConfig::builder()
        .base_url(server.base_url())
        .secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        .endpoint("partner", "/hook")
        .build()
        .unwrap();
    let sender = WebhookSender::new(config).unwrap();
    let dispatcher = Dispatcher::builder(outbox.clone(), sender)
        .concurrency(4)
        .build();
    let queue = dispatcher.queue();
    let stop = CancellationToken::new();
    let running = tokio::spawn(dispatcher.run_until(stop.clone().cancelled_owned()));

    // Once the dispatcher runs, its queue hands fresh messages over.
    queue.send("partner", "{}").await.unwrap();
    tokio::time::timeout(PATIENCE, server.wait_for_hits("/hook", 1))
        .await
        .expect("the dispatcher runs");

    let mut abandoned = 0;
    for n in 0..SENDS {
        // Polled once (the message goes to the writer), then dropped while it waits.
        let mut send = std::pin::pin!(queue.send("partner", format!(r#"{{"n":{n}}}"#)));
        if futures::poll!(send.as_mut()).is_pending() {
            abandoned += 1;
        }
    }
    tokio::time::timeout(PATIENCE, server.wait_for_hits("/hook", SENDS + 1))
        .await
        .expect("every message is delivered, abandoned or not");
    tokio::time::timeout(PATIENCE, async {
        while outbox.stats(None).await.unwrap().depth() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("every delivery is acked");
    let after = queue.send("partner", "{}").await.unwrap();
    tokio::time::timeout(PATIENCE, server.wait_for_hits("/hook", SENDS + 2))
        .await
        .expect("the queue still hands over");
    stop.cancel();
    running.await.unwrap();

    assert_eq!(
        abandoned, SENDS,
        "a durable enqueue is never done at its first poll"
    );
    let requests = server.requests_to("/hook");
    assert_eq!(requests.len(), SENDS + 2, "each message once");
    assert_eq!(
        requests.last().unwrap().header("webhook-id"),
        Some(after.id.as_str())
    );
}
