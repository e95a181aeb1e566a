//! warren's host runtime: Erlang-style processes, each its own wasm instance.
//!
//! The model: a guest module (a `wasm32-wasip1` program) runs as many *processes*. Each is a
//! fresh instance of the module in its own wasmtime `Store`, with its own linear memory,
//! mailbox and WASI context, running as a task of warren's scheduler (a run queue per worker
//! thread, as in BEAM; see [`Scheduler`]). Processes share nothing; they talk by
//! messages. A trap, panic or memory limit ends only the process it happens in.
//!
//! Layers, bottom up (a module uses only its own layer and those below; `tests/layers.rs`
//! checks it, and `ARCHITECTURE.md` gives the rules of each):
//! - `sync`, `resources`, `sched`: the one way to take a lock, per-process handle tables
//!   over reference-counted host objects (std only), and the scheduler processes run on
//!   (warren's pool of workers, or tokio's).
//! - `actor`: pids, mailboxes, the process table, monitors, timers, quotas — no wasm.
//! - `io`: the objects behind I/O handles (sockets, files, pipes, streams, futures, pumps),
//!   the interfaces they declare, and the policies that bound them.
//! - `cluster`: the cluster — a pure core of membership, liveness and streams, and around it
//!   NATS, ordered signal streams between nodes, remote spawns, global names — over the
//!   actor layer, knowing nothing of wasm.
//! - `engine`: wasmtime configuration (pooling, copy-on-write, epochs) and module loading.
//! - `config`: how a runtime is set up ([`RuntimeConfig`]) and its defaults.
//! - `context`: the per-process actor state the host modules and the runner share.
//! - `host`: the host modules guests import (`warren:process`, `warren:message`,
//!   `warren:net`, `warren:fs`, `warren:stream`, ...), each a view with its calls and an
//!   `add_to_linker`, written with one kit (`host::call`).
//! - `process`, `version`: how one process runs and how its end becomes an [`ExitReason`];
//!   the versions of the program (modules) its instances are made from: current and old,
//!   which start runs which, and the purge (hot code upgrade).
//! - `observe`: the observer — a web page, JSON, server-sent events and `/metrics` over the
//!   actor layer's counters, on a listener of its own.
//! - `runtime`, `shutdown`, `upgrade`, `builder`, `host_mailbox`, [`embed`], `error`: the
//!   embedding API — the [`Runtime`] made by a [`RuntimeBuilder`], its graceful stop, loading
//!   a new version of the program while it runs ([`Runtime::load_version`]),
//!   [`HostMailbox`]es for the host to take part in messaging, the kit for host modules of
//!   one's own, and the typed [`Error`]. The `warren`
//!   CLI is one embedder.
//!
//! Only the embedding API is public: [`Runtime`] and what it takes and returns (re-exported
//! here), [`embed`] for host modules, and [`defaults`].
//!
//! # Embedding
//!
//! Build a runtime, start a guest, and exchange typed messages with it. The guest here is a
//! hand-written module that finds the host's mailbox by name and sends it one byte (the
//! postcard encoding of `42u8`); a real guest is a Rust program using the `warren` SDK.
//!
//! ```
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> anyhow::Result<()> {
//! use std::time::Duration;
//! use warren_runtime::{ExitReason, Runtime};
//!
//! let guest = r#"(module
//!   (import "warren:registry" "whereis" (func $whereis (param i32 i32) (result i64)))
//!   (import "warren:message" "send" (func $send (param i64 i64 i32 i32) (result i32)))
//!   (memory (export "memory") 1)
//!   (data (i32.const 0) "host")
//!   (data (i32.const 8) "\2a")
//!   (func (export "_start")
//!     (drop (call $send (call $whereis (i32.const 0) (i32.const 4))
//!                       (i64.const 0) (i32.const 8) (i32.const 1)))))"#;
//! let runtime = Runtime::builder()
//!     .max_processes(100)
//!     .max_memory(1 << 20)
//!     .build_bytes(guest.as_bytes())?;
//! let host = runtime.host_mailbox()?;
//! host.register("host")?;
//! let root = runtime.start()?;
//! let answer: u8 = host.receive_timeout(Duration::from_secs(10)).await?;
//! assert_eq!(answer, 42);
//! assert_eq!(root.exited().await, ExitReason::Normal);
//! assert_eq!(runtime.shutdown(Duration::from_secs(1)).await, 0);
//! # Ok(())
//! # }
//! ```
//!
//! Host modules of your own are written like warren's — a view over the store data and an
//! `add_to_linker(linker, getter)` — and added with [`RuntimeBuilder::host_module`], over a
//! store type of your own that holds warren's [`ProcessData`] (see [`StoreData`]). They can
//! put their own objects in the same per-process [`ResourceTable`](embed::ResourceTable) as
//! warren's sockets and files, and those handles move between processes in messages like
//! warren's. [`embed`] has the kit; `examples/embed-host` is a complete program.

#![warn(missing_docs)]
#![warn(unreachable_pub)]

mod actor;
mod builder;
mod cluster;
mod config;
mod context;
pub mod embed;
mod engine;
mod error;
mod host;
mod host_mailbox;
mod io;
mod observe;
mod process;
mod resources;
mod runtime;
mod sched;
mod shutdown;
mod sync;
mod upgrade;
mod version;

pub use actor::{ExitReason, Pid, QuotaError, Quotas, RegisterError, SpawnError};
pub use builder::{RuntimeBuilder, scheduler};
pub use cluster::{Cluster, ClusterConfig, ClusterSecret, Deployed, NodeDeploy, NodeInfo, deploy};
pub use config::{GrantedDir, HttpLimits, ObserveConfig, RuntimeConfig, TlsFiles, defaults};
pub use error::{Error, Result};
pub use host_mailbox::{HostMailbox, ReceiveError};
pub use io::NetPolicy;
pub use io::policy::PolicyError;
pub use process::{ProcessData, StoreData};
pub use runtime::{OPTIONAL_MODULES, Runtime, Started, add_to_linker};
pub use sched::{Scheduler, SchedulerStats};
pub use shutdown::ShutdownReport;
pub use upgrade::{Loaded, VersionInfo};
/// The wasmtime this runtime is built on, for host modules of embedders (and [`host_calls!`]).
pub use wasmtime;
