//! A pool of worker threads that runs tasks the way BEAM's schedulers run processes.
//!
//! warren runs each process as a task (a future that polls its wasm instance). tokio's
//! scheduler runs a task woken by another on the waker's worker only a few times in a row
//! and wakes an idle worker to steal it after that, so two processes talking to each other
//! end up on two cores, handing every message across. This pool keeps them together:
//!
//! - **A run queue per worker**, first in first out, and a *next* slot. A task woken on a
//!   worker thread (a process woken by a message another process sent) runs on *that*
//!   worker, next to the data it was just sent: it takes the slot, and runs as soon as the
//!   task that woke it waits or yields (the task it displaces from the slot queues). A chain
//!   of messages thus runs without delay, and without starving the queue: after
//!   [`NEXT_IN_A_ROW`] tasks in a row from the slot, the worker serves its queue first (a
//!   process answering a ping-pong among busy loops waits for them at most once every 32
//!   hand-offs, not at every one).
//! - **Another worker is woken only when there is more work than this one is about to do**:
//!   when a push leaves two or more tasks queued (the task running now is not counted). A
//!   ping-pong queues one task at a time and keeps one core; two busy processes queue two
//!   as soon as one is preempted, and the second core steals one.
//! - **An idle worker steals**: half of another worker's queue, whole tasks, oldest first,
//!   from a queue of two or more (one queued task is the next its worker runs); then it
//!   sleeps until woken.
//! - **A worker's queue holds at most [`LOCAL_CAPACITY`] tasks**; past it, the older half
//!   moves to the shared queue, where idle workers look first. (A publisher waking 10,000
//!   subscribers in one time slice then gets its next slice after a few hundred of them,
//!   not after all: the others take several messages a turn, warm, instead of one each,
//!   cold. `compare-guest fanout 10000 100`: 2.5-3.4 us a delivery against 3.9-4.0.)
//! - **Wakes from outside** (a timer, a socket, another node: any thread that is not one
//!   of this pool's workers) go to a shared queue and wake a sleeping worker. A busy worker
//!   looks at the shared queue every [`SHARED_EVERY`] tasks, so it is never starved. Or,
//!   with [`Pool::run_outside_wakes`], the waking thread's own executor runs the task's
//!   next poll (warren: the tokio thread whose socket or timer woke a process); a task that
//!   yields there comes back to the shared queue, and so do the tasks it wakes or spawns
//!   while it runs there; [`handed_tasks_to_the_pool`] tells it that it did, so that it
//!   can yield and follow them.
//! - **A task yields** by waking itself while it runs (a process at the end of its time
//!   slice): it goes to the back of its worker's queue.
//!
//! A task's state is one atomic: `IDLE` (waiting for a wake), `QUEUED`, `RUNNING`,
//! `NOTIFIED` (woken while running: queued again when the poll returns) and `DONE`. Only the
//! worker that took a task from a queue polls it, so a task is never polled twice at once
//! and a wake is never lost: a wake in `RUNNING` leaves `NOTIFIED` for the worker to see
//! when it tries to go back to `IDLE`.
//!
//! Sleeping and waking use one rule both ways: a worker registers as sleeping *before* it
//! looks at the queues a last time, and a pusher looks for sleepers *after* its push. Each
//! queue is behind a lock, so either the worker's last look sees the task or the pusher sees
//! the worker registered (`tests/loom.rs`, `a_task_woken_from_outside_always_runs`,
//! `a_task_woken_while_running_runs_again`).
//!
//! The pool owns its tasks: [`Pool::close`] stops the workers, and [`Pool::drop_tasks`]
//! drops every future still alive (a process waiting for a message holds its own waker
//! through its mailbox, a cycle nothing else would break). The threads are the caller's:
//! [`Pool::worker`] gives what to run on each.

use crate::prim::{
    AtomicBool, AtomicU8, AtomicUsize, Condvar, Mutex, Ordering, lock, thread_local,
};
use std::cell::Cell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Wake, Waker};

/// How many tasks a worker runs from its own queue between two looks at the shared queue.
pub const SHARED_EVERY: u32 = 61;

/// Most tasks a worker's own queue holds; past it, the older half moves to the shared queue.
pub const LOCAL_CAPACITY: usize = 256;

/// Most tasks a worker runs in a row from its `next` slot (each woken by the one before)
/// before it turns to its queue: how far a chain of messages may run ahead of the tasks
/// waiting there.
pub const NEXT_IN_A_ROW: usize = 32;

