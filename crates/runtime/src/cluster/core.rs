//! The cluster's core: what this node knows of the others, as a state machine.
//!
//! It keeps, for every node it admitted as a peer, its name, whether it is *up*, when it was
//! last heard from, and the stream of batches it is sending this node; and, for every node
//! that ever spoke with a valid MAC, the freshness floor that makes its old sessions and beats
//! replays. Events go in — an authenticated beat, an authenticated frame's header and chunk,
//! a tick of the clock, this node's connection dropping, a publish failing — and decisions
//! come out, as [`Action`]s in the order they must be carried out. It does no I/O, takes no
//! lock, spawns nothing and reads no clock: the dispatcher (`cluster.rs`) checks MACs,
//! carries the actions out on NATS, the peers' queues and the process table, and gives the
//! time. The unit tests below drive it with a clock of their own.
//!
//! The rules, all in this file:
//!
//! - **Admission**: a node becomes a peer on its first authenticated beat or frame; its
//!   number then speaks only for its name. At most `max_peers` are kept: a new one takes the
//!   place of the lowest-numbered peer that is down, or is refused if all are up.
//! - **Liveness**: a peer is up from a beat or a whole batch until no beat came for
//!   [`NODE_TIMEOUT`], it says it leaves, its stream breaks, or this node's connection drops
//!   — then it is torn down. A peer down for [`FORGET_AFTER`] is forgotten, all but its
//!   floor.
//! - **Freshness** (with a secret): a beat must count above the last one taken and be sent
//!   within the allowed clock skew; a session must be newer than every session seen from the
//!   node. Anything else is a replay, refused.
//! - **Streams**: frames of a session are taken in sequence from 0; a frame seen before is a
//!   replay (refused), a frame past the next is a gap (the peer is torn down: a signal is
//!   missing). A new session starting at 0 replaces the old one (the peer gave it up: ours
//!   fires too); a new session starting later lost its start, and the peer is told to start
//!   again (a reset). A batch over [`MAX_BATCH_BYTES`] breaks the stream.

use super::auth;
use super::wire::{DATA_END, Header, RESET};
use crate::actor::remote::NodeId;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};
use warren_abi::MAX_NODE;

/// How often a node says it is alive.
pub(crate) const BEAT_INTERVAL: Duration = Duration::from_millis(250);
/// A peer not heard from for this long is down.
pub(crate) const NODE_TIMEOUT: Duration = Duration::from_secs(2);
/// A peer down this long is forgotten (its queue, its name, its flusher).
pub(crate) const FORGET_AFTER: Duration = Duration::from_secs(60);
/// Largest batch a peer may send in pieces (bigger is a broken stream).
pub(crate) const MAX_BATCH_BYTES: usize = 512 << 20;

/// What the dispatcher is to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Drop the input, count it and say so now and then: it was forged elsewhere, old (a
    /// replay), or for someone else.
    Refuse(String),
    /// `node`, named `name`, is a peer now: make its queue (and its flusher).
    Admit { node: NodeId, name: String },
    /// Forget `node`: its queue and flusher go (its floor stays here).
    Forget(NodeId),
    /// `node` is up: its queue takes envelopes; tell the watchers.
    Up(NodeId),
    /// Give up the connection with `node`: drop its queue and start a new session towards it,
    /// fail the spawns waiting on it, and — if it was up — fire every link and monitor across
    /// (`noconnection`) and tell the watchers. `reset`: the session of the stream it sends
    /// this node, which it is to be told was given up.
    TearDown {
        node: NodeId,
        why: String,
        reset: Option<u64>,
        was_up: bool,
    },
    /// Tell `node` that its session `session` is given up (it starts a new one), without a
    /// tear-down here.
    Reset { node: NodeId, session: u64 },
    /// A whole batch came from `node`, in order: decode and apply it.
    Batch { node: NodeId, bytes: Vec<u8> },
}

