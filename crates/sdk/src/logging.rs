//! Logging through the host: the `log` crate's macros work in every process.
//!
//! The SDK installs a [`log::Log`] logger in every process before any of its code runs (the
//! `log` feature, on by default). `log::info!("...")` in a process becomes one call to
//! `warren:log.record`, and the host emits the record through its own logger with the
//! process's pid, registered name and node, filtered by the host's filter (`warren run
//! --log FILTER`, the `RUST_LOG` syntax). The record's target is the guest's own (by default
//! the module path, `my_app::db`), so a filter names guest modules as it names host ones.
//!
//! ```ignore
//! log::info!("listening on {addr}");
//! log::warn!(target: "billing", "card {id} declined");
//! ```
//!
//! Code that logs with `tracing` reaches the same logger: enable `tracing`'s `log` feature
//! (`tracing = { version = "0.1", features = ["log"] }`), and with no `tracing` subscriber
//! installed its events are emitted as `log` records.
//!
//! What a record costs: nothing if its level is above the most verbose one the host emits
//! (asked once per process, `warren:log.max_level`); otherwise formatting it in the process
//! and one host call. A process emits at most the host's log rate (1,000 records a second
//! by default, `--max-log-rate`); records beyond it are dropped and counted, and the next one
//! emitted says how many. A message longer than 8 KiB is cut (at a character boundary).
//!
//! Installing another logger (`log::set_logger`) fails, since this one is installed first;
//! turn the SDK's `log` feature off to bring your own.

use crate::abi;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};
use warren_abi::{MAX_LOG_MESSAGE, MAX_LOG_TARGET, cut_text as cut};

struct HostLogger;

static LOGGER: HostLogger = HostLogger;

/// Whether this process asked the host for its level yet (statics are per process).
static ASKED: AtomicBool = AtomicBool::new(false);

/// The host's most verbose level, asked once per process; `log`'s macros test it from then on.
fn ask_level_once() {
    if ASKED.swap(true, Ordering::Relaxed) {
        return;
    }
    // SAFETY: no pointers.
    let level = unsafe { abi::log_max_level() };
    log::set_max_level(match level {
        warren_abi::LOG_ERROR => log::LevelFilter::Error,
        warren_abi::LOG_WARN => log::LevelFilter::Warn,
        warren_abi::LOG_INFO => log::LevelFilter::Info,
        warren_abi::LOG_DEBUG => log::LevelFilter::Debug,
        warren_abi::LOG_TRACE => log::LevelFilter::Trace,
        _ => log::LevelFilter::Off,
    });
}

impl log::Log for HostLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        ask_level_once();
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        ask_level_once();
        if record.level() > log::max_level() {
            return;
        }
        let level = match record.level() {
            log::Level::Error => warren_abi::LOG_ERROR,
            log::Level::Warn => warren_abi::LOG_WARN,
            log::Level::Info => warren_abi::LOG_INFO,
            log::Level::Debug => warren_abi::LOG_DEBUG,
            log::Level::Trace => warren_abi::LOG_TRACE,
        };
        let formatted;
        let message = match record.args().as_str() {
            Some(s) => s,
            None => {
                formatted = record.args().to_string();
                &formatted
            }
        };
        let target = cut(record.target(), MAX_LOG_TARGET);
        let message = cut(message, MAX_LOG_MESSAGE);
        // SAFETY: pointers and lengths of two live strings, read by the host during the call.
        unsafe {
            abi::log_record(
                level,
                target.as_ptr(),
                target.len() as u32,
                message.as_ptr(),
                message.len() as u32,
            );
        }
    }

    fn flush(&self) {}
}

/// Install the host logger (once per process; it calls no import, so it may run while the
/// module is pre-initialised). Until the first record, every level passes `log`'s test, so
/// the first record reaches the logger, which then asks the host for its level.
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if log::set_logger(&LOGGER).is_ok() {
            log::set_max_level(log::LevelFilter::Trace);
        }
    });
}