const IDLE: u8 = 0;
const QUEUED: u8 = 1;
const RUNNING: u8 = 2;
const NOTIFIED: u8 = 3;
const DONE: u8 = 4;

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A pool of workers and the tasks they run. Cloning gives another handle to the same pool.
#[derive(Clone)]
pub struct Pool {
    shared: Arc<Shared>,
}

/// What one worker thread runs: [`Worker::run`], until the pool is closed.
pub struct Worker {
    shared: Arc<Shared>,
    index: usize,
}

/// The pool has been closed: it runs nothing more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the scheduler is shut down")
    }
}

impl std::error::Error for Closed {}

/// Counts since the pool was made (for tests, benchmarks and `/metrics`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Worker threads.
    pub workers: usize,
    /// Tasks spawned.
    pub spawned: u64,
    /// Polls of a task, on the pool's workers and outside it.
    pub polls: u64,
    /// Polls on each worker (the rest of `polls` ran outside the pool).
    pub polls_by_worker: Vec<u64>,
    /// Tasks woken on a worker thread, queued on that worker.
    pub local_wakes: u64,
    /// Tasks woken from a thread outside the pool (or by a task running there).
    pub outside_wakes: u64,
    /// Tasks a worker took from another worker's queue.
    pub stolen: u64,
    /// Times a worker went to sleep for want of work.
    pub sleeps: u64,
    /// Tasks alive now (spawned and not yet done).
    pub live: usize,
}

struct Shared {
    /// Told apart from other pools' workers on the same thread-local.
    id: usize,
    queues: Box<[Mutex<VecDeque<Arc<Task>>>]>,
    /// Each worker's next task: the one last woken by the task it runs (touched by that
    /// worker's thread only, and by `drop_tasks`; never stolen).
    next: Box<[Mutex<Option<Arc<Task>>>]>,
    /// How many tasks in a row each worker took from its `next` slot.
    next_runs: Box<[AtomicUsize]>,
    outside: Mutex<VecDeque<Arc<Task>>>,
    sleepers: Mutex<Vec<usize>>,
    /// How many workers are registered in `sleepers` (read without the lock by pushers).
    asleep: AtomicUsize,
    parkers: Box<[Parker]>,
    closed: AtomicBool,
    tasks: Mutex<Registry>,
    counts: Counts,
    /// Where a task woken outside the pool runs, if set ([`Pool::run_outside_wakes`]).
    outside_runner: std::sync::OnceLock<OutsideRunner>,
}

/// Takes a task woken outside the pool to run it on the waking thread's own executor, or
/// hands it back.
type OutsideRunner = Box<dyn Fn(Runnable) -> Result<(), Runnable> + Send + Sync>;

/// A task woken outside the pool, to be polled once with [`Runnable::run`] (see
/// [`Pool::run_outside_wakes`]). Dropped unrun, the task is queued on the pool instead.
pub struct Runnable(Option<Arc<Task>>);

impl Runnable {
    /// Poll the task once on this thread. If it is woken again meanwhile, or yields, it goes
    /// to the pool's shared queue; so do the tasks it wakes or spawns meanwhile.
    pub fn run(mut self) {
        if let Some(task) = self.0.take() {
            let shared = task.shared.clone();
            let before = OUTSIDE.with(|o| o.replace(shared.id));
            let handed = HANDED.with(|h| h.replace(false));
            shared.run(None, task);
            HANDED.with(|h| h.set(handed));
            OUTSIDE.with(|o| o.set(before));
        }
    }
}

impl Drop for Runnable {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.shared.push_outside(task.clone());
        }
    }
}

/// The pool's counts: most per worker, each on a cache line of its own, so that counting
/// costs a worker no traffic with the others.
#[derive(Default)]
struct Counts {
    spawned: AtomicU64,
    outside_wakes: AtomicU64,
    outside_polls: AtomicU64,
    workers: Box<[WorkerCounts]>,
}

#[derive(Default)]
#[repr(align(128))]
struct WorkerCounts {
    polls: AtomicU64,
    local_wakes: AtomicU64,
    stolen: AtomicU64,
    sleeps: AtomicU64,
}

fn bump(c: &AtomicU64, n: u64) {
    c.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
}

/// Every task alive, so that closing the pool can drop them all.
#[derive(Default)]
struct Registry {
    slots: Vec<Option<Weak<Task>>>,
    free: Vec<usize>,
}

/// One task: a future and its state.
struct Task {
    state: AtomicU8,
    future: Mutex<Option<BoxFuture>>,
    shared: Arc<Shared>,
    slot: usize,
}

/// A flag a sleeping worker waits on.
struct Parker {
    woken: Mutex<bool>,
    cv: Condvar,
}

