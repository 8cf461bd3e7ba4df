//! Leases that let several instances share a set of targets without polling one twice.

use std::time::Duration;

use async_trait::async_trait;

use crate::BoxError;

/// Decides, before each poll, whether this instance may poll a target.
///
/// Several instances of a service can run the same pollers; a lease store (Redis, in
/// `poller::redis_lease` behind the `redis` feature) makes sure only one of them polls a given
/// target in a given period. Before each poll the poller calls [`TargetLease::try_hold`] with the
/// target's name and a time to live of one interval: `Ok(true)` means this instance holds the
/// lease and polls, `Ok(false)` means another instance holds it, so the poll is skipped and
/// counted (`pythia_poller_lease_skipped_total`). An error is logged and counted, and the poll is
/// skipped too, so that a lease store that went away never leads to double polling.
///
/// ```
/// use std::time::Duration;
/// use async_trait::async_trait;
/// use pythia::poller::TargetLease;
/// use pythia::BoxError;
///
/// /// Holds every lease: the single-instance behaviour.
/// #[derive(Debug)]
/// struct AlwaysMine;
///
/// #[async_trait]
/// impl TargetLease for AlwaysMine {
///     async fn try_hold(&self, _target: &str, _ttl: Duration) -> Result<bool, BoxError> {
///         Ok(true)
///     }
/// }
/// ```
#[async_trait]
pub trait TargetLease: Send + Sync + 'static {
    /// Tries to take or renew the lease on `target` for `ttl`; `true` when this instance holds
    /// it afterwards.
    async fn try_hold(&self, target: &str, ttl: Duration) -> Result<bool, BoxError>;
}
