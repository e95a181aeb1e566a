//! The runtime: one engine, one guest module, a table of processes running it.
//!
//! A [`Runtime`] is made by a [`RuntimeBuilder`]: it compiles (or loads from the cache) the
//! module, links warren's host modules and the embedder's into one `Linker<T>`,
//! pre-instantiates the module once (`InstancePre`), and starts the epoch ticker.
//! [`Runtime::start`] runs the root process (`_start`), [`Runtime::start_export`] any other
//! exported entry; guests spawn the rest. Every process is its own task, on warren's
//! scheduler (or on the tokio runtime the builder was given, with `Scheduler::Tokio`). The host talks to processes through [`Runtime::send`]
//! and [`HostMailbox`]es, and [`Runtime::shutdown`] stops everything.

use crate::actor::{ExitReason, Pid, ProcessTable, SpawnError};
use crate::builder::RuntimeBuilder;
use crate::config::{ProcessLimitPlan, RuntimeConfig, plan_limits};
use crate::context::{SpawnRequest, Spawner};
use crate::engine::{self, EngineConfig};
use crate::error::{Error, Result};
use crate::host::wasi::WasiConfig;
use crate::host::{
    fs, http, log, message, net, node, process, registry, resource, select, stream, timer, wasi,
};
use crate::host_mailbox::HostMailbox;
use crate::io::{Grants, IoShared, Pumps};
use crate::process::{Entry, MakeData, ProcessData, ProcessEnv, StoreData};
use crate::sync::Locked;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::oneshot;
use warren_abi::{FS_MODULE, HTTP_MODULE, NET_MODULE};
use wasmtime::{Engine, Linker, Module};

/// Address space the pooling allocator may reserve for linear memories.
const MAX_RESERVATION: u128 = 96 << 40;

pub(crate) struct RuntimeInner<T: StoreData> {
    /// What each process is made of.
    pub(crate) env: ProcessEnv<T>,
    /// Host mailboxes (pids without an instance), closed at shutdown.
    pub(crate) host_mailboxes: Mutex<Vec<Weak<crate::actor::ProcessRef>>>,
    /// What processes run on: warren's scheduler or tokio's (see [`crate::sched`]).
    runner: crate::sched::Runner,
    /// Said once when the runtime was made: the OS cannot support the process limit.
    warning: Option<String>,
    this: Weak<RuntimeInner<T>>,
    /// The observer, if asked for (stops when the runtime is dropped).
    observer: Option<crate::observe::Observer>,
    /// What loading a new version of the program needs (see [`crate::upgrade`]).
    pub(crate) loader: crate::upgrade::Loader<T>,
}

/// A warren runtime running one guest module: an engine, a table of processes, the host
/// modules they import, and the tokio runtime that schedules them.
///
/// Build one with [`Runtime::builder`]. `T` is the store type of every process: warren's
/// [`ProcessData`] unless the embedder brings its own (see [`RuntimeBuilder::store_data`]).
/// Cloning a `Runtime` clones a handle to the same runtime.
pub struct Runtime<T: StoreData = ProcessData> {
    pub(crate) inner: Arc<RuntimeInner<T>>,
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
    /// The process's pid.
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
    /// Build the engine for a configuration, with the process-limit plan (whose warning, if
    /// any, is kept for [`Runtime::warning`]).
    pub(crate) fn build_engine(config: &RuntimeConfig) -> Result<(Engine, ProcessLimitPlan)> {
        let plan = plan_limits(config, engine::os_map_count());
        let reservation = plan.instances as u128 * config.max_memory as u128;
        if reservation > MAX_RESERVATION {
            return Err(Error::Config(format!(
                "{} instances x {} MiB of memory each is more address space than one host \
                 process has; lower the process (or instance) limit or the memory limit per \
                 process",
                plan.instances,
                config.max_memory >> 20
            )));
        }
        let engine = engine::build_engine(&EngineConfig {
            max_processes: plan.instances,
            max_memory: config.max_memory,
            consume_fuel: config.max_fuel.is_some(),
        })
        .map_err(|e| Error::Engine(format!("{e:#}")))?;
        Ok((engine, plan))
    }

