/*
 * warren.h — warren's raw ABI for C guests (wasm32-wasip1 / wasm32-wasi).
 *
 * The host side of every declaration here is documented in docs/abi.md, which is the
 * contract; this header is its C spelling, checked by crates/cli/tests/c_guest.rs (a C program
 * importing every function below must link against the runtime). The Rust SDK
 * (crates/sdk) is the other implementation of the same contract.
 *
 * The model, in short:
 *   - A process is a fresh instance of the same module. The root process runs `main`
 *     (through `_start`); a spawned one enters the exported `warren_entry(trampoline, func,
 *     args_len)`. WARREN_DEFINE_ENTRY() below defines it: `func` is a C function pointer
 *     (a table index, the same in every instance of the module) of type `warren_entry_fn`,
 *     called with the spawn's captures.
 *   - Messages are bytes, copied in and out of the caller's memory during the call.
 *   - Results: a non-negative value, or a negative WARREN_ERR_* code;
 *     warren_last_error() tells the text of the last failure.
 *   - Pointers are only used during the call that receives them.
 *
 * Build: clang --target=wasm32-wasi -O2 -I include app.c -o app.wasm
 *        (Debian: clang, lld, wasi-libc, libclang-rt-14-dev-wasm32)
 * Run:   warren run app.wasm
 */
#ifndef WARREN_H
#define WARREN_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WARREN_IMPORT(module, name) \
    __attribute__((import_module(module), import_name(name)))

/* Error codes (docs/abi.md, "Conventions"). */
#define WARREN_ERR_TIMEOUT (-1)
#define WARREN_ERR_NO_PROCESS (-2)
#define WARREN_ERR_BAD_ARGUMENT (-3)
#define WARREN_ERR_PROCESS_LIMIT (-4)
#define WARREN_ERR_SPAWN_FAILED (-5)
#define WARREN_ERR_NAME_TAKEN (-6)
#define WARREN_ERR_NO_TIMER (-7)
#define WARREN_ERR_BAD_HANDLE (-8)
#define WARREN_ERR_WRONG_HANDLE (-9)
#define WARREN_ERR_DENIED (-10)
#define WARREN_ERR_IO (-11)
#define WARREN_ERR_NOT_FOUND (-12)
#define WARREN_ERR_EXISTS (-13)
#define WARREN_ERR_CONNECTION_REFUSED (-14)
#define WARREN_ERR_CONNECTION_RESET (-15)
#define WARREN_ERR_NOT_CONNECTED (-16)
#define WARREN_ERR_ADDR_IN_USE (-17)
#define WARREN_ERR_ADDR_NOT_AVAILABLE (-18)
#define WARREN_ERR_WOULD_BLOCK (-19)
#define WARREN_ERR_CLOSED (-20)
#define WARREN_ERR_PENDING (-21)
#define WARREN_ERR_IS_DIRECTORY (-22)
#define WARREN_ERR_NOT_DIRECTORY (-23)
#define WARREN_ERR_NOT_EMPTY (-24)
#define WARREN_ERR_TOO_MANY_HANDLES (-25)
#define WARREN_ERR_LIMIT (-26)
#define WARREN_ERR_NOT_LOCAL (-27)
#define WARREN_ERR_NO_CONNECTION (-28)
#define WARREN_ERR_FULL (-29)

/* Numbers of the ABI (crates/abi). */
#define WARREN_SPAWN_LINK 1u           /* spawn flag: link caller and child */
#define WARREN_WHEN_FULL_BLOCK 0u      /* bound policy: the sender waits for room */
#define WARREN_WHEN_FULL_FAIL 1u       /* bound policy: the send fails (WARREN_ERR_FULL) */
#define WARREN_WHEN_FULL_DROP_OLDEST 2u /* bound policy: drop the oldest ordinary messages */
#define WARREN_WHEN_FULL_DROP_NEWEST 3u /* bound policy: drop the new message */
#define WARREN_WHEN_FULL_END 4u        /* bound policy: the receiver ends (limit: mailbox) */
#define WARREN_EXIT_TAG 1              /* tag of exit signals of a process trapping exits */
#define WARREN_RECEIVE_MESSAGES_AND_EXITS (-1) /* receive filter: tag 0 and exit signals */
#define WARREN_FOREVER (-1)            /* a timeout that never ends */
#define WARREN_OPEN_READ 1u
#define WARREN_OPEN_WRITE 2u
#define WARREN_OPEN_CREATE 4u
#define WARREN_OPEN_TRUNCATE 8u
#define WARREN_OPEN_APPEND 16u
#define WARREN_OPEN_CREATE_NEW 32u
#define WARREN_SELECT_MAILBOX 1u
#define WARREN_SELECT_READABLE 2u
#define WARREN_SELECT_WRITABLE 3u
#define WARREN_SELECT_FUTURE 4u
#define WARREN_SELECT_ROOM 5u          /* value: a pid; handle field: the message's length */

