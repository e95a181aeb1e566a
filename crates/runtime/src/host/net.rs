//! `warren:net`: TCP listeners and connections, UDP sockets, under the network allow-list.
//!
//! Addresses cross the boundary as text (`"127.0.0.1:7000"`, `"[::1]:80"`,
//! `"localhost:6379"`). Every address a process connects to, binds or sends to is checked
//! against the runtime's [`NetPolicy`]; a denied one fails with `ERR_DENIED` and a message
//! naming the address and the allow-list. Reading and writing a connection is
//! `warren:stream.read`/`write` on its handle (zero-copy); `tcp_receive` and `tcp_send` are
//! the stream-and-future forms.

use super::abi::*;
use super::call::{self, CallState, GuestMemory, HostError, HostResult};
use super::io_bridge;
use crate::io::handles::{self, TCP_LISTENER, TCP_STREAM, UDP_SOCKET};
use crate::io::tcp::{TcpConn, TcpListenerObj, TcpReadSide};
use crate::io::udp::UdpObj;
use crate::io::{Copies, IoFailure, NetPolicy};
use crate::resources::{Resource, ResourceTable};
use std::net::{Shutdown, SocketAddr};
use wasmtime::{Caller, Linker};

/// The view `warren:net` needs.
pub(crate) struct NetView<'a> {
    /// The process's handles.
    pub table: &'a mut ResourceTable,
    /// Memory and last error.
    pub call: &'a mut CallState,
    /// The runtime's network allow-list.
    pub policy: &'a NetPolicy,
    /// The process's host copies.
    pub copies: &'a mut Copies,
}

/// What `open_socket` calls binding (the one use where the unspecified address may be
/// allowed).
const BINDING: &str = "binding";

/// Longest address text accepted.
const MAX_ADDR: u32 = 1024;

/// Resolve `text` to the addresses the policy allows, in resolution order. `bind`: the
/// addresses are to be bound (the unspecified address may be allowed); otherwise they are
/// destinations. A host name is looked up only if the policy may allow it (see
/// [`NetPolicy::may_resolve`]); `localhost` is loopback without a lookup.
async fn allowed_addrs(
    policy: &NetPolicy,
    text: &str,
    what: &str,
    bind: bool,
) -> Result<Vec<SocketAddr>, IoFailure> {
    let addrs: Vec<SocketAddr> = match text.parse::<SocketAddr>() {
        Ok(a) => vec![a],
        Err(_) => match text.rsplit_once(':') {
            Some((host, port)) if host.eq_ignore_ascii_case("localhost") => {
                let port: u16 = port
                    .parse()
                    .map_err(|_| IoFailure::new(ERR_BAD_ARGUMENT, format!("{text:?}: bad port")))?;
                vec![
                    SocketAddr::from(([127, 0, 0, 1], port)),
                    SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port)),
                ]
            }
            Some((host, _)) if !policy.may_resolve(host) => {
                return Err(IoFailure::new(
                    ERR_DENIED,
                    format!(
                        "{what} {text}: the network allow-list ({policy}) names no host {host}, \
                         so it is not looked up; allow it in the allow-list"
                    ),
                ));
            }
            _ => match tokio::net::lookup_host(text).await {
                Ok(it) => it.collect(),
                Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
                    return Err(IoFailure::new(
                        ERR_BAD_ARGUMENT,
                        format!("{text:?} is not an address (expected host:port)"),
                    ));
                }
                Err(e) => {
                    return Err(IoFailure::new(
                        ERR_NOT_FOUND,
                        format!("resolving {text}: {e}"),
                    ));
                }
            },
        },
    };
    let allowed: Vec<SocketAddr> = addrs
        .iter()
        .copied()
        .filter(|a| {
            if bind {
                policy.allows(*a)
            } else {
                policy.allows_connect(*a)
            }
        })
        .collect();
    if allowed.is_empty() {
        let shown = addrs.first().map_or(text.to_string(), |a| a.to_string());
        return Err(IoFailure::new(
            ERR_DENIED,
            format!(
                "{what} {shown} is not allowed by the network allow-list ({policy}); \
                 allow it in the allow-list"
            ),
        ));
    }
    Ok(allowed)
}