    /// A runtime for `module`, with `linker` holding every host module the guest imports
    /// (see [`add_to_linker`]); processes run on `handle`.
    #[allow(clippy::too_many_arguments)] // called once, by the builder
    pub(crate) fn new(
        engine: Engine,
        plan: &ProcessLimitPlan,
        module: &Module,
        loader: crate::upgrade::Loader<T>,
        config: RuntimeConfig,
        make_data: MakeData<T>,
        handle: tokio::runtime::Handle,
        (cluster, module_hash): (Option<crate::cluster::Cluster>, [u8; 32]),
    ) -> Result<Runtime<T>> {
        let pre = loader
            .linker
            .instantiate_pre(module)
            .map_err(|e| Error::Link(one_line(&e)))?;
        for dir in &config.dirs {
            if !dir.host.is_dir() {
                return Err(Error::Config(format!(
                    "granted directory {}: not a directory",
                    dir.host.display()
                )));
            }
        }
        let grants = Grants::open(
            config
                .dirs
                .iter()
                .map(|d| (d.host.as_path(), d.guest.as_str())),
        )
        .map_err(|e| Error::Config(format!("{e:#}")))?;
        let tls = match &config.tls {
            None => None,
            Some(files) => Some(Arc::new(
                crate::io::http::Tls::load(files.clone()).map_err(Error::Config)?,
            )),
        };
        let io = Arc::new(IoShared {
            tls,
            policy: config.net.clone(),
            grants: Arc::new(grants),
            pumps: Arc::new(Pumps::new(config.max_pumps)),
            http: config.http,
            drain: Arc::default(),
        });
        let mut table =
            ProcessTable::with_quotas(plan.limit, plan.hint.clone(), config.quotas.clone())
                .measuring_cpu(config.observe.is_some());
        if let Some(c) = &cluster {
            table = table.in_cluster(c.node(), c.remote());
        }
        let table = Arc::new(table);
        let runner = crate::sched::Runner::new(config.scheduler, config.workers, &handle)
            .map_err(|e| Error::Config(format!("cannot start the scheduler's threads: {e}")))?;
        let observer = match &config.observe {
            None => None,
            Some(o) => Some(
                crate::observe::start(o, &table, &io, &handle, runner.pool()).map_err(|e| {
                    Error::Config(format!("observer: cannot listen on {}: {e}", o.addr))
                })?,
            ),
        };
        let env = ProcessEnv {
            engine: engine.clone(),
            versions: crate::version::Versions::new(crate::version::Version::new(
                1,
                pre,
                module_hash,
            )),
            wasi: Arc::new(WasiConfig {
                args: config.args.clone(),
                env: config.env.clone(),
                dirs: config.dirs.clone(),
                stdio_prefix: config.stdio_prefix,
            }),
            io,
            table,
            config,
            make_data,
            ticker: Default::default(),
            cluster,
        };
        let inner = Arc::new_cyclic(|this| RuntimeInner {
            env,
            host_mailboxes: Mutex::new(Vec::new()),
            runner,
            warning: plan.warning.clone(),
            this: this.clone(),
            observer,
            loader,
        });
        if let Some(c) = &inner.env.cluster {
            let weak: Weak<RuntimeInner<T>> = Arc::downgrade(&inner);
            c.attach(weak);
        }
        let alive = Arc::downgrade(&inner);
        let ticker = inner.env.ticker.clone();
        engine::start_epoch_ticker(engine, ticker, move || alive.strong_count() > 0);
        if let Some(observer) = &inner.observer {
            let weak = Arc::downgrade(&inner);
            observer.set_upgrader(Arc::new(move |bytes| {
                let weak = weak.clone();
                Box::pin(async move {
                    let inner = weak
                        .upgrade()
                        .ok_or_else(|| "the runtime has stopped".to_string())?;
                    let loaded = Runtime { inner }
                        .load_version(bytes)
                        .await
                        .map_err(|e| e.to_string())?;
                    Ok(serde_json::json!({
                        "version": loaded.version,
                        "hash": crate::cluster::hex(&loaded.hash),
                        "previous": loaded.previous,
                        "purged": loaded.purged.map(|(version, processes)| serde_json::json!({
                            "version": version, "processes": processes,
                        })),
                        "text": loaded.to_string(),
                    }))
                })
            }));
        }
        let runtime = Runtime { inner };
        runtime.publish(false);
        Ok(runtime)
    }

