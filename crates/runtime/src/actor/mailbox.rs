//! A process's mailbox: an ordered queue with selective receive.
//!
//! Every message carries a `tag`. Tag 0 marks ordinary messages; a non-zero tag marks a
//! message that somebody is waiting for specifically — a reply to a request, or the DOWN
//! message of a monitor — and is only taken by a receive that names that tag. A selective
//! receive leaves all other messages queued in their order.
//!
//! Only the owning process receives, but it may wait for several things at once (`select`
//! on ordinary messages and on exit signals; a host mailbox's receive next to a wait for a
//! DOWN): a push wakes every waiter, and each looks for what it wants. Waiters register
//! their wakers under the queue's own lock, in the same critical section that found nothing
//! for them, so no push can slip between the look and the wait — and a push with nobody
//! waiting costs no more than the lock it takes anyway.
//!
//! A mailbox holds at most a configured number of bytes (each message costs its payload plus
//! [`MESSAGE_OVERHEAD`]); a push beyond that is refused with [`Refused::Full`], and the
//! process table ends the owner with a `limit` reason (see
//! [`crate::actor::ProcessTable::deliver`]).

use crate::resources::Resource;
use crate::sync::Locked;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};
use tokio::time::Instant;

/// One queued message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// 0 for ordinary messages; otherwise the reference a selective receive waits for.
    pub tag: u64,
    /// The payload (for guests: postcard bytes of the message type).
    pub data: Vec<u8>,
    /// Resources (handles) moved with the message; dropped with it if nobody receives it.
    pub resources: Vec<Resource>,
}

impl Message {
    /// A message without resources.
    pub fn new(tag: u64, data: Vec<u8>) -> Self {
        Message {
            tag,
            data,
            resources: Vec::new(),
        }
    }
}

/// Result of a receive with a deadline.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    Message(Message),
    TimedOut,
}

/// What a queued message costs beyond its payload, in bytes (the queue entry, the message
/// header): so a flood of empty messages is bounded too.
pub(super) const MESSAGE_OVERHEAD: usize = 64;

impl Message {
    /// Bytes this message is charged in a mailbox.
    pub fn cost(&self) -> usize {
        self.data.len() + MESSAGE_OVERHEAD + self.resources.len() * 16
    }
}

/// Why a push was refused (the message is dropped, with its resources).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The owner has exited.
    Closed,
    /// The mailbox holds `queued` bytes; this message would take it over `limit`.
    Full { queued: usize, limit: usize },
}

#[derive(Debug, Default)]
struct Queue {
    messages: VecDeque<Message>,
    /// Sum of the queued messages' [`Message::cost`].
    bytes: usize,
    /// The task waiting for a message (almost always the only one), woken and forgotten by
    /// the next push; kept apart so the common case never allocates.
    waiter: Option<Waker>,
    /// Further waiting tasks (a `select` on two filters, a host mailbox used from two tasks).
    more_waiters: Vec<Waker>,
}

