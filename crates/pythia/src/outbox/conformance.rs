//! The behaviour every [`Outbox`] must show, as a suite any implementation can run.
//!
//! ```ignore
//! #[tokio::test]
//! async fn my_outbox_keeps_the_contract() {
//!     pythia::outbox::conformance::run_suite(|| async { MyOutbox::connect(fresh_name()).await })
//!         .await;
//! }
//! ```
//!
//! Each case gets a fresh, empty outbox from the factory. No case sleeps: expiry is exercised
//! with zero-length leases and due times in the past or far in the future. A failing case
//! panics with its name.

use std::collections::HashSet;
use std::future::Future;
use std::time::{Duration, SystemTime};

use super::{NewMessage, Outbox, OutboxError, Replay};

const LONG: Duration = Duration::from_secs(600);

/// The cases, by name, in the order [`run_suite`] runs them.
pub const CASES: &[&str] = &[
    "enqueued_message_is_claimed_with_its_content",
    "claimed_message_is_hidden_until_its_lease_ends",
    "expired_lease_makes_the_message_due_again_and_the_old_lease_stale",
    "ack_removes_the_message",
    "ack_batch_acks_each_message_on_its_own",
    "idempotency_key_makes_a_repeat_harmless_before_and_after_delivery",
    "explicit_id_is_kept_and_a_repeat_of_it_is_a_duplicate",
    "reschedule_counts_attempts_only_when_asked",
    "rescheduled_message_waits_for_its_time",
    "not_before_delays_the_first_claim",
    "dead_letters_are_listed_and_replayed",
    "replay_selects_by_endpoint_and_by_id",
    "batch_enqueue_stores_every_message",
    "claim_respects_the_limit_and_takes_the_oldest_first",
    "claim_except_skips_endpoints",
    "stats_count_per_endpoint",
    "settling_an_unknown_message_is_an_error",
    "enqueue_claimed_stores_the_message_under_a_lease",
    "enqueue_claimed_claims_neither_a_duplicate_nor_a_later_message",
    "a_claim_taken_at_enqueue_is_settled_like_any_other",
];

/// Runs every case in [`CASES`], each against a fresh outbox from `make`.
pub async fn run_suite<O, F, Fut>(mut make: F)
where
    O: Outbox,
    F: FnMut() -> Fut,
    Fut: Future<Output = O>,
{
    for name in CASES {
        run_case(name, make().await).await;
    }
}

/// Runs the case called `name` (one of [`CASES`]) against `outbox`.
///
/// # Panics
///
/// When the outbox breaks the contract, or `name` is not a case.
pub async fn run_case(name: &str, outbox: impl Outbox) {
    let o = &outbox;
    match name {
        "enqueued_message_is_claimed_with_its_content" => claimed_content(o).await,
        "claimed_message_is_hidden_until_its_lease_ends" => hidden_while_leased(o).await,
        "expired_lease_makes_the_message_due_again_and_the_old_lease_stale" => {
            expired_lease(o).await
        }
        "ack_removes_the_message" => ack_removes(o).await,
        "ack_batch_acks_each_message_on_its_own" => ack_batch(o).await,
        "idempotency_key_makes_a_repeat_harmless_before_and_after_delivery" => idempotency(o).await,
        "explicit_id_is_kept_and_a_repeat_of_it_is_a_duplicate" => explicit_id(o).await,
        "reschedule_counts_attempts_only_when_asked" => reschedule_counts(o).await,
        "rescheduled_message_waits_for_its_time" => reschedule_waits(o).await,
        "not_before_delays_the_first_claim" => not_before(o).await,
        "dead_letters_are_listed_and_replayed" => dead_letters(o).await,
        "replay_selects_by_endpoint_and_by_id" => replay_selection(o).await,
        "batch_enqueue_stores_every_message" => batch(o).await,
        "claim_respects_the_limit_and_takes_the_oldest_first" => claim_order(o).await,
        "claim_except_skips_endpoints" => claim_except(o).await,
        "stats_count_per_endpoint" => stats(o).await,
        "settling_an_unknown_message_is_an_error" => unknown(o).await,
        "enqueue_claimed_stores_the_message_under_a_lease" => enqueue_claimed(o).await,
        "enqueue_claimed_claims_neither_a_duplicate_nor_a_later_message" => {
            enqueue_claimed_refusals(o).await
        }
        "a_claim_taken_at_enqueue_is_settled_like_any_other" => settled_after_claim(o).await,
        other => panic!("no conformance case named {other}"),
    }
}

