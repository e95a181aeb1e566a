//! `warren:timer`: sleep, and messages delivered after a delay. Both run on tokio's timer
//! wheel: a sleeping process is a parked task, not a polling one, and a kill wakes it.

use super::abi::*;
use super::call::{CallState, GuestMemory, HostError, HostResult, not_local};
use crate::actor::Message;
use crate::context::ProcessCtx;
use std::time::Duration;
use wasmtime::Linker;

/// The view `warren:timer` needs: the process's actor state, and its resource table
/// (handles attached to a delayed message travel with it).
pub(crate) struct TimerView<'a> {
    /// The per-process actor state.
    pub ctx: &'a mut ProcessCtx,
    /// The process's handles.
    pub resources: &'a mut crate::resources::ResourceTable,
    /// Memory and last error.
    pub call: &'a mut CallState,
}

impl TimerView<'_> {
    /// `send_after`: a copy of the message, delivered after the delay; the timer id.
    pub(crate) fn send_after(
        &mut self,
        mem: &GuestMemory<'_>,
        pid: i64,
        (ptr, len): (u32, u32),
        delay_ms: i64,
    ) -> HostResult<i64> {
        let data = mem.read(ptr, len)?.to_vec();
        let (Ok(delay), Ok(to)) = (u64::try_from(delay_ms), u64::try_from(pid)) else {
            return Err(HostError::bad_argument(format!(
                "negative pid ({pid}) or delay ({delay_ms} ms)"
            )));
        };
        if !self.ctx.table.is_local(to) && self.resources.has_outbox() {
            self.resources.restore_outbox();
            return Err(not_local(to));
        }
        let resources = self.resources.take_outbox();
        let ctx = &*self.ctx;
        let message = Message {
            tag: 0,
            data,
            resources,
        };
        let sent = ctx.table.timers().send_after(
            ctx.pid(),
            &ctx.table,
            &tokio::runtime::Handle::current(),
            to,
            message,
            Duration::from_millis(delay),
        );
        match sent {
            Ok(id) => Ok(id as i64),
            Err(e) => Err(HostError::fail(ERR_LIMIT, e.to_string())),
        }
    }

    /// `cancel`: cancel one of the caller's pending timers.
    pub(crate) fn cancel(&mut self, id: i64) -> HostResult<i32> {
        if self.ctx.table.timers().cancel(self.ctx.pid(), id as u64) {
            Ok(0)
        } else {
            Err(HostError::fail(
                ERR_NO_TIMER,
                format!("no pending timer {id} of this process"),
            ))
        }
    }
}

/// `sleep`: a parked task until the time is up.
async fn sleep(ms: i64) -> HostResult<()> {
    // A kill while sleeping drops this call (see `crate::process`).
    tokio::time::sleep(Duration::from_millis(u64::try_from(ms).unwrap_or(0))).await;
    Ok(())
}

/// Add `warren:timer` to `linker`; `get` projects the store data onto its view.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> TimerView<'_>,
) -> anyhow::Result<()> {
    crate::host_calls!(linker: T, TIMER_MODULE, get, {
        // sleep(ms): suspend the process for `ms` milliseconds (negative: not at all). A kill
        // ends it there.
        async fn sleep(ms: i64) => |_c| sleep(ms);

        // send_after(pid, ptr, len, delay_ms) -> i64: copy the message now, deliver it to
        // `pid` (as an ordinary message) after `delay_ms`; returns the timer id (> 0), or
        // ERR_BAD_ARGUMENT for a negative delay or pid, ERR_LIMIT if the caller has as many
        // timers pending (or bytes in them) as its quota allows. Delivery to a process that
        // has ended is dropped; the timer is cancelled if the caller exits first.
        fn send_after(pid: i64, ptr: u32, len: u32, delay_ms: i64)
            => |v, mem| v.send_after(mem, pid, (ptr, len), delay_ms);

        // cancel(id) -> i32: 0 if the caller's pending timer was cancelled (its message will
        // not be sent); ERR_NO_TIMER if it already fired, was cancelled, or is not the
        // caller's.
        fn cancel(id: i64) => |v| v.cancel(id);
    });
    Ok(())
}
