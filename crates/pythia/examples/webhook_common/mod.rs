//! What every webhook example shares: the command line (a base URL, `--allow-private`, the
//! example's own options), logging, the signing secret, the guard against private addresses,
//! and a one-line report per delivery on stdout.
#![allow(dead_code, unreachable_pub)]

#[path = "../cli/mod.rs"]
pub mod cli;

use std::io::IsTerminal;

use pythia::http::HttpClientConfig;
use pythia::webhook::{Outcome, WebhookConfig, WebhookConfigBuilder};

/// The variable that holds the signing secret (`whsec_...`).
pub const SECRET_VAR: &str = "WEBHOOK_SECRET";

/// The secret used when `WEBHOOK_SECRET` is not set: a published test vector of the Standard
/// Webhooks specification, for trying the examples against `pythia listen`. Never use it for
/// real webhooks.
pub const TEST_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The switch that lets webhooks reach loopback and private addresses.
pub const ALLOW_PRIVATE: &str = "--allow-private";

/// Logs to stderr (`RUST_LOG` filters; default `info`), in colour only on a terminal.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// A webhook configuration for the base URL given on the command line, signed with
/// `WEBHOOK_SECRET` (or [`TEST_SECRET`]), that refuses loopback, private and link-local
/// addresses unless `--allow-private` was given.
///
/// Webhook URLs usually come from partners, so the examples keep the library's guard against
/// server-side request forgery on; a local receiver such as `pythia listen` needs the switch.
pub fn config(args: &cli::Args) -> WebhookConfigBuilder {
    let secret = std::env::var(SECRET_VAR).unwrap_or_else(|_| {
        tracing::warn!(
            variable = SECRET_VAR,
            "signing with the documented test secret; set the variable for real webhooks"
        );
        TEST_SECRET.to_owned()
    });
    let allow_private = args.flag(ALLOW_PRIVATE);
    if allow_private {
        tracing::info!("loopback and private addresses allowed");
    }
    WebhookConfig::builder()
        .base_url(args.positional())
        .secret(&secret)
        .http(HttpClientConfig::builder().allow_private_networks(allow_private))
}

/// Prints what one delivery came to, for people and for scripts:
/// `<endpoint> delivered|<error class> attempts=<n> status=<code or ->`.
pub fn report(outcome: &Outcome) {
    let result = match outcome.error_class() {
        None => "delivered",
        Some(class) => class.as_str(),
    };
    let status = outcome
        .status()
        .map_or_else(|| "-".to_owned(), |s| s.to_string());
    println!(
        "{} {result} attempts={} status={status}",
        outcome.endpoint(),
        outcome.attempts()
    );
}
