//! `warren:select`: wait for the first of several sources — the mailbox, a readable or
//! writable handle, an acceptable listener, a resolved future, room in another process's
//! mailbox — or a timeout.
//!
//! A process is single-threaded, so `select` is how one process waits on several things at
//! once (an Erlang `receive` that also watches sockets). It only reports readiness; the
//! process then makes the call (`receive`, `read`, `accept`, `future_poll`), which will not
//! block for long. Readable readiness is exact (the kernel is asked with a peek), so a
//! `read` after `select` said "readable" returns at once. Writable readiness is tokio's:
//! it can be stale after a write that filled the socket buffer, so a `write` may still wait.
//!
//! Which handles an entry takes is decided by the interfaces their resources declare (see
//! [`crate::io::handles`]), so an embedder's resources can be selected on too.

use super::abi::*;
use super::call::{self, CallState, HostError, HostResult};
use crate::actor::{Pid, ProcessRef, ProcessTable};
use crate::io::handles::{self, FUTURE};
use crate::io::{IoFuture, ReadReady, ReadSource, WriteSink};
use crate::resources::ResourceTable;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use wasmtime::{Caller, Linker};

/// The view `warren:select` needs.
pub(crate) struct SelectView<'a> {
    /// The process's handles.
    pub table: &'a mut ResourceTable,
    /// Memory and last error.
    pub call: &'a mut CallState,
    /// This process (its mailbox).
    pub me: &'a Arc<ProcessRef>,
    /// The processes (for room in another's mailbox).
    pub processes: &'a Arc<ProcessTable>,
}

enum Source {
    Mailbox(Arc<ProcessRef>, i64),
    Read(Arc<dyn ReadSource>),
    ReadReady(Arc<dyn ReadReady>),
    Write(Arc<dyn WriteSink>),
    Future(Arc<IoFuture>),
    /// Room for `len` bytes to `pid`, in its bounded mailbox or its node's queue.
    Room(Arc<ProcessTable>, Pid, usize),
}

impl Source {
    async fn ready(&self) {
        // An error counts as ready: the call the process makes next reports it.
        match self {
            Source::Mailbox(me, tag) => {
                let tag = *tag;
                me.mailbox
                    .ready(move |t| {
                        if tag == RECEIVE_MESSAGES_AND_EXITS {
                            t == 0 || t == EXIT_TAG
                        } else {
                            t == tag as u64
                        }
                    })
                    .await
            }
            Source::Read(s) => {
                let _ = s.ready_exact().await;
            }
            Source::ReadReady(s) => {
                let _ = s.read_ready().await;
            }
            Source::Write(s) => {
                let _ = s.ready().await;
            }
            Source::Future(f) => {
                let _ = f.wait().await;
            }
            Source::Room(table, pid, len) => table.room(*pid, *len).await,
        }
    }
}

impl SelectView<'_> {
    /// The source of one 16-byte entry.
    fn source(&self, entry: &[u8]) -> HostResult<Source> {
        let kind = u32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]);
        let h = u32::from_le_bytes([entry[4], entry[5], entry[6], entry[7]]);
        let mut value = [0u8; 8];
        value.copy_from_slice(&entry[8..16]);
        let value = i64::from_le_bytes(value);
        Ok(match kind {
            SELECT_MAILBOX => {
                if value < RECEIVE_MESSAGES_AND_EXITS {
                    return Err(HostError::bad_argument(format!(
                        "invalid tag filter {value}"
                    )));
                }
                Source::Mailbox(self.me.clone(), value)
            }
            SELECT_READABLE => {
                let r = self.table.get(h)?;
                if let Some(s) = r.interface::<dyn ReadSource>() {
                    Source::Read(s)
                } else {
                    const EXPECTED: &str = "a readable handle, a listener or a udp-socket";
                    Source::ReadReady(handles::interface::<dyn ReadReady>(
                        self.table, h, EXPECTED,
                    )?)
                }
            }
            SELECT_WRITABLE => Source::Write(handles::writable(self.table, h)?),
            SELECT_FUTURE => Source::Future(self.table.get_as::<IoFuture>(h, FUTURE)?),
            SELECT_ROOM => Source::Room(self.processes.clone(), call::pid_arg(value)?, h as usize),
            _ => return Err(HostError::fault(format!("unknown entry kind {kind}"))),
        })
    }
}

/// `wait`: the index of the first ready entry, or ERR_TIMEOUT.
async fn wait<T: 'static>(
    c: &mut Caller<'_, T>,
    get: fn(&mut T) -> SelectView<'_>,
    (ptr, count): (u32, u32),
    timeout_ms: i64,
) -> HostResult<i32> {
    if count == 0 || count > MAX_SELECT {
        return Err(HostError::fault(format!(
            "{count} entries (expected 1 to {MAX_SELECT})"
        )));
    }
    let (mem, data) = call::split(c, |d| get(d).call)?;
    let view = get(data);
    let sources = mem
        .read(ptr, count * SELECT_ENTRY)?
        .chunks_exact(SELECT_ENTRY as usize)
        .map(|e| view.source(e))
        .collect::<HostResult<Vec<Source>>>()?;
    let mut waits: Vec<Pin<Box<dyn Future<Output = ()> + Send + '_>>> =
        sources.iter().map(|s| Box::pin(s.ready()) as _).collect();
    let first = std::future::poll_fn(|cx| {
        for (i, w) in waits.iter_mut().enumerate() {
            if w.as_mut().poll(cx).is_ready() {
                return Poll::Ready(i as i32);
            }
        }
        Poll::Pending
    });
    match u64::try_from(timeout_ms) {
        Err(_) => Ok(first.await),
        Ok(ms) => tokio::time::timeout(Duration::from_millis(ms), first)
            .await
            .map_err(|_| HostError::fail(ERR_TIMEOUT, format!("nothing was ready in {ms} ms"))),
    }
}

/// Add `warren:select` to `linker`; `get` projects the store data onto its view.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> SelectView<'_>,
) -> anyhow::Result<()> {
    crate::host_calls!(linker: T, SELECT_MODULE, get, {
        // wait(entries, count, timeout_ms) -> i32: the index of the first ready entry (the
        // lowest if several are), or ERR_TIMEOUT (timeout_ms < 0: no timeout). Each entry is
        // 16 bytes: kind u32, handle u32, value i64. Kinds: 1 mailbox (value: the receive tag
        // filter, 0 or -1 as in receive), 2 readable (anything readable, a listener or
        // incoming: a connection to accept, a udp-socket: a datagram), 3 writable, 4 future.
        // A count of 0 or over 1024, or an unknown kind, traps; a bad handle or tag filter is
        // an error code.
        async fn wait(ptr: u32, count: u32, timeout_ms: i64) => |c| wait(c, get, (ptr, count), timeout_ms);
    });
    Ok(())
}
