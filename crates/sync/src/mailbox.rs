//! A mailbox queue: ordered, with selective receive, a byte limit, and waiting tasks.
//!
//! Every item carries a `tag` ([`Queued::tag`]). Tag 0 marks ordinary messages; a non-zero
//! tag marks one that somebody waits for specifically — a reply to a request, the DOWN of a
//! monitor — and only a receive that names it takes it. A selective receive leaves every
//! other item queued in its order.
//!
//! Only the owner receives, but it may wait for several things at once (`select` on ordinary
//! messages and on exit signals; a host mailbox's receive next to a wait for a DOWN): a push
//! wakes every waiter, and each looks again for what it wants. A waiter registers its waker
//! under the queue's lock, in the same critical section that found nothing for it, so no push
//! can slip between the look and the wait (`tests/loom.rs`); a push with nobody waiting costs
//! no more than the lock it takes anyway.
//!
//! The queue holds at most `limit` bytes ([`Queued::cost`] of each item) — its quota; a push
//! beyond that is refused with [`Refused::Full`].
//!
//! It may also have a [`Bound`]: fewer messages or bytes than the quota, past which a
//! *bounded* push ([`Queue::push_bounded`], what an ordinary send between processes is)
//! finds the queue full and does as the bound says ([`WhenFull`]): hand the item back so the
//! sender waits for room ([`Queue::poll_room`]) or fails, drop the oldest ordinary item or the
//! new one (counted), or refuse it as over the quota. A plain [`Queue::push`] (an exit
//! signal, a DOWN, a timer's message, a reply) is never held back by the bound: it counts
//! against the quota only. A take, a close and a new bound wake the senders waiting for
//! room, as a push wakes the receivers. Once [`Queue::close`]d (its owner has exited) it drops
//! what it held and refuses every push with [`Refused::Closed`]. A refused or drained item is
//! dropped outside the lock (its `Drop` may close a socket).

use crate::prim::{AtomicBool, Mutex, MutexGuard, Ordering, lock};
use std::collections::VecDeque;
use std::task::{Context, Poll, Waker};

/// What a queue holds.
pub trait Queued {
    /// 0 for an ordinary message; otherwise the reference a selective receive waits for.
    fn tag(&self) -> u64;
    /// Bytes this item is charged against the queue's limit.
    fn cost(&self) -> usize;
}

/// Why a push was refused (the item is dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The owner has exited.
    Closed,
    /// The queue holds `queued` bytes; this item would take it over `limit`.
    Full { queued: usize, limit: usize },
    /// The queue is full by its bound, whose policy is [`WhenFull::End`].
    OverBound {
        bound: Bound,
        messages: usize,
        bytes: usize,
    },
}

/// What a full bounded queue does with one more bounded push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// Hand the item back ([`Pushed::Full`]): the sender waits for room and tries again.
    Block,
    /// Hand the item back ([`Pushed::Full`]): the sender's send fails.
    Fail,
    /// Drop the oldest ordinary (tag 0) items until the new one fits, and queue it.
    DropOldest,
    /// Drop the new item.
    DropNewest,
    /// Refuse it as over the quota ([`Refused::Full`]): the owner is ended, as when its quota
    /// is exceeded.
    End,
}

/// A bound on a queue, below its quota: at most `messages` items and `bytes` bytes (an item
/// larger than `bytes` still fits an empty queue, or it never would).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    pub messages: usize,
    pub bytes: usize,
    pub when_full: WhenFull,
}

/// What a bounded push did.
#[derive(Debug, PartialEq, Eq)]
pub enum Pushed<M> {
    /// Queued (under `DropOldest`, after dropping `dropped` older items).
    Queued { dropped: usize },
    /// Dropped, the queue being full (`DropNewest`).
    Dropped,
    /// Not queued, the queue being full: the item, handed back (`Block`, `Fail`).
    Full(M),
}

