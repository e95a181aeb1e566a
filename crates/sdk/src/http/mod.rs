//! HTTP/1.1 and HTTP/2 servers (HTTP/2 over TLS: [`Server::tls`]): every request (or every
//! connection) served by a process of its own.
//!
//! The host speaks HTTP (hyper): it accepts, parses, keeps connections alive, answers
//! malformed requests (400), heads over the limit (431), bodies over the limit (413) and
//! connections over the limit (503) without running your code. What reaches your handler is
//! a well-formed [`Request`], in a fresh process: a panic in one handler answers its request
//! with a 500 and harms nothing else.
//!
//! ```no_run
//! use warren::http::{self, Request, Response};
//!
//! fn hello(request: Request) -> Response {
//!     Response::text(200, format!("hello, {}\n", request.path()))
//! }
//!
//! fn main() {
//!     http::serve("127.0.0.1:8080", hello).expect("serve");
//! }
//! ```
//!
//! - A handler is a plain `fn(Request) -> R` (or `fn(C, Request) -> R` with captures, as
//!   [`crate::spawn!`] takes), where `R` is a [`Response`], `()` (the handler answered
//!   itself) or a `Result` of either (an `Err` is answered 500 with its text).
//! - [`Server::per_connection`] runs one process per connection instead, serving its
//!   keep-alive requests in order with the same handler: statics then live as long as the
//!   connection.
//! - Bodies stream: [`Request::body`] is a [`ByteStream`](crate::stream::ByteStream); a [`Response`] body is bytes, a
//!   stream or a file the host sends itself ([`Response::file`]: the bytes never enter the
//!   process), or a pipe the process writes after answering ([`Request::respond_streaming`]:
//!   server-sent events are such a body).
//! - WebSockets: [`Request::upgrade`] gives a [`WebSocket`], which works with
//!   [`crate::select`] beside the mailbox and moves in messages like any handle.
//! - Limits (head and body size, time to answer, connections) are the runtime's:
//!   `warren run --help` lists them.

mod request;
mod response;
mod websocket;

pub use request::{BodyWriter, Request};
pub use response::{IntoResponse, Response};
pub use websocket::{Message, WebSocket};

use crate::abi;
use crate::handle::Handle;
use crate::net::TcpListener;
use crate::stream::{HostFuture, pair};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Display;
use std::io;
use std::net::SocketAddr;

/// Serve HTTP on `addr` with `handler`, a process per request. Returns only if the server
/// cannot start (an error) or stops (the runtime shuts down).
pub fn serve<R: IntoResponse>(addr: impl Display, handler: fn(Request) -> R) -> io::Result<()> {
    Server::bind(addr)?.serve(handler)
}

/// A server about to start: where it listens and how it runs handlers.
pub struct Server {
    listener: TcpListener,
    per_connection: bool,
    tls: bool,
}

impl Server {
    /// Listen on `addr` (under the runtime's network allow-list).
    pub fn bind(addr: impl Display) -> io::Result<Server> {
        Ok(Server::from_listener(TcpListener::bind(addr)?))
    }

    /// Serve on a listener already bound.
    pub fn from_listener(listener: TcpListener) -> Server {
        Server {
            listener,
            per_connection: false,
            tls: false,
        }
    }

    /// One process per connection, serving the connection's requests in order (a crash
    /// answers the request it was serving with a 500 and closes the connection).
    pub fn per_connection(mut self) -> Server {
        self.per_connection = true;
        self
    }

