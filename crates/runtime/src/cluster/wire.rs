//! What nodes send each other over NATS: frames of envelopes on the receiving node's
//! subject, and heartbeats on the cluster's. Both are authenticated ([`super::auth`]).
//!
//! A *frame* is one NATS message: a fixed header, then a chunk of a batch. A batch (the
//! envelopes a node queued for one peer since its last publish, postcard-encoded) larger
//! than the server's payload limit is cut into several frames; the last has kind
//! [`DATA_END`]. Each frame carries the sender's and the receiver's node numbers, the
//! *session* of the sender-to-receiver stream and the frame's sequence number in it (so the
//! receiver sees a lost frame as a gap instead of missing signals silently, and a replayed
//! one as old), and a MAC of all that and the chunk.
//!
//! Subjects name the sender too: frames go to `<prefix>.node.<to>.<from name>`, beats to
//! `<prefix>.beat.<name>`, so a NATS server can let each node's user publish only under its
//! own name (docs/distribution.md), and a receiver refuses a frame or beat whose subject
//! names another node than the one it speaks for.

use super::auth::{Keys, MAC_LEN, Purpose};
use crate::actor::remote::{NodeId, Signal};
use crate::actor::{Pid, SpawnSpec};
use serde::{Deserialize, Serialize};

/// The wire version; frames and beats of another version are ignored.
pub(crate) const VERSION: u8 = 2;
/// A chunk of a batch, more to follow.
pub(crate) const DATA_MORE: u8 = 0;
/// The last (or only) chunk of a batch.
pub(crate) const DATA_END: u8 = 1;
/// "I gave up the stream you send me in `session`": the receiver tears its side down too.
pub(crate) const RESET: u8 = 2;
/// Bytes of the header before the MAC: version, kind, from (u32), to (u32), session (u64),
/// seq (u64).
const SIGNED: usize = 26;
/// Bytes of the header: the signed part, then the MAC.
pub(crate) const HEADER: usize = SIGNED + MAC_LEN;

/// The fixed part of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// [`DATA_MORE`], [`DATA_END`] or [`RESET`].
    pub kind: u8,
    /// The sending node.
    pub from: NodeId,
    /// The receiving node.
    pub to: NodeId,
    /// The stream's session (see [`super::auth::Sessions`]).
    pub session: u64,
    /// The frame's place in the session, from 0.
    pub seq: u64,
}

/// Why a frame or beat was dropped unread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Too short or long, another version, an unknown kind, undecodable.
    Malformed,
    /// The MAC does not verify.
    Forged,
}

impl Header {
    fn signed(&self) -> [u8; SIGNED] {
        let mut h = [0u8; SIGNED];
        h[0] = VERSION;
        h[1] = self.kind;
        h[2..6].copy_from_slice(&self.from.to_le_bytes());
        h[6..10].copy_from_slice(&self.to.to_le_bytes());
        h[10..18].copy_from_slice(&self.session.to_le_bytes());
        h[18..26].copy_from_slice(&self.seq.to_le_bytes());
        h
    }

    /// The header (MAC'd under `keys`) followed by `chunk`, as one frame.
    pub(crate) fn frame(&self, keys: &Keys, chunk: &[u8]) -> Vec<u8> {
        let signed = self.signed();
        let mac = keys.sign(Purpose::Frame, &[&signed, chunk]);
        let mut v = Vec::with_capacity(HEADER + chunk.len());
        v.extend_from_slice(&signed);
        v.extend_from_slice(&mac);
        v.extend_from_slice(chunk);
        v
    }

    /// Split a frame into its header and chunk, if it is one of this version and its MAC
    /// verifies under `keys`.
    pub(crate) fn parse<'a>(keys: &Keys, frame: &'a [u8]) -> Result<(Header, &'a [u8]), Refused> {
        if frame.len() < HEADER || frame[0] != VERSION || frame[1] > RESET {
            return Err(Refused::Malformed);
        }
        let (signed, rest) = frame.split_at(SIGNED);
        let (mac, chunk) = rest.split_at(MAC_LEN);
        if !keys.verify(Purpose::Frame, &[signed, chunk], mac) {
            return Err(Refused::Forged);
        }
        let u32_at = |i: usize| {
            let mut b = [0u8; 4];
            b.copy_from_slice(&frame[i..i + 4]);
            u32::from_le_bytes(b)
        };
        let u64_at = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&frame[i..i + 8]);
            u64::from_le_bytes(b)
        };
        let header = Header {
            kind: frame[1],
            from: u32_at(2),
            to: u32_at(6),
            session: u64_at(10),
            seq: u64_at(18),
        };
        Ok((header, chunk))
    }
}

/// One item of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Envelope {
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
    /// The process to start (its fields follow `module` on the wire).
    pub spec: SpawnSpec,
}

impl Envelope {
    /// What an envelope is counted in a peer's queue beyond its payload.
    pub(crate) const OVERHEAD: usize = 64;

    /// Roughly the bytes it takes queued (for the bound on a peer's queue).
    pub(crate) fn weight(&self) -> usize {
        Self::OVERHEAD
            + match self {
                Envelope::Signal(s) => s.payload_len(),
                Envelope::Spawn(o) => o.spec.args.len(),
                Envelope::Spawned { result, .. } => result.as_ref().err().map_or(0, String::len),
            }
    }
}

