//! The specification's environment variables (`HTTP_*`, `POLLER_*`).
//!
//! They give defaults: a key written in the file wins over its variable. For polls,
//! `POLLER_CONNECT_TIMEOUT` and `POLLER_READ_TIMEOUT` (the more specific) win over
//! `HTTP_CONNECT_TIMEOUT` and `HTTP_READ_TIMEOUT`; they do not apply to webhooks. Values are
//! seconds for durations (`HTTP_TIMEOUT=30`) or any duration the file accepts (`30s`).

use super::model::{AuthSection, HttpSection, RetrySection};
use super::types::{Dur, HttpUrl, Secret};

/// What the `POLLER_*` variables say.
#[derive(Debug, Default, Clone)]
pub(crate) struct PollerEnv {
    /// `POLLER_URL`.
    pub(crate) url: Option<String>,
    /// `POLLER_INTERVAL`.
    pub(crate) interval: Option<Dur>,
    /// `POLLER_METHOD`.
    pub(crate) method: Option<String>,
    /// `POLLER_CONNECT_TIMEOUT`.
    pub(crate) connect_timeout: Option<Dur>,
    /// `POLLER_READ_TIMEOUT`.
    pub(crate) read_timeout: Option<Dur>,
}

type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A variable's value, trimmed; empty counts as unset.
fn get(lookup: Lookup<'_>, name: &str) -> Option<String> {
    lookup(name)
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// A secret's value as it is (not trimmed); empty or blank counts as unset.
fn secret(lookup: Lookup<'_>, name: &str) -> Option<Secret> {
    lookup(name)
        .filter(|value| !value.trim().is_empty())
        .map(Secret)
}

/// A whole number of at least `min`.
fn count(lookup: Lookup<'_>, name: &str, min: usize) -> Result<Option<usize>, String> {
    match number::<usize>(lookup, name)? {
        Some(n) if n < min => Err(format!("{name}: must be at least {min}")),
        other => Ok(other),
    }
}

fn duration(lookup: Lookup<'_>, name: &str) -> Result<Option<Dur>, String> {
    get(lookup, name)
        .map(|text| Dur::parse(&text).map_err(|e| format!("{name}: {e}")))
        .transpose()
}

fn number<T: std::str::FromStr>(lookup: Lookup<'_>, name: &str) -> Result<Option<T>, String> {
    get(lookup, name)
        .map(|text| {
            text.trim()
                .parse::<T>()
                .map_err(|_| format!("{name}: `{text}` is not a valid number"))
        })
        .transpose()
}

fn boolean(lookup: Lookup<'_>, name: &str) -> Result<Option<bool>, String> {
    get(lookup, name)
        .map(|text| match text.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(format!("{name}: `{text}` is not true or false")),
        })
        .transpose()
}

