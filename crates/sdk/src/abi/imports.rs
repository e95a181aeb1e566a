//! The raw imports of docs/abi.md, one `extern` block per module (made from crates/abi/src/calls.rs
//! by scripts/generate-abi: do not edit).

#[link(wasm_import_module = "warren:process")]
unsafe extern "C" {
    #[link_name = "self"]
    pub fn this() -> i64;
    pub fn spawn(
        trampoline: u32,
        func: u32,
        args_ptr: *const u8,
        args_len: u32,
        monitor_tag: i64,
        flags: u32,
        max_memory: i64,
        max_fuel: i64,
    ) -> i64;
    pub fn spawn_bound(messages: i64, bytes: i64, when_full: u32) -> i32;
    pub fn spawn_args(ptr: *mut u8, len: u32) -> i32;
    pub fn panic(ptr: *const u8, len: u32);
    pub fn monitor(pid: i64) -> i64;
    pub fn demonitor(pid: i64, tag: i64);
    pub fn link(pid: i64) -> i32;
    pub fn unlink(pid: i64);
    pub fn trap_exit(on: i32) -> i32;
    pub fn exit(reason_ptr: *const u8, reason_len: u32) -> !;
    pub fn exit_signal(pid: i64, reason_ptr: *const u8, reason_len: u32) -> i32;
    pub fn kill(pid: i64) -> i32;
    pub fn hibernate(
        trampoline: u32,
        func: u32,
        args_ptr: *const u8,
        args_len: u32,
        name_ptr: *const u8,
        name_len: u32,
    ) -> !;
    pub fn hibernate_watch(
        trampoline: u32,
        func: u32,
        args_ptr: *const u8,
        args_len: u32,
        watch: u32,
        name_ptr: *const u8,
        name_len: u32,
    ) -> i32;
    #[link_name = "upgrade"]
    pub fn upgrade_version(
        trampoline: u32,
        func: u32,
        args_ptr: *const u8,
        args_len: u32,
        name_ptr: *const u8,
        name_len: u32,
    ) -> !;
    pub fn version_changed(name_ptr: *const u8, name_len: u32) -> i32;
}

#[link(wasm_import_module = "warren:message")]
unsafe extern "C" {
    pub fn send(pid: i64, tag: i64, ptr: *const u8, len: u32) -> i32;
    pub fn await_room(pid: i64, len: u32, timeout_ms: i64) -> i32;
    pub fn queued() -> i64;
    pub fn bound(pid: i64, messages: i64, bytes: i64, when_full: u32) -> i32;
    pub fn receive(tag: i64, ptr: *mut u8, cap: u32, timeout_ms: i64, tag_out: *mut u64) -> i64;
    pub fn try_receive(tag: i64, ptr: *mut u8, cap: u32, tag_out: *mut u64) -> i64;
    pub fn take(ptr: *mut u8, len: u32) -> i32;
    pub fn new_tag() -> i64;
    pub fn attach(handles_ptr: *const u32, count: u32) -> i32;
    pub fn claim(index: u32) -> i64;
}

#[link(wasm_import_module = "warren:registry")]
unsafe extern "C" {
    pub fn register(name_ptr: *const u8, name_len: u32, pid: i64) -> i32;
    pub fn whereis(name_ptr: *const u8, name_len: u32) -> i64;
    pub fn unregister(name_ptr: *const u8, name_len: u32) -> i32;
}

#[link(wasm_import_module = "warren:node")]
unsafe extern "C" {
    #[link_name = "this"]
    pub fn node_this() -> i64;
    #[link_name = "list"]
    pub fn node_list(ptr: *mut u32, cap: u32) -> i64;
    #[link_name = "name"]
    pub fn node_name(node: i64, ptr: *mut u8, cap: u32) -> i64;
    #[link_name = "lookup"]
    pub fn node_lookup(name_ptr: *const u8, name_len: u32) -> i64;
    #[link_name = "watch"]
    pub fn node_watch() -> i64;
    #[link_name = "unwatch"]
    pub fn node_unwatch(tag: i64) -> i32;
    #[link_name = "spawn"]
    pub fn node_spawn(
        node: i64,
        trampoline: u32,
        func: u32,
        args_ptr: *const u8,
        args_len: u32,
        monitor_tag: i64,
        flags: u32,
        max_memory: i64,
        max_fuel: i64,
    ) -> i64;
    pub fn register_global(name_ptr: *const u8, name_len: u32, pid: i64) -> i32;
    pub fn whereis_global(name_ptr: *const u8, name_len: u32) -> i64;
    pub fn unregister_global(name_ptr: *const u8, name_len: u32) -> i32;
}

#[link(wasm_import_module = "warren:timer")]
unsafe extern "C" {
    pub fn sleep(ms: i64);
    pub fn send_after(pid: i64, ptr: *const u8, len: u32, delay_ms: i64) -> i64;
    pub fn cancel(id: i64) -> i32;
}

#[link(wasm_import_module = "warren:log")]
unsafe extern "C" {
    #[link_name = "record"]
    pub fn log_record(
        level: i32,
        target_ptr: *const u8,
        target_len: u32,
        message_ptr: *const u8,
        message_len: u32,
    ) -> i32;
    #[link_name = "max_level"]
    pub fn log_max_level() -> i32;
}

