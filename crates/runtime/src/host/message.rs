//! `warren:message`: send a message to a pid, receive (selectively, with a timeout), and
//! allocate references for selective receives.
//!
//! Receiving copies the message straight into the buffer the guest passed, inside the call.
//! A message larger than the buffer is kept as the process's *pending* message and its length
//! returned; the guest then allocates and fetches it with `take`. The mailbox model is in
//! [`crate::actor::Mailbox`].

use super::abi::*;
use super::call::{self, CallState, GuestMemory, HostError, HostResult};
use crate::actor::{Message, Received, Sent, WhenFull, bound_from_abi, describe_bound};
use crate::context::ProcessCtx;
use crate::resources::ResourceTable;
use std::time::Duration;
use wasmtime::{Caller, Linker};

/// The view `warren:message` needs: the same per-process actor state as `warren:process`,
/// and the resource table that handles move out of and into with messages.
pub(crate) struct MessageView<'a> {
    /// The per-process actor state.
    pub ctx: &'a mut ProcessCtx,
    /// The process's handles.
    pub resources: &'a mut ResourceTable,
    /// Memory and last error.
    pub call: &'a mut CallState,
}

impl MessageView<'_> {
    /// `send`: deliver a copy of the guest's bytes, with the attached handles.
    pub(crate) fn send(
        &mut self,
        mem: &GuestMemory<'_>,
        pid: i64,
        tag: i64,
        ptr: u32,
        len: u32,
    ) -> HostResult<i32> {
        let data = mem.read(ptr, len)?.to_vec();
        let tag = tag as u64;
        let to = match call::pid_arg(pid) {
            Ok(to) if tag != EXIT_TAG => to,
            // A refused message drops its handles, as one to a dead process does.
            Ok(_) => {
                self.resources.take_outbox();
                return Err(HostError::bad_argument(
                    "tag 1 (EXIT_TAG) is reserved for exit signals",
                ));
            }
            Err(e) => {
                self.resources.take_outbox();
                return Err(e);
            }
        };
        if !self.ctx.table.is_local(to) {
            if self.resources.has_outbox() {
                self.resources.restore_outbox();
                return Err(call::not_local(to));
            }
            // Over the cluster's send mark, the sender waits (`await_room`) and sends again.
            if self.ctx.table.remote_room(to, data.len()).is_some() {
                return Err(HostError::fail(
                    ERR_WOULD_BLOCK,
                    format!(
                        "the queue to node {} is over its send mark; nothing was sent: \
                         await_room, then send again",
                        warren_abi::node_of(to)
                    ),
                ));
            }
        }
        // Attached handles go with this message, delivered or not (a message to a dead
        // process, or one it does not await, is dropped with its resources) — unless a full
        // bounded mailbox hands it back: then they are attached again. Whether `to` lives
        // (and holds `tag`) is checked where it lives: `ProcessTable::accept`.
        let handles = self.resources.outbox_handles();
        let message = Message {
            tag,
            data,
            resources: self.resources.take_outbox(),
        };
        let ctx = &mut *self.ctx;
        match ctx.table.send_via(to, message, &mut ctx.last_peer, true) {
            Ok(Sent::Delivered) => Ok(0),
            Ok(Sent::NoProcess) => Err(HostError::fail(ERR_NO_PROCESS, format!("no process {to}"))),
            Ok(Sent::Full { message, bound }) => {
                self.resources.reattach_outbox(handles, message.resources);
                let policy = bound.map(|b| b.when_full);
                let bound = bound.map_or_else(|| "none".to_string(), |b| describe_bound(&b));
                match policy {
                    Some(WhenFull::Fail) => {
                        // Handed back: the handles return to the caller's table.
                        self.resources.restore_outbox();
                        Err(HostError::fail(
                            ERR_FULL,
                            format!(
                                "the mailbox of process {to} is full (its bound: {bound}); nothing was sent"
                            ),
                        ))
                    }
                    _ => Err(HostError::fail(
                        ERR_WOULD_BLOCK,
                        format!(
                            "the mailbox of process {to} is full (its bound: {bound}); nothing \
                             was sent: await_room, then send again"
                        ),
                    )),
                }
            }
            Err(e) => Err(HostError::fail(
                ERR_NO_PROCESS,
                format!("no process {to}: {e}"),
            )),
        }
    }

    /// `queued`: how many messages the caller's mailbox holds.
    pub(crate) fn queued(&mut self) -> HostResult<i64> {
        Ok(self.ctx.me.mailbox.census().0 as i64)
    }

    /// `bound`: bound the mailbox of the caller, or of a child it spawned on this node.
    pub(crate) fn bound(
        &mut self,
        pid: i64,
        messages: i64,
        bytes: i64,
        when_full: u32,
    ) -> HostResult<i32> {
        let me = self.ctx.me.clone();
        let bound = bound_from_abi(messages, bytes, when_full).map_err(HostError::bad_argument)?;
        let target = if pid == 0 || pid as u64 == me.pid() {
            me
        } else {
            let pid = call::pid_arg(pid)?;
            if !self.ctx.table.is_local(pid) {
                // Applied on its node, in order with what this process sends it later, if
                // this process is its parent (its node knows).
                return match self.ctx.table.bound_remote(me.pid(), pid, bound) {
                    Ok(()) => Ok(0),
                    Err(e) => Err(HostError::fail(
                        ERR_NO_CONNECTION,
                        format!("cannot bound the mailbox of process {pid}: {e}"),
                    )),
                };
            }
            let Some(p) = self.ctx.table.get(pid) else {
                return Err(HostError::fail(
                    ERR_NO_PROCESS,
                    format!("no process {pid} on this node"),
                ));
            };
            if p.stats().parent() != me.pid() {
                return Err(HostError::fail(
                    ERR_DENIED,
                    format!(
                        "process {pid} is not a child of process {}: a process bounds its own \
                         mailbox or its children's",
                        me.pid()
                    ),
                ));
            }
            p
        };
        target.mailbox.set_bound(bound);
        Ok(0)
    }

    /// `take`: copy the pending message (exactly its length) and clear it.
    pub(crate) fn take(
        &mut self,
        mem: &mut GuestMemory<'_>,
        ptr: u32,
        len: u32,
    ) -> HostResult<i32> {
        match &self.ctx.pending {
            Some(msg) if msg.data.len() == len as usize => mem.write(ptr, &msg.data)?,
            Some(msg) => {
                return Err(HostError::bad_argument(format!(
                    "the pending message is {} bytes, not {len}",
                    msg.data.len()
                )));
            }
            None => return Err(HostError::bad_argument("no message is pending")),
        }
        self.ctx.pending = None;
        Ok(0)
    }

    /// `attach`: move handles into the next message.
    pub(crate) fn attach(
        &mut self,
        mem: &GuestMemory<'_>,
        ptr: u32,
        count: u32,
    ) -> HostResult<i32> {
        if count > MAX_ATTACHED {
            return Err(HostError::fault(format!(
                "{count} handles in one message (at most {MAX_ATTACHED})"
            )));
        }
        let handles: Vec<u32> = mem
            .read(ptr, count * 4)?
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        self.resources.detach(&handles)?;
        Ok(0)
    }

    /// `claim`: install a resource of the last received message.
    pub(crate) fn claim(&mut self, index: u32) -> HostResult<i64> {
        Ok(self.resources.claim(index)? as i64)
    }

    /// `new_tag`: a fresh reference, held by the caller.
    pub(crate) fn new_tag(&mut self) -> HostResult<i64> {
        Ok(self.ctx.table.new_ref(&self.ctx.me)? as i64)
    }
}