/// The address argument at `(ptr, len)`, as text.
fn addr_arg<T: 'static>(
    c: &mut Caller<'_, T>,
    get: fn(&mut T) -> NetView<'_>,
    (ptr, len): (u32, u32),
) -> HostResult<String> {
    let (mem, _) = call::split(c, |d| get(d).call)?;
    Ok(mem.text(ptr, len, MAX_ADDR, "address")?.to_string())
}

/// Resolve the address argument, and open a socket on the first allowed address that works
/// (`open`); install it (made a resource by `resource`). `what` names the act in errors
/// ("binding").
async fn open_socket<T: 'static, O, F>(
    c: &mut Caller<'_, T>,
    get: fn(&mut T) -> NetView<'_>,
    addr: (u32, u32),
    what: &str,
    open: impl Fn(SocketAddr) -> F,
    resource: fn(O) -> Resource,
) -> HostResult<i64>
where
    F: std::future::Future<Output = std::io::Result<O>>,
{
    let text = addr_arg(c, get, addr)?;
    let policy = get(c.data_mut()).policy.clone();
    let addrs = allowed_addrs(&policy, &text, what, what == BINDING).await?;
    let mut last = None;
    for addr in addrs {
        match open(addr).await {
            Ok(socket) => return Ok(get(c.data_mut()).table.push(resource(socket))? as i64),
            Err(e) => last = Some((addr, e)),
        }
    }
    let (addr, e) = last.expect("allowed_addrs returns at least one address");
    Err(HostError::io(format!("{what} {addr}"), &e))
}

/// `tcp_accept`: the next connection of a listener.
async fn tcp_accept<T: 'static>(
    c: &mut Caller<'_, T>,
    get: fn(&mut T) -> NetView<'_>,
    h: u32,
) -> HostResult<i64> {
    let listener = handles::listener(get(c.data_mut()).table, h)?;
    match listener.accept().await {
        Ok(conn) => Ok(get(c.data_mut()).table.push(handles::tcp_stream(conn))? as i64),
        Err(e) => Err(HostError::io(
            format!("accepting on {}", listener.local_addr()),
            &e,
        )),
    }
}

/// `udp_send_to`: one datagram from guest memory.
async fn udp_send_to<T: 'static>(
    c: &mut Caller<'_, T>,
    get: fn(&mut T) -> NetView<'_>,
    h: u32,
    (ptr, len): (u32, u32),
    addr: (u32, u32),
) -> HostResult<i64> {
    let text = addr_arg(c, get, addr)?;
    let sock = get(c.data_mut()).table.get_as::<UdpObj>(h, UDP_SOCKET)?;
    let policy = get(c.data_mut()).policy.clone();
    let to = allowed_addrs(&policy, &text, "sending to", false).await?[0];
    let mem = call::memory(c, |d| get(d).call)?;
    let range = call::range(mem.data_size(&*c), ptr, len)?;
    let send = |c: &mut Caller<'_, T>| sock.socket.try_send_to(&mem.data(&*c)[range.clone()], to);
    match io_bridge::retry_in_guest(c, send, || sock.socket.writable()).await {
        Ok(n) => Ok(n as i64),
        Err(e) => Err(HostError::io(format!("sending to {to}"), &e)),
    }
}

