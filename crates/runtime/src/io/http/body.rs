//! Bodies: the request's, read straight from hyper into guest memory, and the pipe a process
//! writes a response body into.

use super::exchange::Reply;
use crate::io::pipe::{self, PipeReader, PipeWriter};
use crate::io::{Backing, ReadSource, Ready, WriteSink};
use crate::sync::Locked;
use bytes::{Buf, Bytes};
use http_body::Body;
use hyper::body::Incoming;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// A request's body as a [`ReadSource`]: each read copies from the frame hyper holds into
/// the reader's buffer (guest memory, for `read`). At most `limit` bytes: past it the read
/// fails and, if nothing answered the request yet, it is answered 413.
pub(crate) struct RequestBody {
    state: Mutex<State>,
    limit: u64,
    reply: Arc<Reply>,
}

struct State {
    /// hyper's body, until its end or an error.
    body: Option<Incoming>,
    /// The rest of the frame being read.
    chunk: Bytes,
    /// Bytes received so far.
    received: u64,
    /// Why the body failed, once it has.
    failed: Option<(io::ErrorKind, String)>,
}

impl RequestBody {
    pub(super) fn new(body: Incoming, limit: u64, reply: Arc<Reply>) -> Self {
        RequestBody {
            state: Mutex::new(State {
                body: Some(body),
                chunk: Bytes::new(),
                received: 0,
                failed: None,
            }),
            limit,
            reply,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.locked()
    }

    /// Advance to the next data frame if the current one is used up: `Ready` when there is
    /// data, the end or an error to report.
    fn poll_fill(&self, s: &mut State, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if !s.chunk.is_empty() || s.failed.is_some() {
                return Poll::Ready(());
            }
            let Some(body) = s.body.as_mut() else {
                return Poll::Ready(());
            };
            match Pin::new(body).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => s.body = None,
                Poll::Ready(Some(Err(e))) => {
                    s.body = None;
                    s.failed = Some((io::ErrorKind::ConnectionReset, format!("request body: {e}")));
                }
                Poll::Ready(Some(Ok(frame))) => {
                    // Trailers carry no bytes of the body: skipped.
                    if let Ok(data) = frame.into_data() {
                        s.received += data.len() as u64;
                        if s.received > self.limit {
                            s.body = None;
                            let why = format!(
                                "the request body is over the limit of {} bytes \
                                 (--http-max-body-bytes)",
                                self.limit
                            );
                            self.reply.refuse(413, &why);
                            s.failed = Some((io::ErrorKind::QuotaExceeded, why));
                        } else {
                            s.chunk = data;
                        }
                    }
                }
            }
        }
    }
}

impl ReadSource for RequestBody {
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut s = self.lock();
        if buf.is_empty() {
            return Ok(0);
        }
        let mut cx = Context::from_waker(Waker::noop());
        if self.poll_fill(&mut s, &mut cx).is_pending() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        if !s.chunk.is_empty() {
            let n = buf.len().min(s.chunk.len());
            buf[..n].copy_from_slice(&s.chunk[..n]);
            s.chunk.advance(n);
            return Ok(n);
        }
        match &s.failed {
            Some((kind, why)) => Err(io::Error::new(*kind, why.clone())),
            None => Ok(0),
        }
    }

    fn ready(&self) -> Ready<'_> {
        Box::pin(std::future::poll_fn(move |cx| {
            let mut s = self.lock();
            self.poll_fill(&mut s, cx).map(Ok)
        }))
    }
}

/// A response body a process writes: a pipe whose writer, dropped without being closed
/// (its process crashed), makes the reader fail instead of ending — so hyper aborts the
/// response rather than sending a truncated body as if it were whole.
pub(crate) fn body_pipe() -> (BodyPipeWriter, BodyPipeReader) {
    let (w, r) = pipe::pipe();
    let aborted = Arc::new(AtomicBool::new(false));
    (
        BodyPipeWriter {
            pipe: w,
            closed: AtomicBool::new(false),
            aborted: aborted.clone(),
        },
        BodyPipeReader { pipe: r, aborted },
    )
}

/// The writing end of [`body_pipe`] (a `stream-writer` handle).
#[derive(Debug)]
pub(crate) struct BodyPipeWriter {
    pipe: PipeWriter,
    closed: AtomicBool,
    aborted: Arc<AtomicBool>,
}

impl BodyPipeWriter {
    /// The body is complete.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.pipe.close();
    }
}

impl Drop for BodyPipeWriter {
    fn drop(&mut self) {
        if !self.closed.load(Ordering::SeqCst) {
            self.aborted.store(true, Ordering::SeqCst);
        }
        // The pipe's own drop then ends the stream for the reader.
    }
}

impl WriteSink for BodyPipeWriter {
    fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.pipe.try_write(buf)
    }

    fn ready(&self) -> Ready<'_> {
        self.pipe.ready()
    }

    fn finish(&self) -> io::Result<()> {
        self.close();
        Ok(())
    }

    fn backing(&self) -> Option<Backing> {
        WriteSink::backing(&self.pipe)
    }
}

/// The reading end of [`body_pipe`], which hyper sends from.
pub(crate) struct BodyPipeReader {
    pipe: PipeReader,
    aborted: Arc<AtomicBool>,
}

impl ReadSource for BodyPipeReader {
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self.pipe.try_read(buf) {
            Ok(0) if !buf.is_empty() && self.aborted.load(Ordering::SeqCst) => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the process writing the response body ended without closing it",
            )),
            r => r,
        }
    }

    fn ready(&self) -> Ready<'_> {
        self.pipe.ready()
    }

    fn backing(&self) -> Option<Backing> {
        ReadSource::backing(&self.pipe)
    }
}

/// A response body read from `source` by the host, in chunks of up to 64 KiB.
pub(super) fn from_source(source: Arc<dyn ReadSource>) -> super::ResponseBody {
    use http_body_util::BodyExt;
    let frames = futures_util::stream::unfold(Some(source), |source| async move {
        let source = source?;
        let mut buf = vec![0u8; crate::io::splice::PUMP_BUFFER];
        match crate::io::read(&*source, &mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(hyper::body::Frame::data(Bytes::from(buf))), Some(source)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    http_body_util::StreamBody::new(frames).boxed_unsync()
}

/// A response body of `bytes`.
pub(super) fn full(bytes: impl Into<Bytes>) -> super::ResponseBody {
    use http_body_util::BodyExt;
    http_body_util::Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}
