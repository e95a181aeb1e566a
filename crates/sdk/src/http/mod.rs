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

mod named;
mod request;
mod response;
mod websocket;

use named::PER_CONNECTION;
#[doc(hidden)]
pub use named::{__named, Handler};

pub use request::{BodyWriter, Request};
pub use response::{IntoResponse, Response};
pub use websocket::{Message, WebSocket};

use crate::abi;
use crate::handle::Handle;
use crate::net::TcpListener;
use crate::stream::{HostFuture, pair};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt::Display;
use std::io;
use std::net::SocketAddr;

/// Serve HTTP on `addr` with `handler`, a process per request. Returns only if the server
/// cannot start (an error); meanwhile the calling process hibernates until the server stops
/// (see [`Running::hibernate`]), then ends.
pub fn serve<R, F>(addr: impl Display, handler: F) -> io::Result<()>
where
    R: IntoResponse,
    F: Fn(Request) -> R + Copy + 'static,
{
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
    ///
    /// `handler` is a function item (or a closure that captures nothing). Declared with
    /// [`http_handler!`](crate::http_handler!), it is named: after a hot code upgrade, new
    /// handler processes run the new version's function of the same name.
    pub fn start<R, F>(self, handler: F) -> io::Result<Running>
    where
        R: IntoResponse,
        F: Fn(Request) -> R + Copy + 'static,
    {
        let _ = handler;
        let trampoline = if self.per_connection {
            entry::per_connection::<R> as fn(usize, Vec<u8>)
        } else {
            entry::per_request::<R> as fn(usize, Vec<u8>)
        };
        let func = entry::call::<F, R> as fn(Request) -> R;
        let name = self.handler_name::<F>();
        self.start_raw(
            trampoline as usize as u32,
            func as usize as u32,
            Vec::new(),
            &name,
        )
    }

    /// [`Server::start`] with captures: each handler's process gets its own copy of
    /// `captures` (which cannot hold handles: ask a process that holds them instead).
    pub fn start_with<C, R, F>(self, captures: C, handler: F) -> io::Result<Running>
    where
        C: Serialize + DeserializeOwned,
        R: IntoResponse,
        F: Fn(C, Request) -> R + Copy + 'static,
    {
        let _ = handler;
        let args = crate::handle::encode_message(&captures)?;
        let trampoline = if self.per_connection {
            entry::per_connection_with::<C, R> as fn(usize, Vec<u8>)
        } else {
            entry::per_request_with::<C, R> as fn(usize, Vec<u8>)
        };
        let func = entry::call_with::<F, C, R> as fn(C, Request) -> R;
        let name = self.handler_name::<F>();
        self.start_raw(
            trampoline as usize as u32,
            func as usize as u32,
            args,
            &name,
        )
    }

    /// Start, then hibernate until the server stops ([`Running::hibernate`]). Returns only
    /// if the server cannot start.
    pub fn serve<R, F>(self, handler: F) -> io::Result<()>
    where
        R: IntoResponse,
        F: Fn(Request) -> R + Copy + 'static,
    {
        self.start(handler)?.hibernate()
    }

    /// [`Server::start_with`], then hibernate until the server stops.
    pub fn serve_with<C, R, F>(self, captures: C, handler: F) -> io::Result<()>
    where
        C: Serialize + DeserializeOwned,
        R: IntoResponse,
        F: Fn(C, Request) -> R + Copy + 'static,
    {
        self.start_with(captures, handler)?.hibernate()
    }

    /// The name the handler `F` is exported under by [`http_handler!`](crate::http_handler!)
    /// for this server's mode (empty for a closure: no name survives a rebuild).
    fn handler_name<F>(&self) -> String {
        entry::assert_zero_sized::<F>();
        let path = crate::upgrade::name_of::<F>();
        match (path.is_empty(), self.per_connection) {
            (true, _) => String::new(),
            (false, false) => path.to_string(),
            (false, true) => format!("{path}{PER_CONNECTION}"),
        }
    }

    fn start_raw(
        self,
        trampoline: u32,
        func: u32,
        args: Vec<u8>,
        name: &str,
    ) -> io::Result<Running> {
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
            // `crate::entry`); `args` and `name` live across the call, which only reads them; `out` has
            // room for two u32.
            unsafe {
                abi::http_serve(
                    listener,
                    mode,
                    trampoline,
                    func,
                    args.as_ptr(),
                    args.len() as u32,
                    name.as_ptr(),
                    name.len() as u32,
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

/// A running server. Dropping it stops accepting (requests being served finish). It moves
/// in messages and captures like any handle.
#[derive(Serialize, Deserialize)]
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

    /// Serve until the server stops (it does not, unless its runtime shuts down), blocked
    /// in this call: the process keeps its instance, and its version of the program (a hot
    /// code upgrade's third load ends it, and the server with it). [`Running::hibernate`]
    /// has neither cost.
    pub fn wait(self) -> io::Result<()> {
        let Running {
            _server, stopped, ..
        } = self;
        stopped.wait()
    }

    /// Serve until the server stops with the calling process hibernated (it holds no
    /// instance meanwhile), then end the process normally. Hibernated at a named resume
    /// point, the process moves to each new version of the program (hot code upgrade), so no
    /// load ends it and the server serves on. Messages sent to it are dropped.
    pub fn hibernate(self) -> ! {
        crate::hibernate_watching(self, |r| &r.stopped, until_stopped)
    }
}

/// Where a process serving HTTP waits ([`Running::hibernate`]): it wakes when the server
/// stops (then ends) or a message comes (dropped).
fn until_stopped(running: Running, mailbox: crate::Mailbox<()>) {
    if running.stopped.poll().is_some() {
        return;
    }
    while mailbox.try_receive().is_some() {}
    running.hibernate()
}
crate::resume_point!(until_stopped);

/// The entries the host spawns handler processes through (`warren_entry` calls them).
mod entry {
    use super::{IntoResponse, Request};
    use crate::abi;
    use crate::handle::Handle;
    use serde::de::DeserializeOwned;

    /// The handle the host gave this process: claim #0 of its spawn.
    pub(super) fn claimed(what: &str) -> Handle {
        // SAFETY: plain integer argument.
        let r = unsafe { abi::claim(0) };
        match Handle::from_result(r) {
            Ok(h) => h,
            Err(e) => panic!("warren::http: this process holds no {what}: {e}"),
        }
    }

    pub(super) fn captures<C: DeserializeOwned>(args: &[u8]) -> C {
        match crate::handle::decode_message(args) {
            Ok(c) => c,
            Err(e) => panic!(
                "warren::http: cannot decode the captures as `{}`: {e}",
                std::any::type_name::<C>()
            ),
        }
    }

    /// `F` is zero-sized: a function item or a closure that captures nothing, which
    /// [`call`] and [`call_with`] can make from nothing (a fn pointer has no name and is
    /// refused at compile time).
    pub(super) const fn assert_zero_sized<F>() {
        const {
            assert!(
                std::mem::size_of::<F>() == 0,
                "warren::http: a handler must be a function item or a closure that captures \
                 nothing (not a fn pointer)"
            )
        }
    }

    /// Call the zero-sized handler `F` (the function whose table index a server passes).
    pub(super) fn call<F: Fn(Request) -> R + Copy, R>(request: Request) -> R {
        assert_zero_sized::<F>();
        // SAFETY: `F` is zero-sized (asserted at compile time): a value of it has no bytes,
        // so none can be invalid, and a function item or a closure capturing nothing holds
        // no state that could be missing.
        let f: F = unsafe { std::mem::zeroed() };
        f(request)
    }

    /// [`call`] for a handler with captures.
    pub(super) fn call_with<F: Fn(C, Request) -> R + Copy, C, R>(
        captures: C,
        request: Request,
    ) -> R {
        assert_zero_sized::<F>();
        // SAFETY: as in `call`.
        let f: F = unsafe { std::mem::zeroed() };
        f(captures, request)
    }

    /// The requests of a connection, until its end.
    pub(super) fn each_request(mut serve: impl FnMut(Request)) {
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
