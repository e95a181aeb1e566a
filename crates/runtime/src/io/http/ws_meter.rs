//! [`Metered`]: the reading side of a WebSocket's connection, charged to a process.
//!
//! tungstenite reads from the connection only when asked for a message, and assembles a
//! message from its frames before handing it over, so what it holds cannot be seen from
//! outside. `Metered` sits under it and follows the client's frames as the bytes pass (a
//! frame's header says its kind and length), so it knows the payload of each message as it
//! arrives, charges it to the socket's process ([`SocketCharge`], [`WsBudget`]) and reads
//! only as far as the process's account allows — see [`super::ws_budget`] for the rules.
//! Frames are not checked here: tungstenite refuses a malformed one, and this only counts.

use super::ws_budget::{SMALL, WsBudget};
use crate::sync::Locked;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{AcquireError, OwnedSemaphorePermit};

/// What one socket has charged to its process, inbound.
#[derive(Debug)]
struct Charged {
    owner: Arc<WsBudget>,
    /// Payload read of the message arriving.
    partial: usize,
    /// Payload of messages arrived and not yet handed to the process's queue.
    done: usize,
    /// Payload of messages in the process's queue.
    queued: usize,
    /// The process waits on this socket (`ws_receive`).
    demand: bool,
}

/// One socket's inbound charge, shared by its reader and its process's side.
#[derive(Debug)]
pub(super) struct SocketCharge(Mutex<Charged>);

impl SocketCharge {
    /// Nothing charged yet, to `owner`.
    pub(super) fn new(owner: Arc<WsBudget>) -> Arc<SocketCharge> {
        Arc::new(SocketCharge(Mutex::new(Charged {
            owner,
            partial: 0,
            done: 0,
            queued: 0,
            demand: false,
        })))
    }

    fn lock(&self) -> MutexGuard<'_, Charged> {
        self.0.locked()
    }

    /// The process charged now.
    pub(super) fn owner(&self) -> Arc<WsBudget> {
        self.lock().owner.clone()
    }

    /// Charge `to` from now on, with what is held now.
    pub(super) fn bind(&self, to: &Arc<WsBudget>) {
        let mut c = self.lock();
        if Arc::ptr_eq(&c.owner, to) {
            return;
        }
        let arriving = c.partial + c.done;
        c.owner.move_queued(c.queued, to);
        c.owner.release_partial(arriving);
        to.add_partial(arriving);
        // The reader may be waiting on the old account: wake it to look at the new one.
        c.owner.room().notify_waiters();
        c.owner = to.clone();
    }

    /// Whether the process waits on this socket (`ws_receive`): while it does and nothing
    /// has come for it, the socket reads its next message past the account's quota (so a
    /// process reading its sockets one by one is never stuck behind messages queued on the
    /// others). A process waits in one call at a time, so this is at most one message more.
    pub(super) fn set_demand(&self, on: bool) {
        let mut c = self.lock();
        c.demand = on;
        if on {
            c.owner.room().notify_waiters();
        }
    }

    /// What the reader decides on, read under one lock: the account charged now, whether
    /// the process waits on this socket with nothing come for it, and the payload read of the
    /// message arriving (the large-message rule's `own`).
    fn look(&self) -> (Arc<WsBudget>, bool, usize) {
        let c = self.lock();
        let demanded = c.demand && c.done == 0 && c.queued == 0;
        (c.owner.clone(), demanded, c.partial)
    }

    fn read(&self, payload: usize, finished: &[usize]) {
        let mut c = self.lock();
        c.partial += payload;
        c.owner.add_partial(payload);
        for &n in finished {
            c.partial = c.partial.saturating_sub(n);
            c.done += n;
        }
    }

    /// A message of `n` bytes was handed to the process's queue.
    pub(super) fn queued(&self, n: usize) {
        let mut c = self.lock();
        let n = n.min(c.done);
        c.done -= n;
        c.queued += n;
        c.owner.settle(n, &c.owner);
    }

    /// The process took a message of `n` bytes.
    pub(super) fn taken(&self, n: usize) {
        let mut c = self.lock();
        let n = n.min(c.queued);
        c.queued -= n;
        c.owner.release_queued(n);
    }

    /// Nothing more will arrive: release what was arriving.
    pub(super) fn ended(&self) {
        let mut c = self.lock();
        let n = c.partial + c.done;
        c.partial = 0;
        c.done = 0;
        c.owner.release_partial(n);
    }
}

