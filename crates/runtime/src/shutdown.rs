//! Graceful shutdown: a runtime that stops the way a service behind an orchestrator is
//! expected to (what `SIGTERM` means to `warren run`).
//!
//! # The order
//!
//! Everything happens within one deadline, the timeout given to
//! [`Runtime::shutdown_gracefully`](crate::Runtime::shutdown_gracefully):
//!
//! 1. **HTTP drains** ([`crate::io::http::Drain`]): every server stops accepting (new
//!    connections are refused), requests in flight are answered and streamed responses
//!    finish, idle keep-alive connections close. Processes keep running meanwhile: a handler
//!    may need the program's other processes to answer.
//! 2. **Processes are asked to stop**: the live processes are taken as groups joined by
//!    links, and the oldest member of each group (its lowest pid: the root, the top of a
//!    supervision tree) gets the exit signal `shutdown` from the node itself. A process that
//!    does not trap exits ends with it and passes it along its links; one that traps exits
//!    receives it as a message and stops in its own order — a supervisor stops its children
//!    last started first, each within its own shutdown time. Groups are looked at again as
//!    processes end (a process unlinked on the way gets its own `shutdown`), until none is
//!    left.
//! 3. **At the deadline** whatever is still alive is killed, host copies stop and host
//!    mailboxes close, as in [`Runtime::shutdown`](crate::Runtime::shutdown).
//!
//! The report says whether the deadline cut anything ([`ShutdownReport::is_clean`]).

use crate::actor::ExitReason;
use crate::process::StoreData;
use crate::runtime::RuntimeInner;
use crate::sync::Locked;
use std::collections::HashSet;
use std::time::Duration;
use tokio::time::Instant;

/// What a graceful shutdown did; see [`Runtime::shutdown_gracefully`](crate::Runtime::shutdown_gracefully).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// HTTP connections still being served when the deadline came (cut; 0 when every
    /// request accepted before the shutdown was answered).
    pub connections_cut: usize,
    /// Processes still alive at the deadline, killed.
    pub killed: usize,
    /// How long the shutdown took.
    pub took: Duration,
}

impl ShutdownReport {
    /// True when nothing had to be cut or killed: every connection drained and every
    /// process ended on its own.
    pub fn is_clean(&self) -> bool {
        self.connections_cut == 0 && self.killed == 0
    }
}

/// Shortest pause between two looks at the process groups.
const SWEEP: Duration = Duration::from_millis(10);

pub(crate) async fn gracefully<T: StoreData>(
    inner: &RuntimeInner<T>,
    timeout: Duration,
) -> ShutdownReport {
    let start = Instant::now();
    let deadline = start + timeout;
    let env = &inner.env;

    // 1. HTTP servers stop accepting; connections finish what they were asked.
    env.io.drain.start();
    let _ = tokio::time::timeout_at(deadline, env.io.drain.finished()).await;
    let connections_cut = env.io.drain.live();

    // 2. Ask every group of linked processes to stop, at its head.
    let table = &env.table;
    let hosts: HashSet<_> = inner
        .host_mailboxes
        .locked()
        .iter()
        .filter_map(|m| m.upgrade().map(|m| m.pid()))
        .collect();
    let from = warren_abi::node_pid(table.node());
    let mut asked = HashSet::new();
    loop {
        let looked = Instant::now();
        let heads = table.link_group_heads(&hosts);
        if heads.is_empty() {
            break;
        }
        for pid in heads {
            if asked.insert(pid) {
                table.send_exit(from, pid, &ExitReason::Shutdown);
            }
        }
        // Look again soon, but not so often that looking at a million processes is all
        // the runtime does.
        let pause = SWEEP + looked.elapsed() * 4;
        if tokio::time::timeout_at(deadline, tokio::time::sleep(pause))
            .await
            .is_err()
        {
            break;
        }
    }
    let killed = table.count_except(&hosts);
    if killed > 0 {
        tracing::warn!(
            "graceful shutdown: {killed} processes still alive after {timeout:?}: killed"
        );
    }
    ShutdownReport {
        connections_cut,
        killed,
        took: start.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_is_clean_when_nothing_was_cut() {
        let clean = ShutdownReport {
            connections_cut: 0,
            killed: 0,
            took: Duration::ZERO,
        };
        assert!(clean.is_clean());
        assert!(
            !ShutdownReport {
                killed: 1,
                ..clean.clone()
            }
            .is_clean()
        );
    }
}
