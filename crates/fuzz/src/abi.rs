//! Every host function of warren's ABI, from the one table of them (`warren_abi::calls`), with
//! what each parameter means, so the generator can pick hostile values of the right kind for it.
//!
//! If that table and the runtime disagree on a signature, linking the generated module fails
//! and the fuzzer stops with the linker's error (and `warren-runtime`'s tests check the linker
//! against the table).

use std::sync::LazyLock;

use warren_abi::calls::{CALLS, Kind};

/// What a parameter is, which decides the values tried for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    /// A pointer into guest memory (i32).
    Ptr,
    /// A byte length or a count (i32).
    Len,
    /// A resource handle (i32).
    Handle,
    /// A small enum-like number: flags, kinds, modes, `how`, `whence` (i32).
    Small,
    /// A table index (i32): spawn's trampoline and function.
    Index,
    /// A process id (i64).
    Pid,
    /// A message tag, reference or timer id (i64).
    Tag,
    /// Milliseconds: a timeout or a delay (i64; negative may mean forever).
    Millis,
    /// Any other i64: a seek offset, a memory or fuel limit, a node.
    Wide,
}

impl Arg {
    pub fn is_i64(self) -> bool {
        matches!(self, Arg::Pid | Arg::Tag | Arg::Millis | Arg::Wide)
    }

    fn of(kind: Kind) -> Arg {
        match kind {
            Kind::Index => Arg::Index,
            Kind::Handle => Arg::Handle,
            Kind::Len => Arg::Len,
            Kind::Pid => Arg::Pid,
            Kind::Tag => Arg::Tag,
            Kind::Millis => Arg::Millis,
            k if k == Kind::Addr || k.is_pointer() => Arg::Ptr,
            // Other numbers: node numbers, limits, offsets; flags, modes, switches.
            k if k.wasm() == "i64" => Arg::Wide,
            _ => Arg::Small,
        }
    }
}

/// One host function: module, name, parameters, and whether it returns i32, i64 or nothing.
pub struct HostFn {
    pub module: &'static str,
    pub name: &'static str,
    pub params: Vec<Arg>,
    pub result: Option<&'static str>,
}

/// The host functions a guest can call (WASI preview 1, from wasmtime-wasi, is left out).
pub static HOST_FNS: LazyLock<Vec<HostFn>> = LazyLock::new(|| {
    CALLS
        .iter()
        .map(|c| HostFn {
            module: c.module,
            name: c.name,
            params: c.params.iter().map(|p| Arg::of(p.kind)).collect(),
            result: c.ret.wasm(),
        })
        .collect()
});