fn far_future() -> SystemTime {
    super::now() + Duration::from_secs(24 * 3600)
}

fn past() -> SystemTime {
    super::now() - Duration::from_secs(1)
}

async fn claimed_content(o: &impl Outbox) {
    let message = NewMessage::new("orders", r#"{"n":1}"#)
        .header("x-tenant", "acme")
        .event_type("order.created");

    let enqueued = o.enqueue(message).await.unwrap();
    let claimed = o.claim(10, LONG).await.unwrap();

    assert!(!enqueued.duplicate, "a fresh message is not a duplicate");
    assert_eq!(claimed.len(), 1, "one message enqueued, one claimed");
    let got = &claimed[0].message;
    assert_eq!(got.id, enqueued.id);
    assert_eq!(got.endpoint, "orders");
    assert_eq!(&got.payload[..], br#"{"n":1}"#);
    assert_eq!(
        got.headers,
        vec![("x-tenant".to_owned(), "acme".to_owned())]
    );
    assert_eq!(got.event_type.as_deref(), Some("order.created"));
    assert_eq!(got.attempts, 0);
    assert!(got.last_error.is_none());
}

async fn hidden_while_leased(o: &impl Outbox) {
    o.enqueue(NewMessage::new("orders", "1")).await.unwrap();

    let first = o.claim(10, LONG).await.unwrap();
    let second = o.claim(10, LONG).await.unwrap();
    let stats = o.stats(None).await.unwrap();

    assert_eq!(first.len(), 1);
    assert!(
        second.is_empty(),
        "a leased message must not be claimed again"
    );
    assert_eq!((stats.pending, stats.in_flight), (0, 1));
}

async fn expired_lease(o: &impl Outbox) {
    let id = o.enqueue(NewMessage::new("orders", "1")).await.unwrap().id;

    let first = o.claim(10, Duration::ZERO).await.unwrap();
    let second = o.claim(10, LONG).await.unwrap();
    let stale = o.ack(&id, &first[0].lease).await;

    assert_eq!(
        second.len(),
        1,
        "an expired lease makes the message due again"
    );
    assert_eq!(second[0].message.id, id, "the redelivery keeps the id");
    assert_ne!(first[0].lease, second[0].lease);
    assert!(
        matches!(stale, Err(OutboxError::LeaseLost(_))),
        "got {stale:?}"
    );
    o.ack(&id, &second[0].lease).await.unwrap();
}

async fn ack_removes(o: &impl Outbox) {
    o.enqueue(NewMessage::new("orders", "1")).await.unwrap();
    let claimed = o.claim(10, LONG).await.unwrap();

    o.ack(&claimed[0].message.id, &claimed[0].lease)
        .await
        .unwrap();

    let stats = o.stats(None).await.unwrap();
    assert_eq!(stats.depth(), 0);
    assert_eq!(stats.dead, 0);
    assert_eq!(stats.oldest_age, None);
    assert!(o.claim(10, Duration::ZERO).await.unwrap().is_empty());
}

async fn ack_batch(o: &impl Outbox) {
    let keyed = || NewMessage::new("orders", "1").idempotency_key("k-batch");
    let first = o.enqueue(keyed()).await.unwrap().id;
    let second = o.enqueue(NewMessage::new("orders", "2")).await.unwrap().id;
    let third = o.enqueue(NewMessage::new("orders", "3")).await.unwrap().id;
    let claimed = o.claim(10, LONG).await.unwrap();
    let lease_of = |id: &str| &claimed.iter().find(|c| c.message.id == id).unwrap().lease;
    let wrong = super::Lease("not-the-lease".to_owned());

    let results = o
        .ack_batch(&[
            (first.as_str(), lease_of(&first)),
            (second.as_str(), &wrong),
            ("msg_missing", &wrong),
            (third.as_str(), lease_of(&third)),
        ])
        .await;
    let none = o.ack_batch(&[]).await;

    assert_eq!(claimed.len(), 3);
    assert_eq!(
        results.len(),
        4,
        "one result per entry, in order: {results:?}"
    );
    assert!(results[0].is_ok(), "got {:?}", results[0]);
    assert!(
        matches!(results[1], Err(OutboxError::LeaseLost(_))),
        "a wrong lease fails its entry only: {:?}",
        results[1]
    );
    assert!(
        matches!(
            results[2],
            Err(OutboxError::NotFound(_) | OutboxError::LeaseLost(_))
        ),
        "got {:?}",
        results[2]
    );
    assert!(results[3].is_ok(), "got {:?}", results[3]);
    assert!(none.is_empty());
    let stats = o.stats(None).await.unwrap();
    assert_eq!(
        (stats.pending, stats.in_flight),
        (0, 1),
        "only the entry with the wrong lease is left"
    );
    assert!(
        o.enqueue(keyed()).await.unwrap().duplicate,
        "a batch ack keeps the key of a delivered message"
    );
    o.ack(&second, lease_of(&second)).await.unwrap();
    assert_eq!(o.stats(None).await.unwrap().depth(), 0);
}

async fn idempotency(o: &impl Outbox) {
    let message = || NewMessage::new("orders", "1").idempotency_key("order-7");

    let first = o.enqueue(message()).await.unwrap();
    let while_pending = o.enqueue(message()).await.unwrap();
    let claimed = o.claim(10, LONG).await.unwrap();
    o.ack(&first.id, &claimed[0].lease).await.unwrap();
    let after_delivery = o.enqueue(message()).await.unwrap();

    assert!(!first.duplicate);
    assert_eq!(claimed.len(), 1, "the repeat was not stored");
    assert!(while_pending.duplicate && while_pending.id == first.id);
    assert!(after_delivery.duplicate && after_delivery.id == first.id);
    assert_eq!(o.stats(None).await.unwrap().depth(), 0);
}

async fn explicit_id(o: &impl Outbox) {
    let first = o
        .enqueue(NewMessage::new("orders", "1").id("msg_fixed"))
        .await
        .unwrap();
    let repeat = o
        .enqueue(NewMessage::new("orders", "2").id("msg_fixed"))
        .await
        .unwrap();

    let claimed = o.claim(10, LONG).await.unwrap();

    assert_eq!(first.id, "msg_fixed");
    assert!(!first.duplicate);
    assert!(repeat.duplicate);
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        &claimed[0].message.payload[..],
        b"1",
        "the first message is kept"
    );
}

async fn reschedule_counts(o: &impl Outbox) {
    let id = o.enqueue(NewMessage::new("orders", "1")).await.unwrap().id;

    let c = o.claim(1, LONG).await.unwrap().remove(0);
    o.reschedule(&id, &c.lease, past(), true, Some("status 503"))
        .await
        .unwrap();
    let c = o.claim(1, LONG).await.unwrap().remove(0);
    let after_failure = c.message.clone();
    o.reschedule(&id, &c.lease, past(), false, None)
        .await
        .unwrap();
    let after_breaker = o.claim(1, LONG).await.unwrap().remove(0).message;

    assert_eq!(after_failure.attempts, 1);
    assert_eq!(after_failure.last_error.as_deref(), Some("status 503"));
    assert_eq!(
        after_breaker.attempts, 1,
        "an uncounted reschedule keeps the count"
    );
    assert_eq!(after_breaker.last_error.as_deref(), Some("status 503"));
}

async fn reschedule_waits(o: &impl Outbox) {
    let id = o.enqueue(NewMessage::new("orders", "1")).await.unwrap().id;
    let c = o.claim(1, LONG).await.unwrap().remove(0);

    o.reschedule(&id, &c.lease, far_future(), true, Some("timeout"))
        .await
        .unwrap();

    assert!(
        o.claim(10, LONG).await.unwrap().is_empty(),
        "not due before its time"
    );
    let stats = o.stats(None).await.unwrap();
    assert_eq!((stats.pending, stats.in_flight), (1, 0));
    let stale = o.ack(&id, &c.lease).await;
    assert!(
        matches!(stale, Err(OutboxError::LeaseLost(_))),
        "got {stale:?}"
    );
}

async fn not_before(o: &impl Outbox) {
    let mut later = NewMessage::new("orders", "later");
    later.not_before = Some(far_future());
    o.enqueue(later).await.unwrap();
    o.enqueue(NewMessage::new("orders", "now")).await.unwrap();

    let claimed = o.claim(10, LONG).await.unwrap();

    assert_eq!(claimed.len(), 1);
    assert_eq!(&claimed[0].message.payload[..], b"now");
    assert_eq!(o.stats(None).await.unwrap().pending, 1);
}

async fn dead_letters(o: &impl Outbox) {
    let keyed = NewMessage::new("orders", "1").idempotency_key("k-dead");
    let id = o.enqueue(keyed.clone()).await.unwrap().id;
    let c = o.claim(1, LONG).await.unwrap().remove(0);
    o.reschedule(&id, &c.lease, past(), true, Some("status 500"))
        .await
        .unwrap();
    let c = o.claim(1, LONG).await.unwrap().remove(0);

    o.dead_letter(&id, &c.lease, "attempts exhausted: status 500")
        .await
        .unwrap();

    let dead = o.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].message.id, id);
    assert_eq!(dead[0].reason, "attempts exhausted: status 500");
    assert_eq!(dead[0].message.attempts, 1);
    let stats = o.stats(None).await.unwrap();
    assert_eq!((stats.pending, stats.in_flight, stats.dead), (0, 0, 1));
    assert!(
        o.claim(10, LONG).await.unwrap().is_empty(),
        "dead letters are not claimed"
    );
    assert!(
        o.enqueue(keyed).await.unwrap().duplicate,
        "a dead message keeps its key"
    );

    let replayed = o.replay(Replay::All).await.unwrap();

    assert_eq!(replayed, 1);
    assert!(o.dead_letters(10).await.unwrap().is_empty());
    let again = o.claim(10, LONG).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message.id, id, "a replay keeps the id");
    assert_eq!(again[0].message.attempts, 0, "a replay resets the attempts");
}

