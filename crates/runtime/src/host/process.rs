//! `warren:process`: who am I, spawn a process from a function-table entry, monitor, link,
//! kill, exit, and report a panic message before the guest aborts.
//!
//! Spawning: the guest passes two function-table indices (a type-tagged trampoline and the
//! user's entry function, both produced by the SDK from real `fn` items) and the serialized
//! captures. The host creates a fresh instance of the same module in its own store and calls
//! its `warren_entry(trampoline, func, args_len)` export; the new process then fetches the
//! captures with `spawn_args`. Creating the store is the embedder's business, so this module
//! reaches it through the [`Spawner`](crate::context::Spawner) trait.

use super::abi::*;
use super::call::{CallState, GuestMemory, HostError, HostResult, pid_arg};
use crate::actor::{ExitReason, SpawnError, SpawnSpec};
use crate::context::{
    ProcessCtx, ProcessExited, ProcessHibernated, ProcessKilled, SpawnRequest, Watch,
};
use crate::resources::ResourceTable;
use wasmtime::{Caller, Linker};

/// Longest resume point name (a Rust path: `crate::module::function`), in bytes.
const MAX_RESUME_NAME: u32 = 1024;

/// The view `warren:process` needs of the store data: the actor state, and the resource
/// table (handles attached to a spawn move into the child).
pub(crate) struct ProcessView<'a> {
    /// The per-process actor state.
    pub ctx: &'a mut ProcessCtx,
    /// The process's handles.
    pub resources: &'a mut ResourceTable,
    /// Memory and last error.
    pub call: &'a mut CallState,
}

/// Decode an exit reason the guest passed; undecodable bytes are a fault.
fn read_reason(mem: &GuestMemory<'_>, ptr: u32, len: u32) -> HostResult<ExitReason> {
    if len as usize > MAX_EXIT_REASON {
        return Err(HostError::fault(format!(
            "exit reason of {len} bytes is over 64 KiB"
        )));
    }
    ExitReason::decode(mem.read(ptr, len)?).ok_or_else(|| {
        HostError::fault(
            "not an encoded exit reason (see docs/abi.md: one kind byte, its data; a linked \
             reason holds one flat reason; texts of at most 16 KiB)",
        )
    })
}

