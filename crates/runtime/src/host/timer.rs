//! `warren:timer`: sleep, and messages delivered after a delay. Both run on tokio's timer
//! wheel: a sleeping process is a parked task, not a polling one, and a kill wakes it.

use super::abi::*;
use super::guest_memory;
use super::process::ProcessCtx;
use crate::actor::Message;
use std::time::Duration;
use wasmtime::{AsContextMut, Caller, Linker};

/// The view `warren:timer` needs: the process's actor state, and its resource table
/// (handles attached to a delayed message travel with it).
pub struct TimerView<'a> {
    pub ctx: &'a mut ProcessCtx,
    pub resources: &'a mut crate::resources::ResourceTable,
}

pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> TimerView<'_>,
) -> anyhow::Result<()> {
    let m = TIMER_MODULE;

    // sleep(ms): suspend the process for `ms` milliseconds (negative: not at all). A kill
    // ends it there.
    linker.func_wrap_async(m, "sleep", move |mut c: Caller<'_, T>, (ms,): (i64,)| {
        Box::new(async move {
            let ms = u64::try_from(ms).unwrap_or(0);
            // A kill while sleeping drops this call (see `crate::process`).
            tokio::time::sleep(Duration::from_millis(ms)).await;
            c.as_context_mut().set_epoch_deadline(1);
            Ok(())
        })
    })?;

    // send_after(pid, ptr, len, delay_ms) -> i64: copy the message now, deliver it to `pid`
    // (as an ordinary message) after `delay_ms`; returns the timer id (> 0), or
    // ERR_BAD_ARGUMENT for a negative delay, ERR_LIMIT if the caller has as many timers
    // pending (or bytes in them) as its quota allows. Delivery to a process that has ended
    // is dropped; the timer is cancelled if the caller exits first.
    linker.func_wrap(
        m,
        "send_after",
        move |mut c: Caller<'_, T>, pid: i64, ptr: u32, len: u32, delay_ms: i64| {
            const CALL: &str = "warren:timer.send_after";
            let mem = guest_memory::memory(&mut c, |d| &mut get(d).ctx.memory, CALL)?;
            let data = guest_memory::read(&c, mem, ptr, len, CALL)?;
            let (Ok(delay), Ok(to)) = (u64::try_from(delay_ms), u64::try_from(pid)) else {
                return Ok(ERR_BAD_ARGUMENT as i64);
            };
            let view = get(c.data_mut());
            let resources = view.resources.take_outbox();
            let ctx = view.ctx;
            let sent = ctx.table.timers().send_after(
                ctx.pid(),
                &ctx.table,
                &tokio::runtime::Handle::current(),
                to,
                Message {
                    tag: 0,
                    data,
                    resources,
                },
                Duration::from_millis(delay),
            );
            wasmtime::Result::Ok(match sent {
                Ok(id) => id as i64,
                Err(e) => {
                    view.resources.last_error = format!("{CALL}: {e}");
                    ERR_LIMIT as i64
                }
            })
        },
    )?;

    // cancel(id) -> i32: 0 if the caller's pending timer was cancelled (its message will not
    // be sent); ERR_NO_TIMER if it already fired, was cancelled, or is not the caller's.
    linker.func_wrap(m, "cancel", move |mut c: Caller<'_, T>, id: i64| -> i32 {
        let ctx = get(c.data_mut()).ctx;
        if ctx.table.timers().cancel(ctx.pid(), id as u64) {
            0
        } else {
            ERR_NO_TIMER
        }
    })?;
    Ok(())
}
