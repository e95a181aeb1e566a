//! What the runtime counts about its processes, for the observer and `/metrics`.
//!
//! The model: counting must cost next to nothing on the paths it counts, and nothing is
//! gathered until someone asks. So
//! - each process carries a few plain atomics ([`ProcessStats`]) that only its own task writes
//!   (state, CPU time, memory size) or that are set once (parent, spawn time);
//! - the runtime's totals ([`RuntimeStats`]) are counters bumped where the event already
//!   passes through one function — a spawn in `ProcessTable::register`, a delivery in
//!   `ProcessTable::deliver`, an exit in `ProcessTable::exit` — with the message counter
//!   sharded per thread, so two workers passing messages never write one cache line;
//! - the last [`RECENT_EXITS`] exits are kept with their reasons (a short ring);
//! - a snapshot of the process table (rows, links, monitors) is built only on request, by
//!   `ProcessTable::snapshot` and `ProcessTable::inspect`.
//!
//! A process's log lines are kept (a short ring each, [`super::logs`]) only when CPU time is
//! measured too: both are for the observer.
//!
//! CPU time is measured per poll of a process's task (from its first instruction to its next
//! suspension, host calls included), with the CPU's time-stamp counter where there is one, and
//! only when the runtime was asked to ([`RuntimeStats::with_cpu_time`]: `warren run
//! --observe`), so a runtime nobody observes does not read a clock per poll.

use super::logs::{LogLine, LogRing};
use super::{ExitReason, Pid};
use crate::sync::Locked;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// How many recent exits are kept.
pub(crate) const RECENT_EXITS: usize = 256;

/// What a process is doing, as last seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProcessState {
    /// Its code is running on a worker (or it is being set up).
    Running,
    /// It was preempted and waits for a worker.
    Runnable,
    /// It waits in a host call (a receive, a sleep, I/O).
    Waiting,
    /// It hibernates: no instance, waiting for a message.
    Hibernated,
    /// A host mailbox: a pid without an instance, driven by the embedder.
    Host,
}

impl ProcessState {
    /// Its name in JSON, on the page and in `/metrics`.
    pub fn name(self) -> &'static str {
        match self {
            ProcessState::Running => "running",
            ProcessState::Runnable => "runnable",
            ProcessState::Waiting => "waiting",
            ProcessState::Hibernated => "hibernated",
            ProcessState::Host => "host",
        }
    }

    /// Every state, in display order.
    pub const ALL: [ProcessState; 5] = [
        ProcessState::Running,
        ProcessState::Runnable,
        ProcessState::Waiting,
        ProcessState::Hibernated,
        ProcessState::Host,
    ];
}

const RUNNING: u8 = 0;
const RUNNABLE: u8 = 1;
const WAITING: u8 = 2;
const HOST: u8 = 3;

/// Bytes of the `len` bytes from `base` that are resident (`mincore`); 0 if it cannot say.
pub(crate) fn resident_bytes(base: usize, len: usize) -> u64 {
    const PAGE: usize = 4096;
    if base == 0 || len == 0 || !base.is_multiple_of(PAGE) {
        return 0;
    }
    let pages = len.div_ceil(PAGE);
    let mut vec = vec![0u8; pages];
    // SAFETY: mincore only reports on the mapping (it reads no byte of it) and writes
    // `pages` bytes into `vec`, which has them. A range not mapped is an error (ENOMEM).
    let rc = unsafe { libc::mincore(base as *mut libc::c_void, len, vec.as_mut_ptr()) };
    if rc != 0 {
        return 0;
    }
    vec.iter().filter(|&&b| b & 1 == 1).count() as u64 * PAGE as u64
}

/// What the kernel says of this process's memory: (resident bytes, proportional set size
/// in bytes — shared pages divided among the processes sharing them), from `/proc/self`.
pub(crate) fn host_memory() -> (u64, u64) {
    let rss = host_resident();
    let pss = std::fs::read_to_string("/proc/self/smaps_rollup")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Pss:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024);
    (rss, pss)
}

