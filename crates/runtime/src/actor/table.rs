//! The table of live processes: pid allocation, the process limit, message delivery,
//! kill signals and monitors.
//!
//! A process is in the table from [`ProcessTable::register`] until [`ProcessTable::exit`].
//! Exiting removes it, marks it dead and sends a DOWN message (tagged with the monitor's
//! reference, payload [`ExitReason::encode`]) to every monitor. Monitoring a pid that is not in
//! the table delivers DOWN with [`ExitReason::NoProc`] at once, as in Erlang; the `dead` flag,
//! checked under the same lock that `exit` drains the monitors under, closes the race between
//! the two.
//!
//! Every message into a mailbox — a guest's send, the host's, a timer's, a DOWN, an exit
//! signal — goes through [`ProcessTable::deliver`]: the one place where the mailbox quota is
//! enforced (and where tracing or distribution would hook in).
//!
//! References (tags for selective receive) are *unguessable*: a keyed permutation of a
//! counter, so they are unique within the runtime but a process cannot predict another's.
//! A process *holds* the references it was given (by `new_tag` or `monitor`) until it uses
//! them up; a guest may send a tagged message only with a reference its receiver still
//! holds (a reply to a request in progress), so late replies are dropped and a third party
//! cannot forge a reply or a DOWN. Tag [`EXIT_TAG`] is the runtime's alone.

use super::bounds::{bound_from_wire, bound_of};
use super::mailbox::{Bound, Pushed, Refused};
use super::procs::Procs;
use super::quotas::{QuotaError, Quotas};
use super::remote::{NodeId, Remote, Signal, Unreachable};
use super::remote_flow::RemoteFlow;
use super::stats::{ExitRecord, ProcessStats, RuntimeStats, now_ms};
use super::{EXIT_TAG, ExitReason, Mailbox, Message, Pid, RegisterError, Registry, Timers};
use crate::sync::Locked;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};
use tokio::sync::Notify;
use warren_abi::{node_of, node_pid};
use warren_sync::kill::KillSwitch;

/// Why a process could not be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpawnError {
    /// As many processes are alive as the runtime allows.
    #[error("process limit reached: {limit} processes are alive{hint}")]
    ProcessLimit {
        /// The process limit.
        limit: usize,
        /// What bounds it and how to raise it, as a clause to append.
        hint: String,
    },
    /// The options ask for more than the runtime allows.
    #[error("invalid spawn options: {0}")]
    BadOptions(String),
    /// Anything else (the runtime is shutting down, the module lacks the entry...).
    #[error("cannot create process: {0}")]
    Other(String),
}

/// What a send did ([`ProcessTable::send_via`]).
#[derive(Debug)]
pub enum Sent {
    /// Queued, or dropped by the receiver's bound (`drop oldest`, `drop newest`: counted in
    /// its mailbox), or on its way to another node.
    Delivered,
    /// No such process (or its node is not connected): the message is dropped.
    NoProcess,
    /// The receiver's mailbox is full by its bound, whose policy is to block or fail the
    /// sender: the message, handed back, and the bound.
    Full {
        message: Message,
        bound: Option<Bound>,
    },
}

/// A bound as people read it: "100 messages", "1048576 bytes, 10 messages".
pub(crate) fn describe_bound(bound: &Bound) -> String {
    let mut parts = Vec::new();
    if bound.messages != usize::MAX {
        parts.push(format!("{} messages", bound.messages));
    }
    if bound.bytes != usize::MAX {
        parts.push(format!("{} bytes", bound.bytes));
    }
    if parts.is_empty() {
        parts.push("none".to_string());
    }
    parts.join(", ")
}

/// A version's named resume points, sorted.
pub(crate) type ResumeNames = Arc<[Box<str>]>;

/// The bit of `ProcessRef::version` that says the process is hibernated at a named resume
/// point (version numbers stay below it).
const MOVABLE: u32 = 1 << 31;

/// A live process as seen by others: its mailbox and its signals.
#[derive(Debug)]
pub struct ProcessRef {
    pid: Pid,
    pub mailbox: Mailbox,
    state: Mutex<Signals>,
    /// Set when the process is to die; wakes the task running it (`warren_sync::kill`).
    kill: KillSwitch,
    alive: AtomicBool,
    trap_exit: AtomicBool,
    /// The number of the program's version its instance runs (0: none, a host mailbox); see
    /// `crate::version`.
    version: AtomicU32,
    stats: ProcessStats,
}

#[derive(Debug, Default)]
struct Signals {
    dead: bool,
    /// (watcher, monitor reference)
    monitors: Vec<(Pid, u64)>,
    /// References this process holds: tag -> the process it monitors with it (`None`: a
    /// reply tag not used for a monitor yet).
    refs: HashMap<u64, Option<Pid>>,
    /// Processes linked to this one (links are symmetric: each side lists the other).
    links: Vec<Pid>,
    /// Why this process is being made to exit (first signal wins); `killed` if unset.
    exit_reason: Option<ExitReason>,
    /// It registered a global name (the cluster frees its names when it exits).
    global_names: bool,
}

impl ProcessRef {
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// What the observer sees of it (state, CPU time, memory, handles, parent).
    pub fn stats(&self) -> &ProcessStats {
        &self.stats
    }

    /// False once the process has exited (a holder of an old reference must not deliver).
    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }

    /// Whether exit signals from links arrive as messages (true) or kill this process.
    /// Returns the previous setting.
    pub fn set_trap_exit(&self, on: bool) -> bool {
        self.trap_exit.swap(on, Ordering::AcqRel)
    }

    pub fn traps_exit(&self) -> bool {
        self.trap_exit.load(Ordering::Acquire)
    }

    /// The number of the program's version this process runs (0: a host mailbox).
    pub fn version(&self) -> u32 {
        self.version.load(Ordering::SeqCst) & !MOVABLE
    }

    /// It is hibernated at a named resume point: it wakes on the current version, whichever
    /// that is then, so no purge ends it.
    pub fn is_movable(&self) -> bool {
        self.version.load(Ordering::SeqCst) & MOVABLE != 0
    }

    /// Say which version the process runs, before it looks whether that version was purged
    /// (sequentially consistent with the purge's flag and scan: see `crate::version`).
    pub(crate) fn set_version(&self, number: u32) {
        self.version.store(number, Ordering::SeqCst);
    }

    /// Say that it hibernated at a named resume point of version `number` (see
    /// [`ProcessRef::is_movable`]).
    pub(crate) fn set_movable(&self, number: u32) {
        self.version.store(number | MOVABLE, Ordering::SeqCst);
    }

    /// Whether this process holds reference `tag` (so a tagged message may be sent to it).
    pub fn holds(&self, tag: u64) -> bool {
        self.signals().refs.contains_key(&tag)
    }

    /// Why this process was made to exit: the first exit signal's reason, or `killed`.
    pub fn exit_reason(&self) -> ExitReason {
        self.signals()
            .exit_reason
            .clone()
            .unwrap_or(ExitReason::Killed)
    }

    /// Make this process exit with `reason`, as a kill does (untrappable; the first reason
    /// given sticks).
    pub fn fail(&self, reason: ExitReason) {
        ProcessTable::terminate(self, reason);
    }

    /// True once someone asked this process to die.
    #[inline]
    pub fn is_killed(&self) -> bool {
        self.kill.is_set()
    }

    /// Ready once the process is killed; otherwise the task of `cx` — the one running the
    /// process, the only waiter — is woken when it is. `registered` is the waker the caller
    /// registered last (the lock is taken only when it changes).
    pub fn poll_killed(
        &self,
        cx: &mut std::task::Context<'_>,
        registered: &mut Option<Waker>,
    ) -> Poll<()> {
        self.kill.poll_set(cx, registered)
    }

    /// Resolves once the process is killed. Only the task running the process may wait on
    /// this (it takes the one waker slot).
    #[cfg(test)]
    pub async fn killed(&self) {
        let mut registered = None;
        std::future::poll_fn(|cx| self.poll_killed(cx, &mut registered)).await
    }

    fn signals(&self) -> MutexGuard<'_, Signals> {
        self.state.locked()
    }

    /// Its links, the processes monitoring it, and those it monitors (for the observer).
    pub fn relations(&self) -> Relations {
        let s = self.signals();
        Relations {
            links: s.links.clone(),
            monitored_by: s.monitors.iter().map(|&(w, _)| w).collect(),
            monitoring: s.refs.values().flatten().copied().collect(),
        }
    }
}

