//! `warren:stream`: read and write any readable or writable handle with borrowed guest
//! buffers, pipes between processes, futures, and host splices (`copy`).
//!
//! `read`/`write` are the blocking-style calls: the process is suspended until bytes move,
//! and they move straight between the OS (or the pipe) and the guest's slice. `copy` hands
//! the work to a host pump and returns a future at once; the pump keeps running after the
//! caller exits. A `byte-stream` given as the source of `copy` moves into the pump (its
//! handle is gone from the caller's table); a socket or file source stays usable.

use super::abi::*;
use super::call::{self, CallState, GuestMemory, HostError, HostResult};
use super::io_bridge;
use crate::io::future::Outcome;
use crate::io::handles::{self, FUTURE, STREAM_WRITER};
use crate::io::pipe;
use crate::io::{ByteStream, Copies, IoFuture, WriteSink};
use crate::resources::ResourceTable;
use std::time::Duration;
use wasmtime::{Caller, Linker};

/// The view `warren:stream` needs.
pub(crate) struct StreamView<'a> {
    /// The process's handles.
    pub table: &'a mut ResourceTable,
    /// Memory and last error.
    pub call: &'a mut CallState,
    /// The process's host copies.
    pub copies: &'a mut Copies,
}

/// A future's outcome for the guest: its value at `out` (if not 0) and 0, or its failure.
fn report(mem: &mut GuestMemory<'_>, out: u32, outcome: Outcome) -> HostResult<i32> {
    let v = outcome?;
    if out != 0 {
        mem.write_u64(out, v)?;
    }
    Ok(0)
}

impl StreamView<'_> {
    /// `pipe`: a new pipe; (writer, reader) at `out`.
    pub(crate) fn pipe(&mut self, mem: &mut GuestMemory<'_>, out: u32) -> HostResult<i32> {
        mem.range(out, 8)?;
        let (w, r) = pipe::pipe();
        let (stream, _end) = ByteStream::new(r, "a pipe");
        let (w, r) = io_bridge::install_pair(
            self.table,
            handles::stream_writer(w),
            handles::byte_stream(stream),
        )?;
        mem.write_pair(out, w, r)?;
        Ok(0)
    }

    /// `close_writer`: end the pipe (or response body) now.
    pub(crate) fn close_writer(&mut self, h: u32) -> HostResult<i32> {
        let r = self.table.get(h)?;
        match r.interface::<dyn WriteSink>() {
            Some(w) if r.kind() == STREAM_WRITER => {
                w.finish()
                    .map_err(|e| HostError::io(format!("closing stream-writer {h}"), &e))?;
                Ok(0)
            }
            _ => Err(crate::resources::HandleError::WrongKind {
                handle: h,
                expected: "a stream-writer",
                found: r.kind(),
            }
            .into()),
        }
    }

    /// `copy`: a host pump from `src` into `dst`; its future.
    pub(crate) fn copy(&mut self, src: u32, dst: u32) -> HostResult<i64> {
        let sink = handles::writable(self.table, dst)?;
        let what = format!("copying handle {src} to handle {dst}");
        io_bridge::start_copy(self.table, self.copies, src, sink, what)
    }

    /// `cancel`: stop the work behind a future; 0 if this stopped it, 1 if it had ended.
    pub(crate) fn cancel(&mut self, h: u32) -> HostResult<i32> {
        let f = self.table.get_as::<IoFuture>(h, FUTURE)?;
        Ok(i32::from(!f.cancel()))
    }

    /// `future_poll`: like `future_wait` without waiting.
    pub(crate) fn future_poll(
        &mut self,
        mem: &mut GuestMemory<'_>,
        h: u32,
        out: u32,
    ) -> HostResult<i32> {
        if out != 0 {
            mem.range(out, 8)?;
        }
        let f = self.table.get_as::<IoFuture>(h, FUTURE)?;
        match f.poll() {
            None => Err(HostError::fail(
                ERR_PENDING,
                format!("future {h} is not resolved yet"),
            )),
            Some(outcome) => report(mem, out, outcome),
        }
    }
}

/// `read`: bytes from a readable handle straight into the guest's buffer.
async fn read<T: 'static>(
    c: &mut Caller<'_, T>,
    get: fn(&mut T) -> StreamView<'_>,
    h: u32,
    buf: (u32, u32),
) -> HostResult<i64> {
    let src = handles::readable(get(c.data_mut()).table, h)?;
    io_bridge::read_into_guest(c, |d| get(d).call, buf, &*src, format!("handle {h}")).await
}

