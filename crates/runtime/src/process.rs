//! Running one process: its store, its instance, its task, and how it ends.
//!
//! A process is a task (of warren's scheduler, or of tokio: [`crate::sched`]) that owns a
//! wasmtime `Store<T>`, where `T` is the embedder's
//! store type (warren's own [`ProcessData`] by default) holding warren's per-process state
//! (see [`StoreData`]): it instantiates its version of the program
//! ([`crate::version`]) from the cached `InstancePre` (a pooling slot and a copy-on-write
//! memory image), calls either `_start` (the root process) or `warren_entry` (a spawned one) on a
//! fiber, and when the call returns or traps turns the outcome into an [`ExitReason`], drops
//! the store (freeing the slot) and only then tells the process table, which notifies
//! monitors.
//!
//! Preemption: the store's epoch deadline is the next epoch tick; when it passes, the
//! callback yields to tokio (or ends the process if it was killed), so a `loop {}` cannot
//! hold a worker. A process preempted twice without waiting in between computes: the
//! callback then tells the epoch ticker to tick fast (see [`crate::engine::IDLE_TICK`]).

use crate::actor::{ExitReason, Pid, ProcessRef, ProcessTable, Via};
use crate::config::RuntimeConfig;
use crate::context::{
    ProcessCtx, ProcessExited, ProcessHibernated, ProcessKilled, SpawnRequest, Spawner, Watch,
};
use crate::host::call::CallState;
use crate::host::wasi::{LazyWasi, WasiConfig};
use crate::io::{Copies, IoShared};
use crate::resources::ResourceTable;
use crate::version::{Running, Version, Versions};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::oneshot;
use wasmtime::{Engine, ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::I32Exit;

/// How a runtime builds each process's store data from warren's part.
pub(crate) type MakeData<T> = Arc<dyn Fn(ProcessData) -> T + Send + Sync>;

/// What every process of a runtime is made of: the engine and pre-instantiated module, the
/// process table, the configuration, and what the host modules share.
pub(crate) struct ProcessEnv<T: StoreData> {
    pub(crate) engine: Engine,
    /// The versions of the program it holds: current, which new processes run, and old.
    pub(crate) versions: Versions<T>,
    pub(crate) table: Arc<ProcessTable>,
    pub(crate) config: RuntimeConfig,
    pub(crate) wasi: Arc<WasiConfig>,
    pub(crate) io: Arc<IoShared>,
    /// Builds each process's store data around warren's part.
    pub(crate) make_data: MakeData<T>,
    /// Told when a process is seen computing (the epoch ticker then ticks fast).
    pub(crate) ticker: Arc<crate::engine::Ticker>,
    /// The cluster this runtime's node is in, if any.
    pub(crate) cluster: Option<crate::cluster::Cluster>,
}

/// The exports every process uses, resolved to indices once per module: a spawn then finds
/// its entry point and memory without a lookup by name (issue 24, lever 2).
pub(crate) struct ModuleExports {
    /// `warren_entry`, where a spawned process starts.
    entry: Option<wasmtime::ModuleExport>,
    /// `_start`, where the root process starts.
    start: Option<wasmtime::ModuleExport>,
    /// `memory`, which every host call that reads or writes the guest uses.
    memory: Option<wasmtime::ModuleExport>,
    /// The named resume points (`warren_resume:<name>` functions), by name.
    resume: Box<[(Box<str>, wasmtime::ModuleExport)]>,
}

impl ModuleExports {
    pub(crate) fn of(module: &wasmtime::Module) -> Self {
        ModuleExports {
            entry: module.get_export_index(warren_abi::ENTRY_EXPORT),
            start: module.get_export_index("_start"),
            memory: module.get_export_index("memory"),
            resume: resume_points(module),
        }
    }

    /// The index of the resume point `name`, if the module has one. (Past the first 65,536
    /// of a module, sorted by name, points are not named: none has that many.)
    pub(crate) fn resume_point(&self, name: &str) -> Option<u16> {
        let i = self
            .resume
            .binary_search_by(|(n, _)| (**n).cmp(name))
            .ok()?;
        u16::try_from(i).ok()
    }

    /// The names of its resume points, sorted.
    pub(crate) fn resume_names(&self) -> Arc<[Box<str>]> {
        self.resume.iter().map(|(n, _)| n.clone()).collect()
    }

    /// The name of resume point `i` (see [`ModuleExports::resume_point`]).
    pub(crate) fn resume_name(&self, i: u16) -> &str {
        self.resume.get(i as usize).map_or("", |(n, _)| n)
    }
}

/// The functions a module exports as `warren_resume:<name>`, sorted by name.
fn resume_points(module: &wasmtime::Module) -> Box<[(Box<str>, wasmtime::ModuleExport)]> {
    let mut points: Vec<(Box<str>, wasmtime::ModuleExport)> = module
        .exports()
        .filter(|e| e.ty().func().is_some())
        .filter_map(|e| {
            let name = e.name().strip_prefix(warren_abi::RESUME_EXPORT_PREFIX)?;
            Some((name.into(), module.get_export_index(e.name())?))
        })
        .collect();
    points.sort_by(|a, b| a.0.cmp(&b.0));
    points.into_boxed_slice()
}

/// The function `export` (looked up once as `name`) of `instance`, typed.
fn entry_point<P: wasmtime::WasmParams, T>(
    instance: &wasmtime::Instance,
    store: &mut Store<T>,
    export: Option<&wasmtime::ModuleExport>,
    name: &str,
) -> anyhow::Result<wasmtime::TypedFunc<P, ()>> {
    let func = export
        .and_then(|e| instance.get_module_export(&mut *store, e))
        .and_then(wasmtime::Extern::into_func)
        .ok_or_else(|| anyhow::anyhow!("the module exports no function `{name}`"))?;
    func.typed::<P, ()>(&*store)
        .map_err(|e| anyhow::anyhow!("the module's export `{name}` has the wrong type: {e:#}"))
}

/// warren's per-process state: what each of warren's host modules' views projects from.
/// An embedder's store type holds one (see [`StoreData`]); warren's own store type is this.
#[repr(C)] // what every send and receive touches first, together (see `ProcessCtx`)
pub struct ProcessData {
    /// The guest memory and the last failed call, for every host call.
    pub(crate) call: CallState,
    /// The actor state (`warren:process`, `message`, `registry`, `timer`).
    pub(crate) actor: ProcessCtx,
    /// The process's handles.
    pub(crate) resources: ResourceTable,
    /// WASI preview 1, built on first use.
    pub(crate) wasi: LazyWasi,
    /// The memory limit.
    pub(crate) limits: ProcessLimits,
    /// The host copies this process started.
    pub(crate) copies: Copies,
    /// The runtime's network allow-list, granted directories and pumps.
    pub(crate) io: Arc<IoShared>,
}

/// What a host module of the embedder may use of warren's per-process state: the handle
/// table (shared with warren's modules, so handles move in messages) and the per-call state
/// every view carries (guest memory, last error).
pub struct HostParts<'a> {
    /// The process's handles.
    pub resources: &'a mut ResourceTable,
    /// Guest memory and the last failed call.
    pub call: &'a mut CallState,
}

