//! From configuration sections to the library's builders: the HTTP client, retry policies,
//! circuit breakers, durable delivery schedules and the webhook sender.

use std::time::Duration;

use pythia::http::{Auth, HttpClientConfig, HttpClientConfigBuilder};
use pythia::resilience::{CircuitBreakerConfig, Jitter, RateLimit, RetryPolicy};
use pythia::webhook::{
    DeliverySchedule, EndpointConfig, WebhookConfig, WebhookSender, DEFAULT_DELAYS,
};

use crate::config::model::{
    AuthSection, BreakerSection, EndpointSection, HttpSection, RateLimitSection, RetrySection,
};
use crate::config::types::Dur;
use crate::config::Loaded;

/// The binary refuses loopback and private addresses unless `allow_private_networks` is set.
const DEFAULT_ALLOW_PRIVATE: bool = false;

/// Requests in flight and idle connections per host of the webhook client when `[http]` sets
/// neither: as wide as the library's sender default.
const WEBHOOK_POOL: usize = 1024;

/// The client builder of the pollers from an `[http]` section (already merged with the
/// `HTTP_*` variables): the transport settings of [`transport_builder`], plus the base URL,
/// redirects, default headers, authentication, retries, breaker and rate limit.
pub(crate) fn http_builder(
    http: &HttpSection,
    loaded: &Loaded,
) -> Result<HttpClientConfigBuilder, String> {
    let mut builder = transport_builder(http, loaded)?;
    if let Some(url) = &http.base_url {
        builder = builder.base_url(url.0.as_str());
    }
    if let Some(follow) = http.follow_redirects {
        builder = builder.follow_redirects(follow);
    }
    for (name, value) in &http.headers {
        builder = builder.default_header(name, value.expose());
    }
    if let Some(auth) = &http.auth {
        builder = builder.auth(auth_of(auth));
    }
    if let Some(retry) = &http.retry {
        builder = builder.retry(retry_policy(retry.get_ref(), 3)?);
    }
    if let Some(breaker) = &http.circuit_breaker {
        builder = builder.circuit_breaker(Some(breaker_config(breaker)?));
    }
    if let Some(limit) = &http.rate_limit {
        builder = builder.rate_limit(Some(rate_limit(limit)));
    }
    Ok(builder)
}

/// The transport settings of an `[http]` section and nothing else: timeouts, pool and
/// keep-alive, TLS (CA, mutual TLS), the user agent, the body cap and the SSRF guard.
///
/// This is all the webhook client takes from `[http]`: the default headers and the
/// authentication are meant for polled APIs and must never reach a webhook endpoint (each
/// endpoint has its own `headers`).
pub(crate) fn transport_builder(
    http: &HttpSection,
    loaded: &Loaded,
) -> Result<HttpClientConfigBuilder, String> {
    let mut builder = HttpClientConfig::builder()
        .allow_private_networks(http.allow_private_networks.unwrap_or(DEFAULT_ALLOW_PRIVATE));
    if let Some(d) = http.connect_timeout {
        builder = builder.connect_timeout(d.0);
    }
    if let Some(d) = http.read_timeout {
        builder = builder.read_timeout(d.0);
    }
    if let Some(d) = http.timeout {
        builder = builder.attempt_timeout(d.0);
    }
    if let Some(n) = http.pool_size {
        builder = builder.pool_size(n);
    }
    if let Some(n) = http.max_keepalive_connections {
        builder = builder.max_keepalive_connections(n);
    }
    if let Some(d) = http.keepalive_expiry {
        builder = builder.keepalive_expiry(d.0);
    }
    if let Some(verify) = http.verify_tls {
        builder = builder.verify_tls(verify);
    }
    if let Some(path) = &http.ca_file {
        builder = builder.ca_file(loaded.resolve(path));
    }
    match (&http.client_cert, &http.client_key) {
        (Some(cert), Some(key)) => {
            builder = builder.client_identity(loaded.resolve(cert), loaded.resolve(key));
        }
        (None, None) => {}
        _ => return Err("[http] client_cert and client_key go together".into()),
    }
    if let Some(agent) = &http.user_agent {
        builder = builder.user_agent(agent);
    }
    if let Some(max) = http.max_body_bytes {
        builder = builder.max_body_bytes(max);
    }
    Ok(builder)
}

