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
//! The queue holds at most `limit` bytes ([`Queued::cost`] of each item); a push beyond that
//! is refused with [`Refused::Full`]. Once [`Queue::close`]d (its owner has exited) it drops
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
}

impl<M> Default for Inner<M> {
    fn default() -> Self {
        Inner {
            items: VecDeque::new(),
            bytes: 0,
            waiter: None,
            more_waiters: Vec::new(),
        }
    }
}

impl<M: Queued> Inner<M> {
    fn remove(&mut self, i: usize) -> Option<M> {
        let m = self.items.remove(i)?;
        self.bytes -= m.cost();
        Some(m)
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

    /// Queue an item and wake every waiting task. Refused (and the item dropped, outside
    /// the lock) if the queue is closed or full.
    pub fn push(&self, item: M) -> Result<(), Refused> {
        let refused = {
            let mut q = self.lock();
            let cost = item.cost();
            if self.closed.load(Ordering::Acquire) {
                Refused::Closed
            } else if q.bytes.saturating_add(cost) > self.limit {
                Refused::Full {
                    queued: q.bytes,
                    limit: self.limit,
                }
            } else {
                q.bytes += cost;
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
                return Ok(());
            }
        };
        drop(item);
        Err(refused)
    }

    /// Close the queue: drop every queued item (outside the lock) and refuse new ones.
    pub fn close(&self) {
        let drained: Inner<M> = {
            let mut q = self.lock();
            self.closed.store(true, Ordering::Release);
            std::mem::take(&mut *q)
        };
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
        if let Some(i) = q.items.iter().position(|m| wanted(m.tag()))
            && let Some(m) = q.remove(i)
        {
            return Poll::Ready(m);
        }
        q.wait(cx.waker());
        Poll::Pending
    }

    /// Take the first item whose tag satisfies `wanted`, if one is queued.
    pub fn try_take_where(&self, wanted: impl Fn(u64) -> bool) -> Option<M> {
        let mut q = self.lock();
        let i = q.items.iter().position(|m| wanted(m.tag()))?;
        q.remove(i)
    }

    /// How many items are queued and the bytes they are charged, read under one lock.
    pub fn census(&self) -> (usize, usize) {
        let q = self.lock();
        (q.items.len(), q.bytes)
    }
}