impl ProcessData {
    /// The parts a host module's view holds (see [`HostParts`]).
    pub fn host_parts(&mut self) -> HostParts<'_> {
        HostParts {
            resources: &mut self.resources,
            call: &mut self.call,
        }
    }

    /// The process's pid.
    pub fn pid(&self) -> crate::actor::Pid {
        self.actor.pid()
    }
}

/// A store type warren can run processes in: it holds warren's [`ProcessData`] next to
/// whatever the embedder's own host modules need.
///
/// This is the only thing the runner needs of the store type (to install the memory limiter,
/// check for kills, read the panic message). Host modules — warren's and the embedder's — do
/// not use it: each reaches its part of the store through its own getter and view.
///
/// ```
/// use warren_runtime::{ProcessData, StoreData};
///
/// struct MyData {
///     warren: ProcessData,
///     requests: u64,
/// }
///
/// impl StoreData for MyData {
///     fn warren(&mut self) -> &mut ProcessData {
///         &mut self.warren
///     }
/// }
/// ```
pub trait StoreData: Send + 'static {
    /// warren's part of the store data.
    fn warren(&mut self) -> &mut ProcessData;
}

impl StoreData for ProcessData {
    fn warren(&mut self) -> &mut ProcessData {
        self
    }
}

/// Per-process resource limits, enforced by wasmtime through [`ResourceLimiter`], which also
/// keeps the observer's count of the process's memory.
#[derive(Debug, Clone)]
pub(crate) struct ProcessLimits {
    /// Most bytes of linear memory.
    pub max_memory: usize,
    /// The process (its memory size is kept in its stats).
    pub me: Arc<ProcessRef>,
    /// Its table (the runtime's memory total).
    pub table: Arc<ProcessTable>,
}

