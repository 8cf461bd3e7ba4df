//! Every environment variable of the specification sets its knob, and every kind of bad value
//! is an error naming the variable, never showing a secret.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use pythia::http::{Auth, ConfigError, HttpClientConfig, ENV_VARIABLES};

fn load(vars: &[(&str, &str)]) -> Result<HttpClientConfig, ConfigError> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    HttpClientConfig::from_env_with(|name| vars.get(name).cloned())
}

fn error(vars: &[(&str, &str)]) -> ConfigError {
    load(vars).expect_err("the configuration must be refused")
}

/// Every variable, set to a value other than its default.
const EVERY_VARIABLE: &[(&str, &str)] = &[
    ("HTTP_BASE_URL", "https://api.example.com/v1"),
    ("HTTP_TIMEOUT", "2.5"),
    ("HTTP_CONNECT_TIMEOUT", "3"),
    ("HTTP_READ_TIMEOUT", "1m 30s"),
    ("HTTP_MAX_RETRIES", "4"),
    ("HTTP_RETRY_DELAY", "0.5"),
    ("HTTP_RETRY_BACKOFF", "3"),
    ("HTTP_AUTH_TYPE", "api_key"),
    ("HTTP_BEARER_TOKEN", "unused-token"),
    ("HTTP_API_KEY", "key-value"),
    ("HTTP_API_KEY_HEADER", "X-Custom-Key"),
    ("HTTP_BASIC_USER", "unused-user"),
    ("HTTP_BASIC_PASSWORD", "unused-password"),
    ("HTTP_SSL_VERIFY", "false"),
    ("HTTP_SSL_CERT_FILE", "/etc/pythia/client.pem"),
    ("HTTP_SSL_KEY_FILE", "/etc/pythia/client.key"),
    ("HTTP_SSL_CA_FILE", "/etc/pythia/ca.pem"),
    ("HTTP_CONNECTION_POOL_SIZE", "7"),
    ("HTTP_MAX_KEEPALIVE_CONNECTIONS", "3"),
    ("HTTP_KEEPALIVE_EXPIRY", "300"),
    ("HTTP_USER_AGENT", "MyApp/1.0"),
    ("HTTP_FOLLOW_REDIRECTS", "no"),
    ("HTTP_MAX_BODY_BYTES", "4096"),
];

#[test]
fn every_variable_sets_its_knob() {
    let config = load(EVERY_VARIABLE).unwrap();

    let secs = Duration::from_secs_f64;
    assert_eq!(
        config.base_url().map(|u| u.as_str()),
        Some("https://api.example.com/v1")
    );
    assert_eq!(config.attempt_timeout(), Some(secs(2.5)));
    assert_eq!(config.connect_timeout(), secs(3.0));
    assert_eq!(config.read_timeout(), secs(90.0));
    assert_eq!(
        config.retry().max_attempts(),
        5,
        "4 retries after the first attempt"
    );
    assert_eq!(config.retry().nominal_delay(0), secs(0.5));
    assert_eq!(config.retry().nominal_delay(1), secs(1.5));
    assert_eq!(
        config.auth(),
        &Auth::ApiKey {
            header: "X-Custom-Key".into(),
            key: "key-value".into()
        }
    );
    assert!(!config.verify_tls());
    assert_eq!(
        config.client_identity(),
        Some((
            Path::new("/etc/pythia/client.pem"),
            Path::new("/etc/pythia/client.key")
        ))
    );
    assert_eq!(config.ca_file(), Some(Path::new("/etc/pythia/ca.pem")));
    assert_eq!(config.pool_size(), 7);
    assert_eq!(config.max_keepalive_connections(), 3);
    assert_eq!(config.keepalive_expiry(), secs(300.0));
    assert_eq!(config.user_agent(), "MyApp/1.0");
    assert!(!config.follow_redirects());
    assert_eq!(config.max_body_bytes(), 4096);
}

#[test]
fn the_test_above_covers_every_documented_variable() {
    let tested: Vec<&str> = EVERY_VARIABLE.iter().map(|(name, _)| *name).collect();

    assert_eq!(tested, ENV_VARIABLES);
}

#[test]
fn no_variable_at_all_gives_the_defaults() {
    let config = load(&[]).unwrap();

    assert_eq!(config.pool_size(), HttpClientConfig::default().pool_size());
    assert!(config.verify_tls());
    assert_eq!(config.auth(), &Auth::None);
    assert_eq!(config.retry().max_attempts(), 3);
    assert_eq!(config.retry().nominal_delay(0), Duration::from_secs(1));
}

#[test]
fn empty_variables_count_as_unset() {
    let config = load(&[("HTTP_CONNECTION_POOL_SIZE", ""), ("HTTP_SSL_VERIFY", " ")]).unwrap();

    assert_eq!(config.pool_size(), 100);
    assert!(config.verify_tls());
}

