//! The shape of the configuration file. Every table rejects unknown keys.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::types::{Dur, HttpUrl, Secret};

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Config {
    /// The admin listener; off when absent.
    pub(crate) admin: Option<AdminSection>,
    /// The ingest API; off when absent.
    pub(crate) ingest: Option<IngestSection>,
    /// Where webhooks wait for delivery.
    #[serde(default)]
    pub(crate) outbox: OutboxSection,
    /// The pollers' HTTP client; the webhook client takes only its transport settings.
    #[serde(default)]
    pub(crate) http: HttpSection,
    /// A built-in webhook receiver, as `pythia listen` (for demos); off when absent.
    pub(crate) listen: Option<ListenSection>,
    /// How the daemon stops.
    #[serde(default)]
    pub(crate) shutdown: ShutdownSection,
    /// Webhook endpoints.
    #[serde(default, rename = "endpoint")]
    pub(crate) endpoints: Vec<Spanned<EndpointSection>>,
    /// Pollers.
    #[serde(default, rename = "poller")]
    pub(crate) pollers: Vec<Spanned<PollerSection>>,
    /// Relays from brokers.
    #[serde(default, rename = "relay")]
    pub(crate) relays: Vec<Spanned<RelaySection>>,
}

/// `[admin]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AdminSection {
    /// Listen address; default `127.0.0.1:9090`.
    #[serde(default = "default_admin_bind")]
    pub(crate) bind: SocketAddr,
}

fn default_admin_bind() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9090))
}

/// `[ingest]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IngestSection {
    /// Listen address; default `127.0.0.1:8080`.
    #[serde(default = "default_ingest_bind")]
    pub(crate) bind: SocketAddr,
    /// Bearer token required on every request; none by default.
    pub(crate) token: Option<Secret>,
    /// Largest accepted request body in bytes; default 1 MiB.
    #[serde(default = "default_ingest_max_body")]
    pub(crate) max_body_bytes: usize,
}

fn default_ingest_bind() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn default_ingest_max_body() -> usize {
    1024 * 1024
}

/// `[listen]`: a receiver inside the daemon that prints each webhook as a JSON line.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListenSection {
    /// Listen address; default `127.0.0.1:9000`.
    #[serde(default = "default_listen_bind")]
    pub(crate) bind: SocketAddr,
    /// Keys to verify against (`whsec_`, `whpk_` or `whsk_`); with one, bad signatures get 401.
    #[serde(default)]
    pub(crate) secrets: Vec<Spanned<Secret>>,
}

fn default_listen_bind() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9000))
}

/// `[outbox]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutboxSection {
    /// SQLite file, relative to the config file; default `pythia-outbox.db`.
    pub(crate) path: Option<PathBuf>,
    /// `redis://` URL of a shared outbox instead of the file, or `memory:` for tests.
    pub(crate) url: Option<Spanned<Secret>>,
    /// Prefix of every Redis key of a `redis://` outbox; the poller leases use
    /// `<prefix>:lease`. Daemons that share work use the same one. Default: `pythia:outbox` for
    /// the outbox keys and `pythia:lease` for the leases.
    pub(crate) prefix: Option<String>,
    /// How long a claimed message stays invisible to other dispatchers; it must be longer
    /// than the longest endpoint timeout (checked). Default: 5 minutes, or twice the longest
    /// endpoint timeout when that is more.
    #[serde(default)]
    pub(crate) lease: Option<Spanned<Dur>>,
    /// Deliveries in flight at once across all endpoints; default 64.
    #[serde(default)]
    pub(crate) concurrency: Option<usize>,
    /// Messages claimed per round trip to the store; default 64.
    #[serde(default)]
    pub(crate) batch: Option<usize>,
    /// How often an idle dispatcher looks for due messages; default 200 ms.
    #[serde(default)]
    pub(crate) poll_interval: Option<Dur>,
    /// The SQLite writer thread's niceness, -20 to 19 (checked); default -10, 0 leaves it at
    /// the daemon's.
    #[serde(default)]
    pub(crate) writer_nice: Option<Spanned<i32>>,
}

