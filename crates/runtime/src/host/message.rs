//! `warren:message`: send a message to a pid, receive (selectively, with a timeout), and
//! allocate references for selective receives.
//!
//! Receiving copies the message straight into the buffer the guest passed, inside the call.
//! A message larger than the buffer is kept as the process's *pending* message and its length
//! returned; the guest then allocates and fetches it with `take`. The mailbox model is in
//! [`crate::actor::Mailbox`].

use super::abi::*;
use super::guest_memory::{self, GuestFault};
use super::io_bridge::bad_handle;
use super::process::ProcessCtx;
use crate::actor::{Message, Received};
use crate::resources::ResourceTable;
use std::time::Duration;
use wasmtime::{AsContextMut, Caller, Linker};

/// The view `warren:message` needs: the same per-process actor state as `warren:process`,
/// and the resource table that handles move out of and into with messages.
pub struct MessageView<'a> {
    pub ctx: &'a mut ProcessCtx,
    pub resources: &'a mut ResourceTable,
}

pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> MessageView<'_>,
) -> anyhow::Result<()> {
    let m = MESSAGE_MODULE;

    // send(pid, tag, ptr, len) -> i32: 0 if delivered, ERR_NO_PROCESS if no such process is
    // alive (the message is dropped, as in Erlang), ERR_BAD_ARGUMENT for the reserved tag
    // EXIT_TAG. A message with a non-zero tag is delivered only if the receiver still holds
    // that reference (a reply it waits for); otherwise it is dropped and 0 returned, as a
    // late reply is.
    linker.func_wrap(
        m,
        "send",
        move |mut c: Caller<'_, T>, pid: i64, tag: i64, ptr: u32, len: u32| {
            const CALL: &str = "warren:message.send";
            let mem = guest_memory::memory(&mut c, |d| &mut get(d).ctx.memory, CALL)?;
            let data = guest_memory::read(&c, mem, ptr, len, CALL)?;
            let view = get(c.data_mut());
            // Attached handles go with this message, delivered or not (a message to a dead
            // process is dropped with its resources).
            let resources = view.resources.take_outbox();
            let ctx = view.ctx;
            let tag = tag as u64;
            if tag == EXIT_TAG {
                return Ok(ERR_BAD_ARGUMENT);
            }
            let Ok(to) = u64::try_from(pid) else {
                return Ok(ERR_NO_PROCESS);
            };
            let peer = match &ctx.last_peer {
                Some(p) if p.pid() == to && p.is_alive() => p.clone(),
                _ => match ctx.table.get(to) {
                    Some(p) => {
                        ctx.last_peer = Some(p.clone());
                        p
                    }
                    None => {
                        ctx.last_peer = None;
                        return Ok(ERR_NO_PROCESS);
                    }
                },
            };
            if tag != 0 && !peer.holds(tag) {
                // Not (or no longer) awaited: dropped, with its resources, like a late reply.
                return Ok(if peer.is_alive() { 0 } else { ERR_NO_PROCESS });
            }
            let delivered = ctx.table.deliver(
                &peer,
                Message {
                    tag,
                    data,
                    resources,
                },
            );
            wasmtime::Result::Ok(if delivered { 0 } else { ERR_NO_PROCESS })
        },
    )?;

    // receive(tag, ptr, cap, timeout_ms, tag_out) -> i64: wait for the first message with
    // `tag` (0: ordinary messages; -1: ordinary messages and exit signals) for `timeout_ms`
    // (negative: forever). Returns the message's length; if it is <= cap the message was
    // copied to `ptr`, otherwise it is pending for `take`. If `tag_out` is not 0, the
    // message's tag is written there (u64 little-endian). ERR_TIMEOUT if none came in time.
    linker.func_wrap_async(
        m,
        "receive",
        move |mut c: Caller<'_, T>,
              (tag, ptr, cap, timeout_ms, tag_out): (i64, u32, u32, i64, u32)| {
            Box::new(async move {
                const CALL: &str = "warren:message.receive";
                // Validate the buffers before waiting, so a bad call fails without consuming
                // a message.
                let mem = guest_memory::memory(&mut c, |d| &mut get(d).ctx.memory, CALL)?;
                guest_memory::range(mem.data_size(&c), ptr, cap, CALL)?;
                if tag_out != 0 {
                    guest_memory::range(mem.data_size(&c), tag_out, 8, CALL)?;
                }
                // Which tags this receive takes: exactly `tag`, or ordinary messages and exit
                // signals together.
                let with_exits = tag == RECEIVE_MESSAGES_AND_EXITS;
                if tag < 0 && !with_exits {
                    return Err(GuestFault::trap(CALL, format!("invalid tag filter {tag}")));
                }
                let tag = tag as u64;
                let wanted = move |t: u64| t == tag || (with_exits && (t == 0 || t == EXIT_TAG));
                let view = get(c.data_mut());
                // The handles of the previous message that were not claimed are dropped now.
                view.resources.set_inbox(Vec::new());
                let ctx = view.ctx;
                if ctx.pending.is_some() {
                    return Err(GuestFault::trap(
                        CALL,
                        "a pending message was not taken first",
                    ));
                }
                let me = ctx.me.clone();
                let mut message = match me.mailbox.try_take_where(wanted) {
                    Some(msg) => msg,
                    None => {
                        // A timeout too far away to represent waits forever.
                        let deadline = u64::try_from(timeout_ms).ok().and_then(|ms| {
                            tokio::time::Instant::now().checked_add(Duration::from_millis(ms))
                        });
                        // A kill while waiting drops this call (see `crate::process`).
                        let waited = match me.mailbox.take_where(wanted, deadline).await {
                            Received::Message(msg) => msg,
                            Received::TimedOut => return Ok(ERR_TIMEOUT as i64),
                        };
                        // Time spent waiting is not computing: give the process a fresh
                        // time slice, or its first loop back-edge would yield again.
                        c.as_context_mut().set_epoch_deadline(1);
                        waited
                    }
                };
                if tag_out != 0 {
                    guest_memory::write(&mut c, mem, tag_out, &message.tag.to_le_bytes(), CALL)?;
                }
                let len = message.data.len();
                let view = get(c.data_mut());
                view.resources
                    .set_inbox(std::mem::take(&mut message.resources));
                if len <= cap as usize {
                    guest_memory::write(&mut c, mem, ptr, &message.data, CALL)?;
                } else {
                    get(c.data_mut()).ctx.pending = Some(message);
                }
                Ok(len as i64)
            })
        },
    )?;

    // take(ptr, len) -> i32: copy the pending message (exactly `len` bytes) and clear it.
    // ERR_BAD_ARGUMENT if nothing is pending or `len` differs.
    linker.func_wrap(
        m,
        "take",
        move |mut c: Caller<'_, T>, ptr: u32, len: u32| {
            let ctx = get(c.data_mut()).ctx;
            let msg = match ctx.pending.take() {
                Some(msg) if msg.data.len() == len as usize => msg,
                other => {
                    ctx.pending = other;
                    return Ok(ERR_BAD_ARGUMENT);
                }
            };
            const CALL: &str = "warren:message.take";
            let mem = guest_memory::memory(&mut c, |d| &mut get(d).ctx.memory, CALL)?;
            guest_memory::write(&mut c, mem, ptr, &msg.data, CALL)?;
            wasmtime::Result::Ok(0)
        },
    )?;

    // attach(handles_ptr, count) -> i32: move `count` handles (u32 each) out of the caller's
    // table into the next message it sends (send, spawn captures, send_after). All or none:
    // ERR_BAD_HANDLE if one is not open or is listed twice, and nothing moves.
    linker.func_wrap(
        m,
        "attach",
        move |mut c: Caller<'_, T>, ptr: u32, count: u32| {
            const CALL: &str = "warren:message.attach";
            if count > MAX_ATTACHED {
                return Err(GuestFault::trap(
                    CALL,
                    format!("{count} handles in one message (at most {MAX_ATTACHED})"),
                ));
            }
            let mem = guest_memory::memory(&mut c, |d| &mut get(d).ctx.memory, CALL)?;
            let raw = guest_memory::read(&c, mem, ptr, count * 4, CALL)?;
            let handles: Vec<u32> = raw
                .chunks_exact(4)
                .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
                .collect();
            let table = get(c.data_mut()).resources;
            wasmtime::Result::Ok(match table.detach(&handles) {
                Ok(()) => 0,
                Err(e) => bad_handle(table, CALL, e) as i32,
            })
        },
    )?;

    // claim(index) -> i64: install resource `index` of the last received message (or of the
    // spawn captures) in the caller's table; its new handle. ERR_BAD_HANDLE if the message
    // carries no such resource or it was claimed already.
    linker.func_wrap(m, "claim", move |mut c: Caller<'_, T>, index: u32| -> i64 {
        let table = get(c.data_mut()).resources;
        match table.claim(index) {
            Ok(h) => h as i64,
            Err(e) => bad_handle(table, "warren:message.claim", e),
        }
    })?;

    // new_tag() -> i64: a reference unique within the runtime and unpredictable, for a
    // selective receive; the caller holds it (others may send to it with this tag) until it
    // monitors with it and the DOWN comes, demonitors, or exits. Holding more references
    // than the quota allows ends the caller with `limit: references`.
    linker.func_wrap(m, "new_tag", move |mut c: Caller<'_, T>| {
        let ctx = get(c.data_mut()).ctx;
        match ctx.table.new_ref(&ctx.me) {
            Ok(tag) => Ok(tag as i64),
            Err(e) => Err(wasmtime::Error::new(e)),
        }
    })?;
    Ok(())
}
