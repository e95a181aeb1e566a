//! Wait for the first of several sources at once.
//!
//! A process is single-threaded: to serve a socket and its mailbox together, `select` on
//! both, then make the call for the one that is ready (it will not block for long).
//!
//! ```no_run
//! use warren::select::{select, Source};
//! # fn demo(conn: &warren::net::TcpStream, mailbox: &warren::Mailbox<String>) {
//! match select(&[Source::Messages, Source::Readable(conn)], None) {
//!     Some(0) => { let _text = mailbox.receive(); }
//!     Some(1) => { let mut buf = [0u8; 1024]; let _ = conn.read(&mut buf); }
//!     _ => unreachable!("no timeout was given"),
//! }
//! # }
//! ```

use crate::abi;
use crate::handle::{Resource, error};
use std::time::Duration;
use warren_abi::{SELECT_FUTURE, SELECT_MAILBOX, SELECT_READABLE, SELECT_ROOM, SELECT_WRITABLE};

/// Something to wait for.
pub enum Source<'a> {
    /// An ordinary message in the mailbox.
    Messages,
    /// An ordinary message or an exit signal (see [`crate::Mailbox::receive_signal`]).
    Signals,
    /// Bytes (or the end) to read from a socket, stream or file; a connection to accept on
    /// a listener or [`crate::net::Incoming`]; a datagram on a UDP socket.
    Readable(&'a dyn Resource),
    /// Room to write.
    Writable(&'a dyn Resource),
    /// A resolved [`crate::stream::HostFuture`].
    Future(&'a dyn Resource),
    /// Room for a message of this many encoded bytes in the mailbox of the process with this
    /// pid (bounded, its policy to block: see [`crate::bound`]), or in the queue to its node:
    /// a send would not wait. Ready at once for a process without a bound, or gone. So a
    /// router serves many consumers without blocking on the slowest:
    /// `Source::Room(worker.pid(), 64)`.
    Room(crate::Pid, usize),
}

/// Wait until one source is ready and return its index (the lowest if several are), or
/// `None` after `timeout`. Panics if a source's handle is not open in this process.
pub fn select(sources: &[Source<'_>], timeout: Option<Duration>) -> Option<usize> {
    let mut entries = Vec::with_capacity(sources.len() * 16);
    for s in sources {
        let (kind, handle, value): (u32, u32, i64) = match s {
            Source::Messages => (SELECT_MAILBOX, 0, 0),
            Source::Signals => (SELECT_MAILBOX, 0, abi::RECEIVE_MESSAGES_AND_EXITS),
            Source::Readable(r) => (SELECT_READABLE, r.raw_handle(), 0),
            Source::Writable(r) => (SELECT_WRITABLE, r.raw_handle(), 0),
            Source::Future(r) => (SELECT_FUTURE, r.raw_handle(), 0),
            Source::Room(pid, len) => (
                SELECT_ROOM,
                u32::try_from(*len).unwrap_or(u32::MAX),
                *pid as i64,
            ),
        };
        entries.extend_from_slice(&kind.to_le_bytes());
        entries.extend_from_slice(&handle.to_le_bytes());
        entries.extend_from_slice(&value.to_le_bytes());
    }
    let ms = timeout.map_or(-1, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    // SAFETY: pointer and length of `entries`, read during the call.
    let rc = unsafe { abi::wait(entries.as_ptr(), sources.len() as u32, ms) };
    match rc {
        i if i >= 0 => Some(i as usize),
        abi::ERR_TIMEOUT => None,
        code => panic!("warren: select failed: {}", error(code as i64)),
    }
}
