//! Loading an [`HttpClientConfig`] from the specification's environment variables.

use std::time::Duration;

use super::{Auth, HttpClientConfig};
use crate::resilience::{ConfigError, RetryPolicy};

/// The variables [`HttpClientConfig::from_env`] reads, with what each sets.
///
/// | variable | sets | value |
/// | --- | --- | --- |
/// | `HTTP_BASE_URL` | `base_url` | an absolute http(s) URL |
/// | `HTTP_TIMEOUT` | `attempt_timeout` | seconds (`30`, `2.5`) or a duration (`30s`) |
/// | `HTTP_CONNECT_TIMEOUT` | `connect_timeout` | seconds or a duration |
/// | `HTTP_READ_TIMEOUT` | `read_timeout` | seconds or a duration |
/// | `HTTP_MAX_RETRIES` | retry `max_attempts` (retries + 1) | a whole number |
/// | `HTTP_RETRY_DELAY` | retry initial delay | seconds or a duration |
/// | `HTTP_RETRY_BACKOFF` | retry exponential base | a number of at least 1 |
/// | `HTTP_AUTH_TYPE` | auth scheme | `none`, `bearer`, `api_key` (`apikey`, `api-key`), `basic` |
/// | `HTTP_BEARER_TOKEN` | bearer token | text |
/// | `HTTP_API_KEY` | API key | text |
/// | `HTTP_API_KEY_HEADER` | API key header (default `X-API-Key`) | a header name |
/// | `HTTP_BASIC_USER`, `HTTP_BASIC_PASSWORD` | basic credentials | text |
/// | `HTTP_SSL_VERIFY` | `verify_tls` | `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off` |
/// | `HTTP_SSL_CERT_FILE`, `HTTP_SSL_KEY_FILE` | `client_identity` (both or neither) | paths |
/// | `HTTP_SSL_CA_FILE` | `ca_file` | a path |
/// | `HTTP_CONNECTION_POOL_SIZE` | `pool_size` | a whole number of at least 1 |
/// | `HTTP_MAX_KEEPALIVE_CONNECTIONS` | `max_keepalive_connections` | a whole number |
/// | `HTTP_KEEPALIVE_EXPIRY` | `keepalive_expiry` | seconds or a duration |
/// | `HTTP_USER_AGENT` | `user_agent` | text |
/// | `HTTP_FOLLOW_REDIRECTS` | `follow_redirects` | a boolean |
/// | `HTTP_MAX_BODY_BYTES` | `max_body_bytes` | a whole number of at least 1 |
///
/// When `HTTP_AUTH_TYPE` is unset, a set `HTTP_BEARER_TOKEN` means bearer and a set
/// `HTTP_API_KEY` means API key. Empty variables count as unset.
pub const ENV_VARIABLES: &[&str] = &[
    "HTTP_BASE_URL",
    "HTTP_TIMEOUT",
    "HTTP_CONNECT_TIMEOUT",
    "HTTP_READ_TIMEOUT",
    "HTTP_MAX_RETRIES",
    "HTTP_RETRY_DELAY",
    "HTTP_RETRY_BACKOFF",
    "HTTP_AUTH_TYPE",
    "HTTP_BEARER_TOKEN",
    "HTTP_API_KEY",
    "HTTP_API_KEY_HEADER",
    "HTTP_BASIC_USER",
    "HTTP_BASIC_PASSWORD",
    "HTTP_SSL_VERIFY",
    "HTTP_SSL_CERT_FILE",
    "HTTP_SSL_KEY_FILE",
    "HTTP_SSL_CA_FILE",
    "HTTP_CONNECTION_POOL_SIZE",
    "HTTP_MAX_KEEPALIVE_CONNECTIONS",
    "HTTP_KEEPALIVE_EXPIRY",
    "HTTP_USER_AGENT",
    "HTTP_FOLLOW_REDIRECTS",
    "HTTP_MAX_BODY_BYTES",
];

impl HttpClientConfig {
    /// Loads the configuration from the process environment; see [`ENV_VARIABLES`] for the
    /// variables and their meaning. Unset variables keep the builder's defaults.
    ///
    /// A bad value is a [`ConfigError::Env`] naming the variable and the problem; the value of
    /// a secret (token, key, password) is never part of the message.
    pub fn from_env() -> Result<Self, ConfigError> {
        HttpClientConfig::from_env_with(|name| std::env::var(name).ok())
    }

