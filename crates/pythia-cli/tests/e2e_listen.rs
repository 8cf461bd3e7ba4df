//! `pythia listen` prints each webhook and verifies its signature against each secret.

mod common;

use common::Listener;
use pythia::webhook::Signer;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OTHER: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn post(url: &str, id: &str, signature: &str, body: &'static str) -> u16 {
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", now().to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_signed_webhook_is_printed_and_verified() {
    let listener = Listener::start(&["--secret", OTHER, "--secret", SECRET]);
    let body = r#"{"order":42}"#;
    let signature = Signer::from_secrets([SECRET])
        .unwrap()
        .sign("msg_1", now(), body.as_bytes());

    let status = post(&listener.url("/hooks/orders"), "msg_1", &signature, body).await;

    assert_eq!(status, 200);
    let line = listener.next();
    assert_eq!(line["id"], "msg_1");
    assert_eq!(line["path"], "/hooks/orders");
    assert_eq!(line["body"]["order"], 42);
    assert_eq!(line["verified"], true);
    assert_eq!(line["signatures"][0]["verified"], false);
    assert_eq!(line["signatures"][1]["verified"], true);
}

#[tokio::test]
async fn a_bad_signature_gets_401_when_a_secret_is_given() {
    let listener = Listener::start(&["--secret", SECRET]);
    let body = r#"{"order":42}"#;
    let signature = Signer::from_secrets([OTHER])
        .unwrap()
        .sign("msg_2", now(), body.as_bytes());

    let status = post(&listener.url("/"), "msg_2", &signature, body).await;

    assert_eq!(status, 401);
    let line = listener.next();
    assert_eq!(line["verified"], false);
    assert_eq!(line["signatures"][0]["reason"], "mismatch");
}

#[tokio::test]
async fn without_a_secret_every_webhook_is_accepted_and_not_judged() {
    let listener = Listener::start(&[]);

    let status = post(&listener.url("/"), "msg_3", "v1,bogus", "plain text").await;

    assert_eq!(status, 200);
    let line = listener.next();
    assert!(line["verified"].is_null());
    assert_eq!(line["body"], "plain text");
}