/// This host process's resident bytes (`/proc/self/statm`: cheap, once a second is nothing).
pub(crate) fn host_resident() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Per-process counters, written by the process's own task.
#[derive(Debug)]
pub struct ProcessStats {
    parent: Pid,
    /// Milliseconds since the Unix epoch.
    spawned_at: u64,
    state: AtomicU8,
    hibernated: AtomicBool,
    /// Bytes of linear memory (0 while hibernated).
    memory: AtomicU64,
    /// Where its instance's linear memory starts in the host's address space (0: no
    /// instance), for the observer to ask the kernel which of its pages are resident.
    memory_base: AtomicUsize,
    /// CPU time in clock ticks (see [`Clock`]).
    cpu: AtomicU64,
    /// Handles held, by kind.
    handles: Mutex<Vec<(&'static str, u32)>>,
    /// Its last log lines and counts, once it logs while an observer runs.
    logs: Mutex<Option<Box<LogRing>>>,
    /// The process whose full mailbox it waits for room in (0: none).
    blocked_on: AtomicU64,
}

impl ProcessStats {
    pub(super) fn new(parent: Pid) -> Self {
        ProcessStats {
            parent,
            spawned_at: now_ms(),
            state: AtomicU8::new(RUNNING),
            hibernated: AtomicBool::new(false),
            memory: AtomicU64::new(0),
            memory_base: AtomicUsize::new(0),
            cpu: AtomicU64::new(0),
            handles: Mutex::new(Vec::new()),
            logs: Mutex::new(None),
            blocked_on: AtomicU64::new(0),
        }
    }

    /// It waits for room in the full mailbox of `to` (`Some`), or no longer (`None`).
    pub fn set_blocked_on(&self, to: Option<Pid>) {
        self.blocked_on.store(to.unwrap_or(0), Ordering::Relaxed);
    }

    /// The process whose full mailbox it waits for room in, if any.
    pub fn blocked_on(&self) -> Option<Pid> {
        match self.blocked_on.load(Ordering::Relaxed) {
            0 => None,
            pid => Some(pid),
        }
    }

    /// The process that spawned this one (0: started by the host).
    pub fn parent(&self) -> Pid {
        self.parent
    }

    /// When it was spawned, in milliseconds since the Unix epoch.
    pub fn spawned_at(&self) -> u64 {
        self.spawned_at
    }

    pub fn state(&self) -> ProcessState {
        if self.hibernated.load(Ordering::Relaxed) {
            return ProcessState::Hibernated;
        }
        match self.state.load(Ordering::Relaxed) {
            RUNNING => ProcessState::Running,
            RUNNABLE => ProcessState::Runnable,
            WAITING => ProcessState::Waiting,
            _ => ProcessState::Host,
        }
    }

    /// Its task is being polled: it runs.
    pub fn running(&self) {
        self.state.store(RUNNING, Ordering::Relaxed);
    }

    /// It was preempted (from the epoch callback, inside a poll).
    pub fn preempted(&self) {
        self.state.store(RUNNABLE, Ordering::Relaxed);
    }

    /// Its task's poll returned pending: it waits, unless it was preempted.
    pub fn suspended(&self) {
        if self.state.load(Ordering::Relaxed) == RUNNING {
            self.state.store(WAITING, Ordering::Relaxed);
        }
    }

    pub(super) fn host(&self) {
        self.state.store(HOST, Ordering::Relaxed);
    }

    /// It hibernates (true) or is woken (false).
    pub fn set_hibernated(&self, on: bool) {
        self.hibernated.store(on, Ordering::Relaxed);
    }

    pub fn memory(&self) -> u64 {
        self.memory.load(Ordering::Relaxed)
    }

