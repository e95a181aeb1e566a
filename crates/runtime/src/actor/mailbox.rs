//! A process's mailbox: an ordered queue with selective receive.
//!
//! Every message carries a `tag`. Tag 0 marks ordinary messages; a non-zero tag marks a
//! message that somebody is waiting for specifically — a reply to a request, or the DOWN
//! message of a monitor — and is only taken by a receive that names that tag. A selective
//! receive leaves all other messages queued in their order.
//!
//! Only the owning process receives, so there is at most one waiter; senders push and wake it.

use crate::resources::Resource;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Notify;
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

#[derive(Debug, Default)]
pub struct Mailbox {
    queue: Mutex<VecDeque<Message>>,
    wake: Notify,
    /// Set when the owner has exited: later messages are dropped at once, with their
    /// resources, instead of waiting in a mailbox nobody reads.
    closed: AtomicBool,
}

impl Mailbox {
    pub fn new() -> Self {
        Self::default()
    }

    /// Queue a message and wake the owner if it waits. Returns false (and drops the
    /// message) if the mailbox is closed.
    pub fn push(&self, message: Message) -> bool {
        {
            let mut q = self.lock();
            if self.closed.load(Ordering::Acquire) {
                drop(q);
                return false;
            }
            q.push_back(message);
        }
        self.wake.notify_one();
        true
    }

    /// Close the mailbox: drop every queued message and refuse new ones.
    pub fn close(&self) {
        let drained: VecDeque<Message> = {
            let mut q = self.lock();
            self.closed.store(true, Ordering::Release);
            std::mem::take(&mut *q)
        };
        // Resources are dropped outside the lock (their Drop may close sockets).
        drop(drained);
    }

    /// Whether a message whose tag satisfies `wanted` is queued (it stays queued).
    pub fn has(&self, wanted: impl Fn(u64) -> bool) -> bool {
        self.lock().iter().any(|m| wanted(m.tag))
    }

    /// Resolves when a message whose tag satisfies `wanted` is queued (without taking it).
    pub async fn ready(&self, wanted: impl Fn(u64) -> bool) {
        while !self.has(&wanted) {
            self.wake.notified().await;
        }
        // The permit consumed above belonged to this message; leave one for the receive
        // that will take it.
        self.wake.notify_one();
    }

    /// Take the first message with this tag, if one is queued.
    pub fn try_take(&self, tag: u64) -> Option<Message> {
        self.try_take_where(|t| t == tag)
    }

    /// Take the first message whose tag satisfies `wanted`, if one is queued.
    pub fn try_take_where(&self, wanted: impl Fn(u64) -> bool) -> Option<Message> {
        let mut q = self.lock();
        let i = q.iter().position(|m| wanted(m.tag))?;
        q.remove(i)
    }

    /// Take the oldest message, whatever its tag.
    pub fn try_take_any(&self) -> Option<Message> {
        self.lock().pop_front()
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
        loop {
            if let Some(m) = self.try_take_where(&wanted) {
                return Received::Message(m);
            }
            // `notify_one` leaves a permit when nobody waits, so a push between the check
            // above and this wait is not lost: the wait returns at once and we look again.
            match deadline {
                None => self.wake.notified().await,
                Some(d) => {
                    if tokio::time::timeout_at(d, self.wake.notified())
                        .await
                        .is_err()
                    {
                        return match self.try_take_where(&wanted) {
                            Some(m) => Received::Message(m),
                            None => Received::TimedOut,
                        };
                    }
                }
            }
        }
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Message>> {
        // A panic while holding this lock cannot leave the queue inconsistent (every
        // operation is a single VecDeque call), so a poisoned lock is still usable.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
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
        mb.push(msg(0, 1));
        mb.push(msg(7, 2));
        mb.push(msg(0, 3));
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
            sender.push(msg(0, 9));
        });
        assert_eq!(mb.take(0, None).await, Received::Message(msg(0, 9)));
        t.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn take_times_out_and_leaves_other_tags() {
        let mb = Mailbox::new();
        mb.push(msg(5, 1));
        let deadline = Instant::now() + Duration::from_millis(50);
        assert_eq!(mb.take(0, Some(deadline)).await, Received::TimedOut);
        assert_eq!(mb.len(), 1);
    }
}
