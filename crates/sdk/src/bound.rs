//! Bounded mailboxes: flow control between processes.
//!
//! A mailbox is unbounded by default: it grows until its quota (`--max-mailbox`), and then
//! its process ends with `limit: mailbox` — Erlang's model. A fast producer and a slow
//! consumer then have no way to slow each other down. A **bound** gives the consumer a
//! capacity in messages and/or bytes, and says what a full mailbox does with one more
//! ordinary message ([`WhenFull`]):
//!
//! - [`WhenFull::Block`] (the default): the sender waits for room — suspended like a
//!   receive, preemptible and killable; the producer slows to the consumer's pace and memory
//!   stays flat. If the receiver ends while a sender waits, the send returns `false` (as to
//!   any process that is gone). [`Process::send_timeout`] waits at most so long.
//! - [`WhenFull::Fail`]: the send fails at once ([`Process::try_send`] returns
//!   [`SendError::Full`]; the message and its handles stay with the sender).
//! - [`WhenFull::DropOldest`] / [`WhenFull::DropNewest`]: the oldest ordinary messages, or
//!   the new one, are dropped — counted, and shown by the observer and `/metrics`.
//! - [`WhenFull::End`]: the receiver ends with `limit: mailbox`, as over its quota.
//!
//! Only *ordinary* messages from processes ([`Process::send`] and friends) are held to the
//! bound. What must not wait or be lost goes beyond it, counted against the quota as before:
//! exit signals, DOWN messages, replies to a request ([`Reply`](crate::Reply)), messages of
//! timers ([`Process::send_after`]) and of the host (`Runtime::send`).
//!
//! **Across nodes** the bound holds where the receiver is. Its node parks what does not fit
//! — per sending node, in order, with nothing lost — and tells the sending node the mailbox
//! is full; that node's processes then wait (or fail) on their next send to it, exactly as
//! for a local receiver, until the parked messages are in. Messages already on their way
//! when the sending node heard it are parked and delivered, even under [`WhenFull::Fail`]
//! (their sends had succeeded). Traffic to other processes of that node is not held up.
//!
//! A process bounds its own mailbox ([`Mailbox::set_bound`]) or a child's
//! ([`Process::set_bound`]; [`SpawnOptions::mailbox`](crate::SpawnOptions::mailbox), which
//! the child starts with, before it runs, on this node or another).
//!
//! ```no_run
//! use warren::bound::{MailboxBound, WhenFull};
//! use warren::{Mailbox, SpawnOptions};
//!
//! fn writer(_: (), lines: Mailbox<String>) {
//!     loop {
//!         let line = lines.receive();
//!         // ... slow work ...
//! #       drop(line);
//!     }
//! }
//!
//! let writer = SpawnOptions::new()
//!     .mailbox(MailboxBound::messages(100).when_full(WhenFull::Block))
//!     .spawn((), writer)
//!     .unwrap();
//! for i in 0..1_000_000 {
//!     writer.send(&format!("line {i}")); // waits while 100 are queued
//! }
//! ```

use crate::abi;
use crate::{Mailbox, Process};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io;

/// What a full bounded mailbox does with one more ordinary message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum WhenFull {
    /// The sender waits for room.
    #[default]
    Block,
    /// The send fails ([`SendError::Full`]); nothing is sent.
    Fail,
    /// The oldest ordinary messages are dropped to make room.
    DropOldest,
    /// The new message is dropped.
    DropNewest,
    /// The receiver ends with `limit: mailbox`.
    End,
}

impl WhenFull {
    fn code(self) -> u32 {
        match self {
            WhenFull::Block => abi::WHEN_FULL_BLOCK,
            WhenFull::Fail => abi::WHEN_FULL_FAIL,
            WhenFull::DropOldest => abi::WHEN_FULL_DROP_OLDEST,
            WhenFull::DropNewest => abi::WHEN_FULL_DROP_NEWEST,
            WhenFull::End => abi::WHEN_FULL_END,
        }
    }
}

/// A mailbox's capacity — messages, bytes, or both (whichever is reached first) — and what
/// a full one does. `MailboxBound::messages(100)`, `MailboxBound::bytes(1 << 20)
/// .and_messages(100).when_full(WhenFull::DropOldest)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxBound {
    messages: u64,
    bytes: u64,
    when_full: WhenFull,
}

impl MailboxBound {
    /// At most `n` messages queued (at least 1).
    pub fn messages(n: usize) -> Self {
        MailboxBound {
            messages: n.max(1) as u64,
            bytes: 0,
            when_full: WhenFull::Block,
        }
    }

