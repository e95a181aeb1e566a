//! A version of the program: the module a process's instances are made from.
//!
//! Each process runs one version for as long as its instance lives, and keeps it across a
//! hibernation (the version is part of what a process keeps, with its handles and actor
//! state). Today a runtime holds one version, the module it was built with; hot code upgrade
//! (docs/upgrade.md, issue 26) adds a second and chooses per start which one runs.

use crate::process::{ModuleExports, StoreData};
use wasmtime::InstancePre;

/// One compiled version of the program, ready to instantiate.
pub(crate) struct Version<T: StoreData> {
    /// The module, linked against the runtime's host modules once.
    pub(crate) pre: InstancePre<T>,
    /// SHA-256 of the module's bytes (a remote spawn names the version it needs by it).
    pub(crate) hash: [u8; 32],
    /// Its entry points and memory, looked up by name once.
    pub(crate) exports: ModuleExports,
}

impl<T: StoreData> Version<T> {
    /// A version of the program: `pre`'s module, whose bytes hash to `hash`.
    pub(crate) fn new(pre: InstancePre<T>, hash: [u8; 32]) -> Self {
        let exports = ModuleExports::of(pre.module());
        Version { pre, hash, exports }
    }

    /// The module.
    pub(crate) fn module(&self) -> &wasmtime::Module {
        self.pre.module()
    }
}