fn auth_of(auth: &AuthSection) -> Auth {
    match auth {
        AuthSection::Bearer(token) => Auth::Bearer(token.expose().to_owned()),
        AuthSection::ApiKey { key, header } => Auth::ApiKey {
            header: header.clone(),
            key: key.expose().to_owned(),
        },
        AuthSection::Basic { user, password } => Auth::Basic {
            user: user.clone(),
            password: password.expose().to_owned(),
        },
    }
}

/// A retry policy; `default_attempts` when the section does not say.
pub(crate) fn retry_policy(
    retry: &RetrySection,
    default_attempts: u32,
) -> Result<RetryPolicy, String> {
    let initial = retry.initial_delay.map_or(Duration::from_secs(1), |d| d.0);
    let mut builder = RetryPolicy::builder();
    builder = match retry.strategy.as_deref().unwrap_or("exponential") {
        "fixed" => builder.fixed(initial),
        "linear" => builder.linear(initial, retry.step.map_or(initial, |d| d.0)),
        "exponential" => builder.exponential(initial, retry.base.unwrap_or(2.0)),
        "schedule" => builder.schedule(schedule_delays(retry)?),
        other => return Err(format!("unknown retry strategy `{other}`")),
    };
    let attempts = match (retry.max_attempts, &retry.schedule) {
        (Some(n), _) => n,
        (None, Some(delays)) => u32::try_from(delays.len() + 1).unwrap_or(u32::MAX),
        (None, None) => default_attempts,
    };
    builder = builder.max_attempts(attempts).jitter(jitter(retry)?);
    if let Some(d) = retry.max_delay {
        builder = builder.max_delay(d.0);
    }
    if let Some(d) = retry.max_elapsed {
        builder = builder.max_elapsed(d.0);
    }
    if let Some(statuses) = &retry.retryable_statuses {
        builder = builder.retryable_statuses(statuses.iter().copied());
    }
    builder.build().map_err(|e| e.to_string())
}

fn schedule_delays(retry: &RetrySection) -> Result<Vec<Duration>, String> {
    match &retry.schedule {
        Some(delays) if !delays.is_empty() => Ok(delays.iter().map(|d| d.0).collect()),
        _ => Err("a `schedule` retry needs a non-empty `schedule` list of delays".into()),
    }
}

fn jitter(retry: &RetrySection) -> Result<Jitter, String> {
    Ok(match retry.jitter.as_deref().unwrap_or("full") {
        "none" => Jitter::None,
        "full" => Jitter::Full,
        "equal" => Jitter::Equal,
        "decorrelated" => Jitter::Decorrelated,
        other => return Err(format!("unknown jitter `{other}`")),
    })
}

/// An endpoint's durable schedule: the delays between attempts, as the dispatcher waits them.
///
/// - A `schedule` is taken as written.
/// - A table that shapes no delays (no `strategy`, `initial_delay`, `step`, `base` or
///   `max_delay`; say only `max_attempts`) keeps the library's default waits
///   ([`DEFAULT_DELAYS`], about a day): `max_attempts` shortens them, or lengthens them by
///   repeating the last (12 h).
/// - Any other table is its strategy unrolled, each wait capped by `max_delay`, which defaults
///   to that same 12 h rather than the 30 s of a request's retries.
///
/// Unrolled waits carry no jitter; the schedule adds its own (up to 10% later, never earlier).
pub(crate) fn delivery_schedule(retry: &RetrySection) -> Result<DeliverySchedule, String> {
    let longest_default = DEFAULT_DELAYS[DEFAULT_DELAYS.len() - 1];
    let shaped = retry.strategy.is_some()
        || retry.initial_delay.is_some()
        || retry.step.is_some()
        || retry.base.is_some()
        || retry.max_delay.is_some();
    let delays = match retry.strategy.as_deref() {
        Some("schedule") | None if retry.schedule.is_some() => schedule_delays(retry)?,
        None if !shaped => {
            let waits = retry
                .max_attempts
                .map_or(DEFAULT_DELAYS.len(), |n| n.saturating_sub(1) as usize);
            DEFAULT_DELAYS
                .iter()
                .copied()
                .chain(std::iter::repeat(longest_default))
                .take(waits)
                .collect()
        }
        _ => {
            let unjittered = RetrySection {
                jitter: Some("none".to_owned()),
                max_elapsed: None,
                max_attempts: Some(retry.max_attempts.unwrap_or(10)),
                max_delay: Some(retry.max_delay.unwrap_or(Dur(longest_default))),
                ..retry.clone()
            };
            let policy = retry_policy(&unjittered, 10)?;
            let mut state = policy.start();
            std::iter::from_fn(|| state.next_delay(None)).collect()
        }
    };
    let delays = match retry.max_attempts {
        Some(attempts) => delays
            .into_iter()
            .take(attempts.saturating_sub(1) as usize)
            .collect(),
        None => delays,
    };
    let jitter = match retry.jitter.as_deref() {
        Some("none") => 0.0,
        _ => 0.1,
    };
    Ok(DeliverySchedule::new(delays).jitter(jitter))
}

