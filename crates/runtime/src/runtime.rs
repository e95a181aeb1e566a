//! The runtime: one engine, one guest module, a table of processes running it.
//!
//! [`Runtime::new`] compiles nothing itself: it takes a [`Module`] (see
//! [`crate::engine::load_module`]), links warren's host modules and WASI preview 1 into one
//! `Linker<ProcessData>`, pre-instantiates the module once (`InstancePre`), and starts the
//! epoch ticker. [`Runtime::start`] runs the root process (`_start`); guests spawn the rest.
//! Every process is its own tokio task, the root included, on the ambient tokio runtime.

use crate::actor::{ExitReason, Pid, ProcessTable, SpawnError, Timers};
use crate::engine::{self, EngineConfig};
use crate::host::process::{SpawnRequest, Spawner};
use crate::host::wasi::WasiConfig;
use crate::host::{fs, message, net, process, registry, resource, select, stream, timer, wasi};
use crate::io::{Grants, IoShared, NetPolicy, Pumps};
use crate::process::{Entry, ProcessData};
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
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

pub(crate) struct RuntimeInner {
    pub(crate) engine: Engine,
    pub(crate) pre: InstancePre<ProcessData>,
    pub(crate) table: Arc<ProcessTable>,
    pub(crate) timers: Arc<Timers>,
    pub(crate) config: RuntimeConfig,
    pub(crate) wasi: Arc<WasiConfig>,
    pub(crate) io: Arc<IoShared>,
    handle: tokio::runtime::Handle,
    this: Weak<RuntimeInner>,
}

/// A warren runtime running one guest module.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

impl Runtime {
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

    /// A runtime for `module`. Must be called inside a tokio runtime, whose handle runs
    /// every process.
    pub fn new(
        engine: Engine,
        plan: &ProcessLimitPlan,
        module: &Module,
        config: RuntimeConfig,
    ) -> anyhow::Result<Runtime> {
        let mut linker: Linker<ProcessData> = Linker::new(&engine);
        wasi::add_to_linker(&mut linker, |d: &mut ProcessData| &mut d.wasi)?;
        process::add_to_linker(&mut linker, |d: &mut ProcessData| process::ProcessView {
            ctx: &mut d.actor,
            resources: &mut d.resources,
        })?;
        message::add_to_linker(&mut linker, |d: &mut ProcessData| message::MessageView {
            ctx: &mut d.actor,
            resources: &mut d.resources,
        })?;
        registry::add_to_linker(&mut linker, |d: &mut ProcessData| registry::RegistryView {
            ctx: &mut d.actor,
        })?;
        timer::add_to_linker(&mut linker, |d: &mut ProcessData| timer::TimerView {
            ctx: &mut d.actor,
            resources: &mut d.resources,
        })?;
        resource::add_to_linker(&mut linker, |d: &mut ProcessData| resource::ResourceView {
            table: &mut d.resources,
            memory: &mut d.actor.memory,
        })?;
        stream::add_to_linker(&mut linker, |d: &mut ProcessData| stream::StreamView {
            table: &mut d.resources,
            memory: &mut d.actor.memory,
            pumps: &d.io.pumps,
        })?;
        net::add_to_linker(&mut linker, |d: &mut ProcessData| net::NetView {
            table: &mut d.resources,
            memory: &mut d.actor.memory,
            policy: &d.io.policy,
            pumps: &d.io.pumps,
        })?;
        fs::add_to_linker(&mut linker, |d: &mut ProcessData| fs::FsView {
            table: &mut d.resources,
            memory: &mut d.actor.memory,
            grants: &d.io.grants,
            pumps: &d.io.pumps,
        })?;
        select::add_to_linker(&mut linker, |d: &mut ProcessData| select::SelectView {
            table: &mut d.resources,
            memory: &mut d.actor.memory,
            me: &d.actor.me,
        })?;
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
            pumps: Arc::new(Pumps::new()),
        });
        let table = Arc::new(ProcessTable::new(plan.limit, plan.hint.clone()));
        let handle = tokio::runtime::Handle::try_current()
            .context("warren's Runtime needs a tokio runtime")?;
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
            timers: Arc::new(Timers::default()),
            config,
            handle,
            this: this.clone(),
        });
        let alive = Arc::downgrade(&inner);
        engine::start_epoch_ticker(engine, move || alive.strong_count() > 0);
        Ok(Runtime { inner })
    }

    /// Start the root process (`_start`). The receiver yields its exit reason.
    pub fn start(&self) -> Result<(Pid, oneshot::Receiver<ExitReason>), SpawnError> {
        let (tx, rx) = oneshot::channel();
        let pid = self.inner.start(Entry::Start, Some(tx))?;
        Ok((pid, rx))
    }

    /// Timers set by processes and not yet fired or cancelled.
    pub fn pending_timers(&self) -> usize {
        self.inner.timers.len()
    }

    /// Host pumps (splices) still copying.
    pub fn pump_count(&self) -> usize {
        self.inner.io.pumps.len()
    }

    /// How many processes are alive.
    pub fn process_count(&self) -> usize {
        self.inner.table.len()
    }

    /// The table of live processes (for sending from the host, monitoring, inspection).
    pub fn table(&self) -> &Arc<ProcessTable> {
        &self.inner.table
    }

    /// Kill every process and wait up to `grace` for them to end. Returns how many are
    /// still alive after that (stuck in a host call that cannot be interrupted).
    pub async fn shutdown(&self, grace: Duration) -> usize {
        // Host pumps hold sockets and files of processes that may be gone: stop them too.
        self.inner.io.pumps.abort_all();
        self.inner.table.kill_all();
        let _ = tokio::time::timeout(grace, self.inner.table.wait_empty()).await;
        self.inner.table.len()
    }
}

impl RuntimeInner {
    fn start(
        &self,
        entry: Entry,
        on_exit: Option<oneshot::Sender<ExitReason>>,
    ) -> Result<Pid, SpawnError> {
        self.start_monitored(entry, on_exit, None, None)
    }

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

impl Spawner for RuntimeInner {
    fn spawn(&self, parent: Pid, request: SpawnRequest) -> Result<Pid, SpawnError> {
        if let Some(m) = request.max_memory
            && m > self.config.max_memory as u64
        {
            return Err(SpawnError::BadOptions(format!(
                "max_memory {m} exceeds the runtime's limit of {} bytes",
                self.config.max_memory
            )));
        }
        if request.max_fuel.is_some() && self.config.max_fuel.is_none() {
            return Err(SpawnError::BadOptions(
                "a fuel budget needs a runtime that counts fuel (--max-fuel)".into(),
            ));
        }
        let monitor = request.monitor.map(|tag| (parent, tag));
        let link = request.link.then_some(parent);
        self.start_monitored(Entry::Spawned(request), None, monitor, link)
    }
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
