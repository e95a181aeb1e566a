//! What every I/O host module shares: turning handles into readable or writable objects,
//! moving bytes between them and guest memory inside the call, and reporting failures as an
//! error code plus a text for `warren:resource.last_error`.
//!
//! The read and write loops are the zero-copy path of design rule 1: try the non-blocking
//! syscall on the guest's own slice; if it would block, wait for readiness with the process
//! suspended (its memory cannot change), then try again on a fresh view of the slice.

use super::abi::*;
use super::guest_memory::{self, GuestFault};
use crate::io::file::FileObj;
use crate::io::pipe::PipeWriter;
use crate::io::tcp::TcpConn;
use crate::io::{ByteStream, IoFailure, ReadSource, WriteSink};
use crate::resources::{Handle, HandleError, ResourceTable};
use std::io;
use std::sync::Arc;
use wasmtime::{AsContextMut, Caller, Memory};

/// Handles `read` accepts.
pub const READABLE: &str = "a readable handle (tcp-stream, file or byte-stream)";
/// Handles `write` accepts.
pub const WRITABLE: &str = "a writable handle (tcp-stream, file or stream-writer)";

/// The ABI code of a handle error.
pub fn handle_code(e: &HandleError) -> i32 {
    match e {
        HandleError::WrongKind { .. } => ERR_WRONG_HANDLE,
        HandleError::TooMany => ERR_TOO_MANY_HANDLES,
        HandleError::NoSuchHandle(_) | HandleError::Duplicate(_) | HandleError::NotInMessage(_) => {
            ERR_BAD_HANDLE
        }
    }
}

/// Record a failure for `last_error` and return its code.
pub fn failed(table: &mut ResourceTable, call: &str, f: IoFailure) -> i64 {
    table.last_error = format!("{call}: {}", f.message);
    f.code as i64
}

/// Record a handle error and return its code.
pub fn bad_handle(table: &mut ResourceTable, call: &str, e: HandleError) -> i64 {
    table.last_error = format!("{call}: {e}");
    handle_code(&e) as i64
}

/// Record an OS error (with what was being done) and return its code.
pub fn io_failed(
    table: &mut ResourceTable,
    call: &str,
    context: impl std::fmt::Display,
    e: &io::Error,
) -> i64 {
    failed(table, call, IoFailure::io(context, e))
}

/// Install a new resource and return its handle (or the error code).
pub fn install(table: &mut ResourceTable, call: &str, r: crate::resources::Resource) -> i64 {
    match table.push(r) {
        Ok(h) => h as i64,
        Err(e) => bad_handle(table, call, e),
    }
}

/// The object behind a readable handle.
pub fn readable(table: &ResourceTable, h: Handle) -> Result<Arc<dyn ReadSource>, HandleError> {
    let r = table.get(h)?;
    if let Some(x) = r.downcast::<TcpConn>() {
        return Ok(x);
    }
    if let Some(x) = r.downcast::<ByteStream>() {
        return Ok(x);
    }
    if let Some(x) = r.downcast::<FileObj>() {
        return Ok(x);
    }
    Err(HandleError::WrongKind {
        handle: h,
        expected: READABLE,
        found: r.kind(),
    })
}

/// The object behind a writable handle.
pub fn writable(table: &ResourceTable, h: Handle) -> Result<Arc<dyn WriteSink>, HandleError> {
    let r = table.get(h)?;
    if let Some(x) = r.downcast::<TcpConn>() {
        return Ok(x);
    }
    if let Some(x) = r.downcast::<PipeWriter>() {
        return Ok(x);
    }
    if let Some(x) = r.downcast::<FileObj>() {
        return Ok(x);
    }
    Err(HandleError::WrongKind {
        handle: h,
        expected: WRITABLE,
        found: r.kind(),
    })
}

/// Make a non-blocking `attempt` on guest memory until it does not say WouldBlock, waiting
/// for `ready` in between (with the process suspended, so its buffer cannot change). After a
/// wait the process gets a fresh time slice: waiting is not computing.
pub async fn retry_in_guest<'c, T, R, F>(
    c: &mut Caller<'c, T>,
    mut attempt: impl FnMut(&mut Caller<'c, T>) -> io::Result<R>,
    ready: impl Fn() -> F,
) -> io::Result<R>
where
    F: std::future::Future<Output = io::Result<()>>,
{
    let mut waited = false;
    let r = loop {
        match attempt(c) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if let Err(e) = ready().await {
                    break Err(e);
                }
                waited = true;
            }
            r => break r,
        }
    };
    if waited {
        c.as_context_mut().set_epoch_deadline(1);
    }
    r
}

