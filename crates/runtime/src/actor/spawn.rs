//! What a new process starts from, and how it is tied to its parent, as one value: the same
//! for a spawn on this node (`warren:process.spawn`, a hibernated process waking, an HTTP
//! handler) and on another (`warren:node.spawn`, where it travels in the cluster's spawn
//! order). The ABI's arguments become a [`SpawnSpec`] in one place, [`SpawnSpec::from_abi`],
//! so both spawn calls refuse the same options with the same words.

use serde::{Deserialize, Serialize};
use warren_abi::SPAWN_LINK;

use super::{Pid, ProcessTable};

/// A process to start: its entry (two function-table indices of the module, which the actor
/// layer does not interpret), its captures, and its ties and limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpawnSpec {
    /// The function-table index of the SDK's type-tagged trampoline.
    pub trampoline: u32,
    /// The function-table index of the user's entry function.
    pub func: u32,
    /// The serialized captures.
    pub args: Vec<u8>,
    /// Link the parent and the child before the child runs.
    pub link: bool,
    /// The parent monitors the child with this reference from before it runs, so even an
    /// immediate exit is reported with its real reason.
    pub monitor: Option<u64>,
    /// The child's own memory limit in bytes (at most the runtime's), if not the runtime's.
    pub max_memory: Option<u64>,
    /// The child's own compute budget, if not the runtime's (needs fuel counting on).
    pub max_fuel: Option<u64>,
    /// The child's mailbox bound from before it runs (messages, bytes, `WHEN_FULL_*`; see
    /// `bound_to_wire`), if any.
    #[serde(default)]
    pub mailbox: Option<(u64, u64, u32)>,
    /// The number of the program's version whose function table `trampoline` and `func`
    /// index (0: the current version). Not sent to another node, which picks its version
    /// by the module hash the order names. (Here, in the struct's padding, it costs a
    /// hibernated process nothing.)
    #[serde(skip)]
    pub version: u32,
    /// For a process hibernated at a named resume point of its version, or moving to
    /// another version through one: the point's index in the version's list (see
    /// `process::ModuleExports`). Not sent to another node; in the padding too.
    #[serde(skip)]
    pub point: u16,
    /// How the instance is entered (a process hibernated at a named point, or moving to
    /// another version through one). Not sent; in the padding too.
    #[serde(skip)]
    pub via: Via,
}

/// How a spawned (or woken) process's instance is entered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Via {
    /// `warren_entry(trampoline, func, args_len)`.
    #[default]
    Indices,
    /// Hibernated at named resume point `point` of its version: it wakes on the current
    /// version (through the indices if that is its own, else as `Export`).
    Named,
    /// The export of resume point `point`, `warren_resume:<name>(args_len)`.
    Export,
}

impl SpawnSpec {
    /// A process entered at `(trampoline, func)` with `args`, with no ties and the runtime's
    /// limits (a hibernated process waking, an HTTP handler).
    pub fn entry(trampoline: u32, func: u32, args: Vec<u8>) -> SpawnSpec {
        SpawnSpec {
            trampoline,
            func,
            args,
            link: false,
            monitor: None,
            max_memory: None,
            max_fuel: None,
            mailbox: None,
            version: 0,
            point: 0,
            via: Via::Indices,
        }
    }

    /// The options of `spawn`'s ABI checked: `flags` only `SPAWN_LINK`; limits not negative
    /// (0 is the runtime's); a non-zero `monitor_tag` a reference `parent` holds unused (from
    /// `new_tag`: anything else could forge a DOWN into another receive). The error is the
    /// text of an `ERR_BAD_ARGUMENT`.
    pub fn from_abi(
        table: &ProcessTable,
        parent: Pid,
        (trampoline, func): (u32, u32),
        args: Vec<u8>,
        (monitor_tag, flags, max_memory, max_fuel): (i64, u32, i64, i64),
    ) -> Result<SpawnSpec, String> {
        if flags & !SPAWN_LINK != 0 {
            return Err(format!("unknown flags {flags:#x}"));
        }
        if max_memory < 0 || max_fuel < 0 {
            return Err(format!(
                "negative limit (max_memory {max_memory}, max_fuel {max_fuel})"
            ));
        }
        let monitor = (monitor_tag != 0).then_some(monitor_tag as u64);
        if let Some(t) = monitor
            && !table.is_free_ref(parent, t)
        {
            return Err(format!(
                "monitor tag {monitor_tag} is not a reference from new_tag that this process \
                 holds unused"
            ));
        }
        Ok(SpawnSpec {
            trampoline,
            func,
            args,
            link: flags & SPAWN_LINK != 0,
            monitor,
            max_memory: (max_memory > 0).then_some(max_memory as u64),
            max_fuel: (max_fuel > 0).then_some(max_fuel as u64),
            mailbox: None,
            version: 0,
            point: 0,
            via: Via::Indices,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_abi_options_become_a_spec_or_the_reason_they_do_not() {
        let t = ProcessTable::new(10, "");
        let parent = t.register().unwrap();
        let other = t.register().unwrap();
        let spec = |tag, flags, mem, fuel| {
            SpawnSpec::from_abi(&t, parent.pid(), (1, 2), vec![7], (tag, flags, mem, fuel))
        };
        assert_eq!(spec(0, 0, 0, 0), Ok(SpawnSpec::entry(1, 2, vec![7])));
        let linked = spec(0, SPAWN_LINK, 1 << 20, 5).unwrap();
        assert!(linked.link);
        assert_eq!(
            (linked.max_memory, linked.max_fuel),
            (Some(1 << 20), Some(5))
        );
        assert_eq!(spec(0, 2, 0, 0).unwrap_err(), "unknown flags 0x2");
        assert!(spec(0, 0, -1, 0).unwrap_err().starts_with("negative limit"));
        assert!(spec(0, 0, 0, -1).unwrap_err().starts_with("negative limit"));
        // A reference of the parent's own, unused: a monitor from before the child runs.
        let mine = t.new_ref(&parent).unwrap();
        assert_eq!(spec(mine as i64, 0, 0, 0).unwrap().monitor, Some(mine));
        // Another process's reference, or one never made, is not the parent's to use.
        let theirs = t.new_ref(&other).unwrap();
        assert!(
            spec(theirs as i64, 0, 0, 0)
                .unwrap_err()
                .contains("monitor tag")
        );
        assert!(spec(12345, 0, 0, 0).unwrap_err().contains("monitor tag"));
    }
}
