//! The live processes of a table, by pid, in shards: a spawn, an exit and a lookup lock only
//! the shard of their pid, so they do not wait on one another (nor on an observer page
//! walking the table, which takes one shard at a time). The count of live processes is an
//! atomic, reserved before a process is entered, so the process limit holds without a
//! global lock.

use super::Pid;
use super::table::ProcessRef;
use crate::sync::Locked;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// How many shards: a power of two, well above the number of workers (pids are given out
/// in order, so consecutive pids land in consecutive shards).
const SHARDS: usize = 64;

type Shard = HashMap<Pid, Arc<ProcessRef>>;

/// The live processes (see the module docs).
#[derive(Debug)]
pub(crate) struct Procs {
    shards: Box<[Mutex<Shard>]>,
    /// Live processes, plus those being entered (reserved by [`Procs::reserve`]).
    count: AtomicUsize,
}

impl Default for Procs {
    fn default() -> Self {
        Procs {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            count: AtomicUsize::new(0),
        }
    }
}

impl Procs {
    fn shard(&self, pid: Pid) -> std::sync::MutexGuard<'_, Shard> {
        self.shards[pid as usize % SHARDS].locked()
    }

    /// Reserve room for one more process under `limit`; `false` if there is none. A
    /// reservation is used by [`Procs::enter`] or given back by [`Procs::unreserve`].
    pub(crate) fn reserve(&self, limit: usize) -> bool {
        // A compare-and-swap, not an add taken back: a refused attempt never shows a count
        // over the limit that would refuse another spawn for a moment.
        self.count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .is_ok()
    }

    /// Give back a reservation that was not used.
    pub(crate) fn unreserve(&self) {
        self.count.fetch_sub(1, Ordering::AcqRel);
    }

    /// Enter `p` (on a reservation), unless `admit` — asked under its shard's lock — refuses;
    /// then the reservation is given back and `admit`'s error returned.
    pub(crate) fn enter<E>(
        &self,
        p: &Arc<ProcessRef>,
        admit: impl FnOnce() -> Result<(), E>,
    ) -> Result<(), E> {
        let mut shard = self.shard(p.pid());
        if let Err(e) = admit() {
            drop(shard);
            self.unreserve();
            return Err(e);
        }
        shard.insert(p.pid(), p.clone());
        Ok(())
    }

    pub(crate) fn get(&self, pid: Pid) -> Option<Arc<ProcessRef>> {
        self.shard(pid).get(&pid).cloned()
    }

    /// Remove `pid`; the process, if it was live.
    pub(crate) fn remove(&self, pid: Pid) -> Option<Arc<ProcessRef>> {
        let removed = self.shard(pid).remove(&pid);
        if removed.is_some() {
            self.count.fetch_sub(1, Ordering::AcqRel);
        }
        removed
    }

    /// Live processes (counting those being entered).
    pub(crate) fn len(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// Every live process: a snapshot, taken one shard at a time.
    pub(crate) fn all(&self) -> Vec<Arc<ProcessRef>> {
        let mut all = Vec::with_capacity(self.len());
        for shard in self.shards.iter() {
            all.extend(shard.locked().values().cloned());
        }
        all
    }

    /// Every live pid, as [`Procs::all`].
    pub(crate) fn pids(&self) -> Vec<Pid> {
        let mut pids = Vec::with_capacity(self.len());
        for shard in self.shards.iter() {
            pids.extend(shard.locked().keys().copied());
        }
        pids
    }
}
