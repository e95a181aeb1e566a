//! `warren:http`: HTTP/1.1 servers whose requests are served by processes, their bodies,
//! answers and WebSockets.
//!
//! `serve` hands a listener to the host's HTTP stack ([`crate::io::http`]) with a spawn
//! entry (the same trampoline, function and captures `warren:process.spawn` takes). For
//! every request (or connection) the host spawns a process of that entry with the request
//! (or connection) handle as the first resource it claims. The process reads the head and
//! body, then answers once: `respond` (bytes, a host splice from a readable handle, or a
//! pipe it writes) or `upgrade` (a WebSocket). Everything the client got wrong, and every
//! limit, is answered by the host before any process runs.

use super::abi::*;
use super::call::{self, CallState, GuestMemory, HostError, HostResult};
use crate::actor::{Pid, ProcessTable, SpawnSpec, Via};
use crate::context::{ProcessCtx, SpawnRequest, Spawner};
use crate::io::handles::{self, HTTP_CONNECTION, HTTP_REQUEST, WEBSOCKET};
use crate::io::http::{
    self, Exchange, HttpConnection, HttpLimits, HttpServer, Launch, Mode, WebSocket, WsBudget,
    WsMessage,
};
use crate::resources::{Resource, ResourceTable};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use wasmtime::{Caller, Linker};

/// The view `warren:http` needs.
pub(crate) struct HttpView<'a> {
    /// The actor state (who serves, how to spawn).
    pub ctx: &'a mut ProcessCtx,
    /// The process's handles.
    pub table: &'a mut ResourceTable,
    /// Memory and last error.
    pub call: &'a mut CallState,
    /// The runtime's HTTP limits.
    pub limits: &'a HttpLimits,
    /// The drain the runtime's servers stop by.
    pub drain: &'a Arc<http::Drain>,
    /// The runtime's TLS identity, if it has one.
    pub tls: &'a Option<Arc<http::Tls>>,
}

impl HttpView<'_> {
    /// The process's WebSocket account: the mailbox quota each way (`--max-mailbox`: these
    /// are messages waiting for or from it), at least the largest message and 64 KiB.
    fn ws_budget(&mut self) -> Arc<WsBudget> {
        let (quota, largest) = (
            self.ctx.table.quotas().mailbox_bytes,
            usize::try_from(self.limits.max_body_bytes).unwrap_or(usize::MAX),
        );
        self.table.account(|| WsBudget::new(quota, largest))
    }
}

/// Longest response head text (`name: value` lines) accepted.
const MAX_RESPONSE_HEAD: u32 = 1 << 20;
/// Longest handler name accepted (a Rust path).
const MAX_HANDLER_NAME: u32 = 1024;
/// Longest WebSocket close reason (the frame's payload is at most 125 bytes).
const MAX_CLOSE_REASON: u32 = 123;

/// Starts the process of a server's entry for each request or connection.
struct Launcher {
    spawner: Weak<dyn Spawner>,
    table: Arc<ProcessTable>,
    server: Pid,
    trampoline: u32,
    func: u32,
    args: Vec<u8>,
    /// The version of the program the server was started on, whose function table
    /// `(trampoline, func)` index (the server outlives an upgrade of its process).
    version: u32,
    /// The handler's name, if `version` exports it (`warren_resume:<name>`): handlers then
    /// run the current version's export of that name, when it has one.
    name: Option<Box<str>>,
    /// The last version other than `version` looked up for `name`: its number in the high
    /// half, 1 + the point's index in the low (0: none yet; a point index of 0 means the
    /// current version has no such name). A lookup takes the table's lock: once per load.
    moved: AtomicU64,
}

