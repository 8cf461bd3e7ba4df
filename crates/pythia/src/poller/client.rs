//! The HTTP client a poller builds when none is given.

use super::{ConfigError, PollerConfig};
use crate::http::{HttpClient, HttpClientConfig};

/// The time one attempt of a target may take by its own settings: connect plus read. A
/// client shared by targets has the longest timeouts among them, so a target with shorter
/// ones bounds each of its attempts by this instead.
pub(crate) fn attempt_budget(config: &PollerConfig) -> std::time::Duration {
    config.connect_timeout.saturating_add(config.read_timeout)
}

/// One client for targets that share it: the longest of their timeouts and body caps, a pool of
/// `pool` connections, and TLS and redirect settings they must agree on.
pub(crate) fn build_client(
    configs: &[&PollerConfig],
    pool: usize,
) -> Result<HttpClient, ConfigError> {
    let Some(first) = configs.first() else {
        return HttpClient::new(HttpClientConfig::default())
            .map_err(|e| ConfigError::Http(e.to_string()));
    };
    if configs.iter().any(|c| c.verify_tls != first.verify_tls) {
        return Err(ConfigError::Invalid {
            name: "verify tls",
            reason: "targets sharing a client must agree; give the others their own client",
        });
    }
    if configs
        .iter()
        .any(|c| c.follow_redirects != first.follow_redirects)
    {
        return Err(ConfigError::Invalid {
            name: "follow redirects",
            reason: "targets sharing a client must agree; give the others their own client",
        });
    }
    let longest = |f: fn(&PollerConfig) -> std::time::Duration| {
        configs.iter().map(|c| f(c)).max().unwrap_or_default()
    };
    let mut builder = HttpClientConfig::builder()
        .connect_timeout(longest(|c| c.connect_timeout))
        .read_timeout(longest(|c| c.read_timeout))
        .pool_size(pool.max(1))
        .max_keepalive_connections(pool.max(1))
        .verify_tls(first.verify_tls)
        .follow_redirects(first.follow_redirects)
        .max_body_bytes(
            configs
                .iter()
                .map(|c| c.max_body_bytes)
                .max()
                .unwrap_or(1)
                .max(1),
        );
    if let Some(agent) = &first.user_agent {
        builder = builder.user_agent(agent);
    }
    let config = builder
        .build()
        .map_err(|e| ConfigError::Http(e.to_string()))?;
    HttpClient::new(config).map_err(|e| ConfigError::Http(e.to_string()))
}
