//! Checks across keys: names unique, references resolved, values the type system cannot check.

use std::collections::HashSet;
use std::ops::Range;

use toml::Spanned;

use super::env::PollerEnv;
use super::model::{Config, HttpSection, RetrySection, SinkSection};
use super::types::HttpUrl;

type Problems = Vec<(Option<Range<usize>>, String)>;

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
const SOURCE_KINDS: &[&str] = &["redis_list", "redis_stream", "nats", "rabbitmq"];

/// Every problem found, each with the span it is about.
pub(super) fn validate(config: &Config, http: &HttpSection, poller_env: &PollerEnv) -> Problems {
    let mut problems = Problems::new();

    let endpoints = unique_names(
        config.endpoints.iter().map(|e| &e.get_ref().name),
        "endpoint",
        &mut problems,
    );
    unique_names(
        config.pollers.iter().map(|p| &p.get_ref().name),
        "poller",
        &mut problems,
    );
    unique_names(
        config.relays.iter().map(|r| &r.get_ref().name),
        "relay",
        &mut problems,
    );

    check_retry(http.retry.as_ref(), &mut problems);
    for endpoint in &config.endpoints {
        let endpoint = endpoint.get_ref();
        for secret in &endpoint.secrets {
            if let Err(message) = check_signing_key(secret.get_ref().expose()) {
                problems.push((Some(secret.span()), message));
            }
        }
        check_retry(endpoint.retry.as_ref(), &mut problems);
    }

    for secret in config.listen.iter().flat_map(|listen| &listen.secrets) {
        if let Err(message) = check_verifying_key(secret.get_ref().expose()) {
            problems.push((Some(secret.span()), message));
        }
    }

    for poller in &config.pollers {
        let span = poller.span();
        let poller = poller.get_ref();
        let name = poller.name.get_ref();
        match (&poller.url, &poller_env.url) {
            (Some(url), _) => {
                let base = poller.http.as_ref().and_then(|own| own.base_url.as_ref());
                check_poller_url(url, base.or(http.base_url.as_ref()), &mut problems);
            }
            (None, Some(_)) => {}
            (None, None) => problems.push((
                Some(poller.name.span()),
                format!("poller `{name}` has no `url` (and POLLER_URL is not set)"),
            )),
        }
        if let Some(method) = &poller.method {
            if !METHODS.contains(&method.get_ref().to_ascii_uppercase().as_str()) {
                problems.push((
                    Some(method.span()),
                    format!(
                        "unknown method `{}`: use one of {}",
                        method.get_ref(),
                        METHODS.join(", ")
                    ),
                ));
            }
        }
        if let (Some(cron), Some(_)) = (&poller.cron, &poller.interval) {
            problems.push((
                Some(cron.span()),
                "give `interval` or `cron`, not both".into(),
            ));
        }
        if let Some(cron) = &poller.cron {
            // The library's parser, which `run` uses: five fields, or six or seven.
            if let Err(e) = pythia::poller::Schedule::cron(cron.get_ref()) {
                problems.push((Some(cron.span()), e.to_string()));
            }
        }
        if poller.interval.is_some_and(|d| d.0.is_zero()) {
            problems.push((
                Some(span.clone()),
                format!("poller `{name}` has a zero interval"),
            ));
        }
        for pointer in [&poller.extract, &poller.dedup_key].into_iter().flatten() {
            check_pointer(pointer, &mut problems);
        }
        if let Some(http) = &poller.http {
            check_retry(http.retry.as_ref(), &mut problems);
        }
        if let SinkSection::Webhook(names) = poller.sink.get_ref() {
            if names.is_empty() {
                problems.push((
                    Some(poller.sink.span()),
                    "a webhook sink needs at least one endpoint".into(),
                ));
            }
            check_references(names, &endpoints, &mut problems);
        }
    }

    for relay in &config.relays {
        let relay = relay.get_ref();
        let kind = &relay.source.get_ref().kind;
        if !SOURCE_KINDS.contains(&kind.get_ref().as_str()) {
            problems.push((
                Some(kind.span()),
                format!(
                    "unknown source kind `{}`: use one of {}",
                    kind.get_ref(),
                    SOURCE_KINDS.join(", ")
                ),
            ));
        } else if !crate::daemon::relays::kind_is_built(kind.get_ref()) {
            problems.push((
                Some(kind.span()),
                format!(
                    "source kind `{}` is not built into this binary \
                     (build with --features brokers)",
                    kind.get_ref()
                ),
            ));
        }
        let route = relay.route.get_ref();
        if route.field.is_none() {
            problems.push((
                Some(relay.route.span()),
                "a route needs a `field` (a JSON pointer)".into(),
            ));
        }
        if let Some(field) = &route.field {
            if !field.is_empty() && !field.starts_with('/') {
                problems.push((
                    Some(relay.route.span()),
                    format!("`field` must be a JSON pointer starting with `/`, not `{field}`"),
                ));
            }
        }
        for names in route.map.values().chain(route.default.iter()) {
            check_references(names, &endpoints, &mut problems);
        }
        if let Some(unroutable) = &route.unroutable {
            if !matches!(unroutable.get_ref().as_str(), "drop" | "dead_letter") {
                problems.push((
                    Some(unroutable.span()),
                    "`unroutable` is `drop` or `dead_letter`".into(),
                ));
            }
        }
    }

    check_lease(config, http, &mut problems);
    if let (Some(_), Some(url)) = (&config.outbox.path, &config.outbox.url) {
        problems.push((
            Some(url.span()),
            "give the outbox a `path` or a `url`, not both".into(),
        ));
    }
    if let Some(nice) = &config.outbox.writer_nice {
        if !(-20..=19).contains(nice.get_ref()) {
            problems.push((
                Some(nice.span()),
                "`writer_nice` is a niceness from -20 (the highest priority) to 19".into(),
            ));
        } else if config.outbox.url.is_some() {
            problems.push((
                Some(nice.span()),
                "`writer_nice` is for the SQLite outbox; this one has a `url`".into(),
            ));
        }
    }
    if let Some(url) = &config.outbox.url {
        let text = url.get_ref().expose();
        if !(text.starts_with("redis://") || text.starts_with("rediss://") || text == "memory:") {
            problems.push((
                Some(url.span()),
                "the outbox `url` must be redis://... or memory: (use `path` for SQLite)".into(),
            ));
        } else if text.starts_with("redis") && !cfg!(feature = "redis") {
            problems.push((
                Some(url.span()),
                "the Redis outbox is not built into this binary (build with --features redis)"
                    .into(),
            ));
        }
    }

    problems
}