/* warren:log levels, and what warren_log did with a record. */
#define WARREN_LOG_OFF 0
#define WARREN_LOG_ERROR 1
#define WARREN_LOG_WARN 2
#define WARREN_LOG_INFO 3
#define WARREN_LOG_DEBUG 4
#define WARREN_LOG_TRACE 5
#define WARREN_LOG_EMITTED 0  /* record: emitted */
#define WARREN_LOG_FILTERED 1 /* record: the host's filter does not want it */
#define WARREN_LOG_DROPPED 2  /* record: over the process's log rate (counted) */

/* warren:http serve modes (WARREN_HTTP_TLS is or'ed with the mode), body kinds, WebSocket kinds. */
#define WARREN_HTTP_PER_REQUEST 0
#define WARREN_HTTP_PER_CONNECTION 1
#define WARREN_HTTP_TLS 0x100 /* or'ed with the mode: TLS with the runtime's certificate, HTTP/2 by ALPN */
#define WARREN_HTTP_BODY_BYTES 0
#define WARREN_HTTP_BODY_STREAM 1
#define WARREN_HTTP_BODY_WRITER 2
#define WARREN_WS_TEXT 1
#define WARREN_WS_BINARY 2
#define WARREN_WS_CLOSE 8

/* Exit reason kinds: the first byte of a DOWN message's payload (docs/abi.md,
 * "Exit reasons"). */
#define WARREN_REASON_NORMAL 0
#define WARREN_REASON_PANIC 1
#define WARREN_REASON_TRAP 2
#define WARREN_REASON_KILLED 3
#define WARREN_REASON_NOPROC 4
#define WARREN_REASON_LIMIT 5
#define WARREN_REASON_EXIT 6
#define WARREN_REASON_LINKED 7
#define WARREN_REASON_NOCONNECTION 8
#define WARREN_REASON_SHUTDOWN 9
#define WARREN_REASON_UPGRADE 10

/* A pid's node (bits 40..63; 0 outside a cluster), and the pid standing for a node itself. */
#define WARREN_NODE_OF(pid) ((uint32_t)((uint64_t)(pid) >> 40))
#define WARREN_NODE_PID(node) ((int64_t)((uint64_t)(node) << 40))

/* ---- Host functions (made from the one table of them) -------------------------------- */
/* These declarations are made from crates/abi/src/calls.rs by scripts/generate-abi: do not edit, up
 * to the end marker. */

/* ---- warren:process ------------------------------------------------------------------ */

/* The caller's pid. */
WARREN_IMPORT("warren:process", "self") int64_t warren_self(void);
/* Start a process entering warren_entry(trampoline, func, args_len) with a copy of [args_ptr,
 * args_ptr+args_len) as its captures. monitor_tag: 0, or an unused reference from warren_new_tag()
 * under which the caller monitors the child before it runs. flags: WARREN_SPAWN_LINK or 0.
 * max_memory, max_fuel: 0 for the runtime's limits. The child's pid, or WARREN_ERR_PROCESS_LIMIT /
 * WARREN_ERR_SPAWN_FAILED / WARREN_ERR_BAD_ARGUMENT. */
WARREN_IMPORT("warren:process", "spawn")
int64_t warren_spawn_raw(uint32_t trampoline, uint32_t func, const void *args_ptr,
                         uint32_t args_len, int64_t monitor_tag, uint32_t flags, int64_t max_memory,
                         int64_t max_fuel);
