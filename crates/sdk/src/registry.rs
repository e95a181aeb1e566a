//! Named processes. A name refers to one live process; it is freed when that process ends.

use crate::abi;
use crate::process::{Pid, Process};
use serde::Serialize;
use std::fmt;

/// Why a name could not be registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterError {
    /// Another live process holds the name.
    Taken,
    /// The process is not alive.
    NoProcess,
    /// The name is empty or longer than 256 bytes.
    BadName,
    /// The process has as many names as the runtime's quota allows.
    TooMany,
    /// A global name: the runtime is in no cluster, or the cluster's store did not answer.
    NoConnection,
}

impl fmt::Display for RegisterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegisterError::Taken => write!(f, "the name is registered to another process"),
            RegisterError::NoProcess => write!(f, "the process is not alive"),
            RegisterError::BadName => write!(f, "names are 1 to 256 bytes"),
            RegisterError::TooMany => write!(f, "the process has as many names as it may"),
            RegisterError::NoConnection => write!(f, "the cluster's name store is unreachable"),
        }
    }
}

impl std::error::Error for RegisterError {}

impl<M: Serialize> Process<M> {
    /// Register this process under `name`, until it ends or the name is unregistered.
    pub fn register(&self, name: &str) -> Result<(), RegisterError> {
        // SAFETY: pointer and length of `name`, read during the call only.
        match unsafe { abi::register(name.as_ptr(), name.len() as u32, self.pid() as i64) } {
            0 => Ok(()),
            abi::ERR_NAME_TAKEN => Err(RegisterError::Taken),
            abi::ERR_NO_PROCESS => Err(RegisterError::NoProcess),
            abi::ERR_LIMIT => Err(RegisterError::TooMany),
            _ => Err(RegisterError::BadName),
        }
    }
}

/// The process registered under `name`, seen as taking messages of type `M` (the type is the
/// caller's claim: a message of the wrong type fails to decode in the receiver).
pub fn whereis<M: Serialize>(name: &str) -> Option<Process<M>> {
    // SAFETY: pointer and length of `name`, read during the call only.
    let pid = unsafe { abi::whereis(name.as_ptr(), name.len() as u32) };
    (pid >= 0).then(|| Process::from_pid(pid as Pid))
}

/// Remove a name. Returns false if it was not registered.
pub fn unregister(name: &str) -> bool {
    // SAFETY: pointer and length of `name`, read during the call only.
    unsafe { abi::unregister(name.as_ptr(), name.len() as u32) == 0 }
}
