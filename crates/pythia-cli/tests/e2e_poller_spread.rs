//! Pollers start at a stable offset inside their interval (never all at once), unless
//! `spread = false`.

mod common;

use std::time::Duration;

use common::{write, Daemon};
use pythia_testkit::{Reply, Route, TestServer};

const INTERVAL: Duration = Duration::from_secs(6);

#[tokio::test]
async fn a_spread_poller_waits_for_its_offset_and_an_opted_out_one_polls_at_once() {
    // A name whose offset is well inside the interval, so "at once" and "at its offset" are
    // seconds apart.
    let name = (0..1000)
        .map(|n| format!("spread-{n}"))
        .find(|name| {
            let offset = pythia::poller::spread_offset(name, INTERVAL);
            offset > Duration::from_secs(3) && offset < Duration::from_secs(5)
        })
        .expect("some name has an offset of 3 to 5 s");
    let server = TestServer::start().await;
    server.route("/at-once", Route::reply(Reply::ok()));
    server.route("/spread", Route::reply(Reply::ok()));
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"[outbox]
path = "{outbox}"
[http]
allow_private_networks = true
[[poller]]
name = "at-once"
url = "{at_once}"
interval = "6s"
spread = false
sink = {{ file = "at-once.jsonl" }}
[[poller]]
name = "{name}"
url = "{spread}"
interval = "6s"
sink = {{ file = "spread.jsonl" }}
"#,
        outbox = dir.path().join("outbox.db").display(),
        at_once = server.url("/at-once"),
        spread = server.url("/spread"),
    );
    let path = write(dir.path(), "pythia.toml", &config);

    let _daemon = Daemon::start(&path, dir.path());
    tokio::time::timeout(Duration::from_secs(2), server.wait_for_hits("/at-once", 1))
        .await
        .expect("the opted-out poller polls at once");
    let spread_early = server.hits("/spread");
    tokio::time::timeout(Duration::from_secs(10), server.wait_for_hits("/spread", 1))
        .await
        .expect("the spread poller polls within its interval");

    assert_eq!(spread_early, 0, "the spread poller waited for its offset");
}
