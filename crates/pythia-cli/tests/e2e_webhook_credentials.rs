//! Credentials written for polled APIs (`[http] auth`, `[http] headers`, `HTTP_BEARER_TOKEN`,
//! `HTTP_API_KEY`) go with polls only, never with webhooks: an endpoint gets its own `headers`
//! and nothing else.

mod common;

use std::time::Duration;

use common::{write, Daemon};
use pythia_testkit::{Reply, Route, TestServer};
use serde_json::json;

/// A poller and an endpoint on two test servers, with `http` as the `[http]` table's body.
fn config(dir: &std::path::Path, api: &TestServer, hooks: &TestServer, http: &str) -> String {
    format!(
        r#"[outbox]
path = "{outbox}"
[http]
allow_private_networks = true
{http}
[[endpoint]]
name = "partner"
url = "{hooks}"
headers = {{ "X-Endpoint" = "mine" }}
[[poller]]
name = "api"
url = "{api}"
interval = "1h"
spread = false
sink = {{ webhook = ["partner"] }}
"#,
        outbox = dir.join("outbox.db").display(),
        hooks = hooks.url("/hooks"),
        api = api.url("/items"),
    )
}

fn servers_ready(api: &TestServer, hooks: &TestServer) {
    api.route("/items", Route::reply(Reply::ok().json(json!({"n": 1}))));
    hooks.route("/hooks", Route::reply(Reply::ok()));
}

#[tokio::test]
async fn http_auth_and_headers_reach_the_poll_but_not_the_webhook() {
    let (api, hooks) = (TestServer::start().await, TestServer::start().await);
    servers_ready(&api, &hooks);
    let dir = tempfile::tempdir().unwrap();
    let http = r#"auth = { bearer = "poll-token" }
headers = { "X-Poll-Key" = "poll-key" }"#;
    let path = write(
        dir.path(),
        "pythia.toml",
        &config(dir.path(), &api, &hooks, http),
    );

    let _daemon = Daemon::start(&path, dir.path());
    tokio::time::timeout(Duration::from_secs(10), hooks.wait_for_hits("/hooks", 1))
        .await
        .expect("the polled item arrives as a webhook within 10 s");

    let poll = &api.requests_to("/items")[0];
    assert_eq!(poll.header("authorization"), Some("Bearer poll-token"));
    assert_eq!(poll.header("x-poll-key"), Some("poll-key"));
    let webhook = &hooks.requests_to("/hooks")[0];
    assert_eq!(webhook.header("authorization"), None);
    assert_eq!(webhook.header("x-poll-key"), None);
    assert_eq!(webhook.header("x-endpoint"), Some("mine"));
}

#[tokio::test]
async fn credentials_from_the_environment_reach_the_poll_but_not_the_webhook() {
    let (api, hooks) = (TestServer::start().await, TestServer::start().await);
    servers_ready(&api, &hooks);
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "pythia.toml",
        &config(dir.path(), &api, &hooks, ""),
    );
    let env = [
        ("HTTP_API_KEY", "env-key"),
        ("HTTP_API_KEY_HEADER", "X-Api-Key"),
    ];

    let _daemon = Daemon::start_with_env(&path, dir.path(), &env);
    tokio::time::timeout(Duration::from_secs(10), hooks.wait_for_hits("/hooks", 1))
        .await
        .expect("the polled item arrives as a webhook within 10 s");

    let poll = &api.requests_to("/items")[0];
    assert_eq!(poll.header("x-api-key"), Some("env-key"));
    let webhook = &hooks.requests_to("/hooks")[0];
    assert_eq!(webhook.header("x-api-key"), None);
    assert_eq!(webhook.header("x-endpoint"), Some("mine"));
}
