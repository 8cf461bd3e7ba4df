//! poller (placeholder; owned by a helper)