/// An authenticated beat, as the core needs it.
#[derive(Debug, Clone)]
pub(crate) struct BeatIn<'a> {
    pub node: NodeId,
    pub name: &'a str,
    /// The last token of the subject it came on.
    pub subject_name: &'a str,
    pub counter: u64,
    /// When it was sent (the sender's clock), and now (ours), in ms since the epoch.
    pub sent_ms: u64,
    pub now_ms: u64,
    pub leaving: bool,
}

/// The stream a peer sends this node.
#[derive(Debug, Default)]
struct Stream {
    /// The session being received (0: none).
    session: u64,
    next_seq: u64,
    /// The chunks of a batch so far.
    partial: Vec<u8>,
}

/// The freshness floor of an authenticated node, kept after it is forgotten (16 bytes a
/// node that ever spoke): a session or beat at or below it is old, a replay.
#[derive(Debug, Default, Clone, Copy)]
struct Floor {
    /// The largest session seen from it (taken or given up).
    session: u64,
    /// The counter of its last beat taken.
    beat: u64,
}

/// A peer.
#[derive(Debug)]
struct Peer {
    name: String,
    up: bool,
    /// When it was last heard from, or went down (none: admitted, never heard).
    heard: Option<Instant>,
    stream: Stream,
}

/// The state machine (see the module docs).
#[derive(Debug)]
pub(crate) struct Core {
    me: NodeId,
    /// Whether frames and beats carry MACs (then freshness is checked).
    secure: bool,
    max_peers: usize,
    /// [`MAX_BATCH_BYTES`] (smaller in tests).
    max_batch: usize,
    peers: BTreeMap<NodeId, Peer>,
    floors: HashMap<NodeId, Floor>,
}

impl Core {
    /// The core of node `me`; `secure`: with a secret; at most `max_peers` peers.
    pub(crate) fn new(me: NodeId, secure: bool, max_peers: usize) -> Core {
        Core {
            me,
            secure,
            max_peers,
            max_batch: MAX_BATCH_BYTES,
            peers: BTreeMap::new(),
            floors: HashMap::new(),
        }
    }

    /// Whether `node` is a peer that is up.
    #[cfg(test)]
    fn is_up(&self, node: NodeId) -> bool {
        self.peers.get(&node).is_some_and(|p| p.up)
    }

    /// The peers that are up.
    pub(crate) fn up(&self) -> Vec<NodeId> {
        self.peers
            .iter()
            .filter(|(_, p)| p.up)
            .map(|(&n, _)| n)
            .collect()
    }

    /// An authenticated beat.
    pub(crate) fn beat(&mut self, now: Instant, beat: BeatIn<'_>) -> Vec<Action> {
        let mut out = Vec::new();
        if beat.node == self.me || beat.node == 0 || beat.node > MAX_NODE {
            return out;
        }
        if beat.name != beat.subject_name || !auth::valid_node_name(beat.name) {
            out.push(refuse("a beat whose subject names another node"));
            return out;
        }
        if self.secure {
            let floor = self.floors.entry(beat.node).or_default();
            if beat.counter <= floor.beat || !auth::fresh(beat.sent_ms, beat.now_ms) {
                out.push(refuse("an old beat (a replay, or a clock far off)"));
                return out;
            }
            floor.beat = beat.counter;
        }
        if beat.leaving {
            if self
                .peers
                .get(&beat.node)
                .is_some_and(|p| p.name == beat.name)
            {
                self.tear_down(now, beat.node, "it left the cluster", false, &mut out);
            }
            return out;
        }
        self.revive(now, beat.node, beat.name, &mut out);
        out
    }