    /// Its instance's linear memory starts at `base` (0: the instance is gone).
    pub fn set_memory_base(&self, base: usize) {
        self.memory_base.store(base, Ordering::Relaxed);
    }

    /// Bytes of its linear memory resident in RAM now (asked of the kernel with `mincore`;
    /// pages of the module's image shared with other processes count too). 0 without an
    /// instance. The instance may end while this asks: then the answer is about pages no
    /// longer its own — a number, never a read of them.
    pub fn resident(&self) -> u64 {
        let base = self.memory_base.load(Ordering::Relaxed);
        let len = self.memory() as usize;
        resident_bytes(base, len)
    }

    /// Its linear memory is now `bytes` long; returns the previous size.
    pub fn set_memory(&self, bytes: u64) -> u64 {
        self.memory.swap(bytes, Ordering::Relaxed)
    }

    /// Add `ticks` of CPU time (only the process's task calls this: no read-modify-write).
    pub fn add_cpu(&self, ticks: u64) {
        let now = self.cpu.load(Ordering::Relaxed);
        self.cpu.store(now.wrapping_add(ticks), Ordering::Relaxed);
    }

    /// CPU time used, in clock ticks.
    pub fn cpu_ticks(&self) -> u64 {
        self.cpu.load(Ordering::Relaxed)
    }

    /// Handles held, by kind, sorted by kind.
    pub fn handles(&self) -> Vec<(&'static str, u32)> {
        let mut v = self.handles.locked().clone();
        v.sort();
        v
    }

    /// How many handles it holds.
    pub fn handle_count(&self) -> u32 {
        self.handles.locked().iter().map(|(_, n)| n).sum()
    }
}

impl ProcessStats {
    /// It emitted a log record (kept only when the runtime keeps logs for the observer).
    pub fn logged(&self, level: i32, target: &str, message: &str) {
        let mut ring = self.logs.locked();
        ring.get_or_insert_default().push(level, target, message);
    }

    /// It dropped a log record for its rate.
    pub fn log_dropped(&self) {
        let mut ring = self.logs.locked();
        ring.get_or_insert_default().dropped += 1;
    }

    /// Its kept log lines (oldest first), records emitted and dropped; `None` if it never
    /// logged while logs were kept.
    pub fn logs(&self) -> Option<(Vec<LogLine>, u64, u64)> {
        let ring = self.logs.locked();
        let ring = ring.as_ref()?;
        Some((ring.lines().cloned().collect(), ring.emitted, ring.dropped))
    }

    /// It got a handle of `kind`.
    pub fn opened(&self, kind: &'static str) {
        let mut v = self.handles.locked();
        match v.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => v.push((kind, 1)),
        }
    }

    /// It gave up a handle of `kind`.
    pub fn closed(&self, kind: &'static str) {
        let mut v = self.handles.locked();
        if let Some(i) = v.iter().position(|(k, _)| *k == kind) {
            v[i].1 -= 1;
            if v[i].1 == 0 {
                v.swap_remove(i);
            }
        }
    }
}

/// Exit reasons by kind, as counted (and labelled in `/metrics`).
pub(crate) const REASON_KINDS: [&str; 11] = [
    "normal",
    "exit",
    "panic",
    "trap",
    "killed",
    "limit",
    "noproc",
    "linked",
    "noconnection",
    "shutdown",
    "upgrade",
];

/// The kind of a reason, an index into [`REASON_KINDS`].
pub(crate) fn reason_kind(reason: &ExitReason) -> usize {
    match reason {
        ExitReason::Normal => 0,
        ExitReason::Exit(_) => 1,
        ExitReason::Panic(_) => 2,
        ExitReason::Trap(_) => 3,
        ExitReason::Killed => 4,
        ExitReason::Limit(_) => 5,
        ExitReason::NoProc => 6,
        ExitReason::Linked(..) => 7,
        ExitReason::NoConnection => 8,
        ExitReason::Shutdown => 9,
        ExitReason::Upgrade(_) => 10,
    }
}

