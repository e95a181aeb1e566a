//! Host pumps: copy a stream into a sink in the host, independent of any process.
//!
//! `copy(stream, sink)` starts a tokio task that owns a reference to both ends, reads into a
//! host buffer and writes it out until the stream ends (then `finish`es the sink: a socket's
//! sending side is shut down, a pipe's writer closed) or fails. It returns an [`IoFuture`]
//! that resolves with the number of bytes copied. The process that started it may exit at
//! once; the bytes keep flowing. [`Pumps`] tracks the live pumps so a runtime shutdown can
//! stop them (and so drop the sockets and files they hold).
//!
//! What keeps a pump from hurting anyone else:
//! - it yields to the scheduler through tokio's cooperative budget, so a source and a sink
//!   that are always ready (pipes, regular files) cannot pin a worker thread;
//! - a copy whose sink is its own source (the same pipe, the same file on disk) is refused:
//!   it would never end, and a file would grow until the disk is full;
//! - pumps are bounded per process ([`PumpCharge`], charged to the process that started them
//!   while they run, even after it exits) and per runtime;
//! - [`IoFuture::cancel`] on a pump's future stops it, as does [`Pumps::abort_all`].

use super::future::IoFuture;
use super::{IoFailure, ReadSource, WriteSink};
use crate::sync::Locked;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::task::AbortHandle;
use warren_abi::{ERR_BAD_ARGUMENT, ERR_LIMIT};

/// Size of a pump's buffer.
pub(crate) const PUMP_BUFFER: usize = 64 * 1024;
/// Default for the most pumps running at once in one runtime.
pub const DEFAULT_MAX_PUMPS: usize = 16 * 1024;
/// Default for the most pumps one process may have started that still run.
pub const DEFAULT_MAX_PUMPS_PER_PROCESS: usize = 256;

/// The live pumps of one runtime.
#[derive(Debug)]
pub(crate) struct Pumps {
    next: AtomicU64,
    live: Mutex<HashMap<u64, AbortHandle>>,
    max: usize,
    /// Set by [`Pumps::close`]: no copy may start.
    closed: std::sync::atomic::AtomicBool,
}

impl Default for Pumps {
    fn default() -> Self {
        Pumps::new(DEFAULT_MAX_PUMPS)
    }
}

/// The pumps one process started, counted against its limit while they run (they may
/// outlive the process: each holds a share of the count). The counter is made on the first
/// copy, so a process that never copies costs nothing.
#[derive(Debug, Clone)]
pub(crate) struct PumpCharge {
    running: Option<Arc<AtomicUsize>>,
    max: usize,
}

impl PumpCharge {
    /// A process's account: at most `max` of its pumps run at once.
    pub(crate) fn new(max: usize) -> Self {
        PumpCharge { running: None, max }
    }

    #[cfg(test)]
    /// How many of this process's pumps are running.
    pub(crate) fn running(&self) -> usize {
        self.running
            .as_ref()
            .map_or(0, |r| r.load(Ordering::Acquire))
    }

    /// Take one unit if under the limit; the guard gives it back when dropped.
    fn take(&mut self) -> Option<ChargeGuard> {
        let max = self.max;
        let running = self
            .running
            .get_or_insert_with(|| Arc::new(AtomicUsize::new(0)));
        running
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| ChargeGuard(running.clone()))
    }
}

impl Default for PumpCharge {
    fn default() -> Self {
        PumpCharge::new(DEFAULT_MAX_PUMPS_PER_PROCESS)
    }
}

/// One process's access to the runtime's pumps: the copies it starts are charged to it.
#[derive(Debug, Clone)]
pub(crate) struct Copies {
    pumps: Arc<Pumps>,
    charge: PumpCharge,
}

impl Copies {
    /// Copies on `pumps`, at most `max` of them running at once for this process.
    pub(crate) fn new(pumps: Arc<Pumps>, max: usize) -> Self {
        Copies {
            pumps,
            charge: PumpCharge::new(max),
        }
    }

    /// Start a copy on the current tokio runtime (see [`Pumps::copy`]).
    pub(crate) fn start(
        &mut self,
        from: Arc<dyn ReadSource>,
        to: Arc<dyn WriteSink>,
        what: String,
    ) -> Result<Arc<IoFuture>, IoFailure> {
        let handle = tokio::runtime::Handle::current();
        self.pumps.copy(&handle, &mut self.charge, from, to, what)
    }
}

struct ChargeGuard(Arc<AtomicUsize>);

/// Gives a pump's unit back when dropped (by the pump's end or by its cancellation).
struct Release(Arc<Mutex<Option<ChargeGuard>>>);

impl Drop for Release {
    fn drop(&mut self) {
        self.0.locked().take();
    }
}

