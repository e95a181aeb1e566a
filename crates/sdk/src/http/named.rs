//! Named HTTP handlers: a server's handler processes follow a hot code upgrade.
//!
//! A server passes the host its handler as function-table indices, which name functions of
//! the build that started it. Declared with [`http_handler!`](crate::http_handler!), a
//! handler is also exported under its Rust path (`warren_resume:app::hello`, and
//! `warren_resume:app::hello@connection` for a server with a process per connection). After
//! a new version of the program is loaded, the host starts each new handler process on the
//! current version through that export, so the new code answers the next request; a
//! version without the export leaves the handlers on the version the server started on.
//! The server itself (the process that called `serve`) keeps its version: see
//! docs/upgrade.md.
//!
//! A handler's captures cross versions as postcard: keep their type, or give the handler a
//! new name (another function) when it changes; captures that do not decode answer 500.

use super::{IntoResponse, Request, entry};
use serde::de::DeserializeOwned;

/// What a per-connection server appends to its handler's name.
pub(super) const PER_CONNECTION: &str = "@connection";

/// A function that serves requests, with captures (`fn(C, Request) -> R`) or without
/// (`fn(Request) -> R`); `A` tells the two apart. Implemented for every such function: it is
/// what [`http_handler!`](crate::http_handler!)'s exports call.
pub trait Handler<A>: Copy + 'static {
    /// Serve `request`, with the captures `args` (postcard) if the handler takes any.
    fn handle(self, args: &[u8], request: Request);
}

impl<F, R> Handler<(Request,)> for F
where
    F: Fn(Request) -> R + Copy + 'static,
    R: IntoResponse,
{
    fn handle(self, _args: &[u8], request: Request) {
        request.serve(self)
    }
}

impl<F, C, R> Handler<(C, Request)> for F
where
    F: Fn(C, Request) -> R + Copy + 'static,
    C: DeserializeOwned,
    R: IntoResponse,
{
    fn handle(self, args: &[u8], request: Request) {
        let captures = entry::captures::<C>(args);
        request.serve(|r| self(captures, r))
    }
}

/// The body of an [`http_handler!`](crate::http_handler!) export: serve the request (or
/// every request of the connection) this process was started for with `handler`.
#[doc(hidden)]
pub fn __named<A, H: Handler<A>>(args_len: u32, per_connection: bool, handler: H) {
    crate::entry::install_hooks();
    let args = crate::entry::captures(args_len);
    if per_connection {
        entry::each_request(|r| handler.handle(&args, r));
    } else {
        handler.handle(&args, Request::from_handle(entry::claimed("http-request")));
    }
}

/// Declare an HTTP handler by name, so that after a hot code upgrade the servers started
/// with it run the new version's handler of the same name (docs/upgrade.md). `f` is a
/// function of this module, `fn(Request) -> R` or `fn(C, Request) -> R`, not generic.
///
/// ```no_run
/// use warren::http::{self, Request, Response};
///
/// fn hello(request: Request) -> Response {
///     Response::text(200, format!("hello, {}\n", request.path()))
/// }
/// warren::http_handler!(hello);
///
/// fn main() {
///     http::serve("127.0.0.1:8080", hello).expect("serve");
/// }
/// ```
#[macro_export]
macro_rules! http_handler {
    ($f:ident) => {
        const _: () = {
            #[unsafe(export_name = concat!("warren_resume:", module_path!(), "::", stringify!($f)))]
            extern "C" fn warren_http_request(args_len: u32) {
                $crate::http::__named(args_len, false, $f)
            }
            #[unsafe(export_name = concat!(
                        "warren_resume:", module_path!(), "::", stringify!($f), "@connection"
                    ))]
            extern "C" fn warren_http_connection(args_len: u32) {
                $crate::http::__named(args_len, true, $f)
            }
        };
    };
}
