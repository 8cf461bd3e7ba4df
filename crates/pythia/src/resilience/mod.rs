//! Resilience building blocks: retry policies, circuit breakers, rate limiters and retry
//! budgets.
//!
//! [`HttpClient`](crate::http::HttpClient) composes them per host; webhook endpoints reuse them
//! per endpoint. All of them read time from [`tokio::time`], so tests drive them with a paused
//! clock, and every random choice can be seeded.
//!
//! | part | what it does |
//! | --- | --- |
//! | [`RetryPolicy`] | fixed, linear, exponential or listed delays; jitter; limits; `Retry-After` |
//! | [`CircuitBreaker`] | trips on failures in a row, a failure or slow-call rate; probes |
//! | [`RateLimiter`] | a token bucket |
//! | [`RetryBudget`] | keeps retries under a share of the traffic |

mod breaker;
mod budget;
mod error;
mod rate_limit;
mod retry;

pub use breaker::{
    BreakerOpen, BreakerPermit, BreakerState, CircuitBreaker, CircuitBreakerConfig,
    CircuitBreakerConfigBuilder,
};
pub use budget::{RetryBudget, RetryBudgetConfig};
pub use error::ConfigError;
pub use rate_limit::{RateLimit, RateLimiter};
pub use retry::{parse_retry_after, Jitter, RetryPolicy, RetryPolicyBuilder, RetryState};
