//! A process's mailbox: an ordered queue of [`Message`]s with selective receive.
//!
//! The queue itself — tags and selective receive, the byte limit, closing, and the tasks
//! waiting in it — is `warren_sync::mailbox::Queue`, written over std or loom so that its
//! wake-ups are checked under every interleaving (crates/sync/tests/loom.rs). This module
//! gives it warren's messages and the waits a process needs: a receive with a deadline, a
//! wait for a message without taking it.
//!
//! Every message carries a `tag`. Tag 0 marks ordinary messages; a non-zero tag marks a
//! message that somebody is waiting for specifically — a reply to a request, or the DOWN
//! message of a monitor — and is only taken by a receive that names that tag. A selective
//! receive leaves all other messages queued in their order.
//!
//! A mailbox holds at most a configured number of bytes (each message costs its payload plus
//! [`MESSAGE_OVERHEAD`]); a push beyond that is refused with [`Refused::Full`], and the
//! process table ends the owner with a `limit` reason (see
//! [`crate::actor::ProcessTable::deliver`]).

use crate::resources::Resource;
use tokio::time::Instant;
use warren_sync::mailbox::{Queue, Queued};

pub(crate) use warren_sync::mailbox::{Bound, Census, Pushed, Refused, WhenFull};

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

impl Queued for Message {
    fn tag(&self) -> u64 {
        self.tag
    }
    fn cost(&self) -> usize {
        Message::cost(self)
    }
}

#[derive(Debug)]
pub struct Mailbox {
    queue: Queue<Message>,
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
            queue: Queue::with_limit(limit),
        }
    }

    /// Queue a message and wake the owner if it waits. Refused (and the message dropped,
    /// with the sockets or files it carries) if the mailbox is closed or full.
    pub fn push(&self, message: Message) -> Result<(), Refused> {
        self.queue.push(message)
    }

    /// Queue a message sent under the mailbox's bound (an ordinary message from a process):
    /// as [`Mailbox::push`] while there is room, else as the bound says.
    pub fn push_bounded(&self, message: Message) -> Result<Pushed<Message>, Refused> {
        self.queue.push_bounded(message)
    }

    /// Resolves when a message of `cost` bytes fits within the bound (at once without one,
    /// or once the mailbox is closed).
    pub async fn room(&self, cost: usize) {
        std::future::poll_fn(|cx| self.queue.poll_room(cx, cost)).await
    }

    /// Set the bound (`None`: the quota only); senders waiting for room look again.
    pub fn set_bound(&self, bound: Option<Bound>) {
        self.queue.set_bound(bound)
    }

    /// The bound, if any.
    pub fn bound(&self) -> Option<Bound> {
        self.queue.bound()
    }

    /// The counters: queued messages and bytes, drops and refusals by the bound, senders
    /// waiting for room.
    pub fn counters(&self) -> Census {
        self.queue.counters()
    }

    /// Bytes queued (see [`Message::cost`]).
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.census().1
    }

    /// Close the mailbox: drop every queued message and refuse new ones.
    pub fn close(&self) {
        self.queue.close()
    }

    /// Resolves when a message whose tag satisfies `wanted` is queued (without taking it).
    /// Any number of these may wait at once: every push wakes them all.
    pub async fn ready(&self, wanted: impl Fn(u64) -> bool) {
        std::future::poll_fn(|cx| self.queue.poll_ready(cx, &wanted)).await
    }

    /// Take the first message with this tag, if one is queued.
    pub fn try_take(&self, tag: u64) -> Option<Message> {
        self.try_take_where(|t| t == tag)
    }

    /// Take the first message whose tag satisfies `wanted`, if one is queued.
    pub fn try_take_where(&self, wanted: impl Fn(u64) -> bool) -> Option<Message> {
        self.queue.try_take_where(wanted)
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
        let take = std::future::poll_fn(|cx| self.queue.poll_take(cx, &wanted));
        match deadline {
            None => Received::Message(take.await),
            // A deadline already past is a poll: it ends now, not at the timer's next tick
            // (up to a millisecond later), which a wait on it would.
            Some(d) if d <= Instant::now() => Received::TimedOut,
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
        self.census().0
    }

    /// How many messages are queued and the bytes they are charged, read under one lock.
    pub fn census(&self) -> (usize, usize) {
        self.queue.census()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
