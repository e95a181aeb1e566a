//! Every host function of warren's ABI (docs/abi.md), with what each parameter means, so the
//! generator can pick hostile values of the right kind for it.
//!
//! If this table and the runtime disagree on a signature, linking the generated module fails
//! and the fuzzer stops with the linker's error: the table is checked on every run.

/// What a parameter is, which decides the values tried for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    /// A pointer into guest memory (i32).
    Ptr,
    /// A byte length or a count (i32).
    Len,
    /// A resource handle (i32).
    Handle,
    /// A small enum-like number: flags, kinds, modes, `how`, `whence` (i32).
    Small,
    /// A table index (i32): spawn's trampoline and function.
    Index,
    /// A process id (i64).
    Pid,
    /// A message tag, reference or timer id (i64).
    Tag,
    /// Milliseconds: a timeout or a delay (i64; negative may mean forever).
    Millis,
    /// Any other i64: a seek offset, a memory or fuel limit.
    Wide,
}

impl Arg {
    pub fn is_i64(self) -> bool {
        matches!(self, Arg::Pid | Arg::Tag | Arg::Millis | Arg::Wide)
    }
}

/// One host function: module, name, parameters, and whether it returns i32, i64 or nothing.
pub struct HostFn {
    pub module: &'static str,
    pub name: &'static str,
    pub params: &'static [Arg],
    pub result: Option<&'static str>,
}

use Arg::*;

const fn f(
    module: &'static str,
    name: &'static str,
    params: &'static [Arg],
    result: Option<&'static str>,
) -> HostFn {
    HostFn {
        module,
        name,
        params,
        result,
    }
}

const I32: Option<&str> = Some("i32");
const I64: Option<&str> = Some("i64");
const P: &str = "warren:process";
const M: &str = "warren:message";
const R: &str = "warren:resource";
const S: &str = "warren:stream";
const N: &str = "warren:net";
const F: &str = "warren:fs";
const G: &str = "warren:registry";
const T: &str = "warren:timer";
const D: &str = "warren:node";
const H: &str = "warren:http";