    /// Loads the configuration from variables looked up by `lookup` (for tests, or for a
    /// configuration file's own variables).
    pub fn from_env_with<F>(lookup: F) -> Result<Self, ConfigError>
    where
        F: Fn(&str) -> Option<String>,
    {
        let env = Env(lookup);
        let mut builder = HttpClientConfig::builder();

        if let Some(url) = env.get("HTTP_BASE_URL") {
            builder = builder.base_url(&url);
        }
        if let Some(timeout) = env.duration("HTTP_TIMEOUT")? {
            builder = builder.attempt_timeout(timeout);
        }
        if let Some(timeout) = env.duration("HTTP_CONNECT_TIMEOUT")? {
            builder = builder.connect_timeout(timeout);
        }
        if let Some(timeout) = env.duration("HTTP_READ_TIMEOUT")? {
            builder = builder.read_timeout(timeout);
        }
        builder = builder.retry(env.retry()?);
        builder = builder.auth(env.auth()?);
        if let Some(verify) = env.boolean("HTTP_SSL_VERIFY")? {
            builder = builder.verify_tls(verify);
        }
        match (env.get("HTTP_SSL_CERT_FILE"), env.get("HTTP_SSL_KEY_FILE")) {
            (Some(cert), Some(key)) => builder = builder.client_identity(cert, key),
            (None, None) => {}
            (Some(_), None) => {
                return Err(ConfigError::env(
                    "HTTP_SSL_KEY_FILE",
                    "required with HTTP_SSL_CERT_FILE",
                ))
            }
            (None, Some(_)) => {
                return Err(ConfigError::env(
                    "HTTP_SSL_CERT_FILE",
                    "required with HTTP_SSL_KEY_FILE",
                ))
            }
        }
        if let Some(ca) = env.get("HTTP_SSL_CA_FILE") {
            builder = builder.ca_file(ca);
        }
        if let Some(size) = env.count("HTTP_CONNECTION_POOL_SIZE", 1)? {
            builder = builder.pool_size(size);
        }
        if let Some(count) = env.count("HTTP_MAX_KEEPALIVE_CONNECTIONS", 0)? {
            builder = builder.max_keepalive_connections(count);
        }
        if let Some(expiry) = env.duration("HTTP_KEEPALIVE_EXPIRY")? {
            builder = builder.keepalive_expiry(expiry);
        }
        if let Some(agent) = env.get("HTTP_USER_AGENT") {
            builder = builder.user_agent(&agent);
        }
        if let Some(follow) = env.boolean("HTTP_FOLLOW_REDIRECTS")? {
            builder = builder.follow_redirects(follow);
        }
        if let Some(bytes) = env.count("HTTP_MAX_BODY_BYTES", 1)? {
            builder = builder.max_body_bytes(bytes);
        }

        builder.build().map_err(|error| match error {
            ConfigError::Invalid { field, problem } => {
                ConfigError::env(variable_for(&field), problem)
            }
            other => other,
        })
    }
}

/// The variable behind a builder setting, for errors found by `build()`.
fn variable_for(field: &str) -> &'static str {
    match field {
        "base_url" => "HTTP_BASE_URL",
        "user_agent" => "HTTP_USER_AGENT",
        "auth" => "HTTP_AUTH_TYPE",
        "pool_size" => "HTTP_CONNECTION_POOL_SIZE",
        "max_body_bytes" => "HTTP_MAX_BODY_BYTES",
        "connect_timeout" => "HTTP_CONNECT_TIMEOUT",
        "read_timeout" => "HTTP_READ_TIMEOUT",
        "attempt_timeout" => "HTTP_TIMEOUT",
        _ => "HTTP_*",
    }
}

struct Env<F>(F);

