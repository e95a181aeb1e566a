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
//! - [`runtime`]: the [`Runtime`] that ties them together; the `warren` CLI is one embedder.

pub mod actor;
pub mod builder;
pub mod engine;
pub mod host;
pub mod host_mailbox;
pub mod io;
pub mod process;
pub mod resources;
pub mod runtime;

pub use actor::{ExitReason, Pid};
pub use builder::{RuntimeBuilder, scheduler};
pub use host_mailbox::{HostMailbox, ReceiveError};
pub use process::{ProcessData, StoreData};
pub use resources::{Handle, Resource, ResourceTable};
pub use runtime::{
    GrantedDir, ProcessLimitPlan, Runtime, RuntimeConfig, Started, add_to_linker,
};
