//! Signals between processes of different nodes, and the hook the process table routes them
//! through.
//!
//! A pid names its node (`warren_abi::node_of`). Every act of one process on another is a
//! [`Signal`] (`ProcessTable::signal`): one for a pid of this node is applied at once; one
//! for a pid of another node is handed to the table's [`Remote`] (the cluster, in
//! `crate::cluster`), which carries it to that node, where the table applies it with
//! [`ProcessTable::apply`](super::ProcessTable::apply) — the same code, after checking the
//! sender's node. Signals from one node to another
//! arrive in the order they were routed, so Erlang's ordering between two processes holds.
//!
//! A process's ordinary message to another node's process with a bounded mailbox is held to
//! that bound where the mailbox is, in `remote_flow.rs`: the receiving node parks what does not
//! fit and answers [`Signal::Full`]; the sending node hands later sends to that process back
//! (wait or fail, per the bound) until [`Signal::Room`] says the parked ones are in.
//!
//! Each side keeps its own half of a link or monitor: the local process's `links` list names
//! the remote pid, the remote target's `monitors` list names the local watcher. When a node
//! goes away the cluster calls [`ProcessTable::node_down`](super::ProcessTable::node_down),
//! which fires every half that points there with `noconnection`.

use super::Pid;
use serde::{Deserialize, Serialize};

/// A node number (bits 40..63 of its pids).
pub(crate) type NodeId = u32;

/// One act of a process (or the runtime) on another, of this node or another. Exit
/// reasons travel encoded (`ExitReason::encode`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Signal {
    /// A message: delivered if `to` is alive and, for a tag other than 0, still holds it.
    Message {
        /// The receiver.
        to: Pid,
        /// Its tag (0: ordinary; a reference: a reply or DOWN-like message).
        tag: u64,
        /// The bytes.
        #[serde(with = "serde_bytes_vec")]
        data: Vec<u8>,
        /// An ordinary send of a process (tag 0): held to the receiver's mailbox bound.
        bounded: bool,
    },
    /// `from` linked itself to `to`: `to` adds `from` to its links (or answers with an exit
    /// signal `noproc` if it is gone).
    Link {
        /// The process that linked.
        from: Pid,
        /// The process linked to.
        to: Pid,
    },
    /// `from` removed its link to `to`.
    Unlink {
        /// The process that unlinked.
        from: Pid,
        /// The other one.
        to: Pid,
    },
    /// An exit signal from `from` to `to`: because `from` exited and they were linked
    /// (`link`: `to` drops its half), or from `Process::exit` (`link` false).
    Exit {
        /// Who sent it (or exited).
        from: Pid,
        /// Who receives it.
        to: Pid,
        /// The encoded exit reason.
        #[serde(with = "serde_bytes_vec")]
        reason: Vec<u8>,
        /// True when it reports the exit of a linked process.
        link: bool,
    },
    /// `watcher` monitors `target` with reference `tag`.
    Monitor {
        /// The watching process.
        watcher: Pid,
        /// The watched process.
        target: Pid,
        /// The reference the DOWN is tagged with.
        tag: u64,
    },
    /// `watcher` stopped monitoring `target` under `tag`.
    Demonitor {
        /// The watching process.
        watcher: Pid,
        /// The watched process.
        target: Pid,
        /// The monitor's reference.
        tag: u64,
    },
    /// The DOWN of monitor `tag`: `target` exited with `reason`.
    Down {
        /// The watching process.
        watcher: Pid,
        /// The process that exited.
        target: Pid,
        /// The monitor's reference.
        tag: u64,
        /// The encoded exit reason.
        #[serde(with = "serde_bytes_vec")]
        reason: Vec<u8>,
    },
    /// Kill `to` (untrappable).
    Kill {
        /// The process to kill.
        to: Pid,
    },
    /// The bounded mailbox of `to` is full: its node parks the ordinary messages for it
    /// from `node`'s node, in order, until there is room; `node`'s processes are to wait
    /// (or fail, `fail`) until [`Signal::Room`].
    Full {
        /// `node_pid` of the node told (the signal's destination).
        node: Pid,
        /// The process whose mailbox is full.
        to: Pid,
        /// Its bound: messages, bytes (`u64::MAX`: none in that dimension).
        messages: u64,
        bytes: u64,
        /// Whether its policy fails sends (else they wait).
        fail: bool,
    },
    /// `from` bounds the mailbox of `to`, a child it spawned on `to`'s node (ignored for
    /// any other process): at most `messages` messages and `bytes` bytes (`u64::MAX`: none
    /// in that dimension), `when_full` a `WHEN_FULL_*` policy; `None`: no bound.
    Bound {
        /// The parent.
        from: Pid,
        /// Its child.
        to: Pid,
        /// The bound: (messages, bytes, when_full), or none.
        bound: Option<(u64, u64, u32)>,
    },
    /// What `node`'s node sent `to` and was parked is in its mailbox: send again.
    Room {
        /// `node_pid` of the node told (the signal's destination).
        node: Pid,
        /// The process that has room again.
        to: Pid,
    },
}