/// A process asked for more than its limits allow.
#[derive(Debug, thiserror::Error)]
#[error("memory: growing linear memory to {desired} bytes exceeds the limit of {max} bytes")]
pub(crate) struct MemoryLimitExceeded {
    pub desired: usize,
    pub max: usize,
}

impl ResourceLimiter for ProcessLimits {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            // Trap rather than fail the grow: the allocator of a Rust guest would only abort
            // with a less precise message.
            return Err(wasmtime::Error::new(MemoryLimitExceeded {
                desired,
                max: self.max_memory,
            }));
        }
        let old = self.me.stats().set_memory(desired as u64);
        self.table.stats().memory_changed(old, desired as u64);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(maximum.is_none_or(|m| desired <= m))
    }
}

/// How a process is entered.
pub(crate) enum Entry {
    /// The root process: the module's `_start`.
    Start,
    /// A spawned or woken process: `warren_entry(trampoline, func, args_len)`, or as
    /// `spec.via` says (hot code upgrade: a named resume point, see [`wake_at_named`]). One
    /// variant, the way in kept in the spec's padding: a hibernated process holds an `Entry`.
    Spawned(SpawnRequest),
    /// Any exported `() -> ()` function, in a fresh instance (an embedder's entry point).
    Export(String),
    /// Only instantiate, then end normally: a load checks that a new version's instances
    /// start (its start function, its data segments, its memory within the limit) before
    /// making it current.
    Probe,
}

/// Run one process to its end. `on_exit` receives the exit reason after the table is updated.
///
/// Not an `async fn`: the process's task would then hold `me` and `entry` twice (as this
/// function's arguments and inside `execute`'s future), and a hibernated process is little
/// more than its task.
pub(crate) fn run<T: StoreData, R: Spawner + AsRef<ProcessEnv<T>>>(
    rt: Arc<R>,
    me: Arc<ProcessRef>,
    version: Arc<Version<T>>,
    entry: Entry,
    on_exit: Option<oneshot::Sender<ExitReason>>,
) -> impl Future<Output = ()> {
    // A panic in a host function (warren's or an embedder's) unwinds out of the call: catch
    // it here, so the process still leaves the table with a reason and its monitors and links
    // still fire, and nothing else is affected.
    let table = (*rt).as_ref().table.clone();
    let work = catch_panic(execute(rt.clone(), me.clone(), version, entry));
    Finish {
        work,
        cpu: table.stats().measures_cpu(),
        me,
        table,
        end: Some(on_exit),
    }
}

pin_project_lite::pin_project! {
    /// A process's work, then its end: the exit reason into the table and to `on_exit`. A plain
    /// future (see [`run`]): the work is stored once, in place. Each poll marks the process
    /// running, then waiting (unless it was preempted), and adds its CPU time when the runtime
    /// measures it.
    struct Finish<F> {
        #[pin]
        work: F,
        me: Arc<ProcessRef>,
        table: Arc<ProcessTable>,
        cpu: bool,
        end: Option<Option<oneshot::Sender<ExitReason>>>,
    }
}

impl<F: Future<Output = Result<anyhow::Result<ExitReason>, String>>> Future for Finish<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let work = this.work;
        let stats = this.me.stats();
        stats.running();
        let polled = if *this.cpu {
            let clock = this.table.stats().clock();
            let start = clock.now();
            let polled = work.poll(cx);
            stats.add_cpu(clock.now().wrapping_sub(start));
            polled
        } else {
            work.poll(cx)
        };
        let Poll::Ready(outcome) = polled else {
            stats.suspended();
            return Poll::Pending;
        };
        let Some(on_exit) = this.end.take() else {
            return Poll::Ready(()); // polled again after its end
        };
        let (pid, table) = (this.me.pid(), &*this.table);
        let reason = match outcome {
            Ok(Ok(reason)) => reason,
            Ok(Err(e)) => ExitReason::Trap(format!("cannot start process {pid}: {e:#}")),
            Err(panic) => {
                tracing::error!(pid, "a host function panicked: {panic}");
                ExitReason::Trap(format!("host function panicked: {panic}"))
            }
        }
        .bounded();
        log_exit(table, pid, &reason);
        table.exit(pid, &reason);
        if let Some(tx) = on_exit {
            let _ = tx.send(reason);
        }
        Poll::Ready(())
    }
}

