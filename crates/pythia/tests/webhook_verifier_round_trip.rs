//! Webhooks sent by the sender verify on the receiving side, for `v1` and `v1a`, and
//! tampering, a wrong key or a stale timestamp are refused.

use std::time::{Duration, SystemTime};

use pythia::webhook::{
    Ed25519SecretKey, HmacSecret, Verifier, VerifyError, WebhookConfig, WebhookSender,
};
use pythia_testkit::{RecordedRequest, Reply, Route, TestServer};
use serde_json::json;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

async fn send_signed_with(secrets: &[&str]) -> RecordedRequest {
    let server = TestServer::start().await;
    server.route("/hook", Route::reply(Reply::ok()));
    let mut builder = WebhookConfig::builder().base_url(server.base_url());
    for secret in secrets {
        builder = builder.secret(secret);
    }
    let sender = WebhookSender::new(builder.build().unwrap()).unwrap();

    let outcome = sender.send("/hook", json!({"order": 42}), &[]).await;

    assert!(outcome.is_delivered(), "{outcome:?}");
    server.requests_to("/hook").remove(0)
}

#[tokio::test]
async fn a_v1_webhook_verifies_with_its_secret() {
    let received = send_signed_with(&[SECRET]).await;
    let verifier = Verifier::from_secrets([SECRET]).unwrap();

    let result = verifier.verify(&received.headers, &received.body);

    assert_eq!(result, Ok(()));
    assert!(received
        .header("webhook-signature")
        .unwrap()
        .starts_with("v1,"));
}

#[tokio::test]
async fn a_v1a_webhook_verifies_with_the_public_key() {
    let key = Ed25519SecretKey::generate();
    let received = send_signed_with(&[&key.to_text()]).await;
    let verifier = Verifier::from_secrets([key.public_key().to_text()]).unwrap();

    let result = verifier.verify(&received.headers, &received.body);

    assert_eq!(result, Ok(()));
    assert!(received
        .header("webhook-signature")
        .unwrap()
        .starts_with("v1a,"));
}

#[tokio::test]
async fn during_a_rotation_either_key_verifies() {
    let ed = Ed25519SecretKey::generate();
    let received = send_signed_with(&[SECRET, &ed.to_text()]).await;
    let old = Verifier::from_secrets([SECRET]).unwrap();
    let new = Verifier::from_secrets([ed.public_key().to_text()]).unwrap();

    assert_eq!(old.verify(&received.headers, &received.body), Ok(()));
    assert_eq!(new.verify(&received.headers, &received.body), Ok(()));
}

#[tokio::test]
async fn a_changed_body_is_refused() {
    let received = send_signed_with(&[SECRET]).await;
    let verifier = Verifier::from_secrets([SECRET]).unwrap();
    let mut changed = received.body.to_vec();
    let near_end = changed.len() - 2;
    changed[near_end] = b'3';

    let result = verifier.verify(&received.headers, &changed);

    assert_eq!(result, Err(VerifyError::Mismatch));
}

#[tokio::test]
async fn a_wrong_secret_is_refused() {
    let received = send_signed_with(&[SECRET]).await;
    let other = HmacSecret::generate();
    let verifier = Verifier::new([other.into()]);

    let result = verifier.verify(&received.headers, &received.body);

    assert_eq!(result, Err(VerifyError::Mismatch));
}

#[tokio::test]
async fn a_stale_timestamp_is_refused() {
    let received = send_signed_with(&[SECRET]).await;
    let verifier = Verifier::from_secrets([SECRET])
        .unwrap()
        .tolerance(Duration::from_secs(300));
    let ten_minutes_later = SystemTime::now() + Duration::from_secs(600);

    let result = verifier.verify_at(&received.headers, &received.body, ten_minutes_later);

    assert!(
        matches!(result, Err(VerifyError::TimestampTooOld { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn an_unsigned_webhook_is_refused_for_its_missing_signature() {
    let received = send_signed_with(&[]).await;
    let verifier = Verifier::from_secrets([SECRET]).unwrap();

    let result = verifier.verify(&received.headers, &received.body);

    assert_eq!(result, Err(VerifyError::MissingHeader("webhook-signature")));
    assert!(received.header("webhook-id").is_some());
}
