//! `warren:net`: TCP listeners and connections, UDP sockets, under the network allow-list.
//!
//! Addresses cross the boundary as text (`"127.0.0.1:7000"`, `"[::1]:80"`,
//! `"localhost:6379"`). Every address a process connects to, binds or sends to is checked
//! against the runtime's [`NetPolicy`]; a denied one fails with `ERR_DENIED` and a message
//! naming the address and the allow-list. Reading and writing a connection is
//! `warren:stream.read`/`write` on its handle (zero-copy); `tcp_receive` and `tcp_send` are
//! the stream-and-future forms.

use super::abi::*;
use super::guest_memory;
use super::io_bridge::{self, bad_handle, failed, install, io_failed};
use super::stream::start_copy;
use crate::io::tcp::{Incoming, TcpConn, TcpListenerObj, TcpReadSide};
use crate::io::udp::UdpObj;
use crate::io::{IoFailure, NetPolicy, Pumps};
use crate::resources::{Resource, ResourceTable};
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use wasmtime::{Caller, Linker, Memory};

/// The view `warren:net` needs.
pub struct NetView<'a> {
    pub table: &'a mut ResourceTable,
    pub memory: &'a mut Option<Memory>,
    pub policy: &'a NetPolicy,
    pub pumps: &'a Arc<Pumps>,
}

pub const TCP_LISTENER: &str = "tcp-listener";
pub const TCP_INCOMING: &str = "tcp-incoming";
pub const TCP_STREAM: &str = "tcp-stream";
pub const UDP_SOCKET: &str = "udp-socket";

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
                         so it is not looked up; allow it with --allow-net {host}"
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
                 allow it with --allow-net"
            ),
        ));
    }
    Ok(allowed)
}

/// Read an address argument; `Err(code)` if it is not text.
fn addr_arg<T>(
    c: &mut Caller<'_, T>,
    get: fn(&mut T) -> NetView<'_>,
    ptr: u32,
    len: u32,
    call: &'static str,
) -> wasmtime::Result<Result<(Memory, String), i64>> {
    io_bridge::text_arg(
        c,
        |d| get(d).memory,
        |d| get(d).table,
        (ptr, len, MAX_ADDR),
        "address",
        call,
    )
}