    /// At most `n` bytes queued (each message counts its encoded size and 64 bytes more; one
    /// larger message still fits an empty mailbox).
    pub fn bytes(n: usize) -> Self {
        MailboxBound {
            messages: 0,
            bytes: n.max(1) as u64,
            when_full: WhenFull::Block,
        }
    }

    /// This bound, and at most `n` messages too.
    pub fn and_messages(mut self, n: usize) -> Self {
        self.messages = n.max(1) as u64;
        self
    }

    /// This bound, and at most `n` bytes too.
    pub fn and_bytes(mut self, n: usize) -> Self {
        self.bytes = n.max(1) as u64;
        self
    }

    /// What a full mailbox does ([`WhenFull::Block`] unless said).
    pub fn when_full(mut self, when_full: WhenFull) -> Self {
        self.when_full = when_full;
        self
    }
}

impl MailboxBound {
    /// As the ABI takes it: messages, bytes (0: no limit there), policy.
    pub(crate) fn raw(&self) -> (i64, i64, u32) {
        let wide = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        (wide(self.messages), wide(self.bytes), self.when_full.code())
    }
}

/// Bound the mailbox of `pid` (this process or a child of it), or unbound it (`None`).
pub(crate) fn set(pid: u64, bound: Option<MailboxBound>) -> io::Result<()> {
    let (messages, bytes, when_full) = match bound {
        Some(b) => b.raw(),
        None => (0, 0, abi::WHEN_FULL_BLOCK),
    };
    // SAFETY: plain values.
    let code = unsafe { abi::bound(pid as i64, messages, bytes, when_full) };
    if code < 0 {
        return Err(crate::handle::error(code as i64));
    }
    Ok(())
}

impl<M> Mailbox<M> {
    /// How many messages this process's mailbox holds now (of every kind: ordinary ones,
    /// replies, DOWNs, exit signals).
    pub fn len(&self) -> usize {
        // SAFETY: no arguments.
        unsafe { abi::queued() as usize }
    }

    /// Whether this process's mailbox is empty now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bound this process's mailbox (see the [module docs](self)), or unbound it (`None`).
    /// Messages already queued stay, even beyond the new bound.
    pub fn set_bound(&self, bound: Option<MailboxBound>) {
        // Only a bad value could fail, and a `MailboxBound` has none.
        let _ = set(0, bound);
    }
}

impl<M: Serialize + serde::de::DeserializeOwned> Process<M> {
    /// Bound the mailbox of this process, a child of the caller (see the
    /// [module docs](self)), or unbound it (`None`). On this node: `PermissionDenied` if it
    /// is not the caller's child, `NotFound` if it is not alive. On another node the bound
    /// is applied there, in order with what the caller sends it later, if the caller is its
    /// parent (ignored otherwise); `NotConnected` if that node is not connected.
    pub fn set_bound(&self, bound: Option<MailboxBound>) -> io::Result<()> {
        set(self.pid(), bound)
    }
}

/// Why a message was not sent ([`Process::try_send`], [`Process::send_timeout`]).
#[derive(Debug)]
pub enum SendError {
    /// The receiver's mailbox is full by its bound, whose policy is to fail the send. The
    /// message was not sent; its handles stay with the sender.
    Full,
    /// No room came in time in the receiver's full mailbox ([`Process::send_timeout`]).
    /// Nothing was sent.
    TimedOut,
    /// The message cannot go: it cannot be encoded, holds a handle this process does not
    /// own, or holds handles and goes to another node (nothing is sent; no handle moves).
    Refused(io::Error),
}

impl SendError {
    /// The error's kind as an `io::ErrorKind`: `WouldBlock` for [`SendError::Full`],
    /// `TimedOut`, or the refusal's.
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            SendError::Full => io::ErrorKind::WouldBlock,
            SendError::TimedOut => io::ErrorKind::TimedOut,
            SendError::Refused(e) => e.kind(),
        }
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Full => f.write_str(
                "the receiver's mailbox is full, and its bound's policy is to fail the send",
            ),
            SendError::TimedOut => f.write_str("no room came in the receiver's mailbox in time"),
            SendError::Refused(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for SendError {}

impl From<SendError> for io::Error {
    fn from(e: SendError) -> io::Error {
        match e {
            SendError::Refused(e) => e,
            other => io::Error::new(other.kind(), other.to_string()),
        }
    }
}
