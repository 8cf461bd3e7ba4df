//! Errors raised while configuring a poller.

use std::time::Duration;

/// A poller configuration that cannot work, named so the operator can fix it.
///
/// Messages are lowercase, never end with a period and never show a secret: URLs are shown
/// without credentials and header values are never shown.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No URL was given, neither in code nor in `POLLER_URL`.
    #[error("no poller url: set one in code or in POLLER_URL")]
    MissingUrl,
    /// The URL does not parse or is not http(s).
    #[error("invalid poller url {url:?}: {reason}")]
    InvalidUrl {
        /// The URL, without credentials.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// A duration (interval or timeout) that does not parse.
    #[error("invalid {name} {value:?}: expected seconds (\"30\", \"2.5\") or a duration (\"1m\")")]
    InvalidDuration {
        /// The setting or environment variable.
        name: &'static str,
        /// The text given.
        value: String,
    },
    /// A zero interval.
    #[error("invalid poll interval: it must be greater than zero")]
    ZeroInterval,
    /// An HTTP method that is not a valid token.
    #[error("invalid poller method {0:?}")]
    InvalidMethod(String),
    /// A timeout longer than the interval: polls would overlap their own next tick.
    #[error("{name} of {timeout:?} is longer than the poll interval of {interval:?}")]
    TimeoutExceedsInterval {
        /// Which timeout.
        name: &'static str,
        /// The timeout given.
        timeout: Duration,
        /// The interval.
        interval: Duration,
    },
    /// A header name or value that HTTP does not allow; the value is never shown.
    #[error("invalid header {name:?}")]
    InvalidHeader {
        /// The header name.
        name: String,
    },
    /// A cron expression that does not parse.
    #[error("invalid cron expression {expression:?}: {reason}")]
    InvalidCron {
        /// The expression.
        expression: String,
        /// Why it was refused.
        reason: String,
    },
    /// A JSON pointer that does not start with `/`.
    #[error("invalid json pointer {0:?}: it must be empty or start with '/'")]
    InvalidPointer(String),
    /// A poller without a handler.
    #[error("no handler: set one with handler() or handler_fn()")]
    MissingHandler,
    /// A setting that is out of range.
    #[error("invalid {name}: {reason}")]
    Invalid {
        /// The setting.
        name: &'static str,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The HTTP client could not be built from this configuration.
    #[error("cannot build the http client: {0}")]
    Http(String),
}

impl ConfigError {
    /// Configuration errors never go away by retrying.
    pub fn is_retryable(&self) -> bool {
        false
    }
}
