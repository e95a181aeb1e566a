//! The per-process state of the actor API, below the host modules and the runner.
//!
//! A process's host modules (`warren:process`, `warren:message`, `warren:registry`,
//! `warren:timer`) and the runner that drives it share a [`ProcessCtx`]: who the process is,
//! the process table, how to spawn, and the few values that live between two calls (the
//! captures until fetched, a pending message, the last panic message). The runner turns the
//! two trap payloads, [`ProcessExited`] and [`ProcessKilled`], into exit reasons.
//!
//! Spawning goes through the [`Spawner`] trait because creating a store is the embedder's
//! business (its store type): the runtime implements it, the host call only asks.

use crate::actor::logs::LogBudget;
use crate::actor::{ExitReason, Message, Pid, ProcessRef, ProcessTable, SpawnError, SpawnSpec};
use crate::io::{ReadReady, ReadSource};
use crate::resources::Resource;
use std::sync::Arc;

/// What a guest asked to spawn on this node: the process ([`SpawnSpec`], the same a spawn on
/// another node sends) and the handles moved into its captures.
#[derive(Debug, Clone)]
pub(crate) struct SpawnRequest {
    pub spec: SpawnSpec,
    /// Handles moved into the captures (`warren:message.attach`), claimed by the child.
    pub resources: Vec<Resource>,
}

/// Creates processes; implemented by the runtime that owns the engine and the store type.
pub(crate) trait Spawner: Send + Sync + 'static {
    /// Start a child of `parent` as `request` says; its pid.
    fn spawn(&self, parent: Pid, request: SpawnRequest) -> Result<Pid, SpawnError>;

    /// The cluster the runtime is in, if any (for `warren:node`).
    fn cluster(&self) -> Option<&crate::cluster::Cluster> {
        None
    }

    /// SHA-256 of version `number` of the program (named in remote spawns), if it is held.
    fn version_hash(&self, _number: u32) -> Option<[u8; 32]> {
        None
    }
}

/// The per-process state of the actor API, shared by `warren:process` and `warren:message`.
///
/// Laid out in declaration order, the fields every send and receive touches first, so they
/// share cache lines (a ring of 10,000 processes is bound by cache misses on them).
#[repr(C)]
pub(crate) struct ProcessCtx {
    /// This process.
    pub me: Arc<ProcessRef>,
    /// Every process of the runtime.
    pub table: Arc<ProcessTable>,
    /// The process this one last sent to: most processes talk to the same peer again, and
    /// this saves the process-table lookup (a shared lock) on every send.
    pub last_peer: Option<Arc<ProcessRef>>,
    /// A received message that did not fit the guest's buffer, until `take` fetches it.
    pub pending: Option<Message>,
    /// How `spawn` creates processes.
    pub spawner: Arc<dyn Spawner>,
    /// The captures of a spawned process, until it fetches them.
    pub spawn_args: Option<Vec<u8>>,
    /// The last panic message the guest reported; becomes the exit reason if it then traps.
    pub panic_message: Option<String>,
    /// Its log rate (`warren:log`).
    pub log: LogBudget,
    /// The mailbox bound its next spawn starts the child with (`spawn_bound`), as a spawn
    /// order carries it.
    pub spawn_bound: Option<(u64, u64, u32)>,
}

impl ProcessCtx {
    /// The state of a process about to start.
    pub(crate) fn new(
        me: Arc<ProcessRef>,
        table: Arc<ProcessTable>,
        spawner: Arc<dyn Spawner>,
    ) -> Self {
        ProcessCtx {
            me,
            table,
            spawner,
            spawn_args: None,
            panic_message: None,
            pending: None,
            last_peer: None,
            log: LogBudget::default(),
            spawn_bound: None,
        }
    }

    /// This process's pid.
    pub(crate) fn pid(&self) -> Pid {
        self.me.pid()
    }
}

/// The error that ends an instance on purpose — its own `exit`, a hibernation, a kill — as
/// wasmtime should raise it: with no backtrace.
///
/// An error out of a host call unwinds the wasm stack, and wasmtime captures and symbolises a
/// backtrace of it (up to 16 frames, each looked up in the module's address map) unless the
/// error already carries one. That is a trap's diagnosis, and it cost a hibernating process
/// ~9% of a wake-up (docs/benchmarks.md, "Host-call fast paths"). So these errors carry an
/// empty one, captured from a store that never runs wasm.
pub(crate) fn ending<E>(e: E) -> wasmtime::Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    thread_local! {
        static NO_WASM: Option<wasmtime::Store<()>> =
            wasmtime::Engine::new(&wasmtime::Config::new()).ok().map(|e| wasmtime::Store::new(&e, ()));
    }
    let e = wasmtime::Error::new(e);
    match NO_WASM.with(|s| s.as_ref().map(wasmtime::WasmBacktrace::capture)) {
        Some(none) => e.context(none),
        None => e,
    }
}

/// The process ended itself with `exit(reason)`; raised as a trap to unwind it.
#[derive(Debug, thiserror::Error)]
#[error("process exited: {0}")]
pub(crate) struct ProcessExited(pub ExitReason);

/// The process asked to hibernate: its instance ends (raised as a trap to unwind it) and it
/// resumes in a fresh instance with `request` when the next message comes, or `watch` is
/// ready.
#[derive(Debug, thiserror::Error)]
#[error("process hibernated")]
pub(crate) struct ProcessHibernated {
    /// How to resume it.
    pub request: SpawnRequest,
    /// A handle whose readiness wakes it too.
    pub watch: Option<Watch>,
    /// The resume point's name (`warren_resume:<name>`), if the guest gave one: a named
    /// point of its version wakes on the current version (hot code upgrade).
    pub name: Option<Box<str>>,
    /// Resume at once, without waiting for a message (`upgrade`).
    pub now: bool,
}

/// A handle a hibernated process waits on besides its mailbox (`hibernate_watch`).
pub(crate) enum Watch {
    /// Something to read from: ready when a read would not wait (data, end, or error).
    Read(Arc<dyn ReadSource>),
    /// A listener or UDP socket: ready when an accept or receive would not wait.
    Ready(Arc<dyn ReadReady>),
}

impl Watch {
    /// The interface of `resource` a hibernated process can wait on, if it has one.
    pub(crate) fn of(resource: &Resource) -> Option<Watch> {
        if let Some(r) = resource.interface::<dyn ReadSource>() {
            return Some(Watch::Read(r));
        }
        resource.interface::<dyn ReadReady>().map(Watch::Ready)
    }

    /// Resolves when the handle is ready (an error counts as ready: the read reports it).
    pub(crate) async fn ready(&self) {
        match self {
            Watch::Read(r) => {
                let _ = r.ready_exact().await;
            }
            Watch::Ready(r) => {
                let _ = r.read_ready().await;
            }
        }
    }
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Watch::Read(_) => "Watch::Read",
            Watch::Ready(_) => "Watch::Ready",
        })
    }
}

/// The process was killed; raised as a trap out of whatever it was doing.
#[derive(Debug, thiserror::Error)]
#[error("process {0} was killed")]
pub(crate) struct ProcessKilled(pub Pid);
