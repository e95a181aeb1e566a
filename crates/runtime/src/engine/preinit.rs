//! Module pre-initialisation: what every process of a module does first, done once.
//!
//! A warren process starts from the module's memory image, mapped copy-on-write. Whatever a
//! process writes at start — the SDK's panic hook, the allocator's first chunk and its
//! footer at the end of the heap, the receive buffer — is a private page in every process
//! and time spent in every spawn. A module exporting `warren_preinit` (the SDK does) has it
//! run once, when the module is loaded: the module is instrumented (Wizer's first half,
//! `wasmtime-wizer`), instantiated on the runtime's own engine with every import a trap,
//! `warren_preinit` is called, and the memory and globals it leaves are written back into
//! the module as its data (Wizer's second half). Processes then start from that image:
//! pages the start-up wrote are shared image pages until a process writes them itself.
//!
//! Nothing here can stop a module from loading: a module without the export, one Wizer
//! cannot instrument (imported memories, table mutations) or whose `warren_preinit` traps
//! (it called an import) runs as it is, and the reason is logged. It is off unless asked
//! for (`RuntimeConfig::preinit`, `warren run --preinit`): docs/benchmarks.md has why.

use wasmtime::{Engine, Instance, Linker, Module, Store};
use wasmtime_wizer::{InstanceState, SnapshotVal, ValType, Wizer};

/// `bytes` pre-initialised, or why not (`None`: the module does not ask for it).
pub(super) fn preinitialise(engine: &Engine, bytes: &[u8]) -> Option<Result<Vec<u8>, String>> {
    // The text format is compiled to binary first (a bad text fails to compile later, with
    // the compiler's error).
    let bytes = wat::parse_bytes(bytes).ok()?;
    let bytes = &bytes[..];
    if !exports(bytes, warren_abi::PREINIT_EXPORT) {
        return None;
    }
    // Wizer's side and the snapshot expect what Wizer itself made; a module it did not
    // foresee must not take the host down.
    Some(
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(engine, bytes)))
            .unwrap_or_else(|_| Err("the snapshot failed (a panic in Wizer)".to_string())),
    )
}

/// Where the module's first data segment starts (its lowest constant offset): below it,
/// with wasm-ld's stack-first layout, is the shadow stack (otherwise the unused first KiB).
fn data_start(bytes: &[u8]) -> usize {
    let mut lo = usize::MAX;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let Ok(wasmparser::Payload::DataSection(data)) = payload else {
            continue;
        };
        for d in data.into_iter().flatten() {
            if let wasmparser::DataKind::Active { offset_expr, .. } = d.kind
                && let Some(Ok(wasmparser::Operator::I32Const { value })) =
                    offset_expr.get_operators_reader().into_iter().next()
            {
                lo = lo.min(value as u32 as usize);
            }
        }
    }
    if lo == usize::MAX { 0 } else { lo }
}

/// Whether the binary module `bytes` exports a function `name`.
fn exports(bytes: &[u8], name: &str) -> bool {
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload {
            Ok(wasmparser::Payload::ExportSection(exports)) => {
                return exports.into_iter().any(|e| {
                    e.is_ok_and(|e| e.name == name && e.kind == wasmparser::ExternalKind::Func)
                });
            }
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    false
}

fn run(engine: &Engine, bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut wizer = Wizer::new();
    wizer.init_func(warren_abi::PREINIT_EXPORT);
    let (cx, instrumented) = wizer
        .instrument(bytes)
        .map_err(|e| format!("instrumenting: {e:#}"))?;
    let module = Module::new(engine, &instrumented).map_err(|e| format!("compiling: {e:#}"))?;
    let mut store = Store::new(engine, ());
    // The engine interrupts on epochs and may count fuel: neither stops this call.
    store.set_epoch_deadline(u64::MAX);
    let _ = store.set_fuel(u64::MAX);
    let mut linker = Linker::new(engine);
    linker
        .define_unknown_imports_as_traps(&module)
        .map_err(|e| format!("linking: {e:#}"))?;
    finish_now(async {
        let instance = linker
            .instantiate_async(&mut store, &module)
            .await
            .map_err(|e| format!("instantiating: {e:#}"))?;
        instance
            .get_typed_func::<(), ()>(&mut store, warren_abi::PREINIT_EXPORT)
            .map_err(|e| format!("{e:#}"))?
            .call_async(&mut store, ())
            .await
            .map_err(|e| format!("`{}` trapped: {e:#}", warren_abi::PREINIT_EXPORT))?;
        let mut state = State {
            store: &mut store,
            instance,
            dead: data_start(bytes),
        };
        wizer
            .snapshot(&cx, &mut state)
            .await
            .map_err(|e| format!("snapshotting: {e:#}"))
    })?
}

/// Run `f`, which never waits (no import can be called, no epoch yields), to its end.
fn finish_now<F: Future>(f: F) -> Result<F::Output, String> {
    let mut f = std::pin::pin!(f);
    match f
        .as_mut()
        .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
    {
        std::task::Poll::Ready(v) => Ok(v),
        std::task::Poll::Pending => Err("the instance waited".to_string()),
    }
}

/// The instance's state, for Wizer's snapshot.
struct State<'a> {
    store: &'a mut Store<()>,
    instance: Instance,
    /// Bytes at the start of memory left as zeros: the shadow stack, whose frames are dead
    /// once `warren_preinit` returned (kept, they would make the image pages longer, and
    /// every process would map them).
    dead: usize,
}

impl InstanceState for State<'_> {
    async fn global_get(&mut self, name: &str, _: ValType) -> SnapshotVal {
        let global = self
            .instance
            .get_global(&mut *self.store, name)
            .expect("Wizer asks only for the globals it exported");
        match global.get(&mut *self.store) {
            wasmtime::Val::I32(x) => SnapshotVal::I32(x),
            wasmtime::Val::I64(x) => SnapshotVal::I64(x),
            wasmtime::Val::F32(x) => SnapshotVal::F32(x),
            wasmtime::Val::F64(x) => SnapshotVal::F64(x),
            wasmtime::Val::V128(x) => SnapshotVal::V128(x.as_u128()),
            other => panic!("Wizer snapshots no global of type {other:?}"),
        }
    }

    async fn memory_contents(&mut self, name: &str, contents: impl FnOnce(&[u8]) + Send) {
        let memory = self
            .instance
            .get_memory(&mut *self.store, name)
            .expect("Wizer asks only for the memories it exported");
        let data = memory.data(&*self.store);
        let dead = self.dead.min(data.len());
        if data[..dead].iter().all(|&b| b == 0) {
            return contents(data);
        }
        let mut copy = data.to_vec();
        copy[..dead].fill(0);
        contents(&copy)
    }
}
