//! [`HttpServer`]: the accept loop, the connection limit, TLS and the choice of HTTP/1.1 or
//! HTTP/2, and hyper's service that turns each request into an exchange for a process.
//!
//! A plain server speaks HTTP/1.1. A server with TLS ([`super::Tls`]) completes the handshake
//! first (within the header timeout), then speaks what ALPN chose: HTTP/2 (`h2`, each stream
//! a request, at most [`HttpLimits::http2_max_streams`] at once per connection) or HTTP/1.1.

use super::drain::{Drain, FIRST_REQUEST_GRACE, Live};
use super::exchange::{Reply, plain};
use super::timed::Timed;
use super::tls::{ALPN_H2, Tls};
use super::{Exchange, HttpConnection, HttpLimits, Mode, ResponseBody};
use crate::io::IoFuture;
use crate::io::tcp::TcpListenerObj;
use crate::resources::Resource;
use http::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::AbortHandle;

/// How a server starts the process that serves a request (or a connection); implemented
/// where processes are known (`host/http.rs`).
pub(crate) trait Launch: Send + Sync + 'static {
    /// Start a process holding `resource` (an exchange or a connection) as its first
    /// resource to claim; an id to [`kill`](Launch::kill) it by.
    fn launch(&self, resource: Resource) -> Result<u64, String>;
    /// End the process `id` (it did not answer in time).
    fn kill(&self, id: u64);
    /// Make the resource for an exchange.
    fn exchange(&self, exchange: Arc<Exchange>) -> Resource;
    /// Make the resource for a connection.
    fn connection(&self, connection: HttpConnection) -> Resource;
}

/// A running server: its accept loop stops when this is dropped (connections being served
/// finish on their own).
pub(crate) struct HttpServer {
    local: SocketAddr,
    accept: AbortHandle,
    stopped: Arc<IoFuture>,
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.accept.abort();
        self.stopped.resolve(Ok(0));
    }
}

/// What every connection of one server shares.
struct Shared {
    mode: Mode,
    limits: HttpLimits,
    launch: Arc<dyn Launch>,
    drain: Arc<Drain>,
    /// Serve TLS with this identity (and HTTP/2 where the client offers it).
    tls: Option<Arc<Tls>>,
}

/// Refusals (503 to a connection over the limit) in progress at once; beyond, a connection
/// is closed at once without an answer (a flood of refused connections holds nothing).
const MAX_REFUSING: usize = 64;

impl HttpServer {
    /// Serve `listener` (which must be called from inside a tokio runtime) until `drain`
    /// starts, over TLS with `tls` if given; the server and the future that resolves when
    /// it stops (dropped, or its listener failed for good).
    pub(crate) fn start(
        listener: Arc<TcpListenerObj>,
        mode: Mode,
        limits: HttpLimits,
        launch: Arc<dyn Launch>,
        drain: Arc<Drain>,
        tls: Option<Arc<Tls>>,
    ) -> (HttpServer, Arc<IoFuture>) {
        let stopped = Arc::new(IoFuture::new());
        let local = listener.local_addr();
        let shared = Arc::new(Shared {
            mode,
            limits,
            launch,
            drain,
            tls,
        });
        let accept = tokio::spawn(accept_loop(listener, shared)).abort_handle();
        (
            HttpServer {
                local,
                accept,
                stopped: stopped.clone(),
            },
            stopped,
        )
    }