/// A lease not longer than an attempt lets a second dispatcher claim a message whose attempt
/// still runs, and send it twice.
fn check_lease(config: &Config, http: &HttpSection, problems: &mut Problems) {
    let (Some(lease), Some(longest)) = (
        &config.outbox.lease,
        super::longest_endpoint_timeout(config, http),
    ) else {
        return;
    };
    if lease.get_ref().0 <= longest {
        problems.push((
            Some(lease.span()),
            format!(
                "`[outbox] lease` of {} must be longer than the longest endpoint timeout ({}), \
                 or an attempt still running can be claimed and sent again; raise `lease` or \
                 lower the endpoint `timeout`",
                humantime::format_duration(lease.get_ref().0),
                humantime::format_duration(longest)
            ),
        ));
    }
}

fn unique_names<'a>(
    names: impl Iterator<Item = &'a Spanned<String>>,
    what: &str,
    problems: &mut Problems,
) -> HashSet<String> {
    let mut seen = HashSet::new();
    for name in names {
        if name.get_ref().trim().is_empty() {
            problems.push((Some(name.span()), format!("{what} name is empty")));
        } else if !seen.insert(name.get_ref().clone()) {
            problems.push((
                Some(name.span()),
                format!("{what} `{}` is declared twice", name.get_ref()),
            ));
        }
    }
    seen
}