    /// An authenticated frame that came on a subject whose last token is `subject_name`;
    /// `sending`: the session of the stream this node sends `h.from`, if it is a peer.
    pub(crate) fn frame(
        &mut self,
        now: Instant,
        h: &Header,
        subject_name: &str,
        chunk: &[u8],
        sending: Option<u64>,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        let from = h.from;
        if h.to != self.me || from == self.me || from == 0 || from > MAX_NODE {
            out.push(refuse("a frame for another node (a replay?)"));
            return out;
        }
        if !auth::valid_node_name(subject_name) {
            out.push(refuse("a frame whose subject names no node"));
            return out;
        }
        if self
            .peers
            .get(&from)
            .is_some_and(|p| p.name != subject_name)
        {
            out.push(refuse("a frame whose subject names another node"));
            return out;
        }
        if h.kind == RESET {
            // The peer gave up the stream this node sends it (a gap, its restart): ours goes
            // too, and a new one starts, if the reset is for the session being sent.
            if self.peers.contains_key(&from) && sending == Some(h.session) {
                self.tear_down(
                    now,
                    from,
                    "it reset the stream from this node",
                    true,
                    &mut out,
                );
                self.revive(now, from, subject_name, &mut out);
            }
            return out;
        }
        let floor = self.floors.entry(from).or_default();
        let current = self.peers.get(&from).map_or(0, |p| p.stream.session);
        if h.session != current {
            if h.session <= floor.session {
                // A session given up, or older than one seen: a late frame or a replay.
                out.push(refuse("a frame of an old session"));
                return out;
            }
            floor.session = h.session;
            if h.seq != 0 {
                // The start of this session was lost: give it up (the peer starts anew).
                if current != 0 {
                    self.tear_down(now, from, "its stream broke", true, &mut out);
                }
                if self.admit(from, subject_name, &mut out).is_ok() {
                    out.push(Action::Reset {
                        node: from,
                        session: h.session,
                    });
                }
                return out;
            }
            if current != 0 {
                // The peer gave up the old stream (and fired its side): fire ours.
                self.tear_down(now, from, "it restarted its stream", true, &mut out);
            }
            if self.admit(from, subject_name, &mut out).is_err() {
                out.push(refuse("a frame from a node this one has no room for"));
                return out;
            }
            if let Some(p) = self.peers.get_mut(&from) {
                p.stream = Stream {
                    session: h.session,
                    next_seq: 0,
                    partial: Vec::new(),
                };
            }
        }
        let Some(stream) = self.peers.get_mut(&from).map(|p| &mut p.stream) else {
            return out;
        };
        if h.seq < stream.next_seq {
            // Taken already: a replay (a genuine frame is never delivered twice).
            out.push(refuse("a frame seen before (a replay)"));
            return out;
        }
        if h.seq > stream.next_seq {
            self.tear_down(now, from, "a frame from it was lost", true, &mut out);
            return out;
        }
        stream.next_seq += 1;
        if stream.partial.len() + chunk.len() > self.max_batch {
            self.tear_down(now, from, "it sent a batch over 512 MiB", true, &mut out);
            return out;
        }
        stream.partial.extend_from_slice(chunk);
        if h.kind != DATA_END {
            return out;
        }
        let bytes = std::mem::take(&mut stream.partial);
        if self.revive(now, from, subject_name, &mut out) {
            out.push(Action::Batch { node: from, bytes });
        }
        out
    }

    /// The clock ticked (every [`BEAT_INTERVAL`]): peers not heard from for
    /// [`NODE_TIMEOUT`] are torn down, peers down for [`FORGET_AFTER`] are forgotten.
    pub(crate) fn tick(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        let since = |p: &Peer, d: Duration| p.heard.is_none_or(|t| now.duration_since(t) > d);
        let late: Vec<NodeId> = self
            .peers
            .iter()
            .filter(|(_, p)| p.up && since(p, NODE_TIMEOUT))
            .map(|(&n, _)| n)
            .collect();
        for node in late {
            self.tear_down(now, node, "no beat came for 2 s", true, &mut out);
        }
        let forgotten: Vec<NodeId> = self
            .peers
            .iter()
            .filter(|(_, p)| !p.up && since(p, FORGET_AFTER))
            .map(|(&n, _)| n)
            .collect();
        for node in forgotten {
            self.peers.remove(&node);
            out.push(Action::Forget(node));
        }
        out
    }

