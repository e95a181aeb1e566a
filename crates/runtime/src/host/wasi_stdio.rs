//! A process's stdout and stderr with each line prefixed by its pid (`--stdio-prefix`).
//!
//! The model: the host's stdout is shared by every process, and a process's `println!` may
//! reach the host in pieces (a long line, or `print!` without a newline). So each process's
//! stream keeps its unfinished line and writes only whole lines, each as `[PID] line` in one
//! write under the host stream's lock: lines of different processes never mix. An
//! unfinished line is held up to [`MAX_PARTIAL`] bytes (then written as a line of its own),
//! and written when the process's WASI context goes (its instance ended).

use crate::sync::Locked;
use bytes::Bytes;
use std::io::{self, Write};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};

/// Most bytes of an unfinished line held per stream.
pub(crate) const MAX_PARTIAL: usize = 8192;

/// Which host stream.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Which {
    Stdout,
    Stderr,
}

/// The unfinished line of one process's stream; written out when the last user goes.
struct Lines {
    which: Which,
    prefix: Vec<u8>,
    partial: Vec<u8>,
}

impl Lines {
    fn write_line(&self, line: &[u8], newline: bool) -> io::Result<()> {
        let mut out = Vec::with_capacity(self.prefix.len() + line.len() + 1);
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(line);
        if newline {
            out.push(b'\n');
        }
        match self.which {
            Which::Stdout => io::stdout().lock().write_all(&out),
            Which::Stderr => io::stderr().lock().write_all(&out),
        }
    }

    fn push(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while let Some(i) = bytes.iter().position(|&b| b == b'\n') {
            if self.partial.is_empty() {
                self.write_line(&bytes[..=i], false)?;
            } else {
                self.partial.extend_from_slice(&bytes[..=i]);
                let line = std::mem::take(&mut self.partial);
                self.write_line(&line, false)?;
            }
            bytes = &bytes[i + 1..];
        }
        self.partial.extend_from_slice(bytes);
        if self.partial.len() >= MAX_PARTIAL {
            let line = std::mem::take(&mut self.partial);
            self.write_line(&line, true)?;
        }
        Ok(())
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        if !self.partial.is_empty() {
            let _ = self.write_line(&self.partial, true);
        }
    }
}

/// A process's prefixed stdout or stderr (one per WASI context).
#[derive(Clone)]
pub(crate) struct Prefixed {
    lines: Arc<Mutex<Lines>>,
    which: Which,
}

impl Prefixed {
    /// The stream `which` of process `pid`.
    pub(crate) fn new(pid: u64, which: Which) -> Self {
        Prefixed {
            lines: Arc::new(Mutex::new(Lines {
                which,
                prefix: format!("[{pid}] ").into_bytes(),
                partial: Vec::new(),
            })),
            which,
        }
    }

    fn push(&self, bytes: &[u8]) -> io::Result<()> {
        self.lines.locked().push(bytes)
    }

    fn flush_host(&self) -> io::Result<()> {
        match self.which {
            Which::Stdout => io::stdout().flush(),
            Which::Stderr => io::stderr().flush(),
        }
    }
}

impl IsTerminal for Prefixed {
    fn is_terminal(&self) -> bool {
        match self.which {
            Which::Stdout => io::IsTerminal::is_terminal(&io::stdout()),
            Which::Stderr => io::IsTerminal::is_terminal(&io::stderr()),
        }
    }
}

impl StdoutStream for Prefixed {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for Prefixed {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes)
            .map_err(|e| StreamError::LastOperationFailed(e.into()))
    }

    fn flush(&mut self) -> StreamResult<()> {
        self.flush_host()
            .map_err(|e| StreamError::LastOperationFailed(e.into()))
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Prefixed {
    async fn ready(&mut self) {}
}

impl AsyncWrite for Prefixed {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(self.push(buf).map(|()| buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.flush_host())
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
