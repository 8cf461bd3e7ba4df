//! [`MemoryOutbox`]: the outbox contract held in memory, for tests and throwaway runs.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use parking_lot::Mutex;

use super::{
    clock, Claimed, DeadLetter, Enqueued, Lease, NewMessage, Outbox, OutboxError, OutboxStats,
    Replay, StoredMessage, DEFAULT_IDEMPOTENCY_RETENTION,
};
use crate::message::new_message_id;

/// An outbox in memory. Everything it holds is lost with the process, so it is meant for
/// tests; otherwise it keeps the whole contract: leases, idempotency keys (delivered keys are
/// remembered for a retention window), dead letters and replay.
///
/// Time follows tokio's clock, so leases and due times move with a paused test clock.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::time::Duration;
/// use pythia::outbox::{MemoryOutbox, NewMessage, Outbox};
///
/// let outbox = MemoryOutbox::new();
/// outbox.enqueue(NewMessage::new("orders", r#"{"id":1}"#)).await?;
///
/// let claimed = outbox.claim(10, Duration::from_secs(30)).await?;
/// outbox.ack(&claimed[0].message.id, &claimed[0].lease).await?;
/// assert_eq!(outbox.stats(None).await?.depth(), 0);
/// # Ok::<(), pythia::outbox::OutboxError>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug, Default)]
pub struct MemoryOutbox {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    retention: Option<Duration>,
    messages: HashMap<String, Entry>,
    /// Live messages by (due time, sequence): the claim order.
    due: BTreeSet<Due>,
    /// The same, per endpoint: a claim that skips endpoints takes the others' messages from
    /// here, never looking at a skipped endpoint's.
    due_per_endpoint: HashMap<String, BTreeSet<Due>>,
    /// The first place of each endpoint in `due_per_endpoint`, with its endpoint: the
    /// endpoints in the order of their oldest message.
    heads: BTreeSet<(Due, String)>,
    keys: HashMap<String, KeyEntry>,
    /// Expired keys are dropped at most this often: a key past its time no longer counts
    /// anyway, so walking all keys on every ack would only cost time.
    next_purge: Option<SystemTime>,
    next_seq: u64,
}

/// How often an ack drops the idempotency keys past their retention.
const PURGE_EVERY: Duration = Duration::from_secs(1);

/// A live message's place in the claim order: due time, sequence, id.
type Due = (SystemTime, u64, String);

#[derive(Debug)]
struct Entry {
    message: StoredMessage,
    key: Option<String>,
    seq: u64,
    due: SystemTime,
    lease: Option<Lease>,
    dead: Option<(SystemTime, String)>,
}

#[derive(Debug)]
struct KeyEntry {
    id: String,
    /// `None` while the message is live or dead; set when it is delivered.
    expires: Option<SystemTime>,
}

impl MemoryOutbox {
    /// An empty outbox that remembers delivered idempotency keys for 24 hours.
    pub fn new() -> Self {
        MemoryOutbox::default()
    }

    /// An empty outbox that remembers delivered idempotency keys for `retention`.
    pub fn with_idempotency_retention(retention: Duration) -> Self {
        let outbox = MemoryOutbox::default();
        outbox.state.lock().retention = Some(retention);
        outbox
    }
}

impl State {
    fn retention(&self) -> Duration {
        self.retention.unwrap_or(DEFAULT_IDEMPOTENCY_RETENTION)
    }

    fn enqueue(&mut self, message: NewMessage, now: SystemTime) -> Enqueued {
        if let Some(key) = &message.idempotency_key {
            if let Some(held) = self.keys.get(key) {
                if held.expires.is_none_or(|expires| expires > now) {
                    return Enqueued {
                        id: held.id.clone(),
                        duplicate: true,
                    };
                }
            }
        }

        let id = message.id.unwrap_or_else(new_message_id);
        if self.messages.contains_key(&id) {
            // An explicit id that is already held is a repeat, like a known idempotency key.
            return Enqueued {
                id,
                duplicate: true,
            };
        }
        let due = message.not_before.unwrap_or(now);
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some(key) = &message.idempotency_key {
            let entry = KeyEntry {
                id: id.clone(),
                expires: None,
            };
            self.keys.insert(key.clone(), entry);
        }
        self.index(&message.endpoint, (due, seq, id.clone()));
        let stored = StoredMessage {
            id: id.clone(),
            endpoint: message.endpoint,
            payload: message.payload,
            headers: message.headers,
            event_type: message.event_type,
            attempts: 0,
            created_at: now,
            last_error: None,
        };
        let entry = Entry {
            message: stored,
            key: message.idempotency_key,
            seq,
            due,
            lease: None,
            dead: None,
        };
        self.messages.insert(id.clone(), entry);
        Enqueued {
            id,
            duplicate: false,
        }
    }

