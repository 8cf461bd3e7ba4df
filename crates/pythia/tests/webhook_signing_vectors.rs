//! The Standard Webhooks test vectors, signed by the sender and checked on the wire: the
//! bytes signed are the bytes the receiver gets.

use pythia::webhook::{AttemptRequest, AttemptResult, WebhookConfig, WebhookSender};
use pythia_testkit::{Reply, Route, TestServer};

async fn signature_on_the_wire(secret: &str, id: &str, timestamp: i64, body: &str) -> String {
    let server = TestServer::start().await;
    server.route("/hook", Route::reply(Reply::ok()));
    let config = WebhookConfig::builder()
        .base_url(server.base_url())
        .secret(secret)
        .build()
        .unwrap();
    let sender = WebhookSender::new(config).unwrap();
    let request = AttemptRequest::new(id, "/hook", body.to_owned()).timestamp(timestamp);

    let result = sender.attempt(&request).await;

    assert!(
        matches!(result, AttemptResult::Delivered { status: 200, .. }),
        "{result:?}"
    );
    let received = server.requests_to("/hook").remove(0);
    assert_eq!(received.body.as_ref(), body.as_bytes());
    assert_eq!(received.header("webhook-id"), Some(id));
    assert_eq!(
        received.header("webhook-timestamp"),
        Some(timestamp.to_string().as_str())
    );
    received.header("webhook-signature").unwrap().to_owned()
}

#[tokio::test]
async fn first_published_vector_arrives_with_the_published_signature() {
    let signature = signature_on_the_wire(
        "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
        1649367553,
        r#"{"email":"test@example.com","username":"test_user"}"#,
    )
    .await;

    assert_eq!(signature, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
}

#[tokio::test]
async fn second_published_vector_arrives_with_the_published_signature() {
    let signature = signature_on_the_wire(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        r#"{"test": 2432232314}"#,
    )
    .await;

    assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}
