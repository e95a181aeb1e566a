//! Every host function of warren's ABI, declared once: its module, name, parameters (each with
//! what it means), result, the text of its row in `docs/abi.md` and, where the C header says
//! more, a doc line.
//!
//! Everything else that lists host functions is made from this table: the SDK's imports
//! (`crates/sdk/src/abi/imports.rs`), `include/warren.h`'s declarations,
//! `tests/c/abi_check.c`, the function tables of `docs/abi.md` (all four written by
//! `scripts/generate-abi` and checked by `crates/abi/tests/generated.rs`), and the fuzzer's list
//! (which reads [`CALLS`] itself). A test in `warren-runtime` checks that the runtime's linker
//! defines exactly these functions with these wasm types.
//!
//! Adding a host call: a row here, its implementation in `crates/runtime/src/host/`, then
//! `scripts/generate-abi` (and the SDK's safe API, if it has one).

/// What a parameter is: its wasm type, its Rust and C spelling, and the kind of value the
/// fuzzer tries for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A function-table index (`u32`): `spawn`'s trampoline and function.
    Index,
    /// A resource handle (`u32`).
    Handle,
    /// A byte length, a capacity or a count (`u32`).
    Len,
    /// A small number: flags, kinds, modes, an index into a message's resources (`u32`).
    Small,
    /// A `u32` that is an address or a handle, as another argument says (`respond`'s body).
    Addr,
    /// A small signed number (`i32`): an on/off switch, a log level.
    Int,
    /// A process id (`i64`).
    Pid,
    /// A message tag, a reference or a timer id (`i64`).
    Tag,
    /// Milliseconds (`i64`): a timeout or a delay; negative may mean forever.
    Millis,
    /// A node number (`i64`).
    Node,
    /// Any other `i64`: a memory or fuel limit.
    Wide,
    /// A file offset (`i64` on the wire, `u64` in Rust).
    Offset,
    /// Bytes the host reads (`*const u8`, `const void *`).
    Bytes,
    /// UTF-8 text the host reads (`*const u8`, `const char *`).
    Text,
    /// Handles the host reads (`*const u32`, `const uint32_t *`).
    Handles,
    /// A buffer the host writes bytes into (`*mut u8`, `void *`).
    Buf,
    /// A buffer the host writes text into (`*mut u8`, `char *`).
    TextBuf,
    /// Where the host writes one `u32` (`*mut u32`, `uint32_t *`).
    OutU32,
    /// Where the host writes two handles (`*mut u32`, `uint32_t name[2]`).
    OutPair,
    /// Where the host writes one `u64` (`*mut u64`, `uint64_t *`).
    OutU64,
}

impl Kind {
    /// Its wasm type: `"i32"` or `"i64"`.
    pub const fn wasm(self) -> &'static str {
        match self {
            Kind::Pid | Kind::Tag | Kind::Millis | Kind::Node | Kind::Wide | Kind::Offset => "i64",
            _ => "i32",
        }
    }

    /// Whether it is a pointer into the caller's memory.
    pub const fn is_pointer(self) -> bool {
        matches!(
            self,
            Kind::Bytes
                | Kind::Text
                | Kind::Handles
                | Kind::Buf
                | Kind::TextBuf
                | Kind::OutU32
                | Kind::OutPair
                | Kind::OutU64
        )
    }

    /// Its type in the SDK's `extern` declarations.
    pub const fn rust(self) -> &'static str {
        match self {
            Kind::Index | Kind::Handle | Kind::Len | Kind::Small | Kind::Addr => "u32",
            Kind::Int => "i32",
            Kind::Pid | Kind::Tag | Kind::Millis | Kind::Node | Kind::Wide => "i64",
            Kind::Offset => "u64",
            Kind::Bytes | Kind::Text => "*const u8",
            Kind::Handles => "*const u32",
            Kind::Buf | Kind::TextBuf => "*mut u8",
            Kind::OutU32 | Kind::OutPair => "*mut u32",
            Kind::OutU64 => "*mut u64",
        }
    }

    /// Its C declaration for a parameter called `name`.
    pub fn c(self, name: &str) -> String {
        let ty = match self {
            Kind::Index | Kind::Handle | Kind::Len | Kind::Small | Kind::Addr => "uint32_t ",
            Kind::Int => "int32_t ",
            Kind::Pid | Kind::Tag | Kind::Millis | Kind::Node | Kind::Wide | Kind::Offset => {
                "int64_t "
            }
            Kind::Bytes => "const void *",
            Kind::Text => "const char *",
            Kind::Handles => "const uint32_t *",
            Kind::Buf => "void *",
            Kind::TextBuf => "char *",
            Kind::OutU32 => "uint32_t *",
            Kind::OutPair => return format!("uint32_t {name}[2]"),
            Kind::OutU64 => "uint64_t *",
        };
        format!("{ty}{name}")
    }
}