    /// Drops a message and its place in the due index.
    fn remove(&mut self, id: &str) -> Option<Entry> {
        let entry = self.messages.remove(id)?;
        if entry.dead.is_none() {
            let place = (entry.due, entry.seq, entry.message.id.clone());
            self.unindex(&entry.message.endpoint, &place);
        }
        Some(entry)
    }

    fn index(&mut self, endpoint: &str, place: Due) {
        let places = self
            .due_per_endpoint
            .entry(endpoint.to_owned())
            .or_default();
        let head = places.first().cloned();
        places.insert(place.clone());
        if head.as_ref().is_none_or(|head| place < *head) {
            if let Some(head) = head {
                self.heads.remove(&(head, endpoint.to_owned()));
            }
            self.heads.insert((place.clone(), endpoint.to_owned()));
        }
        self.due.insert(place);
    }

    fn unindex(&mut self, endpoint: &str, place: &Due) {
        self.due.remove(place);
        let Some(places) = self.due_per_endpoint.get_mut(endpoint) else {
            return;
        };
        if !places.remove(place) || places.first().is_some_and(|head| head < place) {
            return;
        }
        // `place` was the endpoint's head.
        self.heads.remove(&(place.clone(), endpoint.to_owned()));
        match places.first() {
            Some(next) => {
                self.heads.insert((next.clone(), endpoint.to_owned()));
            }
            None => {
                self.due_per_endpoint.remove(endpoint);
            }
        }
    }

    fn set_due(&mut self, id: &str, due: Option<SystemTime>) {
        let Some(entry) = self.messages.get_mut(id) else {
            return;
        };
        let (endpoint, old, seq) = (entry.message.endpoint.clone(), entry.due, entry.seq);
        let was_live = entry.dead.is_none();
        if let Some(due) = due {
            entry.due = due;
        }
        if was_live {
            self.unindex(&endpoint, &(old, seq, id.to_owned()));
        }
        if let Some(due) = due {
            self.index(&endpoint, (due, seq, id.to_owned()));
        }
    }

    /// The live message `id` if `lease` is its current lease.
    fn leased(&mut self, id: &str, lease: &Lease) -> Result<&mut Entry, OutboxError> {
        let entry = self
            .messages
            .get_mut(id)
            .ok_or_else(|| OutboxError::NotFound(id.to_owned()))?;
        if entry.dead.is_some() || entry.lease.as_ref() != Some(lease) {
            return Err(OutboxError::LeaseLost(id.to_owned()));
        }
        Ok(entry)
    }

    /// The ids of up to `limit` messages due at `now`, oldest first, not addressed to `skip`.
    /// Without `skip` they are the first of the claim order. With it they come from the other
    /// endpoints' own orders: the endpoints are taken by their oldest message, the skipped
    /// ones passed over, so that a claim never reads a skipped endpoint's backlog.
    fn due_ids(&self, now: SystemTime, limit: usize, skip: &[String]) -> Vec<String> {
        let due_now = |(due, _, _): &&Due| *due <= now;
        if skip.is_empty() {
            return self
                .due
                .iter()
                .take_while(due_now)
                .take(limit)
                .map(|(_, _, id)| id.clone())
                .collect();
        }
        // Only an endpoint whose oldest message is among the first `limit` heads of the others
        // can hold one of the first `limit` messages due: each head before it is older.
        let mut due: Vec<&Due> = self
            .heads
            .iter()
            .take_while(|(head, _)| head.0 <= now)
            .filter(|(_, endpoint)| !skip.contains(endpoint))
            .take(limit)
            .flat_map(|(_, endpoint)| {
                self.due_per_endpoint[endpoint]
                    .iter()
                    .take_while(due_now)
                    .take(limit)
            })
            .collect();
        due.sort_unstable();
        due.into_iter()
            .take(limit)
            .map(|(_, _, id)| id.clone())
            .collect()
    }

    /// Removes a delivered message; its idempotency key, if any, is kept for the retention.
    fn ack(&mut self, id: &str, lease: &Lease, now: SystemTime) -> Result<(), OutboxError> {
        self.leased(id, lease)?;
        let entry = self.remove(id).expect("checked above");
        let expires = now + self.retention();
        if let Some(key) = entry.key.and_then(|key| self.keys.get_mut(&key)) {
            key.expires = Some(expires);
        }
        Ok(())
    }

    fn purge_keys(&mut self, now: SystemTime) {
        if self.next_purge.is_some_and(|next| now < next) {
            return;
        }
        self.next_purge = Some(now + PURGE_EVERY);
        self.keys
            .retain(|_, key| key.expires.is_none_or(|expires| expires > now));
    }
}

