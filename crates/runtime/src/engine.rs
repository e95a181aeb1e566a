//! The wasmtime engine warren runs every process on, and loading modules into it.
//!
//! - Pooling instance allocator sized for the process limit: every process takes one slot of
//!   each pool (instance, memory, table, async stack), so spawning is a slot pick plus a
//!   copy-on-write mapping of the module's memory image, not an mmap of fresh memory.
//! - Each memory slot reserves only the per-process memory limit (explicit bounds checks
//!   instead of 4 GiB guard regions) so a million slots fit in the address space.
//! - Epoch interruption: a ticker thread bumps the epoch (every [`EPOCH_TICK`] while
//!   processes compute, every [`IDLE_TICK`] otherwise); a process still running at the tick
//!   after its slice began yields to the scheduler (see [`crate::process`]).
//! - Compiled modules are cached on disk by content hash, so a second run does not recompile.
//! - On request (`RuntimeConfig::preinit`), a module exporting `warren_preinit` is
//!   pre-initialised when it is compiled ([`preinit`]): processes start from the memory its
//!   start-up leaves, shared, instead of each redoing it.
//!
//! Linux caps the number of memory mappings per process (`vm.max_map_count`, 65530 by
//! default) and every live wasm process costs several. [`map_count_limit`] turns that into a
//! process count, so warren can say what to raise instead of failing with ENOMEM.

mod preinit;

use anyhow::Context;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, Module, PoolingAllocationConfig,
};

/// How often the epoch advances while some process computes: every process yields at the
/// tick after it started, came back from a wait or last yielded (a time slice of at most
/// one tick).
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(1);

/// How often the epoch advances while no process computes (none was preempted twice in a row
/// without waiting in between).
///
/// The ticker is a thread, and on a small machine its wake-ups are not free: ticking every
/// millisecond cost a ping-pong between two processes ~20% of its round trips (1.47-1.57 us
/// against 1.19-1.27 us ticking every 10 ms, 2 workers) with nothing to preempt — the same
/// with a ticker that did not even advance the epoch. So the ticker runs slow until a process
/// is seen computing, then fast for [`FAST_TICKS`] ticks after the last time it was.
pub(crate) const IDLE_TICK: Duration = Duration::from_millis(10);

/// How many fast ticks follow a process seen computing.
pub(crate) const FAST_TICKS: u32 = 32;

/// Size of each process's async (fiber) stack. Wasm frames and host calls run on it.
pub(crate) const ASYNC_STACK: usize = 256 * 1024;
/// Most of the fiber stack wasm may use; the rest is headroom for host calls.
pub(crate) const MAX_WASM_STACK: usize = 192 * 1024;

/// Dirty bytes of a freed memory or table slot reset in place (and kept resident) rather
/// than decommitted, when PAGEMAP_SCAN is available.
pub(crate) const KEEP_RESIDENT: usize = 256 * 1024;
/// Top of a freed fiber stack zeroed in place and kept resident (the part a process uses).
pub(crate) const STACK_KEEP_RESIDENT: usize = 16 * 1024;

/// Memory mappings one live process costs, measured: memory slot, table slot, fiber stack
/// (each an accessible region next to a guard) plus slack for the copy-on-write image.
pub(crate) const MAPS_PER_PROCESS: u64 = 6;
/// Mappings left for everything else in the host process (libraries, heap, threads).
const MAPS_RESERVED: u64 = 4096;

/// The knobs of the engine; see [`crate::RuntimeConfig`] for defaults.
#[derive(Debug, Clone)]
pub(crate) struct EngineConfig {
    pub max_processes: usize,
    /// Maximum linear memory per process, in bytes (rounded up to 64 KiB pages).
    pub max_memory: usize,
    /// Count fuel (instructions, roughly) so processes can have a compute budget. Costs
    /// speed in all wasm code, so it is only on when a budget is configured.
    pub consume_fuel: bool,
}

