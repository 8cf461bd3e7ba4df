//! Remembering which items were already handed over, in a bounded set.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use super::error::ConfigError;
use super::extract::check_pointer;

type KeyFn = dyn Fn(&Value) -> Option<String> + Send + Sync;

/// The number of keys remembered per target when none is set.
pub const DEFAULT_DEDUP_CAPACITY: usize = 10_000;

/// How items are recognised across polls: an item whose key was seen in an earlier poll (or
/// earlier in the same poll) is not handed over again.
///
/// Each target remembers at most `capacity` keys; the oldest are forgotten first. Items without
/// a key (the pointer does not resolve, or the closure returns `None`) are always handed over.
///
/// ```
/// use pythia::poller::Dedup;
///
/// let by_id = Dedup::pointer("/id")?.capacity(50_000);
/// let by_closure = Dedup::from_fn(|item| {
///     item.get("id").map(|id| format!("{id}:{}", item["version"]))
/// });
/// # let _ = (by_id, by_closure);
/// # Ok::<(), pythia::poller::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct Dedup {
    key: Key,
    capacity: usize,
}

#[derive(Clone)]
enum Key {
    Pointer(String),
    Fn(Arc<KeyFn>),
}

impl fmt::Debug for Dedup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = match &self.key {
            Key::Pointer(pointer) => pointer.as_str(),
            Key::Fn(_) => "<fn>",
        };
        f.debug_struct("Dedup")
            .field("key", &key)
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl Dedup {
    /// Keys read from each item at a JSON pointer; strings as they are, other values as JSON.
    pub fn pointer(pointer: &str) -> Result<Dedup, ConfigError> {
        check_pointer(pointer)?;
        Ok(Dedup {
            key: Key::Pointer(pointer.to_owned()),
            capacity: DEFAULT_DEDUP_CAPACITY,
        })
    }

    /// Keys computed by a closure.
    pub fn from_fn(f: impl Fn(&Value) -> Option<String> + Send + Sync + 'static) -> Dedup {
        Dedup {
            key: Key::Fn(Arc::new(f)),
            capacity: DEFAULT_DEDUP_CAPACITY,
        }
    }

    /// How many keys each target remembers. Default: 10,000 (at least 1).
    pub fn capacity(mut self, capacity: usize) -> Dedup {
        self.capacity = capacity.max(1);
        self
    }

    /// The key of one item.
    pub fn key_of(&self, item: &Value) -> Option<String> {
        match &self.key {
            Key::Fn(f) => f(item),
            Key::Pointer(pointer) => match item.pointer(pointer)? {
                Value::Null => None,
                Value::String(text) => Some(text.clone()),
                other => Some(other.to_string()),
            },
        }
    }

    pub(crate) fn max_keys(&self) -> usize {
        self.capacity
    }
}

/// A set of keys that forgets the oldest once full.
#[derive(Clone, Debug, Default)]
pub(crate) struct SeenKeys {
    order: VecDeque<String>,
    set: HashSet<String>,
}

impl SeenKeys {
    /// Keys in the order they were seen, oldest first.
    pub(crate) fn from_keys(keys: Vec<String>, capacity: usize) -> SeenKeys {
        let mut seen = SeenKeys::default();
        for key in keys {
            seen.insert(key, capacity);
        }
        seen
    }

    /// Records a key; `false` when it was already there.
    pub(crate) fn insert(&mut self, key: String, capacity: usize) -> bool {
        if self.set.contains(&key) {
            return false;
        }
        while self.order.len() >= capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.set.remove(&oldest);
            }
        }
        self.set.insert(key.clone());
        self.order.push_back(key);
        true
    }

    /// Keys oldest first, for persisting.
    pub(crate) fn keys(&self) -> Vec<String> {
        self.order.iter().cloned().collect()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_oldest_keys_are_forgotten_once_full() {
        let mut seen = SeenKeys::default();

        let fresh: Vec<bool> = ["a", "b", "a", "c", "a"]
            .iter()
            .map(|key| seen.insert((*key).to_owned(), 2))
            .collect();

        // "c" pushed "a" out, so the last "a" is new again.
        assert_eq!(fresh, vec![true, true, false, true, true]);
        assert_eq!(seen.len(), 2);
    }

    #[test]
    fn pointer_keys_read_strings_and_numbers() {
        let dedup = Dedup::pointer("/id").unwrap();

        assert_eq!(dedup.key_of(&json!({"id": "a1"})), Some("a1".to_owned()));
        assert_eq!(dedup.key_of(&json!({"id": 7})), Some("7".to_owned()));
        assert_eq!(dedup.key_of(&json!({"other": 7})), None);
    }
}