#[async_trait]
impl Outbox for MemoryOutbox {
    async fn enqueue(&self, message: NewMessage) -> Result<Enqueued, OutboxError> {
        let now = clock::now();
        Ok(self.state.lock().enqueue(message, now))
    }

    async fn enqueue_batch(&self, messages: Vec<NewMessage>) -> Result<Vec<Enqueued>, OutboxError> {
        let now = clock::now();
        let mut state = self.state.lock();
        Ok(messages
            .into_iter()
            .map(|message| state.enqueue(message, now))
            .collect())
    }

    fn claims_on_enqueue(&self) -> bool {
        true
    }

    async fn enqueue_claimed(
        &self,
        message: NewMessage,
        lease: Duration,
    ) -> Result<(Enqueued, Option<Claimed>), OutboxError> {
        let now = clock::now();
        let due_now = message.not_before.is_none_or(|at| at <= now);
        let mut state = self.state.lock();
        let enqueued = state.enqueue(message, now);
        if enqueued.duplicate || !due_now {
            return Ok((enqueued, None));
        }
        state.set_due(&enqueued.id, Some(now + lease));
        let entry = state
            .messages
            .get_mut(&enqueued.id)
            .expect("an enqueued message is held");
        let token = Lease(uuid::Uuid::new_v4().simple().to_string());
        entry.lease = Some(token.clone());
        let claimed = Claimed {
            message: entry.message.clone(),
            lease: token,
        };
        Ok((enqueued, Some(claimed)))
    }

    async fn claim(&self, limit: usize, lease: Duration) -> Result<Vec<Claimed>, OutboxError> {
        self.claim_except(limit, lease, &[]).await
    }

    async fn claim_except(
        &self,
        limit: usize,
        lease: Duration,
        skip_endpoints: &[String],
    ) -> Result<Vec<Claimed>, OutboxError> {
        let now = clock::now();
        let until = now + lease;
        let mut state = self.state.lock();
        let ids = state.due_ids(now, limit, skip_endpoints);

        let mut claimed = Vec::with_capacity(ids.len());
        for id in ids {
            state.set_due(&id, Some(until));
            let entry = state.messages.get_mut(&id).expect("indexed messages exist");
            let token = Lease(uuid::Uuid::new_v4().simple().to_string());
            entry.lease = Some(token.clone());
            claimed.push(Claimed {
                message: entry.message.clone(),
                lease: token,
            });
        }
        Ok(claimed)
    }

    async fn ack(&self, id: &str, lease: &Lease) -> Result<(), OutboxError> {
        let now = clock::now();
        let mut state = self.state.lock();
        let acked = state.ack(id, lease, now);
        state.purge_keys(now);
        acked
    }

    /// Every ack under one lock.
    async fn ack_batch(&self, acks: &[(&str, &Lease)]) -> Vec<Result<(), OutboxError>> {
        let now = clock::now();
        let mut state = self.state.lock();
        let acked = acks
            .iter()
            .map(|(id, lease)| state.ack(id, lease, now))
            .collect();
        state.purge_keys(now);
        acked
    }

    async fn reschedule(
        &self,
        id: &str,
        lease: &Lease,
        at: SystemTime,
        count_attempt: bool,
        last_error: Option<&str>,
    ) -> Result<(), OutboxError> {
        let mut state = self.state.lock();
        let entry = state.leased(id, lease)?;

        entry.lease = None;
        if count_attempt {
            entry.message.attempts += 1;
        }
        if let Some(error) = last_error {
            entry.message.last_error = Some(error.to_owned());
        }
        state.set_due(id, Some(at));
        Ok(())
    }

    async fn dead_letter(&self, id: &str, lease: &Lease, reason: &str) -> Result<(), OutboxError> {
        let now = clock::now();
        let mut state = self.state.lock();
        state.leased(id, lease)?;

        state.set_due(id, None);
        let entry = state.messages.get_mut(id).expect("checked above");
        entry.lease = None;
        entry.message.last_error = Some(reason.to_owned());
        entry.dead = Some((now, reason.to_owned()));
        Ok(())
    }