/// Resolve the address argument, and open a socket on the first allowed address that works
/// (`open`); install it as a `kind` handle. `what` names the act in errors ("binding").
async fn open_socket<T, O, F>(
    c: &mut Caller<'_, T>,
    get: fn(&mut T) -> NetView<'_>,
    (ptr, len): (u32, u32),
    (what, kind, call): (&str, &'static str, &'static str),
    open: impl Fn(SocketAddr) -> F,
) -> wasmtime::Result<i64>
where
    O: Send + Sync + 'static,
    F: std::future::Future<Output = std::io::Result<O>>,
{
    let (_, text) = match addr_arg(c, get, ptr, len, call)? {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
    let policy = get(c.data_mut()).policy.clone();
    let addrs = match allowed_addrs(&policy, &text, what, what == BINDING).await {
        Ok(a) => a,
        Err(f) => return Ok(failed(get(c.data_mut()).table, call, f)),
    };
    let mut last = None;
    for addr in addrs {
        match open(addr).await {
            Ok(socket) => {
                let r = Resource::new(kind, Arc::new(socket));
                return Ok(install(get(c.data_mut()).table, call, r));
            }
            Err(e) => last = Some((addr, e)),
        }
    }
    let (addr, e) = last.expect("allowed_addrs returns at least one address");
    Ok(io_failed(
        get(c.data_mut()).table,
        call,
        format!("{what} {addr}"),
        &e,
    ))
}

pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> NetView<'_>,
) -> anyhow::Result<()> {
    let m = NET_MODULE;

    // tcp_bind(addr_ptr, addr_len) -> i64: a tcp-listener handle.
    linker.func_wrap_async(
        m,
        "tcp_bind",
        move |mut c: Caller<'_, T>, (ptr, len): (u32, u32)| {
            Box::new(async move {
                let act = (BINDING, TCP_LISTENER, "warren:net.tcp_bind");
                open_socket(&mut c, get, (ptr, len), act, TcpListenerObj::bind).await
            })
        },
    )?;

    // tcp_incoming(listener) -> i64: a tcp-incoming handle: the listener's connections, as a
    // resource that keeps the listening socket open on its own.
    linker.func_wrap(m, "tcp_incoming", move |mut c: Caller<'_, T>, h: u32| {
        const CALL: &str = "warren:net.tcp_incoming";
        let table = get(c.data_mut()).table;
        let listener = match table.get_as::<TcpListenerObj>(h, TCP_LISTENER) {
            Ok(l) => l,
            Err(e) => return Ok(bad_handle(table, CALL, e)),
        };
        let r = Resource::new(TCP_INCOMING, Arc::new(Incoming { listener }));
        wasmtime::Result::Ok(install(table, CALL, r))
    })?;

    // tcp_accept(h) -> i64: wait for the next connection on a tcp-listener or tcp-incoming;
    // a tcp-stream handle.
    linker.func_wrap_async(
        m,
        "tcp_accept",
        move |mut c: Caller<'_, T>, (h,): (u32,)| {
            Box::new(async move {
                const CALL: &str = "warren:net.tcp_accept";
                let table = get(c.data_mut()).table;
                let listener = match listener_of(table, h) {
                    Ok(l) => l,
                    Err(e) => return Ok(bad_handle(table, CALL, e)),
                };
                let r = listener.accept().await;
                let table = get(c.data_mut()).table;
                Ok(match r {
                    Ok(conn) => install(table, CALL, Resource::new(TCP_STREAM, Arc::new(conn))),
                    Err(e) => io_failed(
                        table,
                        CALL,
                        format!("accepting on {}", listener.local_addr()),
                        &e,
                    ),
                })
            })
        },
    )?;

    // tcp_connect(addr_ptr, addr_len) -> i64: a tcp-stream handle connected to the address
    // (a name is resolved; the first allowed address that accepts wins).
    linker.func_wrap_async(
        m,
        "tcp_connect",
        move |mut c: Caller<'_, T>, (ptr, len): (u32, u32)| {
            Box::new(async move {
                let act = ("connecting to", TCP_STREAM, "warren:net.tcp_connect");
                open_socket(&mut c, get, (ptr, len), act, TcpConn::connect).await
            })
        },
    )?;

    // tcp_receive(h, out) -> i32: (byte-stream, future) of the connection's incoming bytes,
    // written as two u32 at `out`. The future resolves when the stream reaches the peer's
    // end (or an error).
    linker.func_wrap(
        m,
        "tcp_receive",
        move |mut c: Caller<'_, T>, h: u32, out: u32| {
            const CALL: &str = "warren:net.tcp_receive";
            let mem = guest_memory::memory(&mut c, |d| get(d).memory, CALL)?;
            let table = get(c.data_mut()).table;
            let conn = match table.get_as::<TcpConn>(h, TCP_STREAM) {
                Ok(x) => x,
                Err(e) => return Ok(bad_handle(table, CALL, e) as i32),
            };
            let what = format!("tcp {}", conn.peer_addr());
            super::stream::install_stream(
                &mut c,
                |d| get(d).table,
                mem,
                out,
                TcpReadSide(conn),
                what,
                CALL,
            )
        },
    )?;

    // tcp_send(h, stream) -> i64: a future. A host pump sends the byte-stream (which moves
    // into it) over the connection, then shuts down the sending side; the future resolves
    // with the bytes sent. The connection handle stays usable.
    linker.func_wrap(
        m,
        "tcp_send",
        move |mut c: Caller<'_, T>, h: u32, stream: u32| {
            const CALL: &str = "warren:net.tcp_send";
            let v = get(c.data_mut());
            let conn = match v.table.get_as::<TcpConn>(h, TCP_STREAM) {
                Ok(x) => x,
                Err(e) => return Ok(bad_handle(v.table, CALL, e)),
            };
            let what = format!("sending to {}", conn.peer_addr());
            wasmtime::Result::Ok(start_copy(v.table, v.pumps, CALL, stream, conn, what))
        },
    )?;

    // tcp_shutdown(h, how) -> i32: how 0 = read, 1 = write, 2 = both.
    linker.func_wrap(
        m,
        "tcp_shutdown",
        move |mut c: Caller<'_, T>, h: u32, how: u32| {
            const CALL: &str = "warren:net.tcp_shutdown";
            let table = get(c.data_mut()).table;
            let how = match how {
                0 => Shutdown::Read,
                1 => Shutdown::Write,
                2 => Shutdown::Both,
                _ => {
                    return Err(io_bridge::trap(
                        CALL,
                        format!("invalid shutdown mode {how}"),
                    ));
                }
            };
            let conn = match table.get_as::<TcpConn>(h, TCP_STREAM) {
                Ok(x) => x,
                Err(e) => return Ok(bad_handle(table, CALL, e) as i32),
            };
            Ok(match conn.shutdown(how) {
                Ok(()) => 0,
                Err(e) => io_failed(
                    table,
                    CALL,
                    format!("shutting down {}", conn.peer_addr()),
                    &e,
                ) as i32,
            })
        },
    )?;

    // local_addr(h, ptr, cap) -> i64 / peer_addr(h, ptr, cap) -> i64: the address as text at
    // ptr (if it fits in cap) and its length. local_addr takes any socket handle; peer_addr a
    // tcp-stream.
    for (name, peer) in [("local_addr", false), ("peer_addr", true)] {
        linker.func_wrap(
            m,
            name,
            move |mut c: Caller<'_, T>, h: u32, ptr: u32, cap: u32| {
                let call = if peer {
                    "warren:net.peer_addr"
                } else {
                    "warren:net.local_addr"
                };
                let mem = guest_memory::memory(&mut c, |d| get(d).memory, call)?;
                let table = get(c.data_mut()).table;
                let addr = match socket_addr(table, h, peer) {
                    Ok(a) => a,
                    Err(e) => return Ok(bad_handle(table, call, e)),
                };
                io_bridge::write_text(&mut c, mem, ptr, cap, addr.to_string().as_bytes(), call)
            },
        )?;
    }

    // udp_bind(addr_ptr, addr_len) -> i64: a udp-socket handle.
    linker.func_wrap_async(
        m,
        "udp_bind",
        move |mut c: Caller<'_, T>, (ptr, len): (u32, u32)| {
            Box::new(async move {
                let act = (BINDING, UDP_SOCKET, "warren:net.udp_bind");
                open_socket(&mut c, get, (ptr, len), act, UdpObj::bind).await
            })
        },
    )?;

    // udp_send_to(h, ptr, len, addr_ptr, addr_len) -> i64: bytes sent as one datagram.
    linker.func_wrap_async(
        m,
        "udp_send_to",
        move |mut c: Caller<'_, T>, (h, ptr, len, aptr, alen): (u32, u32, u32, u32, u32)| {
            Box::new(async move {
                const CALL: &str = "warren:net.udp_send_to";
                let (mem, text) = match addr_arg(&mut c, get, aptr, alen, CALL)? {
                    Ok(a) => a,
                    Err(code) => return Ok(code),
                };
                let table = get(c.data_mut()).table;
                let sock = match table.get_as::<UdpObj>(h, UDP_SOCKET) {
                    Ok(s) => s,
                    Err(e) => return Ok(bad_handle(table, CALL, e)),
                };
                let policy = get(c.data_mut()).policy.clone();
                let to = match allowed_addrs(&policy, &text, "sending to", false).await {
                    Ok(a) => a[0],
                    Err(f) => return Ok(failed(get(c.data_mut()).table, CALL, f)),
                };
                let range = guest_memory::range(mem.data_size(&c), ptr, len, CALL)?;
                let send = |c: &mut Caller<'_, T>| {
                    sock.socket.try_send_to(&mem.data(&*c)[range.clone()], to)
                };
                let r = io_bridge::retry_in_guest(&mut c, send, || sock.socket.writable()).await;
                let table = get(c.data_mut()).table;
                Ok(match r {
                    Ok(n) => n as i64,
                    Err(e) => io_failed(table, CALL, format!("sending to {to}"), &e),
                })
            })
        },
    )?;

    // udp_recv_from(h, ptr, cap, addr_ptr, addr_cap, addr_len_out) -> i64: wait for a
    // datagram; its bytes (cut to cap) at ptr, the sender's address as text at addr_ptr (if
    // it fits addr_cap) and that text's length as u32 at addr_len_out. Returns the bytes read.
    linker.func_wrap_async(
        m,
        "udp_recv_from",
        move |mut c: Caller<'_, T>,
              (h, ptr, cap, aptr, acap, alen_out): (u32, u32, u32, u32, u32, u32)| {
            Box::new(async move {
                const CALL: &str = "warren:net.udp_recv_from";
                let mem = guest_memory::memory(&mut c, |d| get(d).memory, CALL)?;
                let range = guest_memory::range(mem.data_size(&c), ptr, cap, CALL)?;
                guest_memory::range(mem.data_size(&c), aptr, acap, CALL)?;
                guest_memory::range(mem.data_size(&c), alen_out, 4, CALL)?;
                let table = get(c.data_mut()).table;
                let sock = match table.get_as::<UdpObj>(h, UDP_SOCKET) {
                    Ok(s) => s,
                    Err(e) => return Ok(bad_handle(table, CALL, e)),
                };
                let recv = |c: &mut Caller<'_, T>| {
                    sock.socket
                        .try_recv_from(&mut mem.data_mut(c)[range.clone()])
                };
                let r = io_bridge::retry_in_guest(&mut c, recv, || sock.socket.readable()).await;
                match r {
                    Ok((n, from)) => {
                        let text = from.to_string();
                        let l =
                            io_bridge::write_text(&mut c, mem, aptr, acap, text.as_bytes(), CALL)?;
                        guest_memory::write(
                            &mut c,
                            mem,
                            alen_out,
                            &(l as u32).to_le_bytes(),
                            CALL,
                        )?;
                        Ok(n as i64)
                    }
                    Err(e) => Ok(io_failed(
                        get(c.data_mut()).table,
                        CALL,
                        format!("receiving on {}", sock.local_addr()),
                        &e,
                    )),
                }
            })
        },
    )?;
    Ok(())
}

/// The listener behind a tcp-listener or tcp-incoming handle.
pub fn listener_of(
    table: &ResourceTable,
    h: u32,
) -> Result<Arc<TcpListenerObj>, crate::resources::HandleError> {
    let r = table.get(h)?;
    if let Some(l) = r.downcast::<TcpListenerObj>() {
        return Ok(l);
    }
    if let Some(i) = r.downcast::<Incoming>() {
        return Ok(i.listener.clone());
    }
    Err(crate::resources::HandleError::WrongKind {
        handle: h,
        expected: "a tcp-listener or tcp-incoming",
        found: r.kind(),
    })
}

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
        if let Ok(l) = listener_of(table, h) {
            return Ok(l.local_addr());
        }
        if let Some(u) = r.downcast::<UdpObj>() {
            return Ok(u.local_addr());
        }
    }
    Err(crate::resources::HandleError::WrongKind {
        handle: h,
        expected: if peer {
            "a tcp-stream"
        } else {
            "a socket (tcp-stream, tcp-listener, tcp-incoming, udp-socket)"
        },
        found: r.kind(),
    })
}
