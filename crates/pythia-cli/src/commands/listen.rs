//! `pythia listen`: a local receiver that prints each webhook as a JSON line and checks its
//! Standard Webhooks signature against each `--secret`.

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use pythia::webhook::Verifier;
use pythia::Body;
use serde_json::{json, Map, Value};
use tokio_util::sync::CancellationToken;

use crate::cli::ListenArgs;
use crate::daemon::sinks::body_value;

/// What the receiver's handler shares.
#[derive(Clone)]
pub(crate) struct ListenState {
    /// One verifier per secret, in the order given, so each can be reported on its own.
    verifiers: Arc<[Verifier]>,
    status: StatusCode,
    received: Arc<AtomicU64>,
    count: Option<u64>,
    done: CancellationToken,
}

/// Runs the receiver until Ctrl-C, SIGTERM or `--count` webhooks.
pub(crate) async fn run(args: ListenArgs) -> ExitCode {
    let verifiers = match args
        .secrets
        .iter()
        .map(|secret| Verifier::from_secrets([secret.trim()]))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(verifiers) => verifiers,
        Err(error) => {
            eprintln!("error: invalid --secret: {error}");
            return ExitCode::from(crate::EXIT_USAGE);
        }
    };
    let Ok(status) = StatusCode::from_u16(args.status) else {
        eprintln!("error: --status {} is not an HTTP status", args.status);
        return ExitCode::from(crate::EXIT_USAGE);
    };
    let listener = match tokio::net::TcpListener::bind(args.bind).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(bind = %args.bind, %error, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    let bound = listener.local_addr().map_or(args.bind, |addr| addr);
    tracing::info!(
        bind = %bound,
        secrets = verifiers.len(),
        "listening for webhooks; bad signatures get 401 when a secret is given"
    );

    let done = CancellationToken::new();
    let state = ListenState::new(verifiers, status, args.count, done.clone());
    let app = router(state, args.max_body_bytes);

    let stop = async move {
        tokio::select! {
            () = crate::daemon::signals::terminated() => {}
            () = done.cancelled() => {}
        }
    };
    match axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "the receiver failed");
            ExitCode::FAILURE
        }
    }
}

impl ListenState {
    /// A receiver state; `count` webhooks (if given) cancel `done`.
    pub(crate) fn new(
        verifiers: Vec<Verifier>,
        status: StatusCode,
        count: Option<u64>,
        done: CancellationToken,
    ) -> Self {
        ListenState {
            verifiers: verifiers.into(),
            status,
            received: Arc::new(AtomicU64::new(0)),
            count,
            done,
        }
    }
}

/// The receiver: any method, any path.
pub(crate) fn router(state: ListenState, max_body_bytes: usize) -> Router {
    Router::new()
        .fallback(receive)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

async fn receive(
    State(state): State<ListenState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return (rejection.status(), rejection.body_text()).into_response(),
    };

    let checks: Vec<Value> = state
        .verifiers
        .iter()
        .enumerate()
        .map(|(index, verifier)| match verifier.verify(&headers, &body) {
            Ok(()) => json!({"secret": index, "verified": true}),
            Err(error) => json!({"secret": index, "verified": false, "reason": error.reason()}),
        })
        .collect();
    let verified = !checks.is_empty() && checks.iter().any(|c| c["verified"] == true);
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let content_type = header("content-type");

    let line = json!({
        "id": header("webhook-id"),
        "timestamp": header("webhook-timestamp").and_then(|t| t.parse::<i64>().ok()),
        "received_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "method": method.as_str(),
        "path": uri.path(),
        "headers": headers_json(&headers),
        "body": body_value(&decode(content_type, body)),
        "verified": if checks.is_empty() { Value::Null } else { Value::Bool(verified) },
        "signatures": checks,
    });
    print_line(&line);

    let seen = state.received.fetch_add(1, Ordering::AcqRel) + 1;
    if state.count.is_some_and(|count| seen >= count) {
        state.done.cancel();
    }
    if !state.verifiers.is_empty() && !verified {
        return (StatusCode::UNAUTHORIZED, "signature does not verify\n").into_response();
    }
    state.status.into_response()
}

/// The body by its content type; a body that lies about being JSON is shown as text or bytes.
fn decode(content_type: Option<&str>, body: Bytes) -> Body {
    Body::decode(content_type, body.clone()).unwrap_or_else(|_| {
        match String::from_utf8(body.to_vec()) {
            Ok(text) => Body::Text(text),
            Err(_) => Body::Bytes(body),
        }
    })
}

fn headers_json(headers: &HeaderMap) -> Value {
    let mut map = Map::new();
    for (name, value) in headers {
        let text = value.to_str().unwrap_or("<binary>");
        let shown = if name == "authorization" { "***" } else { text };
        match map.get_mut(name.as_str()) {
            Some(Value::String(earlier)) => {
                earlier.push_str(", ");
                earlier.push_str(shown);
            }
            _ => {
                map.insert(name.as_str().to_owned(), Value::String(shown.to_owned()));
            }
        }
    }
    Value::Object(map)
}

fn print_line(line: &Value) {
    let mut bytes = serde_json::to_vec(line).unwrap_or_default();
    bytes.push(b'\n');
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    let _ = lock.write_all(&bytes).and_then(|()| lock.flush());
}
