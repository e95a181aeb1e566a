//! The host objects behind I/O handles, free of wasmtime.
//!
//! Every object here is shared by `Arc` (see [`crate::resources`]): a handle, a stream
//! derived from it, a message in flight or a host pump each hold one reference, and the OS
//! resource closes when the last goes.
//!
//! Reading and writing go through two small traits, [`ReadSource`] and [`WriteSink`]: a
//! non-blocking `try_read`/`try_write` on a borrowed slice, and a readiness wait. A host call
//! that reads into guest memory tries the slice, waits for readiness while the process is
//! suspended, and tries again — so bytes go straight between the kernel and guest memory,
//! with no buffer in between (design rule 1).
//!
//! - [`tcp`], [`udp`]: sockets; [`file`](mod@file): files with advisory locks;
//! - [`pipe`]: in-memory byte pipes between processes; [`stream`]: [`ByteStream`], the
//!   readable end of anything, with the [`IoFuture`] that tells how it ended;
//! - [`splice`]: host pumps that copy a stream into a sink after the caller has gone;
//! - [`policy`]: the network allow-list; [`dirs`]: the granted directories;
//! - [`http`](mod@http): HTTP/1.1 servers on hyper, their requests and WebSockets;
//! - [`handles`]: the kinds of handle and the interfaces each declares.

pub(crate) mod dirs;
pub(crate) mod error;
pub(crate) mod file;
pub(crate) mod future;
pub(crate) mod handles;
pub(crate) mod http;
pub(crate) mod pipe;
pub(crate) mod policy;
pub(crate) mod splice;
pub(crate) mod stream;
pub(crate) mod tcp;
pub(crate) mod udp;

pub(crate) use dirs::Grants;
pub use error::IoFailure;
pub(crate) use future::IoFuture;
pub use handles::ReadReady;
pub use policy::NetPolicy;
pub(crate) use splice::{Copies, Pumps};
pub(crate) use stream::ByteStream;

use std::future::Future;
use std::io;
use std::pin::Pin;

/// A boxed readiness future.
pub type Ready<'a> = Pin<Box<dyn Future<Output = io::Result<()>> + Send + 'a>>;

/// What a source reads from or a sink writes to, where a host copy from one into the other
/// would feed itself forever: a pipe's buffer, a file on disk (by device and inode, so two
/// opens of one file are the same). Sockets have none: copying a connection into itself is
/// an echo, which ends when the peer stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backing {
    /// A pipe's buffer, by address.
    Pipe(usize),
    /// A file on disk.
    File {
        /// Its device.
        dev: u64,
        /// Its inode.
        ino: u64,
    },
}

/// Something bytes can be read from.
pub trait ReadSource: Send + Sync {
    /// Read what is available into `buf` without blocking: `Ok(0)` at the end,
    /// `ErrorKind::WouldBlock` if nothing is available yet.
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize>;
    /// Resolves when `try_read` may make progress (data, end, or error). May resolve
    /// spuriously (a cached readiness): callers loop on `try_read`.
    fn ready(&self) -> Ready<'_>;
    /// Resolves only when a read would really return at once: what `select` reports. The
    /// default is [`ReadSource::ready`], for sources whose readiness is never stale.
    fn ready_exact(&self) -> Ready<'_> {
        self.ready()
    }
    /// What this reads from, if a copy into it could loop (see [`Backing`]).
    fn backing(&self) -> Option<Backing> {
        None
    }
}

/// Something bytes can be written to.
pub trait WriteSink: Send + Sync {
    /// Write some of `buf` without blocking; `ErrorKind::WouldBlock` if no room yet.
    fn try_write(&self, buf: &[u8]) -> io::Result<usize>;
    /// Resolves when `try_write` may make progress.
    fn ready(&self) -> Ready<'_>;
    /// The data is complete (a splice reached its source's end): e.g. shut down a socket's
    /// sending side. The default does nothing.
    fn finish(&self) -> io::Result<()> {
        Ok(())
    }
    /// What this writes to, if a copy from it could loop (see [`Backing`]).
    fn backing(&self) -> Option<Backing> {
        None
    }
}

/// Read into `buf`, waiting for readiness as needed.
pub(crate) async fn read(src: &dyn ReadSource, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match src.try_read(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => src.ready().await?,
            r => return r,
        }
    }
}

/// Write all of `buf`, waiting for room as needed.
pub(crate) async fn write_all(sink: &dyn WriteSink, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match sink.try_write(buf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => sink.ready().await?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// What the I/O host modules of one runtime share: the network allow-list, the granted
/// directories and the live host pumps.
#[derive(Debug, Default)]
pub(crate) struct IoShared {
    /// The TLS identity servers asking for TLS serve with (`RuntimeConfig::tls`).
    pub tls: Option<std::sync::Arc<http::Tls>>,
    pub policy: NetPolicy,
    pub grants: std::sync::Arc<Grants>,
    pub pumps: std::sync::Arc<Pumps>,
    pub http: http::HttpLimits,
    /// The drain every HTTP server of the runtime stops by (a graceful shutdown).
    pub drain: std::sync::Arc<http::Drain>,
}