/// Who a process is tied to (see [`ProcessRef::relations`]).
#[derive(Debug, Clone, Default)]
pub struct Relations {
    /// Processes linked to it.
    pub links: Vec<Pid>,
    /// Processes monitoring it (one entry per monitor).
    pub monitored_by: Vec<Pid>,
    /// Processes it monitors (one entry per monitor).
    pub monitoring: Vec<Pid>,
}

impl crate::resources::HandleCensus for ProcessRef {
    fn opened(&self, kind: &'static str) {
        self.stats.opened(kind);
    }

    fn closed(&self, kind: &'static str) {
        self.stats.closed(kind);
    }
}

#[derive(Debug)]
pub struct ProcessTable {
    next_pid: AtomicU64,
    next_tag: AtomicU64,
    tag_keys: [u32; 4],
    limit: usize,
    limit_hint: String,
    quotas: Quotas,
    procs: Procs,
    /// Set by [`ProcessTable::close`]: no process may be added.
    closed: AtomicBool,
    /// The number of the version of the program new processes run.
    current_version: AtomicU32,
    /// Each held version's named resume points, sorted (for `version_changed`).
    resume_points: Mutex<Vec<(u32, ResumeNames)>>,
    emptied: Notify,
    names: Registry,
    timers: Arc<Timers>,
    /// What is counted about processes (for the observer and `/metrics`).
    stats: RuntimeStats,
    /// This runtime's node number (0 outside a cluster): bits 40..63 of its pids.
    node: NodeId,
    /// Where signals for pids of other nodes go (none outside a cluster).
    remote: Option<Arc<dyn Remote>>,
    /// Bounded mailboxes across nodes (`remote_flow.rs`).
    flow: RemoteFlow,
}

impl ProcessTable {
    #[cfg(test)]
    /// A table admitting at most `limit` live processes, with the default quotas.
    /// `limit_hint` is appended to the limit error (e.g. which OS setting bounds the limit
    /// and how to raise it).
    pub fn new(limit: usize, limit_hint: impl Into<String>) -> Self {
        Self::with_quotas(limit, limit_hint, Quotas::default())
    }

    /// [`ProcessTable::new`] with per-process quotas.
    pub fn with_quotas(limit: usize, limit_hint: impl Into<String>, quotas: Quotas) -> Self {
        ProcessTable {
            next_pid: AtomicU64::new(1),
            next_tag: AtomicU64::new(0),
            tag_keys: random_keys(),
            limit,
            limit_hint: limit_hint.into(),
            names: Registry::with_limit(quotas.names),
            quotas,
            procs: Procs::default(),
            closed: AtomicBool::new(false),
            current_version: AtomicU32::new(1),
            resume_points: Mutex::new(Vec::new()),
            emptied: Notify::new(),
            stats: RuntimeStats::default(),
            timers: Arc::new(Timers::default()),
            node: 0,
            remote: None,
            flow: RemoteFlow::default(),
        }
    }

    /// This table as node `node` of a cluster: its pids carry the node number, and
    /// operations on other nodes' pids go to `remote`. Before any process is registered.
    pub fn in_cluster(mut self, node: NodeId, remote: Arc<dyn Remote>) -> Self {
        self.node = node;
        self.next_pid = AtomicU64::new(node_pid(node) + 1);
        self.remote = Some(remote);
        self
    }

    /// This runtime's node number (0 outside a cluster).
    /// Measure each process's CPU time (a clock read around each poll of its task).
    pub fn measuring_cpu(mut self, on: bool) -> Self {
        self.stats = std::mem::take(&mut self.stats).with_cpu_time(on);
        self
    }

    /// The runtime's counters.
    pub fn stats(&self) -> &RuntimeStats {
        &self.stats
    }

    /// Bounded mailboxes across nodes: what is parked here, what others said is full.
    pub(crate) fn flow(&self) -> &RemoteFlow {
        &self.flow
    }

    pub fn node(&self) -> NodeId {
        self.node
    }

    /// Whether `pid` belongs to this node (it may still not be alive).
    pub fn is_local(&self, pid: Pid) -> bool {
        node_of(pid) == self.node
    }

    /// One process (or the runtime) acting on another: the one path every act takes —
    /// a message, a link or unlink, a monitor or demonitor, an exit signal, a kill, a DOWN.
    /// A signal for a process of this node is applied here at once by
    /// [`ProcessTable::apply_here`]; one for another node is carried there by the cluster,
    /// whose table applies it with the same function. `Ok(true)`: applied to a live process
    /// here, or queued for its node; `Ok(false)`: no such process here; `Err`: its node is
    /// not connected (or does not keep up).
    pub(super) fn signal(&self, signal: Signal) -> Result<bool, Unreachable> {
        let to = signal.destination();
        if self.is_local(to) {
            return Ok(self.apply_here(signal));
        }
        match &self.remote {
            Some(r) => r.route(signal).map(|()| true),
            None => Err(Unreachable::NotConnected(node_of(to))),
        }
    }

    /// What a process sending `bytes` to `to`, a pid of another node, must wait on before
    /// it sends ([`Remote::room`]); `None`: send now.
    pub fn remote_room(&self, to: Pid, bytes: usize) -> Option<super::remote::RoomWait> {
        self.remote.as_ref()?.room(node_of(to), bytes)
    }