/* The mailbox bound the caller's next spawn (warren_spawn_raw or warren_node_spawn) starts its
 * child with, before it runs: as warren_bound's arguments. 0, or WARREN_ERR_BAD_ARGUMENT. */
WARREN_IMPORT("warren:process", "spawn_bound")
int32_t warren_spawn_bound(int64_t messages, int64_t bytes, uint32_t when_full);
/* Copy the spawn captures (exactly their length) into [ptr, ptr+len). */
WARREN_IMPORT("warren:process", "spawn_args") int32_t warren_spawn_args(void *ptr, uint32_t len);
/* Record a panic message: the exit reason if the process then traps. */
WARREN_IMPORT("warren:process", "panic") void warren_panic(const char *ptr, uint32_t len);
/* Monitor pid: a DOWN message tagged with the returned reference brings its exit reason. */
WARREN_IMPORT("warren:process", "monitor") int64_t warren_monitor(int64_t pid);
WARREN_IMPORT("warren:process", "demonitor") void warren_demonitor(int64_t pid, int64_t tag);
WARREN_IMPORT("warren:process", "link") int32_t warren_link(int64_t pid);
WARREN_IMPORT("warren:process", "unlink") void warren_unlink(int64_t pid);
/* Trap exit signals as messages tagged WARREN_EXIT_TAG; returns the previous setting. */
WARREN_IMPORT("warren:process", "trap_exit") int32_t warren_trap_exit(int32_t on);
/* End the caller with an encoded exit reason (does not return). */
WARREN_IMPORT("warren:process", "exit")
_Noreturn void warren_exit(const void *reason_ptr, uint32_t reason_len);
WARREN_IMPORT("warren:process", "exit_signal")
int32_t warren_exit_signal(int64_t pid, const void *reason_ptr, uint32_t reason_len);
WARREN_IMPORT("warren:process", "kill") int32_t warren_kill(int64_t pid);
/* End the instance, keep the process; the next message enters warren_entry afresh. name: the resume
 * point's name (empty: unnamed); a named point the caller's version exports as
 * `warren_resume:<name>` wakes on the current version (hot code upgrade). */
WARREN_IMPORT("warren:process", "hibernate")
_Noreturn void warren_hibernate(uint32_t trampoline, uint32_t func, const void *args_ptr,
                                uint32_t args_len, const char *name_ptr, uint32_t name_len);
WARREN_IMPORT("warren:process", "hibernate_watch")
int32_t warren_hibernate_watch(uint32_t trampoline, uint32_t func, const void *args_ptr,
                               uint32_t args_len, uint32_t watch, const char *name_ptr,
                               uint32_t name_len);
/* Move to the current version now: end the instance and resume at once, without waiting for a
 * message, at the named resume point (`warren_resume:<name>`) of the current version, or through
 * the indices if the caller's version is current. Does not return. */
WARREN_IMPORT("warren:process", "upgrade")
_Noreturn void warren_upgrade(uint32_t trampoline, uint32_t func, const void *args_ptr,
                              uint32_t args_len, const char *name_ptr, uint32_t name_len);
/* 1 if a version of the program other than the caller's is current, else 0; WARREN_ERR_NOT_FOUND if
 * name (when not empty) is not a resume point of the caller's version: a server loop upgrades when
 * it says 1. */
WARREN_IMPORT("warren:process", "version_changed")
int32_t warren_version_changed(const char *name_ptr, uint32_t name_len);

/* ---- warren:message ------------------------------------------------------------------ */

/* Send [ptr, ptr+len) to pid (tag 0 for an ordinary message). 0, or WARREN_ERR_NO_PROCESS.
 * WARREN_ERR_WOULD_BLOCK while the queue to pid's node is over its send mark or pid's bounded
 * mailbox is full (nothing sent): call warren_await_room, then send again. WARREN_ERR_FULL if pid's
 * bounded mailbox is full and its policy is to fail. */