    /// This node's connection to the server dropped: every peer that is up is torn down.
    pub(crate) fn disconnected(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        for node in self.up() {
            self.tear_down(
                now,
                node,
                "this node's NATS connection dropped",
                true,
                &mut out,
            );
        }
        out
    }

    /// The connection with `node` broke for a reason found outside the core (publishing to
    /// it failed, it sent a batch that does not decode): tear it down.
    pub(crate) fn broken(&mut self, now: Instant, node: NodeId, why: &str) -> Vec<Action> {
        let mut out = Vec::new();
        self.tear_down(now, node, why, true, &mut out);
        out
    }

    /// Make `node` named `name` a peer if it is not one (see "Admission"); `Err` says why
    /// it may not be.
    fn admit(&mut self, node: NodeId, name: &str, out: &mut Vec<Action>) -> Result<(), String> {
        if let Some(p) = self.peers.get(&node) {
            return if p.name == name {
                Ok(())
            } else {
                Err(format!("node {node} is {:?}, not {name:?}", p.name))
            };
        }
        if self.peers.len() >= self.max_peers {
            let down = self.peers.iter().find(|(_, p)| !p.up).map(|(&n, _)| n);
            let Some(old) = down else {
                return Err(format!(
                    "this node keeps at most {} peers (ClusterConfig::max_peers) and all are up",
                    self.max_peers
                ));
            };
            self.peers.remove(&old);
            out.push(Action::Forget(old));
        }
        self.peers.insert(
            node,
            Peer {
                name: name.to_string(),
                up: false,
                heard: None,
                stream: Stream::default(),
            },
        );
        out.push(Action::Admit {
            node,
            name: name.to_string(),
        });
        Ok(())
    }

    /// `node` (named `name`) was heard from: admitted if new, up if it was not. `false` if
    /// it may not be a peer.
    fn revive(&mut self, now: Instant, node: NodeId, name: &str, out: &mut Vec<Action>) -> bool {
        if let Err(why) = self.admit(node, name, out) {
            out.push(refuse(&format!("a beat or frame of node {node}: {why}")));
            return false;
        }
        let Some(p) = self.peers.get_mut(&node) else {
            return false;
        };
        p.heard = Some(now);
        if !p.up {
            p.up = true;
            out.push(Action::Up(node));
        }
        true
    }

    /// Tear `node` down (see [`Action::TearDown`]); `reset`: tell it, unless it is leaving
    /// anyway. Nothing if it is no peer.
    fn tear_down(
        &mut self,
        now: Instant,
        node: NodeId,
        why: &str,
        reset: bool,
        out: &mut Vec<Action>,
    ) {
        let Some(p) = self.peers.get_mut(&node) else {
            return;
        };
        let was_up = std::mem::replace(&mut p.up, false);
        // From now on it counts as down since now (for forgetting it).
        p.heard = Some(now);
        let broken = std::mem::take(&mut p.stream).session;
        out.push(Action::TearDown {
            node,
            why: why.to_string(),
            reset: (broken != 0 && reset).then_some(broken),
            was_up,
        });
    }
}

fn refuse(what: &str) -> Action {
    Action::Refuse(what.to_string())
}

#[cfg(test)]
mod tests {
    use super::super::wire::DATA_MORE;
    use super::*;

    const ME: NodeId = 1;
    const A: NodeId = 2;
    const WALL: u64 = 1_700_000_000_000;

