//! `warren:select`: wait for the first of several sources — the mailbox, a readable or
//! writable handle, an acceptable listener, a resolved future — or a timeout.
//!
//! A process is single-threaded, so `select` is how one process waits on several things at
//! once (an Erlang `receive` that also watches sockets). It only reports readiness; the
//! process then makes the call (`receive`, `read`, `accept`, `future_poll`), which will not
//! block for long. Readable readiness is exact (the kernel is asked with a peek), so a
//! `read` after `select` said "readable" returns at once. Writable readiness is tokio's:
//! it can be stale after a write that filled the socket buffer, so a `write` may still wait.

use super::abi::*;
use super::guest_memory::{self, GuestFault};
use super::io_bridge::{self, bad_handle};
use super::net::listener_of;
use super::stream::FUTURE;
use crate::actor::ProcessRef;
use crate::io::udp::UdpObj;
use crate::io::{IoFuture, ReadSource, WriteSink};
use crate::resources::ResourceTable;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use wasmtime::{AsContextMut, Caller, Linker, Memory};

/// The view `warren:select` needs.
pub struct SelectView<'a> {
    pub table: &'a mut ResourceTable,
    pub memory: &'a mut Option<Memory>,
    pub me: &'a Arc<ProcessRef>,
}

enum Source {
    Mailbox(Arc<ProcessRef>, i64),
    Read(Arc<dyn ReadSource>),
    Accept(Arc<crate::io::tcp::TcpListenerObj>),
    Udp(Arc<UdpObj>),
    Write(Arc<dyn WriteSink>),
    Future(Arc<IoFuture>),
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
            Source::Accept(l) => {
                let _ = l.ready().await;
            }
            Source::Udp(u) => {
                // As for TCP, a cached readiness may be stale: ask the kernel.
                let _ = u.socket.peek_sender().await;
            }
            Source::Write(s) => {
                let _ = s.ready().await;
            }
            Source::Future(f) => {
                let _ = f.wait().await;
            }
        }
    }
}

pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> SelectView<'_>,
) -> anyhow::Result<()> {
    // wait(entries, count, timeout_ms) -> i32: the index of the first ready entry (the
    // lowest if several are), or ERR_TIMEOUT (timeout_ms < 0: no timeout). Each entry is 16
    // bytes: kind u32, handle u32, value i64. Kinds: 1 mailbox (value: the receive tag
    // filter, 0 or -1 as in receive), 2 readable (a readable handle, a listener or
    // incoming: a connection to accept, a udp-socket: a datagram), 3 writable, 4 future.
    linker.func_wrap_async(
        SELECT_MODULE,
        "wait",
        move |mut c: Caller<'_, T>, (ptr, count, timeout_ms): (u32, u32, i64)| {
            Box::new(async move {
                const CALL: &str = "warren:select.wait";
                if count == 0 || count > MAX_SELECT {
                    return Err(GuestFault::trap(
                        CALL,
                        format!("{count} entries (expected 1 to {MAX_SELECT})"),
                    ));
                }
                let mem = guest_memory::memory(&mut c, |d| get(d).memory, CALL)?;
                let raw = guest_memory::read(&c, mem, ptr, count * SELECT_ENTRY, CALL)?;
                let v = get(c.data_mut());
                let mut sources = Vec::with_capacity(count as usize);
                for e in raw.chunks_exact(SELECT_ENTRY as usize) {
                    let kind = u32::from_le_bytes(e[..4].try_into().expect("4 bytes"));
                    let h = u32::from_le_bytes(e[4..8].try_into().expect("4 bytes"));
                    let value = i64::from_le_bytes(e[8..].try_into().expect("8 bytes"));
                    let source = match kind {
                        SELECT_MAILBOX => {
                            if value < RECEIVE_MESSAGES_AND_EXITS {
                                return Err(GuestFault::trap(
                                    CALL,
                                    format!("invalid tag filter {value}"),
                                ));
                            }
                            Ok(Source::Mailbox(v.me.clone(), value))
                        }
                        SELECT_READABLE => match v.table.get(h) {
                            Ok(r) if r.downcast::<UdpObj>().is_some() => {
                                Ok(Source::Udp(r.downcast::<UdpObj>().expect("checked")))
                            }
                            _ => match listener_of(v.table, h) {
                                Ok(l) => Ok(Source::Accept(l)),
                                Err(_) => io_bridge::readable(v.table, h).map(Source::Read),
                            },
                        },
                        SELECT_WRITABLE => io_bridge::writable(v.table, h).map(Source::Write),
                        SELECT_FUTURE => v.table.get_as::<IoFuture>(h, FUTURE).map(Source::Future),
                        _ => {
                            return Err(GuestFault::trap(
                                CALL,
                                format!("unknown entry kind {kind}"),
                            ));
                        }
                    };
                    match source {
                        Ok(s) => sources.push(s),
                        Err(e) => return Ok(bad_handle(v.table, CALL, e) as i32),
                    }
                }
                let mut waits: Vec<Pin<Box<dyn Future<Output = ()> + Send + '_>>> =
                    sources.iter().map(|s| Box::pin(s.ready()) as _).collect();
                let first = std::future::poll_fn(|cx| {
                    for (i, w) in waits.iter_mut().enumerate() {
                        if w.as_mut().poll(cx).is_ready() {
                            return Poll::Ready(i);
                        }
                    }
                    Poll::Pending
                });
                let r = match u64::try_from(timeout_ms) {
                    Err(_) => first.await as i32,
                    Ok(ms) => tokio::time::timeout(Duration::from_millis(ms), first)
                        .await
                        .map_or(ERR_TIMEOUT, |i| i as i32),
                };
                drop(waits);
                c.as_context_mut().set_epoch_deadline(1);
                Ok(r)
            })
        },
    )?;
    Ok(())
}
