//! warren's ABI — the contract between the host (`warren-runtime`) and guests (the `warren`
//! SDK, or any module written against `docs/abi.md`) — as constants and types both sides
//! use, so they cannot drift apart: import module names, the error codes, flags, `select`
//! kinds, reserved tags and sizes, and the one encoder and decoder of exit reasons.
//!
//! `docs/abi.md` is the prose; a test in `warren-runtime` checks its error-code table against
//! [`ErrorCode::ALL`]. Every host function is declared once, in [`calls::CALLS`], from which the
//! SDK's imports, the C header and docs/abi.md's function tables are made.

pub mod calls;
mod errors;
mod exit;
pub mod query;

pub use errors::*;
pub use exit::{
    ExitReason, MAX_EXIT_REASON, MAX_NODE, MAX_REASON_TEXT, NODE_SHIFT, Pid, node_of, node_pid,
};

/// Import module of the process API (spawn, self, monitor, link, kill, exit, panic report).
pub const PROCESS_MODULE: &str = "warren:process";
/// Import module of the message API (send, receive, tags, handles in messages).
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
/// Import module of byte streams, pipes, futures and host copies.
pub const STREAM_MODULE: &str = "warren:stream";
/// Import module of `select` over mailbox, streams, futures and a timeout.
pub const SELECT_MODULE: &str = "warren:select";
/// Import module of the cluster API (nodes, remote spawn, global names).
pub const NODE_MODULE: &str = "warren:node";
/// Import module of HTTP serving (servers, requests, responses, WebSockets).
pub const HTTP_MODULE: &str = "warren:http";
/// Import module of logging (records through the host's logger, the level it wants).
pub const LOG_MODULE: &str = "warren:log";
/// The export a spawned process is entered through: `warren_entry(trampoline, func, args_len)`.
pub const ENTRY_EXPORT: &str = "warren_entry";

/// What a named resume point's export is called before its name (hot code upgrade,
/// docs/upgrade.md): `warren_resume:<name>`, a function `(args_len: i32) -> ()` that fetches
/// the captures (`spawn_args`) and runs the point. `name` is the function's Rust path
/// (`app::counter::serve`), as `std::any::type_name` gives it.
pub const RESUME_EXPORT_PREFIX: &str = "warren_resume:";
/// The export the host runs once when it loads a module, before any process, keeping the
/// memory it leaves as every process's starting image (`warren_preinit()`; it may call no
/// import).
pub const PREINIT_EXPORT: &str = "warren_preinit";

/// `spawn` flag: link the caller and the child before the child runs.
pub const SPAWN_LINK: u32 = 1;

/// `bound` policy: a sender to the full mailbox waits for room (`send` says
/// `ERR_WOULD_BLOCK`; `await_room`, then send again).
pub const WHEN_FULL_BLOCK: u32 = 0;
/// `bound` policy: a send to the full mailbox fails with `ERR_FULL` (nothing sent).
pub const WHEN_FULL_FAIL: u32 = 1;
/// `bound` policy: the oldest ordinary messages are dropped to make room (counted).
pub const WHEN_FULL_DROP_OLDEST: u32 = 2;
/// `bound` policy: the new message is dropped (counted).
pub const WHEN_FULL_DROP_NEWEST: u32 = 3;
/// `bound` policy: the receiver ends with `limit: mailbox`, as over its quota.
pub const WHEN_FULL_END: u32 = 4;

/// Tag of exit-signal messages (delivered to processes trapping exits); reserved for the
/// runtime: a guest's `send` with it is `ERR_BAD_ARGUMENT`. Payload: the sender's pid (u64
/// little-endian), then its encoded exit reason.
pub const EXIT_TAG: u64 = 1;
/// `receive` / `select` tag filter: ordinary messages (tag 0) and exit signals together.
pub const RECEIVE_MESSAGES_AND_EXITS: i64 = -1;
/// First byte of a reply (SDK convention), which tells it from the DOWN message that shares
/// its reference; a DOWN starts with an exit-reason kind.
pub const REPLY_MARK: u8 = 0xff;