impl Parker {
    fn new() -> Self {
        Parker {
            woken: Mutex::new(false),
            cv: Condvar::new(),
        }
    }

    fn park(&self) {
        let mut woken = lock(&self.woken);
        while !*woken {
            woken = self
                .cv
                .wait(woken)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        *woken = false;
    }

    fn unpark(&self) {
        *lock(&self.woken) = true;
        self.cv.notify_one();
    }
}

#[cfg(not(feature = "loom"))]
thread_local! {
    /// The pool and worker index of this thread, if it is a pool's worker.
    static CURRENT: Cell<Option<(usize, usize)>> = const { Cell::new(None) };
    /// The pool whose task this thread (outside the pool) is polling, if any.
    static OUTSIDE: Cell<usize> = const { Cell::new(0) };
    /// Whether that task has woken or spawned a task of its pool in this poll (only ever
    /// set while `OUTSIDE` names a pool: `Runnable::run` clears it before and after).
    static HANDED: Cell<bool> = const { Cell::new(false) };
}

#[cfg(feature = "loom")]
thread_local! {
    // loom's macro takes no `const` block.
    static CURRENT: Cell<Option<(usize, usize)>> = Cell::new(None);
    static OUTSIDE: Cell<usize> = Cell::new(0);
    static HANDED: Cell<bool> = Cell::new(false);
}

/// Whether the task being polled on this thread runs outside its pool (it was woken by the
/// outside world, [`Pool::run_outside_wakes`]) and has woken or spawned a task of the pool
/// during this poll. Such a task is talking to the pool's tasks from another thread, every
/// wake between them a cross-thread one, for as long as its poll lasts (up to a time slice,
/// if each wait it starts finds its answer already there). It should yield soon (wake
/// itself, return `Pending`): its next poll is on a worker, next to the tasks it talks to.
/// False on the pool's workers and on other threads. One thread-local read.
pub fn handed_tasks_to_the_pool() -> bool {
    HANDED.with(|h| h.get())
}

static POOL_IDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);

impl Pool {
    /// A pool of `workers` workers (at least one). Nothing runs until a thread runs each of
    /// [`Pool::worker`]`(0..workers)`.
    pub fn new(workers: usize) -> Pool {
        let workers = workers.max(1);
        Pool {
            shared: Arc::new(Shared {
                id: POOL_IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                queues: (0..workers).map(|_| Mutex::new(VecDeque::new())).collect(),
                next: (0..workers).map(|_| Mutex::new(None)).collect(),
                next_runs: (0..workers).map(|_| AtomicUsize::new(0)).collect(),
                outside: Mutex::new(VecDeque::new()),
                sleepers: Mutex::new(Vec::with_capacity(workers)),
                asleep: AtomicUsize::new(0),
                parkers: (0..workers).map(|_| Parker::new()).collect(),
                closed: AtomicBool::new(false),
                tasks: Mutex::new(Registry::default()),
                counts: Counts {
                    workers: (0..workers).map(|_| WorkerCounts::default()).collect(),
                    ..Counts::default()
                },
                outside_runner: std::sync::OnceLock::new(),
            }),
        }
    }

    /// How many workers the pool has.
    pub fn workers(&self) -> usize {
        self.shared.queues.len()
    }

    /// What worker `index` runs (its thread calls [`Worker::run`]).
    pub fn worker(&self, index: usize) -> Worker {
        assert!(
            index < self.workers(),
            "worker {index} of {}",
            self.workers()
        );
        Worker {
            shared: self.shared.clone(),
            index,
        }
    }

    /// Run `future` on the pool: on this worker's queue if called from one of its workers,
    /// else as a task woken outside the pool (the outside runner's, or the shared queue).
    pub fn spawn(&self, future: impl Future<Output = ()> + Send + 'static) -> Result<(), Closed> {
        let shared = &self.shared;
        if shared.closed.load(Ordering::Acquire) {
            return Err(Closed);
        }
        let task = {
            let mut reg = lock(&shared.tasks);
            let slot = match reg.free.pop() {
                Some(s) => s,
                None => {
                    reg.slots.push(None);
                    reg.slots.len() - 1
                }
            };
            let task = Arc::new(Task {
                state: AtomicU8::new(QUEUED),
                future: Mutex::new(Some(Box::pin(future))),
                shared: shared.clone(),
                slot,
            });
            reg.slots[slot] = Some(Arc::downgrade(&task));
            task
        };
        bump(&shared.counts.spawned, 1);
        shared.schedule(task);
        Ok(())
    }