impl Launcher {
    /// The version a handler process starts on, and how: `version` through the indices,
    /// or the current version's export of the handler's name.
    fn target(&self) -> (u32, Option<u16>) {
        let Some(name) = &self.name else {
            return (self.version, None);
        };
        let current = self.table.current_version();
        if current == self.version {
            return (self.version, None);
        }
        let cached = self.moved.load(Ordering::Relaxed);
        let point = if (cached >> 32) as u32 == current {
            (cached as u32).checked_sub(1)
        } else {
            let point = self.table.resume_point(current, name);
            let low = point.map_or(0, |p| u64::from(p) + 1);
            self.moved
                .store((u64::from(current) << 32) | low, Ordering::Relaxed);
            point.map(u32::from)
        };
        match point {
            Some(p) => (current, u16::try_from(p).ok()),
            // The current version has no handler of that name: the server's own serves.
            None => (self.version, None),
        }
    }
}

impl Launch for Launcher {
    fn launch(&self, resource: Resource) -> Result<u64, String> {
        // Clients must not be able to take every process: HTTP handlers leave the last
        // tenth of the table (at least one slot) to the program's other spawns (supervisor
        // restarts among them).
        let (live, limit) = (self.table.len(), self.table.limit());
        let reserve = (limit / 10).max(1);
        if live + reserve >= limit {
            return Err(format!(
                "{live} of {limit} processes are running; HTTP handlers leave the last \
                 {reserve} to the program (--max-processes)"
            ));
        }
        let spawner = self
            .spawner
            .upgrade()
            .ok_or_else(|| "the runtime is shutting down".to_string())?;
        let (version, point) = self.target();
        let mut spec = SpawnSpec::entry(self.trampoline, self.func, self.args.clone());
        spec.version = version;
        if let Some(point) = point {
            spec.point = point;
            spec.via = Via::Export;
        }
        let request = SpawnRequest {
            spec,
            resources: vec![resource],
        };
        spawner
            .spawn(self.server, request)
            .map_err(|e| e.to_string())
    }

    fn kill(&self, id: u64) {
        self.table.kill(id);
    }

    fn exchange(&self, exchange: Arc<Exchange>) -> Resource {
        handles::http_request(exchange)
    }

    fn connection(&self, connection: HttpConnection) -> Resource {
        handles::http_connection(connection)
    }
}