/// A crash — a panic, a trap, a limit hit, a non-zero `proc_exit` — is one `error` line
/// (target `warren::process`) with the pid, the process's name and the reason; other
/// abnormal ends (killed, a linked exit, `shutdown`) are `debug` lines.
fn log_exit(table: &ProcessTable, pid: Pid, reason: &ExitReason) {
    const TARGET: &str = "warren::process";
    match reason {
        ExitReason::Normal => {}
        ExitReason::Panic(_) | ExitReason::Trap(_) | ExitReason::Limit(_) | ExitReason::Exit(_) => {
            if tracing::enabled!(target: TARGET, tracing::Level::ERROR) {
                let name = table.names().first_name(pid);
                tracing::error!(target: TARGET, pid, name, "process crashed: {reason}");
            }
        }
        _ => tracing::debug!(target: TARGET, pid, "process exited: {reason}"),
    }
}

/// What a process keeps from one instance to the next when it hibernates: everything but the
/// instance (its memory, stack, pool slot and store).
struct Kept {
    actor: ProcessCtx,
    resources: ResourceTable,
    copies: Copies,
    max_memory: usize,
    fuel: Option<u64>,
}

/// How one instance of a process ended.
#[allow(clippy::large_enum_variant)] // made once per instance; boxing would cost a malloc
enum Ended {
    /// The process ended, for this reason.
    Exit(ExitReason),
    /// The process hibernated: resume it with this request when a message comes (or the
    /// watched handle is ready; or at once: `now`), at its version's named resume point
    /// `point` if it gave one.
    Hibernated {
        kept: Kept,
        request: SpawnRequest,
        watch: Option<Watch>,
        point: Option<u16>,
        now: bool,
    },
}

async fn execute<T: StoreData, R: Spawner + AsRef<ProcessEnv<T>>>(
    spawner: Arc<R>,
    me: Arc<ProcessRef>,
    version: Arc<Version<T>>,
    mut entry: Entry,
) -> anyhow::Result<ExitReason> {
    let rt: &ProcessEnv<T> = (*spawner).as_ref();
    // Its version, counted on while it lives, hibernated or not: what its instances are
    // made from.
    let mut running = match Running::enter(version, &me) {
        Ok(running) => running,
        Err(purged) => return Ok(purged),
    };
    let mut kept = Kept {
        resources: ResourceTable::with_limit(rt.config.max_handles).with_census(me.clone()),
        actor: ProcessCtx::new(me, rt.table.clone(), spawner.clone()),
        copies: Copies::new(rt.io.pumps.clone(), rt.config.max_pumps_per_process),
        max_memory: rt.config.max_memory,
        fuel: rt.config.max_fuel,
    };
    if let Entry::Spawned(req) = &mut entry {
        // Checked against the runtime's limits by the spawner.
        if let Some(m) = req.spec.max_memory {
            kept.max_memory = m as usize;
        }
        kept.fuel = req.spec.max_fuel.or(kept.fuel);
    }
    loop {
        // Boxed: an instance's future (wasmtime's calls, fibers) is several KiB, and the
        // task's own allocation is sized by its largest state. Held only while the instance
        // runs, it leaves a hibernating process's task small. (For the same reason the state
        // kept across a hibernation is moved back into `kept` and `entry`, not new bindings.)
        let (watch, now) = match Box::pin(run_instance(rt, running.version(), kept, entry)).await? {
            Ended::Exit(reason) => return Ok(reason),
            Ended::Hibernated {
                kept: k,
                request,
                watch,
                point,
                now,
            } => {
                kept = k;
                entry = match point {
                    None => Entry::Spawned(request),
                    Some(point) => {
                        // It wakes on whatever version is current then: no purge ends it.
                        kept.actor.me.set_movable(running.version().number);
                        let mut request = request;
                        request.spec.point = point;
                        request.spec.via = Via::Named;
                        Entry::Spawned(request)
                    }
                };
                (watch, now)
            }
        };
        let me = &kept.actor.me;
        if !now {
            // Hibernated: only the table entry, the mailbox and what `kept` holds remain.
            // Wait (a parked task) for any message, an exit signal included; a kill ends it
            // here.
            rt.table.stats().hibernation(true);
            me.stats().set_hibernated(true);
            let woken = until_killed(me, async {
                let message = std::pin::pin!(me.mailbox.ready(|_| true));
                match &watch {
                    None => message.await,
                    Some(w) => first(message, std::pin::pin!(w.ready())).await,
                }
                Ok(())
            })
            .await;
            rt.table.stats().hibernation(false);
            me.stats().set_hibernated(false);
            if woken.is_err() {
                return Ok(me.exit_reason());
            }
        } else {
            if me.is_killed() {
                return Ok(me.exit_reason());
            }
            // `upgrade` resumes at once: give the worker to the other processes first, so
            // that a process upgrading in a loop is one more runnable task, not a worker's
            // only one.
            yield_once().await;
        }
        if matches!(&entry, Entry::Spawned(r) if r.spec.via == Via::Named) {
            entry = match wake_at_named(rt, &mut running, me, entry) {
                Ok(entry) => entry,
                Err(reason) => return Ok(reason),
            };
        }
    }
}