/// While alive, `me` is shown waiting for room in the mailbox of another process, and
/// counted among the blocked senders (undone on drop: also when a kill or a timeout drops
/// the wait).
struct Blocked<'a>(&'a crate::actor::ProcessRef, &'a crate::actor::ProcessTable);

impl<'a> Blocked<'a> {
    fn on(
        me: &'a crate::actor::ProcessRef,
        to: crate::actor::Pid,
        table: &'a crate::actor::ProcessTable,
    ) -> Self {
        me.stats().set_blocked_on(Some(to));
        table.stats().sender_blocked(true);
        Blocked(me, table)
    }
}

impl Drop for Blocked<'_> {
    fn drop(&mut self) {
        self.0.stats().set_blocked_on(None);
        self.1.stats().sender_blocked(false);
    }
}

/// `await_room`: wait until a message of `len` bytes to `pid` may be sent without
/// `ERR_WOULD_BLOCK`: its mailbox has room under its bound (at once without a bound, or for a
/// process that is gone: `send` then says so), or its node's queue is under the send mark (at
/// once for a node not connected). Up to `timeout_ms` (negative: forever).
async fn await_room<T: 'static>(
    c: &mut Caller<'_, T>,
    get: fn(&mut T) -> MessageView<'_>,
    pid: i64,
    len: u32,
    timeout_ms: i64,
) -> HostResult<i32> {
    let to = call::pid_arg(pid)?;
    let view = get(c.data_mut());
    let (table, me) = (view.ctx.table.clone(), view.ctx.me.clone());
    let wait = async {
        // The observer shows it waiting on `to` (two processes waiting on each other's full
        // mailbox are a deadlock it makes visible): a live process here, or one of another
        // node that said its mailbox is full — not that node's send queue, which is no process.
        let on_process = if table.is_local(to) {
            table.get(to).is_some()
        } else {
            table.flow().full(to).is_some()
        };
        let _blocked = on_process.then(|| Blocked::on(&me, to, &table));
        table.room(to, len as usize).await;
    };
    // A kill while waiting drops this call (see `crate::process`).
    let deadline = u64::try_from(timeout_ms)
        .ok()
        .and_then(|ms| tokio::time::Instant::now().checked_add(Duration::from_millis(ms)));
    match deadline {
        None => wait.await,
        Some(d) => {
            if tokio::time::timeout_at(d, wait).await.is_err() {
                return Err(HostError::fail(
                    ERR_TIMEOUT,
                    format!("no room for {len} bytes to process {to} came in time"),
                ));
            }
        }
    }
    Ok(0)
}

