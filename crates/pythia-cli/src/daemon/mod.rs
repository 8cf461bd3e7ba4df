//! The daemon behind `pythia run`: it opens the outbox, binds the ingest and admin listeners,
//! starts the dispatcher, pollers and relays under the library's runtime, and drains on
//! SIGINT or SIGTERM.

pub(crate) mod admin;
pub(crate) mod ingest;
pub(crate) mod outbox;
pub(crate) mod preflight;
pub(crate) mod relays;
pub(crate) mod routing;
pub(crate) mod signals;
pub(crate) mod sinks;
pub(crate) mod status;

mod build;
mod delivery;
mod dispatch;
mod gate;
mod listeners;
mod pollers;
mod start;
mod workers;

pub(crate) use start::Daemon;
