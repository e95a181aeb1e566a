//! How a spawned process starts, and how panics are reported.
//!
//! The host enters a spawned process through the exported `warren_entry(trampoline, func,
//! args_len)`. `trampoline` is the table index of `trampoline::<C, M>` and `func` that of the
//! user's `fn(C, Mailbox<M>)`, both taken by [`crate::spawn`] from real `fn` values of exactly
//! those types. The two `transmute`s below are the SDK's only conversions of integers into
//! functions, and they are fed only what `spawn` produced: the module is the same in parent
//! and child, so a table index names the same function in both.

use crate::abi;
use crate::mailbox::Mailbox;
use serde::de::DeserializeOwned;
use std::sync::Once;

/// Module pre-initialisation: the host calls this once when it loads the module, before any
/// process exists, and keeps the memory it leaves as the image every process starts from
/// (Wizer's snapshot). What it does here no process does again: the panic hook, the logger, the
/// allocator's first chunk, the receive buffer. It must call no import (the host refuses
/// the snapshot if it does, and runs the module as it is).
#[unsafe(no_mangle)]
pub extern "C" fn warren_preinit() {
    install_hooks();
    crate::raw::make_buffer();
}

#[unsafe(no_mangle)]
pub extern "C" fn warren_entry(trampoline: u32, func: u32, args_len: u32) {
    install_hooks();
    let args = captures(args_len);
    // SAFETY: see the module docs: `trampoline` is the index of a `fn(usize, Vec<u8>)` that
    // `spawn` took from `trampoline::<C, M>`.
    let trampoline: fn(usize, Vec<u8>) = unsafe { std::mem::transmute(trampoline as usize) };
    trampoline(func as usize, args);
}

/// The captures the host holds for this new instance, `args_len` bytes.
pub(crate) fn captures(args_len: u32) -> Vec<u8> {
    let mut args = vec![0u8; args_len as usize];
    // SAFETY: `args` is a live buffer of exactly `args_len` bytes, written during the call.
    let rc = unsafe { abi::spawn_args(args.as_mut_ptr(), args_len) };
    assert_eq!(
        rc, 0,
        "warren: the host holds no captures of {args_len} bytes for this instance"
    );
    args
}

/// Decode the captures as `C` and call the user's entry as `fn(C, Mailbox<M>)`.
pub(crate) fn trampoline<C: DeserializeOwned, M: DeserializeOwned>(func: usize, args: Vec<u8>) {
    // SAFETY: `func` is the index `spawn::<C, M>` took from a `fn(C, Mailbox<M>)`; this
    // trampoline was chosen by the same call, so the types agree.
    let entry: fn(C, Mailbox<M>) = unsafe { std::mem::transmute(func) };
    let captures: C = match crate::handle::decode_message(&args) {
        Ok(c) => c,
        Err(e) => panic!(
            "warren: cannot decode the captures as `{}`: {e}",
            std::any::type_name::<C>()
        ),
    };
    entry(captures, Mailbox::new());
}

/// Install the panic hook and the logger before `main` too: wasm-ld runs `.init_array` entries from `_start`
/// (`__wasm_call_ctors`), so even a root process that panics before touching the SDK reports
/// its panic message as its exit reason.
#[used]
#[unsafe(link_section = ".init_array")]
static INSTALL_PANIC_HOOK_BEFORE_MAIN: extern "C" fn() = {
    extern "C" fn install() {
        install_hooks();
    }
    install
};

/// The panic hook and the logger (`crate::logging`), installed once per process (statics are
/// per process).
pub(crate) fn install_hooks() {
    install_panic_hook();
    #[cfg(feature = "log")]
    crate::logging::install();
}

/// Report panics to the host, which makes the message the exit reason and logs the crash as
/// one line (pid, name, reason) through its logger. The default hook's print to stderr is
/// left out: it would say the same again, without the pid, interleaved with other output.
fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(move |info| {
            let message = info.payload_as_str().unwrap_or("Box<dyn Any>");
            let text = match info.location() {
                Some(l) => format!("{message} at {}:{}:{}", l.file(), l.line(), l.column()),
                None => message.to_string(),
            };
            // SAFETY: pointer and length of `text`, read by the host during the call.
            unsafe { abi::panic(text.as_ptr(), text.len() as u32) };
        }));
    });
}
