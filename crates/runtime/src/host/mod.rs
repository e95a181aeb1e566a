//! Host modules: one file per host API, each with the view it needs and an `add_to_linker`.
//!
//! A module never names the embedder's store type. It takes a getter
//! `fn(&mut T) -> XView<'_>` that projects the store data onto the part the module uses, so
//! modules compose over one store type without a shared trait (design rule 4). The CLI's
//! store type is [`crate::ProcessData`]; an embedder can use its own.
//!
//! Every call validates what the guest passes (pointers, lengths, pids). A bad pointer traps
//! the calling process with a message naming the call; it never panics the host. The
//! contract, with the error codes of [`abi`], is `docs/abi.md`.

pub mod abi;
pub mod call;
pub mod fs;
pub mod http;
pub mod io_bridge;
pub mod log;
pub mod log_sites;
pub mod message;
pub mod net;
pub mod node;
pub mod process;
pub mod registry;
pub mod resource;
pub mod select;
pub mod stream;
pub mod timer;
pub mod wasi;
pub mod wasi_stdio;