    /// Start the root process: the module's `_start` (a guest's `main`). Fails if the module
    /// has no `_start` or no `memory` export (it is not a `wasm32-wasip1` program).
    pub fn start(&self) -> Result<Started> {
        let module = self.module();
        for export in ["memory", "_start"] {
            if module.get_export(export).is_none() {
                return Err(Error::Link(format!(
                    "the module has no `{export}` export (is it a wasm32-wasip1 program?)"
                )));
            }
        }
        Ok(self.start_entry(Entry::Start)?)
    }

    /// Start a process entered through any exported `() -> ()` function of the module, in a
    /// fresh instance (`_start` is not run first). Fails with the export's name if the module
    /// has no such function.
    pub fn start_export(&self, name: &str) -> Result<Started> {
        let module = self.module();
        let export = module.get_export(name);
        if export.is_none_or(|e| e.func().is_none()) {
            return Err(Error::Link(format!(
                "the module exports no function `{name}`"
            )));
        }
        Ok(self.start_entry(Entry::Export(name.to_string()))?)
    }

    fn start_entry(&self, entry: Entry) -> Result<Started, SpawnError> {
        let (tx, rx) = oneshot::channel();
        let current = self.inner.env.versions.current();
        let pid = self
            .inner
            .start_monitored(0, current, entry, Some(tx), None, None)?;
        Ok(Started { pid, exit: rx })
    }

    /// A mailbox for the host: a pid that processes can send to (and link to, monitor,
    /// register a name for) without an instance behind it. See [`HostMailbox`].
    pub fn host_mailbox(&self) -> Result<HostMailbox, SpawnError> {
        let me = self.inner.env.table.register_host()?;
        self.inner.host_mailboxes.locked().push(Arc::downgrade(&me));
        Ok(HostMailbox::new(me, self.inner.env.table.clone()))
    }

    /// Send `message` to process `pid`, encoded as the guest SDK decodes it (postcard).
    /// Returns false if no such process is alive (the message is dropped, as between
    /// processes).
    pub fn send<M: serde::Serialize + ?Sized>(&self, pid: Pid, message: &M) -> Result<bool> {
        let data = postcard::to_stdvec(message).map_err(|e| Error::Encode {
            type_name: std::any::type_name::<M>(),
            message: e.to_string(),
        })?;
        Ok(self
            .inner
            .env
            .table
            .send(pid, crate::actor::Message::new(0, data)))
    }

    /// Kill process `pid`. Returns false if it was not alive.
    pub fn kill(&self, pid: Pid) -> bool {
        self.inner.env.table.kill(pid)
    }

    /// The number of the version of the program process `pid` runs (see
    /// [`Runtime::load_version`]), if it is alive and runs one (a host mailbox runs none). A
    /// process hibernated at a named resume point says the version it last ran: it wakes on
    /// the current one.
    pub fn process_version(&self, pid: Pid) -> Option<u32> {
        let p = self.inner.env.table.get(pid)?;
        Some(p.version()).filter(|&v| v != 0)
    }

    /// The pid registered under `name`, if any.
    pub fn whereis(&self, name: &str) -> Option<Pid> {
        self.inner.env.table.whereis(name)
    }

    /// The guest module: the current version's (see [`Runtime::load_version`]).
    pub fn module(&self) -> Module {
        self.inner.env.versions.current().module().clone()
    }

    /// A warning about the configuration, if the OS cannot support the process limit
    /// (`vm.max_map_count` too low), with what to raise. Worth showing once.
    pub fn warning(&self) -> Option<&str> {
        self.inner.warning.as_deref()
    }

    /// Read the TLS certificate and key again (`warren run` does on `SIGHUP`): connections
    /// made from now on get the new identity, those already made keep theirs. If the files
    /// do not load, the old identity stays and the error says why; without a TLS identity
    /// (`RuntimeConfig::tls`) there is nothing to reload.
    pub fn reload_tls(&self) -> Result<()> {
        match &self.inner.env.io.tls {
            None => Err(Error::Config(
                "the runtime has no TLS certificate to reload".to_string(),
            )),
            Some(tls) => tls.reload().map_err(Error::Config),
        }
    }

    /// What warren's scheduler has done so far (`None` when processes run on tokio's): how
    /// many processes were polled, woken where they run or from outside, stolen between
    /// workers. See [`Scheduler`](crate::Scheduler).
    pub fn scheduler_stats(&self) -> Option<crate::SchedulerStats> {
        self.inner.runner.stats()
    }

    /// Where the observer listens, if it was asked for (see
    /// [`RuntimeBuilder::observe`](crate::RuntimeBuilder::observe)).
    pub fn observer_addr(&self) -> Option<std::net::SocketAddr> {
        self.inner.observer.as_ref().map(|o| o.addr())
    }