/// The host functions a guest can call (WASI preview 1, from wasmtime-wasi, is left out).
pub const HOST_FNS: &[HostFn] = &[
    f(P, "self", &[], I64),
    f(
        P,
        "spawn",
        &[Index, Index, Ptr, Len, Tag, Small, Wide, Wide],
        I64,
    ),
    f(P, "spawn_args", &[Ptr, Len], I32),
    f(P, "panic", &[Ptr, Len], None),
    f(P, "monitor", &[Pid], I64),
    f(P, "demonitor", &[Pid, Tag], None),
    f(P, "kill", &[Pid], I32),
    f(P, "link", &[Pid], I32),
    f(P, "unlink", &[Pid], None),
    f(P, "trap_exit", &[Small], I32),
    f(P, "exit", &[Ptr, Len], None),
    f(P, "exit_signal", &[Pid, Ptr, Len], I32),
    f(P, "hibernate", &[Index, Index, Ptr, Len], None),
    f(P, "hibernate_watch", &[Index, Index, Ptr, Len, Small], I32),
    f(M, "send", &[Pid, Tag, Ptr, Len], I32),
    f(M, "await_room", &[Pid, Len], I32),
    f(M, "receive", &[Tag, Ptr, Len, Millis, Ptr], I64),
    f(M, "take", &[Ptr, Len], I32),
    f(M, "new_tag", &[], I64),
    f(M, "attach", &[Ptr, Len], I32),
    f(M, "claim", &[Small], I64),
    f(R, "drop", &[Handle], I32),
    f(R, "last_error", &[Ptr, Len], I64),
    f(S, "read", &[Handle, Ptr, Len], I64),
    f(S, "write", &[Handle, Ptr, Len], I64),
    f(S, "pipe", &[Ptr], I32),
    f(S, "close_writer", &[Handle], I32),
    f(S, "copy", &[Handle, Handle], I64),
    f(S, "future_wait", &[Handle, Millis, Ptr], I32),
    f(S, "future_poll", &[Handle, Ptr], I32),
    f(S, "cancel", &[Handle], I32),
    f(N, "tcp_bind", &[Ptr, Len], I64),
    f(N, "tcp_incoming", &[Handle], I64),
    f(N, "tcp_accept", &[Handle], I64),
    f(N, "tcp_connect", &[Ptr, Len], I64),
    f(N, "tcp_receive", &[Handle, Ptr], I32),
    f(N, "tcp_send", &[Handle, Handle], I64),
    f(N, "tcp_shutdown", &[Handle, Small], I32),
    f(N, "local_addr", &[Handle, Ptr, Len], I64),
    f(N, "peer_addr", &[Handle, Ptr, Len], I64),
    f(N, "udp_bind", &[Ptr, Len], I64),
    f(N, "udp_send_to", &[Handle, Ptr, Len, Ptr, Len], I64),
    f(N, "udp_recv_from", &[Handle, Ptr, Len, Ptr, Len, Ptr], I64),
    f(F, "open", &[Ptr, Len, Small], I64),
    f(F, "seek", &[Handle, Wide, Small], I64),
    f(F, "stat", &[Handle, Ptr], I32),
    f(F, "stat_path", &[Ptr, Len, Ptr], I32),
    f(F, "read_dir", &[Ptr, Len, Ptr, Len], I64),
    f(F, "create_dir", &[Ptr, Len], I32),
    f(F, "remove_file", &[Ptr, Len], I32),
    f(F, "remove_dir", &[Ptr, Len], I32),
    f(F, "rename", &[Ptr, Len, Ptr, Len], I32),
    f(F, "read_via_stream", &[Handle, Wide, Ptr], I32),
    f(F, "write_via_stream", &[Handle, Handle, Wide], I64),
    f(F, "append_via_stream", &[Handle, Handle], I64),
    f(F, "lock", &[Handle, Small], I32),
    f(F, "try_lock", &[Handle, Small], I32),
    f(F, "unlock", &[Handle], I32),
    f("warren:select", "wait", &[Ptr, Len, Millis], I32),
    f(
        H,
        "serve",
        &[Handle, Small, Index, Index, Ptr, Len, Ptr],
        I32,
    ),
    f(H, "next", &[Handle], I64),
    f(H, "request_head", &[Handle, Ptr, Len], I64),
    f(H, "request_body", &[Handle, Ptr], I32),
    f(
        H,
        "respond",
        &[Handle, Small, Ptr, Len, Small, Ptr, Len],
        I64,
    ),
    f(H, "upgrade", &[Handle, Ptr, Len], I64),
    f(H, "ws_send", &[Handle, Small, Ptr, Len], I64),
    f(H, "ws_receive", &[Handle, Ptr, Len, Ptr], I64),
    f(H, "ws_close", &[Handle, Small, Ptr, Len], I32),
    f("warren:log", "record", &[Small, Ptr, Len, Ptr, Len], I32),
    f("warren:log", "max_level", &[], I32),
    f(G, "register", &[Ptr, Len, Pid], I32),
    f(G, "whereis", &[Ptr, Len], I64),
    f(G, "unregister", &[Ptr, Len], I32),
    f(D, "this", &[], I64),
    f(D, "list", &[Ptr, Len], I64),
    f(D, "name", &[Wide, Ptr, Len], I64),
    f(D, "lookup", &[Ptr, Len], I64),
    f(D, "watch", &[], I64),
    f(D, "unwatch", &[Tag], I32),
    f(
        D,
        "spawn",
        &[Wide, Index, Index, Ptr, Len, Tag, Small, Wide, Wide],
        I64,
    ),
    f(D, "register_global", &[Ptr, Len, Pid], I32),
    f(D, "whereis_global", &[Ptr, Len], I64),
    f(D, "unregister_global", &[Ptr, Len], I32),
    f(T, "sleep", &[Millis], None),
    f(T, "send_after", &[Pid, Ptr, Len, Millis], I64),
    f(T, "cancel", &[Tag], I32),
];
