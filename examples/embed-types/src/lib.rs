//! The messages between the embedding host (`examples/embed-host`, native) and its guest
//! (`examples/embed-guest`, wasm32-wasip1). One crate, compiled for both targets: the host
//! encodes and decodes them with the same serde derive the guest uses.

use serde::{Deserialize, Serialize};

/// The name the host registers its mailbox under; the guest finds it with `whereis`.
pub const HOST_MAILBOX: &str = "host";

/// The name of the counter the workers increment.
pub const COUNTER: &str = "visits";

/// From the host to the guest's root process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// Spawn `workers` processes that each add 1 to the counter `increments` times.
    Work { workers: u32, increments: u32 },
}

/// From guest processes to the host's mailbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Report {
    /// A worker finished; the counter's value when it did.
    WorkerDone { worker: u64, seen: i64 },
    /// All workers finished; the counter's final value as the root read it.
    Finished { total: i64 },
}