WARREN_IMPORT("warren:message", "send")
int32_t warren_send(int64_t pid, int64_t tag, const void *ptr, uint32_t len);
/* Wait up to timeout_ms (WARREN_FOREVER: forever) until a message of len bytes to pid can be sent
 * without WARREN_ERR_WOULD_BLOCK. 0, or WARREN_ERR_TIMEOUT. */
WARREN_IMPORT("warren:message", "await_room")
int32_t warren_await_room(int64_t pid, uint32_t len, int64_t timeout_ms);
/* How many messages are queued in the caller's mailbox. */
WARREN_IMPORT("warren:message", "queued") int64_t warren_queued(void);
/* Bound the mailbox of pid (the caller, 0, or a child it spawned, on this node or another): at most
 * `messages` messages and `bytes` bytes (0: no limit there; both 0: no bound), and what a full one
 * does with an ordinary send (WARREN_WHEN_FULL_BLOCK, _FAIL, _DROP_OLDEST, _DROP_NEWEST, _END). 0,
 * WARREN_ERR_DENIED, WARREN_ERR_NO_PROCESS, WARREN_ERR_NO_CONNECTION or WARREN_ERR_BAD_ARGUMENT. */
WARREN_IMPORT("warren:message", "bound")
int32_t warren_bound(int64_t pid, int64_t messages, int64_t bytes, uint32_t when_full);
/* Wait up to timeout_ms (WARREN_FOREVER: forever) for the first message with `tag`. Returns its
 * length; copied to ptr if it fits cap, else pending for warren_take. tag_out: where to write the
 * message's tag (u64), or NULL. WARREN_ERR_TIMEOUT if none came. */
WARREN_IMPORT("warren:message", "receive")
int64_t warren_receive(int64_t tag, void *ptr, uint32_t cap, int64_t timeout_ms, uint64_t *tag_out);
/* The first queued message with `tag`, without waiting (a plain call, cheaper than warren_receive
 * when a message is likely queued). Its length, as warren_receive; WARREN_ERR_TIMEOUT if none is
 * queued. */
WARREN_IMPORT("warren:message", "try_receive")
int64_t warren_try_receive(int64_t tag, void *ptr, uint32_t cap, uint64_t *tag_out);
WARREN_IMPORT("warren:message", "take") int32_t warren_take(void *ptr, uint32_t len);
/* A fresh reference, for a selective receive or a monitored spawn. */
WARREN_IMPORT("warren:message", "new_tag") int64_t warren_new_tag(void);
/* Move handles into the next message sent (send, spawn captures, send_after). */
WARREN_IMPORT("warren:message", "attach")
int32_t warren_attach(const uint32_t *handles_ptr, uint32_t count);
/* Install resource `index` of the last received message (or of the spawn captures). */
WARREN_IMPORT("warren:message", "claim") int64_t warren_claim(uint32_t index);

/* ---- warren:registry ----------------------------------------------------------------- */

WARREN_IMPORT("warren:registry", "register")
int32_t warren_register(const char *name_ptr, uint32_t name_len, int64_t pid);
WARREN_IMPORT("warren:registry", "whereis")
int64_t warren_whereis(const char *name_ptr, uint32_t name_len);
WARREN_IMPORT("warren:registry", "unregister")
int32_t warren_unregister(const char *name_ptr, uint32_t name_len);

/* ---- warren:node (a cluster's nodes, remote spawn, global names) --------------------- */

WARREN_IMPORT("warren:node", "this") int64_t warren_node_this(void);
WARREN_IMPORT("warren:node", "list") int64_t warren_node_list(uint32_t *ptr, uint32_t cap);
WARREN_IMPORT("warren:node", "name")
int64_t warren_node_name(int64_t node, char *ptr, uint32_t cap);
WARREN_IMPORT("warren:node", "lookup")
int64_t warren_node_lookup(const char *name_ptr, uint32_t name_len);
/* A reference tagging node events: [1 up | 0 down][node u32 LE]. */
WARREN_IMPORT("warren:node", "watch") int64_t warren_node_watch(void);
WARREN_IMPORT("warren:node", "unwatch") int32_t warren_node_unwatch(int64_t tag);
/* As warren_spawn_raw, on another node running the same module; waits for the pid. */
WARREN_IMPORT("warren:node", "spawn")
int64_t warren_node_spawn(int64_t node, uint32_t trampoline, uint32_t func, const void *args_ptr,
                          uint32_t args_len, int64_t monitor_tag, uint32_t flags,
                          int64_t max_memory, int64_t max_fuel);