fn check_references(
    names: &[Spanned<String>],
    endpoints: &HashSet<String>,
    problems: &mut Problems,
) {
    for name in names {
        if !endpoints.contains(name.get_ref()) {
            let known = {
                let mut known: Vec<_> = endpoints.iter().map(String::as_str).collect();
                known.sort_unstable();
                known.join(", ")
            };
            problems.push((
                Some(name.span()),
                format!("unknown endpoint `{}` (declared: {known})", name.get_ref()),
            ));
        }
    }
}

fn check_poller_url(url: &Spanned<String>, base: Option<&HttpUrl>, problems: &mut Problems) {
    let text = url.get_ref();
    let absolute = text.contains("://");
    if absolute {
        if let Err(message) = HttpUrl::parse(text) {
            problems.push((Some(url.span()), message));
        }
    } else if base.is_none() {
        problems.push((
            Some(url.span()),
            format!(
                "invalid URL `{}`: a relative URL needs `[http] base_url`",
                super::types::redact_url_text(text)
            ),
        ));
    }
}

fn check_pointer(pointer: &Spanned<String>, problems: &mut Problems) {
    let text = pointer.get_ref();
    if !text.is_empty() && !text.starts_with('/') {
        problems.push((
            Some(pointer.span()),
            format!("`{text}` is not a JSON pointer: it must be empty or start with `/`"),
        ));
    }
}

/// A key that signs: a `whsec_` secret (`v1`, HMAC) or a `whsk_` Ed25519 key (`v1a`).
fn check_signing_key(key: &str) -> Result<(), String> {
    let key = key.trim();
    // A `whpk_` key is refused by the parser below, with its own message.
    if !["whsec_", "whsk_", "whpk_"]
        .iter()
        .any(|p| key.starts_with(p))
    {
        return Err("a signing secret must start with `whsec_` (HMAC) or `whsk_` (Ed25519)".into());
    }
    pythia::webhook::SigningKey::parse(key)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// A key that verifies: a `whsec_` secret, a `whpk_` Ed25519 public key, or a `whsk_` key
/// (which verifies with its public half).
fn check_verifying_key(key: &str) -> Result<(), String> {
    let key = key.trim();
    if !["whsec_", "whpk_", "whsk_"]
        .iter()
        .any(|p| key.starts_with(p))
    {
        return Err("a verifying secret must start with `whsec_`, `whpk_` or `whsk_`".into());
    }
    pythia::webhook::VerifyingKey::parse(key)
        .map(drop)
        .map_err(|e| e.to_string())
}

fn check_retry(retry: Option<&Spanned<RetrySection>>, problems: &mut Problems) {
    let Some(retry) = retry else { return };
    let span = Some(retry.span()).filter(|span| !span.is_empty());
    let section = retry.get_ref();
    if let Some(strategy) = &section.strategy {
        if !matches!(
            strategy.as_str(),
            "fixed" | "linear" | "exponential" | "schedule"
        ) {
            problems.push((
                span.clone(),
                format!(
                    "unknown retry strategy `{strategy}`: use fixed, linear, exponential or \
                     schedule"
                ),
            ));
        }
        if strategy == "schedule" && section.schedule.as_ref().is_none_or(Vec::is_empty) {
            problems.push((
                span.clone(),
                "the `schedule` strategy needs a `schedule` list".into(),
            ));
        }
    }
    if let Some(jitter) = &section.jitter {
        if !matches!(jitter.as_str(), "none" | "full" | "equal" | "decorrelated") {
            problems.push((
                span.clone(),
                format!("unknown jitter `{jitter}`: use none, full, equal or decorrelated"),
            ));
        }
    }
    if section.max_attempts == Some(0) {
        problems.push((
            span.clone(),
            "`max_attempts` counts the first attempt: at least 1".into(),
        ));
    }
    if section
        .base
        .is_some_and(|base| !(base.is_finite() && base >= 1.0))
    {
        problems.push((span, "`base` must be at least 1".into()));
    }
}
