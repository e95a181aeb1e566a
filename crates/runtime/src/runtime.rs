//! The runtime: one engine, one guest module, a table of processes running it.
//!
//! A [`Runtime`] is made by a [`RuntimeBuilder`]: it compiles (or loads from the cache) the
//! module, links warren's host modules and the embedder's into one `Linker<T>`,
//! pre-instantiates the module once (`InstancePre`), and starts the epoch ticker.
//! [`Runtime::start`] runs the root process (`_start`), [`Runtime::start_export`] any other
//! exported entry; guests spawn the rest. Every process is its own tokio task on the
//! scheduler the builder was given. The host talks to processes through [`Runtime::send`]
//! and [`HostMailbox`]es, and [`Runtime::shutdown`] stops everything.

use crate::actor::{ExitReason, Pid, ProcessTable, Quotas, SpawnError};
use crate::builder::RuntimeBuilder;
use crate::engine::{self, EngineConfig};
use crate::host::process::{SpawnRequest, Spawner};
use crate::host::wasi::WasiConfig;
use crate::host::{fs, message, net, process, registry, resource, select, stream, timer, wasi};
use crate::host_mailbox::HostMailbox;
use crate::io::{Grants, IoShared, NetPolicy, Pumps};
use crate::process::{Entry, ProcessData, StoreData};
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::oneshot;
use wasmtime::{Engine, InstancePre, Linker, Module};

/// Process limit used when none is configured and the OS allows it. Not higher by default:
/// wasmtime sets up a guard page per pooled fiber stack at start, about 12 us per slot.
pub const DEFAULT_MAX_PROCESSES: usize = 100_000;
/// Default maximum linear memory per process.
pub const DEFAULT_MAX_MEMORY: usize = 64 << 20;
/// Address space the pooling allocator may reserve for linear memories.
const MAX_RESERVATION: u128 = 96 << 40;

/// A host directory made visible to guests.
#[derive(Debug, Clone)]
pub struct GrantedDir {
    pub host: PathBuf,
    pub guest: String,
}

impl GrantedDir {
    /// Parse `host[:guest]`; the guest path defaults to the host path.
    pub fn parse(spec: &str) -> anyhow::Result<GrantedDir> {
        let (host, guest) = match spec.split_once(':') {
            Some((h, g)) => (h, g),
            None => (spec, spec),
        };
        if host.is_empty() || guest.is_empty() {
            bail!("--dir {spec:?}: expected HOST[:GUEST]");
        }
        Ok(GrantedDir {
            host: PathBuf::from(host),
            guest: guest.to_string(),
        })
    }
}

/// How a runtime is set up.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Most live processes; `None` picks the largest the OS allows, up to 100,000.
    pub max_processes: Option<usize>,
    /// Maximum linear memory per process, in bytes.
    pub max_memory: usize,
    /// Compute budget per process, in wasm fuel units (about one per instruction). A process
    /// that uses it up ends with `limit(compute)`. `None`: unlimited (and fuel is not counted).
    pub max_fuel: Option<u64>,
    /// Program arguments seen by every process (`args[0]` is the program name).
    pub args: Vec<String>,
    /// Environment seen by every process.
    pub env: Vec<(String, String)>,
    /// Directories granted to every process, through WASI and `warren:fs`.
    pub dirs: Vec<GrantedDir>,
    /// Which addresses processes may connect to, bind and send to (default: loopback).
    pub net: NetPolicy,
    /// What one process may make the runtime hold for it: queued message bytes,
    /// references, timers, names (see [`Quotas`]).
    pub quotas: Quotas,
    /// Most resources (handles) one process holds.
    pub max_handles: usize,
    /// Most host copies one process has running (they count while they run, also after the
    /// process exits).
    pub max_pumps_per_process: usize,
    /// Most host copies running at once in the runtime.
    pub max_pumps: usize,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            max_processes: None,
            max_memory: DEFAULT_MAX_MEMORY,
            max_fuel: None,
            args: Vec::new(),
            env: Vec::new(),
            dirs: Vec::new(),
            net: NetPolicy::default(),
            quotas: Quotas::default(),
            max_handles: crate::resources::MAX_HANDLES,
            max_pumps_per_process: crate::io::splice::DEFAULT_MAX_PUMPS_PER_PROCESS,
            max_pumps: crate::io::splice::DEFAULT_MAX_PUMPS,
        }
    }
}