    /// Run a task woken on a thread outside the pool (an I/O driver's, a timer's) with
    /// `runner` instead of queuing it: `runner` gets the task, and runs it (for example by
    /// spawning [`Runnable::run`] onto the waking thread's own executor, where it starts at
    /// once and near the data the wake is about) or hands it back to be queued. A task that
    /// yields or is woken while it runs there goes to the pool. Set once; later calls are
    /// ignored.
    pub fn run_outside_wakes(
        &self,
        runner: impl Fn(Runnable) -> Result<(), Runnable> + Send + Sync + 'static,
    ) {
        let _ = self.shared.outside_runner.set(Box::new(runner));
    }

    /// Whether the pool was closed.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// Whether this thread is one of this pool's workers.
    pub fn on_worker(&self) -> bool {
        self.shared.current().is_some()
    }

    /// Stop: no task is spawned or run from now on, and every worker returns from
    /// [`Worker::run`] once its current poll is over. Tasks are not dropped: see
    /// [`Pool::drop_tasks`].
    pub fn close(&self) {
        let shared = &self.shared;
        shared.closed.store(true, Ordering::Release);
        {
            let mut sleepers = lock(&shared.sleepers);
            sleepers.clear();
            shared.asleep.store(0, Ordering::SeqCst);
        }
        for p in shared.parkers.iter() {
            p.unpark();
        }
    }

    /// Drop every task's future, after [`Pool::close`] and once the workers have returned
    /// (their threads joined). A future's drop that wakes another task queues nothing.
    /// Must not be called from a worker thread while it polls.
    pub fn drop_tasks(&self) {
        let shared = &self.shared;
        let queued: Vec<Arc<Task>> = {
            let mut all: Vec<Arc<Task>> = lock(&shared.outside).drain(..).collect();
            for q in shared.queues.iter() {
                all.extend(lock(q).drain(..));
            }
            for n in shared.next.iter() {
                all.extend(lock(n).take());
            }
            all
        };
        drop(queued);
        let alive: Vec<Arc<Task>> = {
            let mut reg = lock(&shared.tasks);
            reg.free.clear();
            reg.slots
                .drain(..)
                .flatten()
                .filter_map(|w| w.upgrade())
                .collect()
        };
        for task in alive {
            task.state.store(DONE, Ordering::Release);
            let future = lock(&task.future).take();
            drop(future);
        }
    }

    /// Counts since the pool was made.
    pub fn stats(&self) -> Stats {
        let c = &self.shared.counts;
        let r = |a: &AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        let sum = |f: fn(&WorkerCounts) -> &AtomicU64| c.workers.iter().map(|w| r(f(w))).sum();
        let polls_by_worker: Vec<u64> = c.workers.iter().map(|w| r(&w.polls)).collect();
        Stats {
            workers: self.workers(),
            spawned: r(&c.spawned),
            polls: polls_by_worker.iter().sum::<u64>() + r(&c.outside_polls),
            polls_by_worker,
            local_wakes: sum(|w| &w.local_wakes),
            outside_wakes: r(&c.outside_wakes),
            stolen: sum(|w| &w.stolen),
            sleeps: sum(|w| &w.sleeps),
            live: self.live(),
        }
    }

    /// Tasks spawned and not yet done.
    pub fn live(&self) -> usize {
        let reg = lock(&self.shared.tasks);
        reg.slots.len() - reg.free.len()
    }
}

impl Worker {
    /// Run tasks until the pool is closed.
    pub fn run(self) {
        let shared = &self.shared;
        let me = self.index;
        CURRENT.with(|c| c.set(Some((shared.id, me))));
        let mut turn: u32 = 0;
        while !shared.closed.load(Ordering::Acquire) {
            if let Some(task) = shared.take_next(me) {
                shared.run(Some(me), task);
                continue;
            }
            turn = turn.wrapping_add(1);
            let next = if turn.is_multiple_of(SHARED_EVERY) {
                shared.pop_outside().or_else(|| shared.pop_local(me))
            } else {
                shared.pop_local(me).or_else(|| shared.pop_outside())
            };
            match next.or_else(|| shared.steal(me)) {
                Some(task) => shared.run(Some(me), task),
                None => shared.sleep(me),
            }
        }
        CURRENT.with(|c| c.set(None));
    }
}

impl Shared {
    fn current(&self) -> Option<usize> {
        CURRENT.with(|c| match c.get() {
            Some((pool, index)) if pool == self.id => Some(index),
            _ => None,
        })
    }