/// Reads the `HTTP_*` variables into an `[http]` section: every variable of the library's
/// [`pythia::http::ENV_VARIABLES`], with the meaning `HttpClientConfig::from_env` gives it (a
/// test holds the two together), but key by key, so that the file's keys can win.
pub(crate) fn http_from_env(lookup: Lookup<'_>) -> Result<HttpSection, String> {
    let mut http = HttpSection {
        base_url: get(lookup, "HTTP_BASE_URL")
            .map(|text| HttpUrl::parse(&text).map_err(|e| format!("HTTP_BASE_URL: {e}")))
            .transpose()?,
        timeout: duration(lookup, "HTTP_TIMEOUT")?,
        connect_timeout: duration(lookup, "HTTP_CONNECT_TIMEOUT")?,
        read_timeout: duration(lookup, "HTTP_READ_TIMEOUT")?,
        verify_tls: boolean(lookup, "HTTP_SSL_VERIFY")?,
        pool_size: count(lookup, "HTTP_CONNECTION_POOL_SIZE", 1)?,
        max_keepalive_connections: count(lookup, "HTTP_MAX_KEEPALIVE_CONNECTIONS", 0)?,
        keepalive_expiry: duration(lookup, "HTTP_KEEPALIVE_EXPIRY")?,
        ca_file: get(lookup, "HTTP_SSL_CA_FILE").map(Into::into),
        client_cert: get(lookup, "HTTP_SSL_CERT_FILE").map(Into::into),
        client_key: get(lookup, "HTTP_SSL_KEY_FILE").map(Into::into),
        user_agent: get(lookup, "HTTP_USER_AGENT"),
        follow_redirects: boolean(lookup, "HTTP_FOLLOW_REDIRECTS")?,
        max_body_bytes: count(lookup, "HTTP_MAX_BODY_BYTES", 1)?,
        ..HttpSection::default()
    };
    match (&http.client_cert, &http.client_key) {
        (Some(_), None) => return Err("HTTP_SSL_KEY_FILE: required with HTTP_SSL_CERT_FILE".into()),
        (None, Some(_)) => return Err("HTTP_SSL_CERT_FILE: required with HTTP_SSL_KEY_FILE".into()),
        _ => {}
    }

    let max_attempts = number::<u32>(lookup, "HTTP_MAX_RETRIES")?;
    let initial_delay = duration(lookup, "HTTP_RETRY_DELAY")?;
    let base = number::<f64>(lookup, "HTTP_RETRY_BACKOFF")?;
    if max_attempts.is_some() || initial_delay.is_some() || base.is_some() {
        let retry = RetrySection {
            strategy: Some("exponential".to_owned()),
            // HTTP_MAX_RETRIES counts retries; the policy counts attempts.
            max_attempts: max_attempts.map(|retries| retries.saturating_add(1)),
            initial_delay,
            base,
            ..RetrySection::default()
        };
        http.retry = Some(toml::Spanned::new(0..0, retry));
    }

    http.auth = auth_from_env(lookup)?;
    Ok(http)
}

fn auth_from_env(lookup: Lookup<'_>) -> Result<Option<AuthSection>, String> {
    let token = secret(lookup, "HTTP_BEARER_TOKEN");
    let key = secret(lookup, "HTTP_API_KEY");
    let header =
        get(lookup, "HTTP_API_KEY_HEADER").unwrap_or_else(super::model::default_api_key_header);
    let kind = get(lookup, "HTTP_AUTH_TYPE").map(|kind| kind.to_ascii_lowercase());
    if kind.as_deref() == Some("basic") {
        let required = |name: &str| {
            secret(lookup, name)
                .ok_or_else(|| format!("{name}: required when HTTP_AUTH_TYPE is basic"))
        };
        return Ok(Some(AuthSection::Basic {
            user: required("HTTP_BASIC_USER")?.0,
            password: required("HTTP_BASIC_PASSWORD")?,
        }));
    }
    match (kind.as_deref(), token, key) {
        (None | Some("none"), None, None) | (Some("none"), _, _) => Ok(None),
        (Some("bearer") | None, Some(token), _) => Ok(Some(AuthSection::Bearer(token))),
        (Some("api_key" | "apikey" | "api-key") | None, _, Some(key)) => {
            Ok(Some(AuthSection::ApiKey { key, header }))
        }
        (Some("bearer"), None, _) => {
            Err("HTTP_AUTH_TYPE is bearer but HTTP_BEARER_TOKEN is not set".into())
        }
        (Some("api_key" | "apikey" | "api-key"), _, None) => {
            Err("HTTP_AUTH_TYPE is api_key but HTTP_API_KEY is not set".into())
        }
        (Some(other), _, _) => Err(format!(
            "HTTP_AUTH_TYPE: `{other}` is not one of none, bearer, api_key, basic"
        )),
    }
}

/// Reads the `POLLER_*` variables.
pub(crate) fn poller_from_env(lookup: Lookup<'_>) -> Result<PollerEnv, String> {
    Ok(PollerEnv {
        url: get(lookup, "POLLER_URL"),
        interval: duration(lookup, "POLLER_INTERVAL")?,
        method: get(lookup, "POLLER_METHOD").map(|m| m.trim().to_ascii_uppercase()),
        connect_timeout: duration(lookup, "POLLER_CONNECT_TIMEOUT")?,
        read_timeout: duration(lookup, "POLLER_READ_TIMEOUT")?,
    })
}

