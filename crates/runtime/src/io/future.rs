//! [`IoFuture`]: a one-shot result the host sets and processes wait for or poll.
//!
//! It tells how a stream ended (`Ok` at its end, `Err` on an error) or how a splice went
//! (`Ok(bytes copied)`). It is a resource like any other: it can be waited on by whoever
//! holds its handle, moved in a message, or dropped without anyone looking.

use super::IoFailure;
use crate::sync::Locked;
use std::sync::Mutex;
use tokio::sync::Notify;

/// What a future resolves to: a count (bytes copied; 0 where nothing is counted) or a failure.
pub(crate) type Outcome = Result<u64, IoFailure>;

/// Stops the work behind a future (a host pump), run at most once by [`IoFuture::cancel`].
pub(crate) type Canceller = Box<dyn FnOnce() + Send + Sync>;

#[derive(Default)]
pub(crate) struct IoFuture {
    value: Mutex<Option<Outcome>>,
    done: Notify,
    cancel: Mutex<Option<Canceller>>,
}

impl std::fmt::Debug for IoFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IoFuture")
            .field("value", &self.poll())
            .finish_non_exhaustive()
    }
}

impl IoFuture {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Set the outcome; only the first call counts. Returns whether this call set it.
    pub(crate) fn resolve(&self, outcome: Outcome) -> bool {
        let mut v = self.value.locked();
        if v.is_some() {
            return false;
        }
        *v = Some(outcome);
        drop(v);
        self.done.notify_waiters();
        true
    }

    /// What stops the work behind this future (see [`IoFuture::cancel`]).
    pub(crate) fn on_cancel(&self, canceller: Canceller) {
        *self.cancel.locked() = Some(canceller);
    }

    /// Stop the work behind this future, if it has any and is still running: the future
    /// resolves with `ERR_CLOSED` ("cancelled"). Returns whether this call resolved it.
    pub(crate) fn cancel(&self) -> bool {
        let canceller = self.cancel.locked().take();
        let resolved = self.resolve(Err(IoFailure::new(warren_abi::ERR_CLOSED, "cancelled")));
        if let Some(stop) = canceller {
            stop();
        }
        resolved
    }

    /// The outcome, if resolved.
    pub(crate) fn poll(&self) -> Option<Outcome> {
        self.value.locked().clone()
    }

    pub(crate) fn is_resolved(&self) -> bool {
        self.value.locked().is_some()
    }

    /// Wait for the outcome.
    pub(crate) async fn wait(&self) -> Outcome {
        loop {
            let notified = self.done.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(v) = self.poll() {
                return v;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn first_resolution_wins_and_wakes_waiters() {
        let f = Arc::new(IoFuture::new());
        let w = f.clone();
        let waiter = tokio::spawn(async move { w.wait().await });
        tokio::task::yield_now().await;
        assert!(f.resolve(Ok(5)));
        assert!(!f.resolve(Err(IoFailure::new(-11, "late"))));
        assert_eq!(waiter.await.unwrap(), Ok(5));
        assert_eq!(f.poll(), Some(Ok(5)));
    }
}