    /// Queue a task that has just become `QUEUED`.
    fn schedule(&self, task: Arc<Task>) {
        if self.closed.load(Ordering::Acquire) {
            return; // dropped: closing drops every task
        }
        match self.current() {
            Some(me) => {
                bump(&self.counts.workers[me].local_wakes, 1);
                self.push_next(me, task);
            }
            None => {
                bump(&self.counts.outside_wakes, 1);
                // A task woken by one of this pool's tasks running outside it goes to the
                // pool: the outside runner is for what the outside world wakes.
                let by_a_task = OUTSIDE.with(|o| o.get()) == self.id;
                if by_a_task {
                    HANDED.with(|h| h.set(true));
                }
                match self.outside_runner.get().filter(|_| !by_a_task) {
                    // Handed back (or dropped unrun), the task queues itself here.
                    Some(runner) => drop(runner(Runnable(Some(task)))),
                    None => self.push_outside(task),
                }
            }
        }
    }

    /// Queue a task on the shared queue and wake a worker for it.
    fn push_outside(&self, task: Arc<Task>) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        lock(&self.outside).push_back(task);
        self.wake_one();
    }

    /// A task woken on worker `me` by the task running there: it runs next, unless the
    /// worker already ran [`NEXT_IN_A_ROW`] tasks that way, then it queues. The task it
    /// displaces from the slot queues.
    fn push_next(&self, me: usize, task: Arc<Task>) {
        if self.next_runs[me].load(Ordering::Relaxed) >= NEXT_IN_A_ROW {
            return self.push_local(me, task);
        }
        let displaced = lock(&self.next[me]).replace(task);
        if let Some(older) = displaced {
            self.push_local(me, older);
        }
    }

    /// Worker `me`'s next task, if one was woken for it and it has not run too many so.
    fn take_next(&self, me: usize) -> Option<Arc<Task>> {
        let task = lock(&self.next[me]).take();
        match &task {
            Some(_) => self.next_runs[me].fetch_add(1, Ordering::Relaxed),
            None => self.next_runs[me].swap(0, Ordering::Relaxed),
        };
        task
    }

    fn push_local(&self, me: usize, task: Arc<Task>) {
        let (len, overflow) = {
            let mut q = lock(&self.queues[me]);
            q.push_back(task);
            let overflow: Option<Vec<Arc<Task>>> =
                (q.len() > LOCAL_CAPACITY).then(|| q.drain(..LOCAL_CAPACITY / 2).collect());
            (q.len(), overflow)
        };
        if let Some(older) = overflow {
            lock(&self.outside).extend(older);
        }
        // One queued task is the next this worker runs; more is work for another.
        if len > 1 {
            self.wake_one();
        }
    }

    fn pop_local(&self, me: usize) -> Option<Arc<Task>> {
        lock(&self.queues[me]).pop_front()
    }

    fn pop_outside(&self) -> Option<Arc<Task>> {
        lock(&self.outside).pop_front()
    }

    /// Half of another worker's queue (oldest first) into this one's; the first to run.
    fn steal(&self, me: usize) -> Option<Arc<Task>> {
        let n = self.queues.len();
        for k in 1..n {
            let victim = (me + k) % n;
            let taken: Vec<Arc<Task>> = {
                let mut q = lock(&self.queues[victim]);
                // One queued task is the next its worker runs (the one a running process
                // just woke): left where it is. It is stolen once a second is queued — at
                // the latest when the running one is preempted.
                let half = q.len() / 2;
                q.drain(..half).collect()
            };
            if taken.is_empty() {
                continue;
            }
            bump(&self.counts.workers[me].stolen, taken.len() as u64);
            let mut taken = taken.into_iter();
            let first = taken.next();
            let rest = {
                let mut own = lock(&self.queues[me]);
                own.extend(taken);
                own.len()
            };
            if rest > 1 {
                self.wake_one();
            }
            return first;
        }
        None
    }

    /// Whether worker `me` would find work: on the shared queue, its own, or enough on
    /// another's to steal.
    fn has_work(&self, me: usize) -> bool {
        !lock(&self.outside).is_empty()
            || self.queues.iter().enumerate().any(|(i, q)| {
                let len = lock(q).len();
                if i == me { len > 0 } else { len >= 2 }
            })
    }

    /// Register as sleeping, look for work once more, and sleep if there is none.
    fn sleep(&self, me: usize) {
        {
            let mut sleepers = lock(&self.sleepers);
            if self.closed.load(Ordering::Acquire) {
                return;
            }
            sleepers.push(me);
            self.asleep.fetch_add(1, Ordering::SeqCst);
        }
        if self.has_work(me) {
            let mut sleepers = lock(&self.sleepers);
            if let Some(at) = sleepers.iter().position(|&w| w == me) {
                sleepers.swap_remove(at);
                self.asleep.fetch_sub(1, Ordering::SeqCst);
            }
            // Otherwise a pusher took this worker off the list and unparked it: the token
            // it left makes the next park return at once.
            return;
        }
        bump(&self.counts.workers[me].sleeps, 1);
        self.parkers[me].park();
    }

    /// Wake one sleeping worker, if any.
    fn wake_one(&self) {
        if self.asleep.load(Ordering::SeqCst) == 0 {
            return;
        }
        let worker = {
            let mut sleepers = lock(&self.sleepers);
            let w = sleepers.pop();
            if w.is_some() {
                self.asleep.fetch_sub(1, Ordering::SeqCst);
            }
            w
        };
        if let Some(w) = worker {
            self.parkers[w].unpark();
        }
    }

    /// Poll `task` (taken from a queue) once, on worker `me` or (`None`) on a thread outside
    /// the pool that was given it ([`Runnable`]).
    fn run(&self, me: Option<usize>, task: Arc<Task>) {
        task.state.store(RUNNING, Ordering::Release);
        match me {
            Some(me) => bump(&self.counts.workers[me].polls, 1),
            None => bump(&self.counts.outside_polls, 1),
        }
        let done = {
            let mut future = lock(&task.future);
            match future.as_mut() {
                None => true,
                Some(f) => {
                    let waker = Waker::from(task.clone());
                    let mut cx = Context::from_waker(&waker);
                    // A panic ends this task only (the runtime's process future catches its
                    // own; this is the last line).
                    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        f.as_mut().poll(&mut cx)
                    })) {
                        Ok(Poll::Pending) => false,
                        Ok(Poll::Ready(())) | Err(_) => true,
                    }
                }
            }
        };
        if done {
            task.finish();
            return;
        }
        if task
            .state
            .compare_exchange(RUNNING, IDLE, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // Woken while it ran (or yielded): to the back of this worker's queue, or from
            // outside the pool to the pool's shared queue.
            task.state.store(QUEUED, Ordering::Release);
            match me {
                _ if self.closed.load(Ordering::Acquire) => {}
                Some(me) => self.push_local(me, task),
                None => self.push_outside(task),
            }
        }
    }
}