impl ProcessView<'_> {
    /// `spawn`: start a child; its pid.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn spawn(
        &mut self,
        mem: &GuestMemory<'_>,
        (trampoline, func): (u32, u32),
        (ptr, len): (u32, u32),
        tag: i64,
        flags: u32,
        max_memory: i64,
        max_fuel: i64,
    ) -> HostResult<i64> {
        let args = mem.read(ptr, len)?.to_vec();
        let ctx = &mut *self.ctx;
        let parent = ctx.pid();
        let options = (tag, flags, max_memory, max_fuel);
        // Taken by this spawn, whatever becomes of it.
        let mailbox = ctx.spawn_bound.take();
        let mut spec = SpawnSpec::from_abi(&ctx.table, parent, (trampoline, func), args, options)
            .map_err(HostError::bad_argument)?;
        spec.mailbox = mailbox;
        spec.version = ctx.me.version();
        let request = SpawnRequest {
            spec,
            resources: self.resources.take_outbox(),
        };
        match ctx.spawner.spawn(parent, request) {
            Ok(pid) => Ok(pid as i64),
            Err(e @ SpawnError::ProcessLimit { .. }) => {
                Err(HostError::fail(ERR_PROCESS_LIMIT, e.to_string()))
            }
            Err(SpawnError::BadOptions(e)) => Err(HostError::bad_argument(e)),
            Err(e) => {
                tracing::warn!(parent, "spawn failed: {e}");
                Err(HostError::fail(ERR_SPAWN_FAILED, e.to_string()))
            }
        }
    }

    /// `spawn_bound`: the mailbox bound of the caller's next spawn's child.
    pub(crate) fn spawn_bound(
        &mut self,
        messages: i64,
        bytes: i64,
        when_full: u32,
    ) -> HostResult<i32> {
        let bound = crate::actor::bound_from_abi(messages, bytes, when_full)
            .map_err(HostError::bad_argument)?;
        // "No bound" is what a child starts with anyway.
        self.ctx.spawn_bound = bound.as_ref().map(crate::actor::bound_to_wire);
        Ok(0)
    }

    /// `spawn_args`: copy the captures (exactly their length) into the guest.
    pub(crate) fn spawn_args(
        &mut self,
        mem: &mut GuestMemory<'_>,
        ptr: u32,
        len: u32,
    ) -> HostResult<i32> {
        let Some(args) = self.ctx.spawn_args.as_ref() else {
            return Err(HostError::bad_argument(
                "this process has no captures to fetch",
            ));
        };
        if args.len() != len as usize {
            return Err(HostError::bad_argument(format!(
                "the captures are {} bytes, not {len}",
                args.len()
            )));
        }
        mem.write(ptr, args)?;
        self.ctx.spawn_args = None;
        Ok(0)
    }

    /// `panic`: keep the message the guest is about to abort with.
    pub(crate) fn panic(&mut self, mem: &GuestMemory<'_>, ptr: u32, len: u32) -> HostResult<()> {
        let bytes = mem.read(ptr, len.min(MAX_PANIC_MESSAGE as u32))?;
        self.ctx.panic_message = Some(String::from_utf8_lossy(bytes).into_owned());
        Ok(())
    }

    /// `monitor`: a reference that tags the DOWN message.
    pub(crate) fn monitor(&mut self, pid: i64) -> HostResult<i64> {
        let target = pid_arg(pid)?;
        Ok(self.ctx.table.monitor(self.ctx.pid(), target)? as i64)
    }

    /// `demonitor`: stop monitoring, drop a queued DOWN.
    pub(crate) fn demonitor(&mut self, pid: i64, tag: i64) -> HostResult<()> {
        let target = pid_arg(pid)?;
        self.ctx.table.demonitor(self.ctx.pid(), target, tag as u64);
        Ok(())
    }

    /// `link`.
    pub(crate) fn link(&mut self, pid: i64) -> HostResult<i32> {
        let other = pid_arg(pid)?;
        self.ctx.table.link(self.ctx.pid(), other);
        Ok(0)
    }

    /// `unlink`.
    pub(crate) fn unlink(&mut self, pid: i64) -> HostResult<()> {
        let other = pid_arg(pid)?;
        self.ctx.table.unlink(self.ctx.pid(), other);
        Ok(())
    }

    /// `exit`: end the caller with the reason.
    pub(crate) fn exit(&mut self, mem: &GuestMemory<'_>, ptr: u32, len: u32) -> HostResult<()> {
        let reason = read_reason(mem, ptr, len)?;
        Err(HostError::End(crate::context::ending(ProcessExited(
            reason,
        ))))
    }

    /// `hibernate`, `hibernate_watch` and `upgrade`: end the instance, keep the process;
    /// resume in `func` with the captures — or, at a named resume point, in the current
    /// version's export of that name — when a message comes (the watched handle is ready),
    /// or at once (`now`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn hibernate(
        &mut self,
        mem: &GuestMemory<'_>,
        (trampoline, func): (u32, u32),
        (ptr, len): (u32, u32),
        watch: Option<u32>,
        (name_ptr, name_len): (u32, u32),
        now: bool,
    ) -> HostResult<i32> {
        if self.ctx.pending.is_some() {
            // The message would be lost with the instance: a call out of order.
            return Err(HostError::fault("a pending message was not taken first"));
        }
        let name = match mem.text(name_ptr, name_len, MAX_RESUME_NAME, "resume point's name")? {
            "" => None,
            name => Some(Box::<str>::from(name)),
        };
        let args = mem.read(ptr, len)?.to_vec();
        let watch = match watch {
            None => None,
            Some(i) => {
                let outbox = self.resources.outbox();
                let Some(r) = outbox.get(i as usize) else {
                    return Err(HostError::fail(
                        ERR_BAD_HANDLE,
                        format!(
                            "the captures carry {} handles, so there is no handle #{i} to watch",
                            outbox.len()
                        ),
                    ));
                };
                let Some(w) = Watch::of(r) else {
                    return Err(HostError::fail(
                        ERR_WRONG_HANDLE,
                        format!(
                            "handle #{i} of the captures is a {}, expected a readable handle, \
                             a listener or a udp-socket",
                            r.kind()
                        ),
                    ));
                };
                Some(w)
            }
        };
        // It wakes on the version it holds (`process::execute`'s `Running`).
        let request = SpawnRequest {
            spec: SpawnSpec::entry(trampoline, func, args),
            resources: self.resources.take_outbox(),
        };
        Err(HostError::End(crate::context::ending(ProcessHibernated {
            request,
            watch,
            name,
            now,
        })))
    }

    /// `exit_signal`: as if a linked process had exited with the reason.
    pub(crate) fn exit_signal(
        &mut self,
        mem: &GuestMemory<'_>,
        pid: i64,
        ptr: u32,
        len: u32,
    ) -> HostResult<i32> {
        let reason = read_reason(mem, ptr, len)?;
        let to = pid_arg(pid)?;
        if self.ctx.table.send_exit(self.ctx.pid(), to, &reason) {
            Ok(0)
        } else {
            Err(HostError::fail(ERR_NO_PROCESS, format!("no process {to}")))
        }
    }

    /// `kill`: end `pid`; killing oneself ends the caller at once.
    pub(crate) fn kill(&mut self, pid: i64) -> HostResult<i32> {
        let target = pid_arg(pid)?;
        if target == self.ctx.pid() {
            return Err(HostError::End(crate::context::ending(ProcessKilled(
                target,
            ))));
        }
        if self.ctx.table.kill(target) {
            Ok(0)
        } else {
            Err(HostError::fail(
                ERR_NO_PROCESS,
                format!("no process {target}"),
            ))
        }
    }
}

