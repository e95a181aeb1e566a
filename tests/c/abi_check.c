/*
 * Every function of include/warren.h, imported (made from crates/abi/src/calls.rs by scripts/generate-abi: do not edit): warren links a module's
 * imports by module, name and wasm type, so this program starts only if the header agrees
 * with the runtime on every one of them (crates/cli/tests/c_guest.rs). The calls are
 * never made.
 */
#include <stdio.h>

#include "warren.h"

WARREN_DEFINE_ENTRY()

/* Each function's address, so the linker keeps its import. */
__attribute__((used)) void *const IMPORTS[] = {
    (void *)warren_self, (void *)warren_spawn_raw, (void *)warren_spawn_bound,
    (void *)warren_spawn_args, (void *)warren_panic, (void *)warren_monitor,
    (void *)warren_demonitor, (void *)warren_link, (void *)warren_unlink, (void *)warren_trap_exit,
    (void *)warren_exit, (void *)warren_exit_signal, (void *)warren_kill, (void *)warren_hibernate,
    (void *)warren_hibernate_watch, (void *)warren_upgrade, (void *)warren_version_changed,
    (void *)warren_send, (void *)warren_await_room, (void *)warren_queued, (void *)warren_bound,
    (void *)warren_receive, (void *)warren_try_receive, (void *)warren_take, (void *)warren_new_tag,
    (void *)warren_attach, (void *)warren_claim, (void *)warren_register, (void *)warren_whereis,
    (void *)warren_unregister, (void *)warren_node_this, (void *)warren_node_list,
    (void *)warren_node_name, (void *)warren_node_lookup, (void *)warren_node_watch,
    (void *)warren_node_unwatch, (void *)warren_node_spawn, (void *)warren_register_global,
    (void *)warren_whereis_global, (void *)warren_unregister_global, (void *)warren_sleep,
    (void *)warren_send_after, (void *)warren_cancel_timer, (void *)warren_log,
    (void *)warren_log_max_level, (void *)warren_drop, (void *)warren_last_error_raw,
    (void *)warren_read, (void *)warren_write, (void *)warren_pipe, (void *)warren_close_writer,
    (void *)warren_copy, (void *)warren_future_wait, (void *)warren_future_poll,
    (void *)warren_cancel, (void *)warren_tcp_bind, (void *)warren_tcp_incoming,
    (void *)warren_tcp_accept, (void *)warren_tcp_connect, (void *)warren_tcp_receive,
    (void *)warren_tcp_send, (void *)warren_tcp_shutdown, (void *)warren_local_addr,
    (void *)warren_peer_addr, (void *)warren_udp_bind, (void *)warren_udp_send_to,
    (void *)warren_udp_recv_from, (void *)warren_open, (void *)warren_seek, (void *)warren_stat,
    (void *)warren_stat_path, (void *)warren_read_dir, (void *)warren_create_dir,
    (void *)warren_remove_file, (void *)warren_remove_dir, (void *)warren_rename,
    (void *)warren_read_via_stream, (void *)warren_write_via_stream,
    (void *)warren_append_via_stream, (void *)warren_lock, (void *)warren_try_lock,
    (void *)warren_unlock, (void *)warren_http_serve, (void *)warren_http_next,
    (void *)warren_http_request_head, (void *)warren_http_request_body, (void *)warren_http_respond,
    (void *)warren_http_upgrade, (void *)warren_ws_send, (void *)warren_ws_receive,
    (void *)warren_ws_close, (void *)warren_select,
};

int main(void) {
    printf("warren.h: %zu functions linked\n", sizeof IMPORTS / sizeof IMPORTS[0]);
    return 0;
}