impl Task {
    /// The task is over: drop its future and its registry slot.
    fn finish(&self) {
        self.state.store(DONE, Ordering::Release);
        let future = lock(&self.future).take();
        drop(future);
        let mut reg = lock(&self.shared.tasks);
        if let Some(slot) = reg.slots.get_mut(self.slot)
            && slot.take().is_some()
        {
            reg.free.push(self.slot);
        }
    }
}

impl Wake for Task {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            let next = match state {
                IDLE => QUEUED,
                RUNNING => NOTIFIED,
                _ => return, // already queued or notified, or done
            };
            match self
                .state
                .compare_exchange(state, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    if next == QUEUED {
                        self.shared.schedule(self.clone());
                    }
                    return;
                }
                Err(now) => state = now,
            }
        }
    }
}

#[cfg(all(test, not(feature = "loom")))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize as StdCount;
    use std::sync::mpsc;

    fn start(pool: &Pool) -> Vec<std::thread::JoinHandle<()>> {
        (0..pool.workers())
            .map(|i| {
                let w = pool.worker(i);
                std::thread::spawn(move || w.run())
            })
            .collect()
    }

    fn stop(pool: &Pool, threads: Vec<std::thread::JoinHandle<()>>) {
        pool.close();
        for t in threads {
            t.join().unwrap();
        }
        pool.drop_tasks();
    }

    /// A future that is pending `n` times, waking itself each time, then ready.
    struct Yields(usize);
    impl Future for Yields {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 == 0 {
                return Poll::Ready(());
            }
            self.0 -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    #[test]
    fn tasks_run_to_the_end_and_free_their_slots() {
        let pool = Pool::new(2);
        let threads = start(&pool);
        let (tx, rx) = mpsc::channel();
        for i in 0..1000 {
            let tx = tx.clone();
            pool.spawn(async move {
                Yields(i % 7).await;
                tx.send(i).unwrap();
            })
            .unwrap();
        }
        let mut got: Vec<usize> = (0..1000).map(|_| rx.recv().unwrap()).collect();
        got.sort_unstable();
        assert_eq!(got, (0..1000).collect::<Vec<_>>());
        // A task's slot is freed after its completion was sent: wait for the count to drop.
        while pool.live() != 0 {
            std::thread::yield_now();
        }
        stop(&pool, threads);
    }

    #[test]
    fn a_worker_queue_past_its_capacity_spills_to_the_shared_queue_and_loses_nothing() {
        let pool = Pool::new(2);
        let threads = start(&pool);
        let (tx, rx) = mpsc::channel();
        let on = pool.clone();
        let n = 4 * LOCAL_CAPACITY;
        pool.spawn(async move {
            for i in 0..n {
                let tx = tx.clone();
                on.spawn(async move { tx.send(i).unwrap() }).unwrap();
            }
        })
        .unwrap();
        let mut got: Vec<usize> = (0..n).map(|_| rx.recv().unwrap()).collect();
        got.sort_unstable();
        assert_eq!(got, (0..n).collect::<Vec<_>>());
        stop(&pool, threads);
    }

    /// A task spawned or woken from a thread outside the pool runs where the outside runner
    /// puts it (here: at once, on that thread); a yield there sends it to the pool.
    /// A pool of one worker whose outside runner polls a task woken outside it right on the
    /// waking thread; the pool and its worker thread.
    fn one_worker_running_outside_wakes_in_place() -> (Pool, Vec<std::thread::JoinHandle<()>>) {
        let pool = Pool::new(1);
        pool.run_outside_wakes(|task| {
            task.run();
            Ok(())
        });
        let threads = start(&pool);
        (pool, threads)
    }

    #[test]
    fn a_task_woken_outside_runs_with_the_outside_runner() {
        let (pool, threads) = one_worker_running_outside_wakes_in_place();
        let (waker_tx, waker_rx) = mpsc::channel::<Waker>();
        let (seen_tx, seen_rx) = mpsc::channel();
        let mut polls = 0;
        pool.spawn(std::future::poll_fn(move |cx| {
            polls += 1;
            seen_tx.send((polls, std::thread::current().id())).unwrap();
            match polls {
                1 => {
                    waker_tx.send(cx.waker().clone()).unwrap();
                    Poll::Pending
                }
                2 => {
                    cx.waker().wake_by_ref(); // a yield on the outside thread
                    Poll::Pending
                }
                _ => Poll::Ready(()),
            }
        }))
        .unwrap();
        let (_, first) = seen_rx.recv().unwrap();
        waker_rx.recv().unwrap().wake(); // from this thread, outside the pool
        let (_, second) = seen_rx.recv().unwrap();
        let (_, third) = seen_rx.recv().unwrap();
        let here = std::thread::current().id();
        assert_eq!(first, here, "spawned outside: run by the outside runner");
        assert_eq!(second, here, "woken outside: run by the outside runner");
        assert_ne!(third, here, "yielded outside: back on the pool's worker");
        stop(&pool, threads);
    }

    /// A task running outside the pool is told when it has handed a task to the pool in
    /// this poll (so that it can move there), and only then; a worker's task never is.
    #[test]
    fn a_task_running_outside_knows_when_it_handed_a_task_to_the_pool() {
        let (pool, threads) = one_worker_running_outside_wakes_in_place();
        let (seen_tx, seen_rx) = mpsc::channel();
        let inner = pool.clone();
        pool.spawn(async move {
            let before = handed_tasks_to_the_pool();
            let seen = seen_tx.clone();
            inner
                .spawn(async move {
                    seen.send(("on a worker", handed_tasks_to_the_pool()))
                        .unwrap()
                })
                .unwrap();
            seen_tx.send(("before", before)).unwrap();
            seen_tx.send(("after", handed_tasks_to_the_pool())).unwrap();
        })
        .unwrap();
        let mut seen: Vec<_> = (0..3).map(|_| seen_rx.recv().unwrap()).collect();
        seen.sort();
        assert_eq!(
            seen,
            [("after", true), ("before", false), ("on a worker", false)]
        );
        assert!(!handed_tasks_to_the_pool(), "the flag ends with the poll");
        stop(&pool, threads);
    }

    #[test]
    fn a_panicking_task_ends_alone() {
        let pool = Pool::new(1);
        let threads = start(&pool);
        pool.spawn(async { panic!("this task only") }).unwrap();
        let (tx, rx) = mpsc::channel();
        pool.spawn(async move { tx.send(()).unwrap() }).unwrap();
        rx.recv().unwrap();
        stop(&pool, threads);
    }

    /// Two tasks handing a token back and forth through channels woken on the worker: the
    /// second worker is never woken to steal (it stays asleep), and nothing is stolen.
    #[test]
    fn a_ping_pong_stays_on_one_worker() {
        let pool = Pool::new(2);
        let threads = start(&pool);
        let (done_tx, done_rx) = mpsc::channel();
        let (a_tx, mut a_rx) = tokio_like::channel();
        let (b_tx, mut b_rx) = tokio_like::channel();
        let rounds = 10_000;
        let b_side = b_tx.clone();
        let on = pool.clone();
        pool.spawn(async move {
            // The spawner: one task starts both, so both are queued on a worker.
            let echo = async move {
                while let Some(n) = b_rx.recv().await {
                    a_tx.send(n);
                }
            };
            on.spawn(echo).unwrap();
            on.spawn(async move {
                for i in 0..rounds {
                    b_side.send(i);
                    assert_eq!(a_rx.recv().await, Some(i));
                }
                done_tx.send(()).unwrap();
            })
            .unwrap();
        })
        .unwrap();
        let before = pool.stats();
        done_rx.recv().unwrap();
        let after = pool.stats();
        drop(b_tx);
        assert!(
            after.stolen - before.stolen <= 2,
            "a ping-pong moved between workers: {after:?}"
        );
        stop(&pool, threads);
    }

    /// Two tasks that never wait, yielding as a preempted process does: both workers run
    /// them, at the same time.
    #[test]
    fn two_busy_tasks_run_on_two_workers() {
        let pool = Pool::new(2);
        let threads = start(&pool);
        let running = Arc::new(StdCount::new(0));
        let both = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let on = pool.clone();
        // Both spawned from one worker, onto its queue: the other worker must steal one.
        pool.spawn(async move {
            for _ in 0..2 {
                let (running, both, tx) = (running.clone(), both.clone(), tx.clone());
                on.spawn(async move {
                    // Busy until both were seen running at once (each turn is a time slice).
                    while !both.load(Ordering::Acquire) {
                        let n = running.fetch_add(1, Ordering::SeqCst) + 1;
                        if n == 2 {
                            both.store(true, Ordering::Release);
                        }
                        let until =
                            std::time::Instant::now() + std::time::Duration::from_micros(200);
                        while std::time::Instant::now() < until && !both.load(Ordering::Acquire) {
                            std::hint::spin_loop();
                        }
                        running.fetch_sub(1, Ordering::SeqCst);
                        Yields(1).await;
                    }
                    tx.send(()).unwrap();
                })
                .unwrap();
            }
        })
        .unwrap();
        rx.recv().unwrap();
        rx.recv().unwrap();
        assert!(pool.stats().stolen >= 1, "{:?}", pool.stats());
        stop(&pool, threads);
    }

    /// A minimal single-consumer channel whose send wakes the receiver's waker on the
    /// sending thread (as a process's mailbox does).
    mod tokio_like {
        use std::collections::VecDeque;
        use std::sync::{Arc, Mutex};
        use std::task::{Poll, Waker};

        struct Inner<T> {
            items: VecDeque<T>,
            waker: Option<Waker>,
            senders: usize,
        }
        pub struct Tx<T>(Arc<Mutex<Inner<T>>>);
        pub struct Rx<T>(Arc<Mutex<Inner<T>>>);
        pub fn channel<T>() -> (Tx<T>, Rx<T>) {
            let inner = Arc::new(Mutex::new(Inner {
                items: VecDeque::new(),
                waker: None,
                senders: 1,
            }));
            (Tx(inner.clone()), Rx(inner))
        }
        impl<T> Clone for Tx<T> {
            fn clone(&self) -> Self {
                self.0.lock().unwrap().senders += 1;
                Tx(self.0.clone())
            }
        }
        impl<T> Drop for Tx<T> {
            fn drop(&mut self) {
                let w = {
                    let mut i = self.0.lock().unwrap();
                    i.senders -= 1;
                    i.waker.take()
                };
                if let Some(w) = w {
                    w.wake();
                }
            }
        }
        impl<T> Tx<T> {
            pub fn send(&self, t: T) {
                let w = {
                    let mut i = self.0.lock().unwrap();
                    i.items.push_back(t);
                    i.waker.take()
                };
                if let Some(w) = w {
                    w.wake();
                }
            }
        }
        impl<T> Rx<T> {
            pub async fn recv(&mut self) -> Option<T> {
                std::future::poll_fn(|cx| {
                    let mut i = self.0.lock().unwrap();
                    if let Some(t) = i.items.pop_front() {
                        return Poll::Ready(Some(t));
                    }
                    if i.senders == 0 {
                        return Poll::Ready(None);
                    }
                    i.waker = Some(cx.waker().clone());
                    Poll::Pending
                })
                .await
            }
        }
    }
}
