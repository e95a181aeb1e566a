//! Why a process ended, as the host reports it in DOWN messages.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a process ended. Mirrors the host's exit reasons (`docs/abi.md`, "Exit reasons").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExitReason {
    /// Its function returned.
    Normal,
    /// It called `std::process::exit` with a non-zero code.
    Exit(i32),
    /// It panicked; the message and location.
    Panic(String),
    /// Its instance trapped (unreachable, out-of-bounds access, ...).
    Trap(String),
    /// It was killed.
    Killed,
    /// It exceeded a limit (memory, ...).
    Limit(String),
    /// It was not alive when the monitor or link was set up.
    NoProc,
    /// A process linked to it exited abnormally (and it did not trap exits): the process
    /// where the failure started, and its own reason (never itself `Linked`: a failure
    /// travelling along a chain of links keeps its origin).
    Linked(crate::Pid, Box<ExitReason>),
}

impl ExitReason {
    pub fn is_normal(&self) -> bool {
        matches!(self, ExitReason::Normal | ExitReason::Exit(0))
    }

    /// The host's encoding (docs/abi.md, "Exit reasons").
    pub(crate) fn encode(&self) -> Vec<u8> {
        let text = |kind: u8, m: &str| {
            let mut v = vec![kind];
            v.extend_from_slice(m.as_bytes());
            v
        };
        match self {
            ExitReason::Normal => vec![0],
            ExitReason::Panic(m) => text(1, m),
            ExitReason::Trap(m) => text(2, m),
            ExitReason::Killed => vec![3],
            ExitReason::NoProc => vec![4],
            ExitReason::Limit(m) => text(5, m),
            ExitReason::Exit(code) => {
                let mut v = vec![6];
                v.extend_from_slice(&code.to_le_bytes());
                v
            }
            ExitReason::Linked(pid, r) => {
                // Reasons are flat (docs/abi.md): carry the innermost, original reason.
                let mut inner: &ExitReason = r;
                while let ExitReason::Linked(_, deeper) = inner {
                    inner = deeper;
                }
                let mut v = vec![7];
                v.extend_from_slice(&pid.to_le_bytes());
                v.extend(inner.encode());
                v
            }
        }
    }

    /// Decode the host's encoding: a kind byte, then text or a little-endian i32; a `linked`
    /// reason holds one flat reason (the host never nests them). Never recurses.
    pub(crate) fn decode(bytes: &[u8]) -> Option<ExitReason> {
        let (&kind, rest) = bytes.split_first()?;
        if kind != 7 {
            return decode_flat(kind, rest);
        }
        let (pid, inner) = rest.split_at_checked(8)?;
        let pid = u64::from_le_bytes(pid.try_into().ok()?);
        let (&inner_kind, inner_rest) = inner.split_first()?;
        Some(ExitReason::Linked(
            pid,
            Box::new(decode_flat(inner_kind, inner_rest)?),
        ))
    }
}

/// Decode one reason that is not `linked`.
fn decode_flat(kind: u8, rest: &[u8]) -> Option<ExitReason> {
    let text = || String::from_utf8(rest.to_vec()).ok();
    Some(match kind {
        0 if rest.is_empty() => ExitReason::Normal,
        1 => ExitReason::Panic(text()?),
        2 => ExitReason::Trap(text()?),
        3 if rest.is_empty() => ExitReason::Killed,
        4 if rest.is_empty() => ExitReason::NoProc,
        5 => ExitReason::Limit(text()?),
        6 => ExitReason::Exit(i32::from_le_bytes(rest.try_into().ok()?)),
        _ => return None,
    })
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::Normal => write!(f, "normal"),
            ExitReason::Exit(c) => write!(f, "exit({c})"),
            ExitReason::Panic(m) => write!(f, "panic: {m}"),
            ExitReason::Trap(m) => write!(f, "trap: {m}"),
            ExitReason::Killed => write!(f, "killed"),
            ExitReason::Limit(m) => write!(f, "limit: {m}"),
            ExitReason::NoProc => write!(f, "noproc"),
            ExitReason::Linked(pid, r) => write!(f, "linked process {pid} exited: {r}"),
        }
    }
}
