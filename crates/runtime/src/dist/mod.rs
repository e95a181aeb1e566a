//! Distribution: warren nodes on NATS.
//!
//! Nodes running the same module join a cluster through a NATS server (with JetStream, which
//! keeps node numbers and global names). A pid names its node (bits 40..63), so a pid
//! received from another node works unchanged: the process table turns every operation on
//! another node's pid into a signal ([`crate::actor::remote`]) and the [`Cluster`] carries
//! it, in order, to that node's dispatcher, which applies it there. A remote spawn is an
//! order to the other node's runtime, checked against the SHA-256 of the module both run (a
//! closure is a function-table index, meaningful only in the same module).
//!
//! - [`cluster`]: joining, liveness, ordered streams per peer, the dispatcher.
//! - [`auth`]: the cluster's secret, the MACs on frames and beats, what makes one fresh.
//! - [`wire`]: frames, envelopes and beats.
//! - [`names`]: global names in a NATS key-value bucket.
//! - [`modules`]: the modules nodes run, in a NATS object store, for nodes started without one.
//!
//! Every frame and beat is authenticated with the cluster's secret ([`auth`]); a node joins
//! without one only when told to (insecure mode, with a warning).
//!
//! Handles never leave their node: a message or captures carrying one to another node's
//! process is refused at the sender (`ERR_NOT_LOCAL`), and the handles stay with it.

pub mod auth;
pub mod cluster;
pub mod modules;
pub mod names;
pub mod wire;

pub use auth::ClusterSecret;
pub use cluster::{Cluster, ClusterConfig, LocalNode, NodeInfo};

/// Bytes as lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