/// Which tags a receive with filter `tag` takes: exactly `tag`, or (`-1`) ordinary messages
/// and exit signals.
fn receive_filter(tag: i64) -> HostResult<impl Fn(u64) -> bool + Copy + Send + 'static> {
    let with_exits = tag == RECEIVE_MESSAGES_AND_EXITS;
    if tag < 0 && !with_exits {
        return Err(HostError::bad_argument(format!("invalid tag filter {tag}")));
    }
    let tag = tag as u64;
    Ok(move |t: u64| t == tag || (with_exits && (t == 0 || t == EXIT_TAG)))
}

impl MessageView<'_> {
    /// What every receive checks before it takes a message, so a bad call fails without
    /// consuming one: the buffers lie in memory and no message is pending for `take`. The
    /// handles of the previous message that were not claimed are dropped now.
    fn before_receive(
        &mut self,
        mem: &GuestMemory<'_>,
        ptr: u32,
        cap: u32,
        tag_out: u32,
    ) -> HostResult<()> {
        mem.range(ptr, cap)?;
        if tag_out != 0 {
            mem.range(tag_out, 8)?;
        }
        if self.ctx.pending.is_some() {
            return Err(HostError::fault("a pending message was not taken first"));
        }
        self.resources.set_inbox(Vec::new());
        Ok(())
    }

    /// Hand a received message to the guest: its tag at `tag_out`, its bytes at `ptr` if
    /// they fit `cap` (else it is pending for `take`), its handles to the inbox; its length.
    fn deliver(
        &mut self,
        mem: &mut GuestMemory<'_>,
        mut message: Message,
        ptr: u32,
        cap: u32,
        tag_out: u32,
    ) -> HostResult<i64> {
        if tag_out != 0 {
            mem.write_u64(tag_out, message.tag)?;
        }
        let len = message.data.len();
        self.resources
            .set_inbox(std::mem::take(&mut message.resources));
        if len <= cap as usize {
            mem.write(ptr, &message.data)?;
        } else {
            self.ctx.pending = Some(message);
        }
        Ok(len as i64)
    }

    /// `try_receive`: the first queued message with the wanted tag, without waiting: the
    /// fast path of a receive, a plain call (no fiber switch, no boxed future).
    pub(crate) fn try_receive(
        &mut self,
        mem: &mut GuestMemory<'_>,
        tag: i64,
        ptr: u32,
        cap: u32,
        tag_out: u32,
    ) -> HostResult<i64> {
        let wanted = receive_filter(tag)?;
        self.before_receive(mem, ptr, cap, tag_out)?;
        match self.ctx.me.mailbox.try_take_where(wanted) {
            Some(message) => self.deliver(mem, message, ptr, cap, tag_out),
            // Not a failure: polling an empty mailbox is this call's purpose, so nothing is
            // recorded for `last_error` (and nothing formatted on this hot path).
            None => Ok(ERR_TIMEOUT as i64),
        }
    }
}

/// `receive`: wait for a message with the wanted tag and copy it into the guest.
async fn receive<T: 'static>(
    c: &mut Caller<'_, T>,
    get: fn(&mut T) -> MessageView<'_>,
    (tag, ptr, cap): (i64, u32, u32),
    timeout_ms: i64,
    tag_out: u32,
) -> HostResult<i64> {
    let wanted = receive_filter(tag)?;
    let (mem, data) = call::split(c, |d| get(d).call)?;
    let mut view = get(data);
    view.before_receive(&mem, ptr, cap, tag_out)?;
    let me = view.ctx.me.clone();
    let message = match me.mailbox.try_take_where(wanted) {
        Some(msg) => msg,
        None => {
            // A timeout too far away to represent waits forever.
            let deadline = u64::try_from(timeout_ms)
                .ok()
                .and_then(|ms| tokio::time::Instant::now().checked_add(Duration::from_millis(ms)));
            // A kill while waiting drops this call (see `crate::process`).
            match me.mailbox.take_where(wanted, deadline).await {
                Received::Message(msg) => msg,
                Received::TimedOut => {
                    return Err(HostError::fail(ERR_TIMEOUT, "no message came in time"));
                }
            }
        }
    };
    let (mut mem, data) = call::split(c, |d| get(d).call)?;
    get(data).deliver(&mut mem, message, ptr, cap, tag_out)
}

