//! What nodes send each other over NATS: frames of envelopes on a node's own subject, and
//! heartbeats on the cluster's.
//!
//! A *frame* is one NATS message: a fixed header, then a chunk of a batch. A batch (the
//! envelopes a node queued for one peer since its last publish, postcard-encoded) larger
//! than the server's payload limit is cut into several frames; the last has kind
//! [`DATA_END`]. Each frame carries the sender's node number, the *session* of the
//! sender-to-receiver stream and the frame's sequence number in it, so the receiver sees a
//! lost frame (a slow consumer, a reconnect) as a gap instead of missing signals silently.

use crate::actor::Pid;
use crate::actor::remote::{NodeId, Signal};
use serde::{Deserialize, Serialize};

/// The wire version; frames and beats of another version are ignored.
pub const VERSION: u8 = 1;
/// A chunk of a batch, more to follow.
pub const DATA_MORE: u8 = 0;
/// The last (or only) chunk of a batch.
pub const DATA_END: u8 = 1;
/// "I gave up the stream you send me in `session`": the receiver tears its side down too.
pub const RESET: u8 = 2;
/// Bytes of the header: version, kind, from (u32), session (u64), seq (u64).
pub const HEADER: usize = 22;

/// The fixed part of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// [`DATA_MORE`], [`DATA_END`] or [`RESET`].
    pub kind: u8,
    /// The sending node.
    pub from: NodeId,
    /// The stream's session (random per stream start).
    pub session: u64,
    /// The frame's place in the session, from 0.
    pub seq: u64,
}

impl Header {
    /// The header followed by `chunk`, as one frame.
    pub fn frame(&self, chunk: &[u8]) -> Vec<u8> {
        let mut v = Vec::with_capacity(HEADER + chunk.len());
        v.push(VERSION);
        v.push(self.kind);
        v.extend_from_slice(&self.from.to_le_bytes());
        v.extend_from_slice(&self.session.to_le_bytes());
        v.extend_from_slice(&self.seq.to_le_bytes());
        v.extend_from_slice(chunk);
        v
    }

    /// Split a frame into its header and chunk; `None` if it is not one of this version.
    pub fn parse(frame: &[u8]) -> Option<(Header, &[u8])> {
        if frame.len() < HEADER || frame[0] != VERSION || frame[1] > RESET {
            return None;
        }
        let u64_at = |i: usize| u64::from_le_bytes(frame[i..i + 8].try_into().unwrap_or([0; 8]));
        let header = Header {
            kind: frame[1],
            from: u32::from_le_bytes(frame[2..6].try_into().unwrap_or([0; 4])),
            session: u64_at(6),
            seq: u64_at(14),
        };
        Some((header, &frame[HEADER..]))
    }
}

/// One item of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Envelope {
    /// A signal between processes.
    Signal(Signal),
    /// Start a process here for `parent` (of the sending node).
    Spawn(SpawnOrder),
    /// The answer to [`Envelope::Spawn`] request `req`.
    Spawned {
        /// The request.
        req: u64,
        /// The child's pid, or why there is none.
        result: Result<Pid, String>,
    },
}

/// A remote spawn: what `warren:process.spawn` takes, plus the module it is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpawnOrder {
    /// Matches the answer to the request.
    pub req: u64,
    /// The spawning process (on the sending node).
    pub parent: Pid,
    /// SHA-256 of the module the indices below belong to.
    pub module: [u8; 32],
    /// Function-table index of the SDK's trampoline.
    pub trampoline: u32,
    /// Function-table index of the entry function.
    pub func: u32,
    /// The serialized captures.
    pub args: Vec<u8>,
    /// Link the parent and the child before the child runs.
    pub link: bool,
    /// Monitor the child from the parent with this reference before it runs.
    pub monitor: Option<u64>,
    /// The child's memory limit, if not the runtime's.
    pub max_memory: Option<u64>,
    /// The child's fuel budget, if not the runtime's.
    pub max_fuel: Option<u64>,
}

impl Envelope {
    /// What an envelope is counted in a peer's queue beyond its payload.
    pub const OVERHEAD: usize = 64;

    /// Roughly the bytes it takes queued (for the bound on a peer's queue).
    pub fn weight(&self) -> usize {
        Self::OVERHEAD
            + match self {
                Envelope::Signal(s) => s.payload_len(),
                Envelope::Spawn(o) => o.args.len(),
                Envelope::Spawned { result, .. } => result.as_ref().err().map_or(0, String::len),
            }
    }
}

/// A node's heartbeat, published on the cluster's beat subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Beat {
    /// Wire version.
    pub version: u8,
    /// The node.
    pub node: NodeId,
    /// Its name.
    pub name: String,
    /// SHA-256 of the module it runs, if it runs one yet.
    pub module: Option<[u8; 32]>,
    /// It is leaving the cluster (its last beat).
    pub leaving: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_junk_is_refused() {
        let h = Header {
            kind: DATA_END,
            from: 7,
            session: 0xdead_beef,
            seq: 42,
        };
        let f = h.frame(b"xyz");
        assert_eq!(Header::parse(&f), Some((h, &b"xyz"[..])));
        assert_eq!(Header::parse(&f[..HEADER - 1]), None);
        let mut bad = f.clone();
        bad[0] = 9;
        assert_eq!(Header::parse(&bad), None);
        bad[0] = VERSION;
        bad[1] = 3;
        assert_eq!(Header::parse(&bad), None);
    }

    #[test]
    fn batches_round_trip() {
        let batch = vec![
            Envelope::Signal(Signal::Message {
                to: 1 << 40 | 5,
                tag: 0,
                data: vec![1, 2, 3],
            }),
            Envelope::Spawned {
                req: 3,
                result: Err("no".into()),
            },
        ];
        let bytes = postcard::to_stdvec(&batch).unwrap();
        assert_eq!(
            postcard::from_bytes::<Vec<Envelope>>(&bytes).unwrap(),
            batch
        );
    }
}
