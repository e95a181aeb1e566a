//! [`HostMailbox`]: a pid the host owns, so processes can send to it.
//!
//! A host mailbox is an entry in the process table with a mailbox and no instance. Guests
//! send to its pid like to any process (find it by a registered name, or pass the pid in a
//! message); the host receives with the same serde types the guest sends with. It can
//! monitor processes and receive their DOWN messages. Dropping it removes the pid (and its
//! names), as a process exit would.

use crate::actor::{ExitReason, Message, Pid, ProcessRef, ProcessTable, Received, RegisterError};
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;

/// A mailbox of the host's; see the module docs.
pub struct HostMailbox {
    me: Arc<ProcessRef>,
    table: Arc<ProcessTable>,
}

/// Why a host receive returned no value.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    /// Nothing came within the timeout.
    #[error("no message within {0:?}")]
    Timeout(Duration),
    /// A message came that is not the expected type.
    #[error("a message to the host is not a `{type_name}`: {problem}")]
    Decode {
        /// The expected type.
        type_name: &'static str,
        /// Why it did not decode.
        problem: String,
    },
}

impl HostMailbox {
    pub(crate) fn new(me: Arc<ProcessRef>, table: Arc<ProcessTable>) -> Self {
        HostMailbox { me, table }
    }

    /// The pid processes send to.
    pub fn pid(&self) -> Pid {
        self.me.pid()
    }

    /// Register `name` for this mailbox, so guests find it with `warren::whereis(name)`.
    pub fn register(&self, name: &str) -> Result<(), RegisterError> {
        // Ok(false) would mean this pid is not alive; a host mailbox lives until dropped.
        self.table.register_name(name, self.pid()).map(drop)
    }

    /// Wait for the next ordinary message and decode it as an `M` (postcard, as the guest
    /// SDK encodes it). Resources (handles) a guest put in it are dropped.
    pub async fn receive<M: DeserializeOwned>(&self) -> Result<M, ReceiveError> {
        let m = self.receive_raw(None).await.expect("no deadline");
        decode(&m)
    }

    /// [`HostMailbox::receive`] with a timeout.
    pub async fn receive_timeout<M: DeserializeOwned>(
        &self,
        timeout: Duration,
    ) -> Result<M, ReceiveError> {
        match self.receive_raw(Some(timeout)).await {
            Some(m) => decode(&m),
            None => Err(ReceiveError::Timeout(timeout)),
        }
    }

    /// The bytes of the next ordinary message as they are (not decoded), waiting at most
    /// `timeout` (`None`: forever); `None` if none came. Handles it carries are dropped.
    pub async fn receive_bytes(&self, timeout: Option<Duration>) -> Option<Vec<u8>> {
        self.receive_raw(timeout).await.map(|m| m.data)
    }

    /// The next ordinary message as it is (bytes and resources), waiting at most `timeout`.
    pub(crate) async fn receive_raw(&self, timeout: Option<Duration>) -> Option<Message> {
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        match self.me.mailbox.take(0, deadline).await {
            Received::Message(m) => Some(m),
            Received::TimedOut => None,
        }
    }

    /// Watch process `pid`; [`HostMailbox::wait_exit`] with the returned reference says why
    /// it ended (`noproc` if it was not alive). Fails if this mailbox holds as many monitors
    /// as the runtime's reference quota allows.
    pub fn monitor(&self, pid: Pid) -> Result<u64, crate::actor::QuotaError> {
        self.table.monitor(self.pid(), pid)
    }

    /// Wait for the DOWN message of a monitor set with [`HostMailbox::monitor`].
    pub async fn wait_exit(&self, monitor: u64) -> ExitReason {
        match self.me.mailbox.take(monitor, None).await {
            Received::Message(m) => ExitReason::decode(&m.data)
                .unwrap_or_else(|| ExitReason::Trap("undecodable exit reason".into())),
            Received::TimedOut => unreachable!("no deadline"),
        }
    }
}

/// Decode exactly one `M`: bytes left over mean the message was of another type.
fn decode<M: DeserializeOwned>(m: &Message) -> Result<M, ReceiveError> {
    let problem = match postcard::take_from_bytes(&m.data) {
        Ok((value, [])) => return Ok(value),
        Ok((_, rest)) => format!("{} bytes are left over after one value", rest.len()),
        Err(e) => e.to_string(),
    };
    Err(ReceiveError::Decode {
        type_name: std::any::type_name::<M>(),
        problem,
    })
}

impl Drop for HostMailbox {
    fn drop(&mut self) {
        self.table.exit(self.pid(), &ExitReason::Normal);
    }
}
