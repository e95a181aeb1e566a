//! I/O errors as the guest sees them: a negative code (`docs/abi.md`) plus a message.

use std::io;
use warren_abi::*;

/// How an I/O operation failed, for a guest: the ABI error code and a message with context.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct IoFailure {
    /// The ABI error code.
    pub code: i32,
    /// What was being done and why it failed.
    pub message: String,
}

impl IoFailure {
    /// A failure with `code`.
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        IoFailure {
            code,
            message: message.into(),
        }
    }

    /// From an OS error, with what was being done.
    pub fn io(context: impl std::fmt::Display, e: &io::Error) -> Self {
        IoFailure::new(code_of(e), format!("{context}: {e}"))
    }
}

/// The ABI code for an OS error.
pub(crate) fn code_of(e: &io::Error) -> i32 {
    use io::ErrorKind::*;
    match e.kind() {
        NotFound => ERR_NOT_FOUND,
        PermissionDenied => ERR_DENIED,
        AlreadyExists => ERR_EXISTS,
        ConnectionRefused => ERR_CONNECTION_REFUSED,
        ConnectionReset | ConnectionAborted | BrokenPipe => ERR_CONNECTION_RESET,
        NotConnected => ERR_NOT_CONNECTED,
        AddrInUse => ERR_ADDR_IN_USE,
        AddrNotAvailable => ERR_ADDR_NOT_AVAILABLE,
        WouldBlock => ERR_WOULD_BLOCK,
        InvalidInput | InvalidData => ERR_BAD_ARGUMENT,
        TimedOut => ERR_TIMEOUT,
        UnexpectedEof => ERR_CLOSED,
        IsADirectory => ERR_IS_DIRECTORY,
        NotADirectory => ERR_NOT_DIRECTORY,
        DirectoryNotEmpty => ERR_NOT_EMPTY,
        _ => ERR_IO,
    }
}
