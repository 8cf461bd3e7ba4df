//! The endpoint names and event-type subscriptions that ingest and relays route by.

use std::collections::BTreeMap;

/// Declared endpoints and the event types each accepts (empty: all).
#[derive(Debug, Default, Clone)]
pub(crate) struct Endpoints {
    by_name: BTreeMap<String, Vec<String>>,
}

impl Endpoints {
    /// Adds an endpoint.
    pub(crate) fn insert(&mut self, name: impl Into<String>, event_types: Vec<String>) {
        self.by_name.insert(name.into(), event_types);
    }

    /// Whether an endpoint of this name exists.
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// Endpoints that receive `event_type`: those listing it, or listing nothing.
    pub(crate) fn subscribed_to(&self, event_type: &str) -> Vec<String> {
        self.by_name
            .iter()
            .filter(|(_, types)| types.is_empty() || types.iter().any(|t| t == event_type))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Whether endpoint `name` takes messages of `event_type`.
    pub(crate) fn accepts(&self, name: &str, event_type: &str) -> bool {
        self.by_name
            .get(name)
            .is_some_and(|types| types.is_empty() || types.iter().any(|t| t == event_type))
    }

    /// Each endpoint and the event types it subscribes to (empty: all).
    pub(crate) fn subscriptions(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.by_name
            .iter()
            .map(|(name, types)| (name.as_str(), types.as_slice()))
    }

    /// The names, sorted.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_without_a_filter_receive_every_event_type() {
        let mut endpoints = Endpoints::default();
        endpoints.insert("all", vec![]);
        endpoints.insert("orders", vec!["order.created".into()]);

        assert_eq!(endpoints.subscribed_to("order.created"), ["all", "orders"]);
        assert_eq!(endpoints.subscribed_to("user.deleted"), ["all"]);
    }
}
