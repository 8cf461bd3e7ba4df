//! Command-line arguments.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::types::Dur;

/// Pollers, signed webhooks, a durable outbox and broker relays, from one TOML file.
#[derive(Debug, Parser)]
#[command(name = "pythia", version, about, max_term_width = 100)]
pub(crate) struct Cli {
    /// Log level or filter (`info`, `debug`, `pythia=debug,warn`); also `PYTHIA_LOG`. The
    /// RabbitMQ client's own lines are off unless named (`info,lapin=debug`).
    #[arg(long, global = true, env = "PYTHIA_LOG", default_value = "info")]
    pub(crate) log_level: String,
    /// `auto` (human on a terminal, else JSON), `human` or `json`.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Auto)]
    pub(crate) log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable on a terminal, JSON otherwise.
    Auto,
    /// Human-readable.
    Human,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the daemon: pollers, endpoints, relays, the ingest API and the admin listener.
    Run(RunArgs),
    /// Check a configuration file without running it (exit 2 on an error).
    Check(CheckArgs),
    /// Poll a URL and print one JSON line per message.
    Poll(PollArgs),
    /// Send signed webhooks: one, or one per line of a JSON-lines file.
    Send(SendArgs),
    /// Receive webhooks, print them as JSON lines and verify their signatures.
    Listen(ListenArgs),
    /// Inspect the outbox: depth, dead letters, replay.
    Outbox(OutboxArgs),
}

/// `pythia run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The configuration file.
    pub(crate) config: PathBuf,
    /// Write the bound addresses as JSON to this file once ready (for scripts and tests).
    #[arg(long)]
    pub(crate) ready_file: Option<PathBuf>,
}

/// `pythia check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The configuration file.
    pub(crate) config: PathBuf,
}

/// `pythia poll`.
#[derive(Debug, Args)]
pub(crate) struct PollArgs {
    /// The URL to poll; default `POLLER_URL`.
    #[arg(env = "POLLER_URL")]
    pub(crate) url: String,
    /// Time between polls (`30s`, `5m`); default `POLLER_INTERVAL` or 60 s.
    #[arg(long, env = "POLLER_INTERVAL", value_parser = parse_dur)]
    pub(crate) interval: Option<Dur>,
    /// Stop after this many polls.
    #[arg(long)]
    pub(crate) count: Option<u64>,
    /// HTTP method; default `POLLER_METHOD` or GET.
    #[arg(long, short = 'X', env = "POLLER_METHOD", default_value = "GET")]
    pub(crate) method: String,
    /// A request header, `Name: value` (repeatable).
    #[arg(long = "header", short = 'H')]
    pub(crate) headers: Vec<String>,
    /// A query parameter, `name=value` (repeatable).
    #[arg(long = "param")]
    pub(crate) params: Vec<String>,
    /// Request body (sent as JSON when it parses as JSON).
    #[arg(long)]
    pub(crate) data: Option<String>,
    /// JSON pointer to an array whose items become messages.
    #[arg(long)]
    pub(crate) extract: Option<String>,
    /// Time to connect; default `POLLER_CONNECT_TIMEOUT` or 10 s.
    #[arg(long, env = "POLLER_CONNECT_TIMEOUT", value_parser = parse_dur)]
    pub(crate) connect_timeout: Option<Dur>,
    /// Time to read a response; default `POLLER_READ_TIMEOUT` or 30 s.
    #[arg(long, env = "POLLER_READ_TIMEOUT", value_parser = parse_dur)]
    pub(crate) read_timeout: Option<Dur>,
}

/// `pythia send`.
#[derive(Debug, Args)]
pub(crate) struct SendArgs {
    /// Where to post.
    pub(crate) url: String,
    /// The payload, as JSON text.
    #[arg(long, conflicts_with_all = ["data_file", "file"])]
    pub(crate) data: Option<String>,
    /// A file holding the payload.
    #[arg(long, conflicts_with = "file")]
    pub(crate) data_file: Option<PathBuf>,
    /// A JSON-lines file: one webhook per line.
    #[arg(long)]
    pub(crate) file: Option<PathBuf>,
    /// A signing key, `whsec_` (HMAC, `v1`) or `whsk_` (Ed25519, `v1a`); repeatable, each
    /// adds a signature. Also `PYTHIA_SECRET`.
    #[arg(
        long = "secret",
        env = "PYTHIA_SECRET",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub(crate) secrets: Vec<String>,
    /// An extra header, `Name: value` (repeatable).
    #[arg(long = "header", short = 'H')]
    pub(crate) headers: Vec<String>,
    /// Time for one attempt.
    #[arg(long, value_parser = parse_dur, default_value = "30s")]
    pub(crate) timeout: Dur,
    /// Attempts per webhook, the first included.
    #[arg(long, default_value_t = 3)]
    pub(crate) max_attempts: u32,
    /// Webhooks in flight at once (for `--file`).
    #[arg(long, default_value_t = 8)]
    pub(crate) concurrency: usize,
    /// Allow loopback and private addresses (on by default for this tool).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub(crate) allow_private_networks: bool,
}

/// `pythia listen`.
#[derive(Debug, Args)]
pub(crate) struct ListenArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9000")]
    pub(crate) bind: SocketAddr,
    /// A key to verify against: `whsec_`, or `whpk_` (an Ed25519 public key); repeatable.
    /// With one, bad signatures get 401.
    #[arg(
        long = "secret",
        env = "PYTHIA_SECRET",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub(crate) secrets: Vec<String>,
    /// Largest accepted body, in bytes.
    #[arg(long, default_value_t = 1024 * 1024)]
    pub(crate) max_body_bytes: usize,
    /// Status to answer to webhooks that pass (for trying retries).
    #[arg(long, default_value_t = 200)]
    pub(crate) status: u16,
    /// Exit after this many webhooks.
    #[arg(long)]
    pub(crate) count: Option<u64>,
}

/// `pythia outbox`.
#[derive(Debug, Args)]
pub(crate) struct OutboxArgs {
    /// The SQLite outbox file, or a redis:// URL.
    #[arg(long, conflicts_with = "config")]
    pub(crate) outbox: Option<String>,
    /// Take the outbox from this configuration file instead.
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Key prefix of a Redis outbox (with `--outbox redis://...`); default `pythia`.
    #[arg(long, conflicts_with = "config")]
    pub(crate) prefix: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub(crate) action: OutboxAction,
}

/// `pythia outbox ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum OutboxAction {
    /// Pending, in flight and dead counts, overall or for one endpoint.
    Stats {
        /// Only this endpoint.
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// List dead letters as JSON lines.
    Dead {
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Move dead letters back to pending.
    Replay {
        /// Only this endpoint.
        #[arg(long, conflicts_with = "ids")]
        endpoint: Option<String>,
        /// Only these message ids.
        #[arg(long = "id")]
        ids: Vec<String>,
    },
}

fn parse_dur(text: &str) -> Result<Dur, String> {
    Dur::parse(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
