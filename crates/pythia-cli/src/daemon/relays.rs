//! `[[relay]]`: broker sources relayed into the outbox.

/// Whether this binary was built with the feature that a source kind needs.
pub(crate) fn kind_is_built(kind: &str) -> bool {
    match kind {
        "redis_list" | "redis_stream" => cfg!(feature = "redis"),
        "nats" => cfg!(feature = "nats"),
        "rabbitmq" => cfg!(feature = "rabbitmq"),
        _ => false,
    }
}
