//! Exit reasons and their encoding in DOWN messages (documented in `docs/abi.md`).

use std::fmt;

/// Why a process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// A linked process exited abnormally (and this one did not trap exits): which, and why.
    Linked(super::Pid, Box<ExitReason>),
}

const NORMAL: u8 = 0;
const PANIC: u8 = 1;
const TRAP: u8 = 2;
const KILLED: u8 = 3;
const NOPROC: u8 = 4;
const LIMIT: u8 = 5;
const EXIT: u8 = 6;
const LINKED: u8 = 7;

impl ExitReason {
    /// True for exits that are not errors: `Normal` and `Exit(0)`.
    pub fn is_normal(&self) -> bool {
        matches!(self, ExitReason::Normal | ExitReason::Exit(0))
    }

    /// Encode as the payload of a DOWN message: one kind byte, then the kind's data
    /// (UTF-8 text for panic/trap/limit, a little-endian i32 for exit).
    pub fn encode(&self) -> Vec<u8> {
        let (kind, data): (u8, &[u8]) = match self {
            ExitReason::Normal => (NORMAL, &[]),
            ExitReason::Panic(m) => (PANIC, m.as_bytes()),
            ExitReason::Trap(m) => (TRAP, m.as_bytes()),
            ExitReason::Killed => (KILLED, &[]),
            ExitReason::NoProc => (NOPROC, &[]),
            ExitReason::Limit(m) => (LIMIT, m.as_bytes()),
            ExitReason::Exit(code) => {
                let mut v = vec![EXIT];
                v.extend_from_slice(&code.to_le_bytes());
                return v;
            }
            ExitReason::Linked(pid, reason) => {
                let mut v = vec![LINKED];
                v.extend_from_slice(&pid.to_le_bytes());
                v.extend(reason.encode());
                return v;
            }
        };
        let mut v = Vec::with_capacity(1 + data.len());
        v.push(kind);
        v.extend_from_slice(data);
        v
    }

    /// Decode what [`ExitReason::encode`] produced; `None` for anything else.
    pub fn decode(bytes: &[u8]) -> Option<ExitReason> {
        let (&kind, rest) = bytes.split_first()?;
        let text = || String::from_utf8(rest.to_vec()).ok();
        Some(match kind {
            NORMAL if rest.is_empty() => ExitReason::Normal,
            PANIC => ExitReason::Panic(text()?),
            TRAP => ExitReason::Trap(text()?),
            KILLED if rest.is_empty() => ExitReason::Killed,
            NOPROC if rest.is_empty() => ExitReason::NoProc,
            LIMIT => ExitReason::Limit(text()?),
            EXIT => ExitReason::Exit(i32::from_le_bytes(rest.try_into().ok()?)),
            LINKED if rest.len() > 8 => {
                let (pid, inner) = rest.split_at(8);
                let pid = u64::from_le_bytes(pid.try_into().ok()?);
                ExitReason::Linked(pid, Box::new(ExitReason::decode(inner)?))
            }
            _ => return None,
        })
    }
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
            ExitReason::Linked(
                5,
                Box::new(ExitReason::Linked(
                    6,
                    Box::new(ExitReason::Trap("x".into())),
                )),
            ),
        ] {
            assert_eq!(ExitReason::decode(&r.encode()), Some(r));
        }
        assert_eq!(ExitReason::decode(&[]), None);
        assert_eq!(ExitReason::decode(&[99]), None);
        assert_eq!(ExitReason::decode(&[EXIT, 1]), None);
    }
}
