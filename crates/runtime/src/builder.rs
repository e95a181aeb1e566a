//! [`RuntimeBuilder`]: everything that makes a [`Runtime`], in one place.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use warren_runtime::Runtime;
//!
//! let runtime = Runtime::builder()
//!     .max_processes(10_000)
//!     .max_memory(16 << 20)
//!     .arg("app.wasm")
//!     .build_file("app.wasm".as_ref())?;
//! let root = runtime.start()?;
//! println!("root exited: {}", root.exited().await);
//! # Ok(()) }
//! ```
//!
//! An embedder with host modules of its own brings its own store type (see
//! [`RuntimeBuilder::store_data`]) and adds each module with [`RuntimeBuilder::host_module`],
//! the same way warren adds its own (`add_to_linker(linker, getter)`).

use crate::config::{GrantedDir, RuntimeConfig};
use crate::error::{Error, Result};
use crate::io::NetPolicy;
use crate::process::MakeData;
use crate::process::{ProcessData, StoreData};
use crate::runtime::Runtime;
use crate::{engine, runtime};
use std::path::Path;
use std::sync::Arc;
use wasmtime::{Linker, Module};

type HostModule<T> = Box<dyn FnOnce(&mut Linker<T>) -> anyhow::Result<()>>;
type Setting = Box<dyn Fn(&mut RuntimeConfig)>;

/// Builds a [`Runtime`]. Start with [`Runtime::builder`].
pub struct RuntimeBuilder<T: StoreData> {
    /// The configuration: a base ([`RuntimeBuilder::config`], else the default) with every
    /// setter called so far applied on top.
    config: RuntimeConfig,
    /// Those setters, in order, to apply again on top of a new base.
    settings: Vec<Setting>,
    scheduler: Option<tokio::runtime::Handle>,
    make_data: MakeData<T>,
    host_modules: Vec<HostModule<T>>,
    /// warren's modules left out of the linker (`without`).
    left_out: Vec<String>,
    cache: bool,
    cluster: Option<crate::cluster::Cluster>,
}

impl RuntimeBuilder<ProcessData> {
    pub(crate) fn new() -> Self {
        RuntimeBuilder {
            config: RuntimeConfig::default(),
            settings: Vec::new(),
            scheduler: None,
            make_data: Arc::new(|d| d),
            host_modules: Vec::new(),
            left_out: Vec::new(),
            cache: true,
            cluster: None,
        }
    }

    /// Use the embedder's own store type `U` for every process: `make` wraps warren's
    /// per-process state into a `U` (the embedder's fields start fresh for each process).
    /// Call it before [`RuntimeBuilder::host_module`].
    pub fn store_data<U: StoreData>(
        self,
        make: impl Fn(ProcessData) -> U + Send + Sync + 'static,
    ) -> RuntimeBuilder<U> {
        RuntimeBuilder {
            config: self.config,
            settings: self.settings,
            scheduler: self.scheduler,
            make_data: Arc::new(make),
            host_modules: Vec::new(),
            left_out: self.left_out,
            cache: self.cache,
            cluster: self.cluster,
        }
    }
}

impl<T: StoreData> RuntimeBuilder<T> {
    /// Run as a node of `cluster` (joined with [`Cluster::join`](crate::Cluster::join)):
    /// pids carry the node's number, and processes reach other nodes' processes, spawn on
    /// them and use global names (`warren::node` in the SDK). Every node must run the same
    /// module.
    pub fn cluster(mut self, cluster: crate::cluster::Cluster) -> Self {
        self.cluster = Some(cluster);
        self
    }

    /// The whole configuration at once (what the `warren` CLI does): the base the other
    /// setters apply to. They apply on top of it whatever the order they were called in, so
    /// `.max_memory(m).config(c)` runs with `m` and the rest of `c`.
    pub fn config(mut self, config: RuntimeConfig) -> Self {
        self.config = config;
        for setting in &self.settings {
            setting(&mut self.config);
        }
        self
    }

    fn set(mut self, setting: impl Fn(&mut RuntimeConfig) + 'static) -> Self {
        setting(&mut self.config);
        self.settings.push(Box::new(setting));
        self
    }

    /// Most processes alive at once (default: 100,000, or what `vm.max_map_count` allows).
    pub fn max_processes(self, n: usize) -> Self {
        self.set(move |c| c.max_processes = Some(n))
    }

    /// Most processes with an instance at once (see [`RuntimeConfig::max_instances`]).
    pub fn max_instances(self, n: usize) -> Self {
        self.set(move |c| c.max_instances = Some(n))
    }

    /// Which scheduler runs the processes (see [`RuntimeConfig::scheduler`]).
    pub fn process_scheduler(self, scheduler: crate::Scheduler) -> Self {
        self.set(move |c| c.scheduler = scheduler)
    }

    /// Worker threads of warren's scheduler (default: one per core).
    pub fn workers(self, n: usize) -> Self {
        self.set(move |c| c.workers = Some(n))
    }