/// `[shutdown]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ShutdownSection {
    /// How long in-flight work may take to finish after SIGTERM; default 10 s.
    pub(crate) drain_deadline: Option<Dur>,
}

/// `[http]`, and the `http` table of a poller that overrides it for that poller.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HttpSection {
    /// Base URL that relative poller URLs resolve against (a poller's own wins for it).
    pub(crate) base_url: Option<HttpUrl>,
    /// Time to establish a connection; default 10 s.
    pub(crate) connect_timeout: Option<Dur>,
    /// Time to wait for response bytes; default 30 s.
    pub(crate) read_timeout: Option<Dur>,
    /// Time for one attempt from start to end; default none for polls (the connect and read
    /// timeouts still apply). Also the default endpoint `timeout`, which is 30 s without it.
    pub(crate) timeout: Option<Dur>,
    /// Requests in flight at once through one client (all hosts); default 100.
    pub(crate) pool_size: Option<usize>,
    /// Idle connections kept per host; default 20.
    pub(crate) max_keepalive_connections: Option<usize>,
    /// How long an idle connection is kept; default 90 s.
    pub(crate) keepalive_expiry: Option<Dur>,
    /// Check TLS certificates; default true.
    pub(crate) verify_tls: Option<bool>,
    /// Extra CA certificate (PEM).
    pub(crate) ca_file: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS, with `client_key`.
    pub(crate) client_cert: Option<PathBuf>,
    /// Client key (PEM) for mutual TLS, with `client_cert`.
    pub(crate) client_key: Option<PathBuf>,
    /// `User-Agent`; default `pythia/<version>`.
    pub(crate) user_agent: Option<String>,
    /// Follow up to 10 redirects on polls (webhooks never follow them); default true.
    pub(crate) follow_redirects: Option<bool>,
    /// Largest response body read; default 10 MiB.
    pub(crate) max_body_bytes: Option<usize>,
    /// Allow loopback, private, link-local and metadata addresses; default false in the binary.
    pub(crate) allow_private_networks: Option<bool>,
    /// Headers sent on every request.
    #[serde(default)]
    pub(crate) headers: BTreeMap<String, Secret>,
    /// Authentication.
    pub(crate) auth: Option<AuthSection>,
    /// Retries of one request.
    pub(crate) retry: Option<Spanned<RetrySection>>,
    /// Circuit breaker per host.
    pub(crate) circuit_breaker: Option<BreakerSection>,
    /// Rate limit per host, for polls.
    pub(crate) rate_limit: Option<RateLimitSection>,
}

/// `auth = { bearer = "..." }` and its siblings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) enum AuthSection {
    /// `Authorization: Bearer <token>`.
    Bearer(Secret),
    /// A key in a header.
    ApiKey {
        /// The key.
        key: Secret,
        /// The header; default `X-API-Key`.
        #[serde(default = "default_api_key_header")]
        header: String,
    },
    /// HTTP basic authentication.
    Basic {
        /// User name.
        user: String,
        /// Password.
        password: Secret,
    },
}

pub(crate) fn default_api_key_header() -> String {
    "X-API-Key".to_owned()
}