#[test]
fn each_auth_type_reads_its_credentials() {
    let bearer = load(&[("HTTP_AUTH_TYPE", "bearer"), ("HTTP_BEARER_TOKEN", "t")]).unwrap();
    let implied = load(&[("HTTP_BEARER_TOKEN", "t")]).unwrap();
    let api_key = load(&[("HTTP_API_KEY", "k")]).unwrap();
    let basic = load(&[
        ("HTTP_AUTH_TYPE", "basic"),
        ("HTTP_BASIC_USER", "ann"),
        ("HTTP_BASIC_PASSWORD", "pw"),
    ])
    .unwrap();

    assert_eq!(bearer.auth(), &Auth::Bearer("t".into()));
    assert_eq!(implied.auth(), &Auth::Bearer("t".into()));
    assert_eq!(
        api_key.auth(),
        &Auth::ApiKey {
            header: "X-API-Key".into(),
            key: "k".into()
        }
    );
    assert_eq!(
        basic.auth(),
        &Auth::Basic {
            user: "ann".into(),
            password: "pw".into()
        }
    );
}

/// Asserts the error names `var` and says `problem`.
fn assert_names(error: &ConfigError, var: &str, problem: &str) {
    let message = error.to_string();
    assert_eq!(error.field(), var, "{message}");
    assert!(message.contains(var), "{message}");
    assert!(message.contains(problem), "{message}");
    assert!(!error.is_retryable());
}

#[test]
fn a_value_that_is_not_a_number_is_refused() {
    let cases = [
        ("HTTP_CONNECTION_POOL_SIZE", "lots", "whole number"),
        ("HTTP_MAX_RETRIES", "three", "whole number"),
        ("HTTP_MAX_KEEPALIVE_CONNECTIONS", "-1", "whole number"),
        ("HTTP_MAX_BODY_BYTES", "1.5", "whole number"),
        ("HTTP_RETRY_BACKOFF", "fast", "number of at least 1"),
    ];

    for (var, value, problem) in cases {
        assert_names(&error(&[(var, value)]), var, problem);
        assert!(error(&[(var, value)]).to_string().contains(value));
    }
}

#[test]
fn a_number_out_of_range_is_refused() {
    let cases = [
        ("HTTP_CONNECTION_POOL_SIZE", "0", "at least 1"),
        ("HTTP_MAX_BODY_BYTES", "0", "at least 1"),
        ("HTTP_RETRY_BACKOFF", "0.5", "at least 1"),
        ("HTTP_TIMEOUT", "0", "greater than zero"),
        ("HTTP_CONNECT_TIMEOUT", "0", "greater than zero"),
        ("HTTP_READ_TIMEOUT", "0s", "greater than zero"),
    ];

    for (var, value, problem) in cases {
        assert_names(&error(&[(var, value)]), var, problem);
    }
}

#[test]
fn a_value_that_is_not_a_duration_is_refused() {
    for var in [
        "HTTP_TIMEOUT",
        "HTTP_CONNECT_TIMEOUT",
        "HTTP_READ_TIMEOUT",
        "HTTP_RETRY_DELAY",
        "HTTP_KEEPALIVE_EXPIRY",
    ] {
        for value in ["soon", "-5", "NaN"] {
            assert_names(&error(&[(var, value)]), var, "number of seconds");
        }
    }
}

#[test]
fn a_value_that_is_not_a_boolean_is_refused() {
    for var in ["HTTP_SSL_VERIFY", "HTTP_FOLLOW_REDIRECTS"] {
        assert_names(&error(&[(var, "maybe")]), var, "true or false");
    }
}

#[test]
fn a_bad_base_url_is_refused() {
    for value in ["api.example.com", "ftp://api.example.com", "https://"] {
        let error = error(&[("HTTP_BASE_URL", value)]);
        assert_eq!(error.field(), "HTTP_BASE_URL", "{value}: {error}");
    }
}

#[test]
fn an_unknown_auth_type_is_refused() {
    assert_names(
        &error(&[("HTTP_AUTH_TYPE", "oauth")]),
        "HTTP_AUTH_TYPE",
        "expected none, bearer, api_key or basic",
    );
}

#[test]
fn a_missing_companion_variable_is_named() {
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("HTTP_AUTH_TYPE", "bearer")], "HTTP_BEARER_TOKEN"),
        (&[("HTTP_AUTH_TYPE", "api_key")], "HTTP_API_KEY"),
        (
            &[("HTTP_AUTH_TYPE", "basic"), ("HTTP_BASIC_USER", "ann")],
            "HTTP_BASIC_PASSWORD",
        ),
        (&[("HTTP_SSL_CERT_FILE", "/c.pem")], "HTTP_SSL_KEY_FILE"),
        (&[("HTTP_SSL_KEY_FILE", "/c.key")], "HTTP_SSL_CERT_FILE"),
    ];

    for (vars, missing) in cases {
        assert_names(&error(vars), missing, "required");
    }
}

#[test]
fn a_secret_that_is_not_a_header_value_is_refused_without_being_shown() {
    let cases = [
        ("HTTP_BEARER_TOKEN", "tok\nsecret-one"),
        ("HTTP_API_KEY", "key\rsecret-two"),
    ];

    for (var, value) in cases {
        let error = error(&[(var, value)]);
        let shown = format!("{error} {error:?}");
        assert_eq!(error.field(), var, "{shown}");
        assert!(!shown.contains("secret"), "{shown}");
    }
}

#[test]
fn a_bad_api_key_header_name_is_refused() {
    let error = error(&[
        ("HTTP_API_KEY", "k-secret"),
        ("HTTP_API_KEY_HEADER", "X Bad Header"),
    ]);

    assert_eq!(error.field(), "HTTP_API_KEY_HEADER", "{error}");
    assert!(!error.to_string().contains("k-secret"));
}