/// The effective process limit and, if the OS cannot support it, a one-line warning.
#[derive(Debug, Clone)]
pub struct ProcessLimitPlan {
    pub limit: usize,
    pub warning: Option<String>,
    /// Appended to "process limit reached" errors.
    pub hint: String,
}

/// Decide the process limit from the configuration and the OS's `vm.max_map_count`.
pub fn plan_process_limit(requested: Option<usize>, os_map_count: Option<u64>) -> ProcessLimitPlan {
    let os_limit = os_map_count.map(engine::map_count_limit);
    match (requested, os_limit, os_map_count) {
        (Some(n), Some(l), Some(maps)) if n > l => ProcessLimitPlan {
            limit: n,
            warning: Some(format!(
                "warning: {n} processes need vm.max_map_count >= {} but it is {maps}, so spawning \
                 fails beyond about {l} processes; {}",
                engine::map_count_needed(n),
                engine::map_count_advice(n)
            )),
            hint: format!(
                " (vm.max_map_count={maps} allows about {l}; {})",
                engine::map_count_advice(n)
            ),
        },
        (Some(n), ..) => ProcessLimitPlan {
            limit: n,
            warning: None,
            hint: " (--max-processes)".into(),
        },
        (None, Some(l), Some(maps)) if l < DEFAULT_MAX_PROCESSES => ProcessLimitPlan {
            limit: l.max(1),
            warning: None,
            hint: format!(
                " (bounded by vm.max_map_count={maps}; for more, {})",
                engine::map_count_advice(DEFAULT_MAX_PROCESSES)
            ),
        },
        _ => ProcessLimitPlan {
            limit: DEFAULT_MAX_PROCESSES,
            warning: None,
            hint: String::new(),
        },
    }
}

pub(crate) struct RuntimeInner<T: StoreData> {
    pub(crate) engine: Engine,
    pub(crate) pre: InstancePre<T>,
    pub(crate) table: Arc<ProcessTable>,
    pub(crate) config: RuntimeConfig,
    pub(crate) wasi: Arc<WasiConfig>,
    pub(crate) io: Arc<IoShared>,
    /// Builds each process's store data around warren's part.
    pub(crate) make_data: MakeData<T>,
    /// Host mailboxes (pids without an instance), closed at shutdown.
    pub(crate) host_mailboxes: Mutex<Vec<Weak<crate::actor::ProcessRef>>>,
    pub(crate) handle: tokio::runtime::Handle,
    /// Said once when the runtime was made: the OS cannot support the process limit.
    warning: Option<String>,
    this: Weak<RuntimeInner<T>>,
}

/// How a runtime builds each process's store data from warren's part.
pub type MakeData<T> = Arc<dyn Fn(ProcessData) -> T + Send + Sync>;

/// A warren runtime running one guest module: an engine, a table of processes, the host
/// modules they import, and the tokio runtime that schedules them.
///
/// Build one with [`Runtime::builder`]. `T` is the store type of every process: warren's
/// [`ProcessData`] unless the embedder brings its own (see [`RuntimeBuilder::store_data`]).
/// Cloning a `Runtime` clones a handle to the same runtime.
pub struct Runtime<T: StoreData = ProcessData> {
    inner: Arc<RuntimeInner<T>>,
}

impl<T: StoreData> Clone for Runtime<T> {
    fn clone(&self) -> Self {
        Runtime {
            inner: self.inner.clone(),
        }
    }
}

/// A process started by the host, and its end.
#[derive(Debug)]
pub struct Started {
    pub pid: Pid,
    exit: oneshot::Receiver<ExitReason>,
}

impl Started {
    /// Wait for the process to end and say why.
    pub async fn exited(self) -> ExitReason {
        self.exit
            .await
            .unwrap_or_else(|_| ExitReason::Trap("the runtime was dropped".into()))
    }
}

impl Runtime<ProcessData> {
    /// A builder for a runtime whose processes use warren's own store type.
    pub fn builder() -> RuntimeBuilder<ProcessData> {
        RuntimeBuilder::new()
    }
}

