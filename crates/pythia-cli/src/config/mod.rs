//! The configuration file: reading, `${VAR}` interpolation, the specification's environment
//! variables, and checks that name the file, line and column of each problem.

mod diagnostic;
pub(crate) mod env;
mod interpolate;
pub(crate) mod model;
pub(crate) mod types;
mod validate;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub(crate) use diagnostic::ConfigError;
pub(crate) use model::Config;

/// The attempt timeout of an endpoint that sets none, when `[http] timeout` is not set either.
pub(crate) const DEFAULT_ENDPOINT_TIMEOUT: Duration = Duration::from_secs(30);

/// The outbox lease when `[outbox] lease` is not set, unless twice the longest endpoint timeout
/// is longer (the library's default too).
pub(crate) const DEFAULT_OUTBOX_LEASE: Duration = Duration::from_secs(300);

/// The longest attempt timeout over every `[[endpoint]]`, `None` without endpoints. `http` is
/// `[http]` merged with the `HTTP_*` variables.
pub(crate) fn longest_endpoint_timeout(
    config: &Config,
    http: &model::HttpSection,
) -> Option<Duration> {
    let fallback = http.timeout.map_or(DEFAULT_ENDPOINT_TIMEOUT, |d| d.0);
    config
        .endpoints
        .iter()
        .map(|endpoint| endpoint.get_ref().timeout.map_or(fallback, |d| d.0))
        .max()
}

/// A configuration read, interpolated and checked.
#[derive(Debug)]
pub(crate) struct Loaded {
    /// The file it came from.
    pub(crate) path: PathBuf,
    /// The directory relative paths resolve against.
    pub(crate) dir: PathBuf,
    /// The file's content.
    pub(crate) config: Config,
    /// `[http]` with the `HTTP_*` variables filled in: what the webhook client takes its
    /// transport settings from.
    pub(crate) http: model::HttpSection,
    /// `[http]` as the pollers see it: the file's keys, then `POLLER_CONNECT_TIMEOUT` and
    /// `POLLER_READ_TIMEOUT`, then the `HTTP_*` variables.
    pub(crate) poller_http: model::HttpSection,
    /// The `POLLER_*` variables.
    pub(crate) poller_env: env::PollerEnv,
}

impl Loaded {
    /// A path from the file, resolved against the file's directory.
    pub(crate) fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.dir.join(path)
        }
    }

    /// What [`crate::daemon::outbox::open`] takes: the URL, or the resolved SQLite path.
    pub(crate) fn outbox_location(&self) -> String {
        match &self.config.outbox.url {
            Some(url) => url.get_ref().expose().to_owned(),
            None => self.outbox_path().display().to_string(),
        }
    }

    /// How long a claimed outbox message is hidden from other claimers: `[outbox] lease`, else
    /// [`DEFAULT_OUTBOX_LEASE`] or twice the longest endpoint timeout, whichever is longer, so
    /// an attempt that runs to its timeout is never claimed (and sent) a second time.
    pub(crate) fn outbox_lease(&self) -> Duration {
        if let Some(lease) = &self.config.outbox.lease {
            return lease.get_ref().0;
        }
        let twice = longest_endpoint_timeout(&self.config, &self.http)
            .unwrap_or_default()
            .saturating_mul(2);
        DEFAULT_OUTBOX_LEASE.max(twice)
    }

    /// The SQLite outbox file, when the outbox is a file.
    pub(crate) fn outbox_path(&self) -> PathBuf {
        let path = self
            .config
            .outbox
            .path
            .clone()
            .unwrap_or_else(|| PathBuf::from("pythia-outbox.db"));
        self.resolve(&path)
    }
}

/// Reads `path` with variables from the process environment.
pub(crate) fn load(path: &Path) -> Result<Loaded, Vec<ConfigError>> {
    load_with(path, &|name| std::env::var(name).ok())
}

/// Reads `path`, taking variables from `lookup`.
pub(crate) fn load_with(
    path: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Loaded, Vec<ConfigError>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![ConfigError::whole(
            path,
            format!("cannot read the file: {e}"),
        )]
    })?;
    parse_with(path, &text, lookup)
}

