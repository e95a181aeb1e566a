//! HTTP/1.1 and HTTP/2 serving in the host, on hyper (and rustls for TLS): the objects
//! behind `warren:http`'s handles.
//!
//! # The model
//!
//! A guest hands a listener to [`HttpServer::start`] with a [`Launch`]: the way to start a
//! process. From then on the host owns the socket: it accepts, speaks HTTP/1.1 with hyper
//! (keep-alive, pipelining, `Expect: 100-continue`, chunked bodies) and answers everything
//! that needs no program itself — a malformed request gets hyper's 400 (431 for a head over
//! the limit), a declared body over the limit a 413, a connection over the limit a 503 —
//! without waking a process. What is left is a request, and it becomes a process:
//!
//! - **per request** ([`Mode::PerRequest`]): each request is an [`Exchange`] handed to a
//!   fresh process (the launcher moves it into the new process's handle table);
//! - **per connection** ([`Mode::PerConnection`]): each connection is an [`HttpConnection`]
//!   handed to one process, which takes its requests in order with `next`.
//!
//! The process answers through its exchange: bytes, a host splice from any readable handle
//! (a file download never passes through guest memory), or a pipe it writes. It may instead
//! take a WebSocket ([`WebSocket`]). The request body is a `RequestBody`, read straight
//! from hyper's buffers into guest memory.
//!
//! Nothing is lost silently: an exchange dropped without an answer (its process crashed, or
//! returned without answering) is answered 500; a handler that does not answer within the
//! request timeout gets its process killed and the client a 504; a body pipe whose writer
//! goes away without closing it aborts the response, so a client never takes a truncated
//! body for a whole one.
//!
//! What a server can make the host hold is bounded by [`HttpLimits`]: connections per server
//! (each one hyper task and its buffers; a WebSocket keeps its connection's slot), the head
//! size, the body size, the time to the answer, the time a client may leave what is sent to
//! it unread ([`timed`]), the time a connection may idle, and the WebSocket message size and
//! queue. A per-connection process starts at the connection's first request, not at its
//! accept.
//!
//! A server may serve TLS ([`Tls`]: the runtime's certificate, read by the host), and then
//! HTTP/2 too where ALPN chose it: each stream is a request like any other; a per-connection
//! process serves an HTTP/2 connection's requests in order, one at a time. What one HTTP/2
//! connection can make the host hold is bounded as well: streams at once
//! ([`HttpLimits::http2_max_streams`]), the header list (the head limit), unread request
//! bodies (flow-control windows: [`HTTP2_CONNECTION_WINDOW`] a connection), unsent response
//! bytes ([`HTTP2_SEND_BUFFER`] a stream), and streams reset by the client before they were
//! served ([`HTTP2_MAX_PENDING_RESETS`]: past it, the connection is closed with
//! `ENHANCE_YOUR_CALM`, the answer to the "rapid reset" attack).

mod body;
mod connection;
mod drain;
mod exchange;
mod server;
mod timed;
mod tls;
mod websocket;
mod ws_budget;
mod ws_meter;

pub(crate) use body::{BodyPipeWriter, body_pipe};
pub(crate) use connection::HttpConnection;
pub(crate) use drain::Drain;
pub(crate) use exchange::{Exchange, ResponseBody, bytes_body, stream_body};
pub(crate) use server::{HttpServer, Launch};
pub(crate) use tls::Tls;
pub use tls::TlsFiles;
pub(crate) use websocket::{Received, SendError, WebSocket, WsMessage};
pub(crate) use ws_budget::WsBudget;

use std::time::Duration;

/// How a server gives its requests to processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A fresh process per request.
    PerRequest,
    /// One process per connection, serving its requests in order.
    PerConnection,
}

/// The limits of every HTTP server of a runtime (`warren run --http-*`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Most bytes of a request head (request line and headers); over it, 431. At least
    /// 8 KiB (hyper's smallest read buffer; hyper's own limit on its buffer is twice this,
    /// the exact one is checked on the parsed head).
    pub max_header_bytes: usize,
    /// Most bytes of a request body; a declared length over it is answered 413 without a
    /// process, a chunked body that grows over it fails its read and is answered 413.
    /// Also the largest WebSocket message.
    pub max_body_bytes: u64,
    /// Time from a request's head to its answer's head; over it, the handler's process is
    /// killed and the client gets a 504.
    pub request_timeout: Duration,
    /// Time a client has to send a request head once it started (slow clients are cut off).
    pub header_timeout: Duration,
    /// Most connections one server holds at once, WebSockets included; more are answered
    /// 503 and closed.
    pub max_connections: usize,
    /// Time a client may accept no byte of what the server sends it (a response, a
    /// WebSocket message); then the connection is closed and its slot freed.
    pub write_timeout: Duration,
    /// Time a keep-alive connection may wait for its next request, and a WebSocket may pass
    /// without a frame either way; a quiet WebSocket is pinged then, and closed if nothing
    /// comes back within the same time again. An HTTP/2 connection is pinged at this
    /// interval and closed if the ping goes unanswered as long.
    pub idle_timeout: Duration,
    /// Most requests (streams) one HTTP/2 connection has open at once; the client is told
    /// in its settings, and a stream beyond is refused.
    pub http2_max_streams: u32,
}

/// Default for [`HttpLimits::max_header_bytes`].
pub(crate) const DEFAULT_MAX_HEADER_BYTES: usize = 64 * 1024;
/// Smallest [`HttpLimits::max_header_bytes`] (hyper's minimum buffer).
pub const MIN_HEADER_BYTES: usize = 8 * 1024;
/// Default for [`HttpLimits::max_body_bytes`].
pub(crate) const DEFAULT_MAX_BODY_BYTES: u64 = 64 << 20;
/// Default for [`HttpLimits::request_timeout`].
pub(crate) const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default for [`HttpLimits::header_timeout`].
pub(crate) const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default for [`HttpLimits::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Default for [`HttpLimits::write_timeout`].
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default for [`HttpLimits::idle_timeout`].
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default for [`HttpLimits::http2_max_streams`].
pub const DEFAULT_HTTP2_MAX_STREAMS: u32 = 100;
/// HTTP/2 flow control: request-body bytes a client may send on one stream before its
/// process reads them.
pub(crate) const HTTP2_STREAM_WINDOW: u32 = 64 * 1024;
/// HTTP/2 flow control: request-body bytes a client may send on all of a connection's
/// streams before they are read — what an HTTP/2 connection makes the host buffer at most.
pub(crate) const HTTP2_CONNECTION_WINDOW: u32 = 512 * 1024;
/// Response bytes buffered per HTTP/2 stream before its writer waits for the client.
pub(crate) const HTTP2_SEND_BUFFER: usize = 64 * 1024;
/// Streams a client may reset before the server took them; past it, the connection is
/// closed (`ENHANCE_YOUR_CALM`).
pub(crate) const HTTP2_MAX_PENDING_RESETS: usize = 20;
/// Streams the server may reset for a client's protocol errors before it closes the
/// connection.
pub(crate) const HTTP2_MAX_ERROR_RESETS: usize = 256;

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            http2_max_streams: DEFAULT_HTTP2_MAX_STREAMS,
        }
    }
}