impl Drop for ChargeGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Pumps {
    /// Pumps for a runtime that runs at most `max` at once.
    pub(crate) fn new(max: usize) -> Self {
        Pumps {
            next: AtomicU64::new(0),
            live: Mutex::new(HashMap::new()),
            max,
            closed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Copy `from` into `to` until `from` ends; returns the future of the outcome. Refused
    /// (`ERR_BAD_ARGUMENT`) if `to` writes into what `from` reads, and (`ERR_LIMIT`) if the
    /// process (`charge`) or the runtime runs as many pumps as it may.
    pub(crate) fn copy(
        self: &Arc<Self>,
        handle: &tokio::runtime::Handle,
        charge: &mut PumpCharge,
        from: Arc<dyn ReadSource>,
        to: Arc<dyn WriteSink>,
        what: String,
    ) -> Result<Arc<IoFuture>, IoFailure> {
        if let Some(b) = from.backing()
            && to.backing() == Some(b)
        {
            return Err(IoFailure::new(
                ERR_BAD_ARGUMENT,
                format!("{what}: the destination is the source itself; the copy would never end"),
            ));
        }
        // Hold the lock across spawn so the task cannot finish and deregister before it is
        // registered.
        let mut live = self.lock();
        if self.closed.load(Ordering::Acquire) {
            return Err(IoFailure::new(
                warren_abi::ERR_CLOSED,
                format!("{what}: the runtime is shutting down"),
            ));
        }
        if live.len() >= self.max {
            return Err(IoFailure::new(
                ERR_LIMIT,
                format!(
                    "{what}: the runtime runs {} host copies, the most it may",
                    self.max
                ),
            ));
        }
        let Some(guard) = charge.take() else {
            return Err(IoFailure::new(
                ERR_LIMIT,
                format!(
                    "{what}: this process has {} host copies running, the most it may",
                    charge.max
                ),
            ));
        };
        let done = Arc::new(IoFuture::new());
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let pumps = Arc::downgrade(self);
        let result = done.clone();
        // The process's unit goes back when the pump ends or is cancelled, whichever comes
        // first (an aborted task is only dropped later, on its worker).
        let guard = Arc::new(Mutex::new(Some(guard)));
        let task_guard = guard.clone();
        let task = handle.spawn(async move {
            let _release = Release(task_guard);
            let outcome = pump(&*from, &*to)
                .await
                .map_err(|(n, e)| IoFailure::io(format!("{what} (after {n} bytes)"), &e));
            // Release both ends before announcing the outcome: whoever waits may rely on
            // the sink being closed.
            drop(from);
            drop(to);
            result.resolve(outcome);
            if let Some(p) = pumps.upgrade() {
                p.lock().remove(&id);
            }
        });
        live.insert(id, task.abort_handle());
        drop(live);
        let pumps = Arc::downgrade(self);
        done.on_cancel(Box::new(move || {
            drop(Release(guard));
            if let Some(p) = pumps.upgrade()
                && let Some(task) = p.lock().remove(&id)
            {
                task.abort();
            }
        }));
        Ok(done)
    }

    /// Pumps still running.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Stop every pump (runtime shutdown); their sockets and files are dropped.
    pub(crate) fn abort_all(&self) {
        for (_, task) in self.lock().drain() {
            task.abort();
        }
    }

    /// Start no more pumps, and stop every running one (runtime shutdown).
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.abort_all();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, AbortHandle>> {
        self.live.locked()
    }
}

async fn pump(from: &dyn ReadSource, to: &dyn WriteSink) -> Result<u64, (u64, std::io::Error)> {
    let mut buf = vec![0u8; PUMP_BUFFER];
    let mut total = 0u64;
    loop {
        // Sources and sinks that never wait (pipes with data, regular files) would otherwise
        // keep this task on its worker forever: spend the task's cooperative budget, which
        // yields to the scheduler when it runs out.
        tokio::task::coop::consume_budget().await;
        let n = super::read(from, &mut buf).await.map_err(|e| (total, e))?;
        if n == 0 {
            to.finish().map_err(|e| (total, e))?;
            return Ok(total);
        }
        super::write_all(to, &buf[..n])
            .await
            .map_err(|e| (total, e))?;
        total += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::pipe::pipe;
    use crate::io::{ByteStream, WriteSink};

    #[tokio::test]
    async fn a_pipe_into_itself_is_refused_and_limits_hold() {
        let pumps = Arc::new(Pumps::new(2));
        let handle = tokio::runtime::Handle::current();
        let mut charge = PumpCharge::new(1);
        let (w, r) = pipe();
        let w: Arc<dyn WriteSink> = Arc::new(w);
        let (stream, _end) = ByteStream::new(r, "a pipe");
        let stream: Arc<dyn ReadSource> = Arc::new(stream);
        let e = pumps
            .copy(
                &handle,
                &mut charge,
                stream.clone(),
                w.clone(),
                "loop".into(),
            )
            .unwrap_err();
        assert_eq!(e.code, ERR_BAD_ARGUMENT);

        let (w2, r2) = pipe();
        let (s2, _e2) = ByteStream::new(r2, "b");
        let f = pumps
            .copy(&handle, &mut charge, Arc::new(s2), w.clone(), "one".into())
            .unwrap();
        let (_w3, r3) = pipe();
        let (s3, _e3) = ByteStream::new(r3, "c");
        let e = pumps
            .copy(&handle, &mut charge, Arc::new(s3), w.clone(), "two".into())
            .unwrap_err();
        assert_eq!(e.code, ERR_LIMIT);
        assert_eq!(charge.running(), 1);
        // Cancelling stops the pump and gives the unit back.
        f.cancel();
        assert!(f.poll().is_some_and(|o| o.is_err()));
        tokio::task::yield_now().await;
        assert_eq!(pumps.len(), 0);
        drop(w2);
        for _ in 0..100 {
            if charge.running() == 0 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(charge.running(), 0);
    }
}