/// How a process hibernated at a named resume point wakes: on the current version. Its own
/// version if that is current (through the function-table indices it gave); else current's
/// export of the same name, or the reason to end with if current has none.
fn wake_at_named<T: StoreData>(
    rt: &ProcessEnv<T>,
    running: &mut Running<T>,
    me: &ProcessRef,
    entry: Entry,
) -> Result<Entry, ExitReason> {
    let Entry::Spawned(mut request) = entry else {
        return Ok(entry);
    };
    let own = running.version();
    let name = own.exports.resume_name(request.spec.point).to_string();
    loop {
        let current = rt.versions.current();
        if current.number == running.version().number {
            // No longer movable: a purge of its version ends it again.
            me.set_version(current.number);
            request.spec.via = Via::Indices;
            return Ok(Entry::Spawned(request));
        }
        let Some(there) = current.exports.resume_point(&name) else {
            return Err(ExitReason::Upgrade(format!(
                "version {} has no resume point \"{name}\"",
                current.number
            )));
        };
        let from = running.version().number;
        match Running::enter(current, me) {
            Ok(on_current) => {
                tracing::debug!(pid = me.pid(), "moved from version {from} at {name}");
                *running = on_current;
                request.spec.point = there;
                request.spec.via = Via::Export;
                return Ok(Entry::Spawned(request));
            }
            // Purged between the read and the entry: a newer version is current now.
            Err(_) => continue,
        }
    }
}

