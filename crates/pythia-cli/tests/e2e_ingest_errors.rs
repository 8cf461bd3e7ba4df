//! The ingest API answers each kind of bad request with its own status and a JSON error.

mod common;

use common::{write, Daemon};
use serde_json::{json, Value};

const TOKEN: &str = "ingest-t0ken";

fn config(dir: &std::path::Path) -> String {
    format!(
        r#"[admin]
bind = "127.0.0.1:0"
[ingest]
bind = "127.0.0.1:0"
token = "{TOKEN}"
max_body_bytes = 1024
[outbox]
path = "{}"
[[endpoint]]
name = "orders"
url = "http://127.0.0.1:9/never"
"#,
        dir.join("outbox.db").display()
    )
}

async fn post(daemon: &Daemon, token: Option<&str>, body: String) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(daemon.ingest_url("/v1/messages"))
        .header("content-type", "application/json")
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn each_bad_request_gets_its_status_and_a_json_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "pythia.toml", &config(dir.path()));
    let daemon = Daemon::start(&path, dir.path());
    let good = json!({"endpoint": "orders", "payload": {"n": 1}}).to_string();

    let accepted = post(&daemon, Some(TOKEN), good.clone()).await;
    let no_token = post(&daemon, None, good.clone()).await;
    let wrong_token = post(&daemon, Some("nope"), good).await;
    let malformed = post(&daemon, Some(TOKEN), "{\"endpoint\": ".into()).await;
    let unknown = post(
        &daemon,
        Some(TOKEN),
        json!({"endpoint": "x", "payload": 1}).to_string(),
    )
    .await;
    let no_payload = post(
        &daemon,
        Some(TOKEN),
        json!({"endpoint": "orders"}).to_string(),
    )
    .await;
    let huge = json!({"endpoint": "orders", "payload": "x".repeat(4096)}).to_string();
    let too_large = post(&daemon, Some(TOKEN), huge).await;

    assert_eq!(accepted.0, 202, "{:?}", accepted.1);
    assert!(accepted.1["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(no_token.0, 401);
    assert_eq!(wrong_token.0, 401);
    assert_eq!(malformed.0, 400);
    assert_eq!(malformed.1["error"]["code"], "invalid_json");
    assert_eq!(unknown.0, 400);
    assert!(unknown.1["error"]["message"]
        .as_str()
        .unwrap()
        .contains("unknown endpoint"));
    assert_eq!(no_payload.0, 400);
    assert_eq!(too_large.0, 413);
    assert_eq!(too_large.1["error"]["code"], "too_large");
}

#[tokio::test]
async fn a_repeated_id_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "pythia.toml", &config(dir.path()));
    let daemon = Daemon::start(&path, dir.path());
    let body = json!({"endpoint": "orders", "payload": {"n": 1}, "id": "ord-42"}).to_string();

    let first = post(&daemon, Some(TOKEN), body.clone()).await;
    let second = post(&daemon, Some(TOKEN), body).await;

    assert_eq!(first.0, 202);
    assert_eq!(second.0, 202);
    assert_eq!(second.1["id"], first.1["id"]);
    assert_eq!(second.1["duplicate"], true);
}

#[tokio::test]
async fn an_invalid_header_is_refused_with_a_400_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "pythia.toml", &config(dir.path()));
    let daemon = Daemon::start(&path, dir.path());
    let with_headers = |headers: Value| {
        json!({"endpoint": "orders", "payload": 1, "headers": headers}).to_string()
    };

    let bad_name = post(&daemon, Some(TOKEN), with_headers(json!({"X Bad": "1"}))).await;
    let bad_value = post(
        &daemon,
        Some(TOKEN),
        with_headers(json!({"X-Token": "s3cret\r\nX-Evil: 1"})),
    )
    .await;
    let good = post(
        &daemon,
        Some(TOKEN),
        with_headers(json!({"X-Trace": "t-1"})),
    )
    .await;

    assert_eq!(bad_name.0, 400, "{:?}", bad_name.1);
    assert_eq!(bad_name.1["error"]["code"], "invalid_request");
    let message = bad_name.1["error"]["message"].as_str().unwrap();
    assert!(message.contains("`X Bad`"), "{message}");
    assert_eq!(bad_value.0, 400, "{:?}", bad_value.1);
    let message = bad_value.1["error"]["message"].as_str().unwrap();
    assert!(message.contains("`X-Token`"), "{message}");
    assert!(!message.contains("s3cret"), "{message}");
    assert_eq!(good.0, 202, "{:?}", good.1);
}