WARREN_IMPORT("warren:node", "register_global")
int32_t warren_register_global(const char *name_ptr, uint32_t name_len, int64_t pid);
WARREN_IMPORT("warren:node", "whereis_global")
int64_t warren_whereis_global(const char *name_ptr, uint32_t name_len);
WARREN_IMPORT("warren:node", "unregister_global")
int32_t warren_unregister_global(const char *name_ptr, uint32_t name_len);

/* ---- warren:timer -------------------------------------------------------------------- */

WARREN_IMPORT("warren:timer", "sleep") void warren_sleep(int64_t ms);
WARREN_IMPORT("warren:timer", "send_after")
int64_t warren_send_after(int64_t pid, const void *ptr, uint32_t len, int64_t delay_ms);
WARREN_IMPORT("warren:timer", "cancel") int32_t warren_cancel_timer(int64_t id);

/* ---- warren:log (records through the host's logger) ---------------------------------- */

/* Emit a record: level 1 (error) .. 5 (trace), a target (<= 256 bytes, a module path by convention)
 * and a message (<= 8192 bytes), both UTF-8. */
WARREN_IMPORT("warren:log", "record")
int32_t warren_log(int32_t level, const char *target_ptr, uint32_t target_len,
                   const char *message_ptr, uint32_t message_len);
/* The most verbose level the host emits for any target (WARREN_LOG_OFF .. WARREN_LOG_TRACE). */
WARREN_IMPORT("warren:log", "max_level") int32_t warren_log_max_level(void);

/* ---- warren:resource ----------------------------------------------------------------- */

WARREN_IMPORT("warren:resource", "drop") int32_t warren_drop(uint32_t h);
/* The text of the last failed call: its length, written at ptr if it fits cap. */
WARREN_IMPORT("warren:resource", "last_error")
int64_t warren_last_error_raw(char *ptr, uint32_t cap);

/* ---- warren:stream ------------------------------------------------------------------- */

WARREN_IMPORT("warren:stream", "read") int64_t warren_read(uint32_t h, void *ptr, uint32_t cap);
WARREN_IMPORT("warren:stream", "write")
int64_t warren_write(uint32_t h, const void *ptr, uint32_t len);
/* Writes (writer, reader) as two u32 at out. */
WARREN_IMPORT("warren:stream", "pipe") int32_t warren_pipe(uint32_t out[2]);
WARREN_IMPORT("warren:stream", "close_writer") int32_t warren_close_writer(uint32_t h);
WARREN_IMPORT("warren:stream", "copy") int64_t warren_copy(uint32_t src, uint32_t dst);
WARREN_IMPORT("warren:stream", "future_wait")
int32_t warren_future_wait(uint32_t h, int64_t timeout_ms, uint64_t *out);
WARREN_IMPORT("warren:stream", "future_poll") int32_t warren_future_poll(uint32_t h, uint64_t *out);
WARREN_IMPORT("warren:stream", "cancel") int32_t warren_cancel(uint32_t h);

/* ---- warren:net (addresses are text: "127.0.0.1:7000", "[::1]:80") ------------------- */

