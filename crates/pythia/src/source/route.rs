//! Which endpoints a relayed message goes to.

use std::collections::HashMap;

use crate::Message;

/// A routing rule from a message to endpoint names.
///
/// ```
/// use pythia::source::Route;
///
/// // The specification's relay: route by the `event_type` field.
/// let route = Route::field("/event_type")
///     .map("order_created", ["orders_created"])
///     .map("order_cancelled", ["orders_cancelled", "audit"]);
///
/// // Or let endpoints subscribe to event types; `*` takes every type.
/// let route = Route::subscriptions("/event_type")
///     .subscribe("orders", ["order_created", "order_updated"])
///     .subscribe("audit", ["*"]);
/// ```
#[derive(Clone, Debug)]
pub struct Route {
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    All(Vec<String>),
    Field {
        pointer: String,
        map: HashMap<String, Vec<String>>,
        otherwise: Vec<String>,
    },
    Subscriptions {
        pointer: String,
        subscriptions: Vec<(String, Vec<String>)>,
    },
}

/// Where one message goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Routed {
    /// The endpoints, none when the message is unroutable.
    pub(crate) endpoints: Vec<String>,
    /// The event type read from the message, if the rule reads one.
    pub(crate) event_type: Option<String>,
}

impl Route {
    /// Every message goes to these endpoints, whatever it holds (JSON or not).
    pub fn to<I, S>(endpoints: I) -> Route
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Route {
            kind: Kind::All(endpoints.into_iter().map(Into::into).collect()),
        }
    }

    /// Routes by the value at a JSON pointer (RFC 6901, e.g. `/event_type`) of the body. Add
    /// values with [`map`](Route::map); values not mapped go to the
    /// [`otherwise`](Route::otherwise) endpoints, none by default.
    pub fn field(pointer: impl Into<String>) -> Route {
        Route {
            kind: Kind::Field {
                pointer: pointer.into(),
                map: HashMap::new(),
                otherwise: Vec::new(),
            },
        }
    }

    /// Endpoints subscribe to event types read at a JSON pointer; add them with
    /// [`subscribe`](Route::subscribe).
    pub fn subscriptions(pointer: impl Into<String>) -> Route {
        Route {
            kind: Kind::Subscriptions {
                pointer: pointer.into(),
                subscriptions: Vec::new(),
            },
        }
    }

    /// For a [`field`](Route::field) rule: messages whose field equals `value` go to
    /// `endpoints` (numbers and booleans compare by their JSON text). Ignored by other rules.
    pub fn map<I, S>(mut self, value: impl Into<String>, endpoints: I) -> Route
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        if let Kind::Field { map, .. } = &mut self.kind {
            map.entry(value.into())
                .or_default()
                .extend(endpoints.into_iter().map(Into::into));
        }
        self
    }

    /// For a [`field`](Route::field) rule: where messages go whose field is missing, not
    /// mapped, or whose body is not JSON. Default: nowhere, so they are unroutable.
    pub fn otherwise<I, S>(mut self, endpoints: I) -> Route
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        if let Kind::Field { otherwise, .. } = &mut self.kind {
            *otherwise = endpoints.into_iter().map(Into::into).collect();
        }
        self
    }

    /// For a [`subscriptions`](Route::subscriptions) rule: `endpoint` receives the listed event
    /// types, or every type for `*`. Ignored by other rules.
    pub fn subscribe<I, S>(mut self, endpoint: impl Into<String>, event_types: I) -> Route
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        if let Kind::Subscriptions { subscriptions, .. } = &mut self.kind {
            subscriptions.push((
                endpoint.into(),
                event_types.into_iter().map(Into::into).collect(),
            ));
        }
        self
    }

    /// Every endpoint name this rule can route to.
    pub fn endpoints(&self) -> Vec<&str> {
        let mut names: Vec<&str> = match &self.kind {
            Kind::All(endpoints) => endpoints.iter().map(String::as_str).collect(),
            Kind::Field { map, otherwise, .. } => map
                .values()
                .flatten()
                .chain(otherwise)
                .map(String::as_str)
                .collect(),
            Kind::Subscriptions { subscriptions, .. } => subscriptions
                .iter()
                .map(|(name, _)| name.as_str())
                .collect(),
        };
        names.sort_unstable();
        names.dedup();
        names
    }

    pub(crate) fn resolve(&self, message: &Message) -> Routed {
        match &self.kind {
            Kind::All(endpoints) => Routed {
                endpoints: endpoints.clone(),
                event_type: None,
            },
            Kind::Field {
                pointer,
                map,
                otherwise,
            } => {
                let event_type = read_key(message, pointer);
                let endpoints = event_type
                    .as_ref()
                    .and_then(|value| map.get(value))
                    .unwrap_or(otherwise)
                    .clone();
                Routed {
                    endpoints,
                    event_type,
                }
            }
            Kind::Subscriptions {
                pointer,
                subscriptions,
            } => {
                let event_type = read_key(message, pointer);
                let endpoints = match &event_type {
                    Some(value) => subscriptions
                        .iter()
                        .filter(|(_, types)| types.iter().any(|t| t == "*" || t == value))
                        .map(|(name, _)| name.clone())
                        .collect(),
                    None => Vec::new(),
                };
                Routed {
                    endpoints,
                    event_type,
                }
            }
        }
    }
}

