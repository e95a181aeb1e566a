//! Bounds-checked access to a calling guest's linear memory.
//!
//! Slices handed out here borrow the guest memory for the duration of one host call only
//! (design rule 1): the caller is suspended in that call, so the memory cannot change under
//! us, and nothing keeps the slice past the return.

use wasmtime::{Caller, Extern, Memory};

/// A trap raised because a guest passed something no correct guest passes.
#[derive(Debug, thiserror::Error)]
#[error("{call}: {problem}")]
pub struct GuestFault {
    pub call: &'static str,
    pub problem: String,
}

impl GuestFault {
    pub fn trap(call: &'static str, problem: impl Into<String>) -> wasmtime::Error {
        wasmtime::Error::new(GuestFault {
            call,
            problem: problem.into(),
        })
    }
}

/// The calling instance's exported memory, looked up by name once and then kept in `slot`
/// (a field of the process's state): host calls are hot, export lookups are not free.
pub fn memory<T>(
    caller: &mut Caller<'_, T>,
    slot: impl Fn(&mut T) -> &mut Option<Memory>,
    call: &'static str,
) -> wasmtime::Result<Memory> {
    if let Some(m) = *slot(caller.data_mut()) {
        return Ok(m);
    }
    match caller.get_export("memory") {
        Some(Extern::Memory(m)) => {
            *slot(caller.data_mut()) = Some(m);
            Ok(m)
        }
        _ => Err(GuestFault::trap(
            call,
            "the module exports no memory named `memory`",
        )),
    }
}

/// Check that `[ptr, ptr + len)` lies inside a memory of `size` bytes and return it as a range.
pub fn range(
    size: usize,
    ptr: u32,
    len: u32,
    call: &'static str,
) -> wasmtime::Result<std::ops::Range<usize>> {
    let start = ptr as usize;
    match start.checked_add(len as usize) {
        Some(end) if end <= size => Ok(start..end),
        _ => Err(GuestFault::trap(
            call,
            format!("buffer at {ptr:#x} of {len} bytes is outside linear memory ({size} bytes)"),
        )),
    }
}

/// Copy `len` bytes at `ptr` out of the guest.
pub fn read<T>(
    caller: &Caller<'_, T>,
    memory: Memory,
    ptr: u32,
    len: u32,
    call: &'static str,
) -> wasmtime::Result<Vec<u8>> {
    let data = memory.data(caller);
    let r = range(data.len(), ptr, len, call)?;
    Ok(data[r].to_vec())
}

/// Copy `bytes` into the guest at `ptr`, which must have room for all of them.
pub fn write<T>(
    caller: &mut Caller<'_, T>,
    memory: Memory,
    ptr: u32,
    bytes: &[u8],
    call: &'static str,
) -> wasmtime::Result<()> {
    let data = memory.data_mut(caller);
    let len = u32::try_from(bytes.len()).map_err(|_| {
        GuestFault::trap(
            call,
            format!("{} bytes do not fit a wasm32 buffer", bytes.len()),
        )
    })?;
    let r = range(data.len(), ptr, len, call)?;
    data[r].copy_from_slice(bytes);
    Ok(())
}