/// A queue's counters, read under its lock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Census {
    /// Items queued.
    pub messages: usize,
    /// Their cost, in bytes.
    pub bytes: usize,
    /// Items a full bounded queue dropped (`DropOldest`, `DropNewest`), ever.
    pub dropped: u64,
    /// Bounded pushes a full queue handed back (`Block`, `Fail`), ever.
    pub refused: u64,
    /// Senders waiting for room now.
    pub waiting_senders: usize,
}

#[derive(Debug)]
struct Inner<M> {
    items: VecDeque<M>,
    /// Sum of the queued items' [`Queued::cost`].
    bytes: usize,
    /// The task waiting (almost always the only one), woken and forgotten by the next push;
    /// kept apart so the common case never allocates.
    waiter: Option<Waker>,
    /// Further waiting tasks (a `select` on two filters, a host mailbox used from two tasks).
    more_waiters: Vec<Waker>,
    /// The bound, if any.
    bound: Option<Bound>,
    /// Tasks waiting for room (senders to a full bounded queue), woken by a take, a close or
    /// a new bound.
    senders: Vec<Waker>,
    dropped: u64,
    refused: u64,
}

impl<M> Default for Inner<M> {
    fn default() -> Self {
        Inner {
            items: VecDeque::new(),
            bytes: 0,
            waiter: None,
            more_waiters: Vec::new(),
            bound: None,
            senders: Vec::new(),
            dropped: 0,
            refused: 0,
        }
    }
}

impl<M: Queued> Inner<M> {
    fn remove(&mut self, i: usize) -> Option<M> {
        let m = self.items.remove(i)?;
        self.bytes -= m.cost();
        Some(m)
    }

    /// Whether an item of `cost` fits within the bound (always, without one; always in an
    /// empty queue).
    fn has_room(&self, cost: usize) -> bool {
        match &self.bound {
            None => true,
            Some(b) => {
                self.items.is_empty()
                    || (self.items.len() < b.messages && self.bytes.saturating_add(cost) <= b.bytes)
            }
        }
    }

    /// The senders waiting for room, to wake (outside the lock) when room may have come.
    fn senders_to_wake(&mut self) -> Vec<Waker> {
        std::mem::take(&mut self.senders)
    }

    /// Register `waker` to be woken when room may have come (once per task).
    fn wait_for_room(&mut self, waker: &Waker) {
        if !self.senders.iter().any(|w| w.will_wake(waker)) {
            self.senders.push(waker.clone());
        }
    }

    /// Wake `waker` at the next push (once, however often a task registers).
    fn wait(&mut self, waker: &Waker) {
        match &self.waiter {
            None => self.waiter = Some(waker.clone()),
            Some(w) if w.will_wake(waker) => {}
            Some(_) => {
                if !self.more_waiters.iter().any(|w| w.will_wake(waker)) {
                    self.more_waiters.push(waker.clone());
                }
            }
        }
    }
}

/// An ordered queue with selective receive, a byte limit and waiting tasks.
#[derive(Debug)]
pub struct Queue<M> {
    inner: Mutex<Inner<M>>,
    /// Most bytes queued at once.
    limit: usize,
    /// Set when the owner has exited: later items are dropped at once instead of waiting in
    /// a queue nobody reads.
    closed: AtomicBool,
}

