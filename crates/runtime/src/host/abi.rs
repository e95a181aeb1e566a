//! Import module names and error codes shared with the guest SDK (`docs/abi.md`).
//!
//! Calls return a non-negative value on success and one of these negative codes on an error
//! the guest is expected to handle. Errors that only a broken guest makes (a pointer outside
//! its memory) trap instead.

/// Import module of the process API (spawn, self, monitor, kill, panic report).
pub const PROCESS_MODULE: &str = "warren:process";
/// Import module of the message API (send, receive, tags).
pub const MESSAGE_MODULE: &str = "warren:message";
/// Import module of the name registry (register, whereis, unregister).
pub const REGISTRY_MODULE: &str = "warren:registry";
/// Import module of timers (sleep, send_after, cancel).
pub const TIMER_MODULE: &str = "warren:timer";
/// The export a spawned process is entered through: `warren_entry(trampoline, func, args_len)`.
pub const ENTRY_EXPORT: &str = "warren_entry";

/// A receive ended at its timeout with no matching message.
pub const ERR_TIMEOUT: i32 = -1;
/// The pid names no live process.
pub const ERR_NO_PROCESS: i32 = -2;
/// An argument is invalid (described in the call's documentation).
pub const ERR_BAD_ARGUMENT: i32 = -3;
/// The runtime's process limit is reached.
pub const ERR_PROCESS_LIMIT: i32 = -4;
/// The process could not be created for another reason (logged by the host).
pub const ERR_SPAWN_FAILED: i32 = -5;
/// The name is registered to another process.
pub const ERR_NAME_TAKEN: i32 = -6;
/// No such timer is pending for the caller (fired, cancelled, never set, or not its own).
pub const ERR_NO_TIMER: i32 = -7;

/// `spawn` flag: link the caller and the child before the child runs.
pub const SPAWN_LINK: u32 = 1;
/// `receive` tag filter: ordinary messages (tag 0) and exit signals (tag `EXIT_TAG`).
pub const RECEIVE_MESSAGES_AND_EXITS: i64 = -1;
pub use crate::actor::EXIT_TAG;
