//! `warren:registry`: give a process a name others can find it by. Names are freed when the
//! process ends (see [`crate::actor::Registry`]).

use super::abi::*;
use super::call::{CallState, GuestMemory, HostError, HostResult, pid_arg};
use crate::actor::{MAX_NAME, RegisterError};
use crate::context::ProcessCtx;
use wasmtime::Linker;

/// The view `warren:registry` needs: the process's actor state.
pub(crate) struct RegistryView<'a> {
    /// The per-process actor state.
    pub ctx: &'a mut ProcessCtx,
    /// Memory and last error.
    pub call: &'a mut CallState,
}

/// A name argument: UTF-8, 1..=MAX_NAME bytes, else ERR_BAD_ARGUMENT.
fn name_arg<'m>(mem: &'m GuestMemory<'_>, ptr: u32, len: u32) -> HostResult<&'m str> {
    let name = mem.text(ptr, len, MAX_NAME as u32, "name")?;
    if name.is_empty() {
        return Err(HostError::bad_argument("the name is empty"));
    }
    Ok(name)
}

impl RegistryView<'_> {
    /// `register`: name `pid`.
    pub(crate) fn register(
        &mut self,
        mem: &GuestMemory<'_>,
        ptr: u32,
        len: u32,
        pid: i64,
    ) -> HostResult<i32> {
        let name = name_arg(mem, ptr, len)?;
        let pid = pid_arg(pid)?;
        match self.ctx.table.register_name(name, pid) {
            Ok(true) => Ok(0),
            Ok(false) => Err(HostError::fail(ERR_NO_PROCESS, format!("no process {pid}"))),
            Err(e @ RegisterError::Taken(..)) => {
                Err(HostError::fail(ERR_NAME_TAKEN, e.to_string()))
            }
            Err(e @ RegisterError::BadName) => Err(HostError::bad_argument(e.to_string())),
            Err(e @ RegisterError::Quota(_)) => Err(HostError::fail(ERR_LIMIT, e.to_string())),
        }
    }

    /// `whereis`: the pid registered under a name.
    pub(crate) fn whereis(&mut self, mem: &GuestMemory<'_>, ptr: u32, len: u32) -> HostResult<i64> {
        let name = name_arg(mem, ptr, len).map_err(no_such_name)?;
        match self.ctx.table.whereis(name) {
            Some(pid) => Ok(pid as i64),
            None => Err(HostError::fail(
                ERR_NO_PROCESS,
                format!("no process is named {name:?}"),
            )),
        }
    }

    /// `unregister`: free a name.
    pub(crate) fn unregister(
        &mut self,
        mem: &GuestMemory<'_>,
        ptr: u32,
        len: u32,
    ) -> HostResult<i32> {
        let name = name_arg(mem, ptr, len).map_err(no_such_name)?;
        match self.ctx.table.unregister_name(name) {
            Some(_) => Ok(0),
            None => Err(HostError::fail(
                ERR_NO_PROCESS,
                format!("no process is named {name:?}"),
            )),
        }
    }
}

/// A name that cannot be registered is registered to no process (a fault still traps).
fn no_such_name(e: HostError) -> HostError {
    match e {
        HostError::Fail { message, .. } => HostError::fail(ERR_NO_PROCESS, message),
        other => other,
    }
}

/// Add `warren:registry` to `linker`; `get` projects the store data onto its view.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> RegistryView<'_>,
) -> anyhow::Result<()> {
    crate::host_calls!(linker: T, REGISTRY_MODULE, get, {
        // register(name_ptr, name_len, pid) -> i32: 0; ERR_NAME_TAKEN; ERR_NO_PROCESS if
        // `pid` is not alive; ERR_BAD_ARGUMENT if the name is empty, longer than 256 bytes or
        // not UTF-8; ERR_LIMIT if `pid` has as many names as its quota allows.
        fn register(ptr: u32, len: u32, pid: i64) => |v, mem| v.register(mem, ptr, len, pid);

        // whereis(name_ptr, name_len) -> i64: the pid registered under the name, or
        // ERR_NO_PROCESS.
        fn whereis(ptr: u32, len: u32) => |v, mem| v.whereis(mem, ptr, len);

        // unregister(name_ptr, name_len) -> i32: 0, or ERR_NO_PROCESS if the name was not
        // registered.
        fn unregister(ptr: u32, len: u32) => |v, mem| v.unregister(mem, ptr, len);
    });
    Ok(())
}
