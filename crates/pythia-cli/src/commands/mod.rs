//! One module per subcommand.

pub(crate) mod check;
pub(crate) mod listen;
pub(crate) mod outbox;
pub(crate) mod poll;
pub(crate) mod run;
pub(crate) mod send;