/// Read from `src` straight into guest memory `[ptr, ptr + cap)`, waiting (suspended) until
/// some bytes, the end (0) or an error come. Traps if the buffer is outside memory.
pub async fn read_into_guest<T: Send>(
    c: &mut Caller<'_, T>,
    mem: Memory,
    ptr: u32,
    cap: u32,
    src: &dyn ReadSource,
    call: &'static str,
) -> wasmtime::Result<io::Result<usize>> {
    let range = guest_memory::range(mem.data_size(&*c), ptr, cap, call)?;
    let read = |c: &mut Caller<'_, T>| src.try_read(&mut mem.data_mut(c)[range.clone()]);
    Ok(retry_in_guest(c, read, || src.ready()).await)
}

/// Write guest memory `[ptr, ptr + len)` straight to `sink`, waiting (suspended) for room;
/// returns how many bytes went (at least one unless `len` is 0).
pub async fn write_from_guest<T: Send>(
    c: &mut Caller<'_, T>,
    mem: Memory,
    ptr: u32,
    len: u32,
    sink: &dyn WriteSink,
    call: &'static str,
) -> wasmtime::Result<io::Result<usize>> {
    let range = guest_memory::range(mem.data_size(&*c), ptr, len, call)?;
    let write = |c: &mut Caller<'_, T>| sink.try_write(&mem.data(&*c)[range.clone()]);
    Ok(retry_in_guest(c, write, || sink.ready()).await)
}

/// Read a UTF-8 string argument (an address or a path) of at most `max` bytes. A bad
/// pointer traps; bad UTF-8 or an over-long string is `None` (the call returns
/// ERR_BAD_ARGUMENT).
pub fn read_str<T>(
    c: &Caller<'_, T>,
    mem: Memory,
    ptr: u32,
    len: u32,
    max: u32,
    call: &'static str,
) -> wasmtime::Result<Option<String>> {
    if len > max {
        return Ok(None);
    }
    let bytes = guest_memory::read(c, mem, ptr, len, call)?;
    Ok(String::from_utf8(bytes).ok())
}

/// Read a text argument (an address, a path) for a call: `Ok(Err(code))` if it is not UTF-8
/// text of at most `max` bytes (recorded for `last_error` as ERR_BAD_ARGUMENT, naming
/// `what`); a bad pointer traps.
pub fn text_arg<T>(
    c: &mut Caller<'_, T>,
    memory: impl Fn(&mut T) -> &mut Option<Memory>,
    table: impl Fn(&mut T) -> &mut ResourceTable,
    (ptr, len, max): (u32, u32, u32),
    what: &str,
    call: &'static str,
) -> wasmtime::Result<Result<(Memory, String), i64>> {
    let mem = guest_memory::memory(c, memory, call)?;
    match read_str(c, mem, ptr, len, max, call)? {
        Some(s) => Ok(Ok((mem, s))),
        None => Ok(Err(failed(
            table(c.data_mut()),
            call,
            IoFailure::new(
                ERR_BAD_ARGUMENT,
                format!("the {what} is not UTF-8 text of at most {max} bytes"),
            ),
        ))),
    }
}

/// Write `text` to `[ptr, ptr + cap)` if it fits; returns its length either way (a length
/// above `cap` tells the guest to retry with a larger buffer).
pub fn write_text<T>(
    c: &mut Caller<'_, T>,
    mem: Memory,
    ptr: u32,
    cap: u32,
    text: &[u8],
    call: &'static str,
) -> wasmtime::Result<i64> {
    guest_memory::range(mem.data_size(&*c), ptr, cap, call)?;
    if text.len() <= cap as usize {
        guest_memory::write(c, mem, ptr, text, call)?;
    }
    Ok(text.len() as i64)
}

/// Write two handles (e.g. a stream and its future) as u32 little-endian at `ptr`.
pub fn write_pair<T>(
    c: &mut Caller<'_, T>,
    mem: Memory,
    ptr: u32,
    a: Handle,
    b: Handle,
    call: &'static str,
) -> wasmtime::Result<()> {
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&a.to_le_bytes());
    out[4..].copy_from_slice(&b.to_le_bytes());
    guest_memory::write(c, mem, ptr, &out, call)
}

/// A trap for an argument no correct guest passes.
pub fn trap(call: &'static str, problem: impl Into<String>) -> wasmtime::Error {
    GuestFault::trap(call, problem)
}