/// A retry policy.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RetrySection {
    /// `fixed`, `linear`, `exponential` or `schedule`; default `exponential`.
    pub(crate) strategy: Option<String>,
    /// First delay; default 1 s.
    pub(crate) initial_delay: Option<Dur>,
    /// Growth per attempt for `linear`.
    pub(crate) step: Option<Dur>,
    /// Multiplier for `exponential`; default 2.
    pub(crate) base: Option<f64>,
    /// The delays for `schedule`.
    pub(crate) schedule: Option<Vec<Dur>>,
    /// Attempts in all, the first included; default 3 for HTTP, 10 for endpoints.
    pub(crate) max_attempts: Option<u32>,
    /// Cap on one delay; default 30 s, or 12 h in an endpoint's durable schedule.
    pub(crate) max_delay: Option<Dur>,
    /// Cap on the time spent retrying.
    pub(crate) max_elapsed: Option<Dur>,
    /// `none`, `full`, `equal` or `decorrelated`; default `full`.
    pub(crate) jitter: Option<String>,
    /// Statuses that are retried; default 408, 429 and every 5xx but 501.
    pub(crate) retryable_statuses: Option<Vec<u16>>,
}

/// A circuit breaker.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BreakerSection {
    /// Consecutive failures that open it; default 5.
    pub(crate) failure_threshold: Option<u32>,
    /// How long it stays open after its first trip; default 30 s (doubling on repeated trips,
    /// up to 5 minutes).
    pub(crate) open_duration: Option<Dur>,
    /// Calls let through while half-open; default 1.
    pub(crate) half_open_probes: Option<u32>,
}

/// A token bucket.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RateLimitSection {
    /// Sustained rate.
    pub(crate) per_second: f64,
    /// Burst; default 1.
    #[serde(default = "one")]
    pub(crate) burst: u32,
}

fn one() -> u32 {
    1
}

/// `[[endpoint]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EndpointSection {
    /// Name used by sinks, relays and the ingest API.
    pub(crate) name: Spanned<String>,
    /// Where webhooks are posted.
    pub(crate) url: HttpUrl,
    /// Signing keys, `whsec_` (HMAC, `v1`) or `whsk_` (Ed25519, `v1a`); every one signs (for
    /// rotation). None: unsigned.
    #[serde(default)]
    pub(crate) secrets: Vec<Spanned<Secret>>,
    /// Time for one attempt; default `[http] timeout`, else 30 s.
    pub(crate) timeout: Option<Dur>,
    /// Rate limit.
    pub(crate) rate_limit: Option<RateLimitSection>,
    /// Deliveries in flight at once to this endpoint; default 64.
    pub(crate) concurrency: Option<usize>,
    /// Retry schedule; default 10 attempts over about a day. A table without `schedule`,
    /// `strategy` or delays keeps those waits (`max_attempts` shortens them, or adds 12 h ones).
    pub(crate) retry: Option<Spanned<RetrySection>>,
    /// Event types it receives when a message names an event type; empty: all.
    #[serde(default)]
    pub(crate) event_types: Vec<String>,
    /// Headers sent with every webhook.
    #[serde(default)]
    pub(crate) headers: BTreeMap<String, Secret>,
    /// Circuit breaker for this endpoint.
    pub(crate) circuit_breaker: Option<BreakerSection>,
}

/// `[[poller]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PollerSection {
    /// Name in logs, metrics and `/status`.
    pub(crate) name: Spanned<String>,
    /// What to poll; absolute, or relative to `[http] base_url`. Default: `POLLER_URL`.
    pub(crate) url: Option<Spanned<String>>,
    /// Time between polls; default `POLLER_INTERVAL` or 60 s.
    pub(crate) interval: Option<Dur>,
    /// A cron expression instead of an interval.
    pub(crate) cron: Option<Spanned<String>>,
    /// Random delay added to each tick, at most this; default none.
    pub(crate) jitter: Option<Dur>,
    /// Start an interval poller at a stable offset inside its interval (from a hash of its
    /// name), so that many pollers never fire together; default true. `false` polls at once.
    pub(crate) spread: Option<bool>,
    /// HTTP method; default `POLLER_METHOD` or `GET`.
    pub(crate) method: Option<Spanned<String>>,
    /// Request headers.
    #[serde(default)]
    pub(crate) headers: BTreeMap<String, Secret>,
    /// Query parameters.
    #[serde(default)]
    pub(crate) params: BTreeMap<String, String>,
    /// Request body: a string sent as is, or a table sent as JSON.
    pub(crate) body: Option<toml::Value>,
    /// JSON pointer to an array whose items become messages; default: the whole response.
    pub(crate) extract: Option<Spanned<String>>,
    /// JSON pointer (within an item) of a key for deduplication.
    pub(crate) dedup_key: Option<Spanned<String>>,
    /// Pagination within one poll.
    pub(crate) pagination: Option<PaginationSection>,
    /// Hand non-2xx responses to the sink too; default false.
    #[serde(default)]
    pub(crate) deliver_errors: bool,
    /// Event type given to produced messages (for endpoint filters).
    pub(crate) event_type: Option<String>,
    /// Where messages go.
    pub(crate) sink: Spanned<SinkSection>,
    /// Overrides of `[http]` for this poller.
    pub(crate) http: Option<HttpSection>,
}