impl Signal {
    /// The process the signal is for; its node is where the signal goes.
    pub fn destination(&self) -> Pid {
        match self {
            Signal::Message { to, .. }
            | Signal::Link { to, .. }
            | Signal::Unlink { to, .. }
            | Signal::Exit { to, .. }
            | Signal::Kill { to }
            | Signal::Bound { to, .. } => *to,
            Signal::Monitor { target, .. } | Signal::Demonitor { target, .. } => *target,
            Signal::Down { watcher, .. } => *watcher,
            Signal::Full { node, .. } | Signal::Room { node, .. } => *node,
        }
    }

    /// Bytes this signal holds beyond its fixed part (for queue bounds).
    pub fn payload_len(&self) -> usize {
        match self {
            Signal::Message { data, .. } => data.len(),
            Signal::Exit { reason, .. } | Signal::Down { reason, .. } => reason.len(),
            _ => 0,
        }
    }
}

/// Why a signal could not be sent to another node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unreachable {
    /// The node is not connected (down, unknown, or the runtime is in no cluster).
    #[error("node {0} is not connected")]
    NotConnected(NodeId),
    /// The queue towards the node is full (the node does not keep up).
    #[error("the queue to node {node} is full ({bytes} bytes waiting)")]
    Congested {
        /// The node.
        node: NodeId,
        /// Bytes queued for it.
        bytes: usize,
    },
}

/// What a sender waits on while the queue to a node is above its mark
/// ([`Remote::room`]).
pub(crate) type RoomWait = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Carries signals to other nodes (implemented by the cluster).
pub trait Remote: Send + Sync + std::fmt::Debug + 'static {
    /// Queue `signal` for the node of its destination. Signals to one node arrive in the
    /// order they were queued. Fails at once if that node is not connected.
    fn route(&self, signal: Signal) -> Result<(), Unreachable>;

    /// Whether a process may queue a message of `bytes` for `node` now: `None` if it may
    /// (or if the node is not connected: the send then fails), else a future that resolves
    /// once the queue to that node was taken to be published or the node went down; the
    /// sender waits on it and asks again. A process sending faster than the link to a node
    /// carries thus slows itself (and whoever else sends there) instead of filling the
    /// queue that links, monitors and exit signals to that node need too.
    fn room(&self, node: NodeId, bytes: usize) -> Option<RoomWait> {
        let _ = (node, bytes);
        None
    }

    /// Process `pid` of this node exited after it registered a global name.
    fn exited_with_global_names(&self, pid: Pid);
}

/// Bytes as one length-prefixed byte string (serde's default for a `Vec<u8>` is a sequence
/// of numbers, one call per byte).
mod serde_bytes_vec {
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
        }
        d.deserialize_bytes(Visitor)
    }
}
