//! The daemon behind `pythia run`.

pub(crate) mod relays;