    /// The token a kill from the observer must carry, when it listens beyond loopback with
    /// kills on, and a load of a version always (`x-warren-observer-token`; the page takes it
    /// from `#token=` in its URL).
    pub fn observer_token(&self) -> Option<String> {
        self.inner
            .observer
            .as_ref()
            .and_then(|o| o.token().map(str::to_string))
    }

    /// The wasmtime engine (one per runtime).
    pub fn engine(&self) -> &Engine {
        &self.inner.env.engine
    }

    /// Timers set by processes and not yet fired or cancelled.
    pub fn pending_timers(&self) -> usize {
        self.inner.env.table.timers().len()
    }

    /// Host pumps (splices) still copying.
    pub fn pump_count(&self) -> usize {
        self.inner.env.io.pumps.len()
    }

    /// How many processes are alive (host mailboxes included).
    pub fn process_count(&self) -> usize {
        self.inner.env.table.len()
    }

    /// The most processes alive at once.
    pub fn process_limit(&self) -> usize {
        self.inner.env.table.limit()
    }

    /// How many processes are hibernating (see `warren::hibernate`): alive, with no
    /// instance, waiting for a message.
    pub fn hibernating(&self) -> usize {
        self.inner.env.table.stats().hibernating()
    }

    /// How many names are registered.
    pub fn registered_names(&self) -> usize {
        self.inner.env.table.registered_names()
    }

    /// Ask every process to stop (killed where it is) without waiting; see
    /// [`Runtime::shutdown`] to wait and stop host copies too.
    pub fn kill_all(&self) {
        self.inner.env.table.kill_all();
    }

    /// Wait until no process is alive (host mailboxes count as processes).
    pub async fn wait_empty(&self) {
        self.inner.env.table.wait_empty().await
    }

    /// Send raw bytes (not encoded) to process `pid` with `tag` 0, as a guest's `send`
    /// would; false if it is not alive. For host code that speaks a guest's own wire format.
    pub fn send_bytes(&self, pid: Pid, bytes: Vec<u8>) -> bool {
        self.inner
            .env
            .table
            .send(pid, crate::actor::Message::new(0, bytes))
    }

    /// Stop gracefully within `timeout`, as a service is expected to on `SIGTERM`: HTTP
    /// servers stop accepting and finish the requests they accepted, then every process is
    /// asked to stop with the exit signal `shutdown` (sent to the oldest process of each
    /// group of linked ones, so a supervisor stops its children in its own order), and at
    /// the deadline whatever is left is killed as by [`Runtime::shutdown`]. The order is
    /// described in full in the `shutdown` module's docs (and README's "Stopping"). Like
    /// [`Runtime::shutdown`], the runtime is not restarted afterwards.
    pub async fn shutdown_gracefully(&self, timeout: Duration) -> crate::ShutdownReport {
        let report = crate::shutdown::gracefully(&self.inner, timeout).await;
        self.shutdown(Duration::from_secs(1)).await;
        report
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
        self.inner.env.io.pumps.close();
        let host: Vec<_> = std::mem::take(&mut *self.inner.host_mailboxes.locked());
        for m in host.iter().filter_map(Weak::upgrade) {
            self.inner.env.table.exit(m.pid(), &ExitReason::Killed);
        }
        self.inner.env.table.close();
        let _ = tokio::time::timeout(grace, self.inner.env.table.wait_empty()).await;
        self.inner.env.table.len()
    }
}