impl HttpView<'_> {
    /// `serve`: start a server on a listener; (server, future) at `out`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn serve(
        &mut self,
        mem: &mut GuestMemory<'_>,
        listener: u32,
        mode: u32,
        (trampoline, func): (u32, u32),
        (ptr, len): (u32, u32),
        (name_ptr, name_len): (u32, u32),
        out: u32,
    ) -> HostResult<i32> {
        mem.range(out, 8)?;
        let args = mem.read(ptr, len)?.to_vec();
        let version = self.ctx.me.version();
        let name = mem.text(name_ptr, name_len, MAX_HANDLER_NAME, "handler's name")?;
        // A name the caller's version does not export is no name: its handlers run that
        // version, as an unnamed handler's do.
        let name = (!name.is_empty() && self.ctx.table.resume_point(version, name).is_some())
            .then(|| Box::<str>::from(name));
        let tls = if mode & HTTP_TLS != 0 {
            match self.tls {
                Some(tls) => Some(tls.clone()),
                None => {
                    return Err(HostError::fail(
                        ERR_DENIED,
                        "this runtime has no TLS certificate to serve with (warren run \
                         --tls-cert FILE --tls-key FILE)",
                    ));
                }
            }
        } else {
            None
        };
        let mode = match mode & !HTTP_TLS {
            HTTP_PER_REQUEST => Mode::PerRequest,
            HTTP_PER_CONNECTION => Mode::PerConnection,
            _ => {
                return Err(HostError::bad_argument(format!(
                    "unknown serving mode {mode} (0: per request, 1: per connection, \
                     or'ed with 0x100 for TLS)"
                )));
            }
        };
        if self.table.has_outbox() {
            self.table.restore_outbox();
            return Err(HostError::bad_argument(
                "a handler's captures cannot carry handles: every request's process gets a \
                 copy of them (send handles to a process the handlers ask instead)",
            ));
        }
        let l = handles::listener(self.table, listener)?;
        let launch = Arc::new(Launcher {
            spawner: Arc::downgrade(&self.ctx.spawner),
            table: self.ctx.table.clone(),
            server: self.ctx.pid(),
            trampoline,
            func,
            args,
            version,
            name,
            moved: AtomicU64::new(0),
        });
        let (server, stopped) =
            HttpServer::start(l, mode, *self.limits, launch, self.drain.clone(), tls);
        let (s, f) = super::io_bridge::install_pair(
            self.table,
            handles::http_server(server),
            handles::future(stopped),
        )?;
        mem.write_pair(out, s, f)?;
        Ok(0)
    }

    fn exchange(&self, h: u32) -> HostResult<Arc<Exchange>> {
        Ok(self.table.get_as::<Exchange>(h, HTTP_REQUEST)?)
    }

    /// `request_head`: the head as text at `ptr` if it fits; its length.
    pub(crate) fn request_head(
        &mut self,
        mem: &mut GuestMemory<'_>,
        h: u32,
        (ptr, cap): (u32, u32),
    ) -> HostResult<i64> {
        let ex = self.exchange(h)?;
        mem.write_text(ptr, cap, ex.head().as_bytes())
    }

    /// `request_body`: (byte-stream, future) of the body at `out`.
    pub(crate) fn request_body(
        &mut self,
        mem: &mut GuestMemory<'_>,
        h: u32,
        out: u32,
    ) -> HostResult<i32> {
        mem.range(out, 8)?;
        let ex = self.exchange(h)?;
        let body = ex.take_body()?;
        let what = format!("the body of {}", ex.what());
        super::io_bridge::install_stream(self.table, mem, out, body, what)
    }

    /// `respond`: answer; a stream-writer handle for a written body, else 0.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn respond(
        &mut self,
        mem: &mut GuestMemory<'_>,
        h: u32,
        status: u32,
        (hptr, hlen): (u32, u32),
        kind: u32,
        (a, b): (u32, u32),
    ) -> HostResult<i64> {
        let head = mem.text(hptr, hlen, MAX_RESPONSE_HEAD, "response head")?;
        let ex = self.exchange(h)?;
        match kind {
            HTTP_BODY_BYTES => {
                let bytes = mem.read(a, b)?.to_vec();
                ex.respond(status, head, http::bytes_body(bytes))?;
                Ok(0)
            }
            HTTP_BODY_STREAM => {
                let source = handles::readable(self.table, a)?;
                ex.respond(status, head, http::stream_body(source))?;
                super::io_bridge::release_moved_stream(self.table, a);
                Ok(0)
            }
            HTTP_BODY_WRITER => {
                let (writer, reader) = http::body_pipe();
                // Install the writer first: with no room for it, nothing is answered.
                let w = self.table.push(handles::body_writer(writer))?;
                if let Err(e) = ex.respond(status, head, http::stream_body(Arc::new(reader))) {
                    let _ = self.table.remove(w);
                    return Err(e.into());
                }
                Ok(w as i64)
            }
            _ => Err(HostError::bad_argument(format!(
                "unknown body kind {kind} (0: bytes, 1: stream, 2: writer)"
            ))),
        }
    }

    /// `upgrade`: answer a WebSocket handshake; the websocket handle.
    pub(crate) fn upgrade(
        &mut self,
        mem: &mut GuestMemory<'_>,
        h: u32,
        (ptr, len): (u32, u32),
    ) -> HostResult<i64> {
        let head = mem.text(ptr, len, MAX_RESPONSE_HEAD, "response head")?;
        let ex = self.exchange(h)?;
        // Make room first, so a full table does not leave a socket nobody holds.
        if !self.table.has_room() {
            return Err(crate::resources::HandleError::TooMany.into());
        }
        let owner = self.ws_budget();
        let ws = ex.upgrade(head, &owner)?;
        Ok(self.table.push(handles::websocket(ws))? as i64)
    }
}