impl Queue {
    fn remove(&mut self, i: usize) -> Option<Message> {
        let m = self.messages.remove(i)?;
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

#[derive(Debug)]
pub struct Mailbox {
    queue: Mutex<Queue>,
    /// Most bytes queued at once.
    limit: usize,
    /// Set when the owner has exited: later messages are dropped at once, with their
    /// resources, instead of waiting in a mailbox nobody reads.
    closed: AtomicBool,
}

impl Default for Mailbox {
    fn default() -> Self {
        Mailbox::with_limit(usize::MAX)
    }
}

impl Mailbox {
    #[cfg(test)]
    /// A mailbox without a byte limit.
    pub fn new() -> Self {
        Self::default()
    }

    /// A mailbox holding at most `limit` bytes of messages.
    pub fn with_limit(limit: usize) -> Self {
        Mailbox {
            queue: Mutex::new(Queue::default()),
            limit,
            closed: AtomicBool::new(false),
        }
    }

    /// Queue a message and wake the owner if it waits. Refused (and the message dropped)
    /// if the mailbox is closed or full.
    pub fn push(&self, message: Message) -> Result<(), Refused> {
        let refused = {
            let mut q = self.lock();
            let cost = message.cost();
            if self.closed.load(Ordering::Acquire) {
                Refused::Closed
            } else if q.bytes.saturating_add(cost) > self.limit {
                Refused::Full {
                    queued: q.bytes,
                    limit: self.limit,
                }
            } else {
                q.bytes += cost;
                q.messages.push_back(message);
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
        // The message (and the sockets or files it carries) is dropped outside the lock.
        Err(refused)
    }

    /// Bytes queued (see [`Message::cost`]).
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Close the mailbox: drop every queued message and refuse new ones.
    pub fn close(&self) {
        let drained: Queue = {
            let mut q = self.lock();
            self.closed.store(true, Ordering::Release);
            std::mem::take(&mut *q)
        };
        // Resources are dropped outside the lock (their Drop may close sockets).
        drop(drained);
    }

    /// Resolves when a message whose tag satisfies `wanted` is queued (without taking it).
    /// Any number of these may wait at once: every push wakes them all.
    pub async fn ready(&self, wanted: impl Fn(u64) -> bool) {
        std::future::poll_fn(|cx| {
            let mut q = self.lock();
            if q.messages.iter().any(|m| wanted(m.tag)) {
                return Poll::Ready(());
            }
            q.wait(cx.waker());
            Poll::Pending
        })
        .await
    }

    /// Take the first message whose tag satisfies `wanted`, or register to be woken by the
    /// next push.
    fn poll_take(&self, cx: &mut Context<'_>, wanted: &impl Fn(u64) -> bool) -> Poll<Message> {
        let mut q = self.lock();
        if let Some(i) = q.messages.iter().position(|m| wanted(m.tag))
            && let Some(m) = q.remove(i)
        {
            return Poll::Ready(m);
        }
        q.wait(cx.waker());
        Poll::Pending
    }

    /// Take the first message with this tag, if one is queued.
    pub fn try_take(&self, tag: u64) -> Option<Message> {
        self.try_take_where(|t| t == tag)
    }

    /// Take the first message whose tag satisfies `wanted`, if one is queued.
    pub fn try_take_where(&self, wanted: impl Fn(u64) -> bool) -> Option<Message> {
        let mut q = self.lock();
        let i = q.messages.iter().position(|m| wanted(m.tag))?;
        q.remove(i)
    }

    /// Wait for the first message with `tag`, until `deadline` if one is given.
    pub async fn take(&self, tag: u64, deadline: Option<Instant>) -> Received {
        self.take_where(|t| t == tag, deadline).await
    }

    /// Wait for the first message whose tag satisfies `wanted`, until `deadline` if given.
    pub async fn take_where(
        &self,
        wanted: impl Fn(u64) -> bool,
        deadline: Option<Instant>,
    ) -> Received {
        if let Some(m) = self.try_take_where(&wanted) {
            return Received::Message(m);
        }
        let take = std::future::poll_fn(|cx| self.poll_take(cx, &wanted));
        match deadline {
            None => Received::Message(take.await),
            Some(d) => match tokio::time::timeout_at(d, take).await {
                Ok(m) => Received::Message(m),
                // One last look: a message that came as the deadline passed is taken.
                Err(_) => match self.try_take_where(&wanted) {
                    Some(m) => Received::Message(m),
                    None => Received::TimedOut,
                },
            },
        }
    }

    /// Messages queued.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().messages.len()
    }

    /// How many messages are queued and the bytes they are charged, read under one lock.
    pub fn census(&self) -> (usize, usize) {
        let q = self.lock();
        (q.messages.len(), q.bytes)
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        // A panic while holding this lock cannot leave the queue inconsistent (every
        // operation is a single VecDeque call with its byte count), so a poisoned lock is
        // still usable.
        self.queue.locked()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    fn msg(tag: u64, b: u8) -> Message {
        Message::new(tag, vec![b])
    }

    #[test]
    fn selective_take_keeps_others_in_order() {
        let mb = Mailbox::new();
        mb.push(msg(0, 1)).unwrap();
        mb.push(msg(7, 2)).unwrap();
        mb.push(msg(0, 3)).unwrap();
        assert_eq!(mb.try_take(7), Some(msg(7, 2)));
        assert_eq!(mb.try_take(7), None);
        assert_eq!(mb.try_take(0), Some(msg(0, 1)));
        assert_eq!(mb.try_take(0), Some(msg(0, 3)));
        assert!(mb.is_empty());
    }

    #[tokio::test]
    async fn take_waits_for_a_push_from_another_task() {
        let mb = Arc::new(Mailbox::new());
        let sender = mb.clone();
        let t = tokio::spawn(async move {
            tokio::task::yield_now().await;
            sender.push(msg(0, 9)).unwrap();
        });
        assert_eq!(mb.take(0, None).await, Received::Message(msg(0, 9)));
        t.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn take_times_out_and_leaves_other_tags() {
        let mb = Mailbox::new();
        mb.push(msg(5, 1)).unwrap();
        let deadline = Instant::now() + Duration::from_millis(50);
        assert_eq!(mb.take(0, Some(deadline)).await, Received::TimedOut);
        assert_eq!(mb.len(), 1);
    }

    #[test]
    fn a_full_mailbox_refuses_and_counts_bytes() {
        let mb = Mailbox::with_limit(2 * MESSAGE_OVERHEAD + 10);
        mb.push(Message::new(0, vec![0; 5])).unwrap();
        mb.push(Message::new(0, vec![0; 5])).unwrap();
        assert_eq!(
            mb.push(msg(0, 1)),
            Err(Refused::Full {
                queued: 2 * MESSAGE_OVERHEAD + 10,
                limit: 2 * MESSAGE_OVERHEAD + 10
            })
        );
        mb.try_take(0).unwrap();
        assert_eq!(mb.bytes(), MESSAGE_OVERHEAD + 5);
        mb.push(msg(0, 1)).unwrap();
        mb.close();
        assert_eq!(mb.push(msg(0, 1)), Err(Refused::Closed));
    }

    #[tokio::test]
    async fn two_waiters_for_different_tags_both_wake() {
        // `select` on ordinary messages and on exit signals waits twice on one mailbox.
        let mb = Arc::new(Mailbox::new());
        let a = mb.clone();
        let b = mb.clone();
        let wa = tokio::spawn(async move { a.ready(|t| t == 0).await });
        let wb = tokio::spawn(async move { b.ready(|t| t == 1).await });
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
        mb.push(msg(1, 1)).unwrap();
        tokio::time::timeout(Duration::from_secs(5), wb)
            .await
            .expect("the waiter for tag 1 wakes")
            .unwrap();
        assert!(!wa.is_finished());
        mb.push(msg(0, 1)).unwrap();
        tokio::time::timeout(Duration::from_secs(5), wa)
            .await
            .expect("the waiter for tag 0 wakes")
            .unwrap();
    }
}