/// A parameter: its name (as docs/abi.md calls it) and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    pub name: &'static str,
    pub kind: Kind,
}

/// What a call gives back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    /// Nothing.
    Unit,
    /// An `i32`: 0 or a count, or a negative error code.
    I32,
    /// An `i64`: a pid, a handle, a length or a reference, or a negative error code.
    I64,
    /// The call does not return (the caller's instance ends in it).
    Never,
}

impl Ret {
    /// Its wasm result type, if any.
    pub const fn wasm(self) -> Option<&'static str> {
        match self {
            Ret::I32 => Some("i32"),
            Ret::I64 => Some("i64"),
            Ret::Unit | Ret::Never => None,
        }
    }
}

/// One host function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    /// Import module, e.g. `warren:process`.
    pub module: &'static str,
    /// Import name, e.g. `spawn`.
    pub name: &'static str,
    pub params: &'static [Param],
    pub ret: Ret,
    /// Its result and errors, as docs/abi.md's table says them (markdown).
    pub result: &'static str,
    /// The SDK's name for the import (its Rust name: `self` is a keyword, and some modules'
    /// names collide).
    pub rust: &'static str,
    /// Its name in `include/warren.h`; empty for `warren_<name>`.
    pub c: &'static str,
    /// What it does, in a line or a few, for the C header; empty if the result says enough.
    pub doc: &'static str,
}

impl Call {
    /// `module.name`, the way error texts name a call.
    pub fn path(&self) -> String {
        format!("{}.{}", self.module, self.name)
    }

    /// Its name in C: `warren_<name>` unless the table says otherwise.
    pub fn c_name(&self) -> String {
        if self.c.is_empty() {
            format!("warren_{}", self.name)
        } else {
            self.c.to_string()
        }
    }

    /// Its wasm parameter types, in order.
    pub fn wasm_params(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.params.iter().map(|p| p.kind.wasm())
    }

    const fn rust(self, rust: &'static str) -> Call {
        Call { rust, ..self }
    }

    const fn c(self, c: &'static str) -> Call {
        Call { c, ..self }
    }

    const fn doc(self, doc: &'static str) -> Call {
        Call { doc, ..self }
    }
}

/// A module's line of explanation, for the headings of the generated files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Module {
    pub name: &'static str,
    /// What it is for; empty when the name says it.
    pub about: &'static str,
}

const fn call(
    module: &'static str,
    name: &'static str,
    params: &'static [Param],
    ret: Ret,
    result: &'static str,
) -> Call {
    Call {
        module,
        name,
        params,
        ret,
        result,
        rust: name,
        c: "",
        doc: "",
    }
}

const fn module(name: &'static str, about: &'static str) -> Module {
    Module { name, about }
}

const fn p(name: &'static str, kind: Kind) -> Param {
    Param { name, kind }
}

use crate::{
    FS_MODULE, HTTP_MODULE, LOG_MODULE, MESSAGE_MODULE, NET_MODULE, NODE_MODULE, PROCESS_MODULE,
    REGISTRY_MODULE, RESOURCE_MODULE, SELECT_MODULE, STREAM_MODULE, TIMER_MODULE,
};
use Kind::*;
use Ret::*;

/// The modules, in the order docs/abi.md and the generated files present them.
pub const MODULES: &[Module] = &[
    module(PROCESS_MODULE, ""),
    module(MESSAGE_MODULE, ""),
    module(REGISTRY_MODULE, ""),
    module(NODE_MODULE, "a cluster's nodes, remote spawn, global names"),
    module(TIMER_MODULE, ""),
    module(LOG_MODULE, "records through the host's logger"),
    module(RESOURCE_MODULE, ""),
    module(STREAM_MODULE, ""),
    module(
        NET_MODULE,
        "addresses are text: \"127.0.0.1:7000\", \"[::1]:80\"",
    ),
    module(FS_MODULE, "paths inside directories granted with --dir"),
    module(
        HTTP_MODULE,
        "HTTP/1.1 and HTTP/2 served by the host, a process per request or per connection",
    ),
    module(SELECT_MODULE, ""),
];

