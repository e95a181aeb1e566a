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

/// Builds a [`Runtime`]. Start with [`Runtime::builder`].
pub struct RuntimeBuilder<T: StoreData> {
    config: RuntimeConfig,
    scheduler: Option<tokio::runtime::Handle>,
    make_data: MakeData<T>,
    host_modules: Vec<HostModule<T>>,
    cache: bool,
    cluster: Option<crate::dist::Cluster>,
}

impl RuntimeBuilder<ProcessData> {
    pub(crate) fn new() -> Self {
        RuntimeBuilder {
            config: RuntimeConfig::default(),
            scheduler: None,
            make_data: Arc::new(|d| d),
            host_modules: Vec::new(),
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
            scheduler: self.scheduler,
            make_data: Arc::new(make),
            host_modules: Vec::new(),
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
    pub fn cluster(mut self, cluster: crate::dist::Cluster) -> Self {
        self.cluster = Some(cluster);
        self
    }

    /// The whole configuration at once (what the `warren` CLI does).
    pub fn config(mut self, config: RuntimeConfig) -> Self {
        self.config = config;
        self
    }

    /// Most processes alive at once (default: 100,000, or what `vm.max_map_count` allows).
    pub fn max_processes(mut self, n: usize) -> Self {
        self.config.max_processes = Some(n);
        self
    }

    /// Most processes with an instance at once (see [`RuntimeConfig::max_instances`]).
    pub fn max_instances(mut self, n: usize) -> Self {
        self.config.max_instances = Some(n);
        self
    }

    /// Most linear memory per process, in bytes (default 64 MiB).
    pub fn max_memory(mut self, bytes: usize) -> Self {
        self.config.max_memory = bytes;
        self
    }

    /// A compute budget per process, in fuel units (turns fuel counting on).
    pub fn max_fuel(mut self, fuel: u64) -> Self {
        self.config.max_fuel = Some(fuel);
        self
    }

    /// Append a program argument (the first is the program's name, `args[0]`).
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.config.args.push(arg.into());
        self
    }

    /// Append several program arguments.
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.config.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Set an environment variable for every process.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.env.push((key.into(), value.into()));
        self
    }

    /// Grant the host directory `host` to guests as `guest` (WASI and `warren:fs`).
    pub fn dir(mut self, host: impl AsRef<Path>, guest: impl Into<String>) -> Self {
        self.config.dirs.push(GrantedDir {
            host: host.as_ref().to_path_buf(),
            guest: guest.into(),
        });
        self
    }

    /// Serve the observer on `addr` (a web page of the live processes, JSON, server-sent
    /// events and Prometheus `/metrics`; see [`ObserveConfig`](crate::ObserveConfig)).
    /// `allow_kill` lets the page kill processes. Port 0 picks a free port:
    /// [`Runtime::observer_addr`](crate::Runtime::observer_addr) tells which.
    pub fn observe(mut self, addr: std::net::SocketAddr, allow_kill: bool) -> Self {
        self.config.observe = Some(crate::config::ObserveConfig::new(addr, allow_kill));
        self
    }

    /// The network allow-list (default: loopback only).
    pub fn allow_net(mut self, policy: NetPolicy) -> Self {
        self.config.net = policy;
        self
    }

    /// Run processes on this tokio runtime (default: the one `build_*` is called in). See
    /// [`crate::scheduler`] for one set up as the `warren` CLI sets up its own.
    pub fn scheduler(mut self, handle: tokio::runtime::Handle) -> Self {
        self.scheduler = Some(handle);
        self
    }

    /// Do not read or write the compiled-module cache for `build_file`.
    pub fn no_cache(mut self) -> Self {
        self.cache = false;
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
        self.build(hash, |engine| {
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
        self.build(hash, |engine| {
            engine::compile(engine, bytes, "the module", preinit)
                .map(|(module, _)| module)
                .map_err(|e| Error::Module(format!("compiling the module: {e:#}")))
        })
    }

    fn build(
        self,
        hash: [u8; 32],
        load: impl FnOnce(&wasmtime::Engine) -> Result<Module>,
    ) -> Result<Runtime<T>> {
        let handle = match self.scheduler {
            Some(h) => h,
            None => tokio::runtime::Handle::try_current().map_err(|_| Error::NoScheduler)?,
        };
        raise_fd_limit();
        // A warning in the plan is kept for `Runtime::warning`.
        let (engine, plan) = Runtime::<T>::build_engine(&self.config)?;
        let module = load(&engine)?;
        let mut linker = Linker::new(&engine);
        runtime::add_to_linker(&mut linker).map_err(|e| Error::HostModule(format!("{e:#}")))?;
        for add in self.host_modules {
            add(&mut linker).map_err(|e| Error::HostModule(format!("{e:#}")))?;
        }
        Runtime::new(
            engine,
            &plan,
            &module,
            &linker,
            self.config,
            self.make_data,
            handle,
            (self.cluster, hash),
        )
    }
}

/// SHA-256 of a module's bytes.
fn module_hash(bytes: &[u8]) -> [u8; 32] {
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