async fn replay_selection(o: &impl Outbox) {
    for endpoint in ["a", "a", "b", "c"] {
        o.enqueue(NewMessage::new(endpoint, "x")).await.unwrap();
    }
    for c in o.claim(10, LONG).await.unwrap() {
        o.dead_letter(&c.message.id, &c.lease, "gone")
            .await
            .unwrap();
    }
    let dead = o.dead_letters(10).await.unwrap();
    let c_id = dead
        .iter()
        .find(|d| d.message.endpoint == "c")
        .unwrap()
        .message
        .id
        .clone();

    let by_endpoint = o.replay(Replay::Endpoint("a".to_owned())).await.unwrap();
    let by_id = o
        .replay(Replay::Ids(vec![c_id.clone(), "msg_unknown".to_owned()]))
        .await
        .unwrap();

    assert_eq!((by_endpoint, by_id), (2, 1));
    let left = o.dead_letters(10).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].message.endpoint, "b");
    assert_eq!(
        o.dead_letters(0).await.unwrap().len(),
        0,
        "the limit is honoured"
    );
}

async fn batch(o: &impl Outbox) {
    let messages = (0..5)
        .map(|i| NewMessage::new("orders", i.to_string()))
        .collect();

    let enqueued = o.enqueue_batch(messages).await.unwrap();

    let ids: HashSet<_> = enqueued.iter().map(|e| e.id.clone()).collect();
    assert_eq!(ids.len(), 5, "every message gets its own id");
    assert!(enqueued.iter().all(|e| !e.duplicate));
    let claimed: HashSet<_> = o
        .claim(10, LONG)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.message.id)
        .collect();
    assert_eq!(claimed, ids);
}

