//! Versions of the program: the modules processes' instances are made from (hot code
//! upgrade, docs/upgrade.md).
//!
//! A runtime holds at most two versions, as Erlang does: *current*, which new processes run,
//! and *old*, which processes started before the last load still run. Versions are numbered
//! from 1 (the module the runtime was built with) upwards. A process runs one version for as
//! long as its instance lives, and keeps it across a hibernation; its [`ProcessRef`] says
//! which (for the purge and the observer).
//!
//! Which version a start runs: the root and host-started processes run current; a spawn of a
//! closure runs its spawner's version (its function-table indices name functions of that
//! build); an HTTP handler runs the version its server was started on; a remote spawn runs
//! the version whose hash it names.
//!
//! Loading a version makes it current and the previous current old. A load that would make
//! a third version **purges** the old one: it is marked purged and then every process that
//! runs it is ended with `upgrade: version N was purged`. A process is never left on a purged
//! version, without a lock on the start path: a start first records its version in its
//! `ProcessRef`, then looks at the version's purged flag ([`Version::enter`]); the purge sets
//! the flag, then scans the table. Both sides are sequentially consistent, so either the
//! start sees the flag (and ends) or the scan sees the process (and ends it).

use crate::actor::{ExitReason, ProcessRef};
use crate::process::{ModuleExports, StoreData};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use wasmtime::InstancePre;

/// One compiled version of the program, ready to instantiate.
///
/// Laid out in declaration order: what every start touches (the count of its processes, the
/// purged flag) shares a cache line with the `Arc`'s reference count, which a start also
/// changes.
#[repr(C)]
pub(crate) struct Version<T: StoreData> {
    /// How many processes run it (the observer reads it without walking the table).
    processes: AtomicUsize,
    /// A newer load purged it: no process may start on it any more.
    purged: AtomicBool,
    /// Its number: 1 for the module the runtime was built with, then one more per load.
    pub(crate) number: u32,
    /// The module, linked against the runtime's host modules once.
    pub(crate) pre: InstancePre<T>,
    /// SHA-256 of the module's bytes (a remote spawn names the version it needs by it).
    pub(crate) hash: [u8; 32],
    /// Its entry points and memory, looked up by name once.
    pub(crate) exports: ModuleExports,
}

impl<T: StoreData> Version<T> {
    /// Version `number` of the program: `pre`'s module, whose bytes hash to `hash`.
    pub(crate) fn new(number: u32, pre: InstancePre<T>, hash: [u8; 32]) -> Self {
        let exports = ModuleExports::of(pre.module());
        Version {
            number,
            pre,
            hash,
            exports,
            purged: AtomicBool::new(false),
            processes: AtomicUsize::new(0),
        }
    }

    /// The module.
    pub(crate) fn module(&self) -> &wasmtime::Module {
        self.pre.module()
    }

    /// How many processes run it now.
    pub(crate) fn processes(&self) -> usize {
        self.processes.load(Ordering::Relaxed)
    }

    /// Why a process on this version ends when it is purged.
    pub(crate) fn purged_reason(&self) -> ExitReason {
        ExitReason::Upgrade(format!("version {} was purged", self.number))
    }
}

/// A process's hold on the version it runs: counted on it until dropped (when the process
/// ends, or moves to another version).
pub(crate) struct Running<T: StoreData>(Arc<Version<T>>);

impl<T: StoreData> Running<T> {
    /// Record that `me` runs `version`, then make sure it still may: the reason to end with
    /// if a load purged it meanwhile (see the module docs for why this order).
    pub(crate) fn enter(version: Arc<Version<T>>, me: &ProcessRef) -> Result<Self, ExitReason> {
        me.set_version(version.number);
        if version.purged.load(Ordering::SeqCst) {
            return Err(version.purged_reason());
        }
        version.processes.fetch_add(1, Ordering::Relaxed);
        Ok(Running(version))
    }

    /// The version.
    pub(crate) fn version(&self) -> &Version<T> {
        &self.0
    }
}

