//! Turning one response into many messages, as the specification's `data_extractor` does.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use super::error::ConfigError;

type ExtractFn = dyn Fn(&Value) -> Vec<Value> + Send + Sync;

/// Pulls the items out of a JSON response; each item becomes its own message.
///
/// ```
/// use pythia::poller::Extractor;
/// use serde_json::{json, Value};
///
/// // The specification's `extract_events`: the "events" list, or the whole response.
/// let closure = Extractor::from_fn(|body: &Value| match body.get("events") {
///     Some(Value::Array(events)) => events.clone(),
///     _ => vec![body.clone()],
/// });
/// // The same from configuration: the array at a JSON pointer.
/// let pointer = Extractor::pointer("/events")?;
///
/// let body = json!({"events": [{"type": "purchase"}, {"type": "user_signup"}]});
/// assert_eq!(closure.extract(&body).len(), 2);
/// assert_eq!(pointer.extract(&body).len(), 2);
/// # Ok::<(), pythia::poller::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct Extractor {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    Pointer(String),
    Fn(Arc<ExtractFn>),
}

impl fmt::Debug for Extractor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Pointer(pointer) => f.debug_tuple("Pointer").field(pointer).finish(),
            Kind::Fn(_) => f.write_str("Fn"),
        }
    }
}

impl Extractor {
    /// Items at a JSON pointer (RFC 6901): each element of an array, a single other value as one
    /// item, nothing when the pointer does not resolve or points at `null`.
    pub fn pointer(pointer: &str) -> Result<Extractor, ConfigError> {
        check_pointer(pointer)?;
        Ok(Extractor {
            kind: Kind::Pointer(pointer.to_owned()),
        })
    }

    /// Items returned by a closure over the decoded JSON body.
    pub fn from_fn(f: impl Fn(&Value) -> Vec<Value> + Send + Sync + 'static) -> Extractor {
        Extractor {
            kind: Kind::Fn(Arc::new(f)),
        }
    }

    /// The items of one JSON body.
    pub fn extract(&self, body: &Value) -> Vec<Value> {
        match &self.kind {
            Kind::Fn(f) => f(body),
            Kind::Pointer(pointer) => match body.pointer(pointer) {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(items)) => items.clone(),
                Some(other) => vec![other.clone()],
            },
        }
    }
}

/// Refuses a JSON pointer that is neither empty nor starts with `/`.
pub(crate) fn check_pointer(pointer: &str) -> Result<(), ConfigError> {
    if pointer.is_empty() || pointer.starts_with('/') {
        Ok(())
    } else {
        Err(ConfigError::InvalidPointer(pointer.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pointers_yield_array_elements_single_values_or_nothing() {
        let body = json!({"data": {"items": [1, 2, 3], "one": {"a": 1}, "none": null}});

        let many = Extractor::pointer("/data/items").unwrap().extract(&body);
        let one = Extractor::pointer("/data/one").unwrap().extract(&body);
        let null = Extractor::pointer("/data/none").unwrap().extract(&body);
        let missing = Extractor::pointer("/nope").unwrap().extract(&body);

        assert_eq!(many, vec![json!(1), json!(2), json!(3)]);
        assert_eq!(one, vec![json!({"a": 1})]);
        assert!(null.is_empty());
        assert!(missing.is_empty());
    }

    #[test]
    fn pointers_without_a_leading_slash_are_refused() {
        assert!(matches!(
            Extractor::pointer("data/items").unwrap_err(),
            ConfigError::InvalidPointer(_)
        ));
    }
}
