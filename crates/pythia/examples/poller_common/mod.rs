//! What every poller example shares: reading the URL and `--count N` from the command line,
//! logging, and running one worker until Ctrl-C or until N messages were handled.
#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use pythia::runtime::{Runtime, ShutdownTrigger, Worker};
use pythia::BoxError;

/// The command line: a URL, and optionally `--count N`.
#[derive(Debug)]
pub struct Args {
    pub url: String,
    pub count: Option<u64>,
}

/// Reads the arguments or exits with a usage line.
pub fn args(example: &str) -> Args {
    let mut url = None;
    let mut count = None;
    let mut given = std::env::args().skip(1);
    while let Some(arg) = given.next() {
        if arg == "--count" {
            count = given.next().and_then(|n| n.parse().ok());
            if count.is_none() {
                usage(example);
            }
        } else if url.is_none() && !arg.starts_with('-') {
            url = Some(arg);
        } else {
            usage(example);
        }
    }
    match url {
        Some(url) => Args { url, count },
        None => usage(example),
    }
}

fn usage(example: &str) -> ! {
    eprintln!("usage: cargo run -p pythia --example {example} -- <url> [--count N]");
    std::process::exit(2);
}

/// Stops the runtime once `limit` messages were handled (never without a limit).
#[derive(Clone, Debug, Default)]
pub struct Countdown {
    limit: Option<u64>,
    seen: Arc<AtomicU64>,
    trigger: Arc<OnceLock<ShutdownTrigger>>,
}

impl Countdown {
    pub fn new(limit: Option<u64>) -> Countdown {
        Countdown {
            limit,
            ..Countdown::default()
        }
    }

    /// Counts one handled message.
    pub fn count_one(&self) {
        let seen = self.seen.fetch_add(1, Ordering::SeqCst) + 1;
        if self.limit.is_some_and(|limit| seen >= limit) {
            if let Some(trigger) = self.trigger.get() {
                trigger.trigger();
            }
        }
    }
}

/// Logs to stderr (`RUST_LOG` filters; default `info`) and runs `worker` until Ctrl-C,
/// SIGTERM, or the countdown.
pub async fn run(worker: impl Worker, countdown: &Countdown) -> Result<(), BoxError> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();

    let runtime = Runtime::builder().worker(worker).build();
    let _ = countdown.trigger.set(runtime.shutdown_trigger());
    runtime.run().await?;
    Ok(())
}
