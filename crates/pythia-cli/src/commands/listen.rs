//! `pythia listen`.

use std::process::ExitCode;

/// Runs the subcommand.
pub(crate) async fn run(_args: crate::cli::ListenArgs) -> ExitCode {
    tracing::error!("not built yet");
    ExitCode::FAILURE
}
