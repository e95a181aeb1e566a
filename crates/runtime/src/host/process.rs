//! `warren:process`: who am I, spawn a process from a function-table entry, monitor, kill,
//! and report a panic message before the guest aborts.
//!
//! Spawning: the guest passes two function-table indices (a type-tagged trampoline and the
//! user's entry function, both produced by the SDK from real `fn` items) and the serialized
//! captures. The host creates a fresh instance of the same module in its own store and calls
//! its `warren_entry(trampoline, func, args_len)` export; the new process then fetches the
//! captures with `spawn_args`. Creating the store is the embedder's business, so this module
//! reaches it through the [`Spawner`] trait.

use super::abi::*;
use super::guest_memory::{self, GuestFault};
use crate::actor::{Message, Pid, ProcessRef, ProcessTable, SpawnError};
use std::sync::Arc;
use wasmtime::{Caller, Linker};

/// What a guest asked to spawn.
#[derive(Debug, Clone)]
pub struct SpawnRequest {
    pub trampoline: u32,
    pub func: u32,
    pub args: Vec<u8>,
    /// If set, the spawner monitors the child with this reference from before it runs, so
    /// even an immediate exit is reported with its real reason.
    pub monitor: Option<u64>,
    /// Link the spawner and the child before the child runs.
    pub link: bool,
    /// The child's own memory limit in bytes (at most the runtime's), if not the runtime's.
    pub max_memory: Option<u64>,
    /// The child's own compute budget, if not the runtime's (needs fuel counting on).
    pub max_fuel: Option<u64>,
    /// Handles moved into the captures (`warren:message.attach`), claimed by the child.
    pub resources: Vec<crate::resources::Resource>,
}

/// Creates processes; implemented by the runtime that owns the engine and the store type.
pub trait Spawner: Send + Sync + 'static {
    fn spawn(&self, parent: Pid, request: SpawnRequest) -> Result<Pid, SpawnError>;
}

/// The per-process state of the actor API, shared by `warren:process` and `warren:message`.
pub struct ProcessCtx {
    pub me: Arc<ProcessRef>,
    pub table: Arc<ProcessTable>,
    pub spawner: Arc<dyn Spawner>,
    /// The captures of a spawned process, until it fetches them.
    pub spawn_args: Option<Vec<u8>>,
    /// The last panic message the guest reported; becomes the exit reason if it then traps.
    pub panic_message: Option<String>,
    /// A received message that did not fit the guest's buffer, until `take` fetches it.
    pub pending: Option<Message>,
    /// The instance's exported memory, once looked up.
    pub memory: Option<wasmtime::Memory>,
    /// The process this one last sent to: most processes talk to the same peer again, and
    /// this saves the process-table lookup (a shared lock) on every send.
    pub last_peer: Option<Arc<ProcessRef>>,
}

impl ProcessCtx {
    pub fn new(me: Arc<ProcessRef>, table: Arc<ProcessTable>, spawner: Arc<dyn Spawner>) -> Self {
        ProcessCtx {
            me,
            table,
            spawner,
            spawn_args: None,
            panic_message: None,
            pending: None,
            memory: None,
            last_peer: None,
        }
    }

    pub fn pid(&self) -> Pid {
        self.me.pid()
    }
}

/// The view `warren:process` needs of the store data: the actor state, and the resource
/// table (handles attached to a spawn move into the child).
pub struct ProcessView<'a> {
    pub ctx: &'a mut ProcessCtx,
    pub resources: &'a mut crate::resources::ResourceTable,
}

/// The process ended itself with `exit(reason)`; raised as a trap to unwind it.
#[derive(Debug, thiserror::Error)]
#[error("process exited: {0}")]
pub struct ProcessExited(pub crate::actor::ExitReason);

/// The process was killed; raised as a trap out of whatever it was doing.
#[derive(Debug, thiserror::Error)]
#[error("process {0} was killed")]
pub struct ProcessKilled(pub Pid);

fn pid_arg(pid: i64) -> Option<Pid> {
    u64::try_from(pid).ok()
}

/// Read and decode an exit reason the guest passed; undecodable bytes trap.
fn read_reason<T>(
    c: &mut Caller<'_, T>,
    get: fn(&mut T) -> ProcessView<'_>,
    ptr: u32,
    len: u32,
    call: &'static str,
) -> wasmtime::Result<crate::actor::ExitReason> {
    if len as usize > MAX_EXIT_REASON {
        return Err(GuestFault::trap(
            call,
            format!("exit reason of {len} bytes is over 64 KiB"),
        ));
    }
    let mem = guest_memory::memory(c, |d| &mut get(d).ctx.memory, call)?;
    let bytes = guest_memory::read(c, mem, ptr, len, call)?;
    crate::actor::ExitReason::decode(&bytes).ok_or_else(|| {
        GuestFault::trap(
            call,
            "not an encoded exit reason (see docs/abi.md: one kind byte, its data; a linked \
             reason holds one flat reason; texts of at most 16 KiB)",
        )
    })
}

pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> ProcessView<'_>,
) -> anyhow::Result<()> {
    let m = PROCESS_MODULE;

    // self() -> i64: the caller's pid.
    linker.func_wrap(m, "self", move |mut c: Caller<'_, T>| -> i64 {
        get(c.data_mut()).ctx.pid() as i64
    })?;

    // spawn(trampoline, func, args_ptr, args_len, monitor_tag, flags, max_memory, max_fuel)
    // -> i64: the child's pid, or ERR_PROCESS_LIMIT / ERR_SPAWN_FAILED. A non-zero
    // monitor_tag (from new_tag) makes the caller monitor the child with that reference
    // before the child runs; flags bit 0 (SPAWN_LINK) links them before the child runs
    // (other bits must be 0). max_memory / max_fuel > 0 set the child's own limits (at most
    // the runtime's memory limit; fuel only if the runtime counts fuel), else
    // ERR_BAD_ARGUMENT; 0 means the runtime's.
    linker.func_wrap(
        m,
        "spawn",
        move |mut c: Caller<'_, T>,
              trampoline: u32,
              func: u32,
              ptr: u32,
              len: u32,
              tag: i64,
              flags: u32,
              max_memory: i64,
              max_fuel: i64| {
            if flags & !SPAWN_LINK != 0 || max_memory < 0 || max_fuel < 0 {
                return Ok(ERR_BAD_ARGUMENT as i64);
            }
            const CALL: &str = "warren:process.spawn";
            let mem = guest_memory::memory(&mut c, |d| &mut get(d).ctx.memory, CALL)?;
            let args = guest_memory::read(&c, mem, ptr, len, CALL)?;
            let view = get(c.data_mut());
            let ctx = view.ctx;
            let parent = ctx.pid();
            let monitor = (tag != 0).then_some(tag as u64);
            // The monitor reference must be one the caller holds and monitors nothing with
            // (from new_tag): anything else could forge a DOWN into another receive.
            if let Some(t) = monitor
                && !ctx.table.is_free_ref(parent, t)
            {
                view.resources.last_error = format!(
                    "warren:process.spawn: monitor tag {tag} is not a reference from new_tag that \
                     this process holds unused"
                );
                return Ok(ERR_BAD_ARGUMENT as i64);
            }
            let resources = view.resources.take_outbox();
            let request = SpawnRequest {
                trampoline,
                func,
                args,
                monitor,
                link: flags & SPAWN_LINK != 0,
                max_memory: (max_memory > 0).then_some(max_memory as u64),
                max_fuel: (max_fuel > 0).then_some(max_fuel as u64),
                resources,
            };
            let code = match ctx.spawner.spawn(parent, request) {
                Ok(pid) => pid as i64,
                Err(SpawnError::ProcessLimit { .. }) => ERR_PROCESS_LIMIT as i64,
                Err(SpawnError::BadOptions(_)) => ERR_BAD_ARGUMENT as i64,
                Err(e) => {
                    tracing::warn!(parent, "spawn failed: {e}");
                    ERR_SPAWN_FAILED as i64
                }
            };
            wasmtime::Result::Ok(code)
        },
    )?;

    // spawn_args(ptr, len) -> i32: copy this process's captures (exactly `len` bytes, the
    // length `warren_entry` was given). ERR_BAD_ARGUMENT if there are none or `len` differs.
    linker.func_wrap(
        m,
        "spawn_args",
        move |mut c: Caller<'_, T>, ptr: u32, len: u32| {
            let ctx = get(c.data_mut()).ctx;
            let Some(args) = ctx.spawn_args.take() else {
                return Ok(ERR_BAD_ARGUMENT);
            };
            if args.len() != len as usize {
                get(c.data_mut()).ctx.spawn_args = Some(args);
                return Ok(ERR_BAD_ARGUMENT);
            }
            const CALL: &str = "warren:process.spawn_args";
            let mem = guest_memory::memory(&mut c, |d| &mut get(d).ctx.memory, CALL)?;
            guest_memory::write(&mut c, mem, ptr, &args, CALL)?;
            wasmtime::Result::Ok(0)
        },
    )?;

    // panic(ptr, len): record the panic message the guest is about to abort with.
    linker.func_wrap(
        m,
        "panic",
        move |mut c: Caller<'_, T>, ptr: u32, len: u32| {
            let len = len.min(MAX_PANIC_MESSAGE as u32);
            const CALL: &str = "warren:process.panic";
            let mem = guest_memory::memory(&mut c, |d| &mut get(d).ctx.memory, CALL)?;
            let bytes = guest_memory::read(&c, mem, ptr, len, CALL)?;
            let text = String::from_utf8_lossy(&bytes).into_owned();
            get(c.data_mut()).ctx.panic_message = Some(text);
            wasmtime::Result::Ok(())
        },
    )?;

    // monitor(pid) -> i64: a reference; when `pid` exits (or if it is not alive) a message
    // tagged with it arrives, whose payload is the encoded exit reason. Holding more
    // references than the quota allows ends the caller with `limit: references`.
    linker.func_wrap(m, "monitor", move |mut c: Caller<'_, T>, pid: i64| {
        let ctx = get(c.data_mut()).ctx;
        let Some(target) = pid_arg(pid) else {
            return Err(GuestFault::trap(
                "warren:process.monitor",
                format!("negative pid {pid}"),
            ));
        };
        match ctx.table.monitor(ctx.pid(), target) {
            Ok(tag) => Ok(tag as i64),
            Err(e) => Err(wasmtime::Error::new(e)),
        }
    })?;

    // demonitor(pid, tag): stop monitoring `pid` under `tag` and drop a DOWN (or any message
    // with that tag) already queued.
    linker.func_wrap(
        m,
        "demonitor",
        move |mut c: Caller<'_, T>, pid: i64, tag: i64| {
            let ctx = get(c.data_mut()).ctx;
            if let Some(target) = pid_arg(pid) {
                ctx.table.demonitor(ctx.pid(), target, tag as u64);
            }
        },
    )?;

    // link(pid) -> i32: link the caller and `pid` (0). If `pid` is not alive, the caller
    // gets an exit signal with reason noproc at once. ERR_NO_PROCESS for a negative pid.
    linker.func_wrap(m, "link", move |mut c: Caller<'_, T>, pid: i64| -> i32 {
        let ctx = get(c.data_mut()).ctx;
        match pid_arg(pid) {
            Some(other) => {
                ctx.table.link(ctx.pid(), other);
                0
            }
            None => ERR_NO_PROCESS,
        }
    })?;

    // unlink(pid): remove the link between the caller and `pid`, if any.
    linker.func_wrap(m, "unlink", move |mut c: Caller<'_, T>, pid: i64| {
        let ctx = get(c.data_mut()).ctx;
        if let Some(other) = pid_arg(pid) {
            ctx.table.unlink(ctx.pid(), other);
        }
    })?;

    // trap_exit(on) -> i32: with on != 0, exit signals from linked processes arrive as
    // messages (tag EXIT_TAG) instead of ending the caller. Returns the previous setting.
    linker.func_wrap(
        m,
        "trap_exit",
        move |mut c: Caller<'_, T>, on: i32| -> i32 {
            get(c.data_mut()).ctx.me.set_trap_exit(on != 0) as i32
        },
    )?;

    // exit(reason_ptr, reason_len): end the caller with the encoded exit reason (see "Exit
    // reasons"). Does not return. An undecodable reason traps.
    linker.func_wrap(
        m,
        "exit",
        move |mut c: Caller<'_, T>, ptr: u32, len: u32| -> wasmtime::Result<()> {
            const CALL: &str = "warren:process.exit";
            let reason = read_reason(&mut c, get, ptr, len, CALL)?;
            Err(wasmtime::Error::new(ProcessExited(reason)))
        },
    )?;

    // exit_signal(pid, reason_ptr, reason_len) -> i32: send `pid` an exit signal with that
    // reason, as if a linked process had exited with it: trapped as a message, else fatal
    // for abnormal reasons. 0, or ERR_NO_PROCESS.
    linker.func_wrap(
        m,
        "exit_signal",
        move |mut c: Caller<'_, T>, pid: i64, ptr: u32, len: u32| -> wasmtime::Result<i32> {
            let reason = read_reason(&mut c, get, ptr, len, "warren:process.exit_signal")?;
            let ctx = get(c.data_mut()).ctx;
            let Some(to) = pid_arg(pid) else {
                return Ok(ERR_NO_PROCESS);
            };
            Ok(if ctx.table.send_exit(ctx.pid(), to, &reason) {
                0
            } else {
                ERR_NO_PROCESS
            })
        },
    )?;

    // kill(pid) -> i32: 0, or ERR_NO_PROCESS. Killing oneself ends the caller at once.
    linker.func_wrap(m, "kill", move |mut c: Caller<'_, T>, pid: i64| {
        let ctx = get(c.data_mut()).ctx;
        let Some(target) = pid_arg(pid) else {
            return Ok(ERR_NO_PROCESS);
        };
        if target == ctx.pid() {
            return Err(wasmtime::Error::new(ProcessKilled(target)));
        }
        wasmtime::Result::Ok(if ctx.table.kill(target) {
            0
        } else {
            ERR_NO_PROCESS
        })
    })?;
    Ok(())
}