    /// Serve HTTPS: TLS with the certificate the runtime holds (`warren run --tls-cert FILE
    /// --tls-key FILE`; the files are read by the host, never by the guest), and HTTP/2 to
    /// clients that offer it (each stream a request, as with HTTP/1.1). WebSockets work
    /// over it too (`wss://`, on HTTP/1.1). Starting fails with `PermissionDenied` if the
    /// runtime has no certificate.
    pub fn tls(mut self) -> Server {
        self.tls = true;
        self
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Start serving with `handler` and return: the server runs while the [`Running`]
    /// lives (in this process, or wherever it is sent).
    pub fn start<R: IntoResponse>(self, handler: fn(Request) -> R) -> io::Result<Running> {
        let trampoline = if self.per_connection {
            entry::per_connection::<R> as fn(usize, Vec<u8>)
        } else {
            entry::per_request::<R> as fn(usize, Vec<u8>)
        };
        self.start_raw(
            trampoline as usize as u32,
            handler as usize as u32,
            Vec::new(),
        )
    }

    /// [`Server::start`] with captures: each handler's process gets its own copy of
    /// `captures` (which cannot hold handles: ask a process that holds them instead).
    pub fn start_with<C, R>(self, captures: C, handler: fn(C, Request) -> R) -> io::Result<Running>
    where
        C: Serialize + DeserializeOwned,
        R: IntoResponse,
    {
        let args = crate::handle::encode_message(&captures)?;
        let trampoline = if self.per_connection {
            entry::per_connection_with::<C, R> as fn(usize, Vec<u8>)
        } else {
            entry::per_request_with::<C, R> as fn(usize, Vec<u8>)
        };
        self.start_raw(trampoline as usize as u32, handler as usize as u32, args)
    }

    /// Start, then serve until the server stops.
    pub fn serve<R: IntoResponse>(self, handler: fn(Request) -> R) -> io::Result<()> {
        self.start(handler)?.wait()
    }

    /// [`Server::start_with`], then serve until the server stops.
    pub fn serve_with<C, R>(self, captures: C, handler: fn(C, Request) -> R) -> io::Result<()>
    where
        C: Serialize + DeserializeOwned,
        R: IntoResponse,
    {
        self.start_with(captures, handler)?.wait()
    }

    fn start_raw(self, trampoline: u32, func: u32, args: Vec<u8>) -> io::Result<Running> {
        crate::entry::install_hooks();
        let addr = self.listener.local_addr()?;
        let mode = if self.per_connection {
            abi::HTTP_PER_CONNECTION
        } else {
            abi::HTTP_PER_REQUEST
        } | if self.tls { abi::HTTP_TLS } else { 0 };
        let listener = crate::handle::Resource::raw_handle(&self.listener);
        let (server, stopped) = pair(|out| {
            // SAFETY: both indices are function-table entries of this module taken from `fn`
            // values of the types `warren_entry` and the trampoline call them as (see
            // `crate::entry`); `args` lives across the call, which only reads it; `out` has
            // room for two u32.
            unsafe {
                abi::http_serve(
                    listener,
                    mode,
                    trampoline,
                    func,
                    args.as_ptr(),
                    args.len() as u32,
                    out,
                )
            }
        })?;
        Ok(Running {
            _server: server,
            stopped: HostFuture::from_handle(stopped),
            addr,
        })
    }
}

/// A running server. Dropping it stops accepting (requests being served finish).
pub struct Running {
    _server: Handle,
    stopped: HostFuture<()>,
    addr: SocketAddr,
}

impl Running {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serve until the server stops (it does not, unless its runtime shuts down).
    pub fn wait(self) -> io::Result<()> {
        let Running {
            _server, stopped, ..
        } = self;
        stopped.wait()
    }
}

/// The entries the host spawns handler processes through (`warren_entry` calls them).
mod entry {
    use super::{IntoResponse, Request};
    use crate::abi;
    use crate::handle::Handle;
    use serde::de::DeserializeOwned;

    /// The handle the host gave this process: claim #0 of its spawn.
    fn claimed(what: &str) -> Handle {
        // SAFETY: plain integer argument.
        let r = unsafe { abi::claim(0) };
        match Handle::from_result(r) {
            Ok(h) => h,
            Err(e) => panic!("warren::http: this process holds no {what}: {e}"),
        }
    }

    fn captures<C: DeserializeOwned>(args: &[u8]) -> C {
        match crate::handle::decode_message(args) {
            Ok(c) => c,
            Err(e) => panic!(
                "warren::http: cannot decode the captures as `{}`: {e}",
                std::any::type_name::<C>()
            ),
        }
    }

    /// The requests of a connection, until its end.
    fn each_request(mut serve: impl FnMut(Request)) {
        let conn = claimed("http-connection");
        loop {
            // SAFETY: plain integer argument.
            let r = unsafe { abi::http_next(conn.raw()) };
            match Handle::from_result(r) {
                Ok(h) => serve(Request::from_handle(h)),
                Err(_) => return, // the client closed the connection
            }
        }
    }

    pub(super) fn per_request<R: IntoResponse>(func: usize, _args: Vec<u8>) {
        // SAFETY: `func` is the index `Server::start::<R>` took from a `fn(Request) -> R`;
        // this trampoline was chosen by the same call, so the types agree.
        let handler: fn(Request) -> R = unsafe { std::mem::transmute(func) };
        Request::from_handle(claimed("http-request")).serve(handler);
    }

    pub(super) fn per_request_with<C: DeserializeOwned, R: IntoResponse>(
        func: usize,
        args: Vec<u8>,
    ) {
        // SAFETY: as in `per_request`, for `fn(C, Request) -> R` from `start_with::<C, R>`.
        let handler: fn(C, Request) -> R = unsafe { std::mem::transmute(func) };
        let c = captures::<C>(&args);
        Request::from_handle(claimed("http-request")).serve(|r| handler(c, r));
    }

    pub(super) fn per_connection<R: IntoResponse>(func: usize, _args: Vec<u8>) {
        // SAFETY: as in `per_request`.
        let handler: fn(Request) -> R = unsafe { std::mem::transmute(func) };
        each_request(|r| r.serve(handler));
    }

    pub(super) fn per_connection_with<C: DeserializeOwned, R: IntoResponse>(
        func: usize,
        args: Vec<u8>,
    ) {
        // SAFETY: as in `per_request_with`.
        let handler: fn(C, Request) -> R = unsafe { std::mem::transmute(func) };
        each_request(|r| {
            let c = captures::<C>(&args);
            r.serve(|r| handler(c, r))
        });
    }
}
