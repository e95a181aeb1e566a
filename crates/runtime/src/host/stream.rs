//! `warren:stream`: read and write any readable or writable handle with borrowed guest
//! buffers, pipes between processes, futures, and host splices (`copy`).
//!
//! `read`/`write` are the blocking-style calls: the process is suspended until bytes move,
//! and they move straight between the OS (or the pipe) and the guest's slice. `copy` hands
//! the work to a host pump and returns a future at once; the pump keeps running after the
//! caller exits. A `byte-stream` given as the source of `copy` moves into the pump (its
//! handle is gone from the caller's table); a socket or file source stays usable.

use super::abi::*;
use super::guest_memory;
use super::io_bridge::{self, bad_handle, failed, install, io_failed};
use crate::io::pipe::{self, PipeWriter};
use crate::io::{ByteStream, IoFuture, Pumps, ReadSource};
use crate::resources::{Resource, ResourceTable};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::{Caller, Linker, Memory};

/// The view `warren:stream` needs.
pub struct StreamView<'a> {
    pub table: &'a mut ResourceTable,
    pub memory: &'a mut Option<Memory>,
    pub pumps: &'a Arc<Pumps>,
}

/// Kind names of the resources this module makes.
pub const BYTE_STREAM: &str = "byte-stream";
pub const STREAM_WRITER: &str = "stream-writer";
pub const FUTURE: &str = "future";

/// Start a pump from `src` to `dst` (handles of the caller) and install its future.
/// Shared by `copy`, `warren:net.tcp_send` and `warren:fs.write_via_stream`.
pub fn start_copy(
    table: &mut ResourceTable,
    pumps: &Arc<Pumps>,
    call: &'static str,
    src: u32,
    dst: Arc<dyn crate::io::WriteSink>,
    what: String,
) -> i64 {
    let source = match io_bridge::readable(table, src) {
        Ok(s) => s,
        Err(e) => return bad_handle(table, call, e),
    };
    let handle = tokio::runtime::Handle::current();
    match pumps.copy(&handle, &mut table.pumps, source, dst, what) {
        Ok(future) => {
            // A byte-stream moves into the pump; sockets and files stay with the caller.
            if table.get(src).is_ok_and(|r| r.kind() == BYTE_STREAM) {
                let _ = table.remove(src);
            }
            install(table, call, Resource::new(FUTURE, future))
        }
        Err(f) => failed(table, call, f),
    }
}

/// Write a future's value at `out` (if not 0) and return 0, or record its failure.
fn report<T>(
    c: &mut Caller<'_, T>,
    get: fn(&mut T) -> StreamView<'_>,
    mem: Memory,
    out: u32,
    outcome: crate::io::future::Outcome,
    call: &'static str,
) -> wasmtime::Result<i32> {
    match outcome {
        Ok(v) => {
            if out != 0 {
                guest_memory::write(c, mem, out, &v.to_le_bytes(), call)?;
            }
            Ok(0)
        }
        Err(f) => Ok(failed(get(c.data_mut()).table, call, f) as i32),
    }
}

pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> StreamView<'_>,
) -> anyhow::Result<()> {
    let m = STREAM_MODULE;

    // read(h, ptr, cap) -> i64: bytes read into [ptr, ptr+cap) (0 at the end), waiting until
    // some are available. h: tcp-stream, file (at its cursor) or byte-stream.
    linker.func_wrap_async(
        m,
        "read",
        move |mut c: Caller<'_, T>, (h, ptr, cap): (u32, u32, u32)| {
            Box::new(async move {
                const CALL: &str = "warren:stream.read";
                let mem = guest_memory::memory(&mut c, |d| get(d).memory, CALL)?;
                let src = match io_bridge::readable(get(c.data_mut()).table, h) {
                    Ok(s) => s,
                    Err(e) => return Ok(bad_handle(get(c.data_mut()).table, CALL, e)),
                };
                let r = io_bridge::read_into_guest(&mut c, mem, ptr, cap, &*src, CALL).await?;
                Ok(match r {
                    Ok(n) => n as i64,
                    Err(e) => io_failed(get(c.data_mut()).table, CALL, format!("handle {h}"), &e),
                })
            })
        },
    )?;

    // write(h, ptr, len) -> i64: bytes written from [ptr, ptr+len) (at least 1 unless len is
    // 0), waiting for room. h: tcp-stream, file (at its cursor) or stream-writer.
    linker.func_wrap_async(
        m,
        "write",
        move |mut c: Caller<'_, T>, (h, ptr, len): (u32, u32, u32)| {
            Box::new(async move {
                const CALL: &str = "warren:stream.write";
                let mem = guest_memory::memory(&mut c, |d| get(d).memory, CALL)?;
                let sink = match io_bridge::writable(get(c.data_mut()).table, h) {
                    Ok(s) => s,
                    Err(e) => return Ok(bad_handle(get(c.data_mut()).table, CALL, e)),
                };
                let r = io_bridge::write_from_guest(&mut c, mem, ptr, len, &*sink, CALL).await?;
                Ok(match r {
                    Ok(n) => n as i64,
                    Err(e) => io_failed(get(c.data_mut()).table, CALL, format!("handle {h}"), &e),
                })
            })
        },
    )?;

    // pipe(out) -> i32: a new pipe; writes (writer: stream-writer, reader: byte-stream) as
    // two u32 at `out`.
    linker.func_wrap(m, "pipe", move |mut c: Caller<'_, T>, out: u32| {
        const CALL: &str = "warren:stream.pipe";
        let mem = guest_memory::memory(&mut c, |d| get(d).memory, CALL)?;
        guest_memory::range(mem.data_size(&c), out, 8, CALL)?;
        let (w, r) = pipe::pipe();
        let (stream, _end) = ByteStream::new(r, "a pipe");
        let table = get(c.data_mut()).table;
        let w = install(table, CALL, Resource::new(STREAM_WRITER, Arc::new(w)));
        if w < 0 {
            return Ok(w as i32);
        }
        let r = install(table, CALL, Resource::new(BYTE_STREAM, Arc::new(stream)));
        if r < 0 {
            let _ = table.remove(w as u32);
            return Ok(r as i32);
        }
        io_bridge::write_pair(&mut c, mem, out, w as u32, r as u32, CALL)?;
        wasmtime::Result::Ok(0)
    })?;

    // close_writer(h) -> i32: end the pipe now (the reader sees the end after the buffered
    // bytes), even if other references to the writer remain.
    linker.func_wrap(m, "close_writer", move |mut c: Caller<'_, T>, h: u32| {
        const CALL: &str = "warren:stream.close_writer";
        let table = get(c.data_mut()).table;
        match table.get_as::<PipeWriter>(h, STREAM_WRITER) {
            Ok(w) => {
                w.close();
                Ok(0)
            }
            Err(e) => Ok(bad_handle(table, CALL, e) as i32),
        }
    })?;

    // copy(src, dst) -> i64: a future handle. A host pump copies src (readable) into dst
    // (writable) until src ends, then finishes dst (shuts down a socket's sending side,
    // closes a pipe writer); the future resolves with the bytes copied.
    linker.func_wrap(
        m,
        "copy",
        move |mut c: Caller<'_, T>, src: u32, dst: u32| {
            const CALL: &str = "warren:stream.copy";
            let v = get(c.data_mut());
            let sink = match io_bridge::writable(v.table, dst) {
                Ok(s) => s,
                Err(e) => return Ok(bad_handle(v.table, CALL, e)),
            };
            let what = format!("copying handle {src} to handle {dst}");
            wasmtime::Result::Ok(start_copy(v.table, v.pumps, CALL, src, sink, what))
        },
    )?;

    // future_wait(h, timeout_ms, out) -> i32: wait for the future (timeout_ms < 0: forever);
    // 0 and its value (u64) at `out` if out != 0, its failure's code, or ERR_TIMEOUT.
    linker.func_wrap_async(
        m,
        "future_wait",
        move |mut c: Caller<'_, T>, (h, timeout_ms, out): (u32, i64, u32)| {
            Box::new(async move {
                const CALL: &str = "warren:stream.future_wait";
                let mem = guest_memory::memory(&mut c, |d| get(d).memory, CALL)?;
                if out != 0 {
                    guest_memory::range(mem.data_size(&c), out, 8, CALL)?;
                }
                let table = get(c.data_mut()).table;
                let f = match table.get_as::<IoFuture>(h, FUTURE) {
                    Ok(f) => f,
                    Err(e) => return Ok(bad_handle(table, CALL, e) as i32),
                };
                let outcome = match u64::try_from(timeout_ms) {
                    Err(_) => f.wait().await,
                    Ok(ms) => {
                        match tokio::time::timeout(Duration::from_millis(ms), f.wait()).await {
                            Ok(o) => o,
                            Err(_) => return Ok(ERR_TIMEOUT),
                        }
                    }
                };
                report(&mut c, get, mem, out, outcome, CALL)
            })
        },
    )?;

    // cancel(h) -> i32: stop the work behind a future (a host copy): 0 if this stopped it
    // (the future then resolves with ERR_CLOSED), 1 if it had already ended.
    linker.func_wrap(m, "cancel", move |mut c: Caller<'_, T>, h: u32| {
        const CALL: &str = "warren:stream.cancel";
        let table = get(c.data_mut()).table;
        wasmtime::Result::Ok(match table.get_as::<IoFuture>(h, FUTURE) {
            Ok(f) => i32::from(!f.cancel()),
            Err(e) => bad_handle(table, CALL, e) as i32,
        })
    })?;

    // future_poll(h, out) -> i32: like future_wait without waiting: ERR_PENDING if unresolved.
    linker.func_wrap(
        m,
        "future_poll",
        move |mut c: Caller<'_, T>, h: u32, out: u32| {
            const CALL: &str = "warren:stream.future_poll";
            let mem = guest_memory::memory(&mut c, |d| get(d).memory, CALL)?;
            if out != 0 {
                guest_memory::range(mem.data_size(&c), out, 8, CALL)?;
            }
            let table = get(c.data_mut()).table;
            let f = match table.get_as::<IoFuture>(h, FUTURE) {
                Ok(f) => f,
                Err(e) => return Ok(bad_handle(table, CALL, e) as i32),
            };
            match f.poll() {
                None => Ok(ERR_PENDING),
                Some(outcome) => report(&mut c, get, mem, out, outcome, CALL),
            }
        },
    )?;
    Ok(())
}

/// A stream over `source` plus its end future, installed as two handles written at `out`.
/// Shared by `warren:net.tcp_receive` and `warren:fs.read_via_stream`.
pub fn install_stream<T>(
    c: &mut Caller<'_, T>,
    table: impl Fn(&mut T) -> &mut ResourceTable,
    mem: Memory,
    out: u32,
    source: impl ReadSource + 'static,
    what: String,
    call: &'static str,
) -> wasmtime::Result<i32> {
    guest_memory::range(mem.data_size(&*c), out, 8, call)?;
    let (stream, end) = ByteStream::new(source, what);
    let t = table(c.data_mut());
    let s = install(t, call, Resource::new(BYTE_STREAM, Arc::new(stream)));
    if s < 0 {
        return Ok(s as i32);
    }
    let f = install(t, call, Resource::new(FUTURE, end));
    if f < 0 {
        let _ = t.remove(s as u32);
        return Ok(f as i32);
    }
    io_bridge::write_pair(c, mem, out, s as u32, f as u32, call)?;
    Ok(0)
}