/// A circuit breaker configuration.
pub(crate) fn breaker_config(section: &BreakerSection) -> Result<CircuitBreakerConfig, String> {
    let mut builder = CircuitBreakerConfig::builder();
    if let Some(n) = section.failure_threshold {
        builder = builder.failure_threshold(n);
    }
    if let Some(d) = section.open_duration {
        builder = builder.open_duration(d.0);
    }
    if let Some(n) = section.half_open_probes {
        builder = builder.half_open_probes(n);
    }
    builder.build().map_err(|e| e.to_string())
}

fn rate_limit(section: &RateLimitSection) -> RateLimit {
    RateLimit {
        per_second: section.per_second,
        burst: section.burst.max(1),
    }
}

/// One `[[endpoint]]` as the sender's endpoint configuration.
pub(crate) fn endpoint_config(endpoint: &EndpointSection) -> Result<EndpointConfig, String> {
    let name = endpoint.name.get_ref();
    let mut config = EndpointConfig::new(endpoint.url.0.as_str());
    if endpoint.secrets.is_empty() {
        config = config.unsigned();
    }
    for secret in &endpoint.secrets {
        config = config.secret(secret.get_ref().expose());
    }
    if let Some(d) = endpoint.timeout {
        config = config.timeout(d.0);
    }
    if let Some(limit) = &endpoint.rate_limit {
        config = config.rate_limit(rate_limit(limit));
    }
    if let Some(n) = endpoint.concurrency {
        config = config.concurrency_limit(n.max(1));
    }
    if let Some(retry) = &endpoint.retry {
        config = config
            .retry_schedule(
                delivery_schedule(retry.get_ref())
                    .map_err(|e| format!("endpoint `{name}` retry: {e}"))?,
            )
            .retry(
                retry_policy(retry.get_ref(), 10)
                    .map_err(|e| format!("endpoint `{name}` retry: {e}"))?,
            );
    }
    if let Some(breaker) = &endpoint.circuit_breaker {
        config = config.circuit_breaker(Some(
            breaker_config(breaker).map_err(|e| format!("endpoint `{name}` breaker: {e}"))?,
        ));
    }
    if !endpoint.event_types.is_empty() {
        config = config.event_types(endpoint.event_types.iter().cloned());
    }
    Ok(config)
}

/// The webhook configuration of every `[[endpoint]]`, over a client with the transport
/// settings of `[http]` only (see [`transport_builder`]).
///
/// Endpoint headers are sent with every webhook through the outbox message (see the sinks and
/// ingest), not here.
pub(crate) fn webhook_config(loaded: &Loaded) -> Result<WebhookConfig, String> {
    let http = &loaded.http;
    let mut transport = transport_builder(http, loaded)?;
    // `[http]` pool knobs left unset keep the sender's wide pool, not the pollers' defaults
    // (20 idle connections per host would churn connections at 64 deliveries in flight).
    if http.pool_size.is_none() {
        transport = transport.pool_size(WEBHOOK_POOL);
    }
    if http.max_keepalive_connections.is_none() {
        transport = transport.max_keepalive_connections(WEBHOOK_POOL);
    }
    let mut builder = WebhookConfig::builder().http(transport);
    if let Some(d) = http.timeout {
        builder = builder.timeout(d.0);
    }
    for endpoint in &loaded.config.endpoints {
        let endpoint = endpoint.get_ref();
        builder = builder.endpoint_config(endpoint.name.get_ref(), endpoint_config(endpoint)?);
    }
    builder.build().map_err(|e| e.to_string())
}

