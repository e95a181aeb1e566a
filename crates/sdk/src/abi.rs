//! The raw imports of `docs/abi.md`. Private: safe code reaches them only through the SDK,
//! which is what keeps arbitrary integers from ever being called as functions.

// Error codes (docs/abi.md, "Conventions"), all in one place. Calls returning i64 compare
// against them widened.
pub const ERR_TIMEOUT: i32 = -1;
pub const ERR_NO_PROCESS: i32 = -2;
pub const ERR_BAD_ARGUMENT: i32 = -3;
pub const ERR_PROCESS_LIMIT: i32 = -4;
pub const ERR_NAME_TAKEN: i32 = -6;

pub const SPAWN_LINK: u32 = 1;
pub const RECEIVE_MESSAGES_AND_EXITS: i64 = -1;
pub const EXIT_TAG: u64 = 1;

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
    pub fn spawn_args(ptr: *mut u8, len: u32) -> i32;
    pub fn panic(ptr: *const u8, len: u32);
    pub fn monitor(pid: i64) -> i64;
    pub fn demonitor(pid: i64, tag: i64);
    pub fn kill(pid: i64) -> i32;
    pub fn link(pid: i64) -> i32;
    pub fn unlink(pid: i64);
    pub fn trap_exit(on: i32) -> i32;
    pub fn exit(reason_ptr: *const u8, reason_len: u32) -> !;
    pub fn exit_signal(pid: i64, reason_ptr: *const u8, reason_len: u32) -> i32;
}

#[link(wasm_import_module = "warren:message")]
unsafe extern "C" {
    pub fn send(pid: i64, tag: i64, ptr: *const u8, len: u32) -> i32;
    pub fn receive(tag: i64, ptr: *mut u8, cap: u32, timeout_ms: i64, tag_out: *mut u64) -> i64;
    pub fn take(ptr: *mut u8, len: u32) -> i32;
    pub fn new_tag() -> i64;
}

#[link(wasm_import_module = "warren:registry")]
unsafe extern "C" {
    pub fn register(name_ptr: *const u8, name_len: u32, pid: i64) -> i32;
    pub fn whereis(name_ptr: *const u8, name_len: u32) -> i64;
    pub fn unregister(name_ptr: *const u8, name_len: u32) -> i32;
}

#[link(wasm_import_module = "warren:timer")]
unsafe extern "C" {
    pub fn sleep(ms: i64);
    pub fn send_after(pid: i64, ptr: *const u8, len: u32, delay_ms: i64) -> i64;
    pub fn cancel(id: i64) -> i32;
}
