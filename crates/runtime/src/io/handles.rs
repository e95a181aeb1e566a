//! The kinds of I/O handle, and what each can be used as.
//!
//! Every I/O object enters a process's table through one function here, which names its kind
//! (the word error messages and docs/abi.md use) and declares its interfaces (see
//! [`Resource::with`]): `dyn ReadSource` for what `read`, `copy` and `select` read from,
//! `dyn WriteSink` for what `write` and `copy` write to, `dyn ReadReady` for what `select`
//! can wait on without reading (a listener, a UDP socket), and `TcpListenerObj` for what
//! `accept` takes. Calls ask for the interface ([`readable`], [`writable`]), never for a
//! list of types: an embedder's resource works with them by declaring the same interfaces.

use super::file::FileObj;
use super::http::{BodyPipeWriter, Exchange, HttpConnection, HttpServer, WebSocket};
use super::pipe::PipeWriter;
use super::tcp::{Incoming, TcpConn, TcpListenerObj};
use super::udp::UdpObj;
use super::{ByteStream, IoFuture, ReadSource, Ready, WriteSink};
use crate::resources::{ChargedToHolder, Handle, HandleError, Resource, ResourceTable};
use std::sync::Arc;

/// A listening TCP socket.
pub(crate) const TCP_LISTENER: &str = "tcp-listener";
/// A listener's connections, keeping it open on their own.
pub(crate) const TCP_INCOMING: &str = "tcp-incoming";
/// A TCP connection.
pub(crate) const TCP_STREAM: &str = "tcp-stream";
/// A bound UDP socket.
pub(crate) const UDP_SOCKET: &str = "udp-socket";
/// An open file.
pub(crate) const FILE: &str = "file";
/// The readable end of a pipe, a connection's or a file's bytes.
pub(crate) const BYTE_STREAM: &str = "byte-stream";
/// The writable end of a pipe.
pub(crate) const STREAM_WRITER: &str = "stream-writer";
/// The outcome of work that outlives its caller.
pub(crate) const FUTURE: &str = "future";
/// A running HTTP server.
pub(crate) const HTTP_SERVER: &str = "http-server";
/// One HTTP request and its answer.
pub(crate) const HTTP_REQUEST: &str = "http-request";
/// One HTTP connection's requests, in order.
pub(crate) const HTTP_CONNECTION: &str = "http-connection";
/// A WebSocket.
pub(crate) const WEBSOCKET: &str = "websocket";

/// What a call that reads accepts, for its error message.
pub(crate) const READABLE: &str = "a readable handle (tcp-stream, file or byte-stream)";
/// What a call that writes accepts, for its error message.
pub(crate) const WRITABLE: &str = "a writable handle (tcp-stream, file or stream-writer)";
/// What `accept` accepts.
pub(crate) const LISTENER: &str = "a tcp-listener or tcp-incoming";

/// Something `select` can wait on for a "readable" entry that is not a byte source: it
/// resolves when the next `accept` or datagram receive would not wait.
pub trait ReadReady: Send + Sync {
    /// Resolves when the next operation would not wait (an error counts as ready).
    fn read_ready(&self) -> Ready<'_>;
}

impl ReadReady for TcpListenerObj {
    fn read_ready(&self) -> Ready<'_> {
        Box::pin(self.ready())
    }
}

impl ReadReady for UdpObj {
    fn read_ready(&self) -> Ready<'_> {
        // As for TCP, a cached readiness may be stale: ask the kernel.
        Box::pin(async move { self.socket.peek_sender().await.map(drop) })
    }
}

/// A connection: readable and writable.
pub(crate) fn tcp_stream(conn: TcpConn) -> Resource {
    let conn = Arc::new(conn);
    Resource::new(TCP_STREAM, conn.clone())
        .with::<dyn ReadSource>(conn.clone())
        .with::<dyn WriteSink>(conn)
}

/// A listener: accepts, and `select` waits for a connection.
pub(crate) fn tcp_listener(listener: TcpListenerObj) -> Resource {
    let l = Arc::new(listener);
    Resource::new(TCP_LISTENER, l.clone())
        .with::<TcpListenerObj>(l.clone())
        .with::<dyn ReadReady>(l)
}

