//! Through a real SQLite file, a real `WebhookSender` and a real server: an idempotency key
//! enqueued twice is delivered once, a dead letter replayed is delivered with its id, and a
//! webhook handed from the dispatcher's queue straight to its attempts is delivered even when
//! the caller stops waiting halfway (the hand-over finishes without it).
#![cfg(feature = "sqlite")]

use std::time::Duration;

use pythia::outbox::{NewMessage, Outbox, Replay, SqliteOutbox};
use pythia::webhook::dispatch::{Dispatcher, WebhookQueue};
use pythia::webhook::{WebhookConfig, WebhookSender};
use pythia_testkit::{Reply, Route, TestServer};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A generous bound for a real-clock wait; the test fails rather than hangs.
const PATIENCE: Duration = Duration::from_secs(20);
/// Sends abandoned by their callers in the hand-over test.
const SENDS: usize = 50;

fn sender_for(server: &TestServer) -> WebhookSender {
    let config = WebhookConfig::builder()
        .base_url(server.base_url())
        .secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        .endpoint("partner", "/hook")
        .build()
        .unwrap();
    WebhookSender::new(config).unwrap()
}

/// A dispatcher delivering from a fresh SQLite outbox to `/hook` of a test server.
struct Delivering {
    _dir: tempfile::TempDir,
    outbox: SqliteOutbox,
    server: TestServer,
    queue: WebhookQueue,
    stop: CancellationToken,
    running: JoinHandle<()>,
}

impl Delivering {
    /// Starts it with `/hook` answering by `route`, and `concurrency` attempts at once if set.
    async fn start(route: Route, concurrency: Option<usize>) -> Delivering {
        let dir = tempfile::tempdir().unwrap();
        let outbox = SqliteOutbox::open(dir.path().join("outbox.db")).unwrap();
        let server = TestServer::start().await;
        server.route("/hook", route);
        let mut builder = Dispatcher::builder(outbox.clone(), sender_for(&server));
        if let Some(limit) = concurrency {
            builder = builder.concurrency(limit);
        }
        let dispatcher = builder.build();
        let queue = dispatcher.queue();
        let stop = CancellationToken::new();
        let running = tokio::spawn(dispatcher.run_until(stop.clone().cancelled_owned()));
        Delivering {
            _dir: dir,
            outbox,
            server,
            queue,
            stop,
            running,
        }
    }

    /// Stops the dispatcher and waits for it to finish.
    async fn stop(&mut self) {
        self.stop.cancel();
        (&mut self.running).await.unwrap();
    }
}

async fn until(mut done: impl AsyncFnMut() -> bool) {
    tokio::time::timeout(PATIENCE, async {
        while !done().await {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("condition not met in time");
}

#[tokio::test]
async fn an_idempotency_key_enqueued_twice_is_delivered_once() {
    let mut run = Delivering::start(Route::reply(Reply::ok()), None).await;
    let (outbox, server, queue) = (&run.outbox, &run.server, &run.queue);

    let message = || NewMessage::new("partner", r#"{"order":1}"#).idempotency_key("order-1");
    let first = queue.enqueue(message()).await.unwrap();
    let second = queue.enqueue(message()).await.unwrap();
    tokio::time::timeout(PATIENCE, server.wait_for_hits("/hook", 1))
        .await
        .unwrap();
    until(async || outbox.stats(None).await.unwrap().depth() == 0).await;
    let third = queue.enqueue(message()).await.unwrap();
    run.stop().await;
    let server = &run.server;

    assert!(!first.duplicate);
    assert!(second.duplicate);
    assert!(third.duplicate, "a delivered key is remembered");
    assert_eq!(second.id, first.id);
    let requests = server.requests_to("/hook");
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].header("webhook-id"), Some(first.id.as_str()));
}

#[tokio::test]
async fn a_dead_letter_replayed_is_delivered_with_its_id() {
    let route = Route::sequence(vec![Reply::status(400), Reply::ok()]);
    let mut run = Delivering::start(route, None).await;
    let (outbox, server, queue) = (&run.outbox, &run.server, &run.queue);

    let enqueued = queue.send("partner", r#"{"order":2}"#).await.unwrap();
    until(async || outbox.stats(None).await.unwrap().dead == 1).await;
    let dead = outbox.dead_letters(10).await.unwrap();
    let replayed = outbox
        .replay(Replay::Ids(vec![enqueued.id.clone()]))
        .await
        .unwrap();
    tokio::time::timeout(PATIENCE, server.wait_for_hits("/hook", 2))
        .await
        .unwrap();
    until(async || outbox.stats(None).await.unwrap().depth() == 0).await;
    run.stop().await;
    let (outbox, server) = (&run.outbox, &run.server);

    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].message.id, enqueued.id);
    assert!(dead[0].reason.contains("400"), "reason: {}", dead[0].reason);
    assert_eq!(replayed, 1);
    let ids: Vec<_> = server
        .requests_to("/hook")
        .iter()
        .map(|r| r.header("webhook-id").unwrap().to_owned())
        .collect();
    assert_eq!(ids, vec![enqueued.id.clone(), enqueued.id]);
    assert_eq!(outbox.stats(None).await.unwrap().dead, 0);
}

#[tokio::test]
async fn sends_abandoned_by_their_callers_are_still_delivered() {
    let mut run = Delivering::start(Route::reply(Reply::ok()), Some(4)).await;
    let (outbox, server, queue) = (&run.outbox, &run.server, &run.queue);

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
    until(async || outbox.stats(None).await.unwrap().depth() == 0).await;
    let after = queue.send("partner", "{}").await.unwrap();
    tokio::time::timeout(PATIENCE, server.wait_for_hits("/hook", SENDS + 2))
        .await
        .expect("the queue still hands over");
    run.stop().await;
    let server = &run.server;

    assert!(
        abandoned > SENDS / 2,
        "only {abandoned} sends were still waiting for the disk when dropped"
    );
    let requests = server.requests_to("/hook");
    assert_eq!(requests.len(), SENDS + 2, "each message once");
    assert_eq!(
        requests.last().unwrap().header("webhook-id"),
        Some(after.id.as_str())
    );
}
