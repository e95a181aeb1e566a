//! Byte streams, pipes, futures and host splices.
//!
//! - [`ByteStream`]: the readable end of a socket ([`crate::net::TcpStream::receive`]), a
//!   file ([`crate::fs::File::read_via_stream`]) or a pipe. It implements [`std::io::Read`]:
//!   each read suspends the process until bytes come and copies them straight into your
//!   buffer.
//! - [`pipe`]: a [`StreamWriter`] and a [`ByteStream`] for streaming between processes
//!   (send either end in a message).
//! - [`HostFuture`]: the outcome of something the host finishes later: how a stream ended, how
//!   many bytes a copy moved. `wait`, `wait_timeout` or `poll` it, or [`crate::select`] on it.
//! - [`copy`]: a host pump from a readable to a writable; it runs on after the calling
//!   process exits (a proxy can wire two sockets together and step away).

use crate::abi;
use crate::handle::{Handle, Readable, Resource, Writable, check, error, resource_type};
use serde::{Deserialize, Serialize};
use std::io;
use std::marker::PhantomData;
use std::time::Duration;

/// Read `buf.len()` bytes at most from a readable handle, waiting for some.
pub(crate) fn read(h: u32, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is a live, exclusively borrowed buffer; the host writes at most its
    // length into it, during the call only.
    let n = unsafe { abi::read(h, buf.as_mut_ptr(), buf.len() as u32) };
    check(n).map(|n| n as usize)
}

/// Write some of `buf` to a writable handle, waiting for room.
pub(crate) fn write(h: u32, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is live across the call, which only reads it.
    let n = unsafe { abi::write(h, buf.as_ptr(), buf.len() as u32) };
    check(n).map(|n| n as usize)
}

/// The two handles a call wrote as a pair.
pub(crate) fn pair(call: impl FnOnce(*mut u32) -> i32) -> io::Result<(Handle, Handle)> {
    let mut out = [0u32; 2];
    let rc = call(out.as_mut_ptr());
    if rc < 0 {
        return Err(error(rc as i64));
    }
    Ok((Handle::from_raw(out[0]), Handle::from_raw(out[1])))
}

/// The readable end of a socket, file or pipe. Reading returns 0 at its end.
#[derive(Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ByteStream {
    handle: Handle,
}
resource_type!(ByteStream, Readable);

impl ByteStream {
    pub(crate) fn from_handle(handle: Handle) -> Self {
        ByteStream { handle }
    }

    /// Copy the rest of this stream into `to` in the host (see [`copy`]).
    pub fn copy_to(self, to: &impl Writable) -> io::Result<HostFuture<u64>> {
        copy(self, to)
    }
}

impl io::Read for ByteStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read(self.handle.raw(), buf)
    }
}

/// The writing end of a [`pipe`]. The reader sees the end once every writer is dropped (or
/// [`StreamWriter::close`] is called).
#[derive(Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StreamWriter {
    handle: Handle,
}
resource_type!(StreamWriter, Writable);

impl StreamWriter {
    /// End the stream now, even if the writer was copied into a pump.
    pub fn close(self) -> io::Result<()> {
        // SAFETY: plain integer argument.
        check(unsafe { abi::close_writer(self.handle.raw()) } as i64).map(drop)
    }
}

impl io::Write for StreamWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        write(self.handle.raw(), buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A new pipe: what is written to the [`StreamWriter`] is read from the [`ByteStream`]. The
/// host buffers up to 64 KiB; a writer waits for the reader beyond that.
pub fn pipe() -> io::Result<(StreamWriter, ByteStream)> {
    // SAFETY: `out` is a live buffer of two u32, written during the call.
    let (w, r) = pair(|out| unsafe { abi::pipe(out) })?;
    Ok((StreamWriter { handle: w }, ByteStream { handle: r }))
}

/// What a [`HostFuture`] resolves to.
pub trait FutureValue: Sized {
    #[doc(hidden)]
    fn from_host(value: u64) -> Self;
}

impl FutureValue for () {
    fn from_host(_: u64) -> Self {}
}

/// A byte count.
impl FutureValue for u64 {
    fn from_host(value: u64) -> Self {
        value
    }
}

/// The outcome of host work that finishes later. `HostFuture<()>`: how a stream ended;
/// `HostFuture<u64>`: how many bytes a copy moved.
#[derive(Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HostFuture<T> {
    handle: Handle,
    #[serde(skip)]
    _value: PhantomData<fn() -> T>,
}

impl<T> crate::handle::sealed_impl::Sealed for HostFuture<T> {}
impl<T> Resource for HostFuture<T> {
    fn raw_handle(&self) -> u32 {
        self.handle.raw()
    }
}

impl<T: FutureValue> HostFuture<T> {
    pub(crate) fn from_handle(handle: Handle) -> Self {
        HostFuture {
            handle,
            _value: PhantomData,
        }
    }

    pub(crate) fn from_result(r: i64) -> io::Result<Self> {
        Handle::from_result(r).map(Self::from_handle)
    }

    fn outcome(rc: i32, value: u64) -> io::Result<T> {
        if rc < 0 {
            Err(error(rc as i64))
        } else {
            Ok(T::from_host(value))
        }
    }

    /// Wait for the outcome.
    pub fn wait(self) -> io::Result<T> {
        let mut value = 0u64;
        // SAFETY: `value` is a live u64, written during the call.
        let rc = unsafe { abi::future_wait(self.handle.raw(), -1, &mut value) };
        Self::outcome(rc, value)
    }

    /// Wait at most `timeout`; `None` if it is still pending then.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<io::Result<T>> {
        let ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        let mut value = 0u64;
        // SAFETY: as in `wait`.
        let rc = unsafe { abi::future_wait(self.handle.raw(), ms, &mut value) };
        if rc == abi::ERR_TIMEOUT {
            return None;
        }
        Some(Self::outcome(rc, value))
    }

    /// The outcome if it is there, without waiting.
    pub fn poll(&self) -> Option<io::Result<T>> {
        let mut value = 0u64;
        // SAFETY: as in `wait`.
        let rc = unsafe { abi::future_poll(self.handle.raw(), &mut value) };
        if rc == abi::ERR_PENDING {
            return None;
        }
        Some(Self::outcome(rc, value))
    }

    /// Stop the host work behind this future (a [`copy`] still running): its ends are
    /// released and the future resolves with an error. Returns false if it had already
    /// ended. (Dropping a copy's future does not stop the copy: it runs on by design.)
    pub fn cancel(&self) -> bool {
        // SAFETY: plain integer argument.
        unsafe { abi::future_cancel(self.handle.raw()) == 0 }
    }
}

/// Copy everything `from` yields into `to`, in the host: returns at once with a future of
/// the byte count. When `from` ends, `to` is finished (a socket's sending side is shut
/// down, a pipe writer closed). The copy keeps both ends alive and runs on even if this
/// process exits. A [`ByteStream`] source moves into the copy; a socket or file source
/// stays yours. Fails (`InvalidInput`) if `to` writes into what `from` reads (the same pipe
/// or file: the copy would never end), and (`QuotaExceeded`) when this process or the
/// runtime runs as many copies as it may. [`HostFuture::cancel`] stops a copy.
pub fn copy(from: impl Readable, to: &impl Writable) -> io::Result<HostFuture<u64>> {
    // SAFETY: plain integer arguments.
    let r = unsafe { abi::copy(from.raw_handle(), to.raw_handle()) };
    HostFuture::from_result(r)
}