pub(crate) fn build_engine(cfg: &EngineConfig) -> anyhow::Result<Engine> {
    let max_memory = cfg.max_memory.div_ceil(65536) * 65536;
    let n = u32::try_from(cfg.max_processes).context("the process limit is larger than 2^32")?;
    let pagemap = PoolingAllocationConfig::is_pagemap_scan_available();
    let mut pool = PoolingAllocationConfig::new();
    pool.total_core_instances(n)
        .total_memories(n)
        .total_tables(n)
        .total_stacks(n)
        .total_component_instances(0)
        .max_memories_per_module(1)
        .max_tables_per_module(1)
        .max_memory_size(max_memory)
        // Reuse without page faults: when a process ends, reset only the pages it dirtied
        // (found with Linux's PAGEMAP_SCAN, kernel >= 6.7) up to KEEP_RESIDENT bytes and keep
        // them mapped, so the next process in that slot does not fault them in again. Without
        // PAGEMAP_SCAN, wasmtime would memset the *first* bytes instead, which for a Rust
        // guest are the untouched bottom of its stack: so only keep memory resident with it.
        .pagemap_scan(Enabled::Auto)
        .linear_memory_keep_resident(if pagemap { KEEP_RESIDENT } else { 0 })
        .table_keep_resident(if pagemap { KEEP_RESIDENT } else { 0 })
        .async_stack_keep_resident(STACK_KEEP_RESIDENT)
        .max_unused_warm_slots(1024);

    let mut config = Config::new();
    config
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
        .memory_reservation(max_memory as u64)
        .memory_guard_size(0)
        .memory_reservation_for_growth(0)
        .memory_init_cow(true)
        .epoch_interruption(true)
        .consume_fuel(cfg.consume_fuel)
        .async_stack_size(ASYNC_STACK)
        .max_wasm_stack(MAX_WASM_STACK)
        .wasm_backtrace_max_frames(std::num::NonZeroUsize::new(16));
    Engine::new(&config).map_err(anyhow::Error::from)
}

/// What the epoch ticker and the processes share: processes report computing (preempted
/// twice in a row), and the ticker then ticks fast (see [`IDLE_TICK`]).
#[derive(Debug, Default)]
pub(crate) struct Ticker {
    computing: std::sync::atomic::AtomicBool,
}

impl Ticker {
    /// A process computes (called from the epoch-deadline callback).
    pub(crate) fn computing(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        // Read first: a busy process must not write the shared line on every slice.
        if !self.computing.load(Relaxed) {
            self.computing.store(true, Relaxed);
        }
    }

    /// Whether a process reported computing since the last call.
    fn take_computing(&self) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        self.computing.load(Relaxed) && self.computing.swap(false, Relaxed)
    }
}

/// Spawn the thread that advances the engine's epoch until `alive` returns false: every
/// [`EPOCH_TICK`] while processes compute (as `ticker` hears), every
/// [`IDLE_TICK`] otherwise.
pub(crate) fn start_epoch_ticker(
    engine: Engine,
    ticker: std::sync::Arc<Ticker>,
    alive: impl Fn() -> bool + Send + 'static,
) {
    std::thread::Builder::new()
        .name("warren-epoch".into())
        .spawn(move || {
            let mut fast = 0u32;
            while alive() {
                let tick = if fast > 0 {
                    fast -= 1;
                    EPOCH_TICK
                } else {
                    IDLE_TICK
                };
                std::thread::sleep(tick);
                engine.increment_epoch();
                if ticker.take_computing() {
                    fast = FAST_TICKS;
                }
            }
        })
        .expect("spawning the epoch thread");
}

/// The current `vm.max_map_count`, if this OS has one.
pub(crate) fn os_map_count() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// How many live processes a map-count limit admits.
pub(crate) fn map_count_limit(map_count: u64) -> usize {
    (map_count.saturating_sub(MAPS_RESERVED) / MAPS_PER_PROCESS) as usize
}

/// The `vm.max_map_count` that `processes` live processes need.
pub(crate) fn map_count_needed(processes: usize) -> u64 {
    processes as u64 * MAPS_PER_PROCESS + MAPS_RESERVED
}

/// What a user should run to allow `processes` live processes.
pub(crate) fn map_count_advice(processes: usize) -> String {
    format!(
        "raise it with `sysctl -w vm.max_map_count={}` (as root)",
        map_count_needed(processes)
    )
}

/// A module's problems, each a one-line message naming the file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LoadError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a WebAssembly module (no `\\0asm` header)")]
    NotWasm { path: String },
    #[error("{path}: is a WebAssembly component; warren runs core modules (wasm32-wasip1)")]
    Component { path: String },
    #[error("{path}: invalid module: {message}")]
    Invalid { path: String, message: String },
    #[error(
        "{path}: the module needs more memory at start than the memory limit per process allows ({message})"
    )]
    TooLarge { path: String, message: String },
}

