//! Binding and serving the HTTP listeners (ingest, admin).

use std::net::SocketAddr;

use axum::Router;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A listener being served until `stop` fires.
#[derive(Debug)]
pub(crate) struct Served {
    pub(crate) addr: SocketAddr,
    pub(crate) task: JoinHandle<()>,
}

/// Binds `bind` and serves `router` on it until `stop`.
pub(crate) async fn serve(
    name: &'static str,
    bind: SocketAddr,
    router: Router,
    stop: CancellationToken,
) -> Result<Served, String> {
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| format!("cannot listen on {bind} for {name}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let task = tokio::spawn(async move {
        let result = axum::serve(listener, router)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await;
        if let Err(error) = result {
            tracing::error!(listener = name, %error, "listener failed");
        }
    });
    Ok(Served { addr, task })
}
