//! In-process, scripted HTTP servers for Pythia's tests and benchmarks.
//!
//! [`TestServer`] is a real HTTP/1.1 server (hyper) on `127.0.0.1:<free port>`, spawned on the
//! tokio runtime of the test that starts it. Each path answers as its [`Route`] says: a fixed
//! [`Reply`], a sequence of replies, a closure, a conditional document (`ETag`,
//! `Last-Modified`, `304`), or `Link`-paginated pages. Replies can be delayed, can close the
//! connection without answering ([`Reply::reset`]) or never answer ([`Reply::hang`]). Every
//! request is recorded with its headers, body and arrival time on the tokio clock, so tests
//! under a paused clock can assert on the spacing of retries.
//!
//! [`TestServer::start_tls`] serves HTTPS with a freshly generated CA ([`TestPki`]), optionally
//! requiring a client certificate. [`StalledListener`] never completes a connection (for
//! connect timeouts) and [`closed_port`] refuses one. [`broker::require`] skips (or, in CI,
//! fails) tests whose broker is not running.
//!
//! # Example
//!
//! ```
//! use pythia_testkit::{Reply, Route, TestServer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let server = TestServer::start().await;
//! server.route("/flaky", Route::sequence(vec![Reply::status(503), Reply::ok().text("fine")]));
//!
//! // ... point the code under test at server.url("/flaky") ...
//! # let _ = server.url("/flaky");
//!
//! assert_eq!(server.hits("/flaky"), 0);
//! # }
//! ```
//!
//! # Speed
//!
//! Benchmarks drive it at tens of thousands of requests per second: connections are kept
//! alive, `TCP_NODELAY` is set, and with [`TestServer::set_recording`]`(false)` a request takes
//! no lock beyond a shared read of the route table.
//!
//! # Cargo features
//!
//! None.

mod chunks;
mod reply;
mod request;
mod route;
mod server;
mod stalled;
mod tls;

pub mod broker;

pub use reply::Reply;
pub use request::RecordedRequest;
pub use route::{http_date_now, Route};
pub use server::TestServer;
pub use stalled::{closed_port, StalledListener};
pub use tls::{PkiPaths, TestPki, TlsOptions};