impl<T: StoreData> Drop for Running<T> {
    fn drop(&mut self) {
        self.0.processes.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The versions a runtime holds: current and, after a load, old.
pub(crate) struct Versions<T: StoreData> {
    held: RwLock<Held<T>>,
    /// Set while a version loads: one load at a time.
    loading: AtomicBool,
}

struct Held<T: StoreData> {
    current: Arc<Version<T>>,
    old: Option<Arc<Version<T>>>,
}

/// A load in progress (see [`Versions::begin_load`]); the next may start when it is dropped.
/// A flag, not a mutex guard: a load awaits its compilation and its probe while holding it.
pub(crate) struct Loading<'a>(&'a AtomicBool);

impl Drop for Loading<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// What making a version current did to the one before.
pub(crate) enum Installed<T: StoreData> {
    /// The new version is current, the previous current is old; nothing was purged.
    Kept,
    /// The new version is current, the previous current is old, and the old one before it
    /// was purged (marked: its processes are for the caller to end).
    Purged(Arc<Version<T>>),
}

impl<T: StoreData> Versions<T> {
    /// The versions of a runtime built with `first`.
    pub(crate) fn new(first: Version<T>) -> Self {
        Versions {
            held: RwLock::new(Held {
                current: Arc::new(first),
                old: None,
            }),
            loading: AtomicBool::new(false),
        }
    }

    fn held(&self) -> std::sync::RwLockReadGuard<'_, Held<T>> {
        // Never poisoned: nothing panics while holding it (moves of `Arc`s only).
        self.held.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The version new processes run.
    pub(crate) fn current(&self) -> Arc<Version<T>> {
        self.held().current.clone()
    }

    /// The held version numbered `number`, if it is held.
    pub(crate) fn get(&self, number: u32) -> Option<Arc<Version<T>>> {
        let held = self.held();
        if held.current.number == number {
            return Some(held.current.clone());
        }
        held.old.as_ref().filter(|v| v.number == number).cloned()
    }

    /// The held version whose module hashes to `hash`, if one is.
    pub(crate) fn by_hash(&self, hash: &[u8; 32]) -> Option<Arc<Version<T>>> {
        let held = self.held();
        if &held.current.hash == hash {
            return Some(held.current.clone());
        }
        held.old.as_ref().filter(|v| &v.hash == hash).cloned()
    }

    /// Current and old, in that order.
    pub(crate) fn both(&self) -> (Arc<Version<T>>, Option<Arc<Version<T>>>) {
        let held = self.held();
        (held.current.clone(), held.old.clone())
    }

    /// Start a load, unless one is in progress.
    pub(crate) fn begin_load(&self) -> Option<Loading<'_>> {
        let taken =
            self.loading
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed);
        taken.is_ok().then_some(Loading(&self.loading))
    }

    /// The number the next loaded version gets.
    pub(crate) fn next_number(&self, _loading: &Loading<'_>) -> u32 {
        let held = self.held();
        let top = held.old.as_ref().map_or(0, |v| v.number);
        held.current.number.max(top) + 1
    }

    /// Make `version` current. The previous current becomes old; the old one before it, if
    /// any, is purged: marked here, so that no process starts on it any more.
    pub(crate) fn install(&self, version: Arc<Version<T>>, _loading: &Loading<'_>) -> Installed<T> {
        let mut held = self.held.write().unwrap_or_else(|e| e.into_inner());
        let previous = std::mem::replace(&mut held.current, version);
        let purged = held.old.replace(previous);
        drop(held);
        match purged {
            None => Installed::Kept,
            Some(v) => {
                v.purged.store(true, Ordering::SeqCst);
                Installed::Purged(v)
            }
        }
    }

    /// Make the old version current again, and the current one old (a load of the module
    /// the old version was made from: nothing is compiled, nothing purged). False if there
    /// is no old version.
    pub(crate) fn swap(&self, _loading: &Loading<'_>) -> bool {
        let mut held = self.held.write().unwrap_or_else(|e| e.into_inner());
        let Some(old) = held.old.take() else {
            return false;
        };
        let previous = std::mem::replace(&mut held.current, old);
        held.old = Some(previous);
        true
    }
}