impl<T: StoreData> RuntimeInner<T> {
    /// Start a process of `parent` on `version`: the one way a process begins.
    pub(crate) fn start_monitored(
        &self,
        parent: Pid,
        version: Arc<crate::version::Version<T>>,
        entry: Entry,
        on_exit: Option<oneshot::Sender<ExitReason>>,
        monitor: Option<(Pid, u64)>,
        link: Option<Pid>,
    ) -> Result<Pid, SpawnError> {
        let rt = self
            .this
            .upgrade()
            .ok_or_else(|| SpawnError::Other("runtime is shutting down".into()))?;
        if self.runner.is_closed() {
            return Err(SpawnError::Other("runtime is shutting down".into()));
        }
        let me = self.env.table.register_child(parent)?;
        let pid = me.pid();
        // Seen by the observer from now on; checked against a purge when the process runs
        // (`Version::enter`).
        me.set_version(version.number);
        // Bounded from before it runs: its first send to itself is held to it too.
        if let Entry::Spawned(request) = &entry
            && let Some((messages, bytes, when_full)) = request.spec.mailbox
        {
            match crate::actor::bound_from_wire(messages, bytes, when_full) {
                Some(bound) => me.mailbox.set_bound(Some(bound)),
                None => tracing::debug!(pid, "a spawn with a bound of an unknown policy"),
            }
        }
        if let Some((watcher, tag)) = monitor {
            self.env.table.monitor_with_tag(watcher, pid, tag);
        }
        if let Some(linker) = link {
            self.env.table.link(linker, pid);
        }
        // Refused only if the scheduler stopped since the check above, when the runtime is
        // going away with every process in it.
        if self
            .runner
            .spawn(crate::process::run(rt, me, version, entry, on_exit))
            .is_err()
        {
            return Err(SpawnError::Other("runtime is shutting down".into()));
        }
        Ok(pid)
    }
}

impl<T: StoreData> AsRef<ProcessEnv<T>> for RuntimeInner<T> {
    fn as_ref(&self) -> &ProcessEnv<T> {
        &self.env
    }
}

impl<T: StoreData> Spawner for RuntimeInner<T> {
    fn spawn(&self, parent: Pid, request: SpawnRequest) -> Result<Pid, SpawnError> {
        if let Some(m) = request.spec.max_memory
            && m > self.env.config.max_memory as u64
        {
            return Err(SpawnError::BadOptions(format!(
                "max_memory {m} exceeds the runtime's limit of {} bytes",
                self.env.config.max_memory
            )));
        }
        match (request.spec.max_fuel, self.env.config.max_fuel) {
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
        // A closure's function-table indices name functions of its spawner's build.
        let version = match request.spec.version {
            0 => self.env.versions.current(),
            n => self.env.versions.get(n).ok_or_else(|| {
                SpawnError::Other(format!(
                    "version {n} of the program, which the spawner runs, was purged"
                ))
            })?,
        };
        let monitor = request.spec.monitor.map(|tag| (parent, tag));
        let link = request.spec.link.then_some(parent);
        self.start_monitored(
            parent,
            version,
            Entry::Spawned(request),
            None,
            monitor,
            link,
        )
    }

    fn cluster(&self) -> Option<&crate::cluster::Cluster> {
        self.env.cluster.as_ref()
    }

    fn version_hash(&self, number: u32) -> Option<[u8; 32]> {
        self.env.versions.get(number).map(|v| v.hash)
    }
}

/// The runtime's side of the cluster: spawns ordered by other nodes.
impl<T: StoreData> crate::cluster::LocalNode for RuntimeInner<T> {
    fn table(&self) -> &Arc<ProcessTable> {
        &self.env.table
    }

    fn module(&self) -> [u8; 32] {
        self.env.versions.current().hash
    }

    fn holds(&self, module: &[u8; 32]) -> bool {
        self.env.versions.by_hash(module).is_some()
    }

    fn load(&self, module: Vec<u8>) -> crate::cluster::member::LoadFuture {
        let this = self.this.clone();
        Box::pin(async move {
            let inner = this
                .upgrade()
                .ok_or_else(|| "the runtime has stopped".to_string())?;
            let runtime = Runtime { inner };
            match runtime.load_version(module).await {
                Ok(loaded) => Ok(loaded.to_string()),
                Err(e) => Err(format!(
                    "{e}; version {} keeps running",
                    runtime.inner.env.versions.current().number
                )),
            }
        })
    }