#[link(wasm_import_module = "warren:resource")]
unsafe extern "C" {
    #[link_name = "drop"]
    pub fn drop_handle(h: u32) -> i32;
    pub fn last_error(ptr: *mut u8, cap: u32) -> i64;
}

#[link(wasm_import_module = "warren:stream")]
unsafe extern "C" {
    pub fn read(h: u32, ptr: *mut u8, cap: u32) -> i64;
    pub fn write(h: u32, ptr: *const u8, len: u32) -> i64;
    pub fn pipe(out: *mut u32) -> i32;
    pub fn close_writer(h: u32) -> i32;
    pub fn copy(src: u32, dst: u32) -> i64;
    pub fn future_wait(h: u32, timeout_ms: i64, out: *mut u64) -> i32;
    pub fn future_poll(h: u32, out: *mut u64) -> i32;
    #[link_name = "cancel"]
    pub fn future_cancel(h: u32) -> i32;
}

#[link(wasm_import_module = "warren:net")]
unsafe extern "C" {
    pub fn tcp_bind(addr_ptr: *const u8, addr_len: u32) -> i64;
    pub fn tcp_incoming(listener: u32) -> i64;
    pub fn tcp_accept(h: u32) -> i64;
    pub fn tcp_connect(addr_ptr: *const u8, addr_len: u32) -> i64;
    pub fn tcp_receive(h: u32, out: *mut u32) -> i32;
    pub fn tcp_send(h: u32, stream: u32) -> i64;
    pub fn tcp_shutdown(h: u32, how: u32) -> i32;
    pub fn local_addr(h: u32, ptr: *mut u8, cap: u32) -> i64;
    pub fn peer_addr(h: u32, ptr: *mut u8, cap: u32) -> i64;
    pub fn udp_bind(addr_ptr: *const u8, addr_len: u32) -> i64;
    pub fn udp_send_to(h: u32, ptr: *const u8, len: u32, addr_ptr: *const u8, addr_len: u32)
    -> i64;
    pub fn udp_recv_from(
        h: u32,
        ptr: *mut u8,
        cap: u32,
        addr_ptr: *mut u8,
        addr_cap: u32,
        addr_len_out: *mut u32,
    ) -> i64;
}

#[link(wasm_import_module = "warren:fs")]
unsafe extern "C" {
    pub fn open(path_ptr: *const u8, path_len: u32, flags: u32) -> i64;
    pub fn seek(h: u32, offset: i64, whence: u32) -> i64;
    pub fn stat(h: u32, out: *mut u8) -> i32;
    pub fn stat_path(path_ptr: *const u8, path_len: u32, out: *mut u8) -> i32;
    pub fn read_dir(path_ptr: *const u8, path_len: u32, buf: *mut u8, cap: u32) -> i64;
    pub fn create_dir(path_ptr: *const u8, path_len: u32) -> i32;
    pub fn remove_file(path_ptr: *const u8, path_len: u32) -> i32;
    pub fn remove_dir(path_ptr: *const u8, path_len: u32) -> i32;
    pub fn rename(from_ptr: *const u8, from_len: u32, to_ptr: *const u8, to_len: u32) -> i32;
    pub fn read_via_stream(h: u32, offset: u64, out: *mut u32) -> i32;
    pub fn write_via_stream(h: u32, stream: u32, offset: u64) -> i64;
    pub fn append_via_stream(h: u32, stream: u32) -> i64;
    pub fn lock(h: u32, exclusive: u32) -> i32;
    pub fn try_lock(h: u32, exclusive: u32) -> i32;
    pub fn unlock(h: u32) -> i32;
}

#[link(wasm_import_module = "warren:http")]
unsafe extern "C" {
    #[link_name = "serve"]
    pub fn http_serve(
        listener: u32,
        mode: u32,
        trampoline: u32,
        func: u32,
        args_ptr: *const u8,
        args_len: u32,
        name_ptr: *const u8,
        name_len: u32,
        out: *mut u32,
    ) -> i32;
    #[link_name = "next"]
    pub fn http_next(conn: u32) -> i64;
    pub fn request_head(req: u32, ptr: *mut u8, cap: u32) -> i64;
    pub fn request_body(req: u32, out: *mut u32) -> i32;
    pub fn respond(
        req: u32,
        status: u32,
        head_ptr: *const u8,
        head_len: u32,
        kind: u32,
        a: u32,
        b: u32,
    ) -> i64;
    pub fn upgrade(req: u32, head_ptr: *const u8, head_len: u32) -> i64;
    pub fn ws_send(ws: u32, kind: u32, ptr: *const u8, len: u32) -> i64;
    pub fn ws_receive(ws: u32, ptr: *mut u8, cap: u32, kind_out: *mut u32) -> i64;
    pub fn ws_close(ws: u32, code: u32, reason_ptr: *const u8, reason_len: u32) -> i32;
}

#[link(wasm_import_module = "warren:select")]
unsafe extern "C" {
    pub fn wait(entries: *const u8, count: u32, timeout_ms: i64) -> i32;
}