/// `write`: bytes from the guest's buffer straight to a writable handle.
async fn write<T: 'static>(
    c: &mut Caller<'_, T>,
    get: fn(&mut T) -> StreamView<'_>,
    h: u32,
    buf: (u32, u32),
) -> HostResult<i64> {
    let sink = handles::writable(get(c.data_mut()).table, h)?;
    io_bridge::write_from_guest(c, |d| get(d).call, buf, &*sink, format!("handle {h}")).await
}

/// `future_wait`: wait for a future, at most `timeout_ms` (negative: forever).
async fn future_wait<T: 'static>(
    c: &mut Caller<'_, T>,
    get: fn(&mut T) -> StreamView<'_>,
    h: u32,
    timeout_ms: i64,
    out: u32,
) -> HostResult<i32> {
    let (mem, data) = call::split(c, |d| get(d).call)?;
    if out != 0 {
        mem.range(out, 8)?;
    }
    let f = get(data).table.get_as::<IoFuture>(h, FUTURE)?;
    let outcome = match u64::try_from(timeout_ms) {
        Err(_) => f.wait().await,
        Ok(ms) => match tokio::time::timeout(Duration::from_millis(ms), f.wait()).await {
            Ok(o) => o,
            Err(_) => {
                return Err(HostError::fail(
                    ERR_TIMEOUT,
                    format!("future {h} did not resolve in {ms} ms"),
                ));
            }
        },
    };
    let (mut mem, _) = call::split(c, |d| get(d).call)?;
    report(&mut mem, out, outcome)
}

/// Add `warren:stream` to `linker`; `get` projects the store data onto its view.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> StreamView<'_>,
) -> anyhow::Result<()> {
    crate::host_calls!(linker: T, STREAM_MODULE, get, {
        // read(h, ptr, cap) -> i64: bytes read into [ptr, ptr+cap) (0 at the end), waiting
        // until some are available. h: anything readable (tcp-stream, file at its cursor,
        // byte-stream, or an embedder's resource declaring `dyn ReadSource`).
        async fn read(h: u32, ptr: u32, cap: u32) => |c| read(c, get, h, (ptr, cap));

        // write(h, ptr, len) -> i64: bytes written from [ptr, ptr+len) (at least 1 unless len
        // is 0), waiting for room. h: anything writable (tcp-stream, file at its cursor,
        // stream-writer, or a resource declaring `dyn WriteSink`).
        async fn write(h: u32, ptr: u32, len: u32) => |c| write(c, get, h, (ptr, len));

        // pipe(out) -> i32: a new pipe; writes (writer: stream-writer, reader: byte-stream)
        // as two u32 at `out`.
        fn pipe(out: u32) => |v, mem| v.pipe(mem, out);

        // close_writer(h) -> i32: end the pipe now (the reader sees the end after the
        // buffered bytes), even if other references to the writer remain.
        fn close_writer(h: u32) => |v| v.close_writer(h);

        // copy(src, dst) -> i64: a future handle. A host pump copies src (readable) into dst
        // (writable) until src ends, then finishes dst (shuts down a socket's sending side,
        // closes a pipe writer); the future resolves with the bytes copied. ERR_BAD_ARGUMENT
        // if dst writes into what src reads; ERR_LIMIT if the caller (or the runtime) runs as
        // many copies as it may.
        fn copy(src: u32, dst: u32) => |v| v.copy(src, dst);

        // future_wait(h, timeout_ms, out) -> i32: wait for the future (timeout_ms < 0:
        // forever); 0 and its value (u64) at `out` if out != 0, its failure's code, or
        // ERR_TIMEOUT.
        async fn future_wait(h: u32, timeout_ms: i64, out: u32)
            => |c| future_wait(c, get, h, timeout_ms, out);

        // cancel(h) -> i32: stop the work behind a future (a host copy): 0 if this stopped it
        // (the future then resolves with ERR_CLOSED), 1 if it had already ended.
        fn cancel(h: u32) => |v| v.cancel(h);

        // future_poll(h, out) -> i32: like future_wait without waiting: ERR_PENDING if
        // unresolved.
        fn future_poll(h: u32, out: u32) => |v, mem| v.future_poll(mem, h, out);
    });
    Ok(())
}
