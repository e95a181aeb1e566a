//! Timers: deliver a message after a delay, cancellable until it fires.
//!
//! Each timer is a tokio task sleeping on tokio's timer wheel (no polling). Its id is a
//! runtime-unique reference; the table of pending timers lets `cancel` abort one and is
//! emptied as timers fire or are cancelled.

use super::{Message, Pid, ProcessTable};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::task::AbortHandle;

#[derive(Debug, Default)]
pub struct Timers {
    /// timer id -> (the process that set it, its task)
    pending: Mutex<HashMap<u64, (Pid, AbortHandle)>>,
}

impl Timers {
    /// For `owner`, send `message` to `to` after `delay`; returns the timer's id.
    pub fn send_after(
        self: &Arc<Self>,
        owner: Pid,
        table: &Arc<ProcessTable>,
        handle: &tokio::runtime::Handle,
        to: Pid,
        message: Message,
        delay: Duration,
    ) -> u64 {
        let id = table.new_tag();
        let timers = Arc::downgrade(self);
        let table = Arc::downgrade(table);
        // Hold the lock across spawn so the task cannot fire and remove itself before it is
        // entered.
        let mut pending = self.lock();
        let task = handle.spawn(async move {
            tokio::time::sleep(delay).await;
            if let Some(timers) = timers.upgrade() {
                timers.lock().remove(&id);
            }
            if let Some(table) = table.upgrade() {
                table.send(to, message);
            }
        });
        pending.insert(id, (owner, task.abort_handle()));
        id
    }

    /// Cancel a pending timer that `owner` set. Returns false if it already fired, was
    /// cancelled, never was, or belongs to another process.
    pub fn cancel(&self, owner: Pid, id: u64) -> bool {
        let mut pending = self.lock();
        match pending.get(&id) {
            Some((o, _)) if *o == owner => {}
            _ => return false,
        }
        match pending.remove(&id) {
            Some((_, task)) => {
                task.abort();
                true
            }
            None => false,
        }
    }

    /// Timers not yet fired.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, (Pid, AbortHandle)>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actor::Received;

    #[tokio::test(start_paused = true)]
    async fn fires_once_and_cancel_stops_it() {
        let table = Arc::new(ProcessTable::new(10, ""));
        let timers = Arc::new(Timers::default());
        let p = table.register().unwrap();
        let handle = tokio::runtime::Handle::current();
        let msg = |b| Message::new(0, vec![b]);
        let a = timers.send_after(
            9,
            &table,
            &handle,
            p.pid(),
            msg(1),
            Duration::from_millis(50),
        );
        let b = timers.send_after(
            9,
            &table,
            &handle,
            p.pid(),
            msg(2),
            Duration::from_millis(60),
        );
        assert!(!timers.cancel(8, b), "only the owner cancels");
        assert!(timers.cancel(9, b));
        assert!(!timers.cancel(9, b));
        assert_eq!(p.mailbox.take(0, None).await, Received::Message(msg(1)));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(p.mailbox.is_empty());
        assert!(!timers.cancel(9, a), "a fired timer cannot be cancelled");
        assert!(timers.is_empty());
    }
}