WARREN_IMPORT("warren:net", "tcp_bind")
int64_t warren_tcp_bind(const char *addr_ptr, uint32_t addr_len);
WARREN_IMPORT("warren:net", "tcp_incoming") int64_t warren_tcp_incoming(uint32_t listener);
WARREN_IMPORT("warren:net", "tcp_accept") int64_t warren_tcp_accept(uint32_t h);
WARREN_IMPORT("warren:net", "tcp_connect")
int64_t warren_tcp_connect(const char *addr_ptr, uint32_t addr_len);
WARREN_IMPORT("warren:net", "tcp_receive") int32_t warren_tcp_receive(uint32_t h, uint32_t out[2]);
WARREN_IMPORT("warren:net", "tcp_send") int64_t warren_tcp_send(uint32_t h, uint32_t stream);
WARREN_IMPORT("warren:net", "tcp_shutdown") int32_t warren_tcp_shutdown(uint32_t h, uint32_t how);
WARREN_IMPORT("warren:net", "local_addr")
int64_t warren_local_addr(uint32_t h, char *ptr, uint32_t cap);
WARREN_IMPORT("warren:net", "peer_addr")
int64_t warren_peer_addr(uint32_t h, char *ptr, uint32_t cap);
WARREN_IMPORT("warren:net", "udp_bind")
int64_t warren_udp_bind(const char *addr_ptr, uint32_t addr_len);
WARREN_IMPORT("warren:net", "udp_send_to")
int64_t warren_udp_send_to(uint32_t h, const void *ptr, uint32_t len, const char *addr_ptr,
                           uint32_t addr_len);
WARREN_IMPORT("warren:net", "udp_recv_from")
int64_t warren_udp_recv_from(uint32_t h, void *ptr, uint32_t cap, char *addr_ptr, uint32_t addr_cap,
                             uint32_t *addr_len_out);

/* ---- warren:fs (paths inside directories granted with --dir) ------------------------- */

WARREN_IMPORT("warren:fs", "open")
int64_t warren_open(const char *path_ptr, uint32_t path_len, uint32_t flags);
WARREN_IMPORT("warren:fs", "seek") int64_t warren_seek(uint32_t h, int64_t offset, uint32_t whence);
WARREN_IMPORT("warren:fs", "stat") int32_t warren_stat(uint32_t h, void *out);
WARREN_IMPORT("warren:fs", "stat_path")
int32_t warren_stat_path(const char *path_ptr, uint32_t path_len, void *out);
WARREN_IMPORT("warren:fs", "read_dir")
int64_t warren_read_dir(const char *path_ptr, uint32_t path_len, void *buf, uint32_t cap);
WARREN_IMPORT("warren:fs", "create_dir")
int32_t warren_create_dir(const char *path_ptr, uint32_t path_len);
WARREN_IMPORT("warren:fs", "remove_file")
int32_t warren_remove_file(const char *path_ptr, uint32_t path_len);
WARREN_IMPORT("warren:fs", "remove_dir")
int32_t warren_remove_dir(const char *path_ptr, uint32_t path_len);
WARREN_IMPORT("warren:fs", "rename")
int32_t warren_rename(const char *from_ptr, uint32_t from_len, const char *to_ptr, uint32_t to_len);
WARREN_IMPORT("warren:fs", "read_via_stream")
int32_t warren_read_via_stream(uint32_t h, int64_t offset, uint32_t out[2]);
WARREN_IMPORT("warren:fs", "write_via_stream")
int64_t warren_write_via_stream(uint32_t h, uint32_t stream, int64_t offset);
WARREN_IMPORT("warren:fs", "append_via_stream")
int64_t warren_append_via_stream(uint32_t h, uint32_t stream);
WARREN_IMPORT("warren:fs", "lock") int32_t warren_lock(uint32_t h, uint32_t exclusive);
WARREN_IMPORT("warren:fs", "try_lock") int32_t warren_try_lock(uint32_t h, uint32_t exclusive);
WARREN_IMPORT("warren:fs", "unlock") int32_t warren_unlock(uint32_t h);

/* ---- warren:http (HTTP/1.1 and HTTP/2 served by the host, a process per request or per connection)  */

/* Serve HTTP on a listener: each request (mode 0) or connection (mode 1) is served by a new process
 * entered like a spawned one, whose claim(0) is its http-request or http-connection. name: the
 * handler's name (empty: unnamed); when the caller's version exports it as `warren_resume:<name>`,
 * each handler process runs the current version's export of that name if it has one (hot code
 * upgrade). Writes (http-server, future) at out. */
WARREN_IMPORT("warren:http", "serve")
int32_t warren_http_serve(uint32_t listener, uint32_t mode, uint32_t trampoline, uint32_t func,
                          const void *args_ptr, uint32_t args_len, const char *name_ptr,
                          uint32_t name_len, uint32_t out[2]);
