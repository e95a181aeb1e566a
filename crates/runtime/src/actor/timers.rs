//! Timers: deliver a message after a delay, cancellable until it fires.
//!
//! Each timer is a tokio task sleeping on tokio's timer wheel (no polling). Its id is a
//! runtime-unique reference; the table of pending timers lets `cancel` abort one and is
//! emptied as timers fire or are cancelled.
//!
//! A timer belongs to the process that set it: it counts against that process's timer
//! quota (and its message bytes against its mailbox quota) while pending, and it is
//! cancelled when that process exits ([`Timers::cancel_owner`], called by the process
//! table's exit), so nothing a process set up outlives it in the host.

use super::quotas::{QuotaError, Quotas};
use super::{Message, Pid, ProcessTable};
use crate::sync::Locked;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::task::AbortHandle;

#[derive(Debug, Default)]
pub struct Timers {
    inner: Mutex<Pending>,
    /// Processes with pending timers: lets the exit of a process that set none (almost every
    /// exit) skip the lock.
    owners: std::sync::atomic::AtomicUsize,
}

#[derive(Debug, Default)]
struct Pending {
    /// timer id -> (the process that set it, its message's bytes, its task)
    timers: HashMap<u64, (Pid, usize, AbortHandle)>,
    /// What each process with pending timers has set: their ids and message bytes.
    by_owner: HashMap<Pid, Owned>,
}

#[derive(Debug, Default)]
struct Owned {
    ids: HashSet<u64>,
    bytes: usize,
}

impl Timers {
    /// Forget timer `id` (fired or cancelled); its task, if it was pending.
    fn remove(&self, pending: &mut Pending, id: u64) -> Option<AbortHandle> {
        let (owner, bytes, task) = pending.timers.remove(&id)?;
        if let Some(o) = pending.by_owner.get_mut(&owner) {
            o.ids.remove(&id);
            o.bytes -= bytes;
            if o.ids.is_empty() {
                pending.by_owner.remove(&owner);
                self.owners
                    .fetch_sub(1, std::sync::atomic::Ordering::Release);
            }
        }
        Some(task)
    }

    /// For `owner`, send `message` to `to` after `delay`; returns the timer's id. Refused if
    /// `owner` has as many timers pending as `quotas` allow, or their messages would take
    /// more than its mailbox quota.
    #[allow(clippy::too_many_arguments)]
    pub fn send_after(
        self: &Arc<Self>,
        owner: Pid,
        table: &Arc<ProcessTable>,
        handle: &tokio::runtime::Handle,
        to: Pid,
        message: Message,
        delay: Duration,
    ) -> Result<u64, QuotaError> {
        let quotas: &Quotas = table.quotas();
        let bytes = message.cost();
        // Hold the lock across spawn so the task cannot fire and remove itself before it is
        // entered.
        let mut pending = self.lock();
        let owned = pending.by_owner.get(&owner);
        if owned.is_some_and(|o| o.ids.len() >= quotas.timers) {
            return Err(QuotaError::Timers {
                pid: owner,
                limit: quotas.timers,
            });
        }
        if owned.map_or(0, |o| o.bytes).saturating_add(bytes) > quotas.mailbox_bytes {
            return Err(QuotaError::TimerBytes {
                pid: owner,
                limit: quotas.mailbox_bytes,
            });
        }
        let id = table.new_tag();
        let timers = Arc::downgrade(self);
        let weak_table = Arc::downgrade(table);
        let task = handle.spawn(async move {
            tokio::time::sleep(delay).await;
            if let Some(timers) = timers.upgrade() {
                timers.remove(&mut timers.lock(), id);
            }
            if let Some(table) = weak_table.upgrade() {
                table.send(to, message);
            }
        });
        pending
            .timers
            .insert(id, (owner, bytes, task.abort_handle()));
        let o = pending.by_owner.entry(owner).or_insert_with(|| {
            self.owners
                .fetch_add(1, std::sync::atomic::Ordering::Release);
            Owned::default()
        });
        o.ids.insert(id);
        o.bytes += bytes;
        Ok(id)
    }

    /// Cancel a pending timer that `owner` set. Returns false if it already fired, was
    /// cancelled, never was, or belongs to another process.
    pub fn cancel(&self, owner: Pid, id: u64) -> bool {
        let mut pending = self.lock();
        match pending.timers.get(&id) {
            Some((o, ..)) if *o == owner => {}
            _ => return false,
        }
        match self.remove(&mut pending, id) {
            Some(task) => {
                task.abort();
                true
            }
            None => false,
        }
    }

    /// Cancel every pending timer `owner` set (it exited).
    pub fn cancel_owner(&self, owner: Pid) {
        if self.owners.load(std::sync::atomic::Ordering::Acquire) == 0 {
            return;
        }
        let mut pending = self.lock();
        let Some(owned) = pending.by_owner.remove(&owner) else {
            return;
        };
        self.owners
            .fetch_sub(1, std::sync::atomic::Ordering::Release);
        for id in owned.ids {
            if let Some((_, _, task)) = pending.timers.remove(&id) {
                task.abort();
            }
        }
    }

    /// Timers not yet fired.
    pub fn len(&self) -> usize {
        self.lock().timers.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.inner.locked()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actor::{ExitReason, Received};

    #[tokio::test(start_paused = true)]
    async fn fires_once_and_cancel_stops_it() {
        let table = Arc::new(ProcessTable::new(10, ""));
        let timers = table.timers().clone();
        let p = table.register().unwrap();
        let handle = tokio::runtime::Handle::current();
        let msg = |b| Message::new(0, vec![b]);
        let ms = Duration::from_millis;
        let a = timers
            .send_after(9, &table, &handle, p.pid(), msg(1), ms(50))
            .unwrap();
        let b = timers
            .send_after(9, &table, &handle, p.pid(), msg(2), ms(60))
            .unwrap();
        assert!(!timers.cancel(8, b), "only the owner cancels");
        assert!(timers.cancel(9, b));
        assert!(!timers.cancel(9, b));
        assert_eq!(p.mailbox.take(0, None).await, Received::Message(msg(1)));
        tokio::time::sleep(ms(100)).await;
        assert!(p.mailbox.is_empty());
        assert!(!timers.cancel(9, a), "a fired timer cannot be cancelled");
        assert!(timers.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn timers_are_bounded_and_die_with_their_owner() {
        let quotas = Quotas {
            timers: 2,
            ..Quotas::default()
        };
        let table = Arc::new(ProcessTable::with_quotas(10, "", quotas));
        let timers = table.timers().clone();
        let owner = table.register().unwrap();
        let to = table.register().unwrap();
        let handle = tokio::runtime::Handle::current();
        let day = Duration::from_secs(86_400);
        for _ in 0..2 {
            timers
                .send_after(
                    owner.pid(),
                    &table,
                    &handle,
                    to.pid(),
                    Message::new(0, vec![]),
                    day,
                )
                .unwrap();
        }
        assert!(matches!(
            timers.send_after(
                owner.pid(),
                &table,
                &handle,
                to.pid(),
                Message::new(0, vec![]),
                day
            ),
            Err(QuotaError::Timers { limit: 2, .. })
        ));
        let huge = Message::new(0, vec![0; crate::actor::DEFAULT_MAILBOX_BYTES]);
        let other = table.register().unwrap();
        assert!(matches!(
            timers.send_after(other.pid(), &table, &handle, to.pid(), huge, day),
            Err(QuotaError::TimerBytes { .. })
        ));
        table.exit(owner.pid(), &ExitReason::Normal);
        assert!(timers.is_empty());
    }
}
