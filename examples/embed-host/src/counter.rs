//! `embed:counter`, a host module of the embedder's own, written the way warren's modules are:
//! a view over the store data, and `add_to_linker(linker, getter)`.
//!
//! Counters are named and shared by every process of the runtime (the [`Counters`]
//! registry). A guest holds one through a handle in warren's per-process resource table, next
//! to its sockets and files — so a counter handle moves between processes in messages like
//! any warren handle, and errors are reported warren's way (codes and `last_error` text).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use warren_runtime::host::abi::ERR_BAD_ARGUMENT;
use warren_runtime::host::guest_memory;
use warren_runtime::host::io_bridge::{bad_handle, failed, install};
use warren_runtime::io::IoFailure;
use warren_runtime::{Resource, ResourceTable};
use wasmtime::{Caller, Linker, Memory};

/// One counter.
#[derive(Debug)]
pub struct Counter {
    pub value: AtomicI64,
}

/// Every counter of a runtime, by name.
#[derive(Debug, Default)]
pub struct Counters {
    by_name: Mutex<HashMap<String, Arc<Counter>>>,
}

impl Counters {
    fn open(&self, name: &str) -> Arc<Counter> {
        let mut map = self.by_name.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(name.to_string())
            .or_insert_with(|| {
                Arc::new(Counter {
                    value: AtomicI64::new(0),
                })
            })
            .clone()
    }

    /// The value of counter `name` (0 if never opened).
    pub fn value(&self, name: &str) -> i64 {
        let map = self.by_name.lock().unwrap_or_else(|p| p.into_inner());
        map.get(name).map_or(0, |c| c.value.load(Ordering::SeqCst))
    }
}

/// What the module needs of the store: warren's resource table (shared with warren's own
/// modules), the guest memory slot, and the registry.
pub struct CounterView<'a> {
    pub table: &'a mut ResourceTable,
    pub memory: &'a mut Option<Memory>,
    pub counters: &'a Counters,
}

/// The kind name of counter handles.
pub const COUNTER: &str = "counter";

pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> CounterView<'_>,
) -> anyhow::Result<()> {
    // open(name_ptr, name_len) -> i64: a counter handle.
    linker.func_wrap(
        "embed:counter",
        "open",
        move |mut c: Caller<'_, T>, ptr: u32, len: u32| {
            const CALL: &str = "embed:counter.open";
            let mem = guest_memory::memory(&mut c, |d| get(d).memory, CALL)?;
            let bytes = guest_memory::read(&c, mem, ptr, len.min(256), CALL)?;
            let v = get(c.data_mut());
            let Ok(name) = String::from_utf8(bytes) else {
                return Ok(failed(
                    v.table,
                    CALL,
                    IoFailure::new(ERR_BAD_ARGUMENT, "the counter's name is not UTF-8"),
                ));
            };
            let counter = v.counters.open(&name);
            wasmtime::Result::Ok(install(v.table, CALL, Resource::new(COUNTER, counter)))
        },
    )?;

    // add(h, by) -> i64: the new value.
    linker.func_wrap(
        "embed:counter",
        "add",
        move |mut c: Caller<'_, T>, h: u32, by: i64| {
            let v = get(c.data_mut());
            wasmtime::Result::Ok(match v.table.get_as::<Counter>(h, COUNTER) {
                Ok(counter) => counter.value.fetch_add(by, Ordering::SeqCst) + by,
                Err(e) => bad_handle(v.table, "embed:counter.add", e),
            })
        },
    )?;

    // get(h) -> i64: the value.
    linker.func_wrap(
        "embed:counter",
        "get",
        move |mut c: Caller<'_, T>, h: u32| {
            let v = get(c.data_mut());
            wasmtime::Result::Ok(match v.table.get_as::<Counter>(h, COUNTER) {
                Ok(counter) => counter.value.load(Ordering::SeqCst),
                Err(e) => bad_handle(v.table, "embed:counter.get", e),
            })
        },
    )?;
    Ok(())
}