/// Where compiled modules are cached: `$WARREN_CACHE_DIR`, else `$XDG_CACHE_HOME/warren`,
/// else `~/.cache/warren`. `WARREN_CACHE_DIR=off` disables the cache.
pub(crate) fn default_cache_dir() -> Option<PathBuf> {
    match std::env::var_os("WARREN_CACHE_DIR") {
        Some(v) if v == "off" => return None,
        Some(v) => return Some(PathBuf::from(v)),
        None => {}
    }
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(x).join("warren"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("warren"))
}

/// Read and compile a module, through the on-disk cache when `cache_dir` is given;
/// pre-initialised if `preinit` ([`preinit`]).
pub(crate) fn load_module(
    engine: &Engine,
    path: &Path,
    cache_dir: Option<&Path>,
    preinit: bool,
) -> Result<Module, LoadError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
        path: name.clone(),
        source,
    })?;
    compile_module(engine, &bytes, &name, cache_dir, preinit)
}

/// Compile module bytes (binary or text format), through the cache when `cache_dir` is given;
/// pre-initialised if `preinit`.
pub(crate) fn compile_module(
    engine: &Engine,
    bytes: &[u8],
    name: &str,
    cache_dir: Option<&Path>,
    preinit: bool,
) -> Result<Module, LoadError> {
    let path = name.to_string();
    if bytes.starts_with(b"\0asm") {
        // Core modules are version 1; components carry a different version/layer field.
        if bytes.get(4..8) != Some(&[1, 0, 0, 0]) {
            return Err(LoadError::Component { path });
        }
    } else if !looks_like_wat(bytes) {
        return Err(LoadError::NotWasm { path });
    }
    let key = cache_dir
        .filter(|dir| private_cache_dir(dir))
        .map(|dir| cache_path(engine, bytes, preinit, dir));
    if let Some(file) = &key
        && owned_private_file(file)
    {
        // SAFETY: the file was written by `Module::serialize` of an engine with the same
        // compatibility hash (it is in the key) into warren's own cache directory, which is
        // checked to be this user's, private (0700), and outside every directory granted to
        // guests (see `private_cache_dir` and `RuntimeBuilder::build_file`), and the file
        // itself is this user's and not writable by others. wasmtime still checks its header
        // and rejects a mismatched or truncated file.
        match unsafe { Module::deserialize_file(engine, file) } {
            Ok(m) => return Ok(m),
            Err(e) => tracing::debug!("ignoring unusable cache entry {}: {e}", file.display()),
        }
    }
    let (module, as_asked) = compile(engine, bytes, &path, preinit).map_err(|e| {
        let message = first_line(&format!("{e:#}"));
        // The pool's per-memory limit is --max-memory: report it as such, not as a bad module.
        match message.split_once("memory has a minimum byte size of ") {
            Some((_, detail)) if message.contains("pooling allocator") => LoadError::TooLarge {
                path: path.clone(),
                message: format!("its memory has a minimum byte size of {detail}"),
            },
            _ => LoadError::Invalid {
                path: path.clone(),
                message,
            },
        }
    })?;
    // A module that could not be pre-initialised is not cached as if it were: the next run
    // tries again, and says why again.
    if let Some(file) = key.as_ref().filter(|_| as_asked)
        && let Err(e) = store_in_cache(&module, file)
    {
        tracing::debug!(
            "could not cache compiled module at {}: {e:#}",
            file.display()
        );
    }
    Ok(module)
}

/// Compile `bytes`; with `preinit`, pre-initialised if the module asks for it ([`preinit`]).
/// Also whether it is what was asked for (false: pre-initialisation was asked for and failed,
/// and the module is compiled as it is).
pub(crate) fn compile(
    engine: &Engine,
    bytes: &[u8],
    name: &str,
    preinit: bool,
) -> wasmtime::Result<(Module, bool)> {
    match preinit
        .then(|| preinit::preinitialise(engine, bytes))
        .flatten()
    {
        Some(Ok(image)) => match Module::new(engine, &image) {
            Ok(m) => return Ok((m, true)),
            Err(e) => tracing::warn!(
                "{name}: the pre-initialised module does not compile ({e:#}); running it as it is"
            ),
        },
        Some(Err(why)) => {
            tracing::warn!("{name}: not pre-initialised ({why}); running it as it is")
        }
        None => return Ok((Module::new(engine, bytes)?, true)),
    }
    Ok((Module::new(engine, bytes)?, false))
}

