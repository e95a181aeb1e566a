//! WASI preview 1 for guests (stdio, clocks, random, args, env, granted directories), from
//! wasmtime-wasi, with a per-process context built on first use.
//!
//! Most processes of an actor program never call WASI (they compute and exchange messages),
//! and a WASI context costs a few KiB of host heap and a few microseconds to build. So each
//! process holds a [`LazyWasi`]: the shared [`WasiConfig`] and, once the process makes its
//! first WASI call, its own context.

use crate::runtime::GrantedDir;
use std::sync::Arc;
use wasmtime::Linker;
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

/// What every process's WASI context is made of.
#[derive(Debug, Clone, Default)]
pub struct WasiConfig {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub dirs: Vec<GrantedDir>,
}

impl WasiConfig {
    /// A fresh context: host stdio, the args, env and granted directories. A directory that
    /// can no longer be opened is left out with a warning rather than failing the process.
    pub fn build(&self) -> WasiP1Ctx {
        tracing::trace!("building a WASI context");
        let mut b = WasiCtxBuilder::new();
        b.inherit_stdio().args(&self.args).envs(&self.env);
        for d in &self.dirs {
            if let Err(e) = b.preopened_dir(&d.host, &d.guest, FsPerms::ReadWrite) {
                tracing::warn!("cannot grant {} as {}: {e}", d.host.display(), d.guest);
            }
        }
        b.build_p1()
    }
}

/// A process's WASI context, built on first use.
pub struct LazyWasi {
    config: Arc<WasiConfig>,
    ctx: Option<WasiP1Ctx>,
}

impl LazyWasi {
    pub fn new(config: Arc<WasiConfig>) -> Self {
        LazyWasi { config, ctx: None }
    }

    pub fn get(&mut self) -> &mut WasiP1Ctx {
        let config = &self.config;
        self.ctx.get_or_insert_with(|| config.build())
    }
}

/// Add WASI preview 1 (async, on the process's fiber) with a getter to the lazy context.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut LazyWasi,
) -> anyhow::Result<()> {
    wasmtime_wasi::p1::add_to_linker_async(linker, move |d: &mut T| get(d).get())?;
    Ok(())
}
