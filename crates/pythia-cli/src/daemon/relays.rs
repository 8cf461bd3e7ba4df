//! `[[relay]]`: broker sources relayed into the outbox.

/// The source kinds this binary was built with.
const BUILT_KINDS: &[&str] = &[
    #[cfg(feature = "redis")]
    "redis_list",
    #[cfg(feature = "redis")]
    "redis_stream",
    #[cfg(feature = "nats")]
    "nats",
    #[cfg(feature = "rabbitmq")]
    "rabbitmq",
];

/// Whether this binary was built with the feature that a source kind needs.
pub(crate) fn kind_is_built(kind: &str) -> bool {
    BUILT_KINDS.contains(&kind)
}