/// Whether `bytes` read as the text format: UTF-8 whose first token, after white space and
/// comments (`;; line`, `(; block ;)`, nested), opens a parenthesis.
fn looks_like_wat(bytes: &[u8]) -> bool {
    let Ok(mut s) = std::str::from_utf8(bytes) else {
        return false;
    };
    loop {
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix(";;") {
            s = rest.split_once('\n').map_or("", |(_, after)| after);
        } else if s.starts_with("(;") {
            let mut depth = 0usize;
            let mut i = 0;
            let b = s.as_bytes();
            loop {
                if i + 1 >= b.len() {
                    return false; // an unterminated block comment
                }
                match (b[i], b[i + 1]) {
                    (b'(', b';') => {
                        depth += 1;
                        i += 2;
                    }
                    (b';', b')') => {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => i += 1,
                }
            }
            s = &s[i..];
        } else {
            return s.starts_with('(');
        }
    }
}

fn first_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(": ")
}

fn cache_path(engine: &Engine, bytes: &[u8], preinit: bool, dir: &Path) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    let mut sha = Sha256::new();
    sha.update(bytes);
    sha.update(h.finish().to_le_bytes());
    sha.update(env!("CARGO_PKG_VERSION").as_bytes());
    sha.update([preinit as u8]);
    let digest = sha.finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    dir.join(format!("{hex}.cwasm"))
}

fn store_in_cache(module: &Module, file: &Path) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let bytes = module.serialize()?;
    let tmp = file.with_extension(format!("tmp{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(&bytes)?;
    drop(f);
    std::fs::rename(&tmp, file)?;
    Ok(())
}

/// Make sure `dir` exists as a cache directory only this user can write: created with mode
/// 0700 if missing; an existing one must be owned by this user and not writable by group or
/// others. Compiled modules are native code: whoever can write the cache can run code in the
/// host. `false` (and a warning) if it cannot be used.
pub(crate) fn private_cache_dir(dir: &Path) -> bool {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    if !dir.exists() {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true).mode(0o700);
        if let Err(e) = b.create(dir) {
            tracing::debug!("cannot create the module cache {}: {e}", dir.display());
            return false;
        }
    }
    match std::fs::symlink_metadata(dir) {
        // SAFETY: geteuid has no preconditions.
        Ok(m) if m.is_dir() && m.uid() == unsafe { libc::geteuid() } && m.mode() & 0o022 == 0 => {
            true
        }
        Ok(_) => {
            tracing::warn!(
                "not using the compiled-module cache {}: it must be a directory owned by this \
                 user and writable by nobody else (chmod 700 it, or set WARREN_CACHE_DIR)",
                dir.display()
            );
            false
        }
        Err(e) => {
            tracing::debug!("cannot use the module cache {}: {e}", dir.display());
            false
        }
    }
}

/// A cache entry is loaded only if it is a regular file of this user's, writable by nobody
/// else.
fn owned_private_file(file: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(file).is_ok_and(|m| {
        // SAFETY: geteuid has no preconditions.
        m.is_file() && m.uid() == unsafe { libc::geteuid() } && m.mode() & 0o022 == 0
    })
}

/// Whether two directories overlap: one is the other or contains it (after resolving
/// symlinks; a path that does not exist yet is compared as given).
pub(crate) fn dirs_overlap(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let (a, b) = (canon(a), canon(b));
    a.starts_with(&b) || b.starts_with(&a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_modules_may_start_with_comments() {
        assert!(looks_like_wat(b"(module)"));
        assert!(looks_like_wat(b";; a guest\n  (module)"));
        assert!(looks_like_wat(
            b"(; block (; nested ;) ;)\n;; line\n(module)"
        ));
        assert!(!looks_like_wat(b";; only a comment"));
        assert!(!looks_like_wat(b"(; unterminated"));
        assert!(!looks_like_wat(b"hello"));
    }

    #[test]
    fn overlapping_directories() {
        assert!(dirs_overlap(Path::new("/tmp"), Path::new("/tmp/x/cache")));
        assert!(dirs_overlap(Path::new("/tmp/x/cache"), Path::new("/tmp")));
        assert!(!dirs_overlap(Path::new("/tmp/a"), Path::new("/tmp/b")));
    }
}
