//! Nodes of a cluster: where a process runs, spawning on another node, node monitors and
//! global names.
//!
//! Run the same module on several machines (or several `warren run --cluster URL --node
//! NAME` on one) and they form a cluster. A pid names its node, so a [`Process`] or
//! [`Reply`](crate::Reply) received from another node works unchanged: `send`, `request`,
//! `monitor`, `link`, `kill` and `exit` reach it there. When a node goes down or becomes
//! unreachable, every monitor of one of its processes reports
//! [`ExitReason::NoConnection`](crate::ExitReason::NoConnection) and every link to one
//! fires with it, as in Erlang.
//!
//! ```no_run
//! use std::time::Duration;
//! use warren::{Mailbox, Reply, node};
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Square(u64, Reply<u64>);
//!
//! let other = node::wait_for("b", Duration::from_secs(10)).expect("node b is up");
//! let base = 1u64;
//! let worker = node::spawn_on(other, base, |base, mailbox: Mailbox<Square>| loop {
//!     let Square(n, reply) = mailbox.receive();
//!     reply.send(&(n * n + base));
//! })
//! .expect("spawned on b");
//! assert_eq!(worker.request(|r| Square(7, r)), Ok(50));
//! ```
//!
//! Handles (sockets, files, pipes) cannot leave their node: a message or captures holding
//! one for another node's process is refused, and the handles stay with the sender.

use crate::abi;
use crate::mailbox::Mailbox;
use crate::process::{Monitor, Pid, Process, SpawnError, SpawnOptions};
use crate::registry::RegisterError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::{Duration, Instant};

/// A node of the cluster, by number. Plain data: send it in messages.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Node(u32);

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Node({})", self.0)
    }
}

impl Node {
    /// The node a pid belongs to.
    pub fn of(pid: Pid) -> Node {
        Node(warren_abi::node_of(pid))
    }

    /// Its number (unique in the cluster; a restarted node gets a new one).
    pub fn number(self) -> u32 {
        self.0
    }

    /// Its name, if it is this node or one that is up.
    pub fn name(self) -> Option<String> {
        let mut buf = vec![0u8; 64];
        loop {
            // SAFETY: `buf` is a live buffer of its length; the host writes at most that.
            let n = unsafe { abi::node_name(self.0 as i64, buf.as_mut_ptr(), buf.len() as u32) };
            if n < 0 {
                return None;
            }
            if n as usize <= buf.len() {
                buf.truncate(n as usize);
                return String::from_utf8(buf).ok();
            }
            buf.resize(n as usize, 0);
        }
    }

    /// Whether it is this node or one that is up.
    pub fn is_up(self) -> bool {
        self.name().is_some()
    }

    /// Watch the node: the [`Monitor`] yields
    /// [`ExitReason::NoConnection`](crate::ExitReason::NoConnection) when it goes down or
    /// becomes unreachable (at once if it is not up).
    pub fn monitor(self) -> Monitor {
        Process::<()>::from_pid(warren_abi::node_pid(self.0)).monitor()
    }

    /// Spawn `entry(captures, mailbox)` on this node (see [`spawn_on`]).
    pub fn spawn<C, M>(
        self,
        captures: C,
        entry: fn(C, Mailbox<M>),
    ) -> Result<Process<M>, SpawnError>
    where
        C: Serialize + DeserializeOwned,
        M: Serialize + DeserializeOwned,
    {
        spawn_on(self, captures, entry)
    }
}

/// The node the calling process runs on; `None` outside a cluster.
pub fn this() -> Option<Node> {
    // SAFETY: no arguments.
    let n = unsafe { abi::node_this() };
    (n > 0).then_some(Node(n as u32))
}

/// The other nodes that are up, by number.
pub fn list() -> Vec<Node> {
    let mut buf = vec![0u32; 16];
    loop {
        // SAFETY: `buf` is a live buffer of `buf.len()` u32s; the host writes at most that.
        let n = unsafe { abi::node_list(buf.as_mut_ptr(), buf.len() as u32) };
        let n = n.max(0) as usize;
        if n <= buf.len() {
            buf.truncate(n);
            return buf.into_iter().map(Node).collect();
        }
        buf.resize(n, 0);
    }
}

/// The node named `name`, if it is this one or is up.
pub fn lookup(name: &str) -> Option<Node> {
    // SAFETY: pointer and length of `name`, read during the call only.
    let n = unsafe { abi::node_lookup(name.as_ptr(), name.len() as u32) };
    (n > 0).then_some(Node(n as u32))
}

/// [`lookup`], waiting up to `timeout` for the node to come up (nodes that start together
/// see each other within a beat, a quarter of a second).
pub fn wait_for(name: &str, timeout: Duration) -> Option<Node> {
    let start = Instant::now();
    loop {
        if let Some(n) = lookup(name) {
            return Some(n);
        }
        if start.elapsed() >= timeout {
            return None;
        }
        crate::sleep(Duration::from_millis(20));
    }
}