async fn claim_order(o: &impl Outbox) {
    let now = super::now();
    let mut ids = Vec::new();
    for age in [30, 20, 10] {
        let mut message = NewMessage::new("orders", age.to_string());
        message.not_before = Some(now - Duration::from_secs(age));
        ids.push(o.enqueue(message).await.unwrap().id);
    }

    let first: HashSet<_> = o
        .claim(2, LONG)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.message.id)
        .collect();
    let rest: Vec<_> = o
        .claim(2, LONG)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.message.id)
        .collect();

    assert_eq!(
        first,
        ids[..2].iter().cloned().collect(),
        "the two due longest come first"
    );
    assert_eq!(rest, vec![ids[2].clone()]);
}

async fn claim_except(o: &impl Outbox) {
    o.enqueue(NewMessage::new("stuck", "1")).await.unwrap();
    o.enqueue(NewMessage::new("healthy", "2")).await.unwrap();

    let claimed = o
        .claim_except(10, LONG, &["stuck".to_owned()])
        .await
        .unwrap();

    // Implementations may ignore the filter (the dispatcher copes), but must not lose anything.
    assert!(claimed.iter().any(|c| c.message.endpoint == "healthy"));
    let stats = o.stats(None).await.unwrap();
    assert_eq!(stats.depth(), 2);
}