/// `udp_recv_from`: wait for a datagram, straight into guest memory.
async fn udp_recv_from<T: 'static>(
    c: &mut Caller<'_, T>,
    get: fn(&mut T) -> NetView<'_>,
    h: u32,
    (ptr, cap): (u32, u32),
    (aptr, acap, alen_out): (u32, u32, u32),
) -> HostResult<i64> {
    let mem = call::memory(c, |d| get(d).call)?;
    let size = mem.data_size(&*c);
    let range = call::range(size, ptr, cap)?;
    call::range(size, aptr, acap)?;
    call::range(size, alen_out, 4)?;
    let sock = get(c.data_mut()).table.get_as::<UdpObj>(h, UDP_SOCKET)?;
    let recv = |c: &mut Caller<'_, T>| {
        sock.socket
            .try_recv_from(&mut mem.data_mut(c)[range.clone()])
    };
    match io_bridge::retry_in_guest(c, recv, || sock.socket.readable()).await {
        Ok((n, from)) => {
            let (mut mem, _) = call::split(c, |d| get(d).call)?;
            let l = mem.write_text(aptr, acap, from.to_string().as_bytes())?;
            mem.write(alen_out, &(l as u32).to_le_bytes())?;
            Ok(n as i64)
        }
        Err(e) => Err(HostError::io(
            format!("receiving on {}", sock.local_addr()),
            &e,
        )),
    }
}

impl NetView<'_> {
    /// `tcp_incoming`: a listener's connections as a resource of their own.
    pub(crate) fn tcp_incoming(&mut self, h: u32) -> HostResult<i64> {
        let listener = self.table.get_as::<TcpListenerObj>(h, TCP_LISTENER)?;
        Ok(self.table.push(handles::tcp_incoming(listener))? as i64)
    }

    /// `tcp_receive`: the connection's incoming bytes as (stream, future) at `out`.
    pub(crate) fn tcp_receive(
        &mut self,
        mem: &mut GuestMemory<'_>,
        h: u32,
        out: u32,
    ) -> HostResult<i32> {
        let conn = self.table.get_as::<TcpConn>(h, TCP_STREAM)?;
        let what = format!("tcp {}", conn.peer_addr());
        io_bridge::install_stream(self.table, mem, out, TcpReadSide(conn), what)
    }

    /// `tcp_send`: a host copy of a byte-stream into the connection; its future.
    pub(crate) fn tcp_send(&mut self, h: u32, stream: u32) -> HostResult<i64> {
        let conn = self.table.get_as::<TcpConn>(h, TCP_STREAM)?;
        let what = format!("sending to {}", conn.peer_addr());
        io_bridge::start_copy(self.table, self.copies, stream, conn, what)
    }

    /// `tcp_shutdown`: shut down one or both directions.
    pub(crate) fn tcp_shutdown(&mut self, h: u32, how: u32) -> HostResult<i32> {
        let how = match how {
            0 => Shutdown::Read,
            1 => Shutdown::Write,
            2 => Shutdown::Both,
            _ => {
                return Err(HostError::bad_argument(format!(
                    "invalid shutdown mode {how}"
                )));
            }
        };
        let conn = self.table.get_as::<TcpConn>(h, TCP_STREAM)?;
        conn.shutdown(how)
            .map_err(|e| HostError::io(format!("shutting down {}", conn.peer_addr()), &e))?;
        Ok(0)
    }

    /// `local_addr` / `peer_addr`: a socket's address as text.
    pub(crate) fn addr(
        &mut self,
        mem: &mut GuestMemory<'_>,
        h: u32,
        (ptr, cap): (u32, u32),
        peer: bool,
    ) -> HostResult<i64> {
        let addr = socket_addr(self.table, h, peer)?;
        mem.write_text(ptr, cap, addr.to_string().as_bytes())
    }
}