/// A node came up or went down (see [`watch`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeEvent {
    /// The node is up (it joined, or is reachable again).
    Up(Node),
    /// The node went down or became unreachable.
    Down(Node),
}

/// Node events for the calling process, from [`watch`].
#[derive(Debug)]
pub struct NodeWatch {
    tag: u64,
}

/// Be told of every node that comes up or goes down from now on (the nodes up now are
/// [`list`]). `None` outside a cluster.
pub fn watch() -> Option<NodeWatch> {
    // SAFETY: no arguments.
    let tag = unsafe { abi::node_watch() };
    (tag > 0).then_some(NodeWatch { tag: tag as u64 })
}

impl NodeWatch {
    /// Wait for the next event.
    pub fn next(&self) -> NodeEvent {
        match self.next_inner(None) {
            Some(e) => e,
            None => unreachable!("a receive without timeout returned nothing"),
        }
    }

    /// The next event, waiting at most `timeout`.
    pub fn next_timeout(&self, timeout: Duration) -> Option<NodeEvent> {
        self.next_inner(Some(timeout))
    }

    fn next_inner(&self, timeout: Option<Duration>) -> Option<NodeEvent> {
        crate::raw::receive(self.tag, timeout, |bytes| {
            let node = bytes
                .get(1..5)
                .and_then(|b| b.try_into().ok())
                .map_or(Node(0), |b| Node(u32::from_le_bytes(b)));
            match bytes.first() {
                Some(1) => NodeEvent::Up(node),
                _ => NodeEvent::Down(node),
            }
        })
    }

    /// Stop the events; those already queued are dropped.
    pub fn cancel(self) {
        // SAFETY: plain integer argument.
        unsafe { abi::node_unwatch(self.tag as i64) };
    }
}

/// Spawn `entry(captures, mailbox)` as a new process on `node`, which runs the same module.
/// Waits for its pid. Like [`spawn`](fn@crate::spawn), but the captures cannot hold handles.
pub fn spawn_on<C, M>(
    node: Node,
    captures: C,
    entry: fn(C, Mailbox<M>),
) -> Result<Process<M>, SpawnError>
where
    C: Serialize + DeserializeOwned,
    M: Serialize + DeserializeOwned,
{
    SpawnOptions::new().on(node).spawn(captures, entry)
}

/// [`spawn_on`], linked to the caller before the process runs.
pub fn spawn_link_on<C, M>(
    node: Node,
    captures: C,
    entry: fn(C, Mailbox<M>),
) -> Result<Process<M>, SpawnError>
where
    C: Serialize + DeserializeOwned,
    M: Serialize + DeserializeOwned,
{
    SpawnOptions::new().on(node).link().spawn(captures, entry)
}

/// [`spawn_on`], monitored from before the process runs.
pub fn spawn_monitor_on<C, M>(
    node: Node,
    captures: C,
    entry: fn(C, Mailbox<M>),
) -> Result<(Process<M>, Monitor), SpawnError>
where
    C: Serialize + DeserializeOwned,
    M: Serialize + DeserializeOwned,
{
    SpawnOptions::new().on(node).spawn_monitor(captures, entry)
}

impl<M: Serialize> Process<M> {
    /// Register this process (of the caller's node) under a name unique in the cluster,
    /// until it ends, its node goes down, or the name is unregistered. A name whose holder's
    /// node is down is free to take.
    pub fn register_global(&self, name: &str) -> Result<(), RegisterError> {
        // SAFETY: pointer and length of `name`, read during the call only.
        match unsafe { abi::register_global(name.as_ptr(), name.len() as u32, self.pid() as i64) } {
            0 => Ok(()),
            abi::ERR_NAME_TAKEN => Err(RegisterError::Taken),
            abi::ERR_NO_PROCESS => Err(RegisterError::NoProcess),
            abi::ERR_LIMIT => Err(RegisterError::TooMany),
            abi::ERR_NO_CONNECTION => Err(RegisterError::NoConnection),
            _ => Err(RegisterError::BadName),
        }
    }
}

/// The process with the global name `name`, anywhere in the cluster, seen as taking
/// messages of type `M`.
pub fn whereis_global<M: Serialize>(name: &str) -> Option<Process<M>> {
    // SAFETY: pointer and length of `name`, read during the call only.
    let pid = unsafe { abi::whereis_global(name.as_ptr(), name.len() as u32) };
    (pid >= 0).then(|| Process::from_pid(pid as Pid))
}

/// Remove a global name. Returns false if it was not registered.
pub fn unregister_global(name: &str) -> bool {
    // SAFETY: pointer and length of `name`, read during the call only.
    unsafe { abi::unregister_global(name.as_ptr(), name.len() as u32) == 0 }
}
