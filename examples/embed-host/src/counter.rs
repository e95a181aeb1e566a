//! `embed:counter`, a host module of the embedder's own, written the way warren's modules are:
//! a view over the store data, and `add_to_linker(linker, getter)`.
//!
//! Counters are named and shared by every process of the runtime (the [`Counters`]
//! registry). A guest holds one through a handle in warren's per-process resource table, next
//! to its sockets and files — so a counter handle moves between processes in messages like
//! any warren handle, and errors are reported warren's way (codes and `last_error` text).
//! Each call is a method on the view returning `HostResult`; `host_calls!` registers them
//! and turns failures into error codes (recorded for `last_error`) or traps, exactly as for
//! warren's own calls.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use warren_runtime::embed::{CallState, GuestMemory, HostResult, Resource, ResourceTable};
use warren_runtime::host_calls;
use warren_runtime::wasmtime::Linker;

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
/// modules), warren's per-call state (guest memory, last error), and the registry.
pub struct CounterView<'a> {
    pub table: &'a mut ResourceTable,
    pub call: &'a mut CallState,
    pub counters: &'a Counters,
}

/// The kind name of counter handles.
pub const COUNTER: &str = "counter";

impl CounterView<'_> {
    /// `open`: a handle on the named counter.
    fn open(&mut self, mem: &GuestMemory<'_>, ptr: u32, len: u32) -> HostResult<i64> {
        let name = mem.text(ptr, len, 256, "counter's name")?;
        let counter = self.counters.open(name);
        Ok(self.table.push(Resource::new(COUNTER, counter))? as i64)
    }

    /// `add`: add to the counter; its new value.
    fn add(&mut self, h: u32, by: i64) -> HostResult<i64> {
        let counter = self.table.get_as::<Counter>(h, COUNTER)?;
        Ok(counter.value.fetch_add(by, Ordering::SeqCst) + by)
    }

    /// `get`: the counter's value.
    fn get(&mut self, h: u32) -> HostResult<i64> {
        let counter = self.table.get_as::<Counter>(h, COUNTER)?;
        Ok(counter.value.load(Ordering::SeqCst))
    }
}

pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> CounterView<'_>,
) -> anyhow::Result<()> {
    host_calls!(linker: T, "embed:counter", get, {
        // open(name_ptr, name_len) -> i64: a counter handle (ERR_BAD_ARGUMENT if the name is
        // not UTF-8 of at most 256 bytes).
        fn open(ptr: u32, len: u32) => |v, mem| v.open(mem, ptr, len);
        // add(h, by) -> i64: the new value.
        fn add(h: u32, by: i64) => |v| v.add(h, by);
        // get(h) -> i64: the value.
        fn get(h: u32) => |v| v.get(h);
    });
    Ok(())
}