/// Add `warren:net` to `linker`; `get` projects the store data onto its view.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> NetView<'_>,
) -> anyhow::Result<()> {
    crate::host_calls!(linker: T, NET_MODULE, get, {
        // tcp_bind(addr_ptr, addr_len) -> i64: a tcp-listener handle.
        async fn tcp_bind(ptr: u32, len: u32) => |c| {
            open_socket(c, get, (ptr, len), BINDING, TcpListenerObj::bind, handles::tcp_listener)
        };

        // tcp_incoming(listener) -> i64: a tcp-incoming handle: the listener's connections,
        // as a resource that keeps the listening socket open on its own.
        fn tcp_incoming(h: u32) => |v| v.tcp_incoming(h);

        // tcp_accept(h) -> i64: wait for the next connection on a tcp-listener or
        // tcp-incoming; a tcp-stream handle.
        async fn tcp_accept(h: u32) => |c| tcp_accept(c, get, h);

        // tcp_connect(addr_ptr, addr_len) -> i64: a tcp-stream handle connected to the
        // address (a name is resolved; the first allowed address that accepts wins).
        async fn tcp_connect(ptr: u32, len: u32) => |c| {
            open_socket(c, get, (ptr, len), "connecting to", TcpConn::connect, handles::tcp_stream)
        };

        // tcp_receive(h, out) -> i32: (byte-stream, future) of the connection's incoming
        // bytes, written as two u32 at `out`. The future resolves when the stream reaches the
        // peer's end (or an error).
        fn tcp_receive(h: u32, out: u32) => |v, mem| v.tcp_receive(mem, h, out);

        // tcp_send(h, stream) -> i64: a future. A host pump sends the byte-stream (which
        // moves into it) over the connection, then shuts down the sending side; the future
        // resolves with the bytes sent. The connection handle stays usable.
        fn tcp_send(h: u32, stream: u32) => |v| v.tcp_send(h, stream);

        // tcp_shutdown(h, how) -> i32: how 0 = read, 1 = write, 2 = both (else
        // ERR_BAD_ARGUMENT).
        fn tcp_shutdown(h: u32, how: u32) => |v| v.tcp_shutdown(h, how);

        // local_addr(h, ptr, cap) -> i64: the address as text at ptr (if it fits in cap) and
        // its length; any socket handle.
        fn local_addr(h: u32, ptr: u32, cap: u32) => |v, mem| v.addr(mem, h, (ptr, cap), false);

        // peer_addr(h, ptr, cap) -> i64: as local_addr, for the peer of a tcp-stream.
        fn peer_addr(h: u32, ptr: u32, cap: u32) => |v, mem| v.addr(mem, h, (ptr, cap), true);

        // udp_bind(addr_ptr, addr_len) -> i64: a udp-socket handle.
        async fn udp_bind(ptr: u32, len: u32) => |c| {
            open_socket(c, get, (ptr, len), BINDING, UdpObj::bind, handles::udp_socket)
        };

        // udp_send_to(h, ptr, len, addr_ptr, addr_len) -> i64: bytes sent as one datagram.
        async fn udp_send_to(h: u32, ptr: u32, len: u32, aptr: u32, alen: u32)
            => |c| udp_send_to(c, get, h, (ptr, len), (aptr, alen));

        // udp_recv_from(h, ptr, cap, addr_ptr, addr_cap, addr_len_out) -> i64: wait for a
        // datagram; its bytes (cut to cap) at ptr, the sender's address as text at addr_ptr
        // (if it fits addr_cap) and that text's length as u32 at addr_len_out. Returns the
        // bytes read.
        async fn udp_recv_from(h: u32, ptr: u32, cap: u32, aptr: u32, acap: u32, alen_out: u32)
            => |c| udp_recv_from(c, get, h, (ptr, cap), (aptr, acap, alen_out));
    });
    Ok(())
}

/// The address of any socket handle (`peer`: the peer of a tcp-stream).
fn socket_addr(
    table: &ResourceTable,
    h: u32,
    peer: bool,
) -> Result<SocketAddr, crate::resources::HandleError> {
    let r = table.get(h)?;
    if let Some(conn) = r.downcast::<TcpConn>() {
        return Ok(if peer {
            conn.peer_addr()
        } else {
            conn.local_addr()
        });
    }
    if !peer {
        if let Some(l) = r.interface::<TcpListenerObj>() {
            return Ok(l.local_addr());
        }
        if let Some(u) = r.downcast::<UdpObj>() {
            return Ok(u.local_addr());
        }
        if let Some(s) = r.downcast::<crate::io::http::HttpServer>() {
            return Ok(s.local_addr());
        }
    }
    Err(crate::resources::HandleError::WrongKind {
        handle: h,
        expected: if peer {
            "a tcp-stream"
        } else {
            "a socket (tcp-stream, tcp-listener, tcp-incoming, udp-socket, http-server)"
        },
        found: r.kind(),
    })
}