impl<T: StoreData> Runtime<T> {
    /// The engine for a configuration. Returns the engine and the process-limit plan (whose
    /// warning, if any, the caller should show once).
    pub fn engine(config: &RuntimeConfig) -> anyhow::Result<(Engine, ProcessLimitPlan)> {
        let plan = plan_process_limit(config.max_processes, engine::os_map_count());
        let reservation = plan.limit as u128 * config.max_memory as u128;
        if reservation > MAX_RESERVATION {
            bail!(
                "{} processes x {} MiB of memory each is more address space than one host \
                 process has; lower --max-processes or --max-memory",
                plan.limit,
                config.max_memory >> 20
            );
        }
        let engine = engine::build_engine(&EngineConfig {
            max_processes: plan.limit,
            max_memory: config.max_memory,
            consume_fuel: config.max_fuel.is_some(),
        })
        .context("creating the wasm engine")?;
        Ok((engine, plan))
    }

    /// Load a guest module from a file (through the compiled-module cache).
    pub fn load(engine: &Engine, path: &Path) -> anyhow::Result<Module> {
        Ok(engine::load_module(
            engine,
            path,
            engine::default_cache_dir().as_deref(),
        )?)
    }

    /// A runtime for `module`, with `linker` holding every host module the guest imports
    /// (see [`add_to_linker`]); processes run on `handle`.
    pub(crate) fn new(
        engine: Engine,
        plan: &ProcessLimitPlan,
        module: &Module,
        linker: &Linker<T>,
        config: RuntimeConfig,
        make_data: MakeData<T>,
        handle: tokio::runtime::Handle,
    ) -> anyhow::Result<Runtime<T>> {
        let pre = linker
            .instantiate_pre(module)
            .map_err(|e| anyhow::anyhow!("{}", one_line(&e)))?;
        for dir in &config.dirs {
            if !dir.host.is_dir() {
                bail!("--dir {}: not a directory", dir.host.display());
            }
        }
        let grants = Grants::open(
            config
                .dirs
                .iter()
                .map(|d| (d.host.as_path(), d.guest.as_str())),
        )?;
        let io = Arc::new(IoShared {
            policy: config.net.clone(),
            grants: Arc::new(grants),
            pumps: Arc::new(Pumps::new(config.max_pumps)),
        });
        let table = Arc::new(ProcessTable::with_quotas(
            plan.limit,
            plan.hint.clone(),
            config.quotas.clone(),
        ));
        let inner = Arc::new_cyclic(|this| RuntimeInner {
            engine: engine.clone(),
            pre,
            wasi: Arc::new(WasiConfig {
                args: config.args.clone(),
                env: config.env.clone(),
                dirs: config.dirs.clone(),
            }),
            io,
            table,
            config,
            make_data,
            host_mailboxes: Mutex::new(Vec::new()),
            handle,
            warning: plan.warning.clone(),
            this: this.clone(),
        });
        let alive = Arc::downgrade(&inner);
        engine::start_epoch_ticker(engine, move || alive.strong_count() > 0);
        Ok(Runtime { inner })
    }

    /// Start the root process: the module's `_start` (a guest's `main`).
    pub fn start(&self) -> Result<Started, SpawnError> {
        self.start_entry(Entry::Start)
    }

    /// Start a process entered through any exported `() -> ()` function of the module, in a
    /// fresh instance (`_start` is not run first). Fails with the export's name if the module
    /// has no such function.
    pub fn start_export(&self, name: &str) -> Result<Started, SpawnError> {
        let export = self.inner.pre.module().get_export(name);
        if export.is_none_or(|e| e.func().is_none()) {
            return Err(SpawnError::Other(format!(
                "the module exports no function `{name}`"
            )));
        }
        self.start_entry(Entry::Export(name.to_string()))
    }

    fn start_entry(&self, entry: Entry) -> Result<Started, SpawnError> {
        let (tx, rx) = oneshot::channel();
        let pid = self.inner.start_monitored(entry, Some(tx), None, None)?;
        Ok(Started { pid, exit: rx })
    }