impl<F: Fn(&str) -> Option<String>> Env<F> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn secret(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    fn duration(&self, name: &str) -> Result<Option<Duration>, ConfigError> {
        let Some(text) = self.get(name) else {
            return Ok(None);
        };
        parse_seconds(&text).map(Some).ok_or_else(|| {
            ConfigError::env(
                name,
                format!(
                    "expected a number of seconds (like 30 or 2.5) or a duration (like 30s), \
                     got {text:?}"
                ),
            )
        })
    }

    fn count(&self, name: &str, min: usize) -> Result<Option<usize>, ConfigError> {
        let Some(text) = self.get(name) else {
            return Ok(None);
        };
        match text.parse::<usize>() {
            Ok(n) if n >= min => Ok(Some(n)),
            _ => Err(ConfigError::env(
                name,
                format!("expected a whole number of at least {min}, got {text:?}"),
            )),
        }
    }

    fn boolean(&self, name: &str) -> Result<Option<bool>, ConfigError> {
        let Some(text) = self.get(name) else {
            return Ok(None);
        };
        match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Some(true)),
            "false" | "0" | "no" | "off" => Ok(Some(false)),
            _ => Err(ConfigError::env(
                name,
                format!("expected true or false, got {text:?}"),
            )),
        }
    }

    fn retry(&self) -> Result<RetryPolicy, ConfigError> {
        let mut builder = RetryPolicy::builder();
        if let Some(retries) = self.count("HTTP_MAX_RETRIES", 0)? {
            let attempts = u32::try_from(retries).unwrap_or(u32::MAX).saturating_add(1);
            builder = builder.max_attempts(attempts);
        }
        let delay = self
            .duration("HTTP_RETRY_DELAY")?
            .unwrap_or(Duration::from_secs(1));
        let base = match self.get("HTTP_RETRY_BACKOFF") {
            None => 2.0,
            Some(text) => match text.parse::<f64>() {
                Ok(base) if base.is_finite() && base >= 1.0 => base,
                _ => {
                    return Err(ConfigError::env(
                        "HTTP_RETRY_BACKOFF",
                        format!("expected a number of at least 1, got {text:?}"),
                    ))
                }
            },
        };
        builder = builder.exponential(delay, base);
        builder
            .build()
            .map_err(|e| ConfigError::env("HTTP_MAX_RETRIES", e.to_string()))
    }

    fn auth(&self) -> Result<Auth, ConfigError> {
        let kind = match self.get("HTTP_AUTH_TYPE") {
            Some(kind) => kind.to_ascii_lowercase(),
            None if self.secret("HTTP_BEARER_TOKEN").is_some() => "bearer".to_owned(),
            None if self.secret("HTTP_API_KEY").is_some() => "api_key".to_owned(),
            None => "none".to_owned(),
        };
        let required = |name: &str| {
            self.secret(name).ok_or_else(|| {
                ConfigError::env(name, format!("required when HTTP_AUTH_TYPE is {kind}"))
            })
        };
        let auth = match kind.as_str() {
            "none" | "" => Auth::None,
            "bearer" => Auth::Bearer(required("HTTP_BEARER_TOKEN")?),
            "api_key" | "apikey" | "api-key" => Auth::ApiKey {
                header: self
                    .get("HTTP_API_KEY_HEADER")
                    .unwrap_or_else(|| "X-API-Key".to_owned()),
                key: required("HTTP_API_KEY")?,
            },
            "basic" => Auth::Basic {
                user: required("HTTP_BASIC_USER")?,
                password: required("HTTP_BASIC_PASSWORD")?,
            },
            other => {
                return Err(ConfigError::env(
                    "HTTP_AUTH_TYPE",
                    format!("expected none, bearer, api_key or basic, got {other:?}"),
                ))
            }
        };
        auth.header().map_err(|_| {
            let var = match &auth {
                Auth::Bearer(_) => "HTTP_BEARER_TOKEN",
                Auth::ApiKey { header, .. }
                    if http::HeaderName::from_bytes(header.as_bytes()).is_err() =>
                {
                    "HTTP_API_KEY_HEADER"
                }
                Auth::ApiKey { .. } => "HTTP_API_KEY",
                _ => "HTTP_BASIC_PASSWORD",
            };
            ConfigError::env(var, "not a valid header value (the value is not shown)")
        })?;
        Ok(auth)
    }
}

/// Seconds as a non-negative number (`30`, `2.5`), or a duration like `30s` or `1m 30s`.
fn parse_seconds(text: &str) -> Option<Duration> {
    if let Ok(seconds) = text.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).ok();
    }
    humantime::parse_duration(text).ok()
}