/// A node's heartbeat, published on its beat subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Beat {
    /// The node.
    pub node: NodeId,
    /// Its name (also the last token of the beat's subject).
    pub name: String,
    /// SHA-256 of the module it runs, if it runs one yet.
    pub module: Option<[u8; 32]>,
    /// It is leaving the cluster (its last beat).
    pub leaving: bool,
    /// Counts the node's beats, from 1: a receiver takes only a beat newer than the last.
    pub counter: u64,
    /// When it was sent, in milliseconds since the epoch on the sender's clock.
    pub sent_ms: u64,
}

/// Most bytes a beat takes on the wire (a longer one is dropped unread).
pub(crate) const MAX_BEAT: usize = 1 + MAC_LEN + 160;

impl Beat {
    /// The beat as published: version, MAC, then the postcard-encoded beat.
    pub(crate) fn seal(&self, keys: &Keys) -> Vec<u8> {
        let body = postcard::to_stdvec(self).unwrap_or_default();
        let mac = keys.sign(Purpose::Beat, &[&[VERSION], &body]);
        let mut v = Vec::with_capacity(1 + MAC_LEN + body.len());
        v.push(VERSION);
        v.extend_from_slice(&mac);
        v.extend_from_slice(&body);
        v
    }

    /// A published beat, if it is of this version, no longer than [`MAX_BEAT`], verifies
    /// under `keys` and decodes.
    pub(crate) fn open(keys: &Keys, bytes: &[u8]) -> Result<Beat, Refused> {
        if bytes.len() < 1 + MAC_LEN || bytes.len() > MAX_BEAT || bytes[0] != VERSION {
            return Err(Refused::Malformed);
        }
        let (mac, body) = bytes[1..].split_at(MAC_LEN);
        if !keys.verify(Purpose::Beat, &[&[VERSION], body], mac) {
            return Err(Refused::Forged);
        }
        postcard::from_bytes(body).map_err(|_| Refused::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::auth::ClusterSecret;

    fn keys(b: u8) -> Keys {
        Keys::new(Some(&ClusterSecret::new(vec![b; 32]).unwrap()), "warren")
    }

    #[test]
    fn frames_round_trip_and_junk_is_refused() {
        let k = keys(1);
        let h = Header {
            kind: DATA_END,
            from: 7,
            to: 9,
            session: 0xdead_beef,
            seq: 42,
        };
        let f = h.frame(&k, b"xyz");
        assert_eq!(Header::parse(&k, &f), Ok((h, &b"xyz"[..])));
        assert_eq!(Header::parse(&k, &f[..HEADER - 1]), Err(Refused::Malformed));
        let mut bad = f.clone();
        bad[0] = 9;
        assert_eq!(Header::parse(&k, &bad), Err(Refused::Malformed));
        bad[0] = VERSION;
        bad[1] = 3;
        assert_eq!(Header::parse(&k, &bad), Err(Refused::Malformed));
    }

    #[test]
    fn a_frame_changed_anywhere_or_made_without_the_secret_is_forged() {
        let k = keys(1);
        let h = Header {
            kind: DATA_END,
            from: 7,
            to: 9,
            session: 5,
            seq: 0,
        };
        let f = h.frame(&k, b"kill them all");
        for i in [2, 6, 10, 18, HEADER - 1, HEADER + 3] {
            let mut bad = f.clone();
            bad[i] ^= 1;
            assert_eq!(Header::parse(&k, &bad), Err(Refused::Forged), "byte {i}");
        }
        let other = h.frame(&keys(2), b"kill them all");
        assert_eq!(Header::parse(&k, &other), Err(Refused::Forged));
        let insecure = h.frame(&Keys::new(None, "warren"), b"kill them all");
        assert_eq!(Header::parse(&k, &insecure), Err(Refused::Forged));
    }

    #[test]
    fn beats_are_sealed_and_bounded() {
        let k = keys(1);
        let beat = Beat {
            node: 3,
            name: "a".into(),
            module: Some([7; 32]),
            leaving: true,
            counter: 12,
            sent_ms: 1_700_000_000_000,
        };
        let sealed = beat.seal(&k);
        assert_eq!(Beat::open(&k, &sealed), Ok(beat.clone()));
        assert_eq!(Beat::open(&keys(2), &sealed), Err(Refused::Forged));
        let mut bad = sealed.clone();
        if let Some(b) = bad.last_mut() {
            *b ^= 1;
        }
        assert_eq!(Beat::open(&k, &bad), Err(Refused::Forged));
        let long = Beat {
            name: "x".repeat(200),
            ..beat
        };
        assert_eq!(Beat::open(&k, &long.seal(&k)), Err(Refused::Malformed));
    }

    #[test]
    fn a_kill_batch_is_laid_out_as_the_cli_tests_forge_it() {
        // crates/cli/tests/common/forge.rs writes this by hand.
        let batch = vec![Envelope::Signal(Signal::Kill { to: 300 })];
        assert_eq!(postcard::to_stdvec(&batch).unwrap(), [1, 0, 7, 0xac, 0x02]);
    }

    #[test]
    fn batches_round_trip() {
        let batch = vec![
            Envelope::Signal(Signal::Message {
                to: 1 << 40 | 5,
                tag: 0,
                data: vec![1, 2, 3],
                bounded: true,
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