impl Drop for SocketCharge {
    fn drop(&mut self) {
        let c = self.lock();
        c.owner.release_partial(c.partial + c.done);
        c.owner.release_queued(c.queued);
    }
}

/// Where the client's byte stream is, frame by frame.
#[derive(Debug, Default)]
struct Frames {
    /// Header bytes gathered of the frame starting (0 between frames).
    header: [u8; 14],
    header_len: usize,
    /// Payload bytes left of the current frame (its header is complete).
    left: u64,
    in_frame: bool,
    /// The current frame carries data (text, binary, continuation), and ends its message.
    data: bool,
    fin: bool,
    /// A data message has started and not finished.
    in_message: bool,
    /// Its payload so far.
    message: usize,
}

impl Frames {
    /// Bytes the header still needs (`0` inside a payload).
    fn header_left(&self) -> usize {
        if self.in_frame {
            return 0;
        }
        if self.header_len < 2 {
            return 2 - self.header_len;
        }
        self.header_size() - self.header_len
    }

    fn header_size(&self) -> usize {
        let ext = match self.header[1] & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let mask = if self.header[1] & 0x80 != 0 { 4 } else { 0 };
        2 + ext + mask
    }

    /// Between messages: no frame begun, no message arriving.
    fn at_boundary(&self) -> bool {
        !self.in_frame && self.header_len == 0 && !self.in_message
    }

    /// Inside the payload of a control frame (ping, pong, close: at most 125 bytes).
    fn control_left(&self) -> usize {
        if self.in_frame && !self.data {
            self.left as usize
        } else {
            0
        }
    }

    /// Follow `bytes`; the data payload among them, and the payload of each message they
    /// finish.
    fn feed(&mut self, mut bytes: &[u8], finished: &mut Vec<usize>) -> usize {
        let mut payload = 0;
        while !bytes.is_empty() {
            if !self.in_frame {
                let need = self.header_left();
                let n = need.min(bytes.len());
                self.header[self.header_len..self.header_len + n].copy_from_slice(&bytes[..n]);
                self.header_len += n;
                bytes = &bytes[n..];
                if self.header_left() > 0 {
                    continue;
                }
                let h = &self.header;
                self.fin = h[0] & 0x80 != 0;
                self.data = h[0] & 0x0f < 8;
                self.left = match h[1] & 0x7f {
                    126 => u16::from_be_bytes([h[2], h[3]]) as u64,
                    127 => u64::from_be_bytes(h[2..10].try_into().expect("8 bytes")),
                    n => n as u64,
                };
                self.header_len = 0;
                self.in_frame = true;
                if self.data {
                    self.in_message = true;
                }
            }
            let n = (self.left.min(bytes.len() as u64)) as usize;
            bytes = &bytes[n..];
            self.left -= n as u64;
            if self.data {
                payload += n;
                self.message = self.message.saturating_add(n);
            }
            if self.left == 0 {
                self.in_frame = false;
                if self.data && self.fin {
                    finished.push(std::mem::take(&mut self.message));
                    self.in_message = false;
                }
            }
        }
        payload
    }
}

type Permit = Pin<Box<dyn Future<Output = Result<OwnedSemaphorePermit, AcquireError>> + Send>>;

/// A connection whose reads are counted and held back as the socket's process's account
/// says.
pub(super) struct Metered<S> {
    inner: S,
    charge: Arc<SocketCharge>,
    frames: Frames,
    /// The account the waits below are on.
    seen: Option<Arc<WsBudget>>,
    /// The process's large-message permit, while this socket holds it.
    large: Option<OwnedSemaphorePermit>,
    acquiring: Option<Permit>,
    waiting: Option<Pin<Box<tokio::sync::futures::OwnedNotified>>>,
    finished: Vec<usize>,
}