/// Add `warren:process` to `linker`; `get` projects the store data onto its view.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> ProcessView<'_>,
) -> anyhow::Result<()> {
    // self() -> i64: the caller's pid.
    linker.func_wrap(PROCESS_MODULE, "self", move |mut c: Caller<'_, T>| -> i64 {
        get(c.data_mut()).ctx.pid() as i64
    })?;

    crate::host_calls!(linker: T, PROCESS_MODULE, get, {
        // spawn(trampoline, func, args_ptr, args_len, monitor_tag, flags, max_memory,
        // max_fuel) -> i64: the child's pid, or ERR_PROCESS_LIMIT / ERR_SPAWN_FAILED. A
        // non-zero monitor_tag (from new_tag, held unused) makes the caller monitor the child
        // with that reference before the child runs; flags bit 0 (SPAWN_LINK) links them
        // before the child runs. max_memory / max_fuel > 0 set the child's own limits (at
        // most the runtime's memory limit; fuel only if the runtime counts fuel); 0 means the
        // runtime's. Unknown flags, negative or too high limits, a bad monitor tag:
        // ERR_BAD_ARGUMENT.
        fn spawn(
            trampoline: u32, func: u32, ptr: u32, len: u32, tag: i64, flags: u32,
            max_memory: i64, max_fuel: i64
        ) => |v, mem| v.spawn(mem, (trampoline, func), (ptr, len), tag, flags, max_memory, max_fuel);

        // spawn_bound(messages, bytes, when_full) -> i32: the mailbox bound the caller's next
        // spawn (here or on another node) starts its child with, before the child runs.
        // ERR_BAD_ARGUMENT as for `warren:message.bound`.
        fn spawn_bound(messages: i64, bytes: i64, when_full: u32) => |v| v.spawn_bound(messages, bytes, when_full);

        // spawn_args(ptr, len) -> i32: copy this process's captures (exactly `len` bytes, the
        // length `warren_entry` was given). ERR_BAD_ARGUMENT if there are none or `len`
        // differs.
        fn spawn_args(ptr: u32, len: u32) => |v, mem| v.spawn_args(mem, ptr, len);

        // panic(ptr, len): record the panic message the guest is about to abort with.
        fn panic(ptr: u32, len: u32) => |v, mem| v.panic(mem, ptr, len);

        // monitor(pid) -> i64: a reference; when `pid` exits (or if it is not alive) a
        // message tagged with it arrives, whose payload is the encoded exit reason.
        // ERR_NO_PROCESS for a negative pid. Holding more references than the quota allows
        // ends the caller with `limit: references`.
        fn monitor(pid: i64) => |v| v.monitor(pid);

        // demonitor(pid, tag): stop monitoring `pid` under `tag` and drop a DOWN (or any
        // message with that tag) already queued.
        fn demonitor(pid: i64, tag: i64) => |v| v.demonitor(pid, tag);

        // link(pid) -> i32: link the caller and `pid` (0). If `pid` is not alive, the caller
        // gets an exit signal with reason noproc at once. ERR_NO_PROCESS for a negative pid.
        fn link(pid: i64) => |v| v.link(pid);

        // unlink(pid): remove the link between the caller and `pid`, if any.
        fn unlink(pid: i64) => |v| v.unlink(pid);

        // trap_exit(on) -> i32: with on != 0, exit signals from linked processes arrive as
        // messages (tag EXIT_TAG) instead of ending the caller. Returns the previous setting.
        fn trap_exit(on: i32) => |v| Ok(v.ctx.me.set_trap_exit(on != 0) as i32);

        // version_changed() -> i32: 1 if a version of the program other than the caller's
        // is current (hot code upgrade: an `upgrade` would move it), else 0.
        fn version_changed(name_ptr: u32, name_len: u32) => |v, mem| {
            let mine = v.ctx.me.version();
            let name = mem.text(name_ptr, name_len, MAX_RESUME_NAME, "resume point's name")?;
            if !name.is_empty() && v.ctx.table.resume_point(mine, name).is_none() {
                return Err(HostError::fail(
                    ERR_NOT_FOUND,
                    format!("version {mine} of the program has no resume point \"{name}\""),
                ));
            }
            Ok((v.ctx.table.current_version() != mine) as i32)
        };

        // exit(reason_ptr, reason_len): end the caller with the encoded exit reason (see
        // "Exit reasons"). Does not return. An undecodable reason traps.
        fn exit(ptr: u32, len: u32) => |v, mem| v.exit(mem, ptr, len);

        // exit_signal(pid, reason_ptr, reason_len) -> i32: send `pid` an exit signal with
        // that reason, as if a linked process had exited with it: trapped as a message, else
        // fatal for abnormal reasons. 0, or ERR_NO_PROCESS. An undecodable reason traps.
        fn exit_signal(pid: i64, ptr: u32, len: u32) => |v, mem| v.exit_signal(mem, pid, ptr, len);

        // kill(pid) -> i32: 0, or ERR_NO_PROCESS. Killing oneself ends the caller at once.
        fn kill(pid: i64) => |v| v.kill(pid);

        // hibernate(trampoline, func, args_ptr, args_len): end the caller's instance (its
        // memory, stack and pool slot go back) but not the process: its pid, mailbox, links,
        // monitors, names, timers and handles stay. When a message (or exit signal) is in its
        // mailbox, a fresh instance enters `warren_entry(trampoline, func, args_len)` with the
        // captures, as a spawned process does. Does not return. Handles attached (`attach`)
        // before the call travel in the captures. Hibernating with a message pending for
        // `take` traps (it would be lost).
        fn hibernate(trampoline: u32, func: u32, ptr: u32, len: u32, name_ptr: u32, name_len: u32)
            => |v, mem| v
                .hibernate(mem, (trampoline, func), (ptr, len), None, (name_ptr, name_len), false)
                .map(drop);

        // hibernate_watch(trampoline, func, args_ptr, args_len, watch) -> i32: as hibernate,
        // and also wake when handle number `watch` of those attached to the captures (0 is
        // the first attached) is ready: a readable handle when a read would not wait, a
        // listener or incoming when a connection waits, a udp-socket when a datagram does.
        // ERR_BAD_HANDLE if the captures carry no such handle, ERR_WRONG_HANDLE if it cannot
        // be waited on (nothing moves then); otherwise does not return.
        fn hibernate_watch(
            trampoline: u32, func: u32, ptr: u32, len: u32, watch: u32, name_ptr: u32, name_len: u32
        ) => |v, mem| v.hibernate(
            mem, (trampoline, func), (ptr, len), Some(watch), (name_ptr, name_len), false,
        );

        // upgrade(trampoline, func, args_ptr, args_len, name_ptr, name_len) -> !: as
        // hibernate, and resume at once, without waiting for a message: on the current
        // version, at the resume point `name` (its export `warren_resume:<name>`). A name
        // that is not a resume point of the caller's version ends it with `upgrade(...)`.
        fn upgrade(trampoline: u32, func: u32, ptr: u32, len: u32, name_ptr: u32, name_len: u32)
            => |v, mem| v
                .hibernate(mem, (trampoline, func), (ptr, len), None, (name_ptr, name_len), true)
                .map(drop);
    });
    Ok(())
}
