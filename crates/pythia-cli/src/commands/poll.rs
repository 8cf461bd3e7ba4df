//! `pythia poll URL`: an ad-hoc poller on the library's [`Poller`], with its defaults,
//! conditional requests and `Retry-After` handling, printing one JSON line per message with its
//! status code, response time, timestamp and body.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use pythia::poller::{handler_fn, Extractor, Outcome, Poller, PollerConfig, DEFAULT_INTERVAL};
use pythia::runtime::{HealthRegistry, ShutdownTrigger, Worker, WorkerContext};

use crate::cli::PollArgs;
use crate::daemon::sinks::json_line;

/// How often `--count` is checked against the poller's counters.
const COUNT_CHECK: Duration = Duration::from_millis(10);

/// Polls until `--count` polls are done, or SIGINT or SIGTERM. Exit 0 when at least one poll
/// succeeded, 1 when none did, 2 on bad usage.
pub(crate) async fn run(args: PollArgs) -> ExitCode {
    let mut poller = match build(&args) {
        Ok(poller) => poller,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(crate::EXIT_USAGE);
        }
    };
    if args.count == Some(0) {
        return ExitCode::SUCCESS;
    }

    let trigger = ShutdownTrigger::new();
    let stats = poller.stats();
    let stopper = {
        let trigger = trigger.clone();
        let count = args.count;
        tokio::spawn(async move {
            let done = async {
                let Some(count) = count else {
                    return std::future::pending().await;
                };
                loop {
                    let now = stats.snapshot();
                    if now.polls_ok + now.polls_failed >= count {
                        return;
                    }
                    tokio::time::sleep(COUNT_CHECK).await;
                }
            };
            tokio::select! {
                () = done => {}
                () = crate::daemon::signals::terminated() => {}
            }
            trigger.trigger();
        })
    };

    let health = HealthRegistry::new().register(poller.name());
    let context = WorkerContext::new(trigger.shutdown(), health);
    let result = poller.run(context).await;
    stopper.abort();

    let totals = poller.stats().snapshot();
    if let Err(error) = result {
        eprintln!("error: {error}");
        return ExitCode::FAILURE;
    }
    if totals.polls_ok == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn build(args: &PollArgs) -> Result<Poller, String> {
    let interval = args.interval.map_or(DEFAULT_INTERVAL, |d| d.0);
    if interval.is_zero() {
        return Err("--interval must be above zero".into());
    }
    let mut config = PollerConfig::builder()
        .url(&args.url)
        .interval(interval)
        .method(&args.method.to_ascii_uppercase());
    if let Some(d) = args.connect_timeout {
        config = config.connect_timeout(d.0);
    }
    if let Some(d) = args.read_timeout {
        config = config.read_timeout(d.0);
    }
    let mut has_content_type = false;
    for header in &args.headers {
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| format!("header `{header}` is not `Name: value`"))?;
        has_content_type |= name.trim().eq_ignore_ascii_case("content-type");
        config = config.header(name.trim(), value.trim());
    }
    for param in &args.params {
        let (name, value) = param
            .split_once('=')
            .ok_or_else(|| format!("parameter `{param}` is not `name=value`"))?;
        config = config.query(name, value);
    }
    if let Some(data) = &args.data {
        if !has_content_type && serde_json::from_str::<serde_json::Value>(data).is_ok() {
            config = config.header("content-type", "application/json");
        }
        config = config.body(data.clone().into_bytes());
    }
    let config = config.build().map_err(|e| e.to_string())?;

    let mut builder = Poller::builder(config)
        .name("poll")
        .deliver_errors(true)
        .handler(handler_fn(|message: pythia::Message| async move {
            print_line(&json_line("poll", &message));
            Ok(Outcome::Processed)
        }));
    if let Some(pointer) = &args.extract {
        builder =
            builder.extractor(Extractor::pointer(pointer).map_err(|e| format!("--extract: {e}"))?);
    }
    builder.build().map_err(|e| e.to_string())
}

fn print_line(line: &serde_json::Value) {
    let mut bytes = serde_json::to_vec(line).unwrap_or_default();
    bytes.push(b'\n');
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    let _ = lock.write_all(&bytes).and_then(|()| lock.flush());
}