/// Every host function a guest can call (WASI preview 1, from wasmtime-wasi, is left out), in
/// [`MODULES`]' order.
pub const CALLS: &[Call] = &[
    // warren:process
    call(PROCESS_MODULE, "self", &[], I64, "the caller's pid")
        .rust("this")
        .doc("The caller's pid."),
    call(PROCESS_MODULE, "spawn", &[p("trampoline", Index), p("func", Index), p("args_ptr", Bytes), p("args_len", Len), p("monitor_tag", Tag), p("flags", Small), p("max_memory", Wide), p("max_fuel", Wide)], I64, "the child's pid, or `ERR_PROCESS_LIMIT` / `ERR_SPAWN_FAILED`; `ERR_BAD_ARGUMENT` for unknown flags, invalid limits or a `monitor_tag` that is not an unused reference of the caller's")
        .c("warren_spawn_raw")
        .doc("Start a process entering warren_entry(trampoline, func, args_len) with a copy of [args_ptr, args_ptr+args_len) as its captures. monitor_tag: 0, or an unused reference from warren_new_tag() under which the caller monitors the child before it runs. flags: WARREN_SPAWN_LINK or 0. max_memory, max_fuel: 0 for the runtime's limits. The child's pid, or WARREN_ERR_PROCESS_LIMIT / WARREN_ERR_SPAWN_FAILED / WARREN_ERR_BAD_ARGUMENT."),
    call(PROCESS_MODULE, "spawn_bound", &[p("messages", Wide), p("bytes", Wide), p("when_full", Small)], I32, "0; the caller's next `spawn` or `node.spawn` (which takes it, failed or not) starts its child with this mailbox bound, as `message.bound` would set it, from before the child runs; `ERR_BAD_ARGUMENT` for a negative limit or an unknown policy")
        .doc("The mailbox bound the caller's next spawn (warren_spawn_raw or warren_node_spawn) starts its child with, before it runs: as warren_bound's arguments. 0, or WARREN_ERR_BAD_ARGUMENT."),
    call(PROCESS_MODULE, "spawn_args", &[p("ptr", Buf), p("len", Len)], I32, "0; `ERR_BAD_ARGUMENT` if the caller has no captures (root process, or already fetched) or `len` is not their length")
        .doc("Copy the spawn captures (exactly their length) into [ptr, ptr+len)."),
    call(PROCESS_MODULE, "panic", &[p("ptr", Text), p("len", Len)], Unit, "—")
        .doc("Record a panic message: the exit reason if the process then traps."),
    call(PROCESS_MODULE, "monitor", &[p("pid", Pid)], I64, "a monitor reference (tag); `ERR_NO_PROCESS` for a negative pid; over the reference quota the caller ends with `limit(references: ...)`")
        .doc("Monitor pid: a DOWN message tagged with the returned reference brings its exit reason."),
    call(PROCESS_MODULE, "demonitor", &[p("pid", Pid), p("tag", Tag)], Unit, "—"),
    call(PROCESS_MODULE, "link", &[p("pid", Pid)], I32, "0; `ERR_NO_PROCESS` for a negative pid"),
    call(PROCESS_MODULE, "unlink", &[p("pid", Pid)], Unit, "—"),
    call(PROCESS_MODULE, "trap_exit", &[p("on", Int)], I32, "the previous setting (0 or 1)")
        .doc("Trap exit signals as messages tagged WARREN_EXIT_TAG; returns the previous setting."),
    call(PROCESS_MODULE, "exit", &[p("reason_ptr", Bytes), p("reason_len", Len)], Never, "does not return")
        .doc("End the caller with an encoded exit reason (does not return)."),
    call(PROCESS_MODULE, "exit_signal", &[p("pid", Pid), p("reason_ptr", Bytes), p("reason_len", Len)], I32, "0; `ERR_NO_PROCESS` if not alive"),
    call(PROCESS_MODULE, "kill", &[p("pid", Pid)], I32, "0; `ERR_NO_PROCESS` if not alive"),
    call(PROCESS_MODULE, "hibernate", &[p("trampoline", Index), p("func", Index), p("args_ptr", Bytes), p("args_len", Len), p("name_ptr", Text), p("name_len", Len)], Never, "does not return")
        .doc("End the instance, keep the process; the next message enters warren_entry afresh. name: the resume point's name (empty: unnamed); a named point the caller's version exports as `warren_resume:<name>` wakes on the current version (hot code upgrade)."),
    call(PROCESS_MODULE, "hibernate_watch", &[p("trampoline", Index), p("func", Index), p("args_ptr", Bytes), p("args_len", Len), p("watch", Small), p("name_ptr", Text), p("name_len", Len)], I32, "does not return; `ERR_BAD_HANDLE` if the captures carry no handle #`watch`, `ERR_WRONG_HANDLE` if it cannot be waited on"),
    call(PROCESS_MODULE, "upgrade", &[p("trampoline", Index), p("func", Index), p("args_ptr", Bytes), p("args_len", Len), p("name_ptr", Text), p("name_len", Len)], Never, "does not return; a name that is not a resume point of the caller's version ends it with `upgrade(...)`")
        .rust("upgrade_version")
        .doc("Move to the current version now: end the instance and resume at once, without waiting for a message, at the named resume point (`warren_resume:<name>`) of the current version, or through the indices if the caller's version is current. Does not return."),
    call(PROCESS_MODULE, "version_changed", &[p("name_ptr", Text), p("name_len", Len)], I32, "1 if a version of the program other than the caller's is current (an `upgrade` at `name` would move it), else 0; `ERR_NOT_FOUND` if `name` is not empty and not a resume point of the caller's version")
        .doc("1 if a version of the program other than the caller's is current, else 0; WARREN_ERR_NOT_FOUND if name (when not empty) is not a resume point of the caller's version: a server loop upgrades when it says 1."),
    // warren:message
    call(MESSAGE_MODULE, "send", &[p("pid", Pid), p("tag", Tag), p("ptr", Bytes), p("len", Len)], I32, "0; `ERR_NO_PROCESS` (message dropped; for another node's pid: its node is not connected); `ERR_BAD_ARGUMENT` for tag 1 (`EXIT_TAG`, the runtime's); `ERR_NOT_LOCAL` for handles attached to a message for another node (they stay with the caller); `ERR_WOULD_BLOCK` while the queue to that node is over its send mark, or (tag 0) while the receiver's mailbox is full by a bound whose policy is to block (nothing sent, handles still attached: `await_room`, then send again); `ERR_FULL` (tag 0) if it is full by a bound whose policy is to fail (nothing sent, handles back with the caller)")
        .doc("Send [ptr, ptr+len) to pid (tag 0 for an ordinary message). 0, or WARREN_ERR_NO_PROCESS. WARREN_ERR_WOULD_BLOCK while the queue to pid's node is over its send mark or pid's bounded mailbox is full (nothing sent): call warren_await_room, then send again. WARREN_ERR_FULL if pid's bounded mailbox is full and its policy is to fail."),
    call(MESSAGE_MODULE, "await_room", &[p("pid", Pid), p("len", Len), p("timeout_ms", Millis)], I32, "0 once a message of `len` bytes to `pid` can be sent without `ERR_WOULD_BLOCK` (at once for a pid whose mailbox has room or no bound, that is gone, or of a node not connected: `send` then says so); waits otherwise, up to `timeout_ms` (negative: forever): `ERR_TIMEOUT`; `ERR_NO_PROCESS` for a negative pid")
        .doc("Wait up to timeout_ms (WARREN_FOREVER: forever) until a message of len bytes to pid can be sent without WARREN_ERR_WOULD_BLOCK. 0, or WARREN_ERR_TIMEOUT."),
    call(MESSAGE_MODULE, "queued", &[], I64, "the number of messages in the caller's mailbox (ordinary ones, replies, DOWNs and exit signals alike)")
        .doc("How many messages are queued in the caller's mailbox."),
    call(MESSAGE_MODULE, "bound", &[p("pid", Pid), p("messages", Wide), p("bytes", Wide), p("when_full", Small)], I32, "0; the mailbox of `pid` (the caller, or a child it spawned) holds at most `messages` messages and `bytes` bytes (0: no limit in that dimension; both 0: no bound) for ordinary sends, which then do as `when_full` says (`WHEN_FULL_*`); messages already queued stay; `ERR_DENIED` for another process of this node; `ERR_NO_PROCESS` if `pid` is not alive on this node; for a pid of another node the bound goes there, in order with the caller's later sends, and holds if the caller is its parent (`ERR_NO_CONNECTION` if that node is not connected); `ERR_BAD_ARGUMENT` for a negative limit or an unknown policy")
        .doc("Bound the mailbox of pid (the caller, 0, or a child it spawned, on this node or another): at most `messages` messages and `bytes` bytes (0: no limit there; both 0: no bound), and what a full one does with an ordinary send (WARREN_WHEN_FULL_BLOCK, _FAIL, _DROP_OLDEST, _DROP_NEWEST, _END). 0, WARREN_ERR_DENIED, WARREN_ERR_NO_PROCESS, WARREN_ERR_NO_CONNECTION or WARREN_ERR_BAD_ARGUMENT."),
    call(MESSAGE_MODULE, "receive", &[p("tag", Tag), p("ptr", Buf), p("cap", Len), p("timeout_ms", Millis), p("tag_out", OutU64)], I64, "the message length; `ERR_TIMEOUT`")
        .doc("Wait up to timeout_ms (WARREN_FOREVER: forever) for the first message with `tag`. Returns its length; copied to ptr if it fits cap, else pending for warren_take. tag_out: where to write the message's tag (u64), or NULL. WARREN_ERR_TIMEOUT if none came."),
    call(MESSAGE_MODULE, "try_receive", &[p("tag", Tag), p("ptr", Buf), p("cap", Len), p("tag_out", OutU64)], I64, "as `receive`, without waiting: the first queued message with `tag` (its length; copied to `ptr` if it fits `cap`, else pending for `take`), or `ERR_TIMEOUT` if none is queued (not recorded for `last_error`: an empty mailbox is not a failure)")
        .doc("The first queued message with `tag`, without waiting (a plain call, cheaper than warren_receive when a message is likely queued). Its length, as warren_receive; WARREN_ERR_TIMEOUT if none is queued."),
    call(MESSAGE_MODULE, "take", &[p("ptr", Buf), p("len", Len)], I32, "0; `ERR_BAD_ARGUMENT` if nothing is pending or `len` differs"),
    call(MESSAGE_MODULE, "new_tag", &[], I64, "a reference, unique within the runtime and unpredictable, never 0 or 1, below 2^62; the caller holds it (over the reference quota it ends with `limit(references: ...)`)")
        .doc("A fresh reference, for a selective receive or a monitored spawn."),
    call(MESSAGE_MODULE, "attach", &[p("handles_ptr", Handles), p("count", Len)], I32, "0; `ERR_BAD_HANDLE` (nothing moves)")
        .doc("Move handles into the next message sent (send, spawn captures, send_after)."),
    call(MESSAGE_MODULE, "claim", &[p("index", Small)], I64, "a new handle; `ERR_BAD_HANDLE`")
        .doc("Install resource `index` of the last received message (or of the spawn captures)."),
    // warren:registry
    call(REGISTRY_MODULE, "register", &[p("name_ptr", Text), p("name_len", Len), p("pid", Pid)], I32, "0; `ERR_NAME_TAKEN`; `ERR_NO_PROCESS` if `pid` is not alive; `ERR_BAD_ARGUMENT` if the name is empty, over 256 bytes or not UTF-8; `ERR_LIMIT` if `pid` has `--max-names` names (default 16)"),
    call(REGISTRY_MODULE, "whereis", &[p("name_ptr", Text), p("name_len", Len)], I64, "the pid registered under the name, or `ERR_NO_PROCESS`"),
    call(REGISTRY_MODULE, "unregister", &[p("name_ptr", Text), p("name_len", Len)], I32, "0, or `ERR_NO_PROCESS` if the name was not registered"),
    // warren:node
    call(NODE_MODULE, "this", &[], I64, "the caller's node number; 0 outside a cluster")
        .rust("node_this")
        .c("warren_node_this"),
    call(NODE_MODULE, "list", &[p("ptr", OutU32), p("cap", Len)], I64, "how many other nodes are up; their numbers (u32 little-endian) written at `ptr`, at most `cap`; 0 outside a cluster")
        .rust("node_list")
        .c("warren_node_list"),
    call(NODE_MODULE, "name", &[p("node", Node), p("ptr", TextBuf), p("cap", Len)], I64, "the length of the node's name (this node or one that is up), its first `cap` bytes written at `ptr`; `ERR_NO_CONNECTION` if not up")
        .rust("node_name")
        .c("warren_node_name"),
    call(NODE_MODULE, "lookup", &[p("name_ptr", Text), p("name_len", Len)], I64, "the number of the node with this name (this node, or the newest that is up); `ERR_NO_CONNECTION`")
        .rust("node_lookup")
        .c("warren_node_lookup"),
    call(NODE_MODULE, "watch", &[], I64, "a reference (held, as `new_tag`'s) under which a message comes each time a node comes up or goes down: one byte (1 up, 0 down), then the node's number (u32 little-endian); `ERR_NO_CONNECTION` outside a cluster")
        .rust("node_watch")
        .c("warren_node_watch")
        .doc("A reference tagging node events: [1 up | 0 down][node u32 LE]."),
    call(NODE_MODULE, "unwatch", &[p("tag", Tag)], I32, "0: no more events under `tag`, queued ones dropped; `ERR_BAD_ARGUMENT` if the caller does not hold `tag`")
        .rust("node_unwatch")
        .c("warren_node_unwatch"),
    call(NODE_MODULE, "spawn", &[p("node", Node), p("trampoline", Index), p("func", Index), p("args_ptr", Bytes), p("args_len", Len), p("monitor_tag", Tag), p("flags", Small), p("max_memory", Wide), p("max_fuel", Wide)], I64, "as `warren:process.spawn`, on another node; waits for the child's pid (up to 30 s); `ERR_NO_CONNECTION` if the node is not up; `ERR_SPAWN_FAILED` with the node's reason (another module, its limits, no answer); `ERR_NOT_LOCAL` if handles are attached; `ERR_BAD_ARGUMENT` as for `spawn`, or for the caller's own node")
        .rust("node_spawn")
        .c("warren_node_spawn")
        .doc("As warren_spawn_raw, on another node running the same module; waits for the pid."),
    call(NODE_MODULE, "register_global", &[p("name_ptr", Text), p("name_len", Len), p("pid", Pid)], I32, "0; `ERR_NAME_TAKEN` if a process that may be alive holds it; `ERR_NO_PROCESS` if `pid` is not alive; `ERR_BAD_ARGUMENT` for another node's pid or a bad name; `ERR_LIMIT` over `--max-names`; `ERR_NO_CONNECTION` outside a cluster or if the cluster's store does not answer"),
    call(NODE_MODULE, "whereis_global", &[p("name_ptr", Text), p("name_len", Len)], I64, "the pid with this global name, or `ERR_NO_PROCESS` (none, or its holder's node is down)"),
    call(NODE_MODULE, "unregister_global", &[p("name_ptr", Text), p("name_len", Len)], I32, "0, or `ERR_NO_PROCESS` if the name was not registered"),
    // warren:timer
    call(TIMER_MODULE, "sleep", &[p("ms", Millis)], Unit, "—"),
    call(TIMER_MODULE, "send_after", &[p("pid", Pid), p("ptr", Bytes), p("len", Len), p("delay_ms", Millis)], I64, "a timer id (> 0); `ERR_BAD_ARGUMENT` for a negative delay or pid; `ERR_LIMIT` if the caller has `--max-timers` timers pending (default 10,000) or their messages would exceed its mailbox quota"),
    call(TIMER_MODULE, "cancel", &[p("id", Tag)], I32, "0 if cancelled before firing; `ERR_NO_TIMER` otherwise")
        .c("warren_cancel_timer"),
    // warren:log
    call(LOG_MODULE, "record", &[p("level", Int), p("target_ptr", Text), p("target_len", Len), p("message_ptr", Text), p("message_len", Len)], I32, "`LOG_EMITTED` (0), `LOG_FILTERED` (1: the host's filter does not want `level` for `target`) or `LOG_DROPPED` (2: over the caller's log rate); `ERR_BAD_ARGUMENT` for a level outside 1..=5, a target over 256 bytes, a message over 8192 bytes, or text that is not UTF-8")
        .rust("log_record")
        .c("warren_log")
        .doc("Emit a record: level 1 (error) .. 5 (trace), a target (<= 256 bytes, a module path by convention) and a message (<= 8192 bytes), both UTF-8."),
    call(LOG_MODULE, "max_level", &[], I32, "the most verbose level the host emits for any target: `LOG_OFF` (0), `LOG_ERROR` (1), `LOG_WARN` (2), `LOG_INFO` (3), `LOG_DEBUG` (4) or `LOG_TRACE` (5)")
        .rust("log_max_level")
        .c("warren_log_max_level")
        .doc("The most verbose level the host emits for any target (WARREN_LOG_OFF .. WARREN_LOG_TRACE)."),
    // warren:resource
    call(RESOURCE_MODULE, "drop", &[p("h", Handle)], I32, "0; `ERR_BAD_HANDLE`")
        .rust("drop_handle"),
    call(RESOURCE_MODULE, "last_error", &[p("ptr", TextBuf), p("cap", Len)], I64, "the length of the last failure's text, written at `ptr` if it fits `cap`")
        .c("warren_last_error_raw")
        .doc("The text of the last failed call: its length, written at ptr if it fits cap."),
    // warren:stream
    call(STREAM_MODULE, "read", &[p("h", Handle), p("ptr", Buf), p("cap", Len)], I64, "bytes read into `[ptr, ptr+cap)`, 0 at the end"),
    call(STREAM_MODULE, "write", &[p("h", Handle), p("ptr", Bytes), p("len", Len)], I64, "bytes written from `[ptr, ptr+len)` (at least 1 unless `len` is 0)"),
    call(STREAM_MODULE, "pipe", &[p("out", OutPair)], I32, "0; writes `(writer: stream-writer, reader: byte-stream)` as two u32 at `out`")
        .doc("Writes (writer, reader) as two u32 at out."),
    call(STREAM_MODULE, "close_writer", &[p("h", Handle)], I32, "0: the pipe (or a response body from `warren:http.respond`) ends now for its reader, even if other references to the writer remain"),
    call(STREAM_MODULE, "copy", &[p("src", Handle), p("dst", Handle)], I64, "a `future` of the bytes copied"),
    call(STREAM_MODULE, "future_wait", &[p("h", Handle), p("timeout_ms", Millis), p("out", OutU64)], I32, "0 and the value as u64 at `out` (if `out` is not 0); the failure's code; `ERR_TIMEOUT`"),
    call(STREAM_MODULE, "future_poll", &[p("h", Handle), p("out", OutU64)], I32, "as `future_wait`, or `ERR_PENDING` without waiting"),
    call(STREAM_MODULE, "cancel", &[p("h", Handle)], I32, "0 if this stopped the work behind the future (a host copy; the future then resolves with `ERR_CLOSED`), 1 if it had already ended")
        .rust("future_cancel"),
    // warren:net
    call(NET_MODULE, "tcp_bind", &[p("addr_ptr", Text), p("addr_len", Len)], I64, "a `tcp-listener`"),
    call(NET_MODULE, "tcp_incoming", &[p("listener", Handle)], I64, "a `tcp-incoming`"),
    call(NET_MODULE, "tcp_accept", &[p("h", Handle)], I64, "a `tcp-stream` (waits); `h` is a listener or incoming"),
    call(NET_MODULE, "tcp_connect", &[p("addr_ptr", Text), p("addr_len", Len)], I64, "a `tcp-stream` (waits)"),
    call(NET_MODULE, "tcp_receive", &[p("h", Handle), p("out", OutPair)], I32, "0; `(byte-stream, future)` as two u32 at `out`"),
    call(NET_MODULE, "tcp_send", &[p("h", Handle), p("stream", Handle)], I64, "a `future` of the bytes sent; like `copy(stream, h)`"),
    call(NET_MODULE, "tcp_shutdown", &[p("h", Handle), p("how", Small)], I32, "0; `how`: 0 read, 1 write, 2 both (other values: `ERR_BAD_ARGUMENT`)"),
    call(NET_MODULE, "local_addr", &[p("h", Handle), p("ptr", TextBuf), p("cap", Len)], I64, "the length of the address text (written if it fits); any socket"),
    call(NET_MODULE, "peer_addr", &[p("h", Handle), p("ptr", TextBuf), p("cap", Len)], I64, "as `local_addr`, for a `tcp-stream`"),
    call(NET_MODULE, "udp_bind", &[p("addr_ptr", Text), p("addr_len", Len)], I64, "a `udp-socket`"),
    call(NET_MODULE, "udp_send_to", &[p("h", Handle), p("ptr", Bytes), p("len", Len), p("addr_ptr", Text), p("addr_len", Len)], I64, "bytes sent (one datagram)"),
    call(NET_MODULE, "udp_recv_from", &[p("h", Handle), p("ptr", Buf), p("cap", Len), p("addr_ptr", TextBuf), p("addr_cap", Len), p("addr_len_out", OutU32)], I64, "bytes received (cut to `cap`); the sender's address text at `addr_ptr` (if it fits) and its length as u32 at `addr_len_out`"),
    // warren:fs
    call(FS_MODULE, "open", &[p("path_ptr", Text), p("path_len", Len), p("flags", Small)], I64, "a `file`"),
    call(FS_MODULE, "seek", &[p("h", Handle), p("offset", Wide), p("whence", Small)], I64, "the new cursor; `whence` 0 start, 1 current, 2 end (other values: `ERR_BAD_ARGUMENT`)"),
    call(FS_MODULE, "stat", &[p("h", Handle), p("out", Buf)], I32, "0; 24 bytes of metadata at `out`"),
    call(FS_MODULE, "stat_path", &[p("path_ptr", Text), p("path_len", Len), p("out", Buf)], I32, "0; metadata of the path (a final symlink not followed)"),
    call(FS_MODULE, "read_dir", &[p("path_ptr", Text), p("path_len", Len), p("buf", Buf), p("cap", Len)], I64, "the listing's length (written if it fits `cap`)"),
    call(FS_MODULE, "create_dir", &[p("path_ptr", Text), p("path_len", Len)], I32, "0"),
    call(FS_MODULE, "remove_file", &[p("path_ptr", Text), p("path_len", Len)], I32, "0"),
    call(FS_MODULE, "remove_dir", &[p("path_ptr", Text), p("path_len", Len)], I32, "0"),
    call(FS_MODULE, "rename", &[p("from_ptr", Text), p("from_len", Len), p("to_ptr", Text), p("to_len", Len)], I32, "0"),
    call(FS_MODULE, "read_via_stream", &[p("h", Handle), p("offset", Offset), p("out", OutPair)], I32, "0; `(byte-stream, future)` reading from `offset` to the end, at `out`"),
    call(FS_MODULE, "write_via_stream", &[p("h", Handle), p("stream", Handle), p("offset", Offset)], I64, "a `future`; a pump writes `stream` into the file from `offset`"),
    call(FS_MODULE, "append_via_stream", &[p("h", Handle), p("stream", Handle)], I64, "a `future`; a pump appends `stream` to the file"),
    call(FS_MODULE, "lock", &[p("h", Handle), p("exclusive", Small)], I32, "0 once the shared (0) or exclusive (1) advisory lock is held (waits); other modes `ERR_BAD_ARGUMENT`"),
    call(FS_MODULE, "try_lock", &[p("h", Handle), p("exclusive", Small)], I32, "0, or `ERR_WOULD_BLOCK` if another holder has it"),
    call(FS_MODULE, "unlock", &[p("h", Handle)], I32, "0"),
    // warren:http
    call(HTTP_MODULE, "serve", &[p("listener", Handle), p("mode", Small), p("trampoline", Index), p("func", Index), p("args_ptr", Bytes), p("args_len", Len), p("name_ptr", Text), p("name_len", Len), p("out", OutPair)], I32, "0; `(http-server, future)` as two u32 at `out`")
        .rust("http_serve")
        .c("warren_http_serve")
        .doc("Serve HTTP on a listener: each request (mode 0) or connection (mode 1) is served by a new process entered like a spawned one, whose claim(0) is its http-request or http-connection. name: the handler's name (empty: unnamed); when the caller's version exports it as `warren_resume:<name>`, each handler process runs the current version's export of that name if it has one (hot code upgrade). Writes (http-server, future) at out."),
    call(HTTP_MODULE, "next", &[p("conn", Handle)], I64, "the connection's next `http-request` (waits); `ERR_CLOSED` once the client closed it")
        .rust("http_next")
        .c("warren_http_next")
        .doc("The connection's next http-request (waits); WARREN_ERR_CLOSED at its end."),
    call(HTTP_MODULE, "request_head", &[p("req", Handle), p("ptr", TextBuf), p("cap", Len)], I64, "the length of the head text (written if it fits `cap`)")
        .c("warren_http_request_head")
        .doc("\"METHOD TARGET VERSION\\npeer\\nname: value\\n...\": its length, written if it fits cap."),
    call(HTTP_MODULE, "request_body", &[p("req", Handle), p("out", OutPair)], I32, "0; `(byte-stream, future)` of the body at `out`; `ERR_BAD_ARGUMENT` the second time")
        .c("warren_http_request_body")
        .doc("(byte-stream, future) of the body at out; once."),
    call(HTTP_MODULE, "respond", &[p("req", Handle), p("status", Small), p("head_ptr", Text), p("head_len", Len), p("kind", Small), p("a", Addr), p("b", Len)], I64, "0, or for kind 2 a `stream-writer` the body is written to")
        .c("warren_http_respond")
        .doc("Answer once: status, \"name: value\\n\" lines, and a body of `kind` (bytes at (a, b), the readable handle a, or a pipe: the result is its stream-writer)."),
    call(HTTP_MODULE, "upgrade", &[p("req", Handle), p("head_ptr", Text), p("head_len", Len)], I64, "a `websocket` (the host answers 101)")
        .c("warren_http_upgrade")
        .doc("Accept a WebSocket handshake (101): a websocket handle."),
    call(HTTP_MODULE, "ws_send", &[p("ws", Handle), p("kind", Small), p("ptr", Bytes), p("len", Len)], I64, "0 once queued (waits while the bytes not yet sent leave no room for it); `ERR_CLOSED`; a message over the body limit `ERR_LIMIT`"),
    call(HTTP_MODULE, "ws_receive", &[p("ws", Handle), p("ptr", Buf), p("cap", Len), p("kind_out", OutU32)], I64, "the next message's length: its payload at `ptr` if it fits `cap` (else it stays, to be taken with a larger buffer), its kind as u32 at `kind_out`; `ERR_CLOSED` after the end")
        .doc("The next message's length (payload at ptr if it fits cap, kind at kind_out)."),
    call(HTTP_MODULE, "ws_close", &[p("ws", Handle), p("code", Small), p("reason_ptr", Text), p("reason_len", Len)], I32, "0; `ERR_CLOSED` if closed already; a code other than 1000-1003, 1007-1014, 3000-4999 or a reason over 123 bytes `ERR_BAD_ARGUMENT`"),
    // warren:select
    call(SELECT_MODULE, "wait", &[p("entries", Bytes), p("count", Len), p("timeout_ms", Millis)], I32, "the index of the first ready entry (the lowest if several are); `ERR_TIMEOUT`; `ERR_BAD_HANDLE`/`ERR_WRONG_HANDLE`")
        .c("warren_select")
        .doc("Wait for the first ready of `count` entries (docs/abi.md, \"warren:select\")."),
];
