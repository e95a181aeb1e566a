//! Draining: how a runtime's HTTP servers stop without failing a request they accepted.
//!
//! # The model
//!
//! One [`Drain`] is shared by every server of a runtime. Until it [starts](Drain::start),
//! it only counts the connections being served ([`Drain::connection`]: a guard held from
//! the accept to the end of hyper's work on the connection). When it starts (the first step
//! of a graceful shutdown):
//!
//! - every accept loop stops and shuts its listening socket down, so new connections are
//!   refused at once (a load balancer moves on) instead of waiting in a backlog nobody
//!   reads;
//! - every connection is told to finish: one with a request in flight answers it (with
//!   `connection: close`; a streamed response streams to its end) and closes; an idle
//!   keep-alive connection closes at once; a connection accepted but whose first request
//!   has not arrived yet gets up to [`FIRST_REQUEST_GRACE`] (or the header timeout, if
//!   shorter) to send it, since its client may well have sent it already;
//! - [`Drain::finished`] resolves when no connection is left.
//!
//! A connection that became a WebSocket is no longer hyper's: it is not waited for here but
//! ends with the process holding it (the next step of the shutdown).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// Longest a connection accepted before the drain, which has not sent a request yet, is
/// given to send its first one.
pub(super) const FIRST_REQUEST_GRACE: Duration = Duration::from_secs(2);

/// The drain of one runtime's HTTP servers.
#[derive(Debug)]
pub(crate) struct Drain {
    draining: watch::Sender<bool>,
    live: AtomicUsize,
    emptied: Notify,
}

impl Default for Drain {
    fn default() -> Self {
        Drain {
            draining: watch::Sender::new(false),
            live: AtomicUsize::new(0),
            emptied: Notify::new(),
        }
    }
}

impl Drain {
    /// Start draining (idempotent): servers stop accepting, connections finish.
    pub(crate) fn start(&self) {
        self.draining.send_replace(true);
    }

    /// Resolves when the drain starts (at once if it has).
    pub(crate) async fn started(&self) {
        let mut rx = self.draining.subscribe();
        // The sender lives as long as `self`: `wait_for` cannot fail while we borrow it.
        let _ = rx.wait_for(|d| *d).await;
    }

    /// Count one connection until the guard is dropped.
    pub(crate) fn connection(self: &Arc<Self>) -> Live {
        self.live.fetch_add(1, Ordering::AcqRel);
        Live(self.clone())
    }

    /// Connections being served now.
    pub(crate) fn live(&self) -> usize {
        self.live.load(Ordering::Acquire)
    }

    /// Resolves when no connection is being served.
    pub(crate) async fn finished(&self) {
        loop {
            let emptied = self.emptied.notified();
            tokio::pin!(emptied);
            emptied.as_mut().enable();
            if self.live() == 0 {
                return;
            }
            emptied.await;
        }
    }
}

/// One connection being served (see [`Drain::connection`]).
#[derive(Debug)]
pub(crate) struct Live(Arc<Drain>);

impl Drop for Live {
    fn drop(&mut self) {
        if self.0.live.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.emptied.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn finished_waits_for_the_last_connection() {
        let drain = Arc::new(Drain::default());
        let (a, b) = (drain.connection(), drain.connection());
        drain.start();
        drain.started().await;
        let waiter = tokio::spawn({
            let drain = drain.clone();
            async move { drain.finished().await }
        });
        drop(a);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(b);
        waiter.await.unwrap();
        assert_eq!(drain.live(), 0);
    }
}
