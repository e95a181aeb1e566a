//! warren's host runtime: Erlang-style processes, each its own wasm instance.
//!
//! The model: a guest module (a `wasm32-wasip1` program) runs as many *processes*. Each is a
//! fresh instance of the module in its own wasmtime `Store`, with its own linear memory,
//! mailbox and WASI context, running as a tokio task. Processes share nothing; they talk by
//! messages. A trap, panic or memory limit ends only the process it happens in.
//!
//! Layers, bottom up:
//! - [`actor`]: pids, mailboxes, the process table, monitors — no wasm in sight.
//! - [`engine`]: wasmtime configuration (pooling, copy-on-write, epochs) and module loading.
//! - [`resources`]: per-process handle tables over reference-counted host objects.
//! - [`io`]: the objects behind I/O handles (sockets, files, pipes, streams, futures, pumps)
//!   and the policies that bound them (network allow-list, granted directories).
//! - [`host`]: the host modules guests import (`warren:process`, `warren:message`,
//!   `warren:net`, `warren:fs`, `warren:stream`, ...), each added to a linker through a
//!   getter returning its view.
//! - [`process`]: how one process runs and how its end becomes an [`ExitReason`].
//! - [`runtime`]: the [`Runtime`] that ties them together, made by a [`RuntimeBuilder`];
//!   [`HostMailbox`]es let the host take part in messaging. The `warren` CLI is one embedder.
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
//! put their own objects in the same per-process [`ResourceTable`] as warren's sockets and
//! files, and those handles move between processes in messages like warren's.
//! `examples/embed-host` is a complete program.

pub mod actor;
pub mod builder;
pub mod config;
pub mod context;
pub mod engine;
pub mod host;
pub mod host_mailbox;
pub mod io;
pub mod process;
pub mod resources;
pub mod runtime;

pub use actor::{ExitReason, Pid};
pub use builder::{RuntimeBuilder, scheduler};
pub use config::{GrantedDir, ProcessLimitPlan, RuntimeConfig};
pub use host_mailbox::{HostMailbox, ReceiveError};
pub use process::{ProcessData, StoreData};
pub use resources::{Handle, Resource, ResourceTable};
pub use runtime::{Runtime, Started, add_to_linker};
/// The wasmtime this runtime is built on, for host modules of embedders (and [`host_calls!`]).
pub use wasmtime;
