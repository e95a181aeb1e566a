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
/// Import module of handles in general (drop, last error text).
pub const RESOURCE_MODULE: &str = "warren:resource";
/// Import module of TCP and UDP sockets.
pub const NET_MODULE: &str = "warren:net";
/// Import module of files under granted directories.
pub const FS_MODULE: &str = "warren:fs";
/// Import module of byte streams, pipes, futures and host splices.
pub const STREAM_MODULE: &str = "warren:stream";
/// Import module of `select` over mailbox, streams, futures and a timeout.
pub const SELECT_MODULE: &str = "warren:select";
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

/// The handle is not open in the calling process (never was, dropped, or sent away).
pub const ERR_BAD_HANDLE: i32 = -8;
/// The handle is of another kind than the call takes.
pub const ERR_WRONG_HANDLE: i32 = -9;
/// Not allowed: a path outside the granted directories, an address outside the network
/// allow-list, or the OS refused (permission denied).
pub const ERR_DENIED: i32 = -10;
/// Another I/O error; `warren:resource.last_error` has the text.
pub const ERR_IO: i32 = -11;
/// No such file or directory, or no such host.
pub const ERR_NOT_FOUND: i32 = -12;
/// The file or directory already exists.
pub const ERR_EXISTS: i32 = -13;
/// The peer refused the connection.
pub const ERR_CONNECTION_REFUSED: i32 = -14;
/// The connection was reset or aborted, or the pipe's other end is gone.
pub const ERR_CONNECTION_RESET: i32 = -15;
/// The socket is not connected.
pub const ERR_NOT_CONNECTED: i32 = -16;
/// The address is in use.
pub const ERR_ADDR_IN_USE: i32 = -17;
/// The address is not available on this host.
pub const ERR_ADDR_NOT_AVAILABLE: i32 = -18;
/// The operation would have to wait (a `try_` call).
pub const ERR_WOULD_BLOCK: i32 = -19;
/// The stream or pipe is closed.
pub const ERR_CLOSED: i32 = -20;
/// The future is not resolved yet (`poll`).
pub const ERR_PENDING: i32 = -21;
/// The path names a directory where a file was expected.
pub const ERR_IS_DIRECTORY: i32 = -22;
/// The path names a file where a directory was expected.
pub const ERR_NOT_DIRECTORY: i32 = -23;
/// The directory is not empty.
pub const ERR_NOT_EMPTY: i32 = -24;
/// The process holds as many handles as it may.
pub const ERR_TOO_MANY_HANDLES: i32 = -25;
/// A per-process or per-runtime limit is reached (queued message bytes, timers, monitors,
/// names, host copies); `warren:resource.last_error` names which, where the call records it.
pub const ERR_LIMIT: i32 = -26;

/// `spawn` flag: link the caller and the child before the child runs.
pub const SPAWN_LINK: u32 = 1;
/// `receive` tag filter: ordinary messages (tag 0) and exit signals (tag `EXIT_TAG`).
pub const RECEIVE_MESSAGES_AND_EXITS: i64 = -1;
pub use crate::actor::EXIT_TAG;
