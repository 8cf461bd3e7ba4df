//! `pythia run`.

use std::process::ExitCode;

/// Runs the subcommand.
pub(crate) async fn run(_args: crate::cli::RunArgs) -> ExitCode {
    tracing::error!("not built yet");
    ExitCode::FAILURE
}
