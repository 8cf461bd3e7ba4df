//! [`Error`]: why a request produced no response.

use std::error::Error as StdError;
use std::fmt;

use http::StatusCode;

use super::redact::RedactedUrl;

/// The kind of an [`Error`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The client could not be built (bad TLS files, bad settings).
    Builder,
    /// The URL is malformed or not http(s).
    InvalidUrl,
    /// The connection could not be made (refused, reset while connecting, DNS failure).
    Connect,
    /// An attempt timed out (connect, read, or the per-attempt timeout).
    Timeout,
    /// The TLS handshake failed (untrusted certificate, bad client certificate).
    Tls,
    /// The response body is larger than the configured cap.
    BodyTooLarge,
    /// The host's circuit breaker is open.
    CircuitOpen,
    /// The request's total deadline passed.
    Deadline,
    /// The host resolves to an address that is not allowed (the SSRF guard).
    RefusedAddress,
    /// Too many redirects, or a redirect that is not allowed.
    Redirect,
    /// The request failed after the connection was made (reset, protocol error).
    Request,
    /// The response body could not be decoded.
    Decode,
}

impl ErrorKind {
    /// A lowercase name, as used in metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Builder => "builder",
            ErrorKind::InvalidUrl => "invalid_url",
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Tls => "tls",
            ErrorKind::BodyTooLarge => "body_too_large",
            ErrorKind::CircuitOpen => "circuit_open",
            ErrorKind::Deadline => "deadline",
            ErrorKind::RefusedAddress => "refused_address",
            ErrorKind::Redirect => "redirect",
            ErrorKind::Request => "request",
            ErrorKind::Decode => "decode",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            ErrorKind::Builder => "cannot build the http client",
            ErrorKind::InvalidUrl => "invalid url",
            ErrorKind::Connect => "connection failed",
            ErrorKind::Timeout => "request timed out",
            ErrorKind::Tls => "tls handshake failed",
            ErrorKind::BodyTooLarge => "response body too large",
            ErrorKind::CircuitOpen => "circuit breaker open",
            ErrorKind::Deadline => "request deadline exceeded",
            ErrorKind::RefusedAddress => "address refused",
            ErrorKind::Redirect => "redirect refused",
            ErrorKind::Request => "request failed",
            ErrorKind::Decode => "cannot decode the response body",
        }
    }
}

/// Why a request produced no response: a transport failure, a timeout, an open breaker, a
/// refused address, a body over the cap, a bad URL.
///
/// HTTP statuses are not errors: they come back as a [`Response`](super::Response) once
/// retries are spent. The message is lowercase and never shows a secret: URLs lose their
/// password and query string.
pub struct Error {
    kind: ErrorKind,
    detail: Option<String>,
    url: Option<RedactedUrl>,
    status: Option<StatusCode>,
    attempts: u32,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Self {
        Error {
            kind,
            detail: None,
            url: None,
            status: None,
            attempts: 0,
            source: None,
        }
    }

    pub(crate) fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub(crate) fn with_url(mut self, url: &url::Url) -> Self {
        self.url = Some(RedactedUrl::new(url));
        self
    }

    pub(crate) fn with_status(mut self, status: StatusCode) -> Self {
        self.status = Some(status);
        self
    }

    pub(crate) fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts;
        self
    }

    pub(crate) fn with_source(
        mut self,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        self.source = Some(source.into());
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether another attempt could succeed: connect failures, timeouts, resets, an open
    /// breaker and a passed deadline (for a later request) are; bad URLs, refused addresses,
    /// TLS failures, oversized and undecodable bodies are not.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Connect
                | ErrorKind::Timeout
                | ErrorKind::Request
                | ErrorKind::CircuitOpen
                | ErrorKind::Deadline
        )
    }

    /// Whether an attempt timed out, or the total deadline passed.
    pub fn is_timeout(&self) -> bool {
        matches!(self.kind, ErrorKind::Timeout | ErrorKind::Deadline)
    }

    /// Whether the connection could not be made.
    pub fn is_connect(&self) -> bool {
        self.kind == ErrorKind::Connect
    }

    /// The status of the response the error is about, if any (a body over the cap, an
    /// undecodable body).
    pub fn status(&self) -> Option<StatusCode> {
        self.status
    }

    /// The attempts made before the error (0 when none reached the network).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.describe())?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        if let Some(url) = &self.url {
            write!(f, " ({url})")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Error");
        debug.field("kind", &self.kind);
        if let Some(detail) = &self.detail {
            debug.field("detail", detail);
        }
        if let Some(url) = &self.url {
            debug.field("url", &format_args!("{url}"));
        }
        if let Some(status) = self.status {
            debug.field("status", &status);
        }
        if self.attempts > 0 {
            debug.field("attempts", &self.attempts);
        }
        if let Some(source) = &self.source {
            debug.field("source", &format_args!("{source}"));
        }
        debug.finish()
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_lowercase_and_hides_the_password_and_query() {
        let url = url::Url::parse("https://ann:hunter2@api.example.com/v1/x?token=abc").unwrap();

        let error = Error::new(ErrorKind::Connect)
            .with_detail("connection refused")
            .with_url(&url);
        let shown = format!("{error} {error:?}");

        assert_eq!(
            error.to_string(),
            "connection failed: connection refused (https://api.example.com/v1/x)"
        );
        assert!(
            !shown.contains("hunter2") && !shown.contains("abc"),
            "{shown}"
        );
    }

    #[test]
    fn transient_kinds_are_retryable_and_permanent_ones_are_not() {
        let retryable = |kind| Error::new(kind).is_retryable();

        assert!(retryable(ErrorKind::Connect) && retryable(ErrorKind::Timeout));
        assert!(retryable(ErrorKind::Request) && retryable(ErrorKind::CircuitOpen));
        assert!(!retryable(ErrorKind::InvalidUrl) && !retryable(ErrorKind::Tls));
        assert!(!retryable(ErrorKind::BodyTooLarge) && !retryable(ErrorKind::RefusedAddress));
    }
}
