//! Log setup: human-readable on a terminal, JSON otherwise or on request, always on stderr so
//! that standard output stays free for data (JSON lines of `poll`, `listen` and the stdout sink).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// Broker clients whose own log lines repeat what the sources already report (the RabbitMQ
/// client logs every refused connection as an error of its own, once per reconnect). They are
/// silenced unless the filter names them, as in `info,lapin=debug`.
const QUIET_BY_DEFAULT: &[&str] = &["lapin"];

/// The filter for `level`, with [`QUIET_BY_DEFAULT`] off unless `level` names them.
fn directives(level: &str) -> String {
    let mut directives = level.to_owned();
    for target in QUIET_BY_DEFAULT {
        if !level.contains(target) {
            directives.push_str(&format!(",{target}=off"));
        }
    }
    directives
}

/// Installs the global subscriber. A bad filter falls back to `info` with a warning.
pub(crate) fn init(level: &str, format: LogFormat) {
    let (filter, bad_filter) = match EnvFilter::try_new(directives(level)) {
        Ok(filter) => (filter, None),
        Err(e) => (EnvFilter::new(directives("info")), Some(e.to_string())),
    };
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Human => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init();
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).init();
    }
    if let Some(error) = bad_filter {
        tracing::warn!(%error, "invalid log level, using info");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_client_lines_are_off_unless_the_filter_names_them() {
        assert_eq!(directives("info"), "info,lapin=off");
        assert_eq!(directives("info,lapin=debug"), "info,lapin=debug");
        assert!(EnvFilter::try_new(directives("pythia=debug,warn")).is_ok());
    }
}
