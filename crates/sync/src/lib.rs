//! The runtime's small concurrent parts, written once over std or [loom]'s primitives.
//!
//! A process's mailbox is pushed to by any worker thread while its owner waits in it, and a
//! process is killed from any thread while its task runs or sleeps: in both, a wake-up lost
//! between "nothing for me" and "wake me" would leave a process asleep for good. The code
//! that makes those promises lives here, small and free of the runtime's other types, so
//! that loom can run it under every interleaving of its threads (`tests/loom.rs`):
//!
//! - [`mailbox::Queue`]: an ordered queue with selective receive, a byte limit, closing, and
//!   any number of waiting tasks; the runtime's mailbox is this queue of its messages;
//! - [`kill::KillSwitch`]: a flag set once, and the waker of the task to tell;
//! - [`sched::Pool`]: the worker threads that run processes, a run queue each, with a
//!   task's wake, poll and sleep protocol.
//!
//! With the `loom` feature the same code is built on `loom::sync`; without it, on `std::sync`
//! (what the runtime uses). Run the models with
//! `cargo test -p warren-sync --features loom --release --test loom`.
//!
//! [loom]: https://docs.rs/loom

pub mod kill;
pub mod mailbox;
pub mod sched;

/// The primitives: std's, or loom's under the `loom` feature.
mod prim {
    #[cfg(feature = "loom")]
    pub(crate) use loom::{
        sync::{
            Condvar, Mutex, MutexGuard,
            atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering},
        },
        thread_local,
    };
    #[cfg(not(feature = "loom"))]
    pub(crate) use std::{
        sync::{
            Condvar, Mutex, MutexGuard,
            atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering},
        },
        thread_local,
    };

    /// Take a lock whether or not a panic poisoned it: a host function that panics ends only
    /// its process, and the data behind the lock is consistent at every point where the code
    /// holding it could panic (see the runtime's `sync` module).
    pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
        m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