    /// Resolves when a message of `len` bytes to `to` may be sent without being handed back:
    /// its bounded mailbox has room (at once without a bound, or when `to` is gone), or its
    /// node's queue is under the send mark (at once for a node not connected).
    pub async fn room(&self, to: Pid, len: usize) {
        if self.is_local(to) {
            if let Some(p) = self.get(to) {
                let cost = Message::new(0, Vec::new()).cost().saturating_add(len);
                p.mailbox.room(cost).await;
            }
            return;
        }
        loop {
            if let Some(room) = self.flow.until_room(to) {
                room.await;
            } else if let Some(room) = self.remote_room(to, len) {
                room.await;
            } else {
                return;
            }
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The per-process quotas.
    pub fn quotas(&self) -> &Quotas {
        &self.quotas
    }

    /// The runtime's pending timers (cancelled with their owner).
    pub fn timers(&self) -> &Arc<Timers> {
        &self.timers
    }

    /// Allocate a pid and enter a new live process started by the host, unless the limit is
    /// reached.
    #[cfg(test)]
    pub fn register(&self) -> Result<Arc<ProcessRef>, SpawnError> {
        self.register_child(0)
    }

    /// [`ProcessTable::register`] for a host mailbox (a pid without an instance).
    pub fn register_host(&self) -> Result<Arc<ProcessRef>, SpawnError> {
        let p = self.register_child(0)?;
        p.stats.host();
        Ok(p)
    }

    /// Allocate a pid and enter a new live process spawned by `parent` (0: by the host),
    /// unless the limit is reached: the one way into the table.
    pub fn register_child(&self, parent: Pid) -> Result<Arc<ProcessRef>, SpawnError> {
        let closing = || SpawnError::Other("the runtime is shutting down".into());
        if self.closed.load(Ordering::Acquire) {
            return Err(closing());
        }
        if !self.procs.reserve(self.limit) {
            return Err(SpawnError::ProcessLimit {
                limit: self.limit,
                hint: self.limit_hint.clone(),
            });
        }
        let pid = self.next_pid.fetch_add(1, Ordering::Relaxed);
        if node_of(pid) != self.node {
            self.procs.unreserve();
            return Err(SpawnError::Other(
                "this node has used up its 2^40 pids; restart it (it joins as a new node)".into(),
            ));
        }
        let p = Arc::new(ProcessRef {
            pid,
            mailbox: Mailbox::with_limit(self.quotas.mailbox_bytes),
            state: Mutex::new(Signals::default()),
            kill: KillSwitch::new(),
            alive: AtomicBool::new(true),
            trap_exit: AtomicBool::new(false),
            version: AtomicU32::new(0),
            stats: ProcessStats::new(parent),
        });
        // `close` sets `closed` before it kills every process, shard by shard: checked under
        // the shard's lock, a process entered meanwhile is one `close` then finds and kills.
        self.procs.enter(&p, || {
            if self.closed.load(Ordering::Acquire) {
                Err(closing())
            } else {
                Ok(())
            }
        })?;
        self.stats.spawned();
        Ok(p)
    }

    pub fn get(&self, pid: Pid) -> Option<Arc<ProcessRef>> {
        self.procs.get(pid)
    }

    /// Send a message (the runtime's own: timers, `Runtime::send`). Returns false if no such
    /// process is alive (the message is dropped, as Erlang drops messages to dead pids).
    pub fn send(&self, to: Pid, message: Message) -> bool {
        matches!(
            self.send_via(to, message, &mut None, false),
            Ok(Sent::Delivered)
        )
    }

    /// Send a message to `to`, of this node or another: the path of every message between
    /// processes. `last` is the receiver of the sender's previous message, kept by the sender
    /// so that sending to the same process again skips the table's lock. A message for
    /// another node is a [`Signal::Message`] (a process sends it only after
    /// [`ProcessTable::remote_room`] let it, and never with handles: callers refuse those with
    /// `ERR_NOT_LOCAL`); one for this node goes through [`ProcessTable::accept`], as a
    /// message from another node does. `bounded`: an ordinary send of a process, held to the
    /// receiver's mailbox bound ([`Sent::Full`] hands it back); otherwise only the quota
    /// applies.
    pub fn send_via(
        &self,
        to: Pid,
        message: Message,
        last: &mut Option<Arc<ProcessRef>>,
        bounded: bool,
    ) -> Result<Sent, Unreachable> {
        if !self.is_local(to) {
            if !message.resources.is_empty() {
                tracing::debug!(to, "a message with handles to another node is dropped");
                return Ok(Sent::NoProcess);
            }
            let bounded = bounded && message.tag == 0;
            if bounded && let Some(bound) = self.flow.full(to) {
                // Its node said its mailbox is full: handed back until it says there is room.
                self.stats.bound_refused();
                return Ok(Sent::Full {
                    message,
                    bound: Some(bound),
                });
            }
            let Message { tag, data, .. } = message;
            let signal = Signal::Message {
                to,
                tag,
                data,
                bounded,
            };
            return Ok(match self.signal(signal)? {
                true => Sent::Delivered,
                false => Sent::NoProcess,
            });
        }
        let peer = match last {
            Some(p) if p.pid == to && p.is_alive() => p.clone(),
            _ => match self.get(to) {
                Some(p) => {
                    *last = Some(p.clone());
                    p
                }
                None => {
                    *last = None;
                    return Ok(Sent::NoProcess);
                }
            },
        };
        if bounded && message.tag == 0 {
            return Ok(self.offer(&peer, message));
        }
        Ok(match self.accept(&peer, message) {
            true => Sent::Delivered,
            false => Sent::NoProcess,
        })
    }

    /// A message for the process `to`, wherever it was sent from: one with the runtime's
    /// exit tag (only exit signals carry it), or with a tag `to` does not hold (a late reply,
    /// or a tag it never gave out), is dropped with its resources — as Erlang drops a late
    /// reply; any other is delivered. Whether `to` is alive.
    fn accept(&self, to: &ProcessRef, message: Message) -> bool {
        let tag = message.tag;
        if tag == EXIT_TAG || (tag != 0 && !to.holds(tag)) {
            return to.is_alive();
        }
        self.deliver(to, message)
    }

    /// Put a message into `to`'s mailbox whatever its bound: the one path every message
    /// takes that must not wait (exit signals, DOWNs, timers' messages, replies, messages of
    /// the runtime and of other nodes). Returns false if `to` has exited. Over the quota, the
    /// message is dropped and `to` ends with `limit: mailbox` (the sender is not told: as in
    /// Erlang, a send to a live process succeeds).
    pub fn deliver(&self, to: &ProcessRef, message: Message) -> bool {
        let bytes = message.data.len();
        match to.mailbox.push(message) {
            Ok(()) => {
                self.stats.delivered(bytes);
                true
            }
            Err(refused) => self.refused(to, refused),
        }
    }

    /// An ordinary message from a process to `to`, held to `to`'s bound: queued, dropped by
    /// the bound's policy, or handed back ([`Sent::Full`]) for the sender to wait or fail.
    pub(super) fn offer(&self, to: &ProcessRef, message: Message) -> Sent {
        let bytes = message.data.len();
        match to.mailbox.push_bounded(message) {
            Ok(Pushed::Queued { dropped }) => {
                self.stats.delivered(bytes);
                if dropped > 0 {
                    self.stats.bound_dropped(dropped);
                }
                Sent::Delivered
            }
            Ok(Pushed::Dropped) => {
                self.stats.bound_dropped(1);
                Sent::Delivered
            }
            Ok(Pushed::Full(message)) => {
                self.stats.bound_refused();
                Sent::Full {
                    message,
                    bound: to.mailbox.bound(),
                }
            }
            Err(refused) => match self.refused(to, refused) {
                true => Sent::Delivered,
                false => Sent::NoProcess,
            },
        }
    }

    /// A push `to`'s mailbox refused: closed (false: `to` has exited), or over its quota or
    /// its bound with the policy to end it (`to` ends with `limit: mailbox`; true).
    pub(super) fn refused(&self, to: &ProcessRef, refused: Refused) -> bool {
        let why = match refused {
            Refused::Closed => return false,
            Refused::Full { queued, limit } => format!(
                "mailbox: {queued} bytes of messages queued, a message more would exceed the \
                 limit of {limit} bytes"
            ),
            Refused::OverBound {
                bound,
                messages,
                bytes,
            } => format!(
                "mailbox: its bound ({}) is reached with {messages} messages of {bytes} bytes \
                 queued, and a full mailbox ends its process",
                describe_bound(&bound)
            ),
        };
        tracing::debug!(pid = to.pid, why, "mailbox full");
        Self::terminate(to, ExitReason::Limit(why));
        true
    }

    /// A fresh reference, unique within this runtime and unpredictable to processes.
    /// Never 0 or [`EXIT_TAG`], and below 2^62 (positive as an i64).
    pub fn new_tag(&self) -> u64 {
        let n = self.next_tag.fetch_add(1, Ordering::Relaxed);
        permute(n & ((1 << 62) - 1), &self.tag_keys) + EXIT_TAG + 1
    }

    /// A reference `owner` holds (a reply tag), until it monitors with it, gives it up with
    /// [`ProcessTable::release`], or exits.
    pub fn new_ref(&self, owner: &ProcessRef) -> Result<u64, QuotaError> {
        let tag = self.new_tag();
        let mut s = owner.signals();
        if s.refs.len() >= self.quotas.references {
            return Err(QuotaError::References {
                pid: owner.pid,
                limit: self.quotas.references,
            });
        }
        s.refs.insert(tag, None);
        Ok(tag)
    }

    /// `owner` gives up reference `tag` (if it monitors with it, see
    /// [`ProcessTable::demonitor`]). Messages with it still queued are dropped.
    pub fn release(&self, owner: &ProcessRef, tag: u64) {
        owner.signals().refs.remove(&tag);
        while owner.mailbox.try_take(tag).is_some() {}
    }

    /// `watcher` monitors `target`: when `target` exits, `watcher` receives a message tagged
    /// with the returned reference whose payload is the encoded exit reason.
    pub fn monitor(&self, watcher: Pid, target: Pid) -> Result<u64, QuotaError> {
        let tag = match self.get(watcher) {
            Some(w) => self.new_ref(&w)?,
            // A watcher that is gone gets nothing; the reference is never used.
            None => return Ok(self.new_tag()),
        };
        self.monitor_with_tag(watcher, target, tag);
        Ok(tag)
    }

    /// [`ProcessTable::monitor`] with a reference `watcher` holds and monitors nothing with
    /// yet (from [`Self::new_ref`]). Returns false, doing nothing, for any other tag.
    ///
    /// A `watcher` of another node (a remote spawn monitored from before it runs) is
    /// recorded on the local `target` without references.
    pub fn monitor_with_tag(&self, watcher: Pid, target: Pid, tag: u64) -> bool {
        if !self.is_local(watcher) {
            self.add_monitor(watcher, target, tag);
            return true;
        }
        let Some(w) = self.get(watcher) else {
            return false;
        };
        match w.signals().refs.get_mut(&tag) {
            Some(slot @ None) => *slot = Some(target),
            _ => return false,
        }
        // Recorded first: if the target's node goes down now, one of the two fires it.
        if let Err(e) = self.signal(Signal::Monitor {
            watcher,
            target,
            tag,
        }) {
            tracing::debug!(watcher, target, "monitor: {e}");
            self.down_if_watching(&w, tag, target, ExitReason::NoConnection.encode());
        }
        true
    }

    /// Whether `watcher` holds `tag` without monitoring anything with it yet (a tag
    /// [`ProcessTable::monitor_with_tag`] accepts).
    pub fn is_free_ref(&self, watcher: Pid, tag: u64) -> bool {
        self.get(watcher)
            .is_some_and(|w| matches!(w.signals().refs.get(&tag), Some(None)))
    }

    /// Deliver the DOWN of monitor `tag` (the encoded exit reason `data`) if `watcher` still
    /// monitors `target` with it (the one who removes the reference fires it); the watcher
    /// stops holding the reference: nothing else may arrive with it.
    fn down_if_watching(&self, watcher: &ProcessRef, tag: u64, target: Pid, data: Vec<u8>) {
        let watching = {
            let mut s = watcher.signals();
            if s.refs.get(&tag) == Some(&Some(target)) {
                s.refs.remove(&tag);
                true
            } else {
                false
            }
        };
        if watching {
            self.deliver(watcher, Message::new(tag, data));
        }
    }

    /// `watcher` monitors the local `target` under `tag` (the target's half of a monitor):
    /// recorded on the target, or answered with a DOWN `noproc` if it is gone. A target with
    /// counter 0 is this node itself, which a watcher of another node has its own node watch
    /// (nothing to record).
    ///
    /// A target holds at most [`Quotas::references`] monitors set from other nodes (what a
    /// peer can make this node hold is charged to the process it watches, as a process's
    /// own monitors are to it): one more is answered at once with a DOWN
    /// `limit: remote monitors`.
    fn add_monitor(&self, watcher: Pid, target: Pid, tag: u64) {
        let remote_watcher = !self.is_local(watcher);
        if remote_watcher && target == node_pid(self.node) {
            return;
        }
        let mut reason = ExitReason::NoProc;
        if let Some(t) = self.get(target) {
            let mut s = t.signals();
            if !s.dead {
                let remote = s
                    .monitors
                    .iter()
                    .filter(|(w, _)| !self.is_local(*w))
                    .count();
                if !remote_watcher || remote < self.quotas.references {
                    s.monitors.push((watcher, tag));
                    return;
                }
                reason = ExitReason::Limit(format!(
                    "remote monitors: process {target} is watched by {remote} processes of \
                     other nodes, the most it may (--max-references)"
                ));
            }
        }
        let _ = self.signal(Signal::Down {
            watcher,
            target,
            tag,
            reason: reason.encode(),
        });
    }

    /// Remove the monitor `tag` of `watcher` on `target`, and drop any message tagged `tag`
    /// already in the watcher's mailbox (Erlang's `demonitor(Ref, [flush])`).
    pub fn demonitor(&self, watcher: Pid, target: Pid, tag: u64) {
        let w = self.get(watcher);
        // Another node is told only of a monitor the watcher holds (no traffic for nothing).
        if self.is_local(target) || w.as_ref().is_some_and(|w| w.holds(tag)) {
            let _ = self.signal(Signal::Demonitor {
                watcher,
                target,
                tag,
            });
        }
        if let Some(w) = w {
            self.release(&w, tag);
        }
    }

    /// Register `name` for the live process `pid`. `Ok(false)` if `pid` is not alive.
    pub fn register_name(&self, name: &str, pid: Pid) -> Result<bool, RegisterError> {
        let Some(p) = self.get(pid) else {
            return Ok(false);
        };
        // Under the process's signal lock: `exit` marks it dead under the same lock before it
        // removes its names, so a name can never outlive its process.
        let s = p.signals();
        if s.dead {
            return Ok(false);
        }
        self.names.register(name, pid)?;
        drop(s);
        Ok(true)
    }

    /// The pid registered under `name`.
    pub fn whereis(&self, name: &str) -> Option<Pid> {
        self.names.whereis(name)
    }

    /// Remove a name; the pid it named, if it was registered.
    pub fn unregister_name(&self, name: &str) -> Option<Pid> {
        self.names.unregister(name)
    }

    /// How many names are registered.
    pub fn registered_names(&self) -> usize {
        self.names.len()
    }

    /// Ask a process to die. Returns false if it is not alive.
    pub fn kill(&self, pid: Pid) -> bool {
        self.signal(Signal::Kill { to: pid }).unwrap_or(false)
    }

    /// The number of the version of the program new processes run (see `crate::version`).
    pub fn current_version(&self) -> u32 {
        self.current_version.load(Ordering::Relaxed)
    }

    /// Say which versions of the program are held: the current one's number, and each held
    /// version's named resume points (sorted).
    pub(crate) fn set_versions(&self, current: u32, points: Vec<(u32, ResumeNames)>) {
        *self.resume_points.locked() = points;
        self.current_version.store(current, Ordering::Relaxed);
    }

    /// The index of held version `number`'s named resume point `name` (its place among
    /// the version's `warren_resume:` exports, sorted), if it has one.
    pub fn resume_point(&self, number: u32, name: &str) -> Option<u16> {
        self.resume_points
            .locked()
            .iter()
            .find(|(n, _)| *n == number)
            .and_then(|(_, names)| names.binary_search_by(|p| (**p).cmp(name)).ok())
            .and_then(|i| u16::try_from(i).ok())
    }

    /// End every process that runs version `number` with `reason` (a purge: see
    /// `crate::version`); how many there were.
    /// Processes hibernated at a named resume point are left alone: they wake on current.
    pub(crate) fn terminate_version(&self, number: u32, reason: &ExitReason) -> usize {
        // Counted whether or not it is still alive when its turn comes: a process that had not
        // started yet ends by itself on the version's purged flag, meanwhile.
        let mut ended = 0;
        for p in self.procs.all() {
            if p.version.load(Ordering::SeqCst) == number {
                Self::terminate(&p, reason.clone());
                ended += 1;
            }
        }
        ended
    }

    /// Make a process exit with `reason` (untrappable). The first reason given sticks.
    fn terminate(p: &ProcessRef, reason: ExitReason) {
        p.signals().exit_reason.get_or_insert(reason);
        p.kill.set();
    }

    /// Link `a` and `b`: when one exits abnormally, the other exits too (reason
    /// `linked(pid, reason)`) unless it traps exits, in which case it gets an exit signal
    /// message. Linking to a process that is not alive signals `a` at once with `noproc`.
    ///
    /// With `b` on another node, `a` records its half and the signal tells `b`'s node; with
    /// `a` on another node (a remote spawn linked before it runs), `b` records its half.
    pub fn link(&self, a: Pid, b: Pid) {
        if a == b {
            return;
        }
        if !self.is_local(a) {
            self.add_link_half(b, a);
            return;
        }
        let Some(pa) = self.get(a) else { return };
        if !pa.is_alive() || !add_link(&pa, b) {
            return;
        }
        // `a`'s half first, then `b`'s by a signal: if `b` is gone, or exits meanwhile, the
        // exit signal it answers with removes `a`'s half again.
        if let Err(e) = self.signal(Signal::Link { from: a, to: b }) {
            tracing::debug!(a, b, "link: {e}");
            if remove_link(&pa, b) {
                self.exit_signal(&pa, b, &ExitReason::NoConnection);
            }
        }
    }

    /// `other` linked itself to the local `local` — by a link signal, or as the other half of
    /// a remote spawn with link: record `local`'s half, or answer with an exit signal
    /// `noproc` (undoing `other`'s half) if `local` is gone. Whether it was recorded.
    pub fn add_link_half(&self, local: Pid, other: Pid) -> bool {
        if let Some(p) = self.get(local)
            && add_link(&p, other)
        {
            return true;
        }
        let _ = self.signal(Signal::Exit {
            from: local,
            to: other,
            reason: ExitReason::NoProc.encode(),
            link: true,
        });
        false
    }

    /// The local half of a monitor a remote node recorded (a remote spawn monitored with
    /// `tag`, which `watcher` reserved): if `watcher` is gone or let the tag go meanwhile,
    /// the remote half is removed.
    pub fn monitor_half(&self, watcher: Pid, target: Pid, tag: u64) {
        if let Some(w) = self.get(watcher) {
            let mut s = w.signals();
            if !s.dead
                && let Some(slot @ None) = s.refs.get_mut(&tag)
            {
                *slot = Some(target);
                return;
            }
        }
        let _ = self.signal(Signal::Demonitor {
            watcher,
            target,
            tag,
        });
    }

    /// Remove the link between `a` (of this node) and `b`, if any: `a`'s half here, `b`'s by
    /// a signal.
    pub fn unlink(&self, a: Pid, b: Pid) {
        if let Some(p) = self.get(a) {
            remove_link(&p, b);
            let _ = self.signal(Signal::Unlink { from: a, to: b });
        }
    }

    /// Send an exit signal from `from` to `to` as if they were linked and `from` had exited
    /// with `reason` (Erlang's `exit(Pid, Reason)`): a process trapping exits receives it as
    /// a message; otherwise an abnormal reason ends it. Returns false if `to` is not alive.
    pub fn send_exit(&self, from: Pid, to: Pid, reason: &ExitReason) -> bool {
        self.signal(Signal::Exit {
            from,
            to,
            reason: reason.encode(),
            link: false,
        })
        .unwrap_or(false)
    }

    /// Deliver the exit of `from` (with `reason`) to the linked process `to`.
    fn exit_signal(&self, to: &ProcessRef, from: Pid, reason: &ExitReason) {
        if to.traps_exit() {
            let mut data = from.to_le_bytes().to_vec();
            data.extend(reason.encode());
            self.deliver(to, Message::new(EXIT_TAG, data));
        } else if !reason.is_normal() {
            Self::terminate(to, ExitReason::linked(from, reason));
        }
    }

    /// Kill every live process (used at shutdown).
    pub fn kill_all(&self) {
        let pids = self.procs.pids();
        for pid in pids {
            self.kill(pid);
        }
    }

    /// The live processes grouped by their links (a group: processes joined by a chain of
    /// links), each group named by its oldest member (lowest pid) — in a supervision tree,
    /// its top. Processes in `skip` are left out (and do not join groups). A graceful
    /// shutdown sends `shutdown` to each head: the signal then travels the group's links in
    /// the order its processes choose (a supervisor stops its children last started first).
    pub fn link_group_heads(&self, skip: &std::collections::HashSet<Pid>) -> Vec<Pid> {
        let live: Vec<Arc<ProcessRef>> = self
            .procs
            .all()
            .into_iter()
            .filter(|p| !skip.contains(&p.pid))
            .collect();
        // Union-find over the pids, by index; each root the group's lowest pid.
        let index: HashMap<Pid, usize> = live.iter().enumerate().map(|(i, p)| (p.pid, i)).collect();
        let mut parent: Vec<usize> = (0..live.len()).collect();
        fn root(parent: &mut [usize], mut i: usize) -> usize {
            while parent[i] != i {
                parent[i] = parent[parent[i]];
                i = parent[i];
            }
            i
        }
        for (i, p) in live.iter().enumerate() {
            let links = p.signals().links.clone();
            for other in links {
                let Some(&j) = index.get(&other) else {
                    continue;
                };
                let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                if a != b {
                    // The lower pid names the group.
                    if live[a].pid < live[b].pid {
                        parent[b] = a;
                    } else {
                        parent[a] = b;
                    }
                }
            }
        }
        let mut heads: Vec<Pid> = (0..live.len())
            .filter(|&i| root(&mut parent, i) == i)
            .map(|i| live[i].pid)
            .collect();
        heads.sort_unstable();
        heads
    }

    /// Live processes, leaving out those in `skip`.
    pub fn count_except(&self, skip: &std::collections::HashSet<Pid>) -> usize {
        self.procs
            .pids()
            .iter()
            .filter(|p| !skip.contains(p))
            .count()
    }

    /// Admit no new process from now on (spawns fail with [`SpawnError::Other`]), then kill
    /// every live one: a process that spawns while the others are being killed cannot leave
    /// a child behind.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.kill_all();
    }

    /// Remove an exited process and notify its monitors.
    pub fn exit(&self, pid: Pid, reason: &ExitReason) {
        let removed = self.procs.remove(pid);
        let Some(p) = removed else { return };
        p.alive.store(false, Ordering::Release);
        // Unread messages die with the process (others may still hold this ProcessRef).
        p.mailbox.close();
        let (monitors, links, refs, global_names) = {
            let mut s = p.signals();
            s.dead = true;
            (
                std::mem::take(&mut s.monitors),
                std::mem::take(&mut s.links),
                std::mem::take(&mut s.refs),
                s.global_names,
            )
        };
        let names = self.names.remove_pid(pid);
        self.timers.cancel_owner(pid);
        let at = now_ms();
        let memory = p.stats.set_memory(0);
        self.stats.memory_changed(memory, 0);
        self.stats.exited(ExitRecord {
            pid,
            parent: p.stats.parent(),
            names,
            reason: reason.clone(),
            at,
            lifetime_ms: at.saturating_sub(p.stats.spawned_at()),
            cpu_ticks: p.stats.cpu_ticks(),
        });
        if global_names && let Some(r) = &self.remote {
            r.exited_with_global_names(pid);
        }
        // Monitors this process set on others die with it.
        for (tag, target) in refs {
            let Some(target) = target else { continue };
            let _ = self.signal(Signal::Demonitor {
                watcher: pid,
                target,
                tag,
            });
        }
        if !links.is_empty() || !monitors.is_empty() {
            let data = reason.encode();
            for linked in links {
                let _ = self.signal(Signal::Exit {
                    from: pid,
                    to: linked,
                    reason: data.clone(),
                    link: true,
                });
            }
            for (watcher, tag) in monitors {
                let _ = self.signal(Signal::Down {
                    watcher,
                    target: pid,
                    tag,
                    reason: data.clone(),
                });
            }
        }
        // Only now, with names, links and monitors unwound, may "no process left" be seen.
        if self.is_empty() {
            self.emptied.notify_waiters();
        }
    }

    /// Mark `pid` as holding global names (the cluster frees them when it exits). False if
    /// it is not alive.
    pub fn mark_global_names(&self, pid: Pid) -> bool {
        match self.get(pid) {
            Some(p) => {
                let mut s = p.signals();
                s.global_names = true;
                !s.dead
            }
            None => false,
        }
    }

    /// Apply a signal that came from node `from` over the wire: its pids are the only
    /// remote ones it may name as senders, and its exit reasons must decode; anything else is
    /// dropped as forged or stale. Then as a signal from this node: [`Self::apply_here`].
    pub fn apply(self: &Arc<Self>, from: NodeId, signal: Signal) {
        let sender = match &signal {
            Signal::Message { .. } | Signal::Kill { .. } => None,
            Signal::Full { to, .. } | Signal::Room { to, .. } => Some(*to),
            Signal::Link { from: a, .. }
            | Signal::Unlink { from: a, .. }
            | Signal::Exit { from: a, .. }
            | Signal::Bound { from: a, .. } => Some(*a),
            Signal::Monitor { watcher, .. } | Signal::Demonitor { watcher, .. } => Some(*watcher),
            Signal::Down { target, .. } => Some(*target),
        };
        let decodes = match &signal {
            Signal::Exit { reason, .. } | Signal::Down { reason, .. } => {
                ExitReason::decode(reason).is_some()
            }
            _ => true,
        };
        if sender.is_some_and(|pid| node_of(pid) != from) || !decodes {
            tracing::debug!(from, ?signal, "dropped a signal naming another node's pid");
            return;
        }
        if !self.is_local(signal.destination()) {
            return; // for a third node: not this node's to pass on
        }
        // Held to a bound across nodes (`remote_flow.rs`).
        match signal {
            Signal::Message {
                to,
                tag: 0,
                data,
                bounded: true,
            } => self.offer_from_node(from, to, data),
            Signal::Full {
                to,
                messages,
                bytes,
                fail,
                ..
            } => self.remote_full(from, to, Some(bound_of(messages, bytes, fail))),
            Signal::Room { to, .. } => self.remote_full(from, to, None),
            signal => {
                self.apply_here(signal);
            }
        }
    }

    /// Apply a signal for a process of this node — the receiving half of every act, the
    /// same whether the signal was made here ([`ProcessTable::signal`]) or came from another
    /// node ([`ProcessTable::apply`]). Whether its destination is alive.
    fn apply_here(&self, signal: Signal) -> bool {
        match signal {
            Signal::Message { to, tag, data, .. } => match self.get(to) {
                Some(p) => self.accept(&p, Message::new(tag, data)),
                None => false,
            },
            Signal::Link { from, to } => self.add_link_half(to, from),
            Signal::Unlink { from, to } => match self.get(to) {
                Some(p) => {
                    remove_link(&p, from);
                    true
                }
                None => false,
            },
            Signal::Exit {
                from,
                to,
                reason,
                link,
            } => {
                let Some(p) = self.get(to) else { return false };
                let Some(reason) = ExitReason::decode(&reason) else {
                    return true;
                };
                // A link's exit from a process no longer linked (unlinked meanwhile) is void.
                if !link || remove_link(&p, from) {
                    self.exit_signal(&p, from, &reason);
                }
                true
            }
            Signal::Monitor {
                watcher,
                target,
                tag,
            } => {
                self.add_monitor(watcher, target, tag);
                true
            }
            Signal::Demonitor {
                watcher,
                target,
                tag,
            } => match self.get(target) {
                Some(t) => {
                    t.signals()
                        .monitors
                        .retain(|&(w, r)| !(w == watcher && r == tag));
                    true
                }
                None => false,
            },
            Signal::Down {
                watcher,
                target,
                tag,
                reason,
            } => match self.get(watcher) {
                Some(w) => {
                    self.down_if_watching(&w, tag, target, reason);
                    true
                }
                None => false,
            },
            Signal::Kill { to } => match self.get(to) {
                Some(p) => {
                    Self::terminate(&p, ExitReason::Killed);
                    true
                }
                None => false,
            },
            Signal::Bound { from, to, bound } => match self.get(to) {
                Some(p) if p.stats().parent() == from => {
                    match bound.map(|(m, b, w)| bound_from_wire(m, b, w)) {
                        None => p.mailbox.set_bound(None),
                        Some(Some(bound)) => p.mailbox.set_bound(Some(bound)),
                        Some(None) => tracing::debug!(to, "a bound with an unknown policy"),
                    }
                    true
                }
                Some(_) => {
                    tracing::debug!(from, to, "a bound from a process that is not the parent");
                    true
                }
                None => false,
            },
            // Only ever between two nodes ([`ProcessTable::apply`]).
            Signal::Full { .. } | Signal::Room { .. } => false,
        }
    }

    /// Bound the mailbox of `to`, a child `from` spawned on another node: carried there in
    /// order with `from`'s sends, applied if `from` is its parent. `Err`: that node is not
    /// connected.
    pub fn bound_remote(
        &self,
        from: Pid,
        to: Pid,
        bound: Option<Bound>,
    ) -> Result<(), Unreachable> {
        let bound = bound.as_ref().map(super::bounds::bound_to_wire);
        self.signal(Signal::Bound { from, to, bound }).map(drop)
    }

    /// Node `node` went down or became unreachable: every link to one of its processes
    /// fires with `noconnection`, every monitor of one of them (or of the node itself)
    /// delivers a DOWN `noconnection`, and its processes' monitors here are forgotten.
    pub fn node_down(&self, node: NodeId) {
        self.flow_node_down(node);
        let procs = self.procs.all();
        let on_node = |pid: Pid| node_of(pid) == node;
        for p in procs {
            let (links, downs) = {
                let mut s = p.signals();
                if s.dead {
                    continue;
                }
                s.monitors.retain(|&(w, _)| !on_node(w));
                let mut links = Vec::new();
                s.links.retain(|&l| {
                    let gone = on_node(l);
                    if gone {
                        links.push(l);
                    }
                    !gone
                });
                let downs: Vec<u64> = s
                    .refs
                    .iter()
                    .filter(|(_, t)| t.is_some_and(on_node))
                    .map(|(&tag, _)| tag)
                    .collect();
                for tag in &downs {
                    s.refs.remove(tag);
                }
                (links, downs)
            };
            let data = ExitReason::NoConnection.encode();
            for tag in downs {
                self.deliver(&p, Message::new(tag, data.clone()));
            }
            for l in links {
                self.exit_signal(&p, l, &ExitReason::NoConnection);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.procs.len()
    }

    /// Every live process (a snapshot, one shard at a time).
    pub fn all(&self) -> Vec<Arc<ProcessRef>> {
        self.procs.all()
    }

    /// The registered names.
    pub fn names(&self) -> &Registry {
        &self.names
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Resolves when no process is alive.
    pub async fn wait_empty(&self) {
        loop {
            let notified = self.emptied.notified();
            if self.is_empty() {
                return;
            }
            notified.await;
        }
    }
}

/// Add `other` to `p`'s links; false if `p` is dead.
fn add_link(p: &ProcessRef, other: Pid) -> bool {
    let mut s = p.signals();
    if s.dead {
        return false;
    }
    if !s.links.contains(&other) {
        s.links.push(other);
    }
    true
}

/// Remove `other` from `p`'s links; whether it was there.
fn remove_link(p: &ProcessRef, other: Pid) -> bool {
    let mut s = p.signals();
    let before = s.links.len();
    s.links.retain(|&l| l != other);
    s.links.len() != before
}

/// Keys for the tag permutation, different in every runtime.
fn random_keys() -> [u32; 4] {
    use std::hash::{BuildHasher, Hasher};
    let mut keys = [0u32; 4];
    for (i, k) in keys.iter_mut().enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(i);
        *k = h.finish() as u32;
    }
    keys
}

/// A keyed permutation of the 62-bit numbers (a four-round Feistel network over two 31-bit
/// halves): distinct inputs give distinct outputs, and without the keys the next output
/// cannot be told from the previous ones.
fn permute(n: u64, keys: &[u32; 4]) -> u64 {
    const HALF: u64 = (1 << 31) - 1;
    let (mut l, mut r) = (n >> 31 & HALF, n & HALF);
    for &k in keys {
        let f = (r ^ k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 33 & HALF;
        (l, r) = (r, l ^ f);
    }
    l << 31 | r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_are_never_reused_and_limit_holds() {
        let t = ProcessTable::new(2, "");
        let a = t.register().unwrap();
        let b = t.register().unwrap();
        assert!(matches!(
            t.register(),
            Err(SpawnError::ProcessLimit { limit: 2, .. })
        ));
        t.exit(a.pid(), &ExitReason::Normal);
        let c = t.register().unwrap();
        assert!(c.pid() > b.pid());
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn monitor_delivers_down_with_reason_and_noproc() {
        let t = ProcessTable::new(10, "");
        let watcher = t.register().unwrap();
        let target = t.register().unwrap();
        let r1 = t.monitor(watcher.pid(), target.pid()).unwrap();
        t.exit(target.pid(), &ExitReason::Panic("boom".into()));
        let m = watcher.mailbox.try_take(r1).unwrap();
        assert_eq!(
            ExitReason::decode(&m.data),
            Some(ExitReason::Panic("boom".into()))
        );
        let r2 = t.monitor(watcher.pid(), target.pid()).unwrap();
        let m = watcher.mailbox.try_take(r2).unwrap();
        assert_eq!(ExitReason::decode(&m.data), Some(ExitReason::NoProc));
    }

    #[test]
    fn demonitor_removes_and_flushes() {
        let t = ProcessTable::new(10, "");
        let w = t.register().unwrap();
        let a = t.register().unwrap();
        let r = t.monitor(w.pid(), a.pid()).unwrap();
        t.demonitor(w.pid(), a.pid(), r);
        t.exit(a.pid(), &ExitReason::Killed);
        assert!(w.mailbox.is_empty());
        let r = t.monitor(w.pid(), a.pid()).unwrap(); // noproc, delivered at once
        t.demonitor(w.pid(), a.pid(), r);
        assert!(w.mailbox.is_empty());
    }

    #[test]
    fn names_are_freed_when_their_process_exits() {
        let t = ProcessTable::new(10, "");
        let p = t.register().unwrap();
        assert_eq!(t.register_name("svc", p.pid()), Ok(true));
        assert_eq!(t.whereis("svc"), Some(p.pid()));
        t.exit(p.pid(), &ExitReason::Killed);
        assert_eq!(t.whereis("svc"), None);
        assert_eq!(t.register_name("svc", p.pid()), Ok(false));
        assert_eq!(t.registered_names(), 0);
    }

    #[test]
    fn links_propagate_abnormal_exits_and_trap_exit_turns_them_into_messages() {
        let t = ProcessTable::new(10, "");
        let a = t.register().unwrap();
        let b = t.register().unwrap();
        let c = t.register().unwrap();
        t.link(a.pid(), b.pid());
        t.link(b.pid(), c.pid());
        c.set_trap_exit(true);
        t.exit(a.pid(), &ExitReason::Panic("boom".into()));
        assert!(b.is_killed());
        assert_eq!(
            b.exit_reason(),
            ExitReason::Linked(a.pid(), Box::new(ExitReason::Panic("boom".into())))
        );
        t.exit(b.pid(), &b.exit_reason());
        assert!(!c.is_killed());
        let m = c.mailbox.try_take(EXIT_TAG).unwrap();
        assert_eq!(u64::from_le_bytes(m.data[..8].try_into().unwrap()), b.pid());
        assert_eq!(ExitReason::decode(&m.data[8..]), Some(b.exit_reason()));
    }

    #[test]
    fn linked_processes_form_groups_named_by_their_oldest_and_shutdown_passes_as_itself() {
        let t = ProcessTable::new(10, "");
        let p: Vec<_> = (0..6).map(|_| t.register().unwrap()).collect();
        let pid = |i: usize| p[i].pid();
        // {0, 2, 4} through a chain that starts at the youngest, {3, 5}, {1}.
        t.link(pid(4), pid(2));
        t.link(pid(2), pid(0));
        t.link(pid(5), pid(3));
        let none = std::collections::HashSet::new();
        assert_eq!(t.link_group_heads(&none), vec![pid(0), pid(1), pid(3)]);
        // Left out: a process in `skip` neither counts nor joins groups.
        let skip: std::collections::HashSet<_> = [pid(2), pid(1)].into_iter().collect();
        assert_eq!(t.link_group_heads(&skip), vec![pid(0), pid(3), pid(4)]);
        assert_eq!(t.count_except(&skip), 4);
        // `shutdown` ends a linked process that does not trap exits with itself.
        t.exit(pid(3), &ExitReason::Shutdown);
        assert_eq!(p[5].exit_reason(), ExitReason::Shutdown);
    }

    #[test]
    fn normal_exit_does_not_kill_links_and_unlink_works() {
        let t = ProcessTable::new(10, "");
        let a = t.register().unwrap();
        let b = t.register().unwrap();
        let c = t.register().unwrap();
        t.link(a.pid(), b.pid());
        t.exit(a.pid(), &ExitReason::Normal);
        assert!(!b.is_killed());
        t.link(b.pid(), c.pid());
        t.unlink(c.pid(), b.pid());
        t.exit(c.pid(), &ExitReason::Killed);
        assert!(!b.is_killed());
        t.link(b.pid(), c.pid()); // c is gone: b gets noproc
        assert_eq!(
            b.exit_reason(),
            ExitReason::Linked(c.pid(), Box::new(ExitReason::NoProc))
        );
    }

    #[test]
    fn send_to_dead_pid_is_dropped() {
        let t = ProcessTable::new(10, "");
        let p = t.register().unwrap();
        t.exit(p.pid(), &ExitReason::Normal);
        assert!(!t.send(p.pid(), Message::new(0, vec![])));
    }

    #[test]
    fn references_are_unique_unpredictable_and_held_until_used() {
        let t = ProcessTable::new(10, "");
        let tags: std::collections::HashSet<u64> = (0..10_000).map(|_| t.new_tag()).collect();
        assert_eq!(tags.len(), 10_000);
        assert!(tags.iter().all(|&x| x > EXIT_TAG && x < 1 << 63));
        let mut sorted: Vec<u64> = (0..100).map(|_| t.new_tag()).collect();
        let in_order = sorted.windows(2).all(|w| w[0] < w[1]);
        sorted.dedup();
        assert!(!in_order, "tags must not count up");

        let a = t.register().unwrap();
        let b = t.register().unwrap();
        let r = t.new_ref(&a).unwrap();
        assert!(a.holds(r) && !b.holds(r));
        assert!(t.monitor_with_tag(a.pid(), b.pid(), r));
        assert!(
            !t.monitor_with_tag(a.pid(), b.pid(), r),
            "a reference monitors once"
        );
        assert!(!t.monitor_with_tag(a.pid(), b.pid(), EXIT_TAG));
        t.exit(b.pid(), &ExitReason::Killed);
        assert!(!a.holds(r), "the DOWN uses the reference up");
        assert!(a.mailbox.try_take(r).is_some());
    }

    #[test]
    fn quotas_bound_references_and_mailboxes() {
        let quotas = Quotas {
            references: 2,
            mailbox_bytes: 1000,
            ..Quotas::default()
        };
        let t = ProcessTable::with_quotas(10, "", quotas);
        let a = t.register().unwrap();
        let b = t.register().unwrap();
        t.new_ref(&a).unwrap();
        t.monitor(a.pid(), b.pid()).unwrap();
        assert!(matches!(
            t.monitor(a.pid(), b.pid()),
            Err(QuotaError::References { limit: 2, .. })
        ));
        // A watcher that exits takes its monitors with it.
        t.exit(a.pid(), &ExitReason::Normal);
        assert!(b.signals().monitors.is_empty());
        assert!(t.send(b.pid(), Message::new(0, vec![0; 500])));
        assert!(!b.is_killed());
        assert!(t.send(b.pid(), Message::new(0, vec![0; 500])));
        assert!(b.is_killed());
        assert!(matches!(b.exit_reason(), ExitReason::Limit(m) if m.starts_with("mailbox")));
    }

    /// A cluster stand-in: records what the table routes; node 2 is up, others are not.
    #[derive(Debug, Default)]
    struct Recorder(Mutex<Vec<Signal>>);

    impl Remote for Recorder {
        fn route(&self, signal: Signal) -> Result<(), Unreachable> {
            let node = node_of(signal.destination());
            if node != 2 {
                return Err(Unreachable::NotConnected(node));
            }
            self.0.lock().unwrap().push(signal);
            Ok(())
        }
        fn exited_with_global_names(&self, _: Pid) {}
    }

    fn node1() -> (Arc<ProcessTable>, Arc<Recorder>) {
        let rec = Arc::new(Recorder::default());
        let t = ProcessTable::new(10, "").in_cluster(1, rec.clone());
        (Arc::new(t), rec)
    }

    #[test]
    fn remote_links_and_monitors_record_their_half_and_fire_noconnection_on_node_down() {
        let (t, rec) = node1();
        let a = t.register().unwrap();
        assert_eq!(node_of(a.pid()), 1, "pids carry the node");
        let remote = node_pid(2) + 7;
        a.set_trap_exit(true);
        t.link(a.pid(), remote);
        let tag = t.monitor(a.pid(), remote).unwrap();
        assert_eq!(
            *rec.0.lock().unwrap(),
            [
                Signal::Link {
                    from: a.pid(),
                    to: remote
                },
                Signal::Monitor {
                    watcher: a.pid(),
                    target: remote,
                    tag
                },
            ]
        );
        t.node_down(2);
        let down = a.mailbox.try_take(tag).unwrap();
        assert_eq!(
            ExitReason::decode(&down.data),
            Some(ExitReason::NoConnection)
        );
        let exit = a.mailbox.try_take(EXIT_TAG).unwrap();
        assert_eq!(
            u64::from_le_bytes(exit.data[..8].try_into().unwrap()),
            remote
        );
        assert_eq!(
            ExitReason::decode(&exit.data[8..]),
            Some(ExitReason::NoConnection)
        );
        // Fired once: a second node-down finds nothing.
        t.node_down(2);
        assert!(a.mailbox.is_empty());
        assert!(!a.holds(tag));
    }

    #[test]
    fn monitors_from_other_nodes_are_bounded_per_target_by_the_references_quota() {
        let rec = Arc::new(Recorder::default());
        let quotas = Quotas {
            references: 3,
            ..Quotas::default()
        };
        let t = Arc::new(ProcessTable::with_quotas(10, "", quotas).in_cluster(1, rec.clone()));
        let target = t.register().unwrap();
        let watcher = node_pid(2) + 9;
        for tag in 1..=4 {
            t.apply(
                2,
                Signal::Monitor {
                    watcher,
                    target: target.pid(),
                    tag,
                },
            );
        }
        assert_eq!(target.signals().monitors.len(), 3);
        let routed = rec.0.lock().unwrap();
        let [Signal::Down { tag: 4, reason, .. }] = routed.as_slice() else {
            panic!("expected one DOWN for the 4th monitor: {routed:?}");
        };
        assert!(
            matches!(ExitReason::decode(reason), Some(ExitReason::Limit(m)) if m.starts_with("remote monitors")),
            "{reason:?}"
        );
    }

    #[test]
    fn an_unreachable_node_answers_at_once_and_sends_to_it_fail() {
        let (t, _) = node1();
        let a = t.register().unwrap();
        let far = node_pid(3) + 1;
        let tag = t.monitor(a.pid(), far).unwrap();
        let down = a.mailbox.try_take(tag).unwrap();
        assert_eq!(
            ExitReason::decode(&down.data),
            Some(ExitReason::NoConnection)
        );
        t.link(a.pid(), far);
        assert!(a.is_killed(), "a link to an unreachable node fires");
        assert_eq!(
            a.exit_reason(),
            ExitReason::Linked(far, Box::new(ExitReason::NoConnection))
        );
        assert!(!t.send(far, Message::new(0, vec![1])));
        assert!(!t.kill(far));
    }

    #[test]
    fn signals_from_another_node_are_applied_and_exits_go_back_to_it() {
        let (t, rec) = node1();
        let p = t.register().unwrap();
        let remote = node_pid(2) + 9;
        // A remote process links and monitors p; then p exits.
        t.apply(
            2,
            Signal::Link {
                from: remote,
                to: p.pid(),
            },
        );
        t.apply(
            2,
            Signal::Monitor {
                watcher: remote,
                target: p.pid(),
                tag: 77,
            },
        );
        // A message, a reply with a tag p does not hold (dropped), a forged sender (dropped).
        t.apply(
            2,
            Signal::Message {
                to: p.pid(),
                tag: 0,
                data: vec![5],
                bounded: false,
            },
        );
        t.apply(
            2,
            Signal::Message {
                to: p.pid(),
                tag: 12345,
                data: vec![6],
                bounded: false,
            },
        );
        t.apply(
            2,
            Signal::Link {
                from: node_pid(3) + 1,
                to: p.pid(),
            },
        );
        assert_eq!(p.mailbox.try_take(0).unwrap().data, [5]);
        assert!(p.mailbox.is_empty());
        t.exit(p.pid(), &ExitReason::Panic("boom".into()));
        let routed = rec.0.lock().unwrap().clone();
        let reason = ExitReason::Panic("boom".into()).encode();
        assert_eq!(
            routed,
            [
                Signal::Exit {
                    from: p.pid(),
                    to: remote,
                    reason: reason.clone(),
                    link: true
                },
                Signal::Down {
                    watcher: remote,
                    target: p.pid(),
                    tag: 77,
                    reason
                },
            ]
        );
        // Linking to (or monitoring) a pid here that is gone answers noproc.
        rec.0.lock().unwrap().clear();
        t.apply(
            2,
            Signal::Link {
                from: remote,
                to: p.pid(),
            },
        );
        assert!(matches!(
            &rec.0.lock().unwrap()[..],
            [Signal::Exit { link: true, .. }]
        ));
    }

    #[tokio::test]
    async fn kill_wakes_the_process() {
        let t = ProcessTable::new(10, "");
        let p = t.register().unwrap();
        let waiter = p.clone();
        let h = tokio::spawn(async move { waiter.killed().await });
        assert!(t.kill(p.pid()));
        h.await.unwrap();
    }

    #[test]
    fn a_signal_from_another_node_is_applied_here_only_and_must_be_well_formed() {
        let (t, rec) = node1();
        let p = t.register().unwrap();
        let remote = node_pid(2) + 9;
        // A kill or message naming a process of a third node is not passed on.
        t.apply(
            2,
            Signal::Kill {
                to: node_pid(3) + 1,
            },
        );
        t.apply(
            2,
            Signal::Message {
                to: node_pid(2) + 4,
                tag: 0,
                data: vec![1],
                bounded: false,
            },
        );
        // An exit signal whose reason does not decode is dropped, not applied.
        t.apply(
            2,
            Signal::Exit {
                from: remote,
                to: p.pid(),
                reason: vec![0xee],
                link: false,
            },
        );
        assert!(rec.0.lock().unwrap().is_empty(), "nothing routed on");
        assert!(p.is_alive() && !p.is_killed());
        // The same acts made on this node take the same path: a local process killed by a
        // signal, an exit signal from a local process.
        let q = t.register().unwrap();
        assert!(t.send_exit(q.pid(), p.pid(), &ExitReason::Exit(3)));
        assert!(p.is_killed());
        assert!(
            !t.send_exit(q.pid(), 999, &ExitReason::Exit(3)),
            "no such process"
        );
    }

    #[test]
    fn the_limit_holds_when_threads_spawn_and_exit_at_once() {
        let t = Arc::new(ProcessTable::new(8, ""));
        let most = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (t, most) = (t.clone(), most.clone());
                std::thread::spawn(move || {
                    for _ in 0..2000 {
                        if let Ok(p) = t.register() {
                            most.fetch_max(t.len() as u64, Ordering::Relaxed);
                            assert!(t.get(p.pid()).is_some());
                            t.exit(p.pid(), &ExitReason::Normal);
                        }
                    }
                })
            })
            .collect();
        for th in threads {
            th.join().unwrap();
        }
        assert!(most.load(Ordering::Relaxed) <= 8);
        assert_eq!(t.len(), 0);
        assert!(t.all().is_empty());
        // Closed: no process may enter, and none is left half-entered.
        t.close();
        assert!(matches!(t.register(), Err(SpawnError::Other(_))));
        assert_eq!(t.len(), 0);
    }
}
