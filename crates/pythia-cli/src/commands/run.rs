//! `pythia run CONFIG`: the daemon.

use std::process::ExitCode;
use std::time::Instant;

use crate::cli::RunArgs;
use crate::config;
use crate::daemon::Daemon;

/// Loads the configuration, starts every part, and runs until SIGINT or SIGTERM.
pub(crate) async fn run(args: RunArgs) -> ExitCode {
    let started = Instant::now();
    let loaded = match config::load(&args.config) {
        Ok(loaded) => loaded,
        Err(errors) => {
            for error in &errors {
                tracing::error!(
                    file = %error.file.display(),
                    line = error.location.as_ref().map(|at| at.line),
                    column = error.location.as_ref().map(|at| at.column),
                    error = %error.message,
                    "invalid configuration"
                );
                eprintln!("error: {error}\n");
            }
            return ExitCode::from(crate::EXIT_USAGE);
        }
    };

    let daemon = match Daemon::start(loaded, args.ready_file.as_deref(), started).await {
        Ok(daemon) => daemon,
        Err(error) => {
            tracing::error!(error = %error, "the daemon could not start");
            return ExitCode::FAILURE;
        }
    };
    daemon.wait().await
}
