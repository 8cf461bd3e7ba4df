//! Retry policies: strategies, jitter, limits and `Retry-After`.

mod jitter;
mod policy;
mod retry_after;
mod state;

pub use jitter::Jitter;
pub use policy::{RetryPolicy, RetryPolicyBuilder};
pub use retry_after::parse_retry_after;
pub use state::RetryState;
