//! Bounded mailboxes across nodes: a process's ordinary message to a process of another node
//! is held to the receiver's bound where the receiver is, without holding up anything else
//! sent between the two nodes.
//!
//! The model, for a sending node S and a receiving node R:
//!
//! - S carries a process's ordinary send (tag 0) as [`Signal::Message`] with `bounded` set.
//!   R offers it to the receiver's mailbox under its bound, as a local send is offered.
//! - When the bound hands it back (its policy is to block or fail the sender), R **parks** it
//!   in a queue for (S, receiver) and answers S with [`Signal::Full`], carrying the bound.
//!   Messages S sent before it heard that (they were on their way) are parked behind it, in
//!   order: none is lost, none overtakes another. A *drain* task waits for room in the
//!   receiver's mailbox, moves the parked messages in one by one, and once none is left tells
//!   S [`Signal::Room`].
//! - From `Full` until `Room`, S hands its processes' ordinary sends to that receiver back
//!   (`Sent::Full`): a blocking send waits in `await_room` (on [`ProcessTable::room`]), a
//!   failing one returns `ERR_FULL`. Other processes' traffic between S and R — to other
//!   receivers, replies, signals — flows on: parking is per receiver.
//! - What S is told is bounded per peer ([`MAX_FULL_PER_NODE`] receivers), and what R parks
//!   for a receiver counts with its queued messages against its mailbox quota: a peer that
//!   ignored `Full` and flooded would end the receiver with `limit: mailbox`, as any message
//!   over the quota does.
//! - When S and R lose each other (`node_down`), S forgets what R told it (its waiting
//!   senders send again, and find R down or back), and R keeps draining what it parked but
//!   will tell S `Full` again if S sends more before the parked messages are in.
//!
//! The drop policies and "end the receiver" never hand a message back, so for them R only
//! offers: the same outcome as a local send.

use super::bounds::bound_to_wire;
use super::mailbox::{Bound, Refused, WhenFull};
use super::remote::{NodeId, Signal};
use super::table::Sent;
use super::{Message, Pid, ProcessRef, ProcessTable};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;
use tokio::sync::futures::Notified;
use warren_abi::{node_of, node_pid};

/// Most receivers one peer may have said are full at once (more `Full` signals are ignored:
/// sends to those receivers go, and are parked there).
pub(crate) const MAX_FULL_PER_NODE: usize = 65_536;

/// Both halves' state (a field of the process table).
#[derive(Debug, Default)]
pub(crate) struct RemoteFlow {
    /// Receiving half: per (sending node, receiver here), the messages parked for it.
    parked: Mutex<HashMap<(NodeId, Pid), Parked>>,
    /// Sending half: per node, its processes that said their mailbox is full, and their bound.
    full: Mutex<HashMap<NodeId, HashMap<Pid, Bound>>>,
    /// Woken when a receiver of another node has room again (or its node went down).
    room: Notify,
    /// Messages parked here now (changed under `parked`'s lock).
    parked_count: AtomicUsize,
}

/// What is parked for one receiver from one node.
#[derive(Debug, Default)]
struct Parked {
    queue: VecDeque<Message>,
    /// Their cost ([`Message::cost`]).
    bytes: usize,
    /// Whether the sending node was told `Full` since it last came up.
    told: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl RemoteFlow {
    /// The bound of `to` (a process of another node), if its node said its mailbox is full.
    pub(crate) fn full(&self, to: Pid) -> Option<Bound> {
        lock(&self.full).get(&node_of(to))?.get(&to).copied()
    }

    /// Something to wait on while `to` (of another node) is full; `None` if it is not.
    pub(crate) fn until_room(&self, to: Pid) -> Option<Notified<'_>> {
        let full = lock(&self.full);
        // Made under the lock `Room` removes `to` under: its wake-up cannot be missed.
        let room = self.room.notified();
        full.get(&node_of(to))?.contains_key(&to).then_some(room)
    }

    /// Park `message` at the end of `queue`.
    fn park(&self, queue: &mut Parked, message: Message) {
        queue.bytes += message.cost();
        queue.queue.push_back(message);
        self.parked_count.fetch_add(1, Ordering::Relaxed);
    }

