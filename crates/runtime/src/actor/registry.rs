//! Named processes: `register(name, pid)`, `whereis(name)`, `unregister(name)`.
//!
//! A name maps to one live pid and a pid may hold several names. Names die with their
//! process: [`crate::actor::ProcessTable::exit`] calls [`Registry::remove_pid`].

use super::Pid;
use crate::sync::Locked;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// Longest name accepted, in bytes.
pub(crate) use warren_abi::MAX_NAME;

/// Why a name could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// The name belongs to another process (the name, its owner).
    #[error("the name {0:?} is already registered to process {1}")]
    Taken(String, Pid),
    /// The name is empty or too long.
    #[error("the name is empty or longer than {MAX_NAME} bytes")]
    BadName,
    /// The process has as many names as its quota allows.
    #[error(transparent)]
    Quota(#[from] super::QuotaError),
}

#[derive(Debug)]
pub struct Registry {
    inner: Mutex<Names>,
    /// Most names one pid may have.
    per_pid: usize,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::with_limit(super::quotas::DEFAULT_NAMES)
    }
}

#[derive(Debug, Default)]
struct Names {
    by_name: HashMap<String, Pid>,
    by_pid: HashMap<Pid, Vec<String>>,
}

impl Registry {
    /// A registry giving each pid at most `per_pid` names.
    pub fn with_limit(per_pid: usize) -> Self {
        Registry {
            inner: Mutex::new(Names::default()),
            per_pid,
        }
    }

    /// Register `name` for `pid`, which the caller has checked is alive.
    pub fn register(&self, name: &str, pid: Pid) -> Result<(), RegisterError> {
        if name.is_empty() || name.len() > MAX_NAME {
            return Err(RegisterError::BadName);
        }
        let mut n = self.lock();
        if let Some(&owner) = n.by_name.get(name) {
            return Err(RegisterError::Taken(name.to_string(), owner));
        }
        if n.by_pid.get(&pid).is_some_and(|v| v.len() >= self.per_pid) {
            return Err(super::QuotaError::Names {
                pid,
                limit: self.per_pid,
            }
            .into());
        }
        n.by_name.insert(name.to_string(), pid);
        n.by_pid.entry(pid).or_default().push(name.to_string());
        Ok(())
    }

    pub fn whereis(&self, name: &str) -> Option<Pid> {
        self.lock().by_name.get(name).copied()
    }

    /// Remove a name; returns the pid it was registered to.
    pub fn unregister(&self, name: &str) -> Option<Pid> {
        let mut n = self.lock();
        let pid = n.by_name.remove(name)?;
        if let Some(names) = n.by_pid.get_mut(&pid) {
            names.retain(|x| x != name);
            if names.is_empty() {
                n.by_pid.remove(&pid);
            }
        }
        Some(pid)
    }

    /// Forget every name of a process that ended; returns them.
    pub fn remove_pid(&self, pid: Pid) -> Vec<String> {
        let mut n = self.lock();
        let names = n.by_pid.remove(&pid).unwrap_or_default();
        for name in &names {
            n.by_name.remove(name);
        }
        names
    }

    /// The first name `pid` registered that it still holds.
    pub fn first_name(&self, pid: Pid) -> Option<String> {
        self.lock().by_pid.get(&pid)?.first().cloned()
    }

    /// Every pid with a name, and its names.
    pub fn all(&self) -> HashMap<Pid, Vec<String>> {
        self.lock().by_pid.clone()
    }

    pub fn len(&self) -> usize {
        self.lock().by_name.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Names> {
        self.inner.locked()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_die_with_their_process() {
        let r = Registry::default();
        r.register("db", 7).unwrap();
        r.register("cache", 7).unwrap();
        assert_eq!(
            r.register("db", 8),
            Err(RegisterError::Taken("db".into(), 7))
        );
        assert_eq!(r.register("", 8), Err(RegisterError::BadName));
        assert_eq!(r.whereis("db"), Some(7));
        assert_eq!(r.unregister("cache"), Some(7));
        r.remove_pid(7);
        assert_eq!(r.whereis("db"), None);
        assert!(r.is_empty());
        r.register("db", 8).unwrap();
        let small = Registry::with_limit(1);
        small.register("a", 1).unwrap();
        assert!(matches!(
            small.register("b", 1),
            Err(RegisterError::Quota(_))
        ));
    }
}
