//! [`WsBudget`]: what one process's WebSockets make the host hold, all together.
//!
//! # The model
//!
//! A WebSocket's host task reads messages from the client before the process takes them,
//! and holds the messages the process sends until the client has them. Both are charged to
//! a process, against one quota per direction (at least one message of the limit plus
//! 64 KiB, so a message the limit allows can always pass; by default the mailbox quota,
//! `--max-mailbox`, as these are messages waiting for or from the process):
//!
//! - **inbound**, to the process holding the socket's handle (the one that upgraded it, then
//!   whoever it was handed to in a message: the charge moves with the handle): the payload of messages read and not yet taken
//!   (`queued`), and the payload read so far of messages still arriving (`partial`).
//!   A socket starts reading a new message only while the process's queued and partial bytes
//!   are under the quota. A message still arriving may grow to 64 KiB on its own; beyond
//!   that it needs the process's one **large-message permit**, and grows only while the
//!   process's queued bytes and its own stay under the quota. One large message at a time
//!   means two clients each sending half a quota cannot leave both halfway, waiting for each
//!   other: the permit's holder always finishes once the process takes what is queued. What
//!   the host holds for a process's sockets is thus the quota plus at most 64 KiB per socket
//!   (and each socket's buffers, charged to its connection); a client sending faster than
//!   the process takes waits on TCP, and nobody is ended for it.
//! - **outbound**, to the process that sends: `ws_send` waits until the bytes it has given
//!   to all its sockets and not yet sent leave room (each socket also holds at most the
//!   message limit), so a process cannot pile up messages for clients that do not read.

use crate::sync::Locked;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{Notify, Semaphore};

/// What a message still arriving may grow to without the large-message permit, and what
/// the quota always leaves beyond the largest message.
pub(super) const SMALL: usize = 64 << 10;

/// Payload bytes held for one process, inbound.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Held {
    /// Of messages read and not yet taken.
    pub queued: usize,
    /// Of messages still arriving.
    pub partial: usize,
}

/// One process's WebSocket account (see the module docs).
#[derive(Debug)]
pub(crate) struct WsBudget {
    quota: usize,
    held: Mutex<Held>,
    /// Signalled when inbound bytes are released.
    room: Arc<Notify>,
    /// One permit: the socket growing a message past [`SMALL`].
    large: Arc<Semaphore>,
    /// `quota` permits: bytes given to send and not yet sent.
    outbound: Arc<Semaphore>,
}

impl WsBudget {
    /// An account of `quota` bytes each way, raised to `largest` (the largest message) plus
    /// [`SMALL`] if that is more.
    pub(crate) fn new(quota: usize, largest: usize) -> Arc<WsBudget> {
        let quota = quota
            .max(largest.saturating_add(SMALL))
            .min(Semaphore::MAX_PERMITS)
            .min(u32::MAX as usize);
        Arc::new(WsBudget {
            quota,
            held: Mutex::default(),
            room: Arc::new(Notify::new()),
            large: Arc::new(Semaphore::new(1)),
            outbound: Arc::new(Semaphore::new(quota)),
        })
    }

    /// A fresh account with `other`'s quota (another process of the same runtime).
    pub(crate) fn like(other: &WsBudget) -> Arc<WsBudget> {
        WsBudget::new(other.quota, 0)
    }

    /// The quota, each way.
    #[cfg(test)]
    pub(crate) fn quota(&self) -> usize {
        self.quota
    }

    fn lock(&self) -> MutexGuard<'_, Held> {
        self.held.locked()
    }

    /// Inbound bytes held now.
    #[cfg(test)]
    pub(crate) fn held(&self) -> Held {
        *self.lock()
    }

    /// Whether a socket may start reading a new message.
    pub(super) fn may_start(&self) -> bool {
        let h = self.lock();
        h.queued.saturating_add(h.partial) < self.quota
    }

    /// How many more payload bytes the large-message permit's holder, which holds `own`
    /// partial bytes, may read.
    pub(super) fn large_room(&self, own: usize) -> usize {
        let h = self.lock();
        self.quota.saturating_sub(h.queued.saturating_add(own))
    }

    /// `n` payload bytes of a message still arriving were read.
    pub(super) fn add_partial(&self, n: usize) {
        self.lock().partial += n;
    }

    /// A message of `n` bytes finished arriving (its partial bytes were charged here) and
    /// is queued for the process, charged to `to` from now on.
    pub(super) fn settle(&self, n: usize, to: &WsBudget) {
        if std::ptr::eq(self, to) {
            let mut h = self.lock();
            h.partial = h.partial.saturating_sub(n);
            h.queued += n;
        } else {
            self.release_partial(n);
            to.lock().queued += n;
        }
    }

    /// `n` partial bytes will not become a message (the socket ended).
    pub(super) fn release_partial(&self, n: usize) {
        self.release(n, |h| &mut h.partial);
    }

    /// The process took (or the socket dropped) `n` queued bytes.
    pub(super) fn release_queued(&self, n: usize) {
        self.release(n, |h| &mut h.queued);
    }

    fn release(&self, n: usize, count: fn(&mut Held) -> &mut usize) {
        if n == 0 {
            return;
        }
        let mut h = self.lock();
        let c = count(&mut h);
        *c = c.saturating_sub(n);
        drop(h);
        self.room.notify_waiters();
    }

    /// Move `n` queued bytes to `to` (the socket changed hands).
    pub(super) fn move_queued(&self, n: usize, to: &WsBudget) {
        if n == 0 || std::ptr::eq(self, to) {
            return;
        }
        self.release_queued(n);
        to.lock().queued += n;
    }

    pub(super) fn room(&self) -> &Arc<Notify> {
        &self.room
    }

    pub(super) fn large(&self) -> &Arc<Semaphore> {
        &self.large
    }

    pub(super) fn outbound(&self) -> &Arc<Semaphore> {
        &self.outbound
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quota_always_leaves_room_for_the_largest_message() {
        assert_eq!(WsBudget::new(1 << 20, 10).quota(), 1 << 20);
        assert_eq!(WsBudget::new(1000, 5000).quota(), 5000 + SMALL);
    }

    #[test]
    fn charges_move_between_partial_queued_and_owners() {
        let a = WsBudget::new(1 << 20, 0);
        let b = WsBudget::new(1 << 20, 0);
        a.add_partial(300);
        assert!(a.may_start());
        a.settle(100, &a);
        assert_eq!(
            a.held(),
            Held {
                queued: 100,
                partial: 200
            }
        );
        a.settle(200, &b);
        assert_eq!(
            a.held(),
            Held {
                queued: 100,
                partial: 0
            }
        );
        assert_eq!(b.held().queued, 200);
        a.move_queued(100, &b);
        assert_eq!(a.held(), Held::default());
        assert_eq!(b.held().queued, 300);
        assert_eq!(b.large_room(10), b.quota() - 310);
        b.release_queued(300);
        assert_eq!(b.held(), Held::default());
    }

    #[test]
    fn a_full_account_starts_no_message() {
        let a = WsBudget::new(SMALL, 0);
        a.add_partial(SMALL);
        assert!(!a.may_start());
        a.release_partial(1);
        assert!(a.may_start());
    }
}
