//! [`WebSocket`]: a connection upgraded from an HTTP request, as messages.
//!
//! One host task per socket owns the connection (tokio-tungstenite): it answers pings, reads
//! messages into a small queue the process takes them from, and sends what the process
//! gives it. Each way the host holds about the message limit (`--http-max-body-bytes`) in
//! payload bytes per socket: inbound, the next message is read only while nothing — or only a
//! few small messages, at most 64 KiB and [`INBOUND`] of them — waits for the process, so the
//! host holds at most the limit plus 64 KiB, and TCP pushes back on the client; `send` waits
//! until the bytes not yet sent leave room, so a process cannot pile up messages for a client
//! that does not read. And what all of a process's sockets hold is charged to it, against
//! one quota each way ([`super::ws_budget`]; inbound through [`super::ws_meter`], which
//! reads only as far as the process's account allows).
//!
//! The socket holds its connection's place among the server's (`--http-max-connections`)
//! while the task lives. A client silent for the idle timeout is pinged, and the socket
//! closed if nothing comes back within the same time again; one that accepts no byte for
//! the write timeout is cut off (the connection under it is [`super::timed::Timed`]).
//!
//! When the last handle goes, the task closes the socket: with 1000 if the process closed it
//! (`ws_close`, which the SDK does when its `WebSocket` is dropped), 1011 if it just went
//! away (its process crashed).

use super::HttpLimits;
use super::ws_budget::{SMALL, WsBudget};
use super::ws_meter::{Metered, SocketCharge};
use crate::io::{ReadReady, Ready};
use crate::resources::{ChargedToHolder, ResourceTable};
use crate::sync::Locked;
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};

/// Messages received and not yet taken, at most.
pub(super) const INBOUND: usize = 16;
/// Messages given to send and not yet sent, at most.
const OUTBOUND: usize = 16;
/// What tungstenite reads at once (its default, 128 KiB, would be held by every socket).
const READ_BUFFER: usize = 16 << 10;

/// A message, either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WsMessage {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
    /// The peer's close: its code and reason, if it gave them.
    Close(Option<(u16, String)>),
}

impl WsMessage {
    /// Its payload as `warren:http.ws_receive` writes it (a close: code big-endian, then
    /// the reason).
    pub(crate) fn payload(&self) -> Vec<u8> {
        match self {
            WsMessage::Text(t) => t.as_bytes().to_vec(),
            WsMessage::Binary(b) => b.clone(),
            WsMessage::Close(None) => Vec::new(),
            WsMessage::Close(Some((code, reason))) => {
                let mut v = code.to_be_bytes().to_vec();
                v.extend_from_slice(reason.as_bytes());
                v
            }
        }
    }

    /// The length of [`payload`](WsMessage::payload), without making it.
    pub(crate) fn payload_len(&self) -> usize {
        match self {
            WsMessage::Text(t) => t.len(),
            WsMessage::Binary(b) => b.len(),
            WsMessage::Close(None) => 0,
            WsMessage::Close(Some((_, reason))) => 2 + reason.len(),
        }
    }

    /// Its kind (`WS_TEXT`, `WS_BINARY`, `WS_CLOSE`).
    pub(crate) fn kind(&self) -> u32 {
        match self {
            WsMessage::Text(_) => warren_abi::WS_TEXT,
            WsMessage::Binary(_) => warren_abi::WS_BINARY,
            WsMessage::Close(_) => warren_abi::WS_CLOSE,
        }
    }
}

enum Outgoing {
    /// A message, with the shares of the socket's and the sender's send budgets it holds
    /// until it is sent.
    Message(Message, OwnedSemaphorePermit, OwnedSemaphorePermit),
    Close(u16, String),
}

#[derive(Default)]
struct Inbound {
    queue: VecDeque<WsMessage>,
    /// Payload bytes in `queue`.
    bytes: usize,
    /// No more messages will come (the peer closed, or the connection failed).
    ended: Option<String>,
}

struct Shared {
    inbound: Mutex<Inbound>,
    /// The largest message, and the most payload bytes queued each way.
    max: usize,
    /// Signalled when a message arrives or the socket ends.
    readable: Notify,
    /// Signalled when the process takes a message.
    room: Notify,
    /// The process closed the socket itself.
    closed: AtomicBool,
    /// What is held inbound, charged to the socket's process.
    charge: Arc<SocketCharge>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inbound> {
        self.inbound.locked()
    }

    fn push(&self, m: WsMessage) {
        let mut s = self.lock();
        s.bytes += m.payload_len();
        if !matches!(m, WsMessage::Close(_)) {
            self.charge.queued(m.payload_len());
        }
        s.queue.push_back(m);
        drop(s);
        self.readable.notify_waiters();
    }

    /// Whether the task may read another message from the client: when nothing waits for
    /// the process, or only a few small messages do. (tungstenite reads from the socket only
    /// when asked for a message, so what the host holds inbound is at most the message
    /// limit plus [`SMALL`].)
    fn has_room(&self) -> bool {
        let s = self.lock();
        s.queue.is_empty() || (s.queue.len() < INBOUND && s.bytes < SMALL)
    }

