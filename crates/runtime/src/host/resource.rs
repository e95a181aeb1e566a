//! `warren:resource`: what applies to every handle — dropping it, and the text of the last
//! failed call. Moving handles between processes is part of `warren:message` (`attach`,
//! `claim`), because handles move inside messages.

use super::abi::*;
use super::call::{CallState, GuestMemory, HostResult};
use crate::resources::ResourceTable;
use wasmtime::Linker;

/// The view `warren:resource` needs.
pub(crate) struct ResourceView<'a> {
    /// The process's handles.
    pub table: &'a mut ResourceTable,
    /// Memory and last error.
    pub call: &'a mut CallState,
}

impl ResourceView<'_> {
    /// `drop`: remove a handle.
    pub(crate) fn drop(&mut self, h: u32) -> HostResult<i32> {
        drop(self.table.remove(h)?);
        Ok(0)
    }

    /// `last_error`: the text of the last failed call.
    pub(crate) fn last_error(
        &mut self,
        mem: &mut GuestMemory<'_>,
        ptr: u32,
        cap: u32,
    ) -> HostResult<i64> {
        mem.write_text(ptr, cap, self.call.last_error().as_bytes())
    }
}

/// Add `warren:resource` to `linker`; `get` projects the store data onto its view.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> ResourceView<'_>,
) -> anyhow::Result<()> {
    crate::host_calls!(linker: T, RESOURCE_MODULE, get, {
        // drop(h) -> i32: remove the handle. The object behind it lives on while anything
        // else refers to it; the last reference closes it. ERR_BAD_HANDLE if it is not open.
        fn drop(h: u32) => |v| v.drop(h);

        // last_error(ptr, cap) -> i64: the text of the caller's last failed call (which call,
        // what was being done and why), at ptr if it fits cap; returns its length.
        fn last_error(ptr: u32, cap: u32) => |v, mem| v.last_error(mem, ptr, cap);
    });
    Ok(())
}
