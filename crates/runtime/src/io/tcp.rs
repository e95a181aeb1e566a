//! TCP: listeners, the stream of connections they accept, and connections.
//!
//! A [`TcpConn`] is read and written through `&self` (readiness + non-blocking syscalls), so
//! a connection can be read by its owner, written by a splice and shut down by a third holder
//! at once. The listening socket closes — and its port is free again — when the last of the
//! listener handle and the [`Incoming`] streams derived from it is gone.

use super::{ReadSource, Ready, WriteSink};
use crate::sync::Locked;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};

/// A bound, listening TCP socket.
#[derive(Debug)]
pub(crate) struct TcpListenerObj {
    listener: TcpListener,
    local: SocketAddr,
    /// A connection accepted while waiting for readiness (a `select`), kept for the next
    /// `accept`.
    early: Mutex<Option<(TcpStream, SocketAddr)>>,
}

impl TcpListenerObj {
    pub(crate) async fn bind(addr: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        Ok(TcpListenerObj {
            listener,
            local,
            early: Mutex::new(None),
        })
    }

    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Stop listening (a graceful shutdown's HTTP drain): connections waiting in the backlog
    /// are reset and new ones refused, while the socket stays open for whoever holds it (an
    /// accept on it fails from now on).
    pub(crate) fn stop_listening(&self) {
        if let Err(e) = socket2::SockRef::from(&self.listener).shutdown(std::net::Shutdown::Read) {
            tracing::debug!("stop listening on {}: {e}", self.local);
        }
        self.early().take();
    }

    /// Wait for the next connection.
    pub(crate) async fn accept(&self) -> io::Result<TcpConn> {
        if let Some((stream, peer)) = self.early().take() {
            return TcpConn::new(stream, Some(peer));
        }
        let (stream, peer) = self.listener.accept().await?;
        TcpConn::new(stream, Some(peer))
    }

    /// Wait for the next connection, as tokio's stream (for a host server that speaks a
    /// protocol over it itself, like HTTP).
    pub(crate) async fn accept_stream(&self) -> io::Result<(TcpStream, SocketAddr)> {
        if let Some(early) = self.early().take() {
            return Ok(early);
        }
        self.listener.accept().await
    }

    /// Resolves when a connection is waiting to be accepted (it is accepted and kept for
    /// the next [`accept`](Self::accept): tokio has no accept-readiness without accepting).
    pub(crate) async fn ready(&self) -> io::Result<()> {
        std::future::poll_fn(|cx| {
            let mut early = self.early();
            if early.is_some() {
                return std::task::Poll::Ready(Ok(()));
            }
            match self.listener.poll_accept(cx) {
                std::task::Poll::Ready(Ok(conn)) => {
                    *early = Some(conn);
                    std::task::Poll::Ready(Ok(()))
                }
                std::task::Poll::Ready(Err(e)) => std::task::Poll::Ready(Err(e)),
                std::task::Poll::Pending => std::task::Poll::Pending,
            }
        })
        .await
    }

    fn early(&self) -> std::sync::MutexGuard<'_, Option<(TcpStream, SocketAddr)>> {
        self.early.locked()
    }
}

/// The connections a listener accepts, as a resource of its own: it keeps the listener (and
/// its port) alive even after the listener's own handle is dropped.
#[derive(Debug)]
pub(crate) struct Incoming {
    /// Held, not read: it keeps the listening socket open.
    #[allow(dead_code)]
    pub listener: Arc<TcpListenerObj>,
}

/// A TCP connection.
#[derive(Debug)]
pub(crate) struct TcpConn {
    stream: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
}

impl TcpConn {
    pub(crate) fn new(stream: TcpStream, peer: Option<SocketAddr>) -> io::Result<Self> {
        let peer = match peer {
            Some(p) => p,
            None => stream.peer_addr()?,
        };
        let local = stream.local_addr()?;
        // Small request/response exchanges must not wait for Nagle.
        stream.set_nodelay(true)?;
        Ok(TcpConn {
            stream,
            peer,
            local,
        })
    }

    pub(crate) async fn connect(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        TcpConn::new(stream, Some(addr))
    }

    pub(crate) fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local
    }

    pub(crate) fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match socket2::SockRef::from(&self.stream).shutdown(how) {
            // Already shut down or reset by the peer: the goal is reached.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            r => r,
        }
    }
}

impl ReadSource for TcpConn {
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        // A read that returns less than asked has drained the socket. Tell tokio (as its own
        // `AsyncRead` does), or the next read would spend a syscall to learn it: reporting
        // WouldBlock from inside `try_io` clears the cached readiness, and the bytes read
        // are handed back all the same.
        let mut short = None;
        let r = self.stream.try_io(tokio::io::Interest::READABLE, || {
            let n = io::Read::read(&mut &*socket2::SockRef::from(&self.stream), buf)?;
            if n > 0 && n < buf.len() {
                short = Some(n);
                return Err(io::ErrorKind::WouldBlock.into());
            }
            Ok(n)
        });
        match short {
            Some(n) => Ok(n),
            None => r,
        }
    }

    fn ready(&self) -> Ready<'_> {
        Box::pin(async move { self.stream.readable().await })
    }

    fn ready_exact(&self) -> Ready<'_> {
        // tokio keeps a socket "readable" until a read hits WouldBlock, so after a read
        // that drained it, `readable()` answers at once. A peek asks the kernel.
        Box::pin(async move {
            let mut byte = [0u8; 1];
            match self.stream.peek(&mut byte).await {
                Ok(_) => Ok(()),
                // An error is "ready" too: the read will report it.
                Err(_) => Ok(()),
            }
        })
    }
}

impl WriteSink for TcpConn {
    fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.stream.try_write(buf)
    }

    fn ready(&self) -> Ready<'_> {
        Box::pin(async move { self.stream.writable().await })
    }

    fn finish(&self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

/// The read side of a shared connection, as a stream source.
pub(crate) struct TcpReadSide(pub Arc<TcpConn>);

impl ReadSource for TcpReadSide {
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.try_read(buf)
    }

    fn ready(&self) -> Ready<'_> {
        ReadSource::ready(&*self.0)
    }

    fn ready_exact(&self) -> Ready<'_> {
        self.0.ready_exact()
    }
}