    /// The address it listens on.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

async fn accept_loop(listener: Arc<TcpListenerObj>, shared: Arc<Shared>) {
    let slots = Arc::new(Semaphore::new(
        shared.limits.max_connections.min(Semaphore::MAX_PERMITS),
    ));
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    loop {
        let accepted = tokio::select! {
            biased;
            _ = shared.drain.started() => {
                // Refuse new connections from now on, rather than leave them in a backlog
                // nobody will read.
                listener.stop_listening();
                return;
            }
            c = listener.accept_stream() => c,
        };
        let (stream, peer) = match accepted {
            Ok(c) => c,
            Err(e) => {
                // Out of descriptors, a connection reset before it was accepted: wait a
                // little instead of spinning, and go on.
                tracing::warn!("http server on {}: accepting: {e}", listener.local_addr());
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        match slots.clone().try_acquire_owned() {
            Ok(slot) => {
                let shared = shared.clone();
                let live = shared.drain.connection();
                tokio::spawn(serve_connection(stream, peer, shared, Arc::new(slot), live));
            }
            Err(_) => {
                let why = format!(
                    "this server holds {} connections already (--http-max-connections)",
                    shared.limits.max_connections
                );
                if shared.tls.is_some() {
                    // A 503 in clear text means nothing to a TLS client: close at once.
                    tracing::debug!("http server on {}: {why}", listener.local_addr());
                    continue;
                }
                if let Ok(turn) = refusing.clone().try_acquire_owned() {
                    tokio::spawn(async move {
                        refuse(stream, why).await;
                        drop(turn);
                    });
                }
            }
        }
    }
}

/// Where a connection's requests go.
enum Target {
    PerRequest,
    /// Per connection: its process, started at the first request (a socket that sends
    /// nothing holds no process).
    Process(tokio::sync::Mutex<Option<(mpsc::Sender<Arc<Exchange>>, u64)>>),
}

/// Requests a connection has begun, for its drain.
#[derive(Default)]
struct Begun {
    count: std::sync::atomic::AtomicUsize,
    first: tokio::sync::Notify,
}

/// Serve one connection; `slot` is its place among the server's connections, held until
/// hyper is done with it and by the WebSocket it may become; `live` counts it for the drain
/// until hyper is done with it.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    slot: Arc<OwnedSemaphorePermit>,
    live: Live,
) {
    let limits = shared.limits;
    let Some(tls) = shared.tls.clone() else {
        let io = Timed::new(TokioIo::new(stream), limits.write_timeout);
        return serve_http(io, false, peer, shared, slot, live).await;
    };
    // The handshake has the header timeout (a client that connects and says nothing holds
    // a slot no longer than one that sends half a head); a drain cuts it to the grace a
    // connection that has not asked yet gets.
    let handshake = tls.acceptor().accept(stream);
    tokio::pin!(handshake);
    let deadline = tokio::time::Instant::now() + limits.header_timeout;
    let done = tokio::select! {
        r = tokio::time::timeout_at(deadline, handshake.as_mut()) => r,
        _ = shared.drain.started() => {
            let cut = tokio::time::Instant::now() + FIRST_REQUEST_GRACE.min(limits.header_timeout);
            tokio::time::timeout_at(cut.min(deadline), handshake.as_mut()).await
        }
    };
    let stream = match done {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!("tls handshake with {peer}: {e}");
            return;
        }
        Err(_) => {
            tracing::debug!("tls handshake with {peer}: not done in time");
            return;
        }
    };
    let h2 = stream.get_ref().1.alpn_protocol() == Some(ALPN_H2);
    let io = Timed::new(TokioIo::new(stream), limits.write_timeout);
    serve_http(io, h2, peer, shared, slot, live).await;
}

/// Serve HTTP on an accepted (and, with TLS, handshaken) connection: HTTP/2 if `h2`, else
/// HTTP/1.1.
async fn serve_http<I>(
    io: I,
    h2: bool,
    peer: SocketAddr,
    shared: Arc<Shared>,
    slot: Arc<OwnedSemaphorePermit>,
    live: Live,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let target = match shared.mode {
        Mode::PerRequest => Target::PerRequest,
        Mode::PerConnection => Target::Process(tokio::sync::Mutex::new(None)),
    };
    let target = Arc::new(target);
    let limits = shared.limits;
    let drain = shared.drain.clone();
    let begun = Arc::new(Begun::default());
    // The peer's address as the head gives it, made once for the connection's requests.
    let peer_text: Arc<str> = peer.to_string().into();
    let service = hyper::service::service_fn({
        let begun = begun.clone();
        move |request| {
            if begun
                .count
                .fetch_add(1, std::sync::atomic::Ordering::AcqRel)
                == 0
            {
                begun.first.notify_one();
            }
            let shared = shared.clone();
            let target = target.clone();
            let slot = slot.clone();
            let at = (peer, peer_text.clone());
            async move { Ok::<_, Infallible>(handle(request, at, &shared, &target, slot).await) }
        }
    });
    let served = if h2 {
        let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            .max_concurrent_streams(limits.http2_max_streams)
            .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
            .initial_stream_window_size(super::HTTP2_STREAM_WINDOW)
            .initial_connection_window_size(super::HTTP2_CONNECTION_WINDOW)
            .max_send_buf_size(super::HTTP2_SEND_BUFFER)
            .max_pending_accept_reset_streams(super::HTTP2_MAX_PENDING_RESETS)
            .max_local_error_reset_streams(super::HTTP2_MAX_ERROR_RESETS)
            .keep_alive_interval(limits.idle_timeout)
            .keep_alive_timeout(limits.idle_timeout);
        let conn = builder.serve_connection(io, service);
        drive(conn, |c| c.graceful_shutdown(), &drain, &begun, limits).await
    } else {
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .max_buf_size(
                limits
                    .max_header_bytes
                    .saturating_mul(2)
                    .max(super::MIN_HEADER_BYTES),
            )
            .keep_alive(true);
        let conn = builder.serve_connection(io, service).with_upgrades();
        drive(conn, |c| c.graceful_shutdown(), &drain, &begun, limits).await
    };
    finish(peer, served);
    drop(live);
}

/// Run hyper's connection to its end; when the drain starts, let the request in flight
/// finish (its answer closes the connection) and close an idle connection — after giving
/// one that has not asked anything yet a short grace for the request it may be sending.
async fn drive<F>(
    conn: F,
    graceful: impl Fn(std::pin::Pin<&mut F>),
    drain: &Drain,
    begun: &Begun,
    limits: HttpLimits,
) -> hyper::Result<()>
where
    F: std::future::Future<Output = hyper::Result<()>>,
{
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => r,
        _ = drain.started() => {
            // Accepted before the drain, nothing asked yet: its request may be on the way.
            if begun.count.load(std::sync::atomic::Ordering::Acquire) == 0 {
                let grace = FIRST_REQUEST_GRACE.min(limits.header_timeout);
                tokio::select! {
                    _ = begun.first.notified() => {}
                    _ = tokio::time::sleep(grace) => {}
                    r = conn.as_mut() => return r,
                }
            }
            // Finish the request in flight (its answer says `connection: close`; HTTP/2
            // sends GOAWAY), or close an idle connection now.
            graceful(conn.as_mut());
            conn.await
        }
    }
}

