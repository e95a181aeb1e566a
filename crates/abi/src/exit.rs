//! Exit reasons and their one encoding, in DOWN messages, exit signals and `exit` calls
//! (documented in `docs/abi.md`, "Exit reasons").
//!
//! Reasons are *flat*: a `linked` reason names the process where the failure started and
//! that process's own reason, never another `linked` reason. A process that dies because a
//! linked process died of `linked(origin, r)` carries `linked(origin, r)` on, as Erlang
//! passes the original reason along a chain of links. So the depth of a reason never grows
//! with the length of a chain, and nothing here recurses: a hostile guest that encodes a
//! deeply nested reason gets a decode error, not a host stack overflow. Texts are cut at
//! [`MAX_REASON_TEXT`] bytes.

use std::fmt;

/// A process id: allocated from a per-runtime counter starting at 1, never reused. In a
/// cluster, bits 40..63 name the node (see [`node_of`]) and the counter is below 2^40; a
/// runtime outside a cluster is node 0, so its pids are plain counts.
pub type Pid = u64;

/// Where the node number starts in a pid.
pub const NODE_SHIFT: u32 = 40;
/// Largest node number a pid can carry (pids stay below 2^63, positive as an `i64`).
pub const MAX_NODE: u32 = (1 << (63 - NODE_SHIFT)) - 1;

/// The node a pid belongs to (0: a runtime outside a cluster).
pub const fn node_of(pid: Pid) -> u32 {
    (pid >> NODE_SHIFT) as u32
}

/// The pid that stands for node `node` itself (its counter part is 0, which no process
/// has): monitoring it watches the node (a DOWN with `noconnection` when it goes away).
pub const fn node_pid(node: u32) -> Pid {
    (node as u64) << NODE_SHIFT
}

/// Longest encoded exit reason a guest may pass to `exit` or `exit_signal`.
pub const MAX_EXIT_REASON: usize = 64 * 1024;

/// Why a process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ExitReason {
    /// The entry function returned (or the process called `proc_exit(0)`).
    Normal,
    /// The process called WASI `proc_exit` with a non-zero status.
    Exit(i32),
    /// The guest panicked; the panic message (with its location) as the guest's SDK reported it.
    Panic(String),
    /// The instance trapped (unreachable, out-of-bounds access, stack overflow, bad host call...).
    Trap(String),
    /// Another party killed the process.
    Killed,
    /// The process exceeded a limit (for example its maximum linear memory).
    Limit(String),
    /// Only in DOWN messages and exit signals: the process did not exist (already gone or
    /// never was).
    NoProc,
    /// A linked process exited abnormally (and this one did not trap exits): the process
    /// where the failure started, and its reason — never itself `Linked` (see the module
    /// docs; build one with [`ExitReason::linked`]).
    Linked(Pid, Box<ExitReason>),
    /// Only in DOWN messages and exit signals: the process's node went down or became
    /// unreachable (Erlang's `noconnection`); whether the process itself lives on is unknown.
    NoConnection,
    /// An orderly stop was asked for (Erlang's `shutdown`): the runtime sends it as an exit
    /// signal when it shuts down gracefully, and a supervisor sends it to the children it
    /// stops. A process trapping exits receives it as a message and may finish its work
    /// first; any other process ends with it. Not normal (it ends a linked process that does
    /// not trap exits), but not a failure either: a `Transient` child that ends with it is
    /// not restarted, and it passes along links as itself, never as `linked`.
    Shutdown,
    /// Hot code upgrade ended the process (docs/upgrade.md): the version its code belonged to
    /// was purged by a newer load, or it could not move to the current version (no resume
    /// point of that name, captures that do not decode). The text says which. Abnormal: a
    /// supervisor restarts the process, on the current version.
    Upgrade(String),
}

/// Longest reason text kept (panic messages, trap texts, limits), in bytes; longer texts are
/// cut at a character boundary.
pub const MAX_REASON_TEXT: usize = 16 * 1024;

const NORMAL: u8 = 0;
const PANIC: u8 = 1;
const TRAP: u8 = 2;
const KILLED: u8 = 3;
const NOPROC: u8 = 4;
const LIMIT: u8 = 5;
const EXIT: u8 = 6;
const LINKED: u8 = 7;
const NOCONNECTION: u8 = 8;
const SHUTDOWN: u8 = 9;
const UPGRADE: u8 = 10;

