//! Skipping (or, in CI, failing) tests whose broker is not running.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The environment variable that turns a missing broker from a skip into a failure.
pub const REQUIRE_BROKERS_VAR: &str = "PYTHIA_REQUIRE_BROKERS";

const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// Whether the broker `name` accepts TCP connections at `addr` (e.g. `"127.0.0.1:6379"`).
///
/// Returns `false` and prints why on stderr when it does not, so a test can `return` early:
///
/// ```no_run
/// if !pythia_testkit::broker::require("redis", "127.0.0.1:6379") {
///     return;
/// }
/// ```
///
/// # Panics
///
/// When the broker is unreachable and the environment variable `PYTHIA_REQUIRE_BROKERS` is set
/// and non-empty (CI sets it, so a missing broker fails the build instead of skipping).
pub fn require(name: &str, addr: &str) -> bool {
    let required = std::env::var_os(REQUIRE_BROKERS_VAR).is_some_and(|v| !v.is_empty());
    match reach(addr) {
        Ok(()) => true,
        Err(reason) if required => {
            panic!("{name} at {addr} is required ({REQUIRE_BROKERS_VAR} is set): {reason}")
        }
        Err(reason) => {
            eprintln!("skipping: {name} at {addr} is not reachable: {reason}");
            false
        }
    }
}

fn reach(addr: &str) -> Result<(), String> {
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| format!("bad address: {e}"))?
        .collect();
    let mut last = String::from("the address resolved to nothing");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_port_is_reachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();

        assert_eq!(reach(&addr), Ok(()));
    }

    #[test]
    fn a_closed_port_is_not_reachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        drop(listener);

        assert!(reach(&addr).is_err());
    }

    #[test]
    fn a_bad_address_is_not_reachable() {
        assert!(reach("not an address").is_err());
    }
}