    fn end(&self, why: impl Into<String>) {
        let mut s = self.lock();
        if s.ended.is_none() {
            s.ended = Some(why.into());
        }
        drop(s);
        self.readable.notify_waiters();
    }
}

/// The process's side of a WebSocket (a `websocket` handle).
pub(crate) struct WebSocket {
    shared: Arc<Shared>,
    out: mpsc::Sender<Outgoing>,
    /// Payload bytes given to send and not yet sent, at most `shared.max` (in permits).
    budget: Arc<Semaphore>,
    what: String,
}

/// Why a message was not sent.
pub(crate) enum SendError {
    /// The socket is closed.
    Closed,
    /// The message is larger than the limit (its length, the limit).
    TooBig(usize, usize),
}

/// What `receive` found.
pub(crate) enum Received {
    /// The next message (taken).
    Message(WsMessage),
    /// The next message is `len` bytes, more than the caller's buffer (not taken).
    TooBig(usize),
    /// Nothing yet.
    Empty,
    /// The socket has ended: why.
    Ended(String),
}

impl WebSocket {
    /// Start the task that owns the connection once hyper hands it over.
    pub(super) fn open(
        upgrade: hyper::upgrade::OnUpgrade,
        limits: HttpLimits,
        what: String,
        slot: Arc<OwnedSemaphorePermit>,
        owner: &Arc<WsBudget>,
    ) -> WebSocket {
        // The budget is counted in semaphore permits (a u32 per acquire).
        let max = usize::try_from(limits.max_body_bytes)
            .unwrap_or(usize::MAX)
            .clamp(1, (u32::MAX as usize).min(Semaphore::MAX_PERMITS));
        let shared = Arc::new(Shared {
            inbound: Mutex::default(),
            max,
            readable: Notify::new(),
            room: Notify::new(),
            closed: AtomicBool::new(false),
            charge: SocketCharge::new(owner.clone()),
        });
        let (out, rx) = mpsc::channel(OUTBOUND);
        tokio::spawn(run(
            upgrade,
            shared.clone(),
            rx,
            max,
            limits.idle_timeout,
            slot,
        ));
        WebSocket {
            shared,
            out,
            budget: Arc::new(Semaphore::new(max)),
            what,
        }
    }

    /// "websocket GET /chat from 127.0.0.1:5000", for messages.
    pub(crate) fn what(&self) -> &str {
        &self.what
    }

    /// Take the next message if it fits `cap` bytes.
    pub(crate) fn try_receive(&self, cap: usize) -> Received {
        let mut s = self.shared.lock();
        if let Some(front) = s.queue.front() {
            let len = front.payload_len();
            if len > cap {
                return Received::TooBig(len);
            }
            let m = s.queue.pop_front().expect("front exists");
            s.bytes -= len;
            if !matches!(m, WsMessage::Close(_)) {
                self.shared.charge.taken(len);
            }
            drop(s);
            self.shared.room.notify_one();
            return Received::Message(m);
        }
        match &s.ended {
            Some(why) => Received::Ended(why.clone()),
            None => Received::Empty,
        }
    }

    /// Resolves when a message or the end is there; while it waits, the socket reads its
    /// next message even past the process's quota ([`SocketCharge::set_demand`]).
    pub(crate) async fn receivable(&self) {
        struct Waiting<'a>(&'a SocketCharge);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.set_demand(false);
            }
        }
        self.shared.charge.set_demand(true);
        let _waiting = Waiting(&self.shared.charge);
        self.readable().await
    }

    /// Resolves when a message or the end is there.
    pub(crate) async fn readable(&self) {
        loop {
            let notified = self.shared.readable.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let s = self.shared.lock();
                if !s.queue.is_empty() || s.ended.is_some() {
                    return;
                }
            }
            notified.await;
        }
    }

    /// Send a text or binary message, waiting until the bytes queued to send leave room
    /// for it: at most the message limit for this socket (a client that does not read), and
    /// at most the sender's quota for all its sockets (`from`, the sending process's
    /// account).
    pub(crate) async fn send(&self, m: WsMessage, from: &WsBudget) -> Result<(), SendError> {
        let len = m.payload_len();
        if len > self.shared.max {
            return Err(SendError::TooBig(len, self.shared.max));
        }
        let m = match m {
            WsMessage::Text(t) => Message::text(t),
            WsMessage::Binary(b) => Message::binary(b),
            WsMessage::Close(c) => {
                let (code, reason) = c.unwrap_or((1000, String::new()));
                return if self.close(code, reason).await {
                    Ok(())
                } else {
                    Err(SendError::Closed)
                };
            }
        };
        if self.shared.closed.load(Ordering::SeqCst) {
            return Err(SendError::Closed);
        }
        // `len` fits a u32: it is at most `max`, which does.
        let share = self
            .budget
            .clone()
            .acquire_many_owned(len.max(1) as u32)
            .await
            .map_err(|_| SendError::Closed)?;
        // The quota leaves room for the largest message (`WsBudget::new`).
        let charged = from
            .outbound()
            .clone()
            .acquire_many_owned(len.max(1) as u32)
            .await
            .map_err(|_| SendError::Closed)?;
        self.out
            .send(Outgoing::Message(m, share, charged))
            .await
            .map_err(|_| SendError::Closed)
    }

    /// Close the socket with `code` and `reason`; false if it was closed already.
    pub(crate) async fn close(&self, code: u16, reason: String) -> bool {
        if self.shared.closed.swap(true, Ordering::SeqCst) {
            return false;
        }
        self.out.send(Outgoing::Close(code, reason)).await.is_ok()
    }
}

