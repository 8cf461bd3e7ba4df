//! [`TestServer`]: the in-process HTTP server.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use parking_lot::{Mutex, RwLock};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use crate::chunks::Chunks;
use crate::reply::Action;
use crate::{RecordedRequest, Reply, Route, TestPki, TlsOptions};

/// An HTTP/1.1 server on `127.0.0.1:<free port>` whose paths answer as scripted, recording every
/// request it receives.
///
/// It runs on the tokio runtime that starts it, so a paused clock (`start_paused = true`) also
/// pauses its [`Reply::delay`]s and auto-advances through them. Dropping the server stops it and
/// closes every connection.
///
/// A path without a route answers `404`. Routes match the path exactly, whatever the method.
pub struct TestServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    pki: Option<TestPki>,
    task: JoinHandle<()>,
}

impl fmt::Debug for TestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestServer")
            .field("base_url", &self.shared.base)
            .field("tls", &self.pki.is_some())
            .finish_non_exhaustive()
    }
}

/// State shared between the handle and the connection tasks.
struct Shared {
    base: String,
    routes: RwLock<HashMap<String, Arc<Entry>>>,
    unrouted_hits: Mutex<HashMap<String, usize>>,
    recording: AtomicBool,
    requests: Mutex<Vec<RecordedRequest>>,
    connections: AtomicUsize,
    waiters: AtomicUsize,
    arrived: Notify,
}

struct Entry {
    route: Route,
    cursor: AtomicUsize,
    hits: Arc<AtomicUsize>,
}

/// A response body: whole with `Content-Length`, or chunked.
type ReplyBody = Either<Full<Bytes>, Chunks>;

/// The service's error: hyper closes the connection without answering.
#[derive(Debug)]
struct CloseConnection;

impl fmt::Display for CloseConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("scripted connection reset")
    }
}

impl std::error::Error for CloseConnection {}

impl TestServer {
    /// Starts a plain HTTP server on `127.0.0.1:0` on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, or when no loopback port can be bound.
    pub async fn start() -> Self {
        Self::launch(None).await
    }

    /// Starts an HTTPS server with a freshly generated [`TestPki`] (see [`TestServer::tls`]).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, or when no loopback port can be bound.
    pub async fn start_tls(options: TlsOptions) -> Self {
        let pki = TestPki::generate();
        Self::launch(Some((pki, options))).await
    }

    async fn launch(tls: Option<(TestPki, TlsOptions)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port for the test server");
        let addr = listener.local_addr().expect("the bound address");
        let scheme = if tls.is_some() { "https" } else { "http" };
        let shared = Arc::new(Shared {
            base: format!("{scheme}://{addr}"),
            routes: RwLock::new(HashMap::new()),
            unrouted_hits: Mutex::new(HashMap::new()),
            recording: AtomicBool::new(true),
            requests: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
            waiters: AtomicUsize::new(0),
            arrived: Notify::new(),
        });

        let acceptor = tls
            .as_ref()
            .map(|(pki, options)| TlsAcceptor::from(pki.server_config(*options)));
        let task = tokio::spawn(accept_loop(listener, shared.clone(), acceptor));

        Self {
            addr,
            shared,
            pki: tls.map(|(pki, _)| pki),
            task,
        }
    }

