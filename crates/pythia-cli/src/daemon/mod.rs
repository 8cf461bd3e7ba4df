//! The daemon behind `pythia run`.

pub(crate) mod admin;
pub(crate) mod ingest;
pub(crate) mod relays;
pub(crate) mod routing;
pub(crate) mod signals;
pub(crate) mod sinks;
pub(crate) mod status;