/// Parses `text`, the content of `path`.
pub(crate) fn parse_with(
    path: &Path,
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Loaded, Vec<ConfigError>> {
    let mut table = toml::de::DeTable::parse(text).map_err(|e| {
        vec![ConfigError::at(
            path,
            text,
            e.span(),
            lowercase(e.message()),
        )]
    })?;

    interpolate::interpolate_table(table.get_mut(), lookup)
        .map_err(|e| vec![ConfigError::at(path, text, Some(e.span), e.message)])?;

    let config = Config::deserialize(toml::de::Deserializer::from(table)).map_err(|e| {
        vec![ConfigError::at(
            path,
            text,
            e.span(),
            lowercase(e.message()),
        )]
    })?;

    let env_error = |e: String| vec![ConfigError::whole(path, format!("environment: {e}"))];
    let http_env = env::http_from_env(lookup).map_err(env_error)?;
    let poller_env = env::poller_from_env(lookup).map_err(env_error)?;
    let http = env::merge_http(&config.http, &http_env);
    let poller_timeouts = model::HttpSection {
        connect_timeout: poller_env.connect_timeout,
        read_timeout: poller_env.read_timeout,
        ..model::HttpSection::default()
    };
    let poller_http = env::merge_http(&config.http, &env::merge_http(&poller_timeouts, &http_env));

    let located = |errors: Vec<(Option<std::ops::Range<usize>>, String)>| -> Vec<ConfigError> {
        errors
            .into_iter()
            .map(|(span, message)| ConfigError::at(path, text, span, message))
            .collect()
    };
    let errors = validate::validate(&config, &http, &poller_env);
    if !errors.is_empty() {
        return Err(located(errors));
    }

    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let loaded = Loaded {
        path: path.to_path_buf(),
        dir,
        config,
        http,
        poller_http,
        poller_env,
    };

    // What `run` would refuse when it builds the clients, pollers and relays, found without
    // starting them, so that `check` and `run` agree.
    let errors = crate::daemon::preflight::problems(&loaded);
    if !errors.is_empty() {
        return Err(located(errors));
    }
    Ok(loaded)
}

/// toml's messages start with a capital and end without a period; ours are lowercase.
fn lowercase(message: &str) -> String {
    let message = message.trim().trim_end_matches('.');
    let mut chars = message.chars();
    match chars.next() {
        Some(first) if !chars.clone().next().is_some_and(char::is_uppercase) => {
            first.to_lowercase().chain(chars).collect()
        }
        _ => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[admin]
bind = "127.0.0.1:9090"
[ingest]
bind = "127.0.0.1:8080"
token = "${PYTHIA_INGEST_TOKEN}"       # optional
[outbox]
path = "pythia-outbox.db"
[http]
allow_private_networks = true          # the SSRF guard refuses loopback and private ranges
[[endpoint]]
name = "orders"
url = "http://127.0.0.1:9000/webhooks/orders"
secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]
[[poller]]
name = "payments"
url = "http://127.0.0.1:9100/status"
interval = "30s"
extract = "/events"
sink = { webhook = ["orders"] }
"#;

    fn env(name: &str) -> Option<String> {
        (name == "PYTHIA_INGEST_TOKEN").then(|| "t0ken".to_owned())
    }

    fn parse(text: &str) -> Result<Loaded, Vec<ConfigError>> {
        parse_with(Path::new("conf/p.toml"), text, &env)
    }

    fn first_error(text: &str) -> ConfigError {
        parse(text).unwrap_err().remove(0)
    }

    #[test]
    fn the_minimal_example_of_the_issue_is_accepted() {
        let loaded = parse(MINIMAL).unwrap();

        assert_eq!(loaded.config.endpoints.len(), 1);
        assert_eq!(loaded.config.pollers.len(), 1);
        let token = loaded
            .config
            .ingest
            .as_ref()
            .unwrap()
            .token
            .as_ref()
            .unwrap();
        assert_eq!(token.expose(), "t0ken");
        assert_eq!(loaded.outbox_path(), Path::new("conf/pythia-outbox.db"));
    }

    #[test]
    fn a_syntax_error_names_line_and_column() {
        let error = first_error("[admin]\nbind = \"127.0.0.1:1\"\nthis is not toml\n");

        let at = error.location.unwrap();
        assert_eq!(at.line, 3);
        assert!(at.column >= 1);
    }

    #[test]
    fn an_unknown_key_is_an_error_at_the_key() {
        let error = first_error("[admin]\nbind = \"127.0.0.1:1\"\nbindd = 3\n");

        assert!(error.message.contains("bindd"), "{}", error.message);
        assert_eq!(error.location.unwrap().line, 3);
    }

    #[test]
    fn a_bad_duration_is_an_error_at_the_value() {
        let text = MINIMAL.replace("\"30s\"", "\"30 parsecs\"");

        let error = first_error(&text);

        let at = error.location.unwrap();
        assert!(
            error.message.contains("invalid duration"),
            "{}",
            error.message
        );
        assert_eq!(at.text, "interval = \"30 parsecs\"");
        assert_eq!(at.column, 12);
    }

    #[test]
    fn a_bad_url_is_an_error_at_the_value() {
        let text = MINIMAL.replace("http://127.0.0.1:9000/webhooks/orders", "ftp://x/y");

        let error = first_error(&text);

        assert!(error.message.contains("invalid URL"), "{}", error.message);
        assert!(error.location.unwrap().text.starts_with("url = \"ftp"));
    }

    #[test]
    fn an_unknown_endpoint_in_a_sink_is_an_error_at_its_name() {
        let text = MINIMAL.replace("webhook = [\"orders\"]", "webhook = [\"ordres\"]");

        let error = first_error(&text);

        assert!(error.message.contains("ordres"), "{}", error.message);
        let at = error.location.unwrap();
        assert_eq!(
            &at.text[at.column - 1..at.column - 1 + at.width],
            "\"ordres\""
        );
    }

    #[test]
    fn a_missing_variable_is_an_error_at_the_value() {
        let error = parse_with(Path::new("p.toml"), MINIMAL, &|_| None)
            .unwrap_err()
            .remove(0);

        assert!(error.message.contains("PYTHIA_INGEST_TOKEN"));
        assert_eq!(
            error.location.unwrap().text.trim_end(),
            "token = \"${PYTHIA_INGEST_TOKEN}\"       # optional"
        );
    }

    #[test]
    fn interpolation_feeds_typed_values() {
        let text = "[admin]\nbind = \"127.0.0.1:${PORT:-9191}\"\n";

        let loaded = parse(text).unwrap();

        assert_eq!(loaded.config.admin.unwrap().bind.port(), 9191);
    }

    #[test]
    fn a_lease_not_longer_than_the_longest_endpoint_timeout_is_refused_at_the_key() {
        let text = MINIMAL.replace(
            "path = \"pythia-outbox.db\"",
            "path = \"pythia-outbox.db\"\nlease = \"30s\"",
        );

        let error = first_error(&text);

        assert!(
            error.message.contains("`[outbox] lease`"),
            "{}",
            error.message
        );
        assert!(error.message.contains("30s"), "{}", error.message);
        assert_eq!(error.location.unwrap().text, "lease = \"30s\"");
        let shorter = text.replace("[[poller]]", "timeout = \"10s\"\n[[poller]]");
        assert_eq!(parse(&shorter).unwrap().outbox_lease().as_secs(), 30);
    }

    #[test]
    fn the_default_lease_outlasts_every_endpoint_timeout() {
        let loaded = parse(MINIMAL).unwrap();
        let slow = parse(&MINIMAL.replace("[[poller]]", "timeout = \"10m\"\n[[poller]]")).unwrap();

        assert_eq!(loaded.outbox_lease(), DEFAULT_OUTBOX_LEASE);
        assert_eq!(slow.outbox_lease(), Duration::from_secs(20 * 60));
    }

    #[test]
    fn poller_timeouts_from_the_environment_give_way_to_the_file_and_skip_webhooks() {
        let lookup = |name: &str| match name {
            "POLLER_READ_TIMEOUT" => Some("5".to_owned()),
            "HTTP_CONNECT_TIMEOUT" => Some("7".to_owned()),
            "POLLER_CONNECT_TIMEOUT" => Some("4".to_owned()),
            _ => env(name),
        };
        let file = MINIMAL.replace("[http]\n", "[http]\nconnect_timeout = \"3s\"\n");

        let from_env = parse_with(Path::new("p.toml"), MINIMAL, &lookup).unwrap();
        let from_file = parse_with(Path::new("p.toml"), &file, &lookup).unwrap();

        let secs = |d: Option<types::Dur>| d.map(|d| d.0.as_secs());
        assert_eq!(secs(from_env.poller_http.read_timeout), Some(5));
        assert_eq!(secs(from_env.poller_http.connect_timeout), Some(4));
        assert_eq!(secs(from_env.http.read_timeout), None);
        assert_eq!(secs(from_file.poller_http.connect_timeout), Some(3));
        assert_eq!(secs(from_file.poller_http.read_timeout), Some(5));
    }

    #[test]
    fn a_read_timeout_longer_than_a_poll_interval_is_refused_while_loading() {
        let text = MINIMAL
            .replace("[http]\n", "[http]\nread_timeout = \"30s\"\n")
            .replace("\"30s\"\nextract", "\"5s\"\nextract");

        let error = first_error(&text);

        assert!(
            error
                .message
                .contains("read timeout of 30s is longer than the poll interval of 5s"),
            "{}",
            error.message
        );
        assert_eq!(error.location.unwrap().text, "[[poller]]");
    }

    #[cfg(feature = "redis")]
    #[test]
    fn a_relay_without_its_required_key_is_refused_while_loading() {
        let text = format!(
            "{MINIMAL}[[relay]]\nname = \"r\"\n[relay.source]\nkind = \"redis_list\"\n\
             url = \"redis://127.0.0.1:6379\"\n[relay.route]\nfield = \"/t\"\n\
             default = [\"orders\"]\n"
        );

        let error = first_error(&text);

        assert!(error.message.contains("needs `queue`"), "{}", error.message);
    }

    #[test]
    fn cron_takes_five_fields_as_run_does_and_refuses_nonsense_at_the_value() {
        let five = MINIMAL.replace("interval = \"30s\"", "cron = \"*/5 * * * *\"");
        let six = MINIMAL.replace("interval = \"30s\"", "cron = \"0 */5 * * * *\"");
        let bad = MINIMAL.replace("interval = \"30s\"", "cron = \"every tuesday\"");

        assert!(parse(&five).is_ok(), "{:?}", parse(&five).err());
        assert!(parse(&six).is_ok());
        let error = first_error(&bad);
        assert!(
            error.message.contains("invalid cron expression"),
            "{}",
            error.message
        );
        assert_eq!(error.location.unwrap().text, "cron = \"every tuesday\"");
    }

    #[test]
    fn ed25519_keys_sign_for_endpoints_and_verify_for_listen() {
        let secret = pythia::webhook::Ed25519SecretKey::generate();
        let public = secret.public_key().to_text();
        let secret = secret.to_text();
        let hmac = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let with = |endpoint: &str, listen: &str| {
            MINIMAL.replacen(hmac, endpoint, 1).replace(
                "[outbox]",
                &format!("[listen]\nsecrets = [\"{listen}\"]\n[outbox]"),
            )
        };

        assert!(parse(&with(&secret, &public)).is_ok());
        assert!(parse(&with(hmac, &secret)).is_ok());
        let error = first_error(&with(&public, &public));
        assert!(
            error.message.contains("can verify but not sign"),
            "{}",
            error.message
        );
        let error = first_error(&with(hmac, "whsk_AAAA"));
        assert!(error.message.contains("whsk_"), "{}", error.message);
        assert!(!error.message.contains("AAAA"), "{}", error.message);
    }

    #[test]
    fn errors_never_show_a_secret() {
        let text = MINIMAL.replace(
            "http://127.0.0.1:9000/webhooks/orders",
            "ftp://user:hunter2@x/y",
        );

        let error = first_error(&text);

        assert!(!error.message.contains("hunter2"));
        assert!(!format!("{:?}", parse(MINIMAL).unwrap()).contains("whsec_MfKQ"));
        assert!(!format!("{:?}", parse(MINIMAL).unwrap()).contains("t0ken"));
    }
}
