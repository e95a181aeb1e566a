//! A kill switch: the flag a process is killed by, and the waker of the task that runs it.
//!
//! The task running a process polls its current work (a wasm call, an instantiation, a wait
//! for a slot) and, between polls, must notice a kill from any other thread. The protocol:
//!
//! 1. the killer sets the flag, then takes the registered waker (under the lock) and wakes it;
//! 2. the task checks the flag; if clear, registers its waker (under the lock), then checks
//!    the flag again.
//!
//! Whatever the interleaving, either the task's second check sees the flag, or the killer
//! took the waker the task registered before it: a kill is never missed
//! (`tests/loom.rs`, `a_kill_always_wakes_the_task`). The task registers again only when its
//! waker changes, so the hot path is one atomic load per poll.

use crate::prim::{AtomicBool, Mutex, Ordering, lock};
use std::task::{Context, Poll, Waker};

/// A flag set once, and the one task to wake when it is.
#[derive(Debug)]
pub struct KillSwitch {
    set: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Default for KillSwitch {
    fn default() -> Self {
        Self::new()
    }
}

impl KillSwitch {
    /// A switch not yet set.
    pub fn new() -> Self {
        KillSwitch {
            set: AtomicBool::new(false),
            waker: Mutex::new(None),
        }
    }

    /// Whether the switch is set.
    #[inline]
    pub fn is_set(&self) -> bool {
        self.set.load(Ordering::Acquire)
    }

    /// Set the switch and wake the registered task, if any (outside the lock).
    pub fn set(&self) {
        self.set.store(true, Ordering::Release);
        let waker = lock(&self.waker).take();
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Ready once the switch is set; otherwise make sure the task of `cx` is woken when it
    /// is. `registered` is the caller's memory of the waker it last registered: the lock is
    /// taken only when the task's waker changed.
    pub fn poll_set(&self, cx: &mut Context<'_>, registered: &mut Option<Waker>) -> Poll<()> {
        if self.is_set() {
            return Poll::Ready(());
        }
        if !registered.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            {
                let mut slot = lock(&self.waker);
                if !slot.as_ref().is_some_and(|old| old.will_wake(cx.waker())) {
                    *slot = Some(cx.waker().clone());
                }
            }
            *registered = Some(cx.waker().clone());
            // A kill between the first check and the registration took no waker (or the
            // previous one): look again.
            if self.is_set() {
                return Poll::Ready(());
            }
        }
        Poll::Pending
    }
}
