//! Where a poller's messages go: webhooks through the outbox, stdout, or a file, as JSON lines.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use pythia::outbox::NewMessage;
use pythia::webhook::dispatch::{QueueError, WebhookQueue};
use pythia::{Body, Message};
use serde_json::{json, Value};

/// A configured sink.
#[derive(Clone)]
pub(crate) enum Sink {
    /// To these endpoints, durably.
    Webhook {
        queue: WebhookQueue,
        endpoints: Arc<[String]>,
        event_type: Option<String>,
    },
    /// JSON lines on standard output.
    Stdout,
    /// JSON lines appended to a file.
    File {
        path: PathBuf,
        file: Arc<Mutex<std::fs::File>>,
    },
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sink::Webhook { endpoints, .. } => f.debug_tuple("Webhook").field(endpoints).finish(),
            Sink::Stdout => f.write_str("Stdout"),
            Sink::File { path, .. } => f.debug_tuple("File").field(path).finish(),
        }
    }
}

/// Why a message could not be handed on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum SinkError {
    /// The outbox refused it.
    #[error("outbox: {0}")]
    Queue(#[from] QueueError),
    /// Writing the line failed.
    #[error("cannot write to {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

impl Sink {
    /// A file sink, creating the file (and not its directory) when missing.
    pub(crate) fn file(path: &Path) -> std::io::Result<Sink> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Sink::File {
            path: path.to_path_buf(),
            file: Arc::new(Mutex::new(file)),
        })
    }

    /// A short description for the startup line.
    pub(crate) fn describe(&self) -> String {
        match self {
            Sink::Webhook { endpoints, .. } => format!("webhook:{}", endpoints.join("+")),
            Sink::Stdout => "stdout".to_owned(),
            Sink::File { path, .. } => format!("file:{}", path.display()),
        }
    }

    /// Hands one message on; returns once it is durable (outbox) or written.
    pub(crate) async fn deliver(&self, origin: &str, message: &Message) -> Result<(), SinkError> {
        match self {
            Sink::Webhook {
                queue,
                endpoints,
                event_type,
            } => {
                let payload = message.body.to_bytes();
                let batch: Vec<NewMessage> = endpoints
                    .iter()
                    .map(|endpoint| {
                        let mut new = NewMessage::new(endpoint.clone(), payload.clone());
                        if let Some(content_type) = message.body.content_type() {
                            new = new.header("content-type", content_type);
                        }
                        if let Some(event_type) = event_type {
                            new = new.event_type(event_type.clone());
                        }
                        new
                    })
                    .collect();
                if batch.len() == 1 {
                    queue
                        .enqueue(batch.into_iter().next().expect("one"))
                        .await?;
                } else {
                    queue.enqueue_batch(batch).await?;
                }
                Ok(())
            }
            Sink::Stdout => {
                let mut line = serde_json::to_vec(&json_line(origin, message)).unwrap_or_default();
                line.push(b'\n');
                let stdout = std::io::stdout();
                let mut lock = stdout.lock();
                lock.write_all(&line)
                    .and_then(|()| lock.flush())
                    .map_err(|source| SinkError::Write {
                        path: "stdout".into(),
                        source,
                    })
            }
            Sink::File { path, file } => {
                let mut line = serde_json::to_vec(&json_line(origin, message)).unwrap_or_default();
                line.push(b'\n');
                file.lock()
                    .write_all(&line)
                    .map_err(|source| SinkError::Write {
                        path: path.display().to_string(),
                        source,
                    })
            }
        }
    }
}

/// One message as a JSON line: id, origin, timestamp, status, response time, URL and body.
pub(crate) fn json_line(origin: &str, message: &Message) -> Value {
    json!({
        "id": message.id,
        "origin": origin,
        "timestamp": message.timestamp.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "status_code": message.status_code(),
        "response_time_ms": message.response_time().map(|d| d.as_secs_f64() * 1000.0),
        "url": message.url(),
        "body": body_value(&message.body),
    })
}

/// The body as JSON: the value itself, a string for text, base64 for raw bytes.
pub(crate) fn body_value(body: &Body) -> Value {
    use base64::Engine;
    match body {
        Body::Empty => Value::Null,
        Body::Json(value) => value.clone(),
        Body::Text(text) => Value::String(text.clone()),
        Body::Bytes(bytes) => json!({
            "base64": base64::engine::general_purpose::STANDARD.encode(bytes)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_file_sink_appends_one_json_line_per_message() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        std::fs::write(&path, "{\"earlier\":true}\n").unwrap();
        let sink = Sink::file(&path).unwrap();

        sink.deliver("p", &Message::json(json!({"n": 1})))
            .await
            .unwrap();
        sink.deliver("p", &Message::json(json!({"n": 2})))
            .await
            .unwrap();

        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1]["body"]["n"], 1);
        assert_eq!(lines[2]["origin"], "p");
    }
}
