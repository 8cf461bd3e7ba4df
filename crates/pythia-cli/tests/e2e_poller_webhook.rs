//! A `[[poller]]` whose sink is a webhook endpoint: every extracted item arrives at the
//! endpoint, signed, through the outbox; `/status` shows the poller's last poll and next tick.

mod common;

use std::time::Duration;

use common::{write, Daemon};
use pythia::webhook::Verifier;
use pythia_testkit::{Reply, Route, TestServer};
use serde_json::{json, Value};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[tokio::test]
async fn polled_items_arrive_signed_at_the_webhook_endpoint() {
    let server = TestServer::start().await;
    server.route(
        "/status",
        Route::reply(Reply::ok().json(json!({"events": [{"id": "a"}, {"id": "b"}]}))),
    );
    server.route("/hooks", Route::reply(Reply::ok()));
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"[admin]
bind = "127.0.0.1:0"
[outbox]
path = "{outbox}"
[http]
allow_private_networks = true
[[endpoint]]
name = "orders"
url = "{hooks}"
secrets = ["{SECRET}"]
[[poller]]
name = "payments"
url = "{status}"
interval = "1h"
spread = false
extract = "/events"
dedup_key = "/id"
sink = {{ webhook = ["orders"] }}
"#,
        outbox = dir.path().join("outbox.db").display(),
        hooks = server.url("/hooks"),
        status = server.url("/status"),
    );
    let path = write(dir.path(), "pythia.toml", &config);

    let daemon = Daemon::start(&path, dir.path());
    tokio::time::timeout(Duration::from_secs(10), server.wait_for_hits("/hooks", 2))
        .await
        .expect("both items arrive within 10 s");

    let verifier = Verifier::from_secrets([SECRET]).unwrap();
    let mut ids: Vec<String> = server
        .requests_to("/hooks")
        .iter()
        .map(|request| {
            verifier
                .verify(&request.headers, &request.body)
                .expect("signed");
            request.json().unwrap()["id"].as_str().unwrap().to_owned()
        })
        .collect();
    ids.sort();
    assert_eq!(ids, ["a", "b"]);
    let status: Value = reqwest::get(daemon.admin_url("/status"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let poller = &status["pollers"]["payments"];
    assert_eq!(poller["status"], "ok", "{status}");
    assert_eq!(poller["messages"], 2, "{status}");
    assert_eq!(poller["last_status"], 200, "{status}");
    assert!(poller["next_tick"].is_string(), "{status}");
    assert_eq!(
        status["endpoints"]["orders"]["breaker"], "closed",
        "{status}"
    );
}

#[tokio::test]
async fn a_file_sink_appends_one_json_line_per_item() {
    let server = TestServer::start().await;
    server.route(
        "/feed",
        Route::reply(Reply::ok().json(json!([{"n": 1}, {"n": 2}, {"n": 3}]))),
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let config = format!(
        r#"[outbox]
path = "{outbox}"
[http]
allow_private_networks = true
[[poller]]
name = "feed"
url = "{feed}"
interval = "1h"
spread = false
extract = ""
sink = {{ file = "out.jsonl" }}
"#,
        outbox = dir.path().join("outbox.db").display(),
        feed = server.url("/feed"),
    );
    let path = write(dir.path(), "pythia.toml", &config);

    let _daemon = Daemon::start(&path, dir.path());
    let arrived = common::eventually(Duration::from_secs(10), || {
        std::fs::read_to_string(&out).is_ok_and(|text| text.lines().count() >= 3)
    })
    .await;

    assert!(arrived, "three lines in the file");
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[2]["body"]["n"], 3);
    assert_eq!(lines[0]["origin"], "feed");
    assert_eq!(lines[0]["status_code"], 200);
}