impl ChargedToHolder for WebSocket {
    /// Its handle moved into `table`: what it holds inbound is charged to that process.
    fn moved_to(&self, table: &mut ResourceTable) {
        let now = self.shared.charge.owner();
        let to = table.account(|| WsBudget::like(&now));
        self.shared.charge.bind(&to);
    }
}

impl ReadReady for WebSocket {
    fn read_ready(&self) -> Ready<'_> {
        Box::pin(async move {
            self.readable().await;
            Ok(())
        })
    }
}

/// The task owning the connection; it holds the connection's `slot` (the socket counts
/// against the server's connections) until it ends.
async fn run(
    upgrade: hyper::upgrade::OnUpgrade,
    shared: Arc<Shared>,
    mut out: mpsc::Receiver<Outgoing>,
    max: usize,
    idle: std::time::Duration,
    _slot: Arc<OwnedSemaphorePermit>,
) {
    let upgraded = match upgrade.await {
        Ok(u) => u,
        Err(e) => return shared.end(format!("the connection was not upgraded: {e}")),
    };
    let config = WebSocketConfig::default()
        .max_message_size(Some(max))
        .max_frame_size(Some(max))
        .read_buffer_size(READ_BUFFER);
    let metered = Metered::new(TokioIo::new(upgraded), shared.charge.clone());
    let ws = WebSocketStream::from_raw_socket(metered, Role::Server, Some(config)).await;
    let (mut sink, mut stream) = ws.split();
    let mut close_sent = false;
    // Quiet for `idle`: ping; quiet for `idle` again after the ping: give up.
    let mut heard = tokio::time::Instant::now();
    let mut pinged = false;
    loop {
        let room = shared.has_room();
        let wake = heard + if pinged { 2 * idle } else { idle };
        tokio::select! {
            _ = tokio::time::sleep_until(wake), if room => {
                if pinged {
                    shared.end(format!("the WebSocket was silent for {:?} and did not answer a ping (--http-idle-timeout)", 2 * idle));
                    break;
                }
                pinged = true;
                if let Err(e) = sink.send(Message::Ping(Vec::new().into())).await {
                    shared.end(format!("pinging the WebSocket failed: {e}"));
                    break;
                }
            }
            m = stream.next(), if room => { heard = tokio::time::Instant::now(); pinged = false; match m {
                Some(Ok(Message::Text(t))) => shared.push(WsMessage::Text(t.as_str().to_string())),
                Some(Ok(Message::Binary(b))) => shared.push(WsMessage::Binary(b.to_vec())),
                Some(Ok(Message::Close(frame))) => {
                    let frame = frame.map(|f| (u16::from(f.code), f.reason.as_str().to_string()));
                    shared.push(WsMessage::Close(frame));
                    shared.end("the peer closed the WebSocket");
                    // tungstenite answers the close; drain until the connection ends.
                }
                Some(Ok(_)) => {} // pings are answered by tungstenite; pongs and raw frames
                Some(Err(e)) => {
                    shared.end(format!("the WebSocket failed: {e}"));
                    break;
                }
                None => {
                    shared.end("the WebSocket connection ended");
                    break;
                }
            }},
            // While the process does not take what came, the client is not the one idle.
            _ = shared.room.notified(), if !room => heard = tokio::time::Instant::now(),
            o = out.recv() => match o {
                Some(Outgoing::Message(..)) if close_sent => {}
                Some(Outgoing::Message(m, _share, _charged)) => {
                    if let Err(e) = sink.send(m).await {
                        shared.end(format!("sending on the WebSocket failed: {e}"));
                        break;
                    }
                }
                Some(Outgoing::Close(code, reason)) => {
                    let frame = CloseFrame { code: CloseCode::from(code), reason: reason.into() };
                    let _ = sink.send(Message::Close(Some(frame))).await;
                    close_sent = true;
                }
                None => {
                    // Every handle is gone: close, 1011 if the process did not close first.
                    if !close_sent {
                        let frame = CloseFrame {
                            code: CloseCode::Error,
                            reason: "the process holding the WebSocket ended".into(),
                        };
                        let _ = sink.send(Message::Close(Some(frame))).await;
                    }
                    // Wait a moment for the peer's close answer, then let the connection go.
                    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
                        while let Some(Ok(_)) = stream.next().await {}
                    })
                    .await;
                    break;
                }
            },
        }
    }
    // What was arriving will not be taken; what is queued stays charged until it is.
    shared.charge.ended();
}
