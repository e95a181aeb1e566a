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
//! - [`core`]: what this node knows of the others — admission, liveness, freshness floors,
//!   the streams it receives, tear-downs — as a state machine without I/O, unit-tested.
//! - [`member`]: this node as a member: joining, beats, the ordered queue and flusher per
//!   peer, and the dispatcher that checks MACs, feeds the core and carries out its
//!   decisions.
//! - [`auth`]: the cluster's secret, the MACs on frames and beats, what makes one fresh.
//! - [`wire`]: frames, envelopes and beats.
//! - [`names`]: global names in a NATS key-value bucket.
//! - [`modules`]: the modules nodes run, in a NATS object store, for nodes started without one.
//! - [`deploy`]: a new version of the program deployed to every node (hot code upgrade).
//!
//! Every frame and beat is authenticated with the cluster's secret ([`auth`]); a node joins
//! without one only when told to (insecure mode, with a warning).
//!
//! Handles never leave their node: a message or captures carrying one to another node's
//! process is refused at the sender (`ERR_NOT_LOCAL`), and the handles stay with it.

pub(crate) mod auth;
pub(crate) mod core;
pub(crate) mod deploy;
pub(crate) mod member;
pub(crate) mod modules;
pub(crate) mod names;
pub(crate) mod wire;

pub use auth::ClusterSecret;
pub use deploy::{Deployed, NodeDeploy, deploy};
pub(crate) use member::LocalNode;
pub use member::{Cluster, ClusterConfig, NodeInfo};

/// Open a JetStream bucket that several nodes may be creating at the same moment.
///
/// `open` looks the bucket up and creates it when missing. Two nodes starting together can
/// both find it missing; the server then answers the slower create with an error (for a
/// stream: "subjects overlap with an existing stream"), although the bucket now exists as
/// asked. So a failed open is tried again, after a short pause, and fails only if it keeps
/// failing: the second look finds the bucket the other node made.
pub(crate) async fn open_racing<T, E, F, Fut>(mut open: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    const TRIES: u32 = 5;
    let mut tried = 1;
    loop {
        match open().await {
            Ok(found) => return Ok(found),
            Err(e) if tried >= TRIES => return Err(e),
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(20 << tried)).await;
                tried += 1;
            }
        }
    }
}

/// Bytes as lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