    /// A mailbox for the host: a pid that processes can send to (and link to, monitor,
    /// register a name for) without an instance behind it. See [`HostMailbox`].
    pub fn host_mailbox(&self) -> Result<HostMailbox, SpawnError> {
        let me = self.inner.table.register()?;
        self.inner
            .host_mailboxes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::downgrade(&me));
        Ok(HostMailbox::new(me, self.inner.table.clone()))
    }

    /// Send `message` to process `pid`, encoded as the guest SDK decodes it (postcard).
    /// Returns false if no such process is alive (the message is dropped, as between
    /// processes).
    pub fn send<M: serde::Serialize + ?Sized>(
        &self,
        pid: Pid,
        message: &M,
    ) -> anyhow::Result<bool> {
        let data = postcard::to_stdvec(message).with_context(|| {
            format!(
                "encoding a `{}` for process {pid}",
                std::any::type_name::<M>()
            )
        })?;
        Ok(self
            .inner
            .table
            .send(pid, crate::actor::Message::new(0, data)))
    }

    /// Kill process `pid`. Returns false if it was not alive.
    pub fn kill(&self, pid: Pid) -> bool {
        self.inner.table.kill(pid)
    }

    /// The pid registered under `name`, if any.
    pub fn whereis(&self, name: &str) -> Option<Pid> {
        self.inner.table.whereis(name)
    }

    /// The guest module.
    pub fn module(&self) -> &Module {
        self.inner.pre.module()
    }

    /// A warning about the configuration, if the OS cannot support the process limit
    /// (`vm.max_map_count` too low), with what to raise. Worth showing once.
    pub fn warning(&self) -> Option<&str> {
        self.inner.warning.as_deref()
    }

    /// The wasmtime engine (one per runtime).
    pub fn wasm_engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Timers set by processes and not yet fired or cancelled.
    pub fn pending_timers(&self) -> usize {
        self.inner.table.timers().len()
    }

    /// Host pumps (splices) still copying.
    pub fn pump_count(&self) -> usize {
        self.inner.io.pumps.len()
    }

    /// How many processes are alive (host mailboxes included).
    pub fn process_count(&self) -> usize {
        self.inner.table.len()
    }

    /// The most processes alive at once.
    pub fn process_limit(&self) -> usize {
        self.inner.table.limit()
    }

    /// The table of live processes (for sending from the host, monitoring, inspection).
    pub fn table(&self) -> &Arc<ProcessTable> {
        &self.inner.table
    }

    /// Stop everything: host pumps, then every process (killed where it is, so its store,
    /// its handles and the sockets, files and locks behind them are dropped), then the host
    /// mailboxes. Waits up to `grace` and returns how many processes are still alive (0
    /// unless one is stuck in a host call that cannot be interrupted).
    ///
    /// From the start of the shutdown on, no process can be started or spawned and no host
    /// copy begun (so a dying process cannot leave a child behind): a runtime is not
    /// restarted after it.
    pub async fn shutdown(&self, grace: Duration) -> usize {
        // Host pumps hold sockets and files of processes that may be gone: stop them too.
        self.inner.io.pumps.close();
        let host: Vec<_> = std::mem::take(
            &mut *self
                .inner
                .host_mailboxes
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        for m in host.iter().filter_map(Weak::upgrade) {
            self.inner.table.exit(m.pid(), &ExitReason::Killed);
        }
        self.inner.table.close();
        let _ = tokio::time::timeout(grace, self.inner.table.wait_empty()).await;
        self.inner.table.len()
    }
}

impl<T: StoreData> RuntimeInner<T> {
    fn start_monitored(
        &self,
        entry: Entry,
        on_exit: Option<oneshot::Sender<ExitReason>>,
        monitor: Option<(Pid, u64)>,
        link: Option<Pid>,
    ) -> Result<Pid, SpawnError> {
        let rt = self
            .this
            .upgrade()
            .ok_or_else(|| SpawnError::Other("runtime is shutting down".into()))?;
        let me = self.table.register()?;
        let pid = me.pid();
        if let Some((watcher, tag)) = monitor {
            self.table.monitor_with_tag(watcher, pid, tag);
        }
        if let Some(parent) = link {
            self.table.link(parent, pid);
        }
        self.handle
            .spawn(crate::process::run(rt, me, entry, on_exit));
        Ok(pid)
    }
}

impl<T: StoreData> Spawner for RuntimeInner<T> {
    fn spawn(&self, parent: Pid, request: SpawnRequest) -> Result<Pid, SpawnError> {
        if let Some(m) = request.max_memory
            && m > self.config.max_memory as u64
        {
            return Err(SpawnError::BadOptions(format!(
                "max_memory {m} exceeds the runtime's limit of {} bytes",
                self.config.max_memory
            )));
        }
        match (request.max_fuel, self.config.max_fuel) {
            (Some(_), None) => {
                return Err(SpawnError::BadOptions(
                    "a fuel budget needs a runtime that counts fuel (--max-fuel)".into(),
                ));
            }
            (Some(f), Some(max)) if f > max => {
                return Err(SpawnError::BadOptions(format!(
                    "max_fuel {f} exceeds the runtime's budget of {max}"
                )));
            }
            _ => {}
        }
        let monitor = request.monitor.map(|tag| (parent, tag));
        let link = request.link.then_some(parent);
        self.start_monitored(Entry::Spawned(request), None, monitor, link)
    }
}

