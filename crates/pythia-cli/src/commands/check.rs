//! `pythia check CONFIG`: validate without running.

use std::process::ExitCode;

use crate::cli::CheckArgs;
use crate::config;

/// Prints each problem with its file, line and column and exits 2, or prints a summary.
pub(crate) fn run(args: &CheckArgs) -> ExitCode {
    match config::load(&args.config) {
        Ok(loaded) => {
            let config = &loaded.config;
            println!(
                "{}: ok ({} endpoints, {} pollers, {} relays, ingest {}, admin {})",
                loaded.path.display(),
                config.endpoints.len(),
                config.pollers.len(),
                config.relays.len(),
                if config.ingest.is_some() { "on" } else { "off" },
                if config.admin.is_some() { "on" } else { "off" },
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for error in &errors {
                eprintln!("error: {error}\n");
            }
            eprintln!("{} error(s) in {}", errors.len(), args.config.display());
            ExitCode::from(crate::EXIT_USAGE)
        }
    }
}