/// The webhook sender of [`webhook_config`].
pub(crate) fn webhook_sender(loaded: &Loaded) -> Result<WebhookSender, String> {
    WebhookSender::new(webhook_config(loaded)?).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Dur {
        Dur(Duration::from_secs(n))
    }

    #[test]
    fn a_written_schedule_becomes_the_durable_delays() {
        let retry = RetrySection {
            strategy: Some("schedule".into()),
            schedule: Some(vec![secs(1), secs(5), secs(30)]),
            jitter: Some("none".into()),
            ..RetrySection::default()
        };

        let schedule = delivery_schedule(&retry).unwrap();

        assert_eq!(schedule.max_attempts(), 4);
        assert_eq!(schedule.delay_after(2), Some(Duration::from_secs(5)));
        assert_eq!(schedule.delay_after(4), None);
    }

    #[test]
    fn an_exponential_retry_is_unrolled_into_a_schedule() {
        let retry = RetrySection {
            strategy: Some("exponential".into()),
            initial_delay: Some(secs(2)),
            base: Some(3.0),
            max_attempts: Some(4),
            jitter: Some("none".into()),
            ..RetrySection::default()
        };

        let schedule = delivery_schedule(&retry).unwrap();

        let delays: Vec<_> = (1..4).map(|n| schedule.delay_after(n).unwrap()).collect();
        assert_eq!(delays, [secs(2).0, secs(6).0, secs(18).0]);
        assert_eq!(schedule.delay_after(4), None);
    }

    /// A value for every variable the library reads; a variable added to the library fails
    /// `every_library_variable_has_a_sample` until the binary reads it too.
    const SAMPLES: &[(&str, &str)] = &[
        ("HTTP_BASE_URL", "https://api.example.test/v1/"),
        ("HTTP_TIMEOUT", "12"),
        ("HTTP_CONNECT_TIMEOUT", "3"),
        ("HTTP_READ_TIMEOUT", "4.5"),
        ("HTTP_MAX_RETRIES", "5"),
        ("HTTP_RETRY_DELAY", "0.25"),
        ("HTTP_RETRY_BACKOFF", "3"),
        ("HTTP_AUTH_TYPE", "basic"),
        ("HTTP_BEARER_TOKEN", "tok"),
        ("HTTP_API_KEY", "key"),
        ("HTTP_API_KEY_HEADER", "X-Key"),
        ("HTTP_BASIC_USER", "ann"),
        ("HTTP_BASIC_PASSWORD", "pw"),
        ("HTTP_SSL_VERIFY", "false"),
        ("HTTP_SSL_CERT_FILE", "/etc/pythia/cert.pem"),
        ("HTTP_SSL_KEY_FILE", "/etc/pythia/key.pem"),
        ("HTTP_SSL_CA_FILE", "/etc/pythia/ca.pem"),
        ("HTTP_CONNECTION_POOL_SIZE", "7"),
        ("HTTP_MAX_KEEPALIVE_CONNECTIONS", "3"),
        ("HTTP_KEEPALIVE_EXPIRY", "300"),
        ("HTTP_USER_AGENT", "acme/1"),
        ("HTTP_FOLLOW_REDIRECTS", "no"),
        ("HTTP_MAX_BODY_BYTES", "2048"),
    ];

    /// The client configuration the binary makes of `vars` (with an empty file), and the one
    /// the library's `HttpClientConfig::from_env_with` makes.
    fn both(vars: &[(&str, &str)]) -> (HttpClientConfig, HttpClientConfig) {
        let lookup = |name: &str| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        };
        let loaded = crate::config::parse_with(std::path::Path::new("p.toml"), "", &lookup)
            .expect("the variables load");
        let binary = http_builder(&loaded.http, &loaded)
            .unwrap()
            .build()
            .unwrap();
        let library = HttpClientConfig::from_env_with(lookup).unwrap();
        (binary, library)
    }

    fn assert_agree(binary: &HttpClientConfig, library: &HttpClientConfig) {
        assert_eq!(binary.base_url(), library.base_url());
        assert_eq!(binary.connect_timeout(), library.connect_timeout());
        assert_eq!(binary.read_timeout(), library.read_timeout());
        assert_eq!(binary.attempt_timeout(), library.attempt_timeout());
        assert_eq!(binary.pool_size(), library.pool_size());
        assert_eq!(
            binary.max_keepalive_connections(),
            library.max_keepalive_connections()
        );
        assert_eq!(binary.keepalive_expiry(), library.keepalive_expiry());
        assert_eq!(binary.verify_tls(), library.verify_tls());
        assert_eq!(binary.ca_file(), library.ca_file());
        assert_eq!(binary.client_identity(), library.client_identity());
        assert_eq!(binary.user_agent(), library.user_agent());
        assert_eq!(binary.follow_redirects(), library.follow_redirects());
        assert_eq!(binary.max_body_bytes(), library.max_body_bytes());
        assert_eq!(binary.auth(), library.auth());
        let (ours, theirs) = (binary.retry(), library.retry());
        assert_eq!(ours.max_attempts(), theirs.max_attempts());
        assert_eq!(ours.jitter(), theirs.jitter());
        for retry in 1..4 {
            assert_eq!(ours.nominal_delay(retry), theirs.nominal_delay(retry));
        }
    }

    #[test]
    fn every_library_variable_has_a_sample() {
        for name in pythia::http::ENV_VARIABLES {
            assert!(
                SAMPLES.iter().any(|(sample, _)| sample == name),
                "{name} is read by the library: read it in config/env.rs and add a sample"
            );
        }
    }

    #[test]
    fn the_binary_reads_the_http_variables_as_the_library_does() {
        let (binary, library) = both(SAMPLES);

        assert_agree(&binary, &library);
        assert!(matches!(binary.auth(), Auth::Basic { user, .. } if user == "ann"));
        assert_eq!(binary.max_body_bytes(), 2048);
    }

    #[test]
    fn without_an_auth_type_the_token_or_the_key_picks_the_scheme_in_both() {
        for vars in [
            &[("HTTP_BEARER_TOKEN", "tok"), ("HTTP_API_KEY", "key")][..],
            &[("HTTP_API_KEY", "key"), ("HTTP_API_KEY_HEADER", "X-Key")][..],
            &[("HTTP_AUTH_TYPE", "none"), ("HTTP_BEARER_TOKEN", "tok")][..],
        ] {
            let (binary, library) = both(vars);

            assert_agree(&binary, &library);
        }
    }

    fn total(schedule: &DeliverySchedule) -> Duration {
        (1..schedule.max_attempts())
            .map(|n| schedule.delay_after(n).unwrap())
            .sum()
    }

    #[test]
    fn a_table_with_only_max_attempts_keeps_the_default_waits_of_about_a_day() {
        let fewer = RetrySection {
            max_attempts: Some(4),
            jitter: Some("none".into()),
            ..RetrySection::default()
        };
        let more = RetrySection {
            max_attempts: Some(20),
            jitter: Some("none".into()),
            ..RetrySection::default()
        };

        let fewer = delivery_schedule(&fewer).unwrap();
        let more = delivery_schedule(&more).unwrap();

        assert_eq!(fewer.max_attempts(), 4);
        assert_eq!(fewer.delay_after(3), Some(DEFAULT_DELAYS[2]));
        assert_eq!(more.max_attempts(), 20);
        assert_eq!(more.delay_after(9), Some(DEFAULT_DELAYS[8]));
        assert_eq!(more.delay_after(19), Some(secs(12 * 3600).0));
        assert!(total(&more) > secs(24 * 3600).0, "{:?}", total(&more));
    }

    #[test]
    fn an_unrolled_strategy_is_capped_at_twelve_hours_unless_max_delay_says() {
        let long = RetrySection {
            initial_delay: Some(secs(60)),
            max_attempts: Some(12),
            jitter: Some("none".into()),
            ..RetrySection::default()
        };
        let capped = RetrySection {
            max_delay: Some(secs(30)),
            ..long.clone()
        };

        let long = delivery_schedule(&long).unwrap();
        let capped = delivery_schedule(&capped).unwrap();

        assert_eq!(long.delay_after(10), Some(secs(60 * 512).0));
        assert_eq!(long.delay_after(11), Some(secs(12 * 3600).0));
        assert_eq!(capped.delay_after(11), Some(secs(30).0));
    }

    #[test]
    fn an_unknown_strategy_is_an_error() {
        let retry = RetrySection {
            strategy: Some("sometimes".into()),
            ..RetrySection::default()
        };

        assert!(retry_policy(&retry, 3).unwrap_err().contains("sometimes"));
    }
}