/// Add all of warren's host modules — WASI preview 1, `warren:process`, `message`,
/// `registry`, `timer`, `resource`, `stream`, `net`, `fs`, `select` — to a linker over any
/// [`StoreData`] type. Each is added with a getter projecting the store onto its view; an
/// embedder adds its own modules next to them (see [`RuntimeBuilder::host_module`]).
pub fn add_to_linker<T: StoreData>(linker: &mut Linker<T>) -> anyhow::Result<()> {
    wasi::add_to_linker(linker, |d: &mut T| &mut d.warren().wasi)?;
    process::add_to_linker(linker, |d: &mut T| {
        let w = d.warren();
        process::ProcessView {
            ctx: &mut w.actor,
            resources: &mut w.resources,
        }
    })?;
    message::add_to_linker(linker, |d: &mut T| {
        let w = d.warren();
        message::MessageView {
            ctx: &mut w.actor,
            resources: &mut w.resources,
        }
    })?;
    registry::add_to_linker(linker, |d: &mut T| registry::RegistryView {
        ctx: &mut d.warren().actor,
    })?;
    timer::add_to_linker(linker, |d: &mut T| {
        let w = d.warren();
        timer::TimerView {
            ctx: &mut w.actor,
            resources: &mut w.resources,
        }
    })?;
    resource::add_to_linker(linker, |d: &mut T| {
        let w = d.warren();
        resource::ResourceView {
            table: &mut w.resources,
            memory: &mut w.actor.memory,
        }
    })?;
    stream::add_to_linker(linker, |d: &mut T| {
        let w = d.warren();
        stream::StreamView {
            table: &mut w.resources,
            memory: &mut w.actor.memory,
            pumps: &w.io.pumps,
        }
    })?;
    net::add_to_linker(linker, |d: &mut T| {
        let w = d.warren();
        net::NetView {
            table: &mut w.resources,
            memory: &mut w.actor.memory,
            policy: &w.io.policy,
            pumps: &w.io.pumps,
        }
    })?;
    fs::add_to_linker(linker, |d: &mut T| {
        let w = d.warren();
        fs::FsView {
            table: &mut w.resources,
            memory: &mut w.actor.memory,
            grants: &w.io.grants,
            pumps: &w.io.pumps,
        }
    })?;
    select::add_to_linker(linker, |d: &mut T| {
        let w = d.warren();
        select::SelectView {
            table: &mut w.resources,
            memory: &mut w.actor.memory,
            me: &w.actor.me,
        }
    })?;
    Ok(())
}

fn one_line(e: &wasmtime::Error) -> String {
    format!("{e:#}")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_follows_the_os_when_not_configured() {
        let plan = plan_process_limit(None, Some(65530));
        assert_eq!(plan.limit, engine::map_count_limit(65530));
        assert!(plan.warning.is_none());
        assert!(
            plan.hint.contains("vm.max_map_count=65530"),
            "{}",
            plan.hint
        );
        let plan = plan_process_limit(None, Some(100_000_000));
        assert_eq!(plan.limit, DEFAULT_MAX_PROCESSES);
        assert_eq!(plan_process_limit(None, None).limit, DEFAULT_MAX_PROCESSES);
    }

    #[test]
    fn asking_for_more_than_the_os_allows_warns_with_the_fix() {
        let plan = plan_process_limit(Some(100_000), Some(65530));
        assert_eq!(plan.limit, 100_000);
        let warning = plan.warning.expect("a warning");
        assert!(warning.contains("sysctl -w vm.max_map_count="), "{warning}");
        assert_eq!(warning.lines().count(), 1);
        let plan = plan_process_limit(Some(500), Some(65530));
        assert!(plan.warning.is_none());
    }

    #[test]
    fn granted_dir_specs() {
        let d = GrantedDir::parse("/tmp/x:/data").unwrap();
        assert_eq!(
            (d.host.to_str().unwrap(), d.guest.as_str()),
            ("/tmp/x", "/data")
        );
        let d = GrantedDir::parse("/tmp/x").unwrap();
        assert_eq!(d.guest, "/tmp/x");
        assert!(GrantedDir::parse(":/data").is_err());
        assert!(GrantedDir::parse("/tmp/x:").is_err());
    }
}
