//! The accept loop: per-address counting and a bounded HTTP handshake, then
//! the router.
//!
//! `axum::serve` gives no way to bound how long a client may take to send its
//! request, so a silent or trickling client could hold a socket forever before
//! it ever reached the WebSocket limits. Here hyper's header-read timeout
//! bounds that phase (on a new connection and between kept-alive requests),
//! and every socket is counted against its address for as long as it is open,
//! upgraded or not, so one address cannot hold more than its share in any phase.

use crate::config::Config;
use crate::error::Refusal;
use crate::limits::{AddressCounts, AddressSlot, Gauges};
use axum::response::IntoResponse;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Largest HTTP request head the server buffers. A WebSocket upgrade from a
/// browser is well under 2 KiB; this leaves room for cookies of other apps on
/// the same host. (hyper's own floor is 8 KiB.)
const MAX_REQUEST_HEAD_BYTES: usize = 16 * 1024;
/// Pause after an accept error that is not about one connection (out of file
/// descriptors, usually), so the loop does not spin while it lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Accepts connections on `listener` and serves `router` on them until the
/// listener fails for good (it does not: errors are logged and retried).
pub async fn serve(listener: TcpListener, router: Router, config: &Config, gauges: Arc<Gauges>) -> io::Result<()> {
    let addresses = AddressCounts::default();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let timeout = config.handshake_timeout;
        match addresses.take(peer.ip(), config.max_per_address) {
            Ok(slot) => {
                let service = TowerToHyperService::new(router.clone());
                tokio::spawn(http(Counted { stream, _slot: slot }, service, timeout, true));
            }
            Err(slot) => {
                tracing::debug!(%peer, "refused: too many connections from this address");
                let refusal = gauges.refuse(Refusal::AddressFull);
                let service = hyper::service::service_fn(move |_| {
                    let response = refusal.clone().into_response();
                    async move { Ok::<_, Infallible>(response) }
                });
                tokio::spawn(http(Counted { stream, _slot: slot }, service, timeout, false));
            }
        }
    }
}

/// Serves HTTP/1.1 on one connection until it closes or is upgraded.
async fn http<S>(io: Counted, service: S, timeout: Duration, keep_alive: bool)
where
    S: hyper::service::HttpService<Incoming> + Send,
    S::Future: Send + 'static,
    S::ResBody: Send + 'static,
    <S::ResBody as hyper::body::Body>::Data: Send,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let served = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(timeout)
        .max_buf_size(MAX_REQUEST_HEAD_BYTES)
        .keep_alive(keep_alive)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades()
        .await;
    if let Err(e) = served {
        // Timeouts, resets and malformed requests: the client's business.
        tracing::debug!(error = %e, "http connection ended");
    }
}

/// Errors of one incoming connection (it was gone before it was accepted),
/// after which accepting goes on at once.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset)
}

/// A socket counted against its address for as long as it exists: through
/// the HTTP phase and, after an upgrade, inside the WebSocket.
struct Counted {
    stream: TcpStream,
    _slot: AddressSlot,
}

impl AsyncRead for Counted {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
