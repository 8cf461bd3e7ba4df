//! Starting the daemon and waiting for it to stop.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use pythia::outbox::Outbox;
use pythia::runtime::{HealthRegistry, Runtime, RuntimeError};
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use pythia::webhook::WebhookSender;

use super::admin::{self, AdminState, StatusFn};
use super::delivery::{DaemonDeliver, LastErrors};
use super::dispatch::{DispatchSettings, DispatchWorker};
use super::gate::IntakeGate;
use super::ingest::{self, IngestState};
use super::listeners::{serve, Served};
use super::routing::Endpoints;
use super::status::PollerBoard;
use crate::config::Loaded;

/// Default time in-flight work may take to finish after SIGTERM.
const DEFAULT_DRAIN_DEADLINE: Duration = Duration::from_secs(10);

/// A running daemon.
#[derive(Debug)]
pub(crate) struct Daemon {
    runtime: JoinHandle<Result<(), RuntimeError>>,
    listeners: Vec<Served>,
    stop_listeners: CancellationToken,
}

impl Daemon {
    /// Opens the outbox, binds the listeners, starts the workers, writes the ready file.
    pub(crate) async fn start(
        loaded: Loaded,
        ready_file: Option<&Path>,
        started: Instant,
    ) -> Result<Daemon, String> {
        let prometheus = install_metrics()?;
        let outbox_location = loaded.outbox_location();
        let outbox = super::outbox::open(
            &outbox_location,
            loaded.config.outbox.prefix.as_deref(),
            loaded
                .config
                .outbox
                .writer_nice
                .as_ref()
                .map(|nice| *nice.get_ref()),
            true,
        )
        .await
        .map_err(|e| e.to_string())?;

        let sender = super::build::webhook_sender(&loaded)?;
        let deliver = DaemonDeliver::new(sender.clone(), endpoint_headers(&loaded));
        let last_errors = deliver.last_errors();

        let mut endpoints = Endpoints::default();
        for endpoint in &loaded.config.endpoints {
            let endpoint = endpoint.get_ref();
            endpoints.insert(
                endpoint.name.get_ref().clone(),
                endpoint.event_types.clone(),
            );
        }
        let endpoints = Arc::new(endpoints);
        let board = PollerBoard::default();
        let draining = Arc::new(AtomicBool::new(false));
        let ready = Arc::new(AtomicBool::new(false));
        let stop_listeners = CancellationToken::new();

        let drain_deadline = loaded
            .config
            .shutdown
            .drain_deadline
            .map_or(DEFAULT_DRAIN_DEADLINE, |d| d.0);
        let mut builder = Runtime::builder()
            .drain_deadline(drain_deadline)
            .worker(IntakeGate {
                draining: draining.clone(),
                ready: ready.clone(),
            });
        let (dispatch, queue) = DispatchWorker::new(
            outbox.clone(),
            deliver,
            DispatchSettings::new(
                &loaded,
                drain_deadline.saturating_sub(Duration::from_millis(500)),
            ),
        );
        builder = builder.worker(dispatch);
        let workers = super::workers::build(&loaded, &queue, &outbox, &endpoints, &board).await?;
        let summary = workers.summary.clone();
        for worker in workers.workers {
            builder = builder.boxed_worker(worker);
        }
        let runtime = builder.build();
        let health = runtime.health();

        let mut listeners = Vec::new();
        let mut addresses = serde_json::Map::new();
        if let Some(section) = &loaded.config.ingest {
            let state = IngestState {
                queue: queue.clone(),
                endpoints: endpoints.clone(),
                token: section.token.as_ref().map(|t| Arc::from(t.expose())),
                draining: draining.clone(),
            };
            let router = ingest::router(state, section.max_body_bytes);
            let served = serve("ingest", section.bind, router, stop_listeners.clone()).await?;
            addresses.insert("ingest".into(), json!(served.addr.to_string()));
            listeners.push(served);
        }
        if let Some(section) = &loaded.config.admin {
            let state = AdminState {
                prometheus: prometheus.clone(),
                ready: ready.clone(),
                status: status_fn(StatusSources {
                    outbox: outbox.clone(),
                    endpoints: endpoints.clone(),
                    board: board.clone(),
                    health,
                    sender,
                    last_errors,
                }),
            };
            let served = serve(
                "admin",
                section.bind,
                admin::router(state),
                stop_listeners.clone(),
            )
            .await?;
            addresses.insert("admin".into(), json!(served.addr.to_string()));
            listeners.push(served);
        }

        if let Some(section) = &loaded.config.listen {
            let verifiers = section
                .secrets
                .iter()
                .map(|secret| pythia::webhook::Verifier::from_secrets([secret.get_ref().expose()]))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("[listen] secrets: {e}"))?;
            let state = crate::commands::listen::ListenState::new(
                verifiers,
                http::StatusCode::OK,
                None,
                CancellationToken::new(),
            );
            let router = crate::commands::listen::router(state, 1024 * 1024);
            let served = serve("listen", section.bind, router, stop_listeners.clone()).await?;
            addresses.insert("listen".into(), json!(served.addr.to_string()));
            listeners.push(served);
        }