    /// Messages parked here now, from every node (for `/metrics` and tests).
    pub(crate) fn parked(&self) -> usize {
        self.parked_count.load(Ordering::Relaxed)
    }
}

impl ProcessTable {
    /// An ordinary message from a process of node `from` to `to`, a process here: offered
    /// under `to`'s bound, or parked (see the module docs).
    pub(super) fn offer_from_node(self: &Arc<Self>, from: NodeId, to: Pid, data: Vec<u8>) {
        let Some(p) = self.get(to) else { return };
        let message = Message::new(0, data);
        let mut parked = lock(&self.flow().parked);
        if let Some(queue) = parked.get_mut(&(from, to)) {
            // Behind what is parked already, in order.
            let queued = p.mailbox.census().1;
            let limit = self.quotas().mailbox_bytes;
            if queued + queue.bytes + message.cost() > limit {
                let parked_bytes = queue.bytes;
                drop(parked);
                tracing::warn!(
                    pid = to,
                    node = from,
                    "messages parked from another node exceed the mailbox quota"
                );
                self.refused(
                    &p,
                    Refused::Full {
                        queued: queued.saturating_add(parked_bytes),
                        limit,
                    },
                );
                return;
            }
            self.flow().park(queue, message);
            let tell = !std::mem::replace(&mut queue.told, true);
            drop(parked);
            if tell && let Some(bound) = p.mailbox.bound() {
                self.tell_full(from, to, bound);
            }
            return;
        }
        // Offered under the same lock the drain moves parked messages in under: a message
        // cannot overtake one being moved.
        match self.offer(&p, message) {
            Sent::Full { message, bound } => {
                let mut queue = Parked {
                    told: true,
                    ..Parked::default()
                };
                self.flow().park(&mut queue, message);
                parked.insert((from, to), queue);
                drop(parked);
                if let Some(bound) = bound {
                    self.tell_full(from, to, bound);
                }
                self.start_drain(from, p);
            }
            Sent::Delivered | Sent::NoProcess => {}
        }
    }

    /// Tell node `node` that `to`'s mailbox is full.
    fn tell_full(&self, node: NodeId, to: Pid, bound: Bound) {
        let (messages, bytes, _) = bound_to_wire(&bound);
        let _ = self.signal(Signal::Full {
            node: node_pid(node),
            to,
            messages,
            bytes,
            fail: bound.when_full == WhenFull::Fail,
        });
    }