/// `next`: wait for the connection's next request; its handle, or ERR_CLOSED at the end.
async fn next<T: 'static>(
    c: &mut Caller<'_, T>,
    get: fn(&mut T) -> HttpView<'_>,
    h: u32,
) -> HostResult<i64> {
    let conn = get(c.data_mut())
        .table
        .get_as::<HttpConnection>(h, HTTP_CONNECTION)?;
    match conn.next().await {
        Some(ex) => Ok(get(c.data_mut()).table.push(handles::http_request(ex))? as i64),
        None => Err(HostError::fail(
            ERR_CLOSED,
            format!("the connection from {} has ended", conn.peer()),
        )),
    }
}

/// The socket behind `h`, and the calling process's WebSocket account.
fn websocket<T: 'static>(
    c: &mut Caller<'_, T>,
    get: fn(&mut T) -> HttpView<'_>,
    h: u32,
) -> HostResult<(Arc<WebSocket>, Arc<WsBudget>)> {
    let mut view = get(c.data_mut());
    let ws = view.table.get_as::<WebSocket>(h, WEBSOCKET)?;
    Ok((ws, view.ws_budget()))
}

/// `ws_send`: send a text or binary message from guest memory.
async fn ws_send<T: 'static>(
    c: &mut Caller<'_, T>,
    get: fn(&mut T) -> HttpView<'_>,
    h: u32,
    kind: u32,
    (ptr, len): (u32, u32),
) -> HostResult<i64> {
    let (ws, budget) = websocket(c, get, h)?;
    let message = {
        let (mem, _) = call::split(c, |d| get(d).call)?;
        let bytes = mem.read(ptr, len)?;
        match kind {
            WS_TEXT => WsMessage::Text(
                std::str::from_utf8(bytes)
                    .map_err(|_| HostError::bad_argument("a text message must be UTF-8"))?
                    .to_string(),
            ),
            WS_BINARY => WsMessage::Binary(bytes.to_vec()),
            _ => {
                return Err(HostError::bad_argument(format!(
                    "unknown message kind {kind} (1: text, 2: binary; close with ws_close)"
                )));
            }
        }
    };
    match ws.send(message, &budget).await {
        Ok(()) => Ok(0),
        Err(http::SendError::Closed) => Err(HostError::fail(
            ERR_CLOSED,
            format!("{} is closed", ws.what()),
        )),
        Err(http::SendError::TooBig(len, max)) => Err(HostError::fail(
            ERR_LIMIT,
            format!(
                "a message of {len} bytes is over the limit of {max} bytes \
                 (--http-max-body-bytes)"
            ),
        )),
    }
}

/// `ws_receive`: wait for the next message; its payload at `ptr` if it fits `cap` (else
/// only its length, and it stays), its kind as u32 at `kind_out`; its length.
async fn ws_receive<T: 'static>(
    c: &mut Caller<'_, T>,
    get: fn(&mut T) -> HttpView<'_>,
    h: u32,
    (ptr, cap): (u32, u32),
    kind_out: u32,
) -> HostResult<i64> {
    {
        let (mem, _) = call::split(c, |d| get(d).call)?;
        mem.range(ptr, cap)?;
        mem.range(kind_out, 4)?;
    }
    let (ws, _) = websocket(c, get, h)?;
    loop {
        match ws.try_receive(cap as usize) {
            http::Received::Message(m) => {
                let (mut mem, _) = call::split(c, |d| get(d).call)?;
                let payload = m.payload();
                mem.write(ptr, &payload)?;
                mem.write(kind_out, &m.kind().to_le_bytes())?;
                return Ok(payload.len() as i64);
            }
            http::Received::TooBig(len) => return Ok(len as i64),
            http::Received::Ended(why) => {
                return Err(HostError::fail(ERR_CLOSED, format!("{}: {why}", ws.what())));
            }
            http::Received::Empty => ws.receivable().await,
        }
    }
}

