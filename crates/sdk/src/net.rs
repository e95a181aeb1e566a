//! TCP and UDP sockets.
//!
//! Blocking-style, like `std::net`: `accept`, `connect`, `read` and `write` suspend the
//! calling process (never the runtime) until they can proceed, and bytes go straight
//! between the kernel and your buffers. Each socket is a handle: put it in a message to
//! hand a connection to another process (accept in one, serve in another). Which addresses
//! may be reached or bound is the runtime's allow-list (`warren run --allow-net`; loopback
//! only by default); a denied address fails with `PermissionDenied`.
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use warren::net::TcpListener;
//!
//! let listener = TcpListener::bind("127.0.0.1:7000").unwrap();
//! for conn in listener.incoming().unwrap() {
//!     let mut conn = conn.unwrap();
//!     warren::spawn!(conn; |_mb: warren::Mailbox<()>| {
//!         let mut buf = [0u8; 4096];
//!         while let Ok(n @ 1..) = conn.read(&mut buf) {
//!             if conn.write_all(&buf[..n]).is_err() { break; }
//!         }
//!     }).unwrap();
//! }
//! ```

use crate::abi;
use crate::handle::{Handle, check, resource_type, text};
use crate::stream::{ByteStream, HostFuture, pair};
use serde::{Deserialize, Serialize};
use std::fmt::Display;
use std::io;
use std::net::{Shutdown, SocketAddr};

fn parse_addr(s: String) -> io::Result<SocketAddr> {
    s.parse()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("bad address {s:?}")))
}

fn local_addr_of(h: u32) -> io::Result<SocketAddr> {
    // SAFETY: the buffer is live and of the given length, written during the call.
    parse_addr(text(|p, cap| unsafe { abi::local_addr(h, p, cap) })?)
}

/// A listening TCP socket. Its port is released when this handle *and* every
/// [`Incoming`] made from it are gone.
#[derive(Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TcpListener {
    handle: Handle,
}
resource_type!(TcpListener);

impl TcpListener {
    /// Bind `addr` ("127.0.0.1:7000", "\[::1\]:0", "localhost:8080") and listen.
    pub fn bind(addr: impl Display) -> io::Result<TcpListener> {
        let a = addr.to_string();
        // SAFETY: pointer and length of `a`, read during the call.
        let r = unsafe { abi::tcp_bind(a.as_ptr(), a.len() as u32) };
        Ok(TcpListener {
            handle: Handle::from_result(r)?,
        })
    }

    /// Wait for the next connection.
    pub fn accept(&self) -> io::Result<TcpStream> {
        accept(self.handle.raw())
    }

    /// The connections this listener accepts, as an iterator of its own handle: it keeps
    /// the listening socket open even after the listener is dropped, and can be sent to
    /// another process (an acceptor).
    pub fn incoming(&self) -> io::Result<Incoming> {
        // SAFETY: plain integer argument.
        let r = unsafe { abi::tcp_incoming(self.handle.raw()) };
        Ok(Incoming {
            handle: Handle::from_result(r)?,
        })
    }

    /// The bound address (with the port the OS chose for port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        local_addr_of(self.handle.raw())
    }
}

fn accept(h: u32) -> io::Result<TcpStream> {
    // SAFETY: plain integer argument.
    let r = unsafe { abi::tcp_accept(h) };
    Ok(TcpStream {
        handle: Handle::from_result(r)?,
    })
}

/// The stream of connections of a [`TcpListener`]; iterating accepts (waiting for each).
#[derive(Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Incoming {
    handle: Handle,
}
resource_type!(Incoming);

impl Incoming {
    /// Wait for the next connection.
    pub fn accept(&self) -> io::Result<TcpStream> {
        accept(self.handle.raw())
    }

    /// The listening address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        local_addr_of(self.handle.raw())
    }
}

impl Iterator for Incoming {
    type Item = io::Result<TcpStream>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.accept())
    }
}

/// A TCP connection. Implements [`io::Read`] and [`io::Write`] (also through `&TcpStream`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TcpStream {
    handle: Handle,
}
resource_type!(TcpStream, Readable, Writable);

impl TcpStream {
    /// Connect to `addr` ("127.0.0.1:6379", "localhost:80"; a name is resolved by the host).
    pub fn connect(addr: impl Display) -> io::Result<TcpStream> {
        let a = addr.to_string();
        // SAFETY: pointer and length of `a`, read during the call.
        let r = unsafe { abi::tcp_connect(a.as_ptr(), a.len() as u32) };
        Ok(TcpStream {
            handle: Handle::from_result(r)?,
        })
    }