    async fn stats(&self, endpoint: Option<&str>) -> Result<OutboxStats, OutboxError> {
        let now = clock::now();
        let state = self.state.lock();
        let mut stats = OutboxStats::default();
        let mut oldest: Option<SystemTime> = None;
        let wanted = state
            .messages
            .values()
            .filter(|entry| endpoint.is_none_or(|name| entry.message.endpoint == name));
        for entry in wanted {
            if entry.dead.is_some() {
                stats.dead += 1;
                continue;
            }
            if entry.lease.is_some() && entry.due > now {
                stats.in_flight += 1;
            } else {
                stats.pending += 1;
            }
            let created = entry.message.created_at;
            oldest = Some(oldest.map_or(created, |oldest| oldest.min(created)));
        }
        stats.oldest_age = oldest.map(|at| now.duration_since(at).unwrap_or_default());
        Ok(stats)
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, OutboxError> {
        let state = self.state.lock();
        let mut dead: Vec<DeadLetter> = state
            .messages
            .values()
            .filter_map(|entry| {
                let (died_at, reason) = entry.dead.clone()?;
                Some((entry.seq, died_at, reason, entry.message.clone()))
            })
            .map(|(_, died_at, reason, message)| DeadLetter {
                message,
                died_at,
                reason,
            })
            .collect();
        dead.sort_by(|a, b| {
            (a.died_at, &a.message.created_at, &a.message.id).cmp(&(
                b.died_at,
                &b.message.created_at,
                &b.message.id,
            ))
        });
        dead.truncate(limit);
        Ok(dead)
    }

    async fn replay(&self, which: Replay) -> Result<u64, OutboxError> {
        let now = clock::now();
        let mut state = self.state.lock();
        let ids: Vec<String> = state
            .messages
            .values()
            .filter(|entry| entry.dead.is_some())
            .filter(|entry| match &which {
                Replay::All => true,
                Replay::Endpoint(name) => entry.message.endpoint == *name,
                Replay::Ids(ids) => ids.contains(&entry.message.id),
            })
            .map(|entry| entry.message.id.clone())
            .collect();

        for id in &ids {
            let entry = state.messages.get_mut(id).expect("collected above");
            entry.dead = None;
            entry.message.attempts = 0;
            let (seq, endpoint) = (entry.seq, entry.message.endpoint.clone());
            entry.due = now;
            state.index(&endpoint, (now, seq, id.clone()));
        }
        Ok(ids.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    /// A small deterministic generator, so that a failing sequence can be run again.
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 33) % n
        }
    }

    /// What a claim skipping `skip` must take: the first due messages of the claim order that
    /// are not addressed to a skipped endpoint.
    fn expected(state: &State, now: SystemTime, limit: usize, skip: &[String]) -> Vec<String> {
        state
            .due
            .iter()
            .take_while(|(due, _, _)| *due <= now)
            .filter(|(_, _, id)| !skip.contains(&state.messages[id].message.endpoint))
            .take(limit)
            .map(|(_, _, id)| id.clone())
            .collect()
    }

    fn heads_are_each_endpoints_oldest(state: &State) {
        let heads: BTreeSet<(Due, String)> = state
            .due_per_endpoint
            .iter()
            .map(|(endpoint, places)| (places.first().unwrap().clone(), endpoint.clone()))
            .collect();
        assert_eq!(state.heads, heads);
        assert!(state
            .due_per_endpoint
            .values()
            .all(|places| !places.is_empty()));
    }

    #[test]
    fn claims_that_skip_take_the_others_oldest_first_through_any_changes() {
        let at = |seconds: u64| UNIX_EPOCH + Duration::from_secs(1_000_000 + seconds);
        let endpoints: Vec<String> = (0..5).map(|n| format!("e{n}")).collect();
        for seed in 0..20 {
            let mut rng = Lcg(seed);
            let mut state = State::default();
            let mut ids = Vec::new();
            for step in 0..400 {
                match rng.below(10) {
                    0..=4 => {
                        let endpoint = &endpoints[rng.below(5) as usize];
                        let mut message = NewMessage::new(endpoint.as_str(), "{}");
                        message.not_before = Some(at(rng.below(100)));
                        ids.push(state.enqueue(message, at(0)).id);
                    }
                    5 | 6 if !ids.is_empty() => {
                        let id = ids[rng.below(ids.len() as u64) as usize].clone();
                        state.set_due(&id, Some(at(rng.below(100))));
                    }
                    7 if !ids.is_empty() => {
                        let id = ids.swap_remove(rng.below(ids.len() as u64) as usize);
                        state.remove(&id);
                    }
                    _ => {
                        let skip: Vec<String> = endpoints
                            .iter()
                            .filter(|_| rng.below(2) == 0)
                            .cloned()
                            .collect();
                        let limit = 1 + rng.below(12) as usize;
                        let now = at(rng.below(110));
                        assert_eq!(
                            state.due_ids(now, limit, &skip),
                            expected(&state, now, limit, &skip),
                            "seed {seed}, step {step}, skipping {skip:?}, limit {limit}"
                        );
                    }
                }
                heads_are_each_endpoints_oldest(&state);
            }
        }
    }
}