/// One exit, as kept in the ring.
#[derive(Debug, Clone)]
pub struct ExitRecord {
    pub pid: Pid,
    pub parent: Pid,
    /// Its registered names when it ended.
    pub names: Vec<String>,
    pub reason: ExitReason,
    /// Milliseconds since the Unix epoch.
    pub at: u64,
    /// How long it lived, in milliseconds.
    pub lifetime_ms: u64,
    /// CPU time it used, in clock ticks.
    pub cpu_ticks: u64,
}

const SHARDS: usize = 16;

#[repr(align(128))] // one shard per cache line pair (adjacent-line prefetch)
#[derive(Debug, Default)]
struct Shard(AtomicU64);

/// The runtime's counters.
#[derive(Debug)]
pub struct RuntimeStats {
    spawned: AtomicU64,
    exits: [AtomicU64; REASON_KINDS.len()],
    messages: [Shard; SHARDS],
    message_bytes: [Shard; SHARDS],
    memory: AtomicU64,
    hibernating: AtomicUsize,
    recent: Mutex<VecDeque<ExitRecord>>,
    clock: Clock,
    cpu_time: bool,
    /// Log records emitted, by `warren:log` level (index level - 1), and dropped.
    log_records: [AtomicU64; 5],
    log_dropped: AtomicU64,
    /// Messages dropped by full bounded mailboxes (`drop oldest`, `drop newest`).
    bound_dropped: AtomicU64,
    /// Sends a full bounded mailbox handed back (to wait, or to fail).
    bound_refused: AtomicU64,
    /// Senders waiting for room in a full bounded mailbox now.
    blocked_senders: AtomicUsize,
    /// The versions of the program held, as the last load left them (see `crate::version`).
    versions: Mutex<Vec<HeldVersion>>,
    /// Versions loaded since the runtime started (the first not counted).
    loads: AtomicU64,
}

/// A version of the program the runtime holds, as the observer shows it.
#[derive(Clone)]
pub struct HeldVersion {
    /// Its number (1: the module the runtime was built with).
    pub number: u32,
    /// The SHA-256 of its module.
    pub hash: [u8; 32],
    /// New processes run it (else it is the old one).
    pub current: bool,
    /// How many processes run it now, as the runtime counts them.
    pub processes: std::sync::Arc<dyn Fn() -> usize + Send + Sync>,
}

impl std::fmt::Debug for HeldVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeldVersion")
            .field("number", &self.number)
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

impl HeldVersion {
    /// How many processes run it now.
    pub fn process_count(&self) -> usize {
        (self.processes)()
    }
}

impl Default for RuntimeStats {
    fn default() -> Self {
        RuntimeStats {
            spawned: AtomicU64::new(0),
            exits: Default::default(),
            messages: Default::default(),
            message_bytes: Default::default(),
            memory: AtomicU64::new(0),
            hibernating: AtomicUsize::new(0),
            recent: Mutex::new(VecDeque::with_capacity(RECENT_EXITS)),
            clock: Clock::new(),
            cpu_time: false,
            log_records: Default::default(),
            log_dropped: AtomicU64::new(0),
            bound_dropped: AtomicU64::new(0),
            bound_refused: AtomicU64::new(0),
            blocked_senders: AtomicUsize::new(0),
            versions: Mutex::new(Vec::new()),
            loads: AtomicU64::new(0),
        }
    }
}

thread_local! {
    static SHARD: usize = {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS
    };
}

