//! [`ByteStream`]: the readable end of a socket, a file or a pipe, with the future that
//! tells how it ended.
//!
//! `socket.receive()` and `file.read_via_stream(offset)` return a stream and its end future
//! (the WASI 0.3 shape): reading the stream yields the data; the future resolves `Ok(0)`
//! once the stream has reached its end, or with the error that stopped it. A stream dropped
//! before its end resolves the future with an error saying so. The stream keeps its source
//! alive (a socket stays open, a file and its locks stay held) for as long as it exists.

use super::future::IoFuture;
use super::{Backing, IoFailure, ReadSource, Ready};
use std::io;
use std::sync::Arc;
use warren_abi::ERR_CLOSED;

pub(crate) struct ByteStream {
    source: Box<dyn ReadSource>,
    end: Arc<IoFuture>,
    /// What the stream reads from, for error messages ("tcp 127.0.0.1:5000", "file /data/x").
    what: String,
}

impl ByteStream {
    /// A stream over `source`, and its end future.
    pub(crate) fn new(
        source: impl ReadSource + 'static,
        what: impl Into<String>,
    ) -> (Self, Arc<IoFuture>) {
        let end = Arc::new(IoFuture::new());
        let stream = ByteStream {
            source: Box::new(source),
            end: end.clone(),
            what: what.into(),
        };
        (stream, end)
    }
}

impl ReadSource for ByteStream {
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        if self.end.is_resolved() && !buf.is_empty() {
            // Ended (or failed) before: stay ended.
            return Ok(0);
        }
        match self.source.try_read(buf) {
            Ok(0) if !buf.is_empty() => {
                self.end.resolve(Ok(0));
                Ok(0)
            }
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => {
                self.end
                    .resolve(Err(IoFailure::io(format!("reading {}", self.what), &e)));
                Err(e)
            }
            r => r,
        }
    }

    fn ready(&self) -> Ready<'_> {
        self.source.ready()
    }

    fn ready_exact(&self) -> Ready<'_> {
        if self.end.is_resolved() {
            return Box::pin(async { Ok(()) });
        }
        self.source.ready_exact()
    }

    fn backing(&self) -> Option<Backing> {
        self.source.backing()
    }
}

impl Drop for ByteStream {
    fn drop(&mut self) {
        self.end.resolve(Err(IoFailure::new(
            ERR_CLOSED,
            format!("the stream from {} was dropped before its end", self.what),
        )));
    }
}