    /// Most linear memory per process, in bytes (default 64 MiB).
    pub fn max_memory(self, bytes: usize) -> Self {
        self.set(move |c| c.max_memory = bytes)
    }

    /// A compute budget per process, in fuel units (turns fuel counting on).
    pub fn max_fuel(self, fuel: u64) -> Self {
        self.set(move |c| c.max_fuel = Some(fuel))
    }

    /// Append a program argument (the first is the program's name, `args[0]`).
    pub fn arg(self, arg: impl Into<String>) -> Self {
        let arg = arg.into();
        self.set(move |c| c.args.push(arg.clone()))
    }

    /// Append several program arguments.
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(self, args: I) -> Self {
        let args: Vec<String> = args.into_iter().map(Into::into).collect();
        self.set(move |c| c.args.extend(args.iter().cloned()))
    }

    /// Set an environment variable for every process.
    pub fn env(self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let pair = (key.into(), value.into());
        self.set(move |c| c.env.push(pair.clone()))
    }

    /// Grant the host directory `host` to guests as `guest` (WASI and `warren:fs`).
    pub fn dir(self, host: impl AsRef<Path>, guest: impl Into<String>) -> Self {
        let dir = GrantedDir {
            host: host.as_ref().to_path_buf(),
            guest: guest.into(),
        };
        self.set(move |c| c.dirs.push(dir.clone()))
    }

    /// Serve the observer on `addr` (a web page of the live processes, JSON, server-sent
    /// events and Prometheus `/metrics`; see [`ObserveConfig`](crate::ObserveConfig)).
    /// `allow_kill` lets the page kill processes. Port 0 picks a free port:
    /// [`Runtime::observer_addr`](crate::Runtime::observer_addr) tells which.
    pub fn observe(self, addr: std::net::SocketAddr, allow_kill: bool) -> Self {
        self.set(move |c| c.observe = Some(crate::config::ObserveConfig::new(addr, allow_kill)))
    }

    /// The network allow-list (default: loopback only).
    pub fn allow_net(self, policy: NetPolicy) -> Self {
        self.set(move |c| c.net = policy.clone())
    }

    /// Run processes' I/O, timers and host tasks on this tokio runtime (default: the one
    /// `build_*` is called in), and the processes themselves too under
    /// [`Scheduler::Tokio`](crate::Scheduler::Tokio). See [`crate::scheduler`] for one set up
    /// as the `warren` CLI sets up its own.
    pub fn scheduler(mut self, handle: tokio::runtime::Handle) -> Self {
        self.scheduler = Some(handle);
        self
    }

    /// Do not read or write the compiled-module cache for `build_file`.
    pub fn no_cache(mut self) -> Self {
        self.cache = false;
        self
    }

    /// Leave one of warren's host modules out of every process's linker: `module` is one of
    /// [`OPTIONAL_MODULES`](crate::OPTIONAL_MODULES) (`warren:net`, `warren:fs`,
    /// `warren:http`), the modules that reach outside the runtime. A guest that imports a
    /// function of a module left out is refused when the runtime is built, with an error
    /// naming the function ([`Error::Link`]); one that does not import it runs as usual.
    pub fn without(mut self, module: &str) -> Self {
        self.left_out.push(module.to_string());
        self
    }

    /// Add a host module: `add` receives the linker (after warren's own modules are in it)
    /// and adds functions, typically a module's `add_to_linker(linker, getter)`.
    pub fn host_module(
        mut self,
        add: impl FnOnce(&mut Linker<T>) -> anyhow::Result<()> + 'static,
    ) -> Self {
        self.host_modules.push(Box::new(add));
        self
    }

    /// Build a runtime for the module in `path` (binary or text format), through the
    /// compiled-module cache.
    ///
    /// The cache holds native code, so it is not used if it lies inside (or contains) a
    /// directory granted to guests, who could otherwise replace an entry (a warning says so).
    pub fn build_file(self, path: &Path) -> Result<Runtime<T>> {
        let dir = if self.cache {
            engine::default_cache_dir()
        } else {
            None
        };
        let dir = dir.filter(|cache| {
            let granted = self
                .config
                .dirs
                .iter()
                .find(|d| engine::dirs_overlap(cache, &d.host));
            if let Some(d) = granted {
                tracing::warn!(
                    "not using the compiled-module cache {}: it overlaps the granted directory \
                     {}, where a guest could replace compiled code; set WARREN_CACHE_DIR to a \
                     directory outside every granted directory",
                    cache.display(),
                    d.host.display()
                );
            }
            granted.is_none()
        });
        // Unreadable, the file fails below with the loader's error.
        let bytes = std::fs::read(path).unwrap_or_default();
        let hash = module_hash(&bytes);
        if let Some(c) = &self.cluster
            && !bytes.is_empty()
        {
            c.offer_module(hash, bytes);
        }
        let preinit = self.config.preinit;
        let cache = dir.clone();
        self.build(hash, cache, |engine| {
            engine::load_module(engine, path, dir.as_deref(), preinit)
                .map_err(|e| Error::Module(e.to_string()))
        })
    }