    /// Move what is parked for `to` from `node` into its mailbox as room comes, then tell
    /// `node`, on a task of its own (signals from other nodes are applied on the runtime's
    /// tokio runtime; outside one, nothing would drain, and that is logged).
    fn start_drain(self: &Arc<Self>, node: NodeId, to: Arc<ProcessRef>) {
        let table = self.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move { table.drain(node, to).await });
            }
            Err(_) => tracing::error!("no tokio runtime to drain parked messages on"),
        }
    }

    async fn drain(self: Arc<Self>, node: NodeId, to: Arc<ProcessRef>) {
        let key = (node, to.pid());
        loop {
            let cost = {
                let mut parked = lock(&self.flow().parked);
                let front = parked
                    .get(&key)
                    .and_then(|q| q.queue.front().map(Message::cost));
                match front {
                    Some(cost) if to.is_alive() => cost,
                    _ => {
                        // All in (or `to` is gone: what is left goes with it).
                        let left = parked.remove(&key);
                        let told = left.as_ref().is_some_and(|q| q.told);
                        let dropped = left.map_or(0, |q| q.queue.len());
                        self.flow()
                            .parked_count
                            .fetch_sub(dropped, Ordering::Relaxed);
                        drop(parked);
                        if told {
                            let _ = self.signal(Signal::Room {
                                node: node_pid(node),
                                to: to.pid(),
                            });
                        }
                        return;
                    }
                }
            };
            // Resolves at once once `to` is gone.
            to.mailbox.room(cost).await;
            let mut parked = lock(&self.flow().parked);
            let Some(queue) = parked.get_mut(&key) else {
                return;
            };
            let Some(message) = queue.queue.pop_front() else {
                continue;
            };
            let cost = message.cost();
            match self.offer(&to, message) {
                // Another sender took the room first: wait again.
                Sent::Full { message, .. } => queue.queue.push_front(message),
                Sent::Delivered | Sent::NoProcess => {
                    queue.bytes -= cost;
                    self.flow().parked_count.fetch_sub(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Node `from` says `to`, one of its processes, is full (`bound`), or has room (`None`).
    pub(super) fn remote_full(&self, from: NodeId, to: Pid, bound: Option<Bound>) {
        let mut full = lock(&self.flow().full);
        match bound {
            Some(bound) => {
                let told = full.entry(from).or_default();
                if told.len() < MAX_FULL_PER_NODE || told.contains_key(&to) {
                    told.insert(to, bound);
                }
            }
            None => {
                if let Some(told) = full.get_mut(&from) {
                    told.remove(&to);
                    if told.is_empty() {
                        full.remove(&from);
                    }
                }
                drop(full);
                self.flow().room.notify_waiters();
            }
        }
    }

    /// Node `node` went down: what it said is full is forgotten (its senders here look
    /// again), and it is to be told again about what is still parked for it.
    pub(super) fn flow_node_down(&self, node: NodeId) {
        lock(&self.flow().full).remove(&node);
        self.flow().room.notify_waiters();
        for ((from, _), queue) in lock(&self.flow().parked).iter_mut() {
            if *from == node {
                queue.told = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::remote::{Remote, Unreachable};
    use super::super::{ExitReason, Quotas};
    use super::*;

    const R: NodeId = 1;
    const S: NodeId = 2;

    /// A cluster stand-in for node R: records what is routed to node S.
    #[derive(Debug, Default)]
    struct Recorder(Mutex<Vec<Signal>>);

    impl Remote for Recorder {
        fn route(&self, signal: Signal) -> Result<(), Unreachable> {
            lock(&self.0).push(signal);
            Ok(())
        }
        fn exited_with_global_names(&self, _: Pid) {}
    }

    impl Recorder {
        fn take(&self) -> Vec<Signal> {
            std::mem::take(&mut lock(&self.0))
        }
    }

    fn node(me: NodeId, mailbox_bytes: usize) -> (Arc<ProcessTable>, Arc<Recorder>) {
        let rec = Arc::new(Recorder::default());
        let quotas = Quotas {
            mailbox_bytes,
            ..Quotas::default()
        };
        let t = ProcessTable::with_quotas(10, "", quotas).in_cluster(me, rec.clone());
        (Arc::new(t), rec)
    }

    fn send(t: &Arc<ProcessTable>, to: Pid, byte: u8) {
        t.apply(
            S,
            Signal::Message {
                to,
                tag: 0,
                data: vec![byte],
                bounded: true,
            },
        );
    }

    fn bounded(p: &ProcessRef, messages: usize, when_full: WhenFull) {
        p.mailbox.set_bound(Some(Bound {
            messages,
            bytes: usize::MAX,
            when_full,
        }));
    }

    /// Yield until `done` holds (the drain runs on a task of its own).
    async fn until(mut done: impl FnMut() -> bool) {
        for _ in 0..10_000 {
            if done() {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("the drain did not get there");
    }

    #[tokio::test]
    async fn a_full_receiver_parks_what_a_node_sends_tells_it_once_and_drains_in_order() {
        let (t, rec) = node(R, 1 << 20);
        let p = t.register().unwrap();
        bounded(&p, 2, WhenFull::Block);
        for byte in 0..5 {
            send(&t, p.pid(), byte);
        }
        assert_eq!(p.mailbox.census().0, 2, "the bound holds");
        assert_eq!(t.flow().parked(), 3);
        assert_eq!(
            rec.take(),
            [Signal::Full {
                node: node_pid(S),
                to: p.pid(),
                messages: 2,
                bytes: u64::MAX,
                fail: false,
            }],
            "told once"
        );
        // What must not wait (a non-bounded message: the host's, a reply) is not parked.
        t.apply(
            S,
            Signal::Message {
                to: p.pid(),
                tag: 0,
                data: vec![9],
                bounded: false,
            },
        );
        let mut got = Vec::new();
        while got.len() < 6 {
            until(|| p.mailbox.census().0 > 0).await;
            got.push(p.mailbox.try_take(0).expect("a message").data[0]);
        }
        assert_eq!(got, [0, 1, 9, 2, 3, 4], "in the order sent");
        until(|| lock(&t.flow().parked).is_empty()).await;
        assert_eq!(
            rec.take(),
            [Signal::Room {
                node: node_pid(S),
                to: p.pid(),
            }],
            "room, once all parked is in"
        );
    }

    #[tokio::test]
    async fn a_failing_bound_is_told_as_such_and_what_was_on_its_way_still_arrives() {
        let (t, rec) = node(R, 1 << 20);
        let p = t.register().unwrap();
        bounded(&p, 1, WhenFull::Fail);
        for byte in 0..3 {
            send(&t, p.pid(), byte);
        }
        assert!(matches!(
            &rec.take()[..],
            [Signal::Full {
                fail: true,
                messages: 1,
                ..
            }]
        ));
        let mut got = Vec::new();
        while got.len() < 3 {
            until(|| p.mailbox.census().0 > 0).await;
            got.push(p.mailbox.try_take(0).expect("a message").data[0]);
        }
        assert_eq!(got, [0, 1, 2]);
        until(|| lock(&t.flow().parked).is_empty()).await;
        assert!(matches!(&rec.take()[..], [Signal::Room { .. }]));
    }

    #[tokio::test]
    async fn a_receiver_that_ends_takes_what_was_parked_and_its_node_says_room() {
        let (t, rec) = node(R, 1 << 20);
        let p = t.register().unwrap();
        bounded(&p, 1, WhenFull::Block);
        send(&t, p.pid(), 0);
        send(&t, p.pid(), 1);
        assert_eq!(t.flow().parked(), 1);
        rec.take();
        t.exit(p.pid(), &ExitReason::Killed);
        until(|| !lock(&rec.0).is_empty()).await;
        assert_eq!(
            rec.take(),
            [Signal::Room {
                node: node_pid(S),
                to: p.pid()
            }]
        );
        assert_eq!(t.flow().parked(), 0);
    }

    #[tokio::test]
    async fn a_node_that_ignores_full_ends_the_receiver_at_its_quota() {
        let (t, _rec) = node(R, 1000);
        let p = t.register().unwrap();
        bounded(&p, 1, WhenFull::Block);
        for _ in 0..20 {
            send(&t, p.pid(), 0);
        }
        assert!(
            matches!(p.exit_reason(), ExitReason::Limit(why) if why.starts_with("mailbox")),
            "{:?}",
            p.exit_reason()
        );
    }

    #[tokio::test]
    async fn the_sending_node_hands_sends_back_from_full_until_room() {
        let (t, _rec) = node(S, 1 << 20);
        let far = node_pid(R) + 5;
        let full = |fail| Signal::Full {
            node: node_pid(S),
            to: far,
            messages: 4,
            bytes: u64::MAX,
            fail,
        };
        // Only R may say its process is full.
        t.apply(3, full(true));
        assert_eq!(t.flow().full(far), None);
        t.apply(R, full(true));
        let bound = t.flow().full(far).expect("told full");
        assert_eq!((bound.messages, bound.when_full), (4, WhenFull::Fail));
        let sent = t.send_via(far, Message::new(0, vec![1]), &mut None, true);
        assert!(matches!(sent, Ok(Sent::Full { message, .. }) if message.data == [1]));
        // What is not an ordinary send of a process goes.
        let sent = t.send_via(far, Message::new(0, vec![1]), &mut None, false);
        assert!(matches!(sent, Ok(Sent::Delivered)));
        // Room: a waiting sender goes on.
        let waiting = tokio::spawn({
            let t = t.clone();
            async move { t.room(far, 1).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        t.apply(
            R,
            Signal::Room {
                node: node_pid(S),
                to: far,
            },
        );
        waiting.await.expect("the waiter");
        assert_eq!(t.flow().full(far), None);
        // Told again, then R goes down: forgotten, its waiters go on.
        t.apply(R, full(false));
        let waiting = tokio::spawn({
            let t = t.clone();
            async move { t.room(far, 1).await }
        });
        tokio::task::yield_now().await;
        t.node_down(R);
        waiting.await.expect("the waiter");
        assert_eq!(t.flow().full(far), None);
    }
}