/// `ws_close`: close with a code and reason.
async fn ws_close<T: 'static>(
    c: &mut Caller<'_, T>,
    get: fn(&mut T) -> HttpView<'_>,
    h: u32,
    code: u32,
    (ptr, len): (u32, u32),
) -> HostResult<i32> {
    let reason = {
        let (mem, _) = call::split(c, |d| get(d).call)?;
        mem.text(ptr, len, MAX_CLOSE_REASON, "close reason")?
            .to_string()
    };
    let valid = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
    if !valid {
        return Err(HostError::bad_argument(format!(
            "{code} is not a close code a WebSocket may send (1000-1003, 1007-1014, 3000-4999)"
        )));
    }
    let (ws, _) = websocket(c, get, h)?;
    if ws.close(code as u16, reason).await {
        Ok(0)
    } else {
        Err(HostError::fail(
            ERR_CLOSED,
            format!("{} is closed already", ws.what()),
        ))
    }
}

/// Add `warren:http` to `linker`; `get` projects the store data onto its view.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> HttpView<'_>,
) -> anyhow::Result<()> {
    crate::host_calls!(linker: T, HTTP_MODULE, get, {
        // serve(listener, mode, trampoline, func, args_ptr, args_len, name_ptr, name_len, out)
        // -> i32: serve HTTP on a tcp-listener (or tcp-incoming) with the handler the
        // indices (and, when its version exports it, the name) give; (http-server, future)
        // as two u32 at `out`.
        fn serve(
            l: u32, mode: u32, tr: u32, func: u32, ptr: u32, len: u32, np: u32, nl: u32, out: u32
        ) => |v, mem| v.serve(mem, l, mode, (tr, func), (ptr, len), (np, nl), out);

        // next(conn) -> i64: the connection's next http-request; ERR_CLOSED at its end.
        async fn next(h: u32) => |c| next(c, get, h);

        // request_head(req, ptr, cap) -> i64: the head as text (if it fits); its length.
        fn request_head(h: u32, ptr: u32, cap: u32) => |v, mem| v.request_head(mem, h, (ptr, cap));

        // request_body(req, out) -> i32: (byte-stream, future) of the body at `out`.
        fn request_body(h: u32, out: u32) => |v, mem| v.request_body(mem, h, out);

        // respond(req, status, head_ptr, head_len, kind, a, b) -> i64: answer; kind 0: the
        // bytes at (a, b); 1: a host splice from readable handle a; 2: a pipe (result: its
        // stream-writer handle).
        fn respond(h: u32, status: u32, hp: u32, hl: u32, kind: u32, a: u32, b: u32)
            => |v, mem| v.respond(mem, h, status, (hp, hl), kind, (a, b));

        // upgrade(req, head_ptr, head_len) -> i64: answer a WebSocket handshake (101); a
        // websocket handle.
        fn upgrade(h: u32, ptr: u32, len: u32) => |v, mem| v.upgrade(mem, h, (ptr, len));

        // ws_send(ws, kind, ptr, len) -> i64: send a text (1) or binary (2) message.
        async fn ws_send(h: u32, kind: u32, ptr: u32, len: u32)
            => |c| ws_send(c, get, h, kind, (ptr, len));

        // ws_receive(ws, ptr, cap, kind_out) -> i64: the next message's length (its payload
        // at ptr if it fits cap, its kind at kind_out); ERR_CLOSED after the end.
        async fn ws_receive(h: u32, ptr: u32, cap: u32, kind_out: u32)
            => |c| ws_receive(c, get, h, (ptr, cap), kind_out);

        // ws_close(ws, code, reason_ptr, reason_len) -> i32: send a close.
        async fn ws_close(h: u32, code: u32, ptr: u32, len: u32)
            => |c| ws_close(c, get, h, code, (ptr, len));
    });
    Ok(())
}