impl RuntimeStats {
    /// The versions of the program held now: the first at build, then after each load.
    pub fn set_versions(&self, held: Vec<HeldVersion>, loaded: bool) {
        *self.versions.locked() = held;
        if loaded {
            self.loads.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The versions of the program held (current first).
    pub fn versions(&self) -> Vec<HeldVersion> {
        self.versions.locked().clone()
    }

    /// Versions loaded since the runtime started.
    pub fn loads(&self) -> u64 {
        self.loads.load(Ordering::Relaxed)
    }

    /// Counters that also measure each process's CPU time.
    pub fn with_cpu_time(mut self, on: bool) -> Self {
        self.cpu_time = on;
        self
    }

    /// Whether processes' CPU time is measured.
    pub fn measures_cpu(&self) -> bool {
        self.cpu_time
    }

    /// The clock CPU time is measured with.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub(super) fn spawned(&self) {
        self.spawned.fetch_add(1, Ordering::Relaxed);
    }

    /// `n` messages were dropped by a full bounded mailbox.
    pub(super) fn bound_dropped(&self, n: usize) {
        self.bound_dropped.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// A full bounded mailbox handed a send back.
    pub(super) fn bound_refused(&self) {
        self.bound_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// A sender starts (true) or stops (false) waiting for room in a full mailbox.
    pub fn sender_blocked(&self, on: bool) {
        if on {
            self.blocked_senders.fetch_add(1, Ordering::Relaxed);
        } else {
            self.blocked_senders.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Messages dropped by full bounded mailboxes, sends they handed back, and senders
    /// waiting for room now.
    pub fn bounds(&self) -> (u64, u64, usize) {
        (
            self.bound_dropped.load(Ordering::Relaxed),
            self.bound_refused.load(Ordering::Relaxed),
            self.blocked_senders.load(Ordering::Relaxed),
        )
    }

    pub(super) fn delivered(&self, bytes: usize) {
        let i = SHARD.with(|s| *s);
        self.messages[i].0.fetch_add(1, Ordering::Relaxed);
        self.message_bytes[i]
            .0
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(super) fn exited(&self, record: ExitRecord) {
        self.exits[reason_kind(&record.reason)].fetch_add(1, Ordering::Relaxed);
        let mut r = self.recent.locked();
        if r.len() == RECENT_EXITS {
            r.pop_front();
        }
        r.push_back(record);
    }

    /// Processes spawned since the runtime started (host mailboxes included).
    pub fn spawned_total(&self) -> u64 {
        self.spawned.load(Ordering::Relaxed)
    }

    /// Exits since the runtime started, by kind (see [`REASON_KINDS`]).
    pub fn exits_by_kind(&self) -> [u64; REASON_KINDS.len()] {
        std::array::from_fn(|i| self.exits[i].load(Ordering::Relaxed))
    }

    /// Messages delivered into mailboxes since the runtime started, and their bytes.
    pub fn messages_total(&self) -> (u64, u64) {
        let sum = |s: &[Shard; SHARDS]| s.iter().map(|x| x.0.load(Ordering::Relaxed)).sum();
        (sum(&self.messages), sum(&self.message_bytes))
    }

    /// Bytes of linear memory of all instances.
    pub fn memory_total(&self) -> u64 {
        self.memory.load(Ordering::Relaxed)
    }

    /// A process's memory went from `old` to `new` bytes.
    pub fn memory_changed(&self, old: u64, new: u64) {
        if new >= old {
            self.memory.fetch_add(new - old, Ordering::Relaxed);
        } else {
            self.memory.fetch_sub(old - new, Ordering::Relaxed);
        }
    }

    /// How many processes hibernate.
    pub fn hibernating(&self) -> usize {
        self.hibernating.load(Ordering::Relaxed)
    }

    /// One more (true) or one fewer (false) process hibernates.
    pub fn hibernation(&self, on: bool) {
        if on {
            self.hibernating.fetch_add(1, Ordering::Relaxed);
        } else {
            self.hibernating.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// A log record was emitted at `level` (1 error .. 5 trace).
    pub fn log_emitted(&self, level: i32) {
        if let Some(n) = usize::try_from(level - 1)
            .ok()
            .and_then(|i| self.log_records.get(i))
        {
            n.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A log record was dropped for its process's rate.
    pub fn log_dropped(&self) {
        self.log_dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Log records emitted since the runtime started, by level (error first), and dropped.
    pub fn logs_total(&self) -> ([u64; 5], u64) {
        (
            std::array::from_fn(|i| self.log_records[i].load(Ordering::Relaxed)),
            self.log_dropped.load(Ordering::Relaxed),
        )
    }

    /// The recent exits, oldest first.
    pub fn recent_exits(&self) -> Vec<ExitRecord> {
        let r = self.recent.locked();
        r.iter().cloned().collect()
    }
}

/// A cheap monotonic clock for CPU time: the time-stamp counter on x86-64 (a few
/// nanoseconds a read, constant-rate on every CPU this runs on), `Instant` elsewhere.
/// Ticks become nanoseconds by the rate measured since the clock was made.
#[derive(Debug)]
pub struct Clock {
    start_ticks: u64,
    start: Instant,
}

impl Clock {
    fn new() -> Self {
        Clock {
            start_ticks: ticks(),
            start: Instant::now(),
        }
    }

    /// The current tick.
    #[inline]
    pub fn now(&self) -> u64 {
        ticks()
    }

    /// Nanoseconds per tick (1 without a time-stamp counter), measured since the clock
    /// was made (the longer the run, the more exact).
    pub fn ns_per_tick(&self) -> f64 {
        if cfg!(not(target_arch = "x86_64")) {
            return 1.0;
        }
        let ns = self.start.elapsed().as_nanos() as f64;
        let t = ticks().wrapping_sub(self.start_ticks) as f64;
        if t < 1e6 {
            // Too soon to tell (under a millisecond): assume a 1 GHz counter.
            return 1.0;
        }
        ns / t
    }

    /// `ticks` in nanoseconds.
    pub fn to_ns(&self, ticks: u64) -> u64 {
        (ticks as f64 * self.ns_per_tick()) as u64
    }
}

#[inline]
fn ticks() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: `rdtsc` has no preconditions; every x86-64 CPU has it.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_follow_polls_and_handles_are_counted_by_kind() {
        let s = ProcessStats::new(7);
        assert_eq!(s.parent(), 7);
        assert_eq!(s.state(), ProcessState::Running);
        s.suspended();
        assert_eq!(s.state(), ProcessState::Waiting);
        s.running();
        s.preempted();
        s.suspended();
        assert_eq!(s.state(), ProcessState::Runnable);
        s.set_hibernated(true);
        assert_eq!(s.state(), ProcessState::Hibernated);
        s.set_hibernated(false);
        s.opened("file");
        s.opened("tcp-stream");
        s.opened("file");
        s.closed("tcp-stream");
        assert_eq!(s.handles(), vec![("file", 2)]);
        assert_eq!(s.handle_count(), 2);
    }

    #[test]
    fn counters_add_up_across_threads_and_the_ring_keeps_the_last() {
        let stats = std::sync::Arc::new(RuntimeStats::default());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let s = stats.clone();
                std::thread::spawn(move || (0..1000).for_each(|_| s.delivered(3)))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(stats.messages_total(), (4000, 12000));
        for pid in 0..(RECENT_EXITS as u64 + 10) {
            stats.exited(ExitRecord {
                pid,
                parent: 0,
                names: Vec::new(),
                reason: if pid % 2 == 0 {
                    ExitReason::Normal
                } else {
                    ExitReason::Killed
                },
                at: 0,
                lifetime_ms: 0,
                cpu_ticks: 0,
            });
        }
        let recent = stats.recent_exits();
        assert_eq!(recent.len(), RECENT_EXITS);
        assert_eq!(recent[0].pid, 10);
        let by_kind = stats.exits_by_kind();
        assert_eq!(by_kind[0] + by_kind[4], RECENT_EXITS as u64 + 10);
        stats.memory_changed(0, 100);
        stats.memory_changed(100, 40);
        assert_eq!(stats.memory_total(), 40);
    }
}
