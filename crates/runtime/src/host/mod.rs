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

pub(crate) mod abi;
pub(crate) mod call;
pub(crate) mod fs;
pub(crate) mod http;
pub(crate) mod io_bridge;
pub(crate) mod log;
pub(crate) mod log_sites;
pub(crate) mod message;
pub(crate) mod net;
pub(crate) mod node;
pub(crate) mod process;
pub(crate) mod registry;
pub(crate) mod resource;
pub(crate) mod select;
pub(crate) mod stream;
pub(crate) mod timer;
pub(crate) mod wasi;
pub(crate) mod wasi_stdio;
