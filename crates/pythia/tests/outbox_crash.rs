//! The SQLite outbox survives a process killed with SIGKILL mid-delivery: every message whose
//! `enqueue` returned is delivered once the process restarts, and the attempts that were in
//! flight at the kill come again with the same `webhook-id`.
//!
//! The test binary plays both roles: the test runs a real server and starts this same binary
//! as a child process (the ignored `child_process_role` test, selected by an environment
//! variable), which enqueues into the SQLite file and dispatches to the server.
#![cfg(all(feature = "sqlite", unix))]

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pythia::outbox::{NewMessage, Outbox, SqliteOutbox};
use pythia::webhook::dispatch::Dispatcher;
use pythia::webhook::{WebhookConfig, WebhookSender};
use pythia_testkit::{Reply, Route, TestServer};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const ROLE: &str = "PYTHIA_OUTBOX_CRASH_ROLE";
const DB: &str = "PYTHIA_OUTBOX_CRASH_DB";
const BASE_URL: &str = "PYTHIA_OUTBOX_CRASH_URL";
/// How many messages the first child tries to enqueue (it is killed well before the end).
const MESSAGES: usize = 1000;
/// The first requests the server never answers: they are in flight when the child dies.
const HANGING: usize = 3;
/// A generous bound for each real-clock wait; the test fails rather than hangs.
const PATIENCE: Duration = Duration::from_secs(60);

fn spawn_child(role: &str, db: &std::path::Path, base_url: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["child_process_role", "--exact", "--ignored", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(ROLE, role)
        .env(DB, db)
        .env(BASE_URL, base_url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_accepted_message_is_delivered_after_a_sigkill_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("outbox.db");
    let server = TestServer::start().await;
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&seen);
    server.route(
        "/hook",
        Route::from_fn(move |_| {
            if counter.fetch_add(1, Ordering::SeqCst) < HANGING {
                Reply::hang()
            } else {
                Reply::ok().delay(Duration::from_millis(5))
            }
        }),
    );

    // The first life: enqueue and dispatch until killed mid-way.
    let mut first = spawn_child("enqueue", &db, server.base_url());
    let mut lines = BufReader::new(first.stdout.take().unwrap()).lines();
    let mut accepted = BTreeSet::new();
    tokio::time::timeout(PATIENCE, async {
        while accepted.len() < MESSAGES / 4 || server.hits("/hook") < HANGING + 20 {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("child exited early");
            if let Some(id) = line.strip_prefix("accepted ") {
                accepted.insert(id.to_owned());
            }
        }
    })
    .await
    .expect("the first child made no progress");
    first.start_kill().unwrap(); // SIGKILL
    let status = first.wait().await.unwrap();
    while let Some(line) = lines.next_line().await.unwrap() {
        if let Some(id) = line.strip_prefix("accepted ") {
            accepted.insert(id.to_owned());
        }
    }
    let in_flight_at_kill: Vec<String> = server.requests_to("/hook")[..HANGING]
        .iter()
        .map(|r| r.header("webhook-id").unwrap().to_owned())
        .collect();

    // The second life: only dispatch, until the outbox is empty.
    let mut second = spawn_child("resume", &db, server.base_url());
    let exit = tokio::time::timeout(PATIENCE, second.wait())
        .await
        .expect("the restarted child did not drain the outbox")
        .unwrap();

    let mut received: BTreeMap<String, usize> = BTreeMap::new();
    for request in server.requests_to("/hook") {
        let id = request.header("webhook-id").unwrap().to_owned();
        assert_eq!(
            request.json().unwrap()["id"],
            id.as_str(),
            "body matches its id"
        );
        *received.entry(id).or_default() += 1;
    }
    let outbox = SqliteOutbox::open(&db).unwrap();
    let stats = outbox.stats(None).await.unwrap();
    assert!(
        !status.success(),
        "the first child was killed, not finished"
    );
    assert!(
        accepted.len() < MESSAGES,
        "killed before enqueueing everything"
    );
    assert!(exit.success(), "the restarted child drained the outbox");
    let lost: Vec<&String> = accepted
        .iter()
        .filter(|id| !received.contains_key(*id))
        .collect();
    assert!(lost.is_empty(), "accepted but never delivered: {lost:?}");
    for id in &in_flight_at_kill {
        assert!(
            received[id] >= 2,
            "{id} in flight at the kill is sent again"
        );
    }
    assert_eq!(stats.depth(), 0);
    assert_eq!(stats.dead, 0);
}

/// The child process. Run only by the test above, with its environment variables set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the child process of every_accepted_message_is_delivered_after_a_sigkill..."]
async fn child_process_role() {
    let role = std::env::var(ROLE).expect("run only by the kill test");
    let db = std::env::var(DB).unwrap();
    let base_url = std::env::var(BASE_URL).unwrap();
    let outbox = SqliteOutbox::open(&db).unwrap();
    let sender = WebhookSender::new(
        WebhookConfig::builder()
            .base_url(&base_url)
            .secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .endpoint("partner", "/hook")
            .timeout(Duration::from_secs(2))
            .circuit_breaker(None)
            .build()
            .unwrap(),
    )
    .unwrap();
    let dispatcher = Dispatcher::builder(outbox.clone(), sender)
        .concurrency(8)
        .lease(Duration::from_secs(1))
        .poll_interval(Duration::from_millis(20))
        .build();
    let queue = dispatcher.queue();
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(dispatcher.run_until(stop.clone().cancelled_owned()));

    if role == "enqueue" {
        for n in 0..MESSAGES {
            let id = format!("msg_crash_{n:04}");
            let body = serde_json::to_vec(&serde_json::json!({ "id": id })).unwrap();
            queue
                .enqueue(NewMessage::new("partner", body).id(id.clone()))
                .await
                .unwrap();
            // Printed only once `enqueue` returned: the message is accepted.
            println!("accepted {id}");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        std::future::pending::<()>().await;
    }

    while outbox.stats(None).await.unwrap().depth() > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    running.await.unwrap();
}
