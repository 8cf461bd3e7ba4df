//! `[http] retry` and the specification's `HTTP_MAX_RETRIES` / `HTTP_RETRY_DELAY` decide how
//! often a poll request is retried.

mod common;

use std::time::Duration;

use common::{write, Daemon};
use pythia_testkit::{Reply, Route, TestServer};
use serde_json::{json, Value};

fn config(dir: &std::path::Path, server: &TestServer, http: &str) -> String {
    format!(
        r#"[outbox]
path = "{outbox}"
[http]
allow_private_networks = true
{http}
[[poller]]
name = "flaky"
url = "{url}"
interval = "1h"
spread = false
sink = {{ file = "out.jsonl" }}
"#,
        outbox = dir.join("outbox.db").display(),
        url = server.url("/flaky"),
    )
}

/// Three failures, then the answer: the poller's default of 3 attempts never gets it.
async fn flaky_server() -> TestServer {
    let server = TestServer::start().await;
    server.route(
        "/flaky",
        Route::sequence(vec![
            Reply::status(500),
            Reply::status(500),
            Reply::status(500),
            Reply::ok().json(json!({"n": 1})),
        ]),
    );
    server
}

async fn first_line(out: &std::path::Path) -> Option<Value> {
    let written = common::eventually(Duration::from_secs(10), || {
        std::fs::read_to_string(out).is_ok_and(|text| !text.is_empty())
    })
    .await;
    let text = std::fs::read_to_string(out).ok().filter(|_| written)?;
    serde_json::from_str(text.lines().next()?).ok()
}

#[tokio::test]
async fn http_max_retries_gives_a_poll_its_retries() {
    let server = flaky_server().await;
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "pythia.toml", &config(dir.path(), &server, ""));
    let env = [("HTTP_MAX_RETRIES", "3"), ("HTTP_RETRY_DELAY", "0.01")];

    let _daemon = Daemon::start_with_env(&path, dir.path(), &env);
    let line = first_line(&dir.path().join("out.jsonl")).await;

    assert_eq!(line.expect("a message after the retries")["body"]["n"], 1);
    assert_eq!(server.hits("/flaky"), 4);
}

#[tokio::test]
async fn an_http_retry_table_gives_a_poll_its_retries() {
    let server = flaky_server().await;
    let dir = tempfile::tempdir().unwrap();
    let http = r#"retry = { max_attempts = 4, initial_delay = "10ms" }"#;
    let path = write(
        dir.path(),
        "pythia.toml",
        &config(dir.path(), &server, http),
    );

    let _daemon = Daemon::start(&path, dir.path());
    let line = first_line(&dir.path().join("out.jsonl")).await;

    assert_eq!(line.expect("a message after the retries")["body"]["n"], 1);
    assert_eq!(server.hits("/flaky"), 4);
}