    /// The full URL of `path` on this server, e.g. `http://127.0.0.1:40123/items`.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with('/') {
            format!("{}{path}", self.shared.base)
        } else {
            format!("{}/{path}", self.shared.base)
        }
    }

    /// The base URL, `http://127.0.0.1:<port>` (or `https://`), without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.shared.base
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The CA and certificates of a server started with [`TestServer::start_tls`].
    pub fn tls(&self) -> Option<&TestPki> {
        self.pki.as_ref()
    }

    /// Makes `path` answer as `route` (any method). Replacing a route restarts its sequence
    /// and keeps its hit count.
    pub fn route(&self, path: &str, route: Route) {
        let mut routes = self.shared.routes.write();
        let hits = routes
            .get(path)
            .map(|entry| entry.hits.clone())
            .unwrap_or_else(|| {
                let earlier = self.shared.unrouted_hits.lock().remove(path).unwrap_or(0);
                Arc::new(AtomicUsize::new(earlier))
            });
        let entry = Entry {
            route,
            cursor: AtomicUsize::new(0),
            hits,
        };
        routes.insert(path.to_owned(), Arc::new(entry));
    }

    /// Every recorded request so far, in arrival order (a copy).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().clone()
    }

    /// The recorded requests whose path is `path`, in arrival order.
    pub fn requests_to(&self, path: &str) -> Vec<RecordedRequest> {
        let requests = self.shared.requests.lock();
        requests
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// The time between consecutive arrivals of requests for `path` (tokio clock), one fewer
    /// than the recorded requests: under a paused clock, the exact spacing of retries.
    pub fn arrival_gaps(&self, path: &str) -> Vec<Duration> {
        let times: Vec<Instant> = self.requests_to(path).iter().map(|r| r.at).collect();
        times.windows(2).map(|w| w[1] - w[0]).collect()
    }

    /// How many requests for `path` have arrived, counted even while recording is off. A
    /// request counts as soon as it is read, before any scripted delay.
    pub fn hits(&self, path: &str) -> usize {
        if let Some(entry) = self.shared.routes.read().get(path) {
            return entry.hits.load(Ordering::SeqCst);
        }
        self.shared
            .unrouted_hits
            .lock()
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// How many TCP connections the server has accepted (keep-alive reuse keeps this low).
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Turns request recording on or off. Default: on. Benchmarks turn it off so that no lock
    /// is taken per request; [`hits`](Self::hits) keeps counting.
    pub fn set_recording(&self, on: bool) {
        self.shared.recording.store(on, Ordering::SeqCst);
    }

    /// Forgets every recorded request (hit counts are kept).
    pub fn clear_requests(&self) {
        self.shared.requests.lock().clear();
    }

    /// Waits until at least `count` requests for `path` have arrived. It has no timeout of its
    /// own; wrap it in `tokio::time::timeout` on a real clock if the test may otherwise hang.
    pub async fn wait_for_hits(&self, path: &str, count: usize) {
        self.shared.waiters.fetch_add(1, Ordering::SeqCst);
        let _guard = WaiterGuard(&self.shared.waiters);
        loop {
            let arrived = self.shared.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if self.hits(path) >= count {
                return;
            }
            arrived.await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct WaiterGuard<'a>(&'a AtomicUsize);

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Accepts connections until the server is dropped; aborting this task drops the `JoinSet`,
/// which aborts every connection task with it.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, tls: Option<TlsAcceptor>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    shared.connections.fetch_add(1, Ordering::SeqCst);
                    connections.spawn(connection(stream, shared.clone(), tls.clone()));
                }
                Err(error) => {
                    tracing::debug!(%error, "test server accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn connection(stream: TcpStream, shared: Arc<Shared>, tls: Option<TlsAcceptor>) {
    let _ = stream.set_nodelay(true);
    match tls {
        None => serve(stream, shared).await,
        Some(acceptor) => match acceptor.accept(stream).await {
            Ok(stream) => serve(stream, shared).await,
            Err(error) => tracing::debug!(%error, "test server tls handshake failed"),
        },
    }
}

async fn serve<I>(io: I, shared: Arc<Shared>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request| handle(shared.clone(), request));
    let result = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), service)
        .await;
    if let Err(error) = result {
        tracing::trace!(%error, "test server connection ended");
    }
}

async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<ReplyBody>, CloseConnection> {
    let at = Instant::now();
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|_| CloseConnection)?
        .to_bytes();
    let request = RecordedRequest {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
        at,
    };

    let entry = shared.routes.read().get(&request.path).cloned();
    let reply = match entry {
        Some(entry) => {
            let reply = entry.route.answer(&request, &entry.cursor, &shared.base);
            entry.hits.fetch_add(1, Ordering::SeqCst);
            reply
        }
        None => {
            *shared
                .unrouted_hits
                .lock()
                .entry(request.path.clone())
                .or_insert(0) += 1;
            Reply::status(404)
        }
    };
    if shared.recording.load(Ordering::Relaxed) {
        shared.requests.lock().push(request);
    }
    if shared.waiters.load(Ordering::SeqCst) > 0 {
        shared.arrived.notify_waiters();
    }

    respond(reply).await
}

async fn respond(reply: Reply) -> Result<Response<ReplyBody>, CloseConnection> {
    if reply.action == Action::Hang {
        return std::future::pending::<Result<_, Infallible>>()
            .await
            .map_err(|never| match never {});
    }
    if let Some(delay) = reply.delay {
        tokio::time::sleep(delay).await;
    }
    if reply.action == Action::Reset {
        return Err(CloseConnection);
    }

    let body = match reply.chunk_size {
        None => Either::Left(Full::new(reply.body)),
        Some(size) => Either::Right(Chunks::new(reply.body, size)),
    };
    let mut response = Response::new(body);
    *response.status_mut() = reply.status;
    *response.headers_mut() = reply.headers;
    Ok(response)
}