/// `warren:fs.open` flags.
pub const OPEN_READ: u32 = 1;
pub const OPEN_WRITE: u32 = 2;
pub const OPEN_CREATE: u32 = 4;
pub const OPEN_TRUNCATE: u32 = 8;
pub const OPEN_APPEND: u32 = 16;
pub const OPEN_CREATE_NEW: u32 = 32;
/// Every `open` flag; other bits trap.
pub const OPEN_ALL: u32 = 63;

/// `warren:http.serve` modes: a fresh process per request, or one per connection that
/// serves its keep-alive requests in order (`warren:http.next`).
pub const HTTP_PER_REQUEST: u32 = 0;
pub const HTTP_PER_CONNECTION: u32 = 1;
/// `warren:http.serve` mode flag (or'ed with the mode): serve TLS with the runtime's
/// certificate, and HTTP/2 where the client offers it (ALPN).
pub const HTTP_TLS: u32 = 0x100;
/// `warren:http.respond` body kinds: bytes from guest memory, a host splice from a readable
/// handle, or a pipe the process writes (its writer handle is the result).
pub const HTTP_BODY_BYTES: u32 = 0;
pub const HTTP_BODY_STREAM: u32 = 1;
pub const HTTP_BODY_WRITER: u32 = 2;
/// WebSocket message kinds (`warren:http.ws_send`, `ws_receive`). A close carries the code
/// (u16 big-endian) and the reason text, as on the wire.
pub const WS_TEXT: u32 = 1;
pub const WS_BINARY: u32 = 2;
pub const WS_CLOSE: u32 = 8;

/// `warren:select.wait` entry kinds.
pub const SELECT_MAILBOX: u32 = 1;
pub const SELECT_READABLE: u32 = 2;
pub const SELECT_WRITABLE: u32 = 3;
pub const SELECT_FUTURE: u32 = 4;
/// Room in a process's mailbox: the entry's value is the pid, its handle field the length
/// of the message to send; ready when `send` would not answer `ERR_WOULD_BLOCK`.
pub const SELECT_ROOM: u32 = 5;
/// Size of one `select` entry: kind u32, handle u32, value i64.
pub const SELECT_ENTRY: u32 = 16;
/// Most entries in one `select`.
pub const MAX_SELECT: u32 = 1024;

/// Most handles one message may carry (`attach`).
pub const MAX_ATTACHED: u32 = 1024;
/// Longest registered name, in bytes.
pub const MAX_NAME: usize = 256;

/// `text` cut to at most `max` bytes, at a character boundary: how both sides shorten text
/// to a size the ABI fixes (reason texts, log records).
pub fn cut_text(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `warren:log` levels, most severe first (as the `log` crate numbers them); `max_level`
/// answers `LOG_OFF` when the host emits nothing.
pub const LOG_OFF: i32 = 0;
pub const LOG_ERROR: i32 = 1;
pub const LOG_WARN: i32 = 2;
pub const LOG_INFO: i32 = 3;
pub const LOG_DEBUG: i32 = 4;
pub const LOG_TRACE: i32 = 5;
/// What `warren:log.record` did with a record: emitted it, left it out (the host's filter
/// does not want that level for that target), or dropped it (the process is over its rate;
/// the drop is counted and the next record emitted says how many were dropped).
pub const LOG_EMITTED: i32 = 0;
pub const LOG_FILTERED: i32 = 1;
pub const LOG_DROPPED: i32 = 2;
/// Longest log target (a module path, say), in bytes.
pub const MAX_LOG_TARGET: usize = 256;
/// Longest log message, in bytes (the SDK cuts longer ones, at a character boundary).
pub const MAX_LOG_MESSAGE: usize = 8192;
/// Longest panic message kept, in bytes.
pub const MAX_PANIC_MESSAGE: usize = MAX_REASON_TEXT;