/* The connection's next http-request (waits); WARREN_ERR_CLOSED at its end. */
WARREN_IMPORT("warren:http", "next") int64_t warren_http_next(uint32_t conn);
/* "METHOD TARGET VERSION\npeer\nname: value\n...": its length, written if it fits cap. */
WARREN_IMPORT("warren:http", "request_head")
int64_t warren_http_request_head(uint32_t req, char *ptr, uint32_t cap);
/* (byte-stream, future) of the body at out; once. */
WARREN_IMPORT("warren:http", "request_body")
int32_t warren_http_request_body(uint32_t req, uint32_t out[2]);
/* Answer once: status, "name: value\n" lines, and a body of `kind` (bytes at (a, b), the readable
 * handle a, or a pipe: the result is its stream-writer). */
WARREN_IMPORT("warren:http", "respond")
int64_t warren_http_respond(uint32_t req, uint32_t status, const char *head_ptr, uint32_t head_len,
                            uint32_t kind, uint32_t a, uint32_t b);
/* Accept a WebSocket handshake (101): a websocket handle. */
WARREN_IMPORT("warren:http", "upgrade")
int64_t warren_http_upgrade(uint32_t req, const char *head_ptr, uint32_t head_len);
WARREN_IMPORT("warren:http", "ws_send")
int64_t warren_ws_send(uint32_t ws, uint32_t kind, const void *ptr, uint32_t len);
/* The next message's length (payload at ptr if it fits cap, kind at kind_out). */
WARREN_IMPORT("warren:http", "ws_receive")
int64_t warren_ws_receive(uint32_t ws, void *ptr, uint32_t cap, uint32_t *kind_out);
WARREN_IMPORT("warren:http", "ws_close")
int32_t warren_ws_close(uint32_t ws, uint32_t code, const char *reason_ptr, uint32_t reason_len);

/* ---- warren:select ------------------------------------------------------------------- */

/* Wait for the first ready of `count` entries (docs/abi.md, "warren:select"). */
WARREN_IMPORT("warren:select", "wait")
int32_t warren_select(const void *entries, uint32_t count, int64_t timeout_ms);

/* ---- End of the host functions ------------------------------------------------------- */

/* ---- Helpers (this header's conventions, not the ABI's) ------------------------------ */

/* What a spawned process runs: its captures, as bytes. */
typedef void (*warren_entry_fn)(const uint8_t *args, uint32_t len);

/* Spawn `entry` with a copy of [args, args+len) as its captures. monitor_tag: 0, or a
 * reference from warren_new_tag() to get the child's DOWN under. */
static inline int64_t warren_spawn(warren_entry_fn entry, const void *args, uint32_t len,
                                   int64_t monitor_tag) {
    return warren_spawn_raw(0, (uint32_t)(uintptr_t)entry, args, len, monitor_tag, 0, 0, 0);
}

/* The text of the last failed call, in a static buffer. */
static inline const char *warren_last_error(void) {
    static char text[512];
    int64_t n = warren_last_error_raw(text, sizeof text - 1);
    if (n < 0) n = 0;
    if (n > (int64_t)sizeof text - 1) n = sizeof text - 1;
    text[n] = 0;
    return text;
}

/* Defines the exported `warren_entry`: fetch the captures and call the spawned function
 * (which warren_spawn passed as `func`). Put it once in a program that spawns. */
#define WARREN_DEFINE_ENTRY()                                                              \
    __attribute__((export_name("warren_entry"))) void warren_entry(                       \
        uint32_t trampoline, uint32_t func, uint32_t args_len) {                          \
        (void)trampoline;                                                                 \
        uint8_t *args = args_len ? (uint8_t *)malloc(args_len) : NULL;                    \
        if (args_len && (!args || warren_spawn_args(args, args_len) != 0)) {              \
            static const char msg[] = "warren_entry: cannot fetch the spawn captures";    \
            warren_panic(msg, sizeof msg - 1);                                            \
            __builtin_trap();                                                             \
        }                                                                                 \
        ((warren_entry_fn)(uintptr_t)func)(args, args_len);                               \
        free(args);                                                                       \
    }

#ifdef __cplusplus
}
#endif

#endif /* WARREN_H */