/// Run one instance of a process: from its entry to its end or its hibernation.
async fn run_instance<T: StoreData>(
    rt: &ProcessEnv<T>,
    version: &Version<T>,
    kept: Kept,
    mut entry: Entry,
) -> anyhow::Result<Ended> {
    let Kept {
        mut actor,
        mut resources,
        copies,
        max_memory,
        fuel,
    } = kept;
    let pid = actor.pid();
    if let Entry::Spawned(req) = &mut entry {
        // Moved, not copied: the captures live only until the child fetches them, and a
        // handle in them is the child's alone (dropping it releases its port or lock).
        actor.spawn_args = Some(std::mem::take(&mut req.spec.args));
        resources.set_inbox(std::mem::take(&mut req.resources));
    }
    let wasi = LazyWasi::new(rt.wasi.clone()).owned_by(actor.me.clone());
    let limits = ProcessLimits {
        max_memory,
        me: actor.me.clone(),
        table: rt.table.clone(),
    };
    let data = ProcessData {
        call: CallState::default(),
        actor,
        resources,
        wasi,
        limits,
        copies,
        io: rt.io.clone(),
    };
    let mut store = Store::new(&rt.engine, (rt.make_data)(data));
    store.limiter(|d| &mut d.warren().limits);
    let ticker = rt.ticker.clone();
    store.epoch_deadline_callback(move |mut ctx| {
        let data = ctx.data_mut().warren();
        let me = &data.actor.me;
        if me.is_killed() {
            return Err(crate::context::ending(ProcessKilled(me.pid())));
        }
        // Not a preemption: a process leaving a tokio thread for the scheduler's workers.
        if data.call.take_moving() {
            return Ok(UpdateDeadline::Yield(1));
        }
        if data.call.preempted() {
            ticker.computing();
        }
        me.stats().preempted();
        Ok(UpdateDeadline::Yield(1))
    });
    store.set_epoch_deadline(1);
    if let Some(fuel) = fuel {
        store.set_fuel(fuel)?;
    }

    let me = store.data_mut().warren().actor.me.clone();
    // Instantiation runs the module's `start` function, which may call into the host (and
    // wait there): a kill must end it too.
    let instance = match instantiate(version, &me, &mut store).await {
        Ok(i) => i,
        Err(e) if e.is::<ProcessKilled>() => {
            let signalled = me.exit_reason();
            return Ok(Ended::Exit(signalled));
        }
        Err(e) => {
            let panic = store.data_mut().warren().actor.panic_message.take();
            if panic.is_some() || e.is::<ProcessExited>() || e.is::<wasmtime::Trap>() {
                return Ok(Ended::Exit(exit_reason(Err(e), panic, me.exit_reason())));
            }
            return Ok(Ended::Exit(instantiate_failure(rt, pid, e)));
        }
    };
    let memory = version
        .exports
        .memory
        .as_ref()
        .and_then(|e| instance.get_module_export(&mut store, e))
        .and_then(wasmtime::Extern::into_memory);
    if let Some(memory) = memory {
        // Host calls find the guest's memory here instead of looking it up by name.
        store.data_mut().warren().call.set_memory(memory);
        // Only an observer asks what is resident.
        if rt.table.stats().measures_cpu() {
            me.stats().set_memory_base(memory.data_ptr(&store) as usize);
        }
    }
    // A kill ends the process wherever it is: at its next epoch check when it computes, or
    // here, by dropping the call (wasmtime unwinds the suspended fiber) when it waits in any
    // host call — warren's or an embedder's.
    let result = match entry {
        Entry::Start => {
            let f = entry_point::<(), _>(
                &instance,
                &mut store,
                version.exports.start.as_ref(),
                "_start",
            )?;
            until_killed(&me, f.call_async(&mut store, ())).await
        }
        Entry::Spawned(req) if req.spec.via == Via::Export => {
            let len = captures_len(&mut store)?;
            let point = req.spec.point;
            let name = version.exports.resume_name(point);
            let export = format!("{}{name}", warren_abi::RESUME_EXPORT_PREFIX);
            let f = entry_point::<(u32,), _>(
                &instance,
                &mut store,
                version.exports.resume.get(point as usize).map(|(_, e)| e),
                &export,
            )?;
            until_killed(&me, f.call_async(&mut store, (len,))).await
        }
        Entry::Spawned(req) => {
            let len = captures_len(&mut store)?;
            let f = entry_point::<(u32, u32, u32), _>(
                &instance,
                &mut store,
                version.exports.entry.as_ref(),
                warren_abi::ENTRY_EXPORT,
            )?;
            until_killed(
                &me,
                f.call_async(&mut store, (req.spec.trampoline, req.spec.func, len)),
            )
            .await
        }
        Entry::Probe => return Ok(Ended::Exit(ExitReason::Normal)),
        Entry::Export(name) => {
            let f = instance
                .get_typed_func::<(), ()>(&mut store, &name)
                .map_err(|e| {
                    anyhow::anyhow!("entering process {pid} through export `{name}`: {e:#}")
                })?;
            until_killed(&me, f.call_async(&mut store, ())).await
        }
    };
    me.stats().set_memory_base(0);
    let result = match result {
        Err(e) if e.is::<ProcessHibernated>() => {
            let Ok(ProcessHibernated {
                request,
                watch,
                name,
                now,
            }) = e.downcast::<ProcessHibernated>()
            else {
                unreachable!("checked with is::<ProcessHibernated>")
            };
            // A name the version does not export is not a resume point: it wakes as an
            // unnamed one (a program that never declared `resume_point!` keeps its version).
            let point = name
                .as_deref()
                .and_then(|n| version.exports.resume_point(n));
            if now && point.is_none() {
                let why = match &name {
                    Some(n) => format!(
                        "version {} has no resume point \"{n}\" to upgrade at (declare it \
                         with warren::resume_point!)",
                        version.number
                    ),
                    None => "an upgrade needs a named resume point".to_string(),
                };
                return Ok(Ended::Exit(ExitReason::Upgrade(why)));
            }
            let fuel = store.get_fuel().ok().filter(|_| fuel.is_some());
            let memory = me.stats().set_memory(0);
            rt.table.stats().memory_changed(memory, 0);
            let mut data = store.into_data();
            let w = data.warren();
            // Take the process's parts out of the store data; what is left (the instance's
            // WASI context, the embedder's parts) is dropped with it.
            let placeholder =
                ProcessCtx::new(me.clone(), w.actor.table.clone(), w.actor.spawner.clone());
            let mut actor = std::mem::replace(&mut w.actor, placeholder);
            actor.panic_message = None;
            actor.pending = None;
            let kept = Kept {
                actor,
                resources: std::mem::take(&mut w.resources),
                copies: w.copies.clone(),
                max_memory,
                fuel,
            };
            return Ok(Ended::Hibernated {
                kept,
                request,
                watch,
                point,
                now,
            });
        }
        other => other,
    };
    let panic = store.data_mut().warren().actor.panic_message.take();
    let signalled = store.data_mut().warren().actor.me.exit_reason();
    drop(store);
    Ok(Ended::Exit(exit_reason(result, panic, signalled)))
}

