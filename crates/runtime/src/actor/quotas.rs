//! Per-process quotas on what a process can make the runtime hold for it.
//!
//! Each is charged where the thing is created, to the process it is held for, and released
//! when the thing goes (or the process exits): queued message bytes (charged to the
//! receiver: a flood ends the flooded process with `limit: mailbox`, as Erlang's
//! `max_heap_size` does), references (monitors and reply tags, charged to the watcher),
//! pending timers and their message bytes (charged to the process that set them, and
//! cancelled when it exits), and registered names (charged to the named process).

use super::Pid;

/// Default most bytes of messages queued in one mailbox (payloads plus 64 bytes each).
pub const DEFAULT_MAILBOX_BYTES: usize = 64 << 20;
/// Default most references (monitors and reply tags) one process holds.
pub const DEFAULT_REFERENCES: usize = 10_000;
/// Default most pending timers one process has set.
pub const DEFAULT_TIMERS: usize = 10_000;
/// Default most names registered to one process.
pub const DEFAULT_NAMES: usize = 16;
/// Default of [`Quotas::log_records_per_second`].
pub const DEFAULT_LOG_RATE: u32 = 1000;

/// The per-process quotas of one runtime.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quotas {
    /// Most bytes queued in a process's mailbox; beyond, the process ends with
    /// `limit: mailbox`. Also what the host holds for its WebSockets each way (at least
    /// the largest message and 64 KiB); beyond, their sockets wait.
    pub mailbox_bytes: usize,
    /// Most references a process holds: monitors it set plus reply tags (`new_tag`) it has
    /// not used up.
    pub references: usize,
    /// Most timers (`send_after`) a process has pending; their messages together count
    /// against `mailbox_bytes` too.
    pub timers: usize,
    /// Most names registered to one process.
    pub names: usize,
    /// Most log records a process emits in a second (a burst of as many at once); beyond,
    /// records are dropped and counted (README, "Logs").
    pub log_records_per_second: u32,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            mailbox_bytes: DEFAULT_MAILBOX_BYTES,
            references: DEFAULT_REFERENCES,
            timers: DEFAULT_TIMERS,
            names: DEFAULT_NAMES,
            log_records_per_second: DEFAULT_LOG_RATE,
        }
    }
}

/// A process asked for more than a quota allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[allow(missing_docs)] // each variant's message says it; `pid` is the process, `limit` the quota
pub enum QuotaError {
    /// Monitors and reply tags held.
    #[error("references: process {pid} holds {limit} monitors and reply tags, the most it may")]
    References { pid: Pid, limit: usize },
    /// Timers pending.
    #[error("timers: process {pid} has {limit} timers pending, the most it may")]
    Timers { pid: Pid, limit: usize },
    /// Bytes in pending timers' messages.
    #[error(
        "timers: the messages of process {pid}'s pending timers would take more than {limit} bytes"
    )]
    TimerBytes { pid: Pid, limit: usize },
    /// Names registered.
    #[error("names: process {pid} has {limit} names registered, the most it may")]
    Names { pid: Pid, limit: usize },
}
