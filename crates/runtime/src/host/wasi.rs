//! WASI preview 1 for guests (stdio, clocks, random, args, env, granted directories), from
//! wasmtime-wasi, with a per-process context built on first use.
//!
//! Most processes of an actor program never call WASI (they compute and exchange messages),
//! and a WASI context costs a few KiB of host heap and a few microseconds to build. So each
//! process holds a [`LazyWasi`]: the shared [`WasiConfig`] and, once the process makes its
//! first WASI call, its own context.

use super::wasi_stdio::{Prefixed, Which};
use crate::actor::{ExitReason, ProcessRef};
use crate::config::GrantedDir;
use std::sync::Arc;
use wasmtime::Linker;
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

/// What every process's WASI context is made of.
#[derive(Debug, Clone, Default)]
pub(crate) struct WasiConfig {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub dirs: Vec<GrantedDir>,
    /// Prefix each line of a process's stdout and stderr with its pid ([`super::wasi_stdio`]).
    pub stdio_prefix: bool,
}

impl WasiConfig {
    /// A fresh context: host stdio, the args, env and granted directories, and what could
    /// not be set up (a granted directory that can no longer be opened, e.g. for lack of file
    /// descriptors: wasmtime-wasi opens each process's preopens anew).
    pub(crate) fn build(&self, pid: Option<u64>) -> (WasiP1Ctx, Vec<String>) {
        tracing::trace!("building a WASI context");
        let mut b = WasiCtxBuilder::new();
        b.inherit_stdio().args(&self.args).envs(&self.env);
        if let Some(pid) = pid.filter(|_| self.stdio_prefix) {
            b.stdout(Prefixed::new(pid, Which::Stdout))
                .stderr(Prefixed::new(pid, Which::Stderr));
        }
        let mut failures = Vec::new();
        for d in &self.dirs {
            if let Err(e) = b.preopened_dir(&d.host, &d.guest, FsPerms::ReadWrite) {
                failures.push(format!(
                    "cannot open the granted directory {} (as {}): {e:#}",
                    d.host.display(),
                    d.guest
                ));
            }
        }
        (b.build_p1(), failures)
    }
}

/// A process's WASI context, built on first use.
pub(crate) struct LazyWasi {
    config: Arc<WasiConfig>,
    ctx: Option<WasiP1Ctx>,
    /// The process to end if the context cannot be set up completely.
    owner: Option<Arc<ProcessRef>>,
}

impl LazyWasi {
    pub(crate) fn new(config: Arc<WasiConfig>) -> Self {
        LazyWasi {
            config,
            ctx: None,
            owner: None,
        }
    }

    /// The process this context belongs to: if the context cannot be set up completely, it
    /// ends with a clear reason rather than run without a directory it was granted.
    pub(crate) fn owned_by(mut self, owner: Arc<ProcessRef>) -> Self {
        self.owner = Some(owner);
        self
    }

    pub(crate) fn get(&mut self) -> &mut WasiP1Ctx {
        if self.ctx.is_none() {
            let pid = self.owner.as_ref().map(|p| p.pid());
            let (ctx, failures) = self.config.build(pid);
            if !failures.is_empty() {
                let why = failures.join("; ");
                match &self.owner {
                    Some(p) => p.fail(ExitReason::Trap(format!("WASI: {why}"))),
                    None => tracing::warn!("{why}"),
                }
            }
            self.ctx = Some(ctx);
        }
        self.ctx.as_mut().expect("built above")
    }
}

/// Add WASI preview 1 (async, on the process's fiber) with a getter to the lazy context.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut LazyWasi,
) -> anyhow::Result<()> {
    wasmtime_wasi::p1::add_to_linker_async(linker, move |d: &mut T| get(d).get())?;
    Ok(())
}