async fn stats(o: &impl Outbox) {
    o.enqueue(NewMessage::new("a", "1")).await.unwrap();
    o.enqueue(NewMessage::new("a", "2")).await.unwrap();
    o.enqueue(NewMessage::new("b", "3")).await.unwrap();
    let claimed = o.claim(1, LONG).await.unwrap();
    let claimed_endpoint = claimed[0].message.endpoint.clone();

    let all = o.stats(None).await.unwrap();
    let a = o.stats(Some("a")).await.unwrap();
    let none = o.stats(Some("nobody")).await.unwrap();

    assert_eq!((all.pending, all.in_flight, all.dead), (2, 1, 0));
    assert_eq!(a.depth(), 2);
    assert_eq!(a.in_flight, u64::from(claimed_endpoint == "a"));
    assert!(all.oldest_age.is_some());
    assert_eq!(none, super::OutboxStats::default());
}

async fn unknown(o: &impl Outbox) {
    let lease = super::Lease("nope".to_owned());

    let ack = o.ack("msg_missing", &lease).await;
    let reschedule = o
        .reschedule("msg_missing", &lease, past(), true, None)
        .await;
    let dead = o.dead_letter("msg_missing", &lease, "x").await;

    for result in [ack, reschedule, dead] {
        assert!(
            matches!(
                result,
                Err(OutboxError::NotFound(_) | OutboxError::LeaseLost(_))
            ),
            "got {result:?}"
        );
    }
}