/// The end of hyper's work on a connection.
fn finish(peer: SocketAddr, served: hyper::Result<()>) {
    if let Err(e) = served {
        tracing::debug!("http connection from {peer}: {e}");
    }
}

/// Answer one request: through a process, within the time limit.
async fn handle(
    request: http::Request<Incoming>,
    (peer, peer_text): (SocketAddr, Arc<str>),
    shared: &Shared,
    target: &Target,
    slot: Arc<OwnedSemaphorePermit>,
) -> Response<ResponseBody> {
    let limits = shared.limits;
    // hyper's buffer limit bounds the head only roughly (a read may overshoot it): the limit
    // a user sets is checked here exactly.
    let head = head_size(&request);
    if head > limits.max_header_bytes {
        return plain(
            431,
            &format!(
                "the request head of {head} bytes is over the limit of {} bytes",
                limits.max_header_bytes
            ),
            true,
        );
    }
    if let Some(len) = declared_length(&request)
        && len > limits.max_body_bytes
    {
        return plain(
            413,
            &format!(
                "the request body of {len} bytes is over the limit of {} bytes",
                limits.max_body_bytes
            ),
            true,
        );
    }
    let (reply, answer) = Reply::new();
    let exchange = Arc::new(Exchange::new(
        request,
        (peer, &peer_text),
        reply,
        limits,
        slot,
    ));
    let id = match target {
        Target::PerRequest => match shared.launch.launch(shared.launch.exchange(exchange)) {
            Ok(id) => id,
            Err(e) => {
                return plain(
                    503,
                    &format!("no process could be started for it: {e}"),
                    false,
                );
            }
        },
        Target::Process(process) => {
            // HTTP/1.1 hands a connection's requests over one at a time (the lock is free);
            // HTTP/2's concurrent streams queue here, served in order by the one process.
            let mut process = process.lock().await;
            if process.is_none() {
                let (requests, conn) = HttpConnection::new(peer);
                match shared.launch.launch(shared.launch.connection(conn)) {
                    Ok(id) => *process = Some((requests, id)),
                    Err(e) => {
                        return plain(
                            503,
                            &format!("no process could be started for it: {e}"),
                            true,
                        );
                    }
                }
            }
            let Some((requests, id)) = process.as_ref() else {
                unreachable!("started above")
            };
            if requests.send(exchange).await.is_err() {
                return plain(500, "the connection's process has ended", true);
            }
            *id
        }
    };
    match tokio::time::timeout(limits.request_timeout, answer).await {
        Ok(Ok(response)) => response,
        Ok(Err(_)) => plain(
            500,
            "internal server error: the handler ended without answering",
            matches!(target, Target::Process(_)),
        ),
        Err(_) => {
            shared.launch.kill(id);
            plain(
                504,
                &format!(
                    "the handler did not answer within {:?} (--http-request-timeout)",
                    limits.request_timeout
                ),
                true,
            )
        }
    }
}

/// The bytes of a request's head as sent: the request line and `name: value\r\n` lines.
fn head_size(request: &http::Request<Incoming>) -> usize {
    let line = request.method().as_str().len()
        + request
            .uri()
            .path_and_query()
            .map_or(1, |pq| pq.as_str().len())
        + 12;
    request.headers().iter().fold(line, |n, (name, value)| {
        n + name.as_str().len() + value.len() + 4
    })
}

/// The content-length a request declares, if any (hyper has refused a malformed one).
fn declared_length(request: &http::Request<Incoming>) -> Option<u64> {
    request
        .headers()
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Answer 503 on a connection the server will not serve, then close it (after reading
/// what the client sent, so the close does not reset the connection before it reads).
async fn refuse(mut stream: TcpStream, why: String) {
    let body = format!("service unavailable: {why}\n");
    let text = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(text.as_bytes()).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        let mut read = 0;
        while read < 64 * 1024 {
            match stream.read(&mut sink).await? {
                0 => break,
                n => read += n,
            }
        }
        std::io::Result::Ok(())
    })
    .await;
}