impl<M: Queued> Queue<M> {
    /// A queue holding at most `limit` bytes.
    pub fn with_limit(limit: usize) -> Self {
        Queue {
            inner: Mutex::new(Inner::default()),
            limit,
            closed: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<M>> {
        lock(&self.inner)
    }

    /// Queue an item and wake every waiting task, whatever the bound (an exit signal, a
    /// DOWN, a timer's message, a reply). Refused (and the item dropped, outside the lock) if
    /// the queue is closed or over its quota.
    pub fn push(&self, item: M) -> Result<(), Refused> {
        let q = self.lock();
        if let Some(refused) = self.refusal(&q, item.cost()) {
            drop(q);
            drop(item);
            return Err(refused);
        }
        Self::enqueue(q, item);
        Ok(())
    }

    /// Queue an item sent under the bound (an ordinary message from a process): as
    /// [`Queue::push`] while there is room, else as the bound says ([`WhenFull`]).
    pub fn push_bounded(&self, item: M) -> Result<Pushed<M>, Refused> {
        let mut q = self.lock();
        let cost = item.cost();
        if let Some(refused) = self.refusal(&q, cost) {
            drop(q);
            drop(item);
            return Err(refused);
        }
        let Some(bound) = q.bound else {
            Self::enqueue(q, item);
            return Ok(Pushed::Queued { dropped: 0 });
        };
        if q.has_room(cost) {
            Self::enqueue(q, item);
            return Ok(Pushed::Queued { dropped: 0 });
        }
        match bound.when_full {
            WhenFull::Block | WhenFull::Fail => {
                q.refused += 1;
                Ok(Pushed::Full(item))
            }
            WhenFull::DropNewest => {
                q.dropped += 1;
                drop(q);
                drop(item);
                Ok(Pushed::Dropped)
            }
            WhenFull::End => {
                let (messages, bytes) = (q.items.len(), q.bytes);
                drop(q);
                drop(item);
                Err(Refused::OverBound {
                    bound,
                    messages,
                    bytes,
                })
            }
            WhenFull::DropOldest => {
                let mut evicted = Vec::new();
                while !q.has_room(cost) {
                    let Some(i) = q.items.iter().position(|m| m.tag() == 0) else {
                        break;
                    };
                    if let Some(m) = q.remove(i) {
                        evicted.push(m);
                    }
                }
                if !q.has_room(cost) {
                    // Nothing ordinary is left to drop (only replies, DOWNs, exit signals):
                    // the new item goes instead.
                    q.dropped += evicted.len() as u64 + 1;
                    drop(q);
                    drop(evicted);
                    drop(item);
                    return Ok(Pushed::Dropped);
                }
                let dropped = evicted.len();
                q.dropped += dropped as u64;
                Self::enqueue(q, item);
                drop(evicted);
                Ok(Pushed::Queued { dropped })
            }
        }
    }

    /// Why a push of `cost` bytes is refused whatever the bound: closed, or over the quota.
    fn refusal(&self, q: &Inner<M>, cost: usize) -> Option<Refused> {
        if self.closed.load(Ordering::Acquire) {
            Some(Refused::Closed)
        } else if q.bytes.saturating_add(cost) > self.limit {
            Some(Refused::Full {
                queued: q.bytes,
                limit: self.limit,
            })
        } else {
            None
        }
    }

    /// Queue `item` under the lock `q`, then wake the receivers outside it.
    fn enqueue(mut q: MutexGuard<'_, Inner<M>>, item: M) {
        q.bytes += item.cost();
        q.items.push_back(item);
        let waiter = q.waiter.take();
        let more = if q.more_waiters.is_empty() {
            Vec::new()
        } else {
            std::mem::take(&mut q.more_waiters)
        };
        drop(q);
        if let Some(w) = waiter {
            w.wake();
        }
        for w in more {
            w.wake();
        }
    }

    /// Ready when an item of `cost` bytes fits within the bound — or there is no bound, or
    /// the queue is closed (a push then says so); otherwise the task of `cx` is woken when
    /// room may have come (a take, a close, a new bound).
    pub fn poll_room(&self, cx: &mut Context<'_>, cost: usize) -> Poll<()> {
        let mut q = self.lock();
        if self.closed.load(Ordering::Acquire) || q.has_room(cost) {
            return Poll::Ready(());
        }
        q.wait_for_room(cx.waker());
        Poll::Pending
    }

    /// Set the bound (`None`: none but the quota). Items already queued stay, even beyond
    /// it; the senders waiting for room look again.
    pub fn set_bound(&self, bound: Option<Bound>) {
        let mut q = self.lock();
        q.bound = bound;
        let senders = q.senders_to_wake();
        drop(q);
        senders.into_iter().for_each(Waker::wake);
    }

    /// The bound, if any.
    pub fn bound(&self) -> Option<Bound> {
        self.lock().bound
    }

    /// Close the queue: drop every queued item (outside the lock) and refuse new ones.
    pub fn close(&self) {
        let mut drained: Inner<M> = {
            let mut q = self.lock();
            self.closed.store(true, Ordering::Release);
            let bound = q.bound;
            let kept = Inner {
                bound,
                dropped: q.dropped,
                refused: q.refused,
                ..Inner::default()
            };
            std::mem::replace(&mut *q, kept)
        };
        // Senders waiting for room learn that the owner is gone (their push says so).
        drained.senders_to_wake().into_iter().for_each(Waker::wake);
        drop(drained);
    }

    /// Ready when an item whose tag satisfies `wanted` is queued (without taking it);
    /// otherwise the task of `cx` is woken by the next push. Any number of tasks may wait.
    pub fn poll_ready(&self, cx: &mut Context<'_>, wanted: impl Fn(u64) -> bool) -> Poll<()> {
        let mut q = self.lock();
        if q.items.iter().any(|m| wanted(m.tag())) {
            return Poll::Ready(());
        }
        q.wait(cx.waker());
        Poll::Pending
    }

    /// Take the first item whose tag satisfies `wanted`; otherwise the task of `cx` is woken
    /// by the next push.
    pub fn poll_take(&self, cx: &mut Context<'_>, wanted: impl Fn(u64) -> bool) -> Poll<M> {
        let mut q = self.lock();
        if let Some(m) = Self::take_locked(&mut q, &wanted) {
            Self::room_made(q);
            return Poll::Ready(m);
        }
        q.wait(cx.waker());
        Poll::Pending
    }

    /// Take the first item whose tag satisfies `wanted`, if one is queued.
    pub fn try_take_where(&self, wanted: impl Fn(u64) -> bool) -> Option<M> {
        let mut q = self.lock();
        let m = Self::take_locked(&mut q, &wanted)?;
        Self::room_made(q);
        Some(m)
    }

    fn take_locked(q: &mut Inner<M>, wanted: &impl Fn(u64) -> bool) -> Option<M> {
        let i = q.items.iter().position(|m| wanted(m.tag()))?;
        q.remove(i)
    }

    /// An item left: wake the senders waiting for room (outside the lock), if any.
    fn room_made(mut q: MutexGuard<'_, Inner<M>>) {
        if q.senders.is_empty() {
            return;
        }
        let senders = q.senders_to_wake();
        drop(q);
        senders.into_iter().for_each(Waker::wake);
    }

    /// How many items are queued and the bytes they are charged, read under one lock.
    pub fn census(&self) -> (usize, usize) {
        let q = self.lock();
        (q.items.len(), q.bytes)
    }

    /// The queue's counters, read under one lock.
    pub fn counters(&self) -> Census {
        let q = self.lock();
        Census {
            messages: q.items.len(),
            bytes: q.bytes,
            dropped: q.dropped,
            refused: q.refused,
            waiting_senders: q.senders.len(),
        }
    }
}

#[cfg(all(test, not(feature = "loom")))]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct M(u64, u32);

    impl Queued for M {
        fn tag(&self) -> u64 {
            self.0
        }
        fn cost(&self) -> usize {
            10
        }
    }

    fn bounded(messages: usize, when_full: WhenFull) -> Queue<M> {
        let q = Queue::with_limit(1000);
        q.set_bound(Some(Bound {
            messages,
            bytes: usize::MAX,
            when_full,
        }));
        q
    }

    fn ordinary(q: &Queue<M>) -> Vec<u32> {
        std::iter::from_fn(|| q.try_take_where(|t| t == 0))
            .map(|m| m.1)
            .collect()
    }

    #[test]
    fn block_and_fail_hand_the_item_back_and_count_it() {
        for when_full in [WhenFull::Block, WhenFull::Fail] {
            let q = bounded(2, when_full);
            assert_eq!(q.push_bounded(M(0, 1)), Ok(Pushed::Queued { dropped: 0 }));
            assert_eq!(q.push_bounded(M(0, 2)), Ok(Pushed::Queued { dropped: 0 }));
            assert_eq!(q.push_bounded(M(0, 3)), Ok(Pushed::Full(M(0, 3))));
            assert_eq!(q.counters().refused, 1);
            assert_eq!(ordinary(&q), [1, 2]);
        }
    }

    #[test]
    fn drop_oldest_drops_only_ordinary_items_and_counts_them() {
        let q = bounded(2, WhenFull::DropOldest);
        q.push(M(7, 100)).unwrap(); // a reply: never dropped, but it fills the queue
        q.push_bounded(M(0, 1)).unwrap();
        assert_eq!(q.push_bounded(M(0, 2)), Ok(Pushed::Queued { dropped: 1 }));
        assert_eq!(q.push_bounded(M(0, 3)), Ok(Pushed::Queued { dropped: 1 }));
        assert_eq!(q.counters().dropped, 2);
        assert_eq!(ordinary(&q), [3]);
        assert_eq!(q.try_take_where(|t| t == 7), Some(M(7, 100)));
    }

    #[test]
    fn drop_oldest_with_nothing_ordinary_to_drop_drops_the_new_item() {
        let q = bounded(1, WhenFull::DropOldest);
        q.push(M(7, 100)).unwrap();
        assert_eq!(q.push_bounded(M(0, 1)), Ok(Pushed::Dropped));
        assert_eq!(q.counters().dropped, 1);
        assert_eq!(q.census(), (1, 10));
    }

    #[test]
    fn drop_newest_keeps_the_queue_and_counts() {
        let q = bounded(1, WhenFull::DropNewest);
        q.push_bounded(M(0, 1)).unwrap();
        assert_eq!(q.push_bounded(M(0, 2)), Ok(Pushed::Dropped));
        assert_eq!(q.push_bounded(M(0, 3)), Ok(Pushed::Dropped));
        assert_eq!(q.counters().dropped, 2);
        assert_eq!(ordinary(&q), [1]);
    }

    #[test]
    fn end_refuses_with_the_bound() {
        let q = bounded(1, WhenFull::End);
        q.push_bounded(M(0, 1)).unwrap();
        assert!(matches!(
            q.push_bounded(M(0, 2)),
            Err(Refused::OverBound { messages: 1, .. })
        ));
    }

    #[test]
    fn plain_pushes_go_beyond_the_bound_but_not_the_quota() {
        let q = bounded(1, WhenFull::Fail);
        for i in 0..100 {
            q.push(M(0, i)).unwrap();
        }
        assert_eq!(
            q.push(M(0, 100)),
            Err(Refused::Full {
                queued: 1000,
                limit: 1000
            })
        );
    }

    #[test]
    fn a_byte_bound_lets_one_oversized_item_into_an_empty_queue() {
        let q = Queue::with_limit(1000);
        q.set_bound(Some(Bound {
            messages: usize::MAX,
            bytes: 5,
            when_full: WhenFull::Fail,
        }));
        assert_eq!(q.push_bounded(M(0, 1)), Ok(Pushed::Queued { dropped: 0 }));
        assert_eq!(q.push_bounded(M(0, 2)), Ok(Pushed::Full(M(0, 2))));
    }

    #[test]
    fn a_close_keeps_the_bound_and_the_counts() {
        let q = bounded(1, WhenFull::DropNewest);
        q.push_bounded(M(0, 1)).unwrap();
        q.push_bounded(M(0, 2)).unwrap();
        q.close();
        assert_eq!(q.counters().dropped, 1);
        assert!(q.bound().is_some());
        assert_eq!(q.push_bounded(M(0, 3)), Err(Refused::Closed));
    }
}
