//! In-memory byte pipes: a [`PipeWriter`] end and a reader end (wrapped in a
//! [`super::ByteStream`]), for streaming between processes or into a host splice.
//!
//! The pipe holds at most [`PIPE_CAPACITY`] bytes; a writer waits for room, a reader for
//! data. When every reference to the writer is gone the reader sees the end after the
//! buffered bytes; when the reader is gone, writes fail with "broken pipe".

use super::{Backing, ReadSource, Ready, WriteSink};
use crate::sync::Locked;
use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// Bytes a pipe buffers before its writer has to wait.
pub(crate) const PIPE_CAPACITY: usize = 64 * 1024;

#[derive(Debug, Default)]
struct State {
    buf: VecDeque<u8>,
    writer_closed: bool,
    reader_closed: bool,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    /// Signalled when data arrives or the writer closes.
    readable: Notify,
    /// Signalled when room frees up or the reader closes.
    writable: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.locked()
    }
}

/// The writing end. Dropping the last reference ends the stream for the reader.
#[derive(Debug)]
pub(crate) struct PipeWriter(Arc<Shared>);

/// The reading end.
#[derive(Debug)]
pub(crate) struct PipeReader(Arc<Shared>);

/// A new pipe.
pub(crate) fn pipe() -> (PipeWriter, PipeReader) {
    let shared = Arc::new(Shared::default());
    (PipeWriter(shared.clone()), PipeReader(shared))
}

impl PipeWriter {
    /// End the stream now (as dropping the last reference does).
    pub(crate) fn close(&self) {
        self.0.lock().writer_closed = true;
        self.0.readable.notify_waiters();
    }
}

impl Drop for PipeWriter {
    fn drop(&mut self) {
        self.close();
    }
}

impl Drop for PipeReader {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.reader_closed = true;
        s.buf = VecDeque::new();
        drop(s);
        self.0.writable.notify_waiters();
    }
}

/// Wait on `notify` until `ready` holds, without missing a wakeup between check and wait.
async fn wait_until(notify: &Notify, ready: impl Fn() -> bool) {
    loop {
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if ready() {
            return;
        }
        notified.await;
    }
}

impl ReadSource for PipeReader {
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut s = self.0.lock();
        if s.buf.is_empty() {
            return if s.writer_closed || buf.is_empty() {
                Ok(0)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            };
        }
        let n = buf.len().min(s.buf.len());
        let (a, b) = s.buf.as_slices();
        let from_a = n.min(a.len());
        buf[..from_a].copy_from_slice(&a[..from_a]);
        buf[from_a..n].copy_from_slice(&b[..n - from_a]);
        s.buf.drain(..n);
        drop(s);
        self.0.writable.notify_waiters();
        Ok(n)
    }

    fn ready(&self) -> Ready<'_> {
        Box::pin(async move {
            wait_until(&self.0.readable, || {
                let s = self.0.lock();
                !s.buf.is_empty() || s.writer_closed
            })
            .await;
            Ok(())
        })
    }

    fn backing(&self) -> Option<Backing> {
        Some(Backing::Pipe(Arc::as_ptr(&self.0) as usize))
    }
}

impl WriteSink for PipeWriter {
    fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        let mut s = self.0.lock();
        if s.reader_closed {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the pipe's reading end is gone",
            ));
        }
        if s.writer_closed {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "the pipe's writing end was closed",
            ));
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let room = PIPE_CAPACITY.saturating_sub(s.buf.len());
        if room == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = room.min(buf.len());
        s.buf.extend(&buf[..n]);
        drop(s);
        self.0.readable.notify_waiters();
        Ok(n)
    }

    fn ready(&self) -> Ready<'_> {
        Box::pin(async move {
            wait_until(&self.0.writable, || {
                let s = self.0.lock();
                s.buf.len() < PIPE_CAPACITY || s.reader_closed || s.writer_closed
            })
            .await;
            Ok(())
        })
    }

    fn finish(&self) -> io::Result<()> {
        self.close();
        Ok(())
    }

    fn backing(&self) -> Option<Backing> {
        Some(Backing::Pipe(Arc::as_ptr(&self.0) as usize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bytes_flow_then_end_when_the_writer_goes() {
        let (w, r) = pipe();
        let writer = tokio::spawn(async move {
            let data = vec![7u8; PIPE_CAPACITY * 3];
            super::super::write_all(&w, &data).await.unwrap();
        });
        let mut total = 0;
        let mut buf = vec![0; 10_000];
        loop {
            let n = super::super::read(&r, &mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            assert!(buf[..n].iter().all(|&b| b == 7));
            total += n;
        }
        writer.await.unwrap();
        assert_eq!(total, PIPE_CAPACITY * 3);
    }

    #[tokio::test]
    async fn writing_to_a_pipe_without_reader_fails() {
        let (w, r) = pipe();
        drop(r);
        let e = w.try_write(b"x").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
    }
}
