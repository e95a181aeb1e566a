//! Host pumps: copy a stream into a sink in the host, independent of any process.
//!
//! `copy(stream, sink)` starts a tokio task that owns a reference to both ends, reads into a
//! host buffer and writes it out until the stream ends (then `finish`es the sink: a socket's
//! sending side is shut down, a pipe's writer closed) or fails. It returns an [`IoFuture`]
//! that resolves with the number of bytes copied. The process that started it may exit at
//! once; the bytes keep flowing. [`Pumps`] tracks the live pumps so a runtime shutdown can
//! stop them (and so drop the sockets and files they hold).

use super::future::IoFuture;
use super::{IoFailure, ReadSource, WriteSink};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::task::AbortHandle;

/// Size of a pump's buffer.
pub const PUMP_BUFFER: usize = 64 * 1024;

/// The live pumps of one runtime.
#[derive(Debug, Default)]
pub struct Pumps {
    next: AtomicU64,
    live: Mutex<HashMap<u64, AbortHandle>>,
}

impl Pumps {
    pub fn new() -> Self {
        Self::default()
    }

    /// Copy `from` into `to` until `from` ends; returns the future of the outcome.
    pub fn copy(
        self: &Arc<Self>,
        handle: &tokio::runtime::Handle,
        from: Arc<dyn ReadSource>,
        to: Arc<dyn WriteSink>,
        what: String,
    ) -> Arc<IoFuture> {
        let done = Arc::new(IoFuture::new());
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let pumps = Arc::downgrade(self);
        let result = done.clone();
        // Hold the lock across spawn so the task cannot finish and deregister before it is
        // registered.
        let mut live = self.lock();
        let task = handle.spawn(async move {
            let outcome = pump(&*from, &*to)
                .await
                .map_err(|(n, e)| IoFailure::io(format!("{what} (after {n} bytes)"), &e));
            // Release both ends before announcing the outcome: whoever waits may rely on
            // the sink being closed.
            drop(from);
            drop(to);
            result.resolve(outcome);
            if let Some(p) = pumps.upgrade() {
                p.lock().remove(&id);
            }
        });
        live.insert(id, task.abort_handle());
        done
    }

    /// Pumps still running.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stop every pump (runtime shutdown); their sockets and files are dropped.
    pub fn abort_all(&self) {
        for (_, task) in self.lock().drain() {
            task.abort();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, AbortHandle>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }
}

async fn pump(from: &dyn ReadSource, to: &dyn WriteSink) -> Result<u64, (u64, std::io::Error)> {
    let mut buf = vec![0u8; PUMP_BUFFER];
    let mut total = 0u64;
    loop {
        let n = super::read(from, &mut buf).await.map_err(|e| (total, e))?;
        if n == 0 {
            to.finish().map_err(|e| (total, e))?;
            return Ok(total);
        }
        super::write_all(to, &buf[..n])
            .await
            .map_err(|e| (total, e))?;
        total += n as u64;
    }
}
