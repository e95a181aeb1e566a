//! The actor machinery, free of wasmtime.
//!
//! A *process* here is only an identity ([`Pid`]), a [`Mailbox`] and a set of signals
//! (kill, monitors). How a process executes — in warren, as its own wasm instance — is the
//! business of [`crate::process`]; this module only knows who is alive, how to deliver
//! messages to them, and who must hear about their death. Keeping it free of wasm types lets
//! it be tested natively in milliseconds and reused by any other backend.
//!
//! - [`ProcessTable`]: the live processes of one runtime, pid allocation, the process limit,
//!   monitors and the DOWN messages they produce.
//!   Its live processes sit in shards by pid (`procs.rs`); every act of one process on
//!   another is one signal, applied by the same code for this node and others.
//! - [`Mailbox`]: a process's queue with selective receive by tag.
//! - [`ExitReason`]: why a process ended, and its wire encoding for guests.
//! - [`Registry`]: names for processes, freed when they die.
//! - [`Timers`]: messages delivered after a delay, cancellable, cancelled with their owner.
//! - [`SpawnSpec`]: what a new process starts from, here or on another node.
//! - [`Quotas`]: what one process may make the runtime hold for it.
//! - [`logs`]: what a process's logging may cost (its rate) and leaves for the observer.
//! - [`stats`]: what is counted about processes and the runtime, for the observer.
//! - [`remote`]: signals to and from processes of other nodes, and the hook a cluster
//!   carries them through.

mod bounds;
pub(crate) mod logs;
mod mailbox;
mod procs;
mod quotas;
mod registry;
pub(crate) mod remote;
mod remote_flow;
mod spawn;
pub(crate) mod stats;
mod table;
mod timers;

pub(crate) use bounds::{bound_from_abi, bound_from_wire, bound_to_wire};
pub(crate) use mailbox::{Mailbox, Message, Received, WhenFull};
pub use quotas::{
    DEFAULT_LOG_RATE, DEFAULT_MAILBOX_BYTES, DEFAULT_NAMES, DEFAULT_REFERENCES, DEFAULT_TIMERS,
    QuotaError, Quotas,
};
pub use registry::RegisterError;
pub(crate) use registry::{MAX_NAME, Registry};
pub(crate) use spawn::{SpawnSpec, Via};
pub use table::SpawnError;
pub(crate) use table::{ProcessRef, ProcessTable, Sent, describe_bound};
pub(crate) use timers::Timers;
pub(crate) use warren_abi::EXIT_TAG;
/// Why a process ended, and its one encoding (shared with guests through `warren-abi`).
pub use warren_abi::ExitReason;

/// A process id. Allocated from a per-runtime counter starting at 1 and never reused within
/// a runtime, so a stale pid can never address a newer process.
pub use warren_abi::Pid;