/// Add `warren:message` to `linker`; `get` projects the store data onto its view.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> MessageView<'_>,
) -> anyhow::Result<()> {
    crate::host_calls!(linker: T, MESSAGE_MODULE, get, {
        // send(pid, tag, ptr, len) -> i32: 0 if delivered, ERR_NO_PROCESS if no such process
        // is alive (the message is dropped, as in Erlang), ERR_BAD_ARGUMENT for the reserved
        // tag EXIT_TAG. A message with a non-zero tag is delivered only if the receiver still
        // holds that reference (a reply it waits for); otherwise it is dropped and 0
        // returned, as a late reply is. To a process of another node: 0 once queued for its
        // node (whether it lives is known there), ERR_NO_PROCESS if that node is not
        // connected, ERR_NOT_LOCAL if handles are attached (they stay with the caller).
        // While the queue to that node holds more than the cluster's send mark (64 MiB by
        // default): ERR_WOULD_BLOCK, nothing sent; wait with await_room and send again.
        fn send(pid: i64, tag: i64, ptr: u32, len: u32) => |v, mem| v.send(mem, pid, tag, ptr, len);

        // await_room(pid, len, timeout_ms) -> i32: wait until a message of `len` bytes to
        // `pid` may be sent without ERR_WOULD_BLOCK (its bounded mailbox has room, its node's
        // queue is under the send mark), then 0; ERR_TIMEOUT after `timeout_ms` (negative:
        // forever). ERR_NO_PROCESS for a negative pid.
        async fn await_room(pid: i64, len: u32, timeout_ms: i64)
            => |c| await_room(c, get, pid, len, timeout_ms);

        // queued() -> i64: how many messages the caller's mailbox holds.
        fn queued() => |v| v.queued();

        // bound(pid, messages, bytes, when_full) -> i32: bound the mailbox of the caller (pid
        // 0 or its own) or of a child it spawned on this node; see docs/abi.md.
        fn bound(pid: i64, messages: i64, bytes: i64, when_full: u32)
            => |v| v.bound(pid, messages, bytes, when_full);

        // receive(tag, ptr, cap, timeout_ms, tag_out) -> i64: wait for the first message with
        // `tag` (0: ordinary messages; -1: ordinary messages and exit signals; other negative
        // filters: ERR_BAD_ARGUMENT) for `timeout_ms` (negative: forever). Returns the
        // message's length; if it is <= cap the message was copied to `ptr`, otherwise it is
        // pending for `take`. If `tag_out` is not 0, the message's tag is written there (u64
        // little-endian). ERR_TIMEOUT if none came in time. A receive while a message is
        // pending traps.
        async fn receive(tag: i64, ptr: u32, cap: u32, timeout_ms: i64, tag_out: u32)
            => |c| receive(c, get, (tag, ptr, cap), timeout_ms, tag_out);

        // try_receive(tag, ptr, cap, tag_out) -> i64: as receive, but without waiting: the
        // first queued message with `tag`, or ERR_TIMEOUT (not recorded for last_error) if
        // none is queued. A plain call (no fiber switch, no boxed future): the fast path the
        // SDK tries before every receive.
        fn try_receive(tag: i64, ptr: u32, cap: u32, tag_out: u32)
            => |v, mem| v.try_receive(mem, tag, ptr, cap, tag_out);

        // take(ptr, len) -> i32: copy the pending message (exactly `len` bytes) and clear it.
        // ERR_BAD_ARGUMENT if nothing is pending or `len` differs.
        fn take(ptr: u32, len: u32) => |v, mem| v.take(mem, ptr, len);

        // attach(handles_ptr, count) -> i32: move `count` handles (u32 each) out of the
        // caller's table into the next message it sends (send, spawn captures, send_after).
        // All or none: ERR_BAD_HANDLE if one is not open or is listed twice, and nothing
        // moves. More than MAX_ATTACHED traps.
        fn attach(ptr: u32, count: u32) => |v, mem| v.attach(mem, ptr, count);

        // claim(index) -> i64: install resource `index` of the last received message (or of
        // the spawn captures) in the caller's table; its new handle. ERR_BAD_HANDLE if the
        // message carries no such resource or it was claimed already.
        fn claim(index: u32) => |v| v.claim(index);

        // new_tag() -> i64: a reference unique within the runtime and unpredictable, for a
        // selective receive; the caller holds it (others may send to it with this tag) until
        // it monitors with it and the DOWN comes, demonitors, or exits. Holding more
        // references than the quota allows ends the caller with `limit: references`.
        fn new_tag() => |v| v.new_tag();
    });
    Ok(())
}
