//! # warren — the guest SDK
//!
//! Write an ordinary Rust program, build it with `cargo build --target wasm32-wasip1`, and
//! run it with `warren run app.wasm`. Its `main` is the *root process*. Every process you
//! spawn is a fresh instance of the same module with its own memory: statics are per
//! process, a panic or trap ends only that process, and processes share nothing but the
//! messages they send each other.
//!
//! ```no_run
//! use serde::{Deserialize, Serialize};
//! use warren::{Mailbox, Reply, spawn};
//!
//! #[derive(Serialize, Deserialize)]
//! enum Counter {
//!     Add(u64),
//!     Get(Reply<u64>),
//! }
//!
//! fn main() {
//!     let start = 10u64;
//!     // `start` is captured by value: serialized here, deserialized in the new process.
//!     let counter = spawn!(start; |mailbox: Mailbox<Counter>| {
//!         let mut total = start;
//!         loop {
//!             match mailbox.receive() {
//!                 Counter::Add(n) => total += n,
//!                 Counter::Get(reply) => { reply.send(&total); }
//!             }
//!         }
//!     })
//!     .expect("spawn");
//!     counter.send(&Counter::Add(5));
//!     let total = counter.request(Counter::Get).expect("counter alive");
//!     assert_eq!(total, 15);
//! }
//! ```
//!
//! The host side of every call is described in warren's `docs/abi.md`.

#![warn(missing_docs)]

mod abi;
pub mod bound;
mod entry;
pub mod fs;
mod handle;
pub mod http;
#[cfg(feature = "log")]
pub mod logging;
mod mailbox;
pub mod net;
pub mod node;
mod process;
mod raw;
mod registry;
pub mod select;
pub mod stream;
pub mod supervisor;
pub mod testing;
mod timer;
pub mod upgrade;

pub use handle::{Handle, Readable, Resource, Writable, error as host_error};

pub use bound::SendError;
pub use mailbox::{Mailbox, Reply, RequestError, Signal};
pub use process::{
    Monitor, Pid, Process, SpawnError, SpawnOptions, exit, hibernate, hibernate_watching, spawn,
    spawn_link, spawn_monitor, this, trap_exit,
};
pub use registry::{RegisterError, unregister, whereis};
pub use timer::{Timer, sleep};
#[doc(hidden)]
pub use upgrade::{__decode, __resume};
pub use upgrade::{upgrade, version_changed};
/// Why a process ended, as the host reports it in DOWN messages and exit signals.
pub use warren_abi::ExitReason;

// Re-exported for the macros.
#[doc(hidden)]
pub use serde as __serde;

/// Spawn a closure as a new process, naming what it captures.
///
/// `spawn!(a, b; |mailbox: Mailbox<M>| body)` moves `a` and `b` into the new process (they
/// must be `Serialize + DeserializeOwned`; anything else is a compile error) and runs `body`
/// there with the process's mailbox. `body` may use nothing else from its surroundings: the
/// closure is turned into a plain `fn`, and a closure that captures more does not compile.
/// Without captures: `spawn!(|mailbox: Mailbox<M>| body)`.
///
/// `spawn!(on node; a, b; |mailbox: Mailbox<M>| body)` starts it on another node of the
/// cluster (see [`node::spawn_on`]); so do `spawn_link!` and `spawn_monitor!` with `on`.
#[macro_export]
macro_rules! spawn {
    (on $node:expr ; $($capture:ident),+ ; |$mailbox:ident : $mty:ty| $body:expr) => {
        $crate::node::spawn_on($node, ($($capture,)+), |($($capture,)+), $mailbox: $mty| $body)
    };
    (on $node:expr ; |$mailbox:ident : $mty:ty| $body:expr) => {
        $crate::node::spawn_on($node, (), |(), $mailbox: $mty| $body)
    };
    ($($capture:ident),+ ; |$mailbox:ident : $mty:ty| $body:expr) => {
        $crate::spawn(($($capture,)+), |($($capture,)+), $mailbox: $mty| $body)
    };
    (|$mailbox:ident : $mty:ty| $body:expr) => {
        $crate::spawn((), |(), $mailbox: $mty| $body)
    };
}

/// Hibernate the calling process until its next message, then continue in a closure,
/// naming what it carries over: `hibernate!(state; |mailbox: Mailbox<M>| body)` (see
/// [`hibernate`](fn@crate::hibernate)). Like [`spawn!`], the closure captures nothing else.
#[macro_export]
macro_rules! hibernate {
    ($($capture:ident),+ ; |$mailbox:ident : $mty:ty| $body:expr) => {
        $crate::hibernate(($($capture,)+), |($($capture,)+), $mailbox: $mty| $body)
    };
    (|$mailbox:ident : $mty:ty| $body:expr) => {
        $crate::hibernate((), |(), $mailbox: $mty| $body)
    };
}

/// Like [`spawn!`], but also returns a [`Monitor`] set up before the process runs, so its
/// exit reason (even a panic in its first instruction) is never missed.
#[macro_export]
macro_rules! spawn_monitor {
    (on $node:expr ; $($capture:ident),+ ; |$mailbox:ident : $mty:ty| $body:expr) => {
        $crate::node::spawn_monitor_on($node, ($($capture,)+), |($($capture,)+), $mailbox: $mty| $body)
    };
    (on $node:expr ; |$mailbox:ident : $mty:ty| $body:expr) => {
        $crate::node::spawn_monitor_on($node, (), |(), $mailbox: $mty| $body)
    };
    ($($capture:ident),+ ; |$mailbox:ident : $mty:ty| $body:expr) => {
        $crate::spawn_monitor(($($capture,)+), |($($capture,)+), $mailbox: $mty| $body)
    };
    (|$mailbox:ident : $mty:ty| $body:expr) => {
        $crate::spawn_monitor((), |(), $mailbox: $mty| $body)
    };
}

/// Like [`spawn!`], but link the new process to the caller before it runs
/// (see [`Process::link`]).
#[macro_export]
macro_rules! spawn_link {
    (on $node:expr ; $($capture:ident),+ ; |$mailbox:ident : $mty:ty| $body:expr) => {
        $crate::node::spawn_link_on($node, ($($capture,)+), |($($capture,)+), $mailbox: $mty| $body)
    };
    (on $node:expr ; |$mailbox:ident : $mty:ty| $body:expr) => {
        $crate::node::spawn_link_on($node, (), |(), $mailbox: $mty| $body)
    };
    ($($capture:ident),+ ; |$mailbox:ident : $mty:ty| $body:expr) => {
        $crate::spawn_link(($($capture,)+), |($($capture,)+), $mailbox: $mty| $body)
    };
    (|$mailbox:ident : $mty:ty| $body:expr) => {
        $crate::spawn_link((), |(), $mailbox: $mty| $body)
    };
}
