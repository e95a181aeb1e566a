//! Where processes run: warren's own scheduler, or tokio's.
//!
//! By default ([`Scheduler::Warren`]) each process is a task of a [`warren_sync::sched::Pool`]
//! — worker threads (`warren-sched-N`, one per core unless told otherwise) with a run queue
//! each, BEAM's way: a process woken by a message runs on the worker of the process that sent
//! it, so two processes talking to each other stay on one core and their messages never cross
//! between caches; an idle worker steals whole processes from a busy one. The model is
//! described, and its wake-ups checked by loom, in `warren_sync::sched`.
//!
//! tokio stays for everything else: sockets, timers, HTTP, the cluster's bus. Each worker
//! thread enters the runtime's tokio handle, so a process's host calls register their
//! sockets and timers with tokio's drivers as before. A process woken by one of them (on a
//! tokio thread) is run right there, once, as a tokio task: it starts at once, on the core
//! that has the event's data, and the wake costs no thread wake-up. A process it wakes or
//! spawns there goes to the pool's workers, and so does the process itself: at its next
//! epoch check after such a wake (`host::call`'s `to_the_pool`), or when it is preempted.
//! Otherwise the two would talk across threads for as long as its poll lasted.
//!
//! [`Scheduler::Tokio`] runs each process as a tokio task instead, as warren did before
//! (docs/benchmarks.md compares the two).
//!
//! The pool owns its tasks the way tokio owns its: when the tokio runtime the processes'
//! I/O runs on shuts down (a task here notices, by being dropped), or when the warren
//! runtime itself is dropped, the workers stop and every process still alive is dropped —
//! a process waiting for a message is kept alive only by a cycle through its own mailbox,
//! which nothing else would break.

use crate::sync::Locked;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use warren_sync::sched::Pool;

pub use warren_sync::sched::Stats as SchedulerStats;

/// Which scheduler runs the processes (see [`RuntimeConfig::scheduler`](crate::RuntimeConfig::scheduler)).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scheduler {
    /// warren's own: a run queue per worker thread, a process runs where it was woken.
    #[default]
    Warren,
    /// tokio's: each process a task of the tokio runtime the warren runtime was built on.
    Tokio,
}

impl std::str::FromStr for Scheduler {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "warren" => Ok(Scheduler::Warren),
            "tokio" => Ok(Scheduler::Tokio),
            other => Err(format!(
                "unknown scheduler {other:?} (expected \"warren\" or \"tokio\")"
            )),
        }
    }
}

/// What the runtime spawns processes on.
pub(crate) enum Runner {
    Tokio(tokio::runtime::Handle),
    Pool {
        threads: Arc<Threads>,
        /// Dropped with the runtime: ends the watch task, which stops the pool.
        _stop: tokio::sync::oneshot::Sender<()>,
    },
}

/// The pool and its worker threads.
pub(crate) struct Threads {
    pool: Pool,
    joins: Mutex<Vec<JoinHandle<()>>>,
}

impl Runner {
    /// A runner of kind `kind` with `workers` worker threads (`None`: one per core), whose
    /// threads enter `handle` for I/O and timers.
    pub(crate) fn new(
        kind: Scheduler,
        workers: Option<usize>,
        handle: &tokio::runtime::Handle,
    ) -> std::io::Result<Runner> {
        if kind == Scheduler::Tokio {
            return Ok(Runner::Tokio(handle.clone()));
        }
        let n = workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1);
        let pool = Pool::new(n);
        // A process woken by I/O or a timer runs on the tokio thread that woke it: it starts
        // at once (tokio runs a task spawned from its worker next, on that worker), where
        // the event's data is, instead of after a wake-up of a sleeping worker here. If it
        // yields there (preempted) it moves to the pool's workers.
        pool.run_outside_wakes(|task| match tokio::runtime::Handle::try_current() {
            Ok(tokio) => {
                tokio.spawn(async move { task.run() });
                Ok(())
            }
            Err(_) => Err(task),
        });
        let mut joins = Vec::with_capacity(n);
        for i in 0..n {
            let worker = pool.worker(i);
            let handle = handle.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("warren-sched-{i}"))
                .spawn(move || {
                    let _tokio = handle.enter();
                    worker.run();
                });
            match spawned {
                Ok(j) => joins.push(j),
                Err(e) => {
                    pool.close();
                    for j in joins {
                        let _ = j.join();
                    }
                    return Err(e);
                }
            }
        }
        let threads = Arc::new(Threads {
            pool,
            joins: Mutex::new(joins),
        });
        // When tokio shuts down, its tasks are dropped: this one stops the pool then, so
        // that no process outlives the I/O it runs on. It also ends when the runtime is
        // dropped (`_stop`).
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let watch = StopOnDrop(threads.clone());
        handle.spawn(async move {
            let _watch = watch;
            let _ = stopped.await;
        });
        Ok(Runner::Pool {
            threads,
            _stop: stop,
        })
    }

    /// Run a process's future.
    pub(crate) fn spawn(
        &self,
        future: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), warren_sync::sched::Closed> {
        match self {
            Runner::Tokio(h) => {
                h.spawn(future);
                Ok(())
            }
            Runner::Pool { threads, .. } => threads.pool.spawn(future),
        }
    }

    /// Whether a spawn would be refused.
    pub(crate) fn is_closed(&self) -> bool {
        match self {
            Runner::Tokio(_) => false,
            Runner::Pool { threads, .. } => threads.pool.is_closed(),
        }
    }

    /// warren's pool (`None` on tokio's scheduler).
    pub(crate) fn pool(&self) -> Option<Pool> {
        match self {
            Runner::Tokio(_) => None,
            Runner::Pool { threads, .. } => Some(threads.pool.clone()),
        }
    }

    /// The pool's counts (`None` on tokio's scheduler).
    pub(crate) fn stats(&self) -> Option<SchedulerStats> {
        match self {
            Runner::Tokio(_) => None,
            Runner::Pool { threads, .. } => Some(threads.pool.stats()),
        }
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        if let Runner::Pool { threads, .. } = self {
            threads.stop();
        }
    }
}

impl Threads {
    /// Stop the workers; if this is not one of them, wait for them and drop every process
    /// left. (On a worker — the runtime dropped by its last process — the workers are only
    /// told: the watch task, ended by the same drop, finishes the job on a tokio thread.)
    fn stop(&self) {
        self.pool.close();
        if self.pool.on_worker() {
            return;
        }
        let joins = std::mem::take(&mut *self.joins.locked());
        for j in joins {
            let _ = j.join();
        }
        self.pool.drop_tasks();
    }
}

struct StopOnDrop(Arc<Threads>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}