impl ExitReason {
    /// The reason of a process that dies because the linked process `from` exited with
    /// `reason`. Flat: if `reason` is itself a linked exit, its origin and original reason are
    /// carried on unchanged.
    pub fn linked(from: Pid, reason: &ExitReason) -> ExitReason {
        match reason {
            // An order to stop passes along links as itself (Erlang's `shutdown`).
            ExitReason::Shutdown => ExitReason::Shutdown,
            ExitReason::Linked(origin, original) => {
                ExitReason::Linked(*origin, Box::new(original.flat()))
            }
            other => ExitReason::Linked(from, Box::new(other.clone())),
        }
    }

    /// This reason with any nesting below a `linked` level removed (only reasons built by
    /// hand can nest), without recursion.
    fn flat(&self) -> ExitReason {
        let mut r = self;
        while let ExitReason::Linked(_, inner) = r {
            r = inner;
        }
        r.clone()
    }

    /// A reason whose text is cut to [`MAX_REASON_TEXT`] bytes.
    pub fn bounded(self) -> ExitReason {
        match self {
            ExitReason::Panic(m) => ExitReason::Panic(cut(m)),
            ExitReason::Trap(m) => ExitReason::Trap(cut(m)),
            ExitReason::Limit(m) => ExitReason::Limit(cut(m)),
            ExitReason::Upgrade(m) => ExitReason::Upgrade(cut(m)),
            ExitReason::Linked(pid, r) => ExitReason::Linked(pid, Box::new(r.flat().bounded())),
            other => other,
        }
    }

    /// True for exits that are not errors: `Normal` and `Exit(0)`.
    pub fn is_normal(&self) -> bool {
        matches!(self, ExitReason::Normal | ExitReason::Exit(0))
    }

    /// True for an ordered stop: `Shutdown`, or a linked exit whose origin was one (built by
    /// hand: [`ExitReason::linked`] passes `Shutdown` on as itself).
    pub fn is_shutdown(&self) -> bool {
        matches!(self.flat(), ExitReason::Shutdown)
    }

    /// Encode as the payload of a DOWN message: one kind byte, then the kind's data
    /// (UTF-8 text for panic/trap/limit/upgrade, a little-endian i32 for exit).
    pub fn encode(&self) -> Vec<u8> {
        let (kind, data): (u8, &[u8]) = match self {
            ExitReason::Normal => (NORMAL, &[]),
            ExitReason::Panic(m) => (PANIC, m.as_bytes()),
            ExitReason::Trap(m) => (TRAP, m.as_bytes()),
            ExitReason::Killed => (KILLED, &[]),
            ExitReason::NoProc => (NOPROC, &[]),
            ExitReason::NoConnection => (NOCONNECTION, &[]),
            ExitReason::Shutdown => (SHUTDOWN, &[]),
            ExitReason::Limit(m) => (LIMIT, m.as_bytes()),
            ExitReason::Upgrade(m) => (UPGRADE, m.as_bytes()),
            ExitReason::Exit(code) => {
                let mut v = vec![EXIT];
                v.extend_from_slice(&code.to_le_bytes());
                return v;
            }
            ExitReason::Linked(pid, reason) => {
                let mut v = vec![LINKED];
                v.extend_from_slice(&pid.to_le_bytes());
                // Flat by construction; a hand-built nested reason is flattened here.
                v.extend(reason.flat().encode());
                return v;
            }
        };
        let mut v = Vec::with_capacity(1 + data.len());
        v.push(kind);
        v.extend_from_slice(data);
        v
    }

    /// Decode what [`ExitReason::encode`] produced; `None` for anything else, including a
    /// `linked` reason inside a `linked` reason (reasons are flat) or a text over
    /// [`MAX_REASON_TEXT`] bytes. Never recurses.
    pub fn decode(bytes: &[u8]) -> Option<ExitReason> {
        let (&kind, rest) = bytes.split_first()?;
        if kind != LINKED {
            return decode_flat(kind, rest);
        }
        let (pid, inner) = rest.split_at_checked(8)?;
        let pid = u64::from_le_bytes(pid.try_into().ok()?);
        let (&inner_kind, inner_rest) = inner.split_first()?;
        // `decode_flat` refuses LINKED: a nested linked reason is not an encoding.
        let inner = decode_flat(inner_kind, inner_rest)?;
        Some(ExitReason::Linked(pid, Box::new(inner)))
    }
}

