//! Running workers: the [`Worker`] trait, the [`Runtime`] that starts and drains them, the
//! [`Shutdown`] signal and the [`HealthRegistry`].
//!
//! A process holds one [`Runtime`] with any number of workers (pollers, dispatchers, relays).
//! SIGINT or SIGTERM begins shutdown: workers stop taking new work, finish what is in flight
//! within the drain deadline, and run their `on_stop`; workers still running at the deadline
//! are aborted and reported.
//!
//! | metric | kind | labels |
//! | --- | --- | --- |
//! | `pythia_worker_failures_total` | counter | `worker` |
//! | `pythia_worker_restarts_total` | counter | `worker` |
//! | `pythia_worker_start_failures_total` | counter | `worker` |
//! | `pythia_worker_stop_failures_total` | counter | `worker` |
//! | `pythia_worker_unhealthy_total` | counter | `worker` |
//! | `pythia_worker_recoveries_total` | counter | `worker` |
//! | `pythia_runtime_aborted_workers_total` | counter | `worker` |

mod builder;
mod error;
mod health;
mod restart;
mod run;
mod shutdown;
mod signal;
mod worker;

pub use builder::{RuntimeBuilder, DEFAULT_DRAIN_DEADLINE};
pub use error::RuntimeError;
pub use health::{HealthHandle, HealthRegistry, WorkerHealth, WorkerStatus};
pub use restart::RestartPolicy;
pub use run::Runtime;
pub use shutdown::{Shutdown, ShutdownTrigger};
pub use worker::{worker_fn, FnWorker, Worker, WorkerContext};