    /// Build a runtime for a module given as bytes (binary or text format).
    pub fn build_bytes(self, bytes: &[u8]) -> Result<Runtime<T>> {
        let hash = module_hash(bytes);
        if let Some(c) = &self.cluster {
            c.offer_module(hash, bytes.to_vec());
        }
        let preinit = self.config.preinit;
        self.build(hash, None, |engine| {
            engine::compile(engine, bytes, "the module", preinit)
                .map(|(module, _)| module)
                .map_err(|e| Error::Module(format!("compiling the module: {e:#}")))
        })
    }

    fn build(
        self,
        hash: [u8; 32],
        cache_dir: Option<std::path::PathBuf>,
        load: impl FnOnce(&wasmtime::Engine) -> Result<Module>,
    ) -> Result<Runtime<T>> {
        let handle = match self.scheduler {
            Some(h) => h,
            None => tokio::runtime::Handle::try_current().map_err(|_| Error::NoScheduler)?,
        };
        raise_fd_limit();
        // A warning in the plan is kept for `Runtime::warning`.
        let (engine, plan) = Runtime::<T>::build_engine(&self.config)?;
        if let Some(m) = self
            .left_out
            .iter()
            .find(|m| !runtime::OPTIONAL_MODULES.contains(&m.as_str()))
        {
            return Err(Error::Config(format!(
                "{m:?} cannot be left out: the modules a runtime can do without are {}",
                runtime::OPTIONAL_MODULES.join(", ")
            )));
        }
        let module = load(&engine)?;
        check_imports(&module, &self.left_out)?;
        let mut linker = Linker::new(&engine);
        runtime::add_modules(&mut linker, &self.left_out)
            .map_err(|e| Error::HostModule(format!("{e:#}")))?;
        for add in self.host_modules {
            add(&mut linker).map_err(|e| Error::HostModule(format!("{e:#}")))?;
        }
        let loader = crate::upgrade::Loader {
            linker,
            left_out: self.left_out,
            cache_dir,
        };
        Runtime::new(
            engine,
            &plan,
            &module,
            loader,
            self.config,
            self.make_data,
            handle,
            (self.cluster, hash),
        )
    }
}

/// A clear refusal of a module that imports a function of warren's modules that this runtime
/// does not have: one of a module left out, or one that is not in warren's ABI at all (a
/// module built for another version of warren). Other imports are the linker's business.
pub(crate) fn check_imports(module: &Module, left_out: &[String]) -> Result<()> {
    use warren_abi::calls::{CALLS, MODULES};
    for import in module.imports() {
        let (m, name) = (import.module(), import.name());
        if left_out.iter().any(|l| l == m) {
            return Err(Error::Link(format!(
                "the module imports {m}.{name}, but this runtime leaves {m} out \
                 (RuntimeBuilder::without)"
            )));
        }
        if MODULES.iter().any(|known| known.name == m)
            && !CALLS.iter().any(|c| c.module == m && c.name == name)
        {
            return Err(Error::Link(format!(
                "the module imports {m}.{name}, which is not a function of warren's ABI \
                 (docs/abi.md): was it built for another version of warren?"
            )));
        }
    }
    Ok(())
}

/// SHA-256 of a module's bytes.
pub(crate) fn module_hash(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

/// Raise this process's soft limit on open files to its hard limit, once: every socket, file
/// and granted directory a process holds is a descriptor, and Linux's default soft limit
/// (1,024) would be reached by about a thousand processes.
fn raise_fd_limit() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit with a valid pointer to a local rlimit.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
                let old = lim.rlim_cur;
                lim.rlim_cur = lim.rlim_max;
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 {
                    tracing::debug!("raised the open-file limit from {old} to {}", lim.rlim_max);
                }
            }
        }
    });
}

/// A multi-threaded tokio runtime set up as the `warren` CLI runs processes on (one worker
/// per core, named `warren-worker`), for embedders without a tokio runtime of their own.
pub fn scheduler() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("warren-worker")
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setters_apply_on_top_of_a_whole_configuration_in_any_order() {
        let base = RuntimeConfig {
            max_memory: 3 << 20,
            max_processes: Some(7),
            args: vec!["base".into()],
            ..RuntimeConfig::default()
        };
        let before = RuntimeBuilder::new()
            .max_memory(1 << 20)
            .arg("app")
            .config(base.clone());
        let after = RuntimeBuilder::new()
            .config(base)
            .max_memory(1 << 20)
            .arg("app");
        for b in [before, after] {
            assert_eq!(
                b.config.max_memory,
                1 << 20,
                "the setter wins over the base"
            );
            assert_eq!(
                b.config.max_processes,
                Some(7),
                "the base's other knobs stay"
            );
            assert_eq!(b.config.args, ["base", "app"]);
        }
    }
}
