//! What the I/O host modules share: moving bytes between a readable or writable object and
//! guest memory inside the call, and installing new handles.
//!
//! The read and write loops are the zero-copy path of design rule 1: try the non-blocking
//! syscall on the guest's own slice; if it would block, wait for readiness with the process
//! suspended (its memory cannot change), then try again on a fresh view of the slice. The
//! fresh time slice after a wait is given by the call wrapper ([`super::call::finish`]).

use super::call::{self, CallState, HostResult};
use crate::io::handles;
use crate::io::{ByteStream, Copies, ReadSource, WriteSink};
use crate::resources::{Handle, Resource, ResourceTable};
use std::io;
use std::sync::Arc;
use wasmtime::Caller;

/// Make a non-blocking `attempt` on guest memory until it does not say WouldBlock, waiting
/// for `ready` in between (with the process suspended, so its buffer cannot change).
pub(crate) async fn retry_in_guest<'c, T, R, F>(
    c: &mut Caller<'c, T>,
    mut attempt: impl FnMut(&mut Caller<'c, T>) -> io::Result<R>,
    ready: impl Fn() -> F,
) -> io::Result<R>
where
    F: std::future::Future<Output = io::Result<()>>,
{
    loop {
        match attempt(c) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => ready().await?,
            r => return r,
        }
    }
}

/// Read from `src` straight into guest memory `[ptr, ptr + cap)`, waiting (suspended) until
/// some bytes, the end (0) or an error come. `what` names the source in errors.
pub(crate) async fn read_into_guest<T: 'static>(
    c: &mut Caller<'_, T>,
    state: impl Fn(&mut T) -> &mut CallState,
    (ptr, cap): (u32, u32),
    src: &dyn ReadSource,
    what: impl std::fmt::Display,
) -> HostResult<i64> {
    let mem = call::memory(c, state)?;
    let range = call::range(mem.data_size(&*c), ptr, cap)?;
    let read = |c: &mut Caller<'_, T>| src.try_read(&mut mem.data_mut(c)[range.clone()]);
    match retry_in_guest(c, read, || src.ready()).await {
        Ok(n) => Ok(n as i64),
        Err(e) => Err(call::HostError::io(what, &e)),
    }
}

/// Write guest memory `[ptr, ptr + len)` straight to `sink`, waiting (suspended) for room;
/// returns how many bytes went (at least one unless `len` is 0).
pub(crate) async fn write_from_guest<T: 'static>(
    c: &mut Caller<'_, T>,
    state: impl Fn(&mut T) -> &mut CallState,
    (ptr, len): (u32, u32),
    sink: &dyn WriteSink,
    what: impl std::fmt::Display,
) -> HostResult<i64> {
    let mem = call::memory(c, state)?;
    let range = call::range(mem.data_size(&*c), ptr, len)?;
    let write = |c: &mut Caller<'_, T>| sink.try_write(&mem.data(&*c)[range.clone()]);
    match retry_in_guest(c, write, || sink.ready()).await {
        Ok(n) => Ok(n as i64),
        Err(e) => Err(call::HostError::io(what, &e)),
    }
}

/// Install two resources, all or nothing; their handles.
pub(crate) fn install_pair(
    table: &mut ResourceTable,
    a: Resource,
    b: Resource,
) -> HostResult<(Handle, Handle)> {
    let a = table.push(a)?;
    match table.push(b) {
        Ok(b) => Ok((a, b)),
        Err(e) => {
            let _ = table.remove(a);
            Err(e.into())
        }
    }
}

/// Start a host copy from handle `src` (readable) into `dst` and install its future; the
/// future's handle. A byte-stream source moves into the pump; sockets and files stay with
/// the caller. Shared by `stream.copy`, `net.tcp_send` and `fs.write_via_stream`.
pub(crate) fn start_copy(
    table: &mut ResourceTable,
    copies: &mut Copies,
    src: Handle,
    dst: Arc<dyn WriteSink>,
    what: String,
) -> HostResult<i64> {
    let source = handles::readable(table, src)?;
    let future = copies.start(source, dst, what)?;
    release_moved_stream(table, src);
    Ok(table.push(handles::future(future))? as i64)
}

/// A readable handle just handed to the host to read on its own (a copy, an HTTP response
/// body): a byte-stream moves there and leaves the caller's table; sockets and files stay.
pub(crate) fn release_moved_stream(table: &mut ResourceTable, h: Handle) {
    if table.get(h).is_ok_and(|r| r.kind() == handles::BYTE_STREAM) {
        let _ = table.remove(h);
    }
}

/// A stream over `source` plus its end future, installed as two handles written at `out`.
/// Shared by `net.tcp_receive` and `fs.read_via_stream`.
pub(crate) fn install_stream(
    table: &mut ResourceTable,
    mem: &mut call::GuestMemory<'_>,
    out: u32,
    source: impl ReadSource + 'static,
    what: String,
) -> HostResult<i32> {
    mem.range(out, 8)?;
    let (stream, end) = ByteStream::new(source, what);
    let (s, f) = install_pair(table, handles::byte_stream(stream), handles::future(end))?;
    mem.write_pair(out, s, f)?;
    Ok(0)
}
