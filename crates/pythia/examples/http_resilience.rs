//! The specification's "Programmatic Configuration", "Environment Variables", "Circuit
//! Breaker" and "Retry Policies" sections for the shared HTTP client: a configured
//! [`HttpClient`] making one request through its resilience pipeline.
//!
//! ```text
//! cargo run -p pythia --example http_resilience -- https://api.example.com/status
//! HTTP_TIMEOUT=10 HTTP_MAX_RETRIES=4 HTTP_BEARER_TOKEN=... \
//!     cargo run -p pythia --example http_resilience -- --env https://api.example.com/status
//! ```

use std::time::Duration;

use pythia::http::{HttpClient, HttpClientConfig};
use pythia::resilience::{CircuitBreakerConfig, Jitter, RetryPolicy};

/// `HTTPClientConfig(max_connections=100, connect_timeout=5.0, read_timeout=30.0,
/// verify_ssl=True, default_headers={"User-Agent": "MyApp/1.0"})` with the specification's
/// `CircuitBreakerConfig(failure_threshold=5, timeout_seconds=60)` and
/// `RetryConfig(strategy=EXPONENTIAL, max_attempts=5, initial_delay=1.0, max_delay=60.0,
/// exponential_base=2.0, jitter=True)`.
fn programmatic() -> Result<HttpClientConfig, Box<dyn std::error::Error>> {
    let breaker = CircuitBreakerConfig::builder()
        .failure_threshold(5)
        .open_duration(Duration::from_secs(60))
        .build()?;
    let retry = RetryPolicy::builder()
        .exponential(Duration::from_secs(1), 2.0)
        .max_attempts(5)
        .max_delay(Duration::from_secs(60))
        .jitter(Jitter::Full)
        .build()?;
    let config = HttpClientConfig::builder()
        .pool_size(100)
        .connect_timeout(Duration::from_secs(5))
        .read_timeout(Duration::from_secs(30))
        .verify_tls(true)
        .user_agent("MyApp/1.0")
        .circuit_breaker(Some(breaker))
        .retry(retry)
        .build()?;
    Ok(config)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,pythia=debug".into()),
        )
        .init();

    let args: Vec<String> = std::env::args().skip(1).collect();
    let from_env = args.iter().any(|a| a == "--env");
    let Some(url) = args.iter().find(|a| !a.starts_with("--")) else {
        eprintln!("usage: http_resilience [--env] URL");
        std::process::exit(2);
    };

    // With --env, the HTTP_* variables of the specification (see pythia::http::ENV_VARIABLES);
    // a bad value is an error naming the variable.
    let config = if from_env {
        HttpClientConfig::from_env()?
    } else {
        programmatic()?
    };
    let client = HttpClient::new(config)?;

    match client.get(url).send().await {
        Ok(response) => println!(
            "{} after {} attempt(s) in {:?}, {} bytes",
            response.status(),
            response.attempts(),
            response.elapsed(),
            response.body().len()
        ),
        Err(error) => println!(
            "failed ({}, retryable: {}): {error}",
            error.kind().as_str(),
            error.is_retryable()
        ),
    }
    for (host, state) in client.breaker_states() {
        println!("breaker {host}: {state}");
    }
    Ok(())
}