/// Decode one reason that is not `linked`.
fn decode_flat(kind: u8, rest: &[u8]) -> Option<ExitReason> {
    let text = || {
        if rest.len() > MAX_REASON_TEXT {
            return None;
        }
        String::from_utf8(rest.to_vec()).ok()
    };
    Some(match kind {
        NORMAL if rest.is_empty() => ExitReason::Normal,
        PANIC => ExitReason::Panic(text()?),
        TRAP => ExitReason::Trap(text()?),
        KILLED if rest.is_empty() => ExitReason::Killed,
        NOPROC if rest.is_empty() => ExitReason::NoProc,
        NOCONNECTION if rest.is_empty() => ExitReason::NoConnection,
        SHUTDOWN if rest.is_empty() => ExitReason::Shutdown,
        LIMIT => ExitReason::Limit(text()?),
        UPGRADE => ExitReason::Upgrade(text()?),
        EXIT => ExitReason::Exit(i32::from_le_bytes(rest.try_into().ok()?)),
        _ => return None,
    })
}

/// Cut `text` to at most [`MAX_REASON_TEXT`] bytes, at a character boundary.
fn cut(mut text: String) -> String {
    let end = crate::cut_text(&text, MAX_REASON_TEXT).len();
    text.truncate(end);
    text
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::Normal => write!(f, "normal"),
            ExitReason::Exit(code) => write!(f, "exit({code})"),
            ExitReason::Panic(m) => write!(f, "panic: {m}"),
            ExitReason::Trap(m) => write!(f, "trap: {m}"),
            ExitReason::Killed => write!(f, "killed"),
            ExitReason::Limit(m) => write!(f, "limit: {m}"),
            ExitReason::NoProc => write!(f, "noproc"),
            ExitReason::NoConnection => write!(f, "noconnection"),
            ExitReason::Shutdown => write!(f, "shutdown"),
            ExitReason::Upgrade(m) => write!(f, "upgrade: {m}"),
            ExitReason::Linked(pid, r) => write!(f, "linked process {pid} exited: {r}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips() {
        for r in [
            ExitReason::Normal,
            ExitReason::Exit(-3),
            ExitReason::Panic("boom at src/main.rs:1:1".into()),
            ExitReason::Trap("unreachable".into()),
            ExitReason::Killed,
            ExitReason::Limit("memory".into()),
            ExitReason::NoProc,
            ExitReason::NoConnection,
            ExitReason::Shutdown,
            ExitReason::Upgrade("version 1 was purged".into()),
            ExitReason::Linked(5, Box::new(ExitReason::Trap("x".into()))),
        ] {
            assert_eq!(ExitReason::decode(&r.encode()), Some(r));
        }
        assert_eq!(ExitReason::decode(&[]), None);
        assert_eq!(ExitReason::decode(&[99]), None);
        assert_eq!(ExitReason::decode(&[EXIT, 1]), None);
    }

    #[test]
    fn linked_reasons_stay_flat_along_a_chain() {
        let origin = ExitReason::Panic("boom".into());
        let mut r = ExitReason::linked(1, &origin);
        for from in 2..10_000 {
            r = ExitReason::linked(from, &r);
        }
        assert_eq!(r, ExitReason::Linked(1, Box::new(origin)));
    }

    #[test]
    fn shutdown_passes_along_links_as_itself() {
        assert_eq!(
            ExitReason::linked(4, &ExitReason::Shutdown),
            ExitReason::Shutdown
        );
        assert!(ExitReason::Shutdown.is_shutdown());
        assert!(ExitReason::Linked(4, Box::new(ExitReason::Shutdown)).is_shutdown());
        assert!(!ExitReason::Shutdown.is_normal());
        assert!(!ExitReason::Killed.is_shutdown());
    }

    #[test]
    fn deeply_nested_encodings_are_refused_without_recursion() {
        // [7, pid x 8] repeated, then normal: what a hostile guest passes to `exit`.
        let mut bytes = Vec::new();
        for _ in 0..100_000 {
            bytes.push(LINKED);
            bytes.extend_from_slice(&[0; 8]);
        }
        bytes.push(NORMAL);
        assert_eq!(ExitReason::decode(&bytes), None);
        let two = [&bytes[..18], &[NORMAL]].concat();
        assert_eq!(ExitReason::decode(&two), None);
        let too_long = [&[PANIC][..], &vec![b'x'; MAX_REASON_TEXT + 1]].concat();
        assert_eq!(ExitReason::decode(&too_long), None);
        // A hand-built nested reason encodes flat.
        let nested = ExitReason::Linked(
            1,
            Box::new(ExitReason::Linked(2, Box::new(ExitReason::Killed))),
        );
        assert_eq!(
            ExitReason::decode(&nested.encode()),
            Some(ExitReason::Linked(1, Box::new(ExitReason::Killed)))
        );
        let long = ExitReason::Trap("é".repeat(MAX_REASON_TEXT)).bounded();
        assert!(matches!(&long, ExitReason::Trap(t) if t.len() <= MAX_REASON_TEXT));
    }
}
