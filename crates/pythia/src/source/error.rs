//! What can go wrong with a source.

/// A source failure. Messages never contain payloads or credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The source is configured wrongly: a bad URL, a missing queue name.
    #[error("invalid source configuration: {0}")]
    Config(String),
    /// The broker could not be reached or refused an operation; retrying may help.
    #[error("broker unavailable: {0}")]
    Unavailable(String),
    /// An acknowledgement could not be given; the broker will redeliver the message.
    #[error("acknowledgement failed: {0}")]
    Ack(String),
    /// The source was closed.
    #[error("source is closed")]
    Closed,
}

impl SourceError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, SourceError::Unavailable(_) | SourceError::Ack(_))
    }
}