    /// Read what is available into `buf` (waiting for some); 0 at the peer's end.
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        crate::stream::read(self.handle.raw(), buf)
    }

    /// Write some of `buf` (waiting for room); returns how much.
    pub fn write(&self, buf: &[u8]) -> io::Result<usize> {
        crate::stream::write(self.handle.raw(), buf)
    }

    /// Write all of `buf`.
    pub fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.write(buf)? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => buf = &buf[n..],
            }
        }
        Ok(())
    }

    /// Shut down the reading side, the writing side (the peer reads its end), or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        let how = match how {
            Shutdown::Read => 0,
            Shutdown::Write => 1,
            Shutdown::Both => 2,
        };
        // SAFETY: plain integer arguments.
        check(unsafe { abi::tcp_shutdown(self.handle.raw(), how) } as i64).map(drop)
    }

    /// The address of the peer.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        let h = self.handle.raw();
        // SAFETY: the buffer is live and of the given length, written during the call.
        parse_addr(text(|p, cap| unsafe { abi::peer_addr(h, p, cap) })?)
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        local_addr_of(self.handle.raw())
    }

    /// The incoming bytes as a [`ByteStream`], and a future that resolves when they end
    /// (the peer shut down its side) or fail. The stream keeps the connection open.
    pub fn receive(&self) -> io::Result<(ByteStream, HostFuture<()>)> {
        let h = self.handle.raw();
        // SAFETY: `out` is a live buffer of two u32, written during the call.
        let (s, f) = pair(|out| unsafe { abi::tcp_receive(h, out) })?;
        Ok((ByteStream::from_handle(s), HostFuture::from_handle(f)))
    }

    /// Send everything `stream` yields, in the host, then shut down the sending side.
    /// Returns at once with a future of the byte count; the connection stays usable.
    pub fn send(&self, stream: ByteStream) -> io::Result<HostFuture<u64>> {
        use crate::handle::Resource;
        // SAFETY: plain integer arguments.
        let r = unsafe { abi::tcp_send(self.handle.raw(), stream.raw_handle()) };
        HostFuture::from_result(r)
    }
}

impl io::Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        TcpStream::read(self, buf)
    }
}

impl io::Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        TcpStream::read(self, buf)
    }
}

impl io::Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        TcpStream::write(self, buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl io::Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        TcpStream::write(self, buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A UDP socket.
#[derive(Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UdpSocket {
    handle: Handle,
}
resource_type!(UdpSocket);

impl UdpSocket {
    /// Bind a UDP socket to `addr` (allowed by the network allow-list).
    pub fn bind(addr: impl Display) -> io::Result<UdpSocket> {
        let a = addr.to_string();
        // SAFETY: pointer and length of `a`, read during the call.
        let r = unsafe { abi::udp_bind(a.as_ptr(), a.len() as u32) };
        Ok(UdpSocket {
            handle: Handle::from_result(r)?,
        })
    }

    /// Send `buf` as one datagram to `addr`.
    pub fn send_to(&self, buf: &[u8], addr: impl Display) -> io::Result<usize> {
        let a = addr.to_string();
        // SAFETY: `buf` and `a` are live across the call, which only reads them.
        let r = unsafe {
            abi::udp_send_to(
                self.handle.raw(),
                buf.as_ptr(),
                buf.len() as u32,
                a.as_ptr(),
                a.len() as u32,
            )
        };
        check(r).map(|n| n as usize)
    }

    /// Wait for a datagram; its bytes (cut to `buf`'s length) and its sender.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let mut addr = [0u8; 128];
        let mut addr_len = 0u32;
        // SAFETY: every buffer is live and exclusively borrowed, written during the call.
        let r = unsafe {
            abi::udp_recv_from(
                self.handle.raw(),
                buf.as_mut_ptr(),
                buf.len() as u32,
                addr.as_mut_ptr(),
                addr.len() as u32,
                &mut addr_len,
            )
        };
        let n = check(r)? as usize;
        let text = std::str::from_utf8(&addr[..(addr_len as usize).min(addr.len())])
            .unwrap_or_default()
            .to_string();
        Ok((n, parse_addr(text)?))
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        local_addr_of(self.handle.raw())
    }
}