        let runtime = tokio::spawn(runtime.run());
        ready.store(true, Ordering::Release);
        let ready_after = started.elapsed();
        metrics::gauge!("pythia_daemon_start_seconds").set(ready_after.as_secs_f64());
        tracing::info!(
            config = %loaded.path.display(),
            outbox = %crate::config::types::redact_url_text(&outbox_location),
            ingest = addresses.get("ingest").and_then(|v| v.as_str()),
            admin = addresses.get("admin").and_then(|v| v.as_str()),
            listen = addresses.get("listen").and_then(|v| v.as_str()),
            endpoints = %endpoints.names().collect::<Vec<_>>().join(","),
            pollers = %summary.pollers.join(","),
            relays = %summary.relays.join(","),
            ready_ms = (ready_after.as_secs_f64() * 10_000.0).round() / 10.0,
            "pythia is running"
        );
        if let Some(path) = ready_file {
            let mut document = Value::Object(addresses);
            document["pid"] = json!(std::process::id());
            write_ready_file(path, &document)?;
        }
        spawn_upkeep(prometheus);

        Ok(Daemon {
            runtime,
            listeners,
            stop_listeners,
        })
    }

    /// Waits for the runtime to stop (SIGINT, SIGTERM) and drain, then closes the listeners.
    pub(crate) async fn wait(self) -> ExitCode {
        let result = match self.runtime.await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(join) => Err(join.to_string()),
        };
        self.stop_listeners.cancel();
        for served in self.listeners {
            let _ = tokio::time::timeout(Duration::from_secs(2), served.task).await;
        }
        match result {
            Ok(()) => {
                tracing::info!("pythia stopped");
                ExitCode::SUCCESS
            }
            Err(error) => {
                tracing::error!(%error, "pythia stopped with an error");
                ExitCode::FAILURE
            }
        }
    }
}

fn install_metrics() -> Result<PrometheusHandle, String> {
    PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))
}

fn spawn_upkeep(prometheus: PrometheusHandle) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            prometheus.run_upkeep();
        }
    });
}

/// Writes the ready file atomically (a temporary file renamed), so a reader never sees half.
fn write_ready_file(path: &Path, document: &Value) -> Result<(), String> {
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, document.to_string())
        .and_then(|()| std::fs::rename(&temporary, path))
        .map_err(|e| format!("cannot write the ready file {}: {e}", path.display()))
}

/// What `/status` reads.
struct StatusSources {
    outbox: Arc<dyn Outbox>,
    endpoints: Arc<Endpoints>,
    board: PollerBoard,
    health: HealthRegistry,
    sender: WebhookSender,
    last_errors: LastErrors,
}

fn status_fn(sources: StatusSources) -> StatusFn {
    let sources = Arc::new(sources);
    Arc::new(move || {
        let sources = sources.clone();
        async move {
            let mut endpoint_status = serde_json::Map::new();
            for name in sources.endpoints.names() {
                let mut entry = match sources.outbox.stats(Some(name)).await {
                    Ok(stats) => json!({
                        "depth": stats.depth(),
                        "pending": stats.pending,
                        "in_flight": stats.in_flight,
                        "dead_letters": stats.dead,
                        "oldest_age_seconds": stats.oldest_age.map(|a| a.as_secs_f64()),
                    }),
                    Err(error) => json!({"error": error.to_string()}),
                };
                let endpoint = sources.sender.endpoint(name);
                entry["breaker"] = json!(endpoint
                    .as_ref()
                    .and_then(|e| e.breaker_state())
                    .map_or("none", |state| state.as_str()));
                entry["disabled"] = json!(endpoint.as_ref().is_some_and(|e| e.is_disabled()));
                entry["last_error"] = json!(sources.last_errors.lock().get(name));
                endpoint_status.insert(name.to_owned(), entry);
            }
            let workers: Vec<Value> = sources
                .health
                .snapshot()
                .into_iter()
                .map(|worker| {
                    json!({
                        "name": worker.name,
                        "healthy": worker.healthy,
                        "consecutive_failures": worker.consecutive_failures,
                        "last_error": worker.last_error,
                    })
                })
                .collect();
            let overall = sources.outbox.stats(None).await.ok();
            json!({
                "pollers": sources.board.snapshot(),
                "endpoints": endpoint_status,
                "workers": workers,
                "outbox": overall,
            })
        }
        .boxed()
    })
}

/// Each endpoint's configured headers, sent with every webhook to it.
fn endpoint_headers(loaded: &Loaded) -> HashMap<String, Vec<(String, String)>> {
    loaded
        .config
        .endpoints
        .iter()
        .map(|endpoint| {
            let endpoint = endpoint.get_ref();
            let headers = endpoint
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), value.expose().to_owned()))
                .collect();
            (endpoint.name.get_ref().clone(), headers)
        })
        .collect()
}