impl<S> Metered<S> {
    /// Read `inner`, charging `charge`.
    pub(super) fn new(inner: S, charge: Arc<SocketCharge>) -> Metered<S> {
        Metered {
            inner,
            charge,
            frames: Frames::default(),
            seen: None,
            large: None,
            acquiring: None,
            waiting: None,
            finished: Vec::new(),
        }
    }

    /// How many bytes may be read now; pending (woken when that changes) if none.
    fn allowance(&mut self, cx: &mut Context<'_>) -> Poll<usize> {
        loop {
            let (owner, demanded, partial) = self.charge.look();
            if !self.seen.as_ref().is_some_and(|s| Arc::ptr_eq(s, &owner)) {
                // The socket changed hands: the permit and the waits were the old holder's.
                self.large = None;
                self.acquiring = None;
                self.waiting = None;
                self.seen = Some(owner.clone());
            }
            // Arm the wake-up before looking, so a release in between is not missed.
            let waiting = self
                .waiting
                .get_or_insert_with(|| Box::pin(owner.room().clone().notified_owned()));
            waiting.as_mut().enable();
            let f = &self.frames;
            let in_frame = if f.in_frame {
                f.left.min(usize::MAX as u64) as usize
            } else {
                0
            };
            if demanded || f.at_boundary() {
                // Not waiting for the permit: leave the semaphore's queue, or a permit handed
                // to a wait nobody polls would keep every other large message waiting.
                self.acquiring = None;
            }
            let room = if demanded {
                // The process waits on this socket and nothing has come for it: its message
                // may come whatever the account holds (the frame's header, then its payload,
                // one frame at a time).
                in_frame
            } else if f.at_boundary() {
                if owner.may_start() { SMALL } else { 0 }
            } else if self.large.is_some() {
                // The holder reads no further than its frame, so the permit goes when its
                // message is whole.
                owner.large_room(partial).min(in_frame)
            } else {
                SMALL.saturating_sub(f.message)
            };
            // A new message starts only with room for it (or when the process waits on it).
            let n = if f.at_boundary() && !demanded && room == 0 {
                0
            } else {
                room.max(f.header_left()).max(f.control_left())
            };
            if n > 0 {
                return Poll::Ready(n);
            }
            let mut permit = Poll::Pending;
            if !f.at_boundary() && self.large.is_none() {
                // A message past SMALL: wait for the process's large-message permit (or for
                // the process to wait on this socket).
                let acquiring = self
                    .acquiring
                    .get_or_insert_with(|| Box::pin(owner.large().clone().acquire_owned()));
                permit = acquiring.as_mut().poll(cx);
            }
            match permit {
                Poll::Ready(Ok(p)) => {
                    self.acquiring = None;
                    self.large = Some(p);
                    continue;
                }
                // The semaphore is never closed; read on rather than stall forever.
                Poll::Ready(Err(_)) => {
                    self.acquiring = None;
                    return Poll::Ready(SMALL);
                }
                Poll::Pending => {}
            }
            let waiting = self.waiting.as_mut().expect("armed above");
            ready!(waiting.as_mut().poll(cx));
            self.waiting = None;
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Metered<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let allowed = ready!(this.allowance(cx));
        let n = allowed.min(buf.remaining());
        let start = buf.filled().len();
        // A window of `n` bytes on `buf` (zeroed once where tungstenite's buffer is new).
        let mut part = ReadBuf::new(buf.initialize_unfilled_to(n));
        ready!(Pin::new(&mut this.inner).poll_read(cx, &mut part))?;
        let got = part.filled().len();
        buf.advance(got);
        let mut finished = std::mem::take(&mut this.finished);
        finished.clear();
        let payload = this.frames.feed(&buf.filled()[start..], &mut finished);
        this.charge.read(payload, &finished);
        if !finished.is_empty() && !this.frames.in_message {
            // The large message is whole (or was never large): let the next one have it.
            this.large = None;
            this.acquiring = None;
        }
        this.finished = finished;
        this.waiting = None;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Metered<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A client frame: masked, `fin`, `opcode`, `payload`.
    fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![(if fin { 0x80 } else { 0 }) | opcode];
        match payload.len() {
            n if n < 126 => f.push(0x80 | n as u8),
            n if n < 65536 => {
                f.push(0x80 | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(0x80 | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        f.extend_from_slice(&[1, 2, 3, 4]);
        f.extend(
            payload
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ [1, 2, 3, 4][i % 4]),
        );
        f
    }

    #[test]
    fn frames_are_followed_byte_by_byte_and_in_chunks() {
        let mut wire = frame(true, 1, b"hello");
        wire.extend(frame(false, 2, &[7; 300]));
        wire.extend(frame(true, 9, b"ping")); // a control frame inside a message
        wire.extend(frame(true, 0, &[8; 70_000]));
        wire.extend(frame(true, 2, &[]));
        for chunk in [1, 3, 7, 1000, wire.len()] {
            let mut f = Frames::default();
            let mut finished = Vec::new();
            let mut payload = 0;
            for c in wire.chunks(chunk) {
                payload += f.feed(c, &mut finished);
            }
            assert_eq!(finished, vec![5, 70_300, 0], "chunks of {chunk}");
            assert_eq!(payload, 70_305);
            assert!(f.at_boundary());
        }
    }

    /// Read from `r` until it would wait (time is paused: the timeout fires only when
    /// nothing else can run).
    async fn read_while_ready<S: AsyncRead + Unpin>(r: &mut Metered<S>) -> usize {
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0;
        while let Ok(Ok(n)) =
            tokio::time::timeout(std::time::Duration::from_secs(1), r.read(&mut buf)).await
        {
            if n == 0 {
                break;
            }
            total += n;
        }
        total
    }

    async fn socket(
        budget: &Arc<WsBudget>,
        wire: Vec<u8>,
    ) -> (
        Metered<tokio::io::DuplexStream>,
        Arc<SocketCharge>,
        tokio::io::DuplexStream,
    ) {
        let (mut client, server) = tokio::io::duplex(4 << 20);
        let charge = SocketCharge::new(budget.clone());
        client.write_all(&wire).await.expect("fits the pipe");
        (Metered::new(server, charge.clone()), charge, client)
    }

    #[tokio::test(start_paused = true)]
    async fn a_large_message_waits_until_the_process_takes_what_is_queued() {
        let budget = WsBudget::new(0, 100_000); // quota 100,000 + SMALL
        let message = frame(true, 2, &[5u8; 150_000]);
        let (mut a, a_charge, _a) = socket(&budget, message.clone()).await;
        let (mut b, _b_charge, _b) = socket(&budget, message.clone()).await;
        assert_eq!(read_while_ready(&mut a).await, message.len());
        a_charge.queued(150_000);
        // b starts (the account is under its quota), reads a small message's worth, and
        // then there is no room for it beside a's queued message.
        let got = read_while_ready(&mut b).await;
        assert!((SMALL..=SMALL + 14).contains(&got), "b read {got}");
        assert_eq!(
            budget.held(),
            super::super::ws_budget::Held {
                queued: 150_000,
                partial: SMALL
            }
        );
        // The process takes a's message: b goes on to the end.
        a_charge.taken(150_000);
        assert_eq!(got + read_while_ready(&mut b).await, message.len());
        assert_eq!(budget.held().partial, 150_000);
    }

    #[tokio::test(start_paused = true)]
    async fn one_large_message_arrives_at_a_time() {
        let budget = WsBudget::new(8 << 20, 0);
        let message = frame(true, 2, &[5u8; 150_000]);
        let half = message.len() / 2;
        let (mut a, _a_charge, mut a_client) = socket(&budget, message[..half].to_vec()).await;
        let (mut b, _b_charge, _b) = socket(&budget, message.clone()).await;
        assert_eq!(read_while_ready(&mut a).await, half);
        assert!(
            a.large.is_some(),
            "a holds the permit halfway through its message"
        );
        let got = read_while_ready(&mut b).await;
        assert!((SMALL..=SMALL + 14).contains(&got), "b read {got}");
        // a's message finishes: the permit goes to b.
        a_client.write_all(&message[half..]).await.expect("fits");
        assert_eq!(read_while_ready(&mut a).await, message.len() - half);
        assert!(a.large.is_none());
        assert_eq!(got + read_while_ready(&mut b).await, message.len());
        assert_eq!(budget.held().partial, 300_000);
    }

    #[tokio::test(start_paused = true)]
    async fn the_socket_the_process_waits_on_reads_past_a_full_account() {
        let budget = WsBudget::new(0, 100_000);
        let message = frame(true, 2, &[5u8; 150_000]);
        let (mut a, a_charge, _a) = socket(&budget, message.clone()).await;
        let (mut b, b_charge, _b) =
            socket(&budget, [message.clone(), message.clone()].concat()).await;
        assert_eq!(read_while_ready(&mut a).await, message.len());
        a_charge.queued(150_000);
        let got = read_while_ready(&mut b).await;
        assert!((SMALL..=SMALL + 14).contains(&got), "b read {got}");
        // The process waits on b (and not on a, whose message is queued): b's message comes.
        b_charge.set_demand(true);
        assert_eq!(got + read_while_ready(&mut b).await, message.len());
        // Then its next waits for room like any other.
        b_charge.queued(150_000);
        assert_eq!(read_while_ready(&mut b).await, 0);
        assert_eq!(
            budget.held(),
            super::super::ws_budget::Held {
                queued: 300_000,
                partial: 0
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_socket_handed_to_another_process_reads_on_its_account() {
        let first = WsBudget::new(8 << 20, 0);
        let message = frame(true, 2, &[5u8; 150_000]);
        let half = message.len() / 2;
        let (mut a, _a_charge, _a) = socket(&first, message[..half].to_vec()).await;
        let (mut b, b_charge, _b) = socket(&first, message.clone()).await;
        assert_eq!(read_while_ready(&mut a).await, half);
        let got = read_while_ready(&mut b).await;
        assert!((SMALL..=SMALL + 14).contains(&got), "b read {got}");
        // b waits for the first process's permit (a holds it); handed to another process,
        // it reads on that one's.
        let second = WsBudget::like(&first);
        b_charge.bind(&second);
        assert_eq!(got + read_while_ready(&mut b).await, message.len());
        assert_eq!(first.held().partial, half - 14);
        assert_eq!(second.held().partial, 150_000);
    }

    #[tokio::test(start_paused = true)]
    async fn a_socket_that_stops_waiting_for_the_permit_does_not_keep_it_from_others() {
        let budget = WsBudget::new(8 << 20, 0);
        let message = frame(true, 2, &[5u8; 150_000]);
        let half = message.len() / 2;
        // a holds the permit halfway; b queues for it, then is read on demand instead.
        let (mut a, _a_charge, mut a_client) = socket(&budget, message[..half].to_vec()).await;
        let (mut b, b_charge, _b) = socket(&budget, message.clone()).await;
        let (mut c, _c_charge, _c) = socket(&budget, message.clone()).await;
        assert_eq!(read_while_ready(&mut a).await, half);
        let got = read_while_ready(&mut b).await;
        assert!(b.acquiring.is_some(), "b waits for the permit");
        b_charge.set_demand(true);
        assert_eq!(got + read_while_ready(&mut b).await, message.len());
        assert!(b.acquiring.is_none() && b.large.is_none());
        // a finishes and lets the permit go: c, not b's abandoned wait, gets it.
        a_client.write_all(&message[half..]).await.expect("fits");
        assert_eq!(read_while_ready(&mut a).await, message.len() - half);
        assert_eq!(read_while_ready(&mut c).await, message.len());
    }
}
