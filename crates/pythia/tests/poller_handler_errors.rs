//! A handler that fails or panics is counted and never stops the poller.

#[path = "poller_support/mod.rs"]
mod support;

use std::time::Duration;

use pythia::poller::{Outcome, Poller};
use pythia::{BoxError, Message};
use pythia_testkit::{Reply, Route, TestServer};
use serde_json::json;
use support::{after, config, Running};

#[tokio::test(start_paused = true)]
async fn handler_errors_and_panics_are_counted_and_polling_goes_on() {
    let server = TestServer::start().await;
    server.route(
        "/jobs",
        Route::sequence(vec![
            Reply::ok().json(json!({"do": "fail"})),
            Reply::ok().json(json!({"do": "panic"})),
            Reply::ok().json(json!({"do": "work"})),
        ]),
    );
    let poller = Poller::builder(config(&server.url("/jobs"), Duration::from_secs(10)))
        .handler_fn(|message: Message| async move {
            match message.body.get("do").and_then(|v| v.as_str()) {
                Some("fail") => Err::<Outcome, BoxError>("cannot handle this".into()),
                Some("panic") => panic!("handler bug"),
                _ => Ok(Outcome::Processed),
            }
        })
        .build()
        .unwrap();
    let stats = poller.stats();

    let running = Running::start(poller);
    after(Duration::from_secs(25)).await;
    let healthy = running.health.get().healthy;
    running.stop().await;

    assert_eq!(server.hits("/jobs"), 3);
    assert_eq!(stats.snapshot().handler_errors, 2);
    assert_eq!(stats.snapshot().items, 3);
    assert_eq!(stats.snapshot().polls_ok, 3);
    assert!(healthy);
}