/// The routing key at `pointer`: a string as is, a number or boolean as its JSON text.
fn read_key(message: &Message, pointer: &str) -> Option<String> {
    match message.body.pointer(pointer)? {
        serde_json::Value::String(text) => Some(text.clone()),
        value @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_)) => {
            Some(value.to_string())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order(event_type: serde_json::Value) -> Message {
        Message::json(json!({"event_type": event_type, "id": 1}))
    }

    #[test]
    fn a_field_rule_routes_by_the_value_at_its_pointer() {
        let route = Route::field("/event_type")
            .map("order_created", ["created"])
            .map("order_cancelled", ["cancelled", "audit"]);

        let routed = route.resolve(&order(json!("order_cancelled")));

        assert_eq!(routed.endpoints, ["cancelled", "audit"]);
        assert_eq!(routed.event_type.as_deref(), Some("order_cancelled"));
    }

    #[test]
    fn unmapped_values_and_non_json_bodies_go_to_the_otherwise_endpoints() {
        let strict = Route::field("/event_type").map("a", ["x"]);
        let lenient = strict.clone().otherwise(["fallback"]);
        let bytes = Message::new(crate::Body::Bytes(bytes::Bytes::from_static(&[0xff])));

        assert!(strict.resolve(&order(json!("b"))).endpoints.is_empty());
        assert!(strict.resolve(&bytes).endpoints.is_empty());
        assert_eq!(lenient.resolve(&bytes).endpoints, ["fallback"]);
    }

    #[test]
    fn numbers_route_by_their_json_text() {
        let route = Route::field("/event_type").map("7", ["seven"]);

        assert_eq!(route.resolve(&order(json!(7))).endpoints, ["seven"]);
    }

    #[test]
    fn subscriptions_collect_every_endpoint_that_takes_the_type() {
        let route = Route::subscriptions("/event_type")
            .subscribe("orders", ["order_created", "order_updated"])
            .subscribe("audit", ["*"])
            .subscribe("billing", ["invoice_paid"]);

        let routed = route.resolve(&order(json!("order_updated")));

        assert_eq!(routed.endpoints, ["orders", "audit"]);
    }

    #[test]
    fn a_fixed_rule_routes_everything_and_lists_its_endpoints() {
        let route = Route::to(["b", "a", "b"]);

        assert_eq!(
            route.resolve(&Message::new("text")).endpoints,
            ["b", "a", "b"]
        );
        assert_eq!(route.endpoints(), ["a", "b"]);
    }
}
