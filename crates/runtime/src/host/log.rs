//! `warren:log`: a guest's log records, through the host's logger.
//!
//! The model: a record is one call, `record(level, target, message)`, handled before the call
//! returns — the host keeps no queue. The host asks its `tracing` subscriber whether it wants
//! that level for that target ([`super::log_sites`]: the guest's target is a real `tracing`
//! target, so `RUST_LOG`-style filters apply to it), then charges the record to the
//! process's rate ([`crate::actor::logs::LogBudget`], `Quotas::log_records_per_second`), then
//! emits it with the process's pid, first registered name and node. A record over the rate
//! is dropped and counted (`/metrics`, the observer); the next one emitted carries
//! `dropped = N`. Filtered records cost no rate. `max_level` tells the guest the most verbose
//! level worth formatting at all (the SDK's `log` logger asks it once).

use super::abi::*;
use super::call::{CallState, GuestMemory, HostError, HostResult};
use super::log_sites::{self, Fields};
use crate::context::ProcessCtx;
use tracing::Level;
use wasmtime::Linker;

/// The view `warren:log` needs: the process's actor state (its pid, table and rate).
pub(crate) struct LogView<'a> {
    /// The per-process actor state.
    pub ctx: &'a mut ProcessCtx,
    /// Memory and last error.
    pub call: &'a mut CallState,
}

/// A `warren:log` level as a `tracing` level; ERR_BAD_ARGUMENT outside 1..=5.
fn level_arg(level: i32) -> HostResult<Level> {
    Ok(match level {
        LOG_ERROR => Level::ERROR,
        LOG_WARN => Level::WARN,
        LOG_INFO => Level::INFO,
        LOG_DEBUG => Level::DEBUG,
        LOG_TRACE => Level::TRACE,
        _ => {
            return Err(HostError::bad_argument(format!(
                "log level {level} is not one of 1 (error) to 5 (trace)"
            )));
        }
    })
}

impl LogView<'_> {
    /// `record`: emit, filter out or drop one record.
    pub(crate) fn record(
        &mut self,
        mem: &GuestMemory<'_>,
        level: i32,
        target: (u32, u32),
        message: (u32, u32),
    ) -> HostResult<i32> {
        let tracing_level = level_arg(level)?;
        let target = mem.text(target.0, target.1, MAX_LOG_TARGET as u32, "log target")?;
        let message = mem.text(message.0, message.1, MAX_LOG_MESSAGE as u32, "log message")?;
        let Some(wanted) = log_sites::wanted(target, tracing_level) else {
            return Ok(LOG_FILTERED);
        };
        let table = &self.ctx.table;
        let me = &self.ctx.me;
        let rate = table.quotas().log_records_per_second;
        let Some(dropped) = self.ctx.log.take(rate, std::time::Instant::now()) else {
            table.stats().log_dropped();
            if table.stats().measures_cpu() {
                me.stats().log_dropped();
            }
            return Ok(LOG_DROPPED);
        };
        let pid = me.pid();
        let name = table.names().first_name(pid);
        log_sites::emit(
            wanted,
            target,
            message,
            Fields {
                pid,
                name: name.as_deref(),
                node: u64::from(node_of(pid)),
                dropped,
            },
        );
        table.stats().log_emitted(level);
        if table.stats().measures_cpu() {
            me.stats().logged(level, target, message);
        }
        Ok(LOG_EMITTED)
    }
}

/// Add `warren:log` to a linker; `get` projects the store data onto the view.
pub(crate) fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> LogView<'_>,
) -> anyhow::Result<()> {
    crate::host_calls!(linker: T, LOG_MODULE, get, {
        // record(level, target_ptr, target_len, message_ptr, message_len) -> i32:
        // LOG_EMITTED, LOG_FILTERED (the host's filter does not want `level` for `target`)
        // or LOG_DROPPED (over the process's rate; counted, and the next record emitted says
        // how many). ERR_BAD_ARGUMENT for a level outside 1..=5, a target over 256 bytes or a
        // message over 8192, or text that is not UTF-8.
        fn record(level: i32, tptr: u32, tlen: u32, mptr: u32, mlen: u32)
            => |v, mem| v.record(mem, level, (tptr, tlen), (mptr, mlen));

        // max_level() -> i32: the most verbose level the host emits for any target now
        // (LOG_OFF .. LOG_TRACE); records beyond it are always filtered out.
        fn max_level() => |_v| Ok(log_sites::max_level());
    });
    Ok(())
}