/// `sink = { webhook = ["a"] }`, `sink = "stdout"` or `sink = { file = "out.jsonl" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) enum SinkSection {
    /// To named endpoints, through the outbox.
    Webhook(Vec<Spanned<String>>),
    /// JSON lines on standard output.
    Stdout,
    /// JSON lines appended to a file (relative to the config file).
    File(PathBuf),
}

/// `pagination = { next_link = true }` and its siblings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PaginationSection {
    /// Follow `Link: <...>; rel="next"`.
    #[serde(default)]
    pub(crate) link: bool,
    /// JSON pointer to the next cursor in the body.
    pub(crate) cursor: Option<String>,
    /// Query parameter that carries the cursor or page number.
    pub(crate) param: Option<String>,
    /// Page numbers in `param`, from this one (usually 1).
    pub(crate) page_start: Option<u64>,
    /// Pages fetched per poll at most; default 10.
    pub(crate) max_pages: Option<u32>,
}

/// `[[relay]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RelaySection {
    /// Name in logs and metrics.
    pub(crate) name: Spanned<String>,
    /// The broker.
    pub(crate) source: Spanned<SourceSection>,
    /// Which endpoints receive each message.
    pub(crate) route: Spanned<RouteSection>,
}

/// A relay's source.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SourceSection {
    /// `redis_list`, `redis_stream`, `nats` or `rabbitmq`.
    pub(crate) kind: Spanned<String>,
    /// Broker URL (secrets hidden in logs).
    pub(crate) url: Secret,
    /// List or queue name (`redis_list`, `rabbitmq`).
    pub(crate) queue: Option<String>,
    /// Stream name (`redis_stream`, `nats`).
    pub(crate) stream: Option<String>,
    /// Subject filter (`nats`).
    pub(crate) subject: Option<String>,
    /// Consumer group (`redis_stream`) or durable consumer name (`nats`).
    pub(crate) group: Option<String>,
    /// This consumer's name (`redis_list`, `redis_stream`) or tag (`rabbitmq`); default the
    /// host name, the process id and a random suffix. Not used by `nats`.
    pub(crate) consumer: Option<String>,
    /// The fetch batch (`nats`) or the unacknowledged deliveries at once (`rabbitmq`); default
    /// 64. Not used by the Redis kinds.
    pub(crate) prefetch: Option<u32>,
}

/// A relay's routing rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RouteSection {
    /// JSON pointer to the field whose value picks endpoints.
    pub(crate) field: Option<String>,
    /// Field value to endpoint names.
    #[serde(default)]
    pub(crate) map: BTreeMap<String, Vec<Spanned<String>>>,
    /// Endpoints for values not in `map`.
    pub(crate) default: Option<Vec<Spanned<String>>>,
    /// Use the field as an event type and send to endpoints that subscribe to it.
    #[serde(default)]
    pub(crate) by_event_type: bool,
    /// What to do with an unroutable message: `drop` (default) or `dead_letter`.
    pub(crate) unroutable: Option<Spanned<String>>,
}
