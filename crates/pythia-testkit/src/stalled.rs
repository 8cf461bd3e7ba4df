//! Addresses where connecting fails, for connect-timeout and connect-error tests.

use std::fmt;
use std::net::{SocketAddr, TcpListener as StdListener, TcpStream as StdStream};
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};

/// How long one filler connection may take before the backlog is judged full.
const FILL_PROBE: Duration = Duration::from_millis(100);
/// More fillers than any sane kernel queues for a backlog of zero.
const MAX_FILLERS: usize = 16;

/// A loopback listener that never accepts and whose accept queue is full, so the kernel drops
/// every new SYN: a client's connect hangs until its own connect timeout fires. Under a paused
/// tokio clock that timeout fires without real waiting.
///
/// Dropping it closes the listener and its filler connections.
///
/// ```
/// use pythia_testkit::StalledListener;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let stalled = StalledListener::start().await;
/// // ... a client with a connect timeout, pointed at stalled.url("/x"), times out ...
/// # let _ = stalled.url("/x");
/// # }
/// ```
pub struct StalledListener {
    addr: SocketAddr,
    _listener: TcpListener,
    _fillers: Vec<StdStream>,
}

impl fmt::Debug for StalledListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StalledListener")
            .field("addr", &self.addr)
            .field("fillers", &self._fillers.len())
            .finish()
    }
}

impl StalledListener {
    /// Binds `127.0.0.1:0` with a backlog of zero and fills the accept queue. Setup makes
    /// blocking loopback connects, the last of which waits up to 100 ms (real time) to find
    /// the queue full.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, when no loopback port can be bound, or when the kernel keeps
    /// accepting connections into the queue (the listener could then not stall a client).
    pub async fn start() -> Self {
        let socket = TcpSocket::new_v4().expect("create a loopback socket");
        socket
            .bind("127.0.0.1:0".parse().expect("a socket address"))
            .expect("bind a loopback port for the stalled listener");
        let listener = socket.listen(0).expect("listen with a backlog of zero");
        let addr = listener.local_addr().expect("the bound address");

        let mut fillers = Vec::new();
        loop {
            match StdStream::connect_timeout(&addr, FILL_PROBE) {
                Ok(stream) if fillers.len() < MAX_FILLERS => fillers.push(stream),
                Ok(_) => panic!("the kernel keeps queueing connections; cannot stall a client"),
                Err(_) => break,
            }
        }

        Self {
            addr,
            _listener: listener,
            _fillers: fillers,
        }
    }

    /// The address the listener is bound to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `http://` URL of `path` on this listener.
    pub fn url(&self, path: &str) -> String {
        let path = path.trim_start_matches('/');
        format!("http://{}/{path}", self.addr)
    }
}

/// A loopback address that nothing listens on (bound then released), where a connect is
/// refused at once.
///
/// # Panics
///
/// When no loopback port can be bound.
pub fn closed_port() -> SocketAddr {
    let listener = StdListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("the bound address")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_port_refuses_connections() {
        let addr = closed_port();

        let error = StdStream::connect(addr).unwrap_err();

        assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused);
    }

    #[tokio::test]
    async fn a_stalled_listener_lets_no_new_connection_complete() {
        let stalled = StalledListener::start().await;

        let result = StdStream::connect_timeout(&stalled.addr(), Duration::from_millis(100));

        assert!(result.is_err(), "a connection completed: {result:?}");
        assert!(stalled.url("/x").ends_with("/x"));
    }
}
