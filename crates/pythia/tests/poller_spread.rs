//! A group of 1,000 pollers on one interval spreads its polls evenly over the interval.

#[path = "poller_support/mod.rs"]
mod support;

use std::time::Duration;

use pythia::poller::{Poller, PollerGroup};
use pythia_testkit::{Reply, Route, TestServer};
use support::{after, config, Recorder, Running};

const INTERVAL: Duration = Duration::from_secs(60);
const POLLERS: usize = 1_000;

#[tokio::test(start_paused = true)]
async fn a_thousand_pollers_fill_each_tenth_of_the_interval_evenly() {
    let server = TestServer::start().await;
    server.route(
        "/inventory",
        Route::reply(Reply::ok().json(serde_json::json!([]))),
    );
    let recorder = Recorder::new();
    let targets = (0..POLLERS).map(|n| {
        Poller::builder(config(&server.url("/inventory"), INTERVAL))
            .name(format!("shop-{n}"))
            .handler(recorder.clone())
    });
    let group = PollerGroup::builder()
        .max_in_flight(64)
        .targets(targets)
        .build()
        .unwrap();
    let started = tokio::time::Instant::now();

    let running = Running::start(group);
    after(INTERVAL - Duration::from_millis(1)).await;
    running.stop().await;

    let mut tenths = [0usize; 10];
    for request in server.requests_to("/inventory") {
        let offset = request.at - started;
        tenths[(offset.as_secs_f64() / INTERVAL.as_secs_f64() * 10.0) as usize] += 1;
    }
    assert_eq!(tenths.iter().sum::<usize>(), POLLERS, "{tenths:?}");
    // An even spread puts 10% in each tenth; a hash spreads like a fair draw (one standard
    // deviation is about one point here), and no tenth strays by more than three points.
    for count in tenths {
        assert!((70..=130).contains(&count), "{tenths:?}");
    }
}
