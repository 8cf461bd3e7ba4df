//! `pythia outbox stats|dead|replay`: look into the outbox and replay dead letters.

use std::process::ExitCode;

use pythia::outbox::Replay;
use serde_json::json;

use crate::cli::{OutboxAction, OutboxArgs};
use crate::config;
use crate::daemon::sinks::body_value;

/// Runs one outbox action and prints JSON.
pub(crate) async fn run(args: OutboxArgs) -> ExitCode {
    let (location, prefix) = match (&args.outbox, &args.config) {
        (Some(location), _) => (location.clone(), args.prefix.clone()),
        (None, Some(path)) => match config::load(path) {
            Ok(loaded) => (
                loaded.outbox_location(),
                loaded.config.outbox.prefix.clone(),
            ),
            Err(errors) => {
                for error in errors {
                    eprintln!("error: {error}");
                }
                return ExitCode::from(crate::EXIT_USAGE);
            }
        },
        (None, None) => {
            eprintln!("error: give --outbox PATH (or a redis:// URL) or --config FILE");
            return ExitCode::from(crate::EXIT_USAGE);
        }
    };
    if !location.contains("://")
        && location != "memory:"
        && !std::path::Path::new(&location).exists()
    {
        eprintln!("error: no outbox at {location}");
        return ExitCode::from(crate::EXIT_USAGE);
    }
    let outbox = match crate::daemon::outbox::open(&location, prefix.as_deref(), None, false).await
    {
        Ok(outbox) => outbox,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };

    let result = match args.action {
        OutboxAction::Stats { endpoint } => outbox.stats(endpoint.as_deref()).await.map(|stats| {
            println!(
                "{}",
                json!({
                    "endpoint": endpoint,
                    "pending": stats.pending,
                    "in_flight": stats.in_flight,
                    "dead": stats.dead,
                    "depth": stats.depth(),
                    "oldest_age_seconds": stats.oldest_age.map(|age| age.as_secs_f64()),
                })
            );
        }),
        OutboxAction::Dead { limit } => outbox.dead_letters(limit).await.map(|dead| {
            for letter in dead {
                let message = &letter.message;
                let payload = pythia::Body::from_untyped(message.payload.clone());
                println!(
                    "{}",
                    json!({
                        "id": message.id,
                        "endpoint": message.endpoint,
                        "attempts": message.attempts,
                        "reason": letter.reason,
                        "last_error": message.last_error,
                        "died_at": chrono::DateTime::<chrono::Utc>::from(letter.died_at)
                            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        "payload": body_value(&payload),
                    })
                );
            }
        }),
        OutboxAction::Replay { endpoint, ids } => {
            let which = match (endpoint, ids.is_empty()) {
                (Some(endpoint), _) => Replay::Endpoint(endpoint),
                (None, false) => Replay::Ids(ids),
                (None, true) => Replay::All,
            };
            outbox.replay(which).await.map(|count| {
                println!("{}", json!({"replayed": count}));
            })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
