//! `warren:resource`: what applies to every handle — dropping it, and the text of the last
//! I/O error. Moving handles between processes is part of `warren:message` (`attach`,
//! `claim`), because handles move inside messages.

use super::abi::*;
use super::guest_memory;
use super::io_bridge::{self, bad_handle};
use crate::resources::ResourceTable;
use wasmtime::{Caller, Linker, Memory};

/// The view `warren:resource` needs.
pub struct ResourceView<'a> {
    pub table: &'a mut ResourceTable,
    pub memory: &'a mut Option<Memory>,
}

pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> ResourceView<'_>,
) -> anyhow::Result<()> {
    let m = RESOURCE_MODULE;

    // drop(h) -> i32: remove the handle. The object behind it lives on while anything else
    // refers to it; the last reference closes it. ERR_BAD_HANDLE if it is not open.
    linker.func_wrap(m, "drop", move |mut c: Caller<'_, T>, h: u32| -> i32 {
        let table = get(c.data_mut()).table;
        match table.remove(h) {
            Ok(r) => {
                drop(r);
                0
            }
            Err(e) => bad_handle(table, "warren:resource.drop", e) as i32,
        }
    })?;

    // last_error(ptr, cap) -> i64: the text of the caller's last failed I/O call (what was
    // being done and the OS's reason), at ptr if it fits cap; returns its length.
    linker.func_wrap(
        m,
        "last_error",
        move |mut c: Caller<'_, T>, ptr: u32, cap: u32| {
            const CALL: &str = "warren:resource.last_error";
            let mem = guest_memory::memory(&mut c, |d| get(d).memory, CALL)?;
            let text = get(c.data_mut()).table.last_error.clone();
            io_bridge::write_text(&mut c, mem, ptr, cap, text.as_bytes(), CALL)
        },
    )?;
    Ok(())
}