    fn spawn(&self, order: crate::cluster::wire::SpawnOrder) -> std::result::Result<Pid, String> {
        let Some(version) = self.env.versions.by_hash(&order.module) else {
            let (current, old) = self.env.versions.both();
            return Err(format!(
                "node {} runs module {}{}, not the spawner's {}: a spawn runs the spawner's \
                 version of the program, and every node must run the same module (or have \
                 loaded that version)",
                self.env.table.node(),
                short_hash(&current.hash),
                old.map_or(String::new(), |o| format!(" (and {})", short_hash(&o.hash))),
                short_hash(&order.module)
            ));
        };
        let mut spec = order.spec;
        spec.version = version.number;
        let request = SpawnRequest {
            spec,
            resources: Vec::new(),
        };
        Spawner::spawn(self, order.parent, request).map_err(|e| e.to_string())
    }
}

/// The first bytes of a module hash, in hex (for messages).
pub(crate) fn short_hash(hash: &[u8; 32]) -> String {
    hash[..6].iter().map(|b| format!("{b:02x}")).collect()
}

/// Add all of warren's host modules — WASI preview 1, `warren:process`, `message`, `node`,
/// `registry`, `timer`, `resource`, `stream`, `net`, `fs`, `http`, `log`, `select` — to a linker over any
/// [`StoreData`] type. Each is added with a getter projecting the store onto its view; an
/// embedder adds its own modules next to them (see [`RuntimeBuilder::host_module`]).
pub fn add_to_linker<T: StoreData>(linker: &mut Linker<T>) -> anyhow::Result<()> {
    add_modules(linker, &[])
}

/// warren's host modules an embedder may leave out of a runtime
/// ([`RuntimeBuilder::without`]): the ones that reach the world outside it. The others are
/// the process model itself.
pub const OPTIONAL_MODULES: &[&str] = &[NET_MODULE, FS_MODULE, HTTP_MODULE];

/// [`add_to_linker`] without the modules named in `left_out` (each one of
/// [`OPTIONAL_MODULES`]).
pub(crate) fn add_modules<T: StoreData>(
    linker: &mut Linker<T>,
    left_out: &[String],
) -> anyhow::Result<()> {
    let wanted = |module: &str| !left_out.iter().any(|m| m == module);
    wasi::add_to_linker(linker, |d: &mut T| &mut d.warren().wasi)?;
    process::add_to_linker(linker, |d: &mut T| {
        let w = d.warren();
        process::ProcessView {
            ctx: &mut w.actor,
            resources: &mut w.resources,
            call: &mut w.call,
        }
    })?;
    node::add_to_linker(linker, |d: &mut T| {
        let w = d.warren();
        node::NodeView {
            ctx: &mut w.actor,
            resources: &mut w.resources,
            call: &mut w.call,
        }
    })?;
    message::add_to_linker(linker, |d: &mut T| {
        let w = d.warren();
        message::MessageView {
            ctx: &mut w.actor,
            resources: &mut w.resources,
            call: &mut w.call,
        }
    })?;
    registry::add_to_linker(linker, |d: &mut T| {
        let w = d.warren();
        registry::RegistryView {
            ctx: &mut w.actor,
            call: &mut w.call,
        }
    })?;
    timer::add_to_linker(linker, |d: &mut T| {
        let w = d.warren();
        timer::TimerView {
            ctx: &mut w.actor,
            resources: &mut w.resources,
            call: &mut w.call,
        }
    })?;
    resource::add_to_linker(linker, |d: &mut T| {
        let w = d.warren();
        resource::ResourceView {
            table: &mut w.resources,
            call: &mut w.call,
        }
    })?;
    stream::add_to_linker(linker, |d: &mut T| {
        let w = d.warren();
        stream::StreamView {
            table: &mut w.resources,
            call: &mut w.call,
            copies: &mut w.copies,
        }
    })?;
    if wanted(NET_MODULE) {
        net::add_to_linker(linker, |d: &mut T| {
            let w = d.warren();
            net::NetView {
                table: &mut w.resources,
                call: &mut w.call,
                policy: &w.io.policy,
                copies: &mut w.copies,
            }
        })?;
    }
    if wanted(FS_MODULE) {
        fs::add_to_linker(linker, |d: &mut T| {
            let w = d.warren();
            fs::FsView {
                table: &mut w.resources,
                call: &mut w.call,
                grants: &w.io.grants,
                copies: &mut w.copies,
            }
        })?;
    }
    if wanted(HTTP_MODULE) {
        http::add_to_linker(linker, |d: &mut T| {
            let w = d.warren();
            http::HttpView {
                ctx: &mut w.actor,
                table: &mut w.resources,
                call: &mut w.call,
                limits: &w.io.http,
                tls: &w.io.tls,
                drain: &w.io.drain,
            }
        })?;
    }
    log::add_to_linker(linker, |d: &mut T| {
        let w = d.warren();
        log::LogView {
            ctx: &mut w.actor,
            call: &mut w.call,
        }
    })?;
    select::add_to_linker(linker, |d: &mut T| {
        let w = d.warren();
        select::SelectView {
            table: &mut w.resources,
            call: &mut w.call,
            me: &w.actor.me,
            processes: &w.actor.table,
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