    fn beat(node: NodeId, name: &str, counter: u64) -> BeatIn<'_> {
        BeatIn {
            node,
            name,
            subject_name: name,
            counter,
            sent_ms: WALL,
            now_ms: WALL,
            leaving: false,
        }
    }

    fn header(kind: u8, session: u64, seq: u64) -> Header {
        Header {
            kind,
            from: A,
            to: ME,
            session,
            seq,
        }
    }

    fn refused(actions: &[Action]) -> bool {
        matches!(actions, [Action::Refuse(_)])
    }

    fn torn_down(actions: &[Action]) -> Option<(String, Option<u64>, bool)> {
        actions.iter().find_map(|a| match a {
            Action::TearDown {
                why, reset, was_up, ..
            } => Some((why.clone(), *reset, *was_up)),
            _ => None,
        })
    }

    /// A core that has heard a beat from A ("a"), at `t0`.
    fn with_a_up(t0: Instant) -> Core {
        let mut core = Core::new(ME, true, 8);
        let actions = core.beat(t0, beat(A, "a", 1));
        assert_eq!(
            actions,
            [
                Action::Admit {
                    node: A,
                    name: "a".into()
                },
                Action::Up(A)
            ]
        );
        core
    }

    #[test]
    fn beats_keep_a_peer_up_and_their_absence_tears_it_down_then_it_is_forgotten() {
        let t0 = Instant::now();
        let mut core = with_a_up(t0);
        // Beats every 250 ms keep it up; ticks in between change nothing.
        let mut t = t0;
        for counter in 2..10 {
            t += BEAT_INTERVAL;
            assert_eq!(core.beat(t, beat(A, "a", counter)), []);
            assert_eq!(core.tick(t), []);
        }
        assert!(core.is_up(A));
        // Silence: down once NODE_TIMEOUT has passed since the last beat, not before.
        assert_eq!(core.tick(t + NODE_TIMEOUT), []);
        let actions = core.tick(t + NODE_TIMEOUT + Duration::from_millis(1));
        assert_eq!(
            torn_down(&actions),
            Some(("no beat came for 2 s".into(), None, true))
        );
        assert!(!core.is_up(A));
        // A beat brings it back up: same node, no new admission.
        let back = t + Duration::from_secs(3);
        assert_eq!(core.beat(back, beat(A, "a", 10)), [Action::Up(A)]);
        // Down again, then forgotten after FORGET_AFTER down.
        let down = back + NODE_TIMEOUT + Duration::from_millis(1);
        assert!(torn_down(&core.tick(down)).is_some());
        assert_eq!(core.tick(down + FORGET_AFTER), []);
        assert_eq!(
            core.tick(down + FORGET_AFTER + Duration::from_millis(1)),
            [Action::Forget(A)]
        );
        // Its floor stays: an old beat is still old after it is forgotten.
        assert!(refused(
            &core.beat(down + FORGET_AFTER * 2, beat(A, "a", 10))
        ));
        assert!(
            core.beat(down + FORGET_AFTER * 2, beat(A, "a", 11))
                .contains(&Action::Up(A))
        );
    }

    #[test]
    fn replayed_stale_and_misnamed_beats_are_refused() {
        let t0 = Instant::now();
        let mut core = with_a_up(t0);
        // The same counter again, or a lower one: a replay.
        assert!(refused(&core.beat(t0, beat(A, "a", 1))));
        // Sent far from now on our clock.
        let mut stale = beat(A, "a", 5);
        stale.sent_ms = WALL - 60_000;
        assert!(refused(&core.beat(t0, stale)));
        // Its number speaking for another name, or a subject naming another node.
        let mut other = beat(A, "b", 6);
        other.subject_name = "b";
        assert!(
            matches!(&core.beat(t0, other)[..], [Action::Refuse(why)] if why.contains("is \"a\", not \"b\""))
        );
        let mut subject = beat(A, "a", 7);
        subject.subject_name = "b";
        assert!(refused(&core.beat(t0, subject)));
        // Its own beats, and numbers no node has, are ignored.
        assert_eq!(core.beat(t0, beat(ME, "me", 1)), []);
        assert_eq!(core.beat(t0, beat(MAX_NODE + 1, "x", 1)), []);
        // Without a secret there are no floors: counters are not checked.
        let mut insecure = Core::new(ME, false, 8);
        assert!(insecure.beat(t0, beat(A, "a", 5)).contains(&Action::Up(A)));
        assert_eq!(insecure.beat(t0, beat(A, "a", 5)), []);
    }

    #[test]
    fn a_leaving_peer_is_torn_down_without_a_reset() {
        let t0 = Instant::now();
        let mut core = with_a_up(t0);
        // It sent a session first, so there is one a reset could name.
        core.frame(t0, &header(DATA_END, 100, 0), "a", b"", None);
        let mut leaving = beat(A, "a", 2);
        leaving.leaving = true;
        let actions = core.beat(t0, leaving);
        assert_eq!(
            torn_down(&actions),
            Some(("it left the cluster".into(), None, true))
        );
    }

    #[test]
    fn frames_are_taken_in_sequence_and_a_whole_batch_is_delivered() {
        let t0 = Instant::now();
        let mut core = Core::new(ME, true, 8);
        // The first frame of a session admits the peer; the batch's end makes it up.
        let actions = core.frame(t0, &header(DATA_MORE, 100, 0), "a", b"he", None);
        assert_eq!(
            actions,
            [Action::Admit {
                node: A,
                name: "a".into()
            }]
        );
        assert!(!core.is_up(A));
        let actions = core.frame(t0, &header(DATA_END, 100, 1), "a", b"llo", None);
        assert_eq!(
            actions,
            [
                Action::Up(A),
                Action::Batch {
                    node: A,
                    bytes: b"hello".to_vec()
                }
            ]
        );
        // A frame seen before is a replay.
        assert!(refused(&core.frame(
            t0,
            &header(DATA_END, 100, 1),
            "a",
            b"x",
            None
        )));
        // The next batch.
        assert_eq!(
            core.frame(t0, &header(DATA_END, 100, 2), "a", b"!", None),
            [Action::Batch {
                node: A,
                bytes: b"!".to_vec()
            }]
        );
    }

    #[test]
    fn a_gap_in_the_sequence_tears_the_peer_down_and_resets_its_stream() {
        let t0 = Instant::now();
        let mut core = Core::new(ME, true, 8);
        core.frame(t0, &header(DATA_END, 100, 0), "a", b"", None);
        assert!(core.is_up(A));
        let actions = core.frame(t0, &header(DATA_END, 100, 2), "a", b"", None);
        assert_eq!(
            torn_down(&actions),
            Some(("a frame from it was lost".into(), Some(100), true))
        );
        assert!(!core.is_up(A));
        // The rest of the broken session is old now.
        assert!(refused(&core.frame(
            t0,
            &header(DATA_END, 100, 3),
            "a",
            b"",
            None
        )));
        // The peer starts a new session from 0: up again, the batch delivered.
        let actions = core.frame(t0, &header(DATA_END, 101, 0), "a", b"ok", None);
        assert_eq!(
            actions,
            [
                Action::Up(A),
                Action::Batch {
                    node: A,
                    bytes: b"ok".to_vec()
                }
            ]
        );
    }

    #[test]
    fn a_session_whose_start_was_lost_is_reset_and_a_restarted_one_replaces_the_old() {
        let t0 = Instant::now();
        let mut core = Core::new(ME, true, 8);
        // Frames of a session this node never saw start: tell the peer to start again.
        let actions = core.frame(t0, &header(DATA_END, 100, 5), "a", b"", None);
        assert_eq!(
            actions,
            [
                Action::Admit {
                    node: A,
                    name: "a".into()
                },
                Action::Reset {
                    node: A,
                    session: 100
                }
            ]
        );
        core.frame(t0, &header(DATA_END, 101, 0), "a", b"", None);
        assert!(core.is_up(A));
        // A new session from 0 while one runs: the peer gave the old one up; ours fires.
        let actions = core.frame(t0, &header(DATA_END, 102, 0), "a", b"", None);
        assert_eq!(
            torn_down(&actions),
            Some(("it restarted its stream".into(), Some(101), true))
        );
        assert!(core.is_up(A), "up again with the new session");
        // An older session than the last seen: refused.
        assert!(refused(&core.frame(
            t0,
            &header(DATA_END, 101, 1),
            "a",
            b"",
            None
        )));
    }

    #[test]
    fn a_reset_tears_down_only_the_session_being_sent() {
        let t0 = Instant::now();
        let mut core = with_a_up(t0);
        // A reset naming a session this node no longer sends: nothing.
        assert_eq!(core.frame(t0, &header(RESET, 7, 0), "a", b"", Some(8)), []);
        let actions = core.frame(t0, &header(RESET, 8, 0), "a", b"", Some(8));
        assert_eq!(
            torn_down(&actions),
            Some(("it reset the stream from this node".into(), None, true))
        );
        assert_eq!(actions.last(), Some(&Action::Up(A)), "and up again at once");
    }

    #[test]
    fn frames_for_others_or_under_another_name_are_refused() {
        let t0 = Instant::now();
        let mut core = with_a_up(t0);
        let mut elsewhere = header(DATA_END, 100, 0);
        elsewhere.to = 9;
        assert!(refused(&core.frame(t0, &elsewhere, "a", b"", None)));
        assert!(refused(&core.frame(
            t0,
            &header(DATA_END, 100, 0),
            "b",
            b"",
            None
        )));
        assert!(refused(&core.frame(
            t0,
            &header(DATA_END, 100, 0),
            "a.b",
            b"",
            None
        )));
    }

    #[test]
    fn a_batch_over_the_limit_breaks_the_stream() {
        let t0 = Instant::now();
        let mut core = Core::new(ME, true, 8);
        core.max_batch = 512;
        let chunk = vec![0u8; 64];
        for seq in 0..8 {
            let actions = core.frame(t0, &header(DATA_MORE, 100, seq), "a", &chunk, None);
            assert!(torn_down(&actions).is_none(), "{seq}");
        }
        let actions = core.frame(t0, &header(DATA_MORE, 100, 8), "a", &[0], None);
        assert_eq!(
            torn_down(&actions).map(|t| t.0),
            Some("it sent a batch over 512 MiB".into())
        );
    }

    #[test]
    fn peers_are_bounded_and_a_down_one_makes_room() {
        let t0 = Instant::now();
        let mut core = Core::new(ME, true, 2);
        core.beat(t0, beat(2, "b", 1));
        core.beat(t0, beat(3, "c", 1));
        // Full of live peers: a third is refused.
        let actions = core.beat(t0, beat(4, "d", 1));
        assert!(matches!(&actions[..], [Action::Refuse(why)] if why.contains("at most 2 peers")));
        // One goes down (this node's connection dropped): room for the newcomer, which takes
        // the lowest-numbered down peer's place.
        assert_eq!(core.disconnected(t0).len(), 2);
        let actions = core.beat(t0, beat(4, "d", 2));
        assert_eq!(
            actions,
            [
                Action::Forget(2),
                Action::Admit {
                    node: 4,
                    name: "d".into()
                },
                Action::Up(4)
            ]
        );
        assert_eq!(core.up(), [4]);
    }

    #[test]
    fn a_broken_publish_tears_down_and_an_unknown_node_is_nothing() {
        let t0 = Instant::now();
        let mut core = with_a_up(t0);
        assert_eq!(core.broken(t0, 9, "publishing failed"), []);
        let actions = core.broken(t0, A, "publishing failed");
        assert_eq!(
            torn_down(&actions),
            Some(("publishing failed".into(), None, true))
        );
        // Torn down twice: the second is not "was up" (nothing fires twice).
        let again = core.broken(t0, A, "publishing failed");
        assert_eq!(torn_down(&again).map(|t| t.2), Some(false));
    }
}
