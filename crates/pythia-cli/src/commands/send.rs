//! `pythia send URL`: one signed webhook (`--data`, `--data-file`) or one per line of a
//! JSON-lines file (`--file`), each retried with the same `webhook-id`; a progress bar on a
//! terminal for a file, and a summary. Exit 0 when all were delivered, 1 when any was not,
//! 2 on bad usage.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use pythia::http::HttpClientConfig;
use pythia::webhook::{Outcome, Payload, WebhookConfig, WebhookSender};
use serde_json::{json, Value};

use crate::cli::SendArgs;

/// What to send: one payload, or the lines of a file.
enum Input {
    One(Payload),
    Lines(std::path::PathBuf),
}

/// A checked command line, ready to send.
struct Prepared {
    sender: WebhookSender,
    headers: Vec<(String, String)>,
    input: Input,
}

/// Sends, prints one JSON line per failure and a summary, and picks the exit status.
pub(crate) async fn run(args: SendArgs) -> ExitCode {
    match prepare(&args) {
        Ok(prepared) => {
            send(
                &prepared.sender,
                &args.url,
                &prepared.headers,
                prepared.input,
                &args,
            )
            .await
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(crate::EXIT_USAGE)
        }
    }
}

fn prepare(args: &SendArgs) -> Result<Prepared, String> {
    if !(args.url.starts_with("http://") || args.url.starts_with("https://")) {
        return Err("the URL must start with http:// or https://".into());
    }
    url::Url::parse(&args.url).map_err(|e| format!("invalid URL: {e}"))?;
    if args.max_attempts == 0 {
        return Err("--max-attempts must be at least 1".into());
    }
    if args.concurrency == 0 {
        return Err("--concurrency must be at least 1".into());
    }
    let headers = args
        .headers
        .iter()
        .map(|header| parse_header(header))
        .collect::<Result<Vec<_>, _>>()?;

    let input = match (&args.data, &args.data_file, &args.file) {
        (Some(data), _, _) => Input::One(json_payload(data).map_err(|e| format!("--data: {e}"))?),
        (None, Some(path), _) => Input::One(file_payload(path)?),
        (None, None, Some(path)) => {
            if !path.is_file() {
                return Err(format!("--file: no file at {}", path.display()));
            }
            Input::Lines(path.clone())
        }
        (None, None, None) => {
            return Err("give --data JSON, --data-file PATH or --file PATH".into())
        }
    };

    let mut config = WebhookConfig::builder()
        .timeout(args.timeout.0)
        .max_retries(args.max_attempts - 1)
        .concurrency_limit(args.concurrency)
        .circuit_breaker(None)
        .http(HttpClientConfig::builder().allow_private_networks(args.allow_private_networks));
    for secret in &args.secrets {
        config = config.secret(secret.trim());
    }
    let config = config.build().map_err(|e| e.to_string())?;
    let sender = WebhookSender::new(config).map_err(|e| e.to_string())?;
    Ok(Prepared {
        sender,
        headers,
        input,
    })
}

/// `Name: value`.
fn parse_header(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("header `{text}` is not `Name: value`"))?;
    let name = name.trim();
    http::HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("`{name}` is not a valid header name"))?;
    Ok((name.to_owned(), value.trim().to_owned()))
}

fn json_payload(text: &str) -> Result<Payload, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON ({e})"))?;
    Ok(Payload::from(value))
}

/// A file's content: JSON when it parses, otherwise sent as bytes.
fn file_payload(path: &Path) -> Result<Payload, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("--data-file {}: {e}", path.display()))?;
    Ok(match serde_json::from_slice::<Value>(&bytes) {
        Ok(value) => Payload::from(value),
        Err(_) => Payload::bytes(bytes, "application/octet-stream"),
    })
}

/// Counts for the summary.
#[derive(Default)]
struct Tally {
    delivered: AtomicU64,
    failed: AtomicU64,
    invalid: AtomicU64,
}

