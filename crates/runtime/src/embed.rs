//! What a host module of an embedder is written with: the same kit warren's own modules use.
//!
//! A host module is a view over the store data plus `add_to_linker(linker, getter)` (see the
//! crate docs and `examples/embed-host`). Its calls are methods on the view returning
//! [`HostResult`], registered with [`host_calls!`](crate::host_calls), which gives them
//! warren's conventions for free: an error becomes a negative code (`docs/abi.md`) and a text
//! for `warren:resource.last_error`, a broken ABI traps only the calling process, a call
//! that waited gives the process a fresh time slice. [`GuestMemory`] is bounds-checked guest
//! memory for the duration of one call.
//!
//! # Error code or trap: warren's rule
//!
//! A call **traps** only for what no correct guest does, whatever the state of the world:
//! a pointer or length outside linear memory, a count over a size the ABI fixes
//! (`MAX_ATTACHED`, `MAX_SELECT`), bytes that do not decode as the ABI's encodings (an exit
//! reason), an unknown `select` entry kind, or calls out of order (a `receive` while a
//! message is still pending for `take`). Continuing would hide a bug in the guest.
//!
//! Everything else is an **error code**: handles (closed, moved, of the wrong kind), pids
//! (not alive, or negative), names, tags, unknown flag bits, negative sizes, text that is not
//! UTF-8 or too long, limits reached, and every failure of the OS. These depend on values a
//! correct program can get wrong, or on the world; the guest decides what to do.
//!
//! The module's objects go in warren's per-process [`ResourceTable`] (reached with
//! [`ProcessData::host_parts`](crate::ProcessData::host_parts)), so their handles move between
//! processes in messages like warren's. A [`Resource`] that declares the interfaces
//! [`ReadSource`], [`WriteSink`] or [`ReadReady`] works with warren's `read`, `write`, `copy`
//! and `select` as well.

pub use crate::host::call::{
    CallName, CallState, GuestFault, GuestMemory, HostError, HostResult, memory, pid_arg, range,
    split,
};

/// What [`host_calls!`](crate::host_calls) expands to: not an API (it may change with any
/// release); write calls with the macro.
#[doc(hidden)]
pub mod __private {
    pub use crate::host::call::{Returned, Waited, finish, outcome, sync, sync_mem, waited};
}
pub use crate::io::handles::interface;
pub use crate::io::{Backing, IoFailure, ReadReady, ReadSource, Ready, WriteSink};
pub use crate::process::HostParts;
pub use crate::resources::{Handle, HandleError, MAX_HANDLES, Resource, ResourceTable};
/// The ABI's numbers (error codes, flags) both sides use.
pub use warren_abi as abi;
