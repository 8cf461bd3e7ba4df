//! The Redis outbox keeps the outbox contract, against the real Redis on 127.0.0.1:6379.
#![cfg(feature = "redis")]

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use pythia::outbox::{NewMessage, Outbox, OutboxError, RedisOutbox, Replay};

const URL: &str = "redis://127.0.0.1:6379";

async fn outbox() -> Option<RedisOutbox> {
    if !pythia_testkit::broker::require("redis", "127.0.0.1:6379") {
        return None;
    }
    let prefix = format!("pythia-test:outbox:{}", uuid::Uuid::new_v4().simple());
    Some(
        RedisOutbox::builder(URL)
            .prefix(prefix)
            .connect()
            .await
            .unwrap(),
    )
}

/// Waits (bounded) until a claim returns something, for leases that lapse in Redis time.
async fn claim_when_due(outbox: &RedisOutbox, lease: Duration) -> Vec<pythia::outbox::Claimed> {
    for _ in 0..100 {
        let claimed = outbox.claim(10, lease).await.unwrap();
        if !claimed.is_empty() {
            return claimed;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("nothing became due within 2 s");
}

#[tokio::test]
async fn a_claim_hands_out_the_message_as_it_was_enqueued() {
    let Some(outbox) = outbox().await else { return };
    let message = NewMessage::new("orders", &b"\xff\x00 not json"[..])
        .header("x-a", "1")
        .event_type("order_created");

    let stored = outbox.enqueue(message).await.unwrap();
    let claimed = outbox.claim(10, Duration::from_secs(30)).await.unwrap();

    assert_eq!(claimed.len(), 1);
    let got = &claimed[0].message;
    assert_eq!(got.id, stored.id);
    assert_eq!(got.endpoint, "orders");
    assert_eq!(got.payload.as_ref(), b"\xff\x00 not json");
    assert_eq!(got.headers, vec![("x-a".to_owned(), "1".to_owned())]);
    assert_eq!(got.event_type.as_deref(), Some("order_created"));
    assert_eq!(got.attempts, 0);
}

#[tokio::test]
async fn a_repeated_idempotency_key_is_not_stored_again_even_after_delivery() {
    let Some(outbox) = outbox().await else { return };
    let first = outbox
        .enqueue(NewMessage::new("orders", "{}").idempotency_key("k1"))
        .await
        .unwrap();

    let while_pending = outbox
        .enqueue(NewMessage::new("orders", "{}").idempotency_key("k1"))
        .await
        .unwrap();
    let claimed = outbox.claim(10, Duration::from_secs(30)).await.unwrap();
    outbox
        .ack(&claimed[0].message.id, &claimed[0].lease)
        .await
        .unwrap();
    let after_delivery = outbox
        .enqueue(NewMessage::new("orders", "{}").idempotency_key("k1"))
        .await
        .unwrap();

    assert!(!first.duplicate);
    assert!(while_pending.duplicate && after_delivery.duplicate);
    assert_eq!(while_pending.id, first.id);
    assert_eq!(after_delivery.id, first.id);
    assert_eq!(outbox.stats(None).await.unwrap().depth(), 0);
}

#[tokio::test]
async fn a_batch_with_a_repeated_key_stores_it_once() {
    let Some(outbox) = outbox().await else { return };

    let stored = outbox
        .enqueue_batch(vec![
            NewMessage::new("a", "1").idempotency_key("same"),
            NewMessage::new("b", "2").idempotency_key("same"),
            NewMessage::new("c", "3"),
        ])
        .await
        .unwrap();

    assert_eq!(stored.len(), 3);
    assert!(!stored[0].duplicate && stored[1].duplicate && !stored[2].duplicate);
    assert_eq!(stored[1].id, stored[0].id);
    assert_eq!(outbox.stats(None).await.unwrap().pending, 2);
}

#[tokio::test]
async fn a_claimed_message_is_hidden_until_its_lease_lapses_then_claimed_again() {
    let Some(outbox) = outbox().await else { return };
    let stored = outbox
        .enqueue(NewMessage::new("orders", "{}"))
        .await
        .unwrap();
    let first = outbox.claim(10, Duration::from_millis(200)).await.unwrap();

    let meanwhile = outbox.claim(10, Duration::from_secs(30)).await.unwrap();
    let second = claim_when_due(&outbox, Duration::from_secs(30)).await;
    let stale_ack = outbox.ack(&stored.id, &first[0].lease).await;
    let live_ack = outbox.ack(&stored.id, &second[0].lease).await;

    assert!(meanwhile.is_empty());
    assert_eq!(second[0].message.id, stored.id);
    assert!(matches!(stale_ack, Err(OutboxError::LeaseLost(ref id)) if *id == stored.id));
    assert!(live_ack.is_ok());
    assert_eq!(outbox.stats(None).await.unwrap().depth(), 0);
}

#[tokio::test]
async fn reschedule_counts_the_attempt_and_waits_until_the_given_time() {
    let Some(outbox) = outbox().await else { return };
    outbox
        .enqueue(NewMessage::new("orders", "{}"))
        .await
        .unwrap();
    let claimed = outbox.claim(1, Duration::from_secs(30)).await.unwrap();
    let id = claimed[0].message.id.clone();

    let at = SystemTime::now() + Duration::from_millis(300);
    outbox
        .reschedule(&id, &claimed[0].lease, at, true, Some("503 from partner"))
        .await
        .unwrap();
    let before = outbox.claim(1, Duration::from_secs(30)).await.unwrap();
    let again = outbox
        .reschedule(&id, &claimed[0].lease, at, true, None)
        .await;
    let after = claim_when_due(&outbox, Duration::from_secs(30)).await;

    assert!(before.is_empty());
    assert!(matches!(again, Err(OutboxError::LeaseLost(_))));
    assert_eq!(after[0].message.attempts, 1);
    assert_eq!(
        after[0].message.last_error.as_deref(),
        Some("503 from partner")
    );
}

#[tokio::test]
async fn a_reschedule_without_counting_keeps_the_attempts() {
    let Some(outbox) = outbox().await else { return };
    outbox
        .enqueue(NewMessage::new("orders", "{}"))
        .await
        .unwrap();
    let claimed = outbox.claim(1, Duration::from_secs(30)).await.unwrap();

    outbox
        .reschedule(
            &claimed[0].message.id,
            &claimed[0].lease,
            SystemTime::now(),
            false,
            None,
        )
        .await
        .unwrap();
    let again = outbox.claim(1, Duration::from_secs(30)).await.unwrap();

    assert_eq!(again[0].message.attempts, 0);
}

#[tokio::test]
async fn dead_letters_are_listed_counted_and_replayed() {
    let Some(outbox) = outbox().await else { return };
    outbox.enqueue(NewMessage::new("a", "1")).await.unwrap();
    outbox.enqueue(NewMessage::new("b", "2")).await.unwrap();
    for claimed in outbox.claim(10, Duration::from_secs(30)).await.unwrap() {
        outbox
            .reschedule(
                &claimed.message.id,
                &claimed.lease,
                SystemTime::now(),
                true,
                Some("x"),
            )
            .await
            .unwrap();
    }
    for claimed in outbox.claim(10, Duration::from_secs(30)).await.unwrap() {
        outbox
            .dead_letter(&claimed.message.id, &claimed.lease, "gone")
            .await
            .unwrap();
    }

    let dead = outbox.dead_letters(10).await.unwrap();
    let stats = outbox.stats(None).await.unwrap();
    let stats_a = outbox.stats(Some("a")).await.unwrap();
    let replayed = outbox.replay(Replay::Endpoint("a".into())).await.unwrap();
    let claimed = outbox.claim(10, Duration::from_secs(30)).await.unwrap();

    assert_eq!(dead.len(), 2);
    assert!(dead
        .iter()
        .all(|d| d.reason == "gone" && d.message.attempts == 1));
    assert_eq!((stats.pending, stats.in_flight, stats.dead), (0, 0, 2));
    assert_eq!(stats_a.dead, 1);
    assert_eq!(replayed, 1);
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].message.endpoint, "a");
    assert_eq!(claimed[0].message.attempts, 0);
    assert_eq!(outbox.dead_letters(10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn replay_by_ids_ignores_ids_that_are_not_dead() {
    let Some(outbox) = outbox().await else { return };
    outbox.enqueue(NewMessage::new("a", "1")).await.unwrap();
    let claimed = outbox.claim(1, Duration::from_secs(30)).await.unwrap();
    let id = claimed[0].message.id.clone();
    outbox
        .dead_letter(&id, &claimed[0].lease, "gone")
        .await
        .unwrap();

    let replayed = outbox
        .replay(Replay::Ids(vec![id.clone(), "msg_unknown".into()]))
        .await
        .unwrap();

    assert_eq!(replayed, 1);
    assert_eq!(outbox.stats(None).await.unwrap().pending, 1);
}

#[tokio::test]
async fn stats_split_pending_in_flight_and_per_endpoint() {
    let Some(outbox) = outbox().await else { return };
    for endpoint in ["a", "a", "b"] {
        outbox
            .enqueue(NewMessage::new(endpoint, "{}"))
            .await
            .unwrap();
    }
    outbox.claim(1, Duration::from_secs(30)).await.unwrap();

    let all = outbox.stats(None).await.unwrap();
    let a = outbox.stats(Some("a")).await.unwrap();
    let b = outbox.stats(Some("b")).await.unwrap();

    assert_eq!((all.pending, all.in_flight), (2, 1));
    assert_eq!((a.pending, a.in_flight), (1, 1));
    assert_eq!((b.pending, b.in_flight), (1, 0));
    assert!(all.oldest_age.is_some());
}

#[tokio::test]
async fn messages_not_yet_due_are_not_claimed() {
    let Some(outbox) = outbox().await else { return };
    let mut message = NewMessage::new("a", "{}");
    message.not_before = Some(SystemTime::now() + Duration::from_secs(3600));
    outbox.enqueue(message).await.unwrap();

    let claimed = outbox.claim(10, Duration::from_secs(30)).await.unwrap();

    assert!(claimed.is_empty());
    assert_eq!(outbox.stats(None).await.unwrap().pending, 1);
}

#[tokio::test]
async fn settling_an_unknown_id_is_not_found() {
    let Some(outbox) = outbox().await else { return };

    let result = outbox
        .ack("msg_nope", &pythia::outbox::Lease("1".into()))
        .await;

    assert!(matches!(result, Err(OutboxError::NotFound(_))));
}

#[tokio::test]
async fn two_instances_claiming_together_take_each_message_once() {
    let Some(first) = outbox().await else { return };
    let second = RedisOutbox::builder(URL)
        .prefix(first.prefix())
        .connect()
        .await
        .unwrap();
    let batch = (0..500)
        .map(|i| NewMessage::new("a", format!("{i}")))
        .collect();
    first.enqueue_batch(batch).await.unwrap();

    let (a, b) = tokio::join!(drain(&first), drain(&second));

    let mut seen = HashSet::new();
    for id in a.iter().chain(&b) {
        assert!(seen.insert(id.clone()), "{id} was claimed twice");
    }
    assert_eq!(seen.len(), 500);
    assert!(!a.is_empty() && !b.is_empty());
}

async fn drain(outbox: &RedisOutbox) -> Vec<String> {
    let mut ids = Vec::new();
    loop {
        let claimed = outbox.claim(7, Duration::from_secs(30)).await.unwrap();
        if claimed.is_empty() {
            return ids;
        }
        for c in claimed {
            outbox.ack(&c.message.id, &c.lease).await.unwrap();
            ids.push(c.message.id);
        }
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn an_unreachable_redis_is_a_clear_error_without_the_password() {
    let result = RedisOutbox::builder("redis://user:s3cret@127.0.0.1:1")
        .connect()
        .await;

    let error = result.unwrap_err();
    assert!(matches!(error, OutboxError::Open { .. }));
    assert!(!error.to_string().contains("s3cret"), "{error}");
    assert!(!format!("{error:?}").contains("s3cret"));
}
