//! `warren:registry`: give a process a name others can find it by. Names are freed when the
//! process ends (see [`crate::actor::Registry`]).

use super::abi::*;
use super::guest_memory;
use super::process::ProcessCtx;
use crate::actor::{MAX_NAME, RegisterError};
use wasmtime::{Caller, Linker};

/// The view `warren:registry` needs: the process's actor state.
pub struct RegistryView<'a> {
    pub ctx: &'a mut ProcessCtx,
}

/// Read a name argument: UTF-8, 1..=MAX_NAME bytes. `Ok(None)` for a bad name (an error code
/// for the guest); a buffer outside memory traps.
fn name_arg<T>(
    c: &mut Caller<'_, T>,
    get: fn(&mut T) -> RegistryView<'_>,
    ptr: u32,
    len: u32,
    call: &'static str,
) -> wasmtime::Result<Option<String>> {
    let mem = guest_memory::memory(c, |d| &mut get(d).ctx.memory, call)?;
    if len as usize > MAX_NAME || len == 0 {
        // Still validate the buffer: a wild pointer is a bug worth trapping on.
        guest_memory::range(mem.data_size(&*c), ptr, len, call)?;
        return Ok(None);
    }
    let bytes = guest_memory::read(c, mem, ptr, len, call)?;
    Ok(String::from_utf8(bytes).ok())
}

pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> RegistryView<'_>,
) -> anyhow::Result<()> {
    let m = REGISTRY_MODULE;

    // register(name_ptr, name_len, pid) -> i32: 0; ERR_NAME_TAKEN; ERR_NO_PROCESS if `pid`
    // is not alive; ERR_BAD_ARGUMENT if the name is empty, longer than 256 bytes or not UTF-8;
    // ERR_LIMIT if `pid` has as many names as its quota allows.
    linker.func_wrap(
        m,
        "register",
        move |mut c: Caller<'_, T>, ptr: u32, len: u32, pid: i64| {
            const CALL: &str = "warren:registry.register";
            let Some(name) = name_arg(&mut c, get, ptr, len, CALL)? else {
                return Ok(ERR_BAD_ARGUMENT);
            };
            let Ok(pid) = u64::try_from(pid) else {
                return Ok(ERR_NO_PROCESS);
            };
            let ctx = get(c.data_mut()).ctx;
            wasmtime::Result::Ok(match ctx.table.register_name(&name, pid) {
                Ok(true) => 0,
                Ok(false) => ERR_NO_PROCESS,
                Err(RegisterError::Taken(..)) => ERR_NAME_TAKEN,
                Err(RegisterError::BadName) => ERR_BAD_ARGUMENT,
                Err(RegisterError::Quota(_)) => ERR_LIMIT,
            })
        },
    )?;

    // whereis(name_ptr, name_len) -> i64: the pid registered under the name, or
    // ERR_NO_PROCESS.
    linker.func_wrap(
        m,
        "whereis",
        move |mut c: Caller<'_, T>, ptr: u32, len: u32| {
            let Some(name) = name_arg(&mut c, get, ptr, len, "warren:registry.whereis")? else {
                return Ok(ERR_NO_PROCESS as i64);
            };
            let ctx = get(c.data_mut()).ctx;
            wasmtime::Result::Ok(
                ctx.table
                    .whereis(&name)
                    .map_or(ERR_NO_PROCESS as i64, |p| p as i64),
            )
        },
    )?;

    // unregister(name_ptr, name_len) -> i32: 0, or ERR_NO_PROCESS if the name was not
    // registered.
    linker.func_wrap(
        m,
        "unregister",
        move |mut c: Caller<'_, T>, ptr: u32, len: u32| {
            let Some(name) = name_arg(&mut c, get, ptr, len, "warren:registry.unregister")? else {
                return Ok(ERR_NO_PROCESS);
            };
            let ctx = get(c.data_mut()).ctx;
            wasmtime::Result::Ok(if ctx.table.unregister_name(&name).is_some() {
                0
            } else {
                ERR_NO_PROCESS
            })
        },
    )?;
    Ok(())
}