async fn send(
    sender: &WebhookSender,
    url: &str,
    headers: &[(String, String)],
    input: Input,
    args: &SendArgs,
) -> ExitCode {
    let started = Instant::now();
    let tally = Arc::new(Tally::default());
    let header_refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();

    match input {
        Input::One(payload) => {
            let outcome = sender.send(url, payload, &header_refs).await;
            print_line(&outcome_line(None, &outcome));
            count(&tally, &outcome);
        }
        Input::Lines(path) => {
            let file = match std::fs::File::open(&path) {
                Ok(file) => file,
                Err(error) => {
                    eprintln!("error: --file {}: {error}", path.display());
                    return ExitCode::from(crate::EXIT_USAGE);
                }
            };
            let bar = progress_bar(&path);
            let lines = std::io::BufReader::new(file)
                .lines()
                .enumerate()
                .filter(|(_, line)| line.as_ref().map_or(true, |l| !l.trim().is_empty()));
            futures::stream::iter(lines)
                .map(|(index, line)| {
                    let header_refs = &header_refs;
                    let tally = tally.clone();
                    let bar = bar.clone();
                    async move {
                        let number = index + 1;
                        let payload = line
                            .map_err(|e| format!("cannot read the line: {e}"))
                            .and_then(|line| json_payload(&line));
                        match payload {
                            Ok(payload) => {
                                let outcome = sender.send(url, payload, header_refs).await;
                                if !outcome.is_delivered() {
                                    print_line(&outcome_line(Some(number), &outcome));
                                }
                                count(&tally, &outcome);
                            }
                            Err(error) => {
                                tally.invalid.fetch_add(1, Ordering::Relaxed);
                                metrics::counter!("pythia_send_invalid_lines_total").increment(1);
                                print_line(&json!({
                                    "line": number, "delivered": false, "error": error,
                                }));
                            }
                        }
                        if let Some(bar) = &bar {
                            bar.inc(1);
                        }
                    }
                })
                .buffer_unordered(args.concurrency)
                .collect::<()>()
                .await;
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
        }
    }

    let delivered = tally.delivered.load(Ordering::Relaxed);
    let failed = tally.failed.load(Ordering::Relaxed);
    let invalid = tally.invalid.load(Ordering::Relaxed);
    let elapsed = started.elapsed();
    let summary = json!({
        "summary": true,
        "delivered": delivered,
        "failed": failed,
        "invalid": invalid,
        "elapsed_seconds": round_ms(elapsed),
    });
    eprintln!(
        "sent {} webhook(s) to {}: {delivered} delivered, {failed} failed, {invalid} invalid in \
         {:.2}s",
        delivered + failed + invalid,
        pythia_url_label(url),
        elapsed.as_secs_f64()
    );
    print_line(&summary);
    if failed == 0 && invalid == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn count(tally: &Tally, outcome: &Outcome) {
    let slot = if outcome.is_delivered() {
        &tally.delivered
    } else {
        &tally.failed
    };
    slot.fetch_add(1, Ordering::Relaxed);
}

/// One webhook's outcome as a JSON line; `line` is its line in the file, if any.
fn outcome_line(line: Option<usize>, outcome: &Outcome) -> Value {
    json!({
        "line": line,
        "id": outcome.id(),
        "delivered": outcome.is_delivered(),
        "attempts": outcome.attempts(),
        "status": outcome.status(),
        "latency_ms": round_ms(outcome.latency()) * 1000.0,
        "error_class": outcome.error_class().map(|class| class.as_str()),
        "error": outcome.error(),
    })
}

fn round_ms(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1000.0).round() / 1000.0
}

/// A bar on stderr when it is a terminal; the total is the file's line count.
fn progress_bar(path: &Path) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let total = std::fs::File::open(path)
        .map(|file| std::io::BufReader::new(file).lines().count() as u64)
        .unwrap_or(0);
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, eta {eta})",
    ) {
        bar.set_style(style);
    }
    Some(bar)
}

/// The URL without credentials or query, for the summary line.
fn pythia_url_label(url: &str) -> String {
    crate::config::types::redact_url_text(url)
}

fn print_line(line: &Value) {
    let mut bytes = serde_json::to_vec(line).unwrap_or_default();
    bytes.push(b'\n');
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    let _ = lock.write_all(&bytes).and_then(|()| lock.flush());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_is_a_name_and_a_trimmed_value() {
        assert_eq!(
            parse_header("X-Trace:  abc ").unwrap(),
            ("X-Trace".to_owned(), "abc".to_owned())
        );
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("bad name: x").is_err());
    }

    #[test]
    fn data_must_be_json() {
        assert!(json_payload(r#"{"a":1}"#).is_ok());
        assert!(json_payload("{oops")
            .unwrap_err()
            .contains("not valid JSON"));
    }
}
