//! A process's mailbox, typed by the messages it takes, and request/reply.
//!
//! Ordinary messages are received in the order they arrived. A request tags its reply with a
//! fresh reference and waits for that reference only, so other messages that arrive
//! meanwhile stay queued, in order, for the next `receive`.

use crate::process::{Pid, Process, encode};
use crate::raw;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::marker::PhantomData;
use std::time::Duration;

/// The calling process's mailbox, taking messages of type `M`.
///
/// A spawned process is handed one; the root process (`main`) makes its own with
/// [`Mailbox::this`]. Messages are decoded as `M`: receiving one of another type is a bug in
/// the program and panics with both type names.
pub struct Mailbox<M> {
    _message: PhantomData<fn() -> M>,
}

impl<M: DeserializeOwned> Mailbox<M> {
    pub(crate) fn new() -> Self {
        Mailbox {
            _message: PhantomData,
        }
    }

    /// The calling process's mailbox. For the root process, whose `main` gets none.
    pub fn this() -> Self {
        crate::entry::install_hooks();
        Self::new()
    }

    /// Wait for the next message.
    pub fn receive(&self) -> M {
        match raw::receive(0, None, decode::<M>) {
            Some(m) => m,
            None => unreachable!("a receive without timeout returned nothing"),
        }
    }

    /// The next message if one is queued, without waiting (the same as
    /// `receive_timeout(Duration::ZERO)`): one plain host call, `warren:message.try_receive`.
    pub fn try_receive(&self) -> Option<M> {
        raw::receive(0, Some(Duration::ZERO), decode::<M>)
    }

    /// Wait for the next message at most `timeout`.
    pub fn receive_timeout(&self, timeout: Duration) -> Option<M> {
        raw::receive(0, Some(timeout), decode::<M>)
    }

    /// Wait for the next message or exit signal of a linked process (exit signals arrive as
    /// messages only while [`trap_exit`](crate::trap_exit) is on), in arrival order.
    pub fn receive_signal(&self) -> Signal<M> {
        match raw::receive_with_exits(None, decode_signal::<M>) {
            Some(s) => s,
            None => unreachable!("a receive without timeout returned nothing"),
        }
    }

    /// [`Mailbox::receive_signal`] with a timeout.
    pub fn receive_signal_timeout(&self, timeout: Duration) -> Option<Signal<M>> {
        raw::receive_with_exits(Some(timeout), decode_signal::<M>)
    }
}

/// What [`Mailbox::receive_signal`] returns.
#[derive(Debug, Clone, PartialEq)]
pub enum Signal<M> {
    /// An ordinary message.
    Message(M),
    /// A linked process exited (for any reason, `Normal` included).
    Exit {
        /// The linked process that exited.
        from: Pid,
        /// Why it exited.
        reason: crate::ExitReason,
    },
}

fn decode_signal<M: DeserializeOwned>(tag: u64, bytes: &[u8]) -> Signal<M> {
    if tag != crate::abi::EXIT_TAG {
        return Signal::Message(decode(bytes));
    }
    let parsed = bytes.split_at_checked(8).and_then(|(pid, reason)| {
        Some((
            u64::from_le_bytes(pid.try_into().ok()?),
            crate::ExitReason::decode(reason)?,
        ))
    });
    match parsed {
        Some((from, reason)) => Signal::Exit { from, reason },
        None => panic!("warren: undecodable exit signal {bytes:?} from the host"),
    }
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> T {
    match crate::handle::decode_message(bytes) {
        Ok(v) => v,
        Err(e) => panic!(
            "warren: received a message that is not a `{}` ({} bytes): {e}",
            std::any::type_name::<T>(),
            bytes.len()
        ),
    }
}

/// A promise to answer one request with a `T`. Put it in the request message; the receiver
/// calls [`Reply::send`].
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Reply<T> {
    pid: Pid,
    tag: u64,
    #[serde(skip)]
    _value: PhantomData<fn(T)>,
}

/// The first byte of a reply, which tells it from the DOWN message that shares its reference.
use warren_abi::REPLY_MARK;

impl<T: Serialize> Reply<T> {
    /// Answer the request. Returns false if the requester has ended.
    pub fn send(self, value: &T) -> bool {
        let mut bytes = vec![REPLY_MARK];
        bytes.extend(encode(value));
        raw::send(self.pid, self.tag, &bytes)
    }

    /// Who is waiting for this reply.
    pub fn requester(&self) -> Pid {
        self.pid
    }
}

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// The process ended (or was not alive) before replying.
    Exited(crate::ExitReason),
    /// No reply came within the timeout (or no room in the receiver's full bounded mailbox
    /// for the request: then it was not sent).
    Timeout,
    /// The receiver's mailbox is full by a bound whose policy is to fail sends (see
    /// [`crate::bound`]): the request was not sent.
    Full,
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestError::Exited(r) => write!(f, "the process ended before replying: {r}"),
            RequestError::Timeout => write!(f, "no reply within the timeout"),
            RequestError::Full => write!(
                f,
                "the receiver's mailbox is full (its bound fails sends): the request was not sent"
            ),
        }
    }
}

impl std::error::Error for RequestError {}

impl<M: Serialize> Process<M> {
    /// Send the request `make(reply)` and wait for the answer, which the receiver gives with
    /// `reply.send(&value)`. Other messages arriving meanwhile stay queued in order. If the
    /// process ends first, the error says why. The request is an ordinary message: a full
    /// bounded mailbox makes it wait for room, or fail ([`RequestError::Full`]); the reply
    /// never waits.
    pub fn request<T: DeserializeOwned>(
        &self,
        make: impl FnOnce(Reply<T>) -> M,
    ) -> Result<T, RequestError> {
        self.request_inner(make, None)
    }

    /// [`Process::request`] with a timeout, which covers waiting for room to send the
    /// request too.
    pub fn request_timeout<T: DeserializeOwned>(
        &self,
        make: impl FnOnce(Reply<T>) -> M,
        timeout: Duration,
    ) -> Result<T, RequestError> {
        self.request_inner(make, Some(timeout))
    }

    fn request_inner<T: DeserializeOwned>(
        &self,
        make: impl FnOnce(Reply<T>) -> M,
        timeout: Option<Duration>,
    ) -> Result<T, RequestError> {
        // The monitor's reference doubles as the reply's tag (as Erlang's gen_server:call
        // does), so one selective receive waits for either the reply or the DOWN.
        let deadline = timeout.and_then(|t| std::time::Instant::now().checked_add(t));
        let monitor = self.monitor();
        let tag = monitor.tag();
        let request = make(Reply {
            pid: crate::this(),
            tag,
            _value: PhantomData,
        });
        // Not alive: the monitor's DOWN (noproc) answers below.
        let refused = match self.send_until(&request, deadline) {
            Ok(_) => None,
            Err(crate::SendError::Full) => Some(RequestError::Full),
            Err(crate::SendError::TimedOut) => Some(RequestError::Timeout),
            Err(crate::SendError::Refused(e)) => panic!("warren: cannot send a request: {e}"),
        };
        if let Some(refused) = refused {
            monitor.cancel();
            return Err(refused);
        }
        let left = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
        let outcome = raw::receive(tag, left.or(timeout), |bytes| match bytes.split_first() {
            Some((&REPLY_MARK, rest)) => Ok(decode::<T>(rest)),
            _ => Err(RequestError::Exited(
                crate::ExitReason::decode(bytes).unwrap_or(crate::ExitReason::NoProc),
            )),
        });
        monitor.cancel();
        outcome.unwrap_or(Err(RequestError::Timeout))
    }
}