/// A message stored already claimed is in flight, acked with the lease that came back, and due
/// again once that lease ends. An outbox that does not claim at enqueue stores it due.
async fn enqueue_claimed(o: &impl Outbox) {
    let message = NewMessage::new("orders", r#"{"n":2}"#)
        .header("x-tenant", "acme")
        .event_type("order.created")
        .idempotency_key("k-claimed");

    let (enqueued, claimed) = o.enqueue_claimed(message, LONG).await.unwrap();

    assert!(!enqueued.duplicate);
    let Some(claimed) = claimed else {
        let due = o.claim(10, LONG).await.unwrap();
        assert_eq!(due.len(), 1, "a message not claimed at enqueue is due");
        assert_eq!(due[0].message.id, enqueued.id);
        return;
    };
    let got = &claimed.message;
    assert_eq!(got.id, enqueued.id);
    assert_eq!(got.endpoint, "orders");
    assert_eq!(&got.payload[..], br#"{"n":2}"#);
    assert_eq!(
        got.headers,
        vec![("x-tenant".to_owned(), "acme".to_owned())]
    );
    assert_eq!(got.event_type.as_deref(), Some("order.created"));
    assert_eq!(got.attempts, 0);
    assert!(
        o.claim(10, LONG).await.unwrap().is_empty(),
        "a claimed message is hidden"
    );
    let stats = o.stats(None).await.unwrap();
    assert_eq!((stats.pending, stats.in_flight), (0, 1));

    o.ack(&got.id, &claimed.lease).await.unwrap();
    assert_eq!(o.stats(None).await.unwrap().depth(), 0);
    let repeat = NewMessage::new("orders", "2").idempotency_key("k-claimed");
    let (again, none) = o.enqueue_claimed(repeat, LONG).await.unwrap();
    assert!(
        again.duplicate && again.id == enqueued.id,
        "the key outlives delivery"
    );
    assert!(none.is_none());

    let (short, claimed) = o
        .enqueue_claimed(NewMessage::new("orders", "3"), Duration::ZERO)
        .await
        .unwrap();
    let claimed = claimed.expect("an outbox that claims at enqueue claims every fresh message");
    let due = o.claim(10, LONG).await.unwrap();
    assert_eq!(due.len(), 1, "an ended lease makes the message due again");
    assert_eq!(due[0].message.id, short.id);
    let stale = o.ack(&short.id, &claimed.lease).await;
    assert!(
        matches!(stale, Err(OutboxError::LeaseLost(_))),
        "got {stale:?}"
    );
}

/// A duplicate is not claimed (its first copy may be anywhere), nor a message not yet due.
async fn enqueue_claimed_refusals(o: &impl Outbox) {
    let keyed = || NewMessage::new("orders", "1").idempotency_key("k-refusal");
    let first = o.enqueue(keyed()).await.unwrap();

    let (repeat, claimed) = o.enqueue_claimed(keyed(), LONG).await.unwrap();
    assert!(repeat.duplicate && repeat.id == first.id);
    assert!(claimed.is_none(), "a duplicate is not claimed");

    let mut later = NewMessage::new("orders", "2");
    later.not_before = Some(far_future());
    let (later, claimed) = o.enqueue_claimed(later, LONG).await.unwrap();
    assert!(!later.duplicate);
    assert!(claimed.is_none(), "a message due later is not claimed now");
    let due = o.claim(10, LONG).await.unwrap();
    assert_eq!(due.len(), 1, "only the first message is due");
    assert_eq!(due[0].message.id, first.id);
    assert_eq!(
        o.stats(None).await.unwrap().pending,
        1,
        "the later message waits"
    );
}

/// The claim of a message stored with [`Outbox::enqueue_claimed`], or (for an outbox that does
/// not claim at enqueue) its first claim.
async fn held(o: &impl Outbox, message: NewMessage) -> super::Claimed {
    let (enqueued, claimed) = o.enqueue_claimed(message, LONG).await.unwrap();
    let claimed = match claimed {
        Some(claimed) => claimed,
        None => o
            .claim(1, LONG)
            .await
            .unwrap()
            .pop()
            .expect("the message is due"),
    };
    assert_eq!(claimed.message.id, enqueued.id);
    claimed
}

/// A message claimed as it is stored is acked, refused, rescheduled, dead-lettered and replayed
/// as one claimed later is, and its id turns a repeat away while it is held.
async fn settled_after_claim(o: &impl Outbox) {
    let acked = held(o, NewMessage::new("orders", "1")).await;
    let retried = held(o, NewMessage::new("orders", "2")).await;
    let dead = held(o, NewMessage::new("orders", "3")).await;
    let explicit = held(o, NewMessage::new("orders", "4").id("order-4")).await;

    let wrong = super::Lease("not-the-lease".to_owned());
    let refused = o.ack(&acked.message.id, &wrong).await;
    assert!(
        matches!(refused, Err(OutboxError::LeaseLost(_))),
        "got {refused:?}"
    );
    o.ack(&acked.message.id, &acked.lease).await.unwrap();
    let again = o.ack(&acked.message.id, &acked.lease).await;
    assert!(
        matches!(again, Err(OutboxError::NotFound(_))),
        "got {again:?}"
    );

    let repeat = |id: &str| NewMessage::new("orders", "again").id(id);
    let twice = o.enqueue(repeat(&retried.message.id)).await.unwrap();
    assert!(
        twice.duplicate,
        "a held message's new id turns a repeat away"
    );
    let twice = o.enqueue(repeat("order-4")).await.unwrap();
    assert!(twice.duplicate, "so does an explicit one");

    o.reschedule(
        &retried.message.id,
        &retried.lease,
        past(),
        true,
        Some("boom"),
    )
    .await
    .unwrap();
    let due = o.claim(10, LONG).await.unwrap();
    assert_eq!(
        due.len(),
        1,
        "the rescheduled message is due, the others held"
    );
    assert_eq!(due[0].message.id, retried.message.id);
    assert_eq!(due[0].message.attempts, 1);
    assert_eq!(due[0].message.last_error.as_deref(), Some("boom"));

    o.dead_letter(&dead.message.id, &dead.lease, "gone")
        .await
        .unwrap();
    let letters = o.dead_letters(10).await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].message.id, dead.message.id);
    assert_eq!(letters[0].reason, "gone");
    let replayed = o
        .replay(Replay::Ids(vec![dead.message.id.clone()]))
        .await
        .unwrap();
    assert_eq!(replayed, 1);
    let due = o.claim(10, LONG).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].message.id, dead.message.id);

    o.ack(&explicit.message.id, &explicit.lease).await.unwrap();
    let stats = o.stats(None).await.unwrap();
    assert_eq!(
        (stats.pending, stats.in_flight, stats.dead),
        (0, 2, 0),
        "the rescheduled and the replayed messages are held, nothing else is left"
    );
}