/// A listener's connections, as a resource of its own.
pub(crate) fn tcp_incoming(listener: Arc<TcpListenerObj>) -> Resource {
    let incoming = Arc::new(Incoming {
        listener: listener.clone(),
    });
    Resource::new(TCP_INCOMING, incoming)
        .with::<TcpListenerObj>(listener.clone())
        .with::<dyn ReadReady>(listener)
}

/// A UDP socket: `select` waits for a datagram.
pub(crate) fn udp_socket(socket: UdpObj) -> Resource {
    let s = Arc::new(socket);
    Resource::new(UDP_SOCKET, s.clone()).with::<dyn ReadReady>(s)
}

/// A file: readable and writable at its cursor.
pub(crate) fn file(file: FileObj) -> Resource {
    let f = Arc::new(file);
    Resource::new(FILE, f.clone())
        .with::<dyn ReadSource>(f.clone())
        .with::<dyn WriteSink>(f)
}

/// A byte stream: readable.
pub(crate) fn byte_stream(stream: ByteStream) -> Resource {
    let s = Arc::new(stream);
    Resource::new(BYTE_STREAM, s.clone()).with::<dyn ReadSource>(s)
}

/// A pipe's writer: writable.
pub(crate) fn stream_writer(writer: PipeWriter) -> Resource {
    let w = Arc::new(writer);
    Resource::new(STREAM_WRITER, w.clone()).with::<dyn WriteSink>(w)
}

/// A response body's writer: writable, and closed by `close_writer` like a pipe's.
pub(crate) fn body_writer(writer: BodyPipeWriter) -> Resource {
    let w = Arc::new(writer);
    Resource::new(STREAM_WRITER, w.clone()).with::<dyn WriteSink>(w)
}

/// An HTTP server.
pub(crate) fn http_server(server: HttpServer) -> Resource {
    Resource::new(HTTP_SERVER, Arc::new(server))
}

/// An HTTP request.
pub(crate) fn http_request(exchange: Arc<Exchange>) -> Resource {
    Resource::new(HTTP_REQUEST, exchange)
}

/// An HTTP connection's requests.
pub(crate) fn http_connection(connection: HttpConnection) -> Resource {
    Resource::new(HTTP_CONNECTION, Arc::new(connection))
}

/// A WebSocket: `select` waits for a message; what the host holds for it is charged to the
/// process holding it.
pub(crate) fn websocket(ws: WebSocket) -> Resource {
    let ws = Arc::new(ws);
    Resource::new(WEBSOCKET, ws.clone())
        .with::<dyn ReadReady>(ws.clone())
        .with::<dyn ChargedToHolder>(ws)
}

/// A future.
pub(crate) fn future(future: Arc<IoFuture>) -> Resource {
    Resource::new(FUTURE, future.clone()).with::<dyn ReadReady>(future)
}

/// A future is ready once resolved: a hibernated process can wait for it (an HTTP server's
/// process waits so for the server's end).
impl ReadReady for IoFuture {
    fn read_ready(&self) -> Ready<'_> {
        Box::pin(async {
            // Resolved either way: a failure is the waiter's to read.
            let _ = self.wait().await;
            Ok(())
        })
    }
}

/// The interface `I` of handle `h`, or a wrong-kind error saying `expected`.
pub fn interface<I: ?Sized + Send + Sync + 'static>(
    table: &ResourceTable,
    h: Handle,
    expected: &'static str,
) -> Result<Arc<I>, HandleError> {
    let r = table.get(h)?;
    r.interface::<I>().ok_or(HandleError::WrongKind {
        handle: h,
        expected,
        found: r.kind(),
    })
}

/// The object behind a readable handle.
pub(crate) fn readable(
    table: &ResourceTable,
    h: Handle,
) -> Result<Arc<dyn ReadSource>, HandleError> {
    interface::<dyn ReadSource>(table, h, READABLE)
}

/// The object behind a writable handle.
pub(crate) fn writable(
    table: &ResourceTable,
    h: Handle,
) -> Result<Arc<dyn WriteSink>, HandleError> {
    interface::<dyn WriteSink>(table, h, WRITABLE)
}

/// The listener behind a tcp-listener or tcp-incoming handle.
pub(crate) fn listener(
    table: &ResourceTable,
    h: Handle,
) -> Result<Arc<TcpListenerObj>, HandleError> {
    interface::<TcpListenerObj>(table, h, LISTENER)
}