/// Pending once (waking itself at once), then ready: the task goes to the back of its run
/// queue.
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}

/// The length of the captures a spawned or woken instance fetches (`spawn_args`).
fn captures_len<T: StoreData>(store: &mut Store<T>) -> anyhow::Result<u32> {
    let args = store.data_mut().warren().actor.spawn_args.as_ref();
    Ok(u32::try_from(args.map_or(0, Vec::len))?)
}

/// Resolves when either `a` or `b` does.
async fn first(
    mut a: Pin<&mut impl Future<Output = ()>>,
    mut b: Pin<&mut impl Future<Output = ()>>,
) {
    std::future::poll_fn(|cx| {
        if a.as_mut().poll(cx).is_ready() || b.as_mut().poll(cx).is_ready() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await
}

/// How long a process that needs an instance waits for a free slot when all are taken (by
/// processes awake at once, beyond `max_instances`) before it ends with `limit(processes)`.
const SLOT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Instantiate the module in `store`, waiting (killably) for a pool slot if none is free:
/// slots come back as processes hibernate or end.
async fn instantiate<T: StoreData>(
    version: &Version<T>,
    me: &ProcessRef,
    store: &mut Store<T>,
) -> wasmtime::Result<wasmtime::Instance> {
    let deadline = tokio::time::Instant::now() + SLOT_WAIT;
    let mut pause = std::time::Duration::from_micros(100);
    loop {
        match until_killed(me, version.pre.instantiate_async(&mut *store)).await {
            Err(e)
                if e.is::<wasmtime::PoolConcurrencyLimitError>()
                    && tokio::time::Instant::now() < deadline =>
            {
                until_killed(me, async {
                    tokio::time::sleep(pause).await;
                    Ok(())
                })
                .await?;
                pause = (pause * 2).min(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// Run `call` until it returns or the process is killed. Cheap on the hot path: an atomic
/// load per poll, and the kill waker is only re-registered when the task's waker changes.
///
/// This and [`catch_panic`] are plain futures wrapping the call in place, not `async fn`s: an
/// `async fn` would hold both the future it is given and a pinned copy, and every process's
/// task is sized by them (a hibernated process is little more than its task).
fn until_killed<F: Future>(me: &ProcessRef, call: F) -> UntilKilled<'_, F> {
    UntilKilled {
        me,
        call,
        registered: None,
    }
}

pin_project_lite::pin_project! {
    struct UntilKilled<'a, F> {
        me: &'a ProcessRef,
        #[pin]
        call: F,
        registered: Option<std::task::Waker>,
    }
}

impl<R, F: Future<Output = wasmtime::Result<R>>> Future for UntilKilled<'_, F> {
    type Output = wasmtime::Result<R>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let me: &ProcessRef = this.me;
        if me.is_killed() {
            return Poll::Ready(Err(wasmtime::Error::new(ProcessKilled(me.pid()))));
        }
        if let Poll::Ready(r) = this.call.poll(cx) {
            return Poll::Ready(r);
        }
        // Registers the task's waker (when it changed) and looks again: a kill from another
        // thread is never missed (the protocol is warren_sync::kill's, checked by loom).
        match me.poll_killed(cx, this.registered) {
            Poll::Ready(()) => Poll::Ready(Err(wasmtime::Error::new(ProcessKilled(me.pid())))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Run `f` to its end, or to the panic that ends it (with the panic's message).
fn catch_panic<F: Future>(f: F) -> CatchPanic<F> {
    CatchPanic { f }
}

pin_project_lite::pin_project! {
    struct CatchPanic<F> {
        #[pin]
        f: F,
    }
}

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, String>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let f = self.project().f;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f.poll(cx))) {
            Ok(Poll::Ready(r)) => Poll::Ready(Ok(r)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(panic_text(&*payload))),
        }
    }
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic without a message)".into()
    }
}

fn instantiate_failure<T: StoreData>(
    rt: &ProcessEnv<T>,
    pid: u64,
    e: wasmtime::Error,
) -> ExitReason {
    let text = format!("{e:#}");
    if e.is::<wasmtime::PoolConcurrencyLimitError>() {
        // Every slot of the pool is taken by an awake process: the limit is the slot count,
        // which the configuration sets, not the OS.
        let limit = rt.table.limit();
        let slots = rt.config.max_instances.map_or(limit, |n| n.min(limit));
        return ExitReason::Limit(format!(
            "processes: cannot create process {pid}: all {slots} instance slots are taken by \
             awake processes for {secs} s (raise --max-instances, \
             RuntimeConfig::max_instances; a hibernated process holds none)",
            secs = SLOT_WAIT.as_secs()
        ));
    }
    let exhausted = e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.raw_os_error() == Some(12 /* ENOMEM */))
    }) || text.contains("Cannot allocate memory");
    if exhausted {
        ExitReason::Limit(format!(
            "processes: cannot create process {pid}: {text}; {}",
            crate::engine::map_count_advice(rt.table.limit())
        ))
    } else {
        ExitReason::Trap(format!("cannot instantiate process {pid}: {text}"))
    }
}

