//! Circuit breakers: stop calling a host that keeps failing, and probe it for recovery.

mod circuit;
mod config;
mod window;

pub use circuit::{BreakerOpen, BreakerPermit, BreakerState, CircuitBreaker};
pub use config::{CircuitBreakerConfig, CircuitBreakerConfigBuilder};
