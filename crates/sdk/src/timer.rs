//! Sleeping and delayed messages, on the host's timer wheel.

use crate::abi;
use crate::process::{Process, encode};
use serde::Serialize;
use std::time::Duration;

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Suspend the calling process for `duration` (millisecond resolution). Other processes run
/// meanwhile; a kill ends the sleep and the process.
pub fn sleep(duration: Duration) {
    // SAFETY: plain integer argument.
    unsafe { abi::sleep(millis(duration)) }
}

/// A message on its way, see [`Process::send_after`]. Only the process that set it can
/// cancel it; dropping it does not cancel it.
#[derive(Debug)]
#[must_use = "a timer is only cancellable through its handle"]
pub struct Timer {
    id: i64,
}

impl Timer {
    /// Stop the message from being sent. Returns false if it was already sent.
    pub fn cancel(self) -> bool {
        // SAFETY: plain integer argument.
        unsafe { abi::cancel(self.id) == 0 }
    }
}

impl<M: Serialize> Process<M> {
    /// Send `message` after `delay`. It is encoded now; if the process has ended by then,
    /// the message is dropped. The timer belongs to the calling process: it is cancelled if
    /// the caller exits first. A process that sets more timers than its quota allows (see
    /// `warren run --help`) ends with a `limit: timers` reason.
    pub fn send_after(&self, message: &M, delay: Duration) -> Timer {
        let bytes = encode(message);
        // SAFETY: pointer and length of `bytes`, read during the call only.
        let id = unsafe {
            abi::send_after(
                self.pid() as i64,
                bytes.as_ptr(),
                bytes.len() as u32,
                millis(delay),
            )
        };
        if id == abi::ERR_LIMIT as i64 {
            let why = crate::handle::error(id).to_string();
            let why = why
                .strip_prefix("warren:timer.send_after: ")
                .unwrap_or(&why);
            crate::exit(crate::ExitReason::Limit(why.to_string()));
        }
        Timer { id }
    }
}