/// Turn the outcome of a process's entry call into its exit reason.
/// `signalled` is the reason the process was told to exit with, used if it was killed.
pub(crate) fn exit_reason(
    result: wasmtime::Result<()>,
    panic: Option<String>,
    signalled: ExitReason,
) -> ExitReason {
    let e = match result {
        Ok(()) => return ExitReason::Normal,
        Err(e) => e,
    };
    if let Some(exit) = e.downcast_ref::<I32Exit>() {
        return if exit.0 == 0 {
            ExitReason::Normal
        } else {
            ExitReason::Exit(exit.0)
        };
    }
    if e.is::<ProcessKilled>() {
        return signalled;
    }
    if let Some(ProcessExited(reason)) = e.downcast_ref::<ProcessExited>() {
        return reason.clone();
    }
    if let Some(limit) = e.downcast_ref::<MemoryLimitExceeded>() {
        return ExitReason::Limit(limit.to_string());
    }
    if let Some(q) = e.downcast_ref::<crate::actor::QuotaError>() {
        return ExitReason::Limit(q.to_string());
    }
    if e.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::OutOfFuel) {
        return ExitReason::Limit("compute: the process used up its fuel budget".into());
    }
    if let Some(message) = panic {
        return ExitReason::Panic(message);
    }
    let mut text = e.root_cause().to_string();
    if let Some(bt) = e.downcast_ref::<wasmtime::WasmBacktrace>() {
        let frames: Vec<String> = bt
            .frames()
            .iter()
            .take(8)
            .map(|f| match f.func_name() {
                Some(name) => format!("{:#}", rustc_demangle::demangle(name)),
                None => format!("func #{}", f.func_index()),
            })
            .collect();
        if !frames.is_empty() {
            text.push_str(&format!(" (in {})", frames.join(" <- ")));
        }
    }
    ExitReason::Trap(text)
}
