//! [`Timed`]: a connection whose writes must make progress.
//!
//! A client that stops reading leaves the server's writes pending forever, and with them
//! the connection's slot, its buffers and (per connection) its process. Every HTTP
//! connection — and the WebSocket it may become — is wrapped in this: a write that stays
//! pending for the write timeout (no byte accepted by the socket for that long) fails with
//! `TimedOut`, and hyper (or the WebSocket task) closes the connection. A client that reads,
//! however slowly, keeps it: the clock restarts at every byte that leaves.

use hyper::rt::{Read, ReadBufCursor, Write};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// `inner`, with writes that fail after `timeout` without progress.
pub(super) struct Timed<T> {
    inner: T,
    timeout: Duration,
    /// Armed while a write is pending.
    deadline: Option<Pin<Box<Sleep>>>,
}

impl<T> Timed<T> {
    pub(super) fn new(inner: T, timeout: Duration) -> Timed<T> {
        Timed {
            inner,
            timeout,
            deadline: None,
        }
    }

    /// A write is pending: has it been for too long? (Arms the clock on the first call.)
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        let timeout = self.timeout;
        let sleep = self
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(Instant::now() + timeout)));
        sleep.as_mut().poll(cx).is_ready()
    }

    /// A write's (or flush's) outcome, timed: pending past the deadline is an error; any
    /// progress restarts the clock.
    fn timing<R>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        match poll {
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(self.timed_out())),
            Poll::Pending => Poll::Pending,
            ready => {
                self.deadline = None;
                ready
            }
        }
    }

    fn timed_out(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "the client accepted no byte for {:?} (--http-write-timeout)",
                self.timeout
            ),
        )
    }
}

impl<T: Read + Unpin> Read for Timed<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: Write + Unpin> Write for Timed<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.timing(cx, poll)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.timing(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.timing(cx, poll)
    }
}