/// Fills every unset key of `file` from `defaults`.
pub(crate) fn merge_http(file: &HttpSection, defaults: &HttpSection) -> HttpSection {
    let mut headers = defaults.headers.clone();
    headers.extend(file.headers.clone());
    HttpSection {
        base_url: file.base_url.clone().or_else(|| defaults.base_url.clone()),
        connect_timeout: file.connect_timeout.or(defaults.connect_timeout),
        read_timeout: file.read_timeout.or(defaults.read_timeout),
        timeout: file.timeout.or(defaults.timeout),
        pool_size: file.pool_size.or(defaults.pool_size),
        max_keepalive_connections: file
            .max_keepalive_connections
            .or(defaults.max_keepalive_connections),
        keepalive_expiry: file.keepalive_expiry.or(defaults.keepalive_expiry),
        verify_tls: file.verify_tls.or(defaults.verify_tls),
        ca_file: file.ca_file.clone().or_else(|| defaults.ca_file.clone()),
        client_cert: file
            .client_cert
            .clone()
            .or_else(|| defaults.client_cert.clone()),
        client_key: file
            .client_key
            .clone()
            .or_else(|| defaults.client_key.clone()),
        user_agent: file
            .user_agent
            .clone()
            .or_else(|| defaults.user_agent.clone()),
        follow_redirects: file.follow_redirects.or(defaults.follow_redirects),
        max_body_bytes: file.max_body_bytes.or(defaults.max_body_bytes),
        allow_private_networks: file
            .allow_private_networks
            .or(defaults.allow_private_networks),
        headers,
        auth: file.auth.clone().or_else(|| defaults.auth.clone()),
        retry: file.retry.clone().or_else(|| defaults.retry.clone()),
        circuit_breaker: file
            .circuit_breaker
            .clone()
            .or_else(|| defaults.circuit_breaker.clone()),
        rate_limit: file
            .rate_limit
            .clone()
            .or_else(|| defaults.rate_limit.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn vars(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn http_variables_map_to_their_keys() {
        let lookup = vars(&[
            ("HTTP_TIMEOUT", "30"),
            ("HTTP_MAX_RETRIES", "3"),
            ("HTTP_RETRY_DELAY", "1.0"),
            ("HTTP_RETRY_BACKOFF", "2.0"),
            ("HTTP_AUTH_TYPE", "bearer"),
            ("HTTP_BEARER_TOKEN", "tok"),
            ("HTTP_SSL_VERIFY", "false"),
            ("HTTP_KEEPALIVE_EXPIRY", "300"),
        ]);

        let http = http_from_env(&lookup).unwrap();

        assert_eq!(http.timeout.unwrap().0, Duration::from_secs(30));
        let retry = http.retry.unwrap().into_inner();
        assert_eq!(retry.max_attempts, Some(4));
        assert_eq!(retry.initial_delay.unwrap().0, Duration::from_secs(1));
        assert_eq!(retry.base, Some(2.0));
        assert!(matches!(http.auth, Some(AuthSection::Bearer(ref t)) if t.expose() == "tok"));
        assert_eq!(http.verify_tls, Some(false));
        assert_eq!(http.keepalive_expiry.unwrap().0, Duration::from_secs(300));
    }

    #[test]
    fn a_bad_variable_is_an_error_naming_it_without_its_value_if_secret() {
        let error = http_from_env(&vars(&[("HTTP_TIMEOUT", "soon")])).unwrap_err();

        assert!(error.starts_with("HTTP_TIMEOUT"), "{error}");
    }

    #[test]
    fn the_file_wins_over_the_environment() {
        let env =
            http_from_env(&vars(&[("HTTP_TIMEOUT", "30"), ("HTTP_SSL_VERIFY", "0")])).unwrap();
        let file = HttpSection {
            timeout: Some(Dur(Duration::from_secs(5))),
            ..HttpSection::default()
        };

        let merged = merge_http(&file, &env);

        assert_eq!(merged.timeout.unwrap().0, Duration::from_secs(5));
        assert_eq!(merged.verify_tls, Some(false));
    }

    #[test]
    fn poller_variables_are_read() {
        let lookup = vars(&[("POLLER_INTERVAL", "60"), ("POLLER_METHOD", "post")]);

        let poller = poller_from_env(&lookup).unwrap();

        assert_eq!(poller.interval.unwrap().0, Duration::from_secs(60));
        assert_eq!(poller.method.as_deref(), Some("POST"));
    }
}
