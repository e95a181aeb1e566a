//! The error codes host calls return (docs/abi.md, "Conventions").

/// An error a host call reports with a negative result. Calls returning `i64` return the
/// code widened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ErrorCode {
    /// A receive ended at its timeout with no matching message.
    Timeout = -1,
    /// The pid names no live process.
    NoProcess = -2,
    /// An argument is invalid (as described for the call).
    BadArgument = -3,
    /// The runtime's process limit is reached.
    ProcessLimit = -4,
    /// The process could not be created for another reason (logged by the host).
    SpawnFailed = -5,
    /// The name is registered to another process.
    NameTaken = -6,
    /// No such timer is pending for the caller.
    NoTimer = -7,
    /// The handle is not open in the calling process.
    BadHandle = -8,
    /// The handle is of another kind than the call takes.
    WrongHandle = -9,
    /// Not allowed: outside the granted directories or the network allow-list, or the OS said
    /// permission denied.
    Denied = -10,
    /// Another I/O error; `warren:resource.last_error` has the text.
    Io = -11,
    /// No such file, directory or host.
    NotFound = -12,
    /// The file or directory already exists.
    Exists = -13,
    /// The peer refused the connection.
    ConnectionRefused = -14,
    /// The connection was reset or aborted, or the pipe's other end is gone.
    ConnectionReset = -15,
    /// The socket is not connected.
    NotConnected = -16,
    /// The address is in use.
    AddrInUse = -17,
    /// The address is not available on this host.
    AddrNotAvailable = -18,
    /// The operation would have to wait (a `try_` call).
    WouldBlock = -19,
    /// The stream or pipe is closed (or a future's work was cancelled).
    Closed = -20,
    /// The future is not resolved yet (`future_poll`).
    Pending = -21,
    /// A directory where a file was expected.
    IsDirectory = -22,
    /// A file where a directory was expected.
    NotDirectory = -23,
    /// The directory is not empty.
    NotEmpty = -24,
    /// The process holds as many handles as it may.
    TooManyHandles = -25,
    /// A per-process or per-runtime limit is reached (names, timers, host copies).
    Limit = -26,
    /// A handle cannot leave its node: the message or captures carry one to a process on
    /// another node (nothing was sent; the handles stay with the caller).
    NotLocal = -27,
    /// The node is not connected: not in the cluster, down, or this runtime is not in a
    /// cluster.
    NoConnection = -28,
    /// The receiver's mailbox is full by its bound, whose policy is to fail the send:
    /// nothing was sent, and the attached handles stay with the caller.
    Full = -29,
}

impl ErrorCode {
    /// Every code, in order.
    pub const ALL: [ErrorCode; 29] = [
        ErrorCode::Timeout,
        ErrorCode::NoProcess,
        ErrorCode::BadArgument,
        ErrorCode::ProcessLimit,
        ErrorCode::SpawnFailed,
        ErrorCode::NameTaken,
        ErrorCode::NoTimer,
        ErrorCode::BadHandle,
        ErrorCode::WrongHandle,
        ErrorCode::Denied,
        ErrorCode::Io,
        ErrorCode::NotFound,
        ErrorCode::Exists,
        ErrorCode::ConnectionRefused,
        ErrorCode::ConnectionReset,
        ErrorCode::NotConnected,
        ErrorCode::AddrInUse,
        ErrorCode::AddrNotAvailable,
        ErrorCode::WouldBlock,
        ErrorCode::Closed,
        ErrorCode::Pending,
        ErrorCode::IsDirectory,
        ErrorCode::NotDirectory,
        ErrorCode::NotEmpty,
        ErrorCode::TooManyHandles,
        ErrorCode::Limit,
        ErrorCode::NotLocal,
        ErrorCode::NoConnection,
        ErrorCode::Full,
    ];

    /// The code's value.
    pub const fn code(self) -> i32 {
        self as i32
    }

    /// The code a call returned, if it is one (any negative `i32` or widened `i64`).
    pub fn from_code(code: i64) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.code() as i64 == code)
    }

    /// Its name in docs/abi.md, e.g. `ERR_TIMEOUT`.
    pub const fn name(self) -> &'static str {
        match self {
            ErrorCode::Timeout => "ERR_TIMEOUT",
            ErrorCode::NoProcess => "ERR_NO_PROCESS",
            ErrorCode::BadArgument => "ERR_BAD_ARGUMENT",
            ErrorCode::ProcessLimit => "ERR_PROCESS_LIMIT",
            ErrorCode::SpawnFailed => "ERR_SPAWN_FAILED",
            ErrorCode::NameTaken => "ERR_NAME_TAKEN",
            ErrorCode::NoTimer => "ERR_NO_TIMER",
            ErrorCode::BadHandle => "ERR_BAD_HANDLE",
            ErrorCode::WrongHandle => "ERR_WRONG_HANDLE",
            ErrorCode::Denied => "ERR_DENIED",
            ErrorCode::Io => "ERR_IO",
            ErrorCode::NotFound => "ERR_NOT_FOUND",
            ErrorCode::Exists => "ERR_EXISTS",
            ErrorCode::ConnectionRefused => "ERR_CONNECTION_REFUSED",
            ErrorCode::ConnectionReset => "ERR_CONNECTION_RESET",
            ErrorCode::NotConnected => "ERR_NOT_CONNECTED",
            ErrorCode::AddrInUse => "ERR_ADDR_IN_USE",
            ErrorCode::AddrNotAvailable => "ERR_ADDR_NOT_AVAILABLE",
            ErrorCode::WouldBlock => "ERR_WOULD_BLOCK",
            ErrorCode::Closed => "ERR_CLOSED",
            ErrorCode::Pending => "ERR_PENDING",
            ErrorCode::IsDirectory => "ERR_IS_DIRECTORY",
            ErrorCode::NotDirectory => "ERR_NOT_DIRECTORY",
            ErrorCode::NotEmpty => "ERR_NOT_EMPTY",
            ErrorCode::TooManyHandles => "ERR_TOO_MANY_HANDLES",
            ErrorCode::Limit => "ERR_LIMIT",
            ErrorCode::NotLocal => "ERR_NOT_LOCAL",
            ErrorCode::NoConnection => "ERR_NO_CONNECTION",
            ErrorCode::Full => "ERR_FULL",
        }
    }
}

// The codes as plain constants, for `match` on a call's result.
pub const ERR_TIMEOUT: i32 = ErrorCode::Timeout.code();
pub const ERR_NO_PROCESS: i32 = ErrorCode::NoProcess.code();
pub const ERR_BAD_ARGUMENT: i32 = ErrorCode::BadArgument.code();
pub const ERR_PROCESS_LIMIT: i32 = ErrorCode::ProcessLimit.code();
pub const ERR_SPAWN_FAILED: i32 = ErrorCode::SpawnFailed.code();
pub const ERR_NAME_TAKEN: i32 = ErrorCode::NameTaken.code();
pub const ERR_NO_TIMER: i32 = ErrorCode::NoTimer.code();
pub const ERR_BAD_HANDLE: i32 = ErrorCode::BadHandle.code();
pub const ERR_WRONG_HANDLE: i32 = ErrorCode::WrongHandle.code();
pub const ERR_DENIED: i32 = ErrorCode::Denied.code();
pub const ERR_IO: i32 = ErrorCode::Io.code();
pub const ERR_NOT_FOUND: i32 = ErrorCode::NotFound.code();
pub const ERR_EXISTS: i32 = ErrorCode::Exists.code();
pub const ERR_CONNECTION_REFUSED: i32 = ErrorCode::ConnectionRefused.code();
pub const ERR_CONNECTION_RESET: i32 = ErrorCode::ConnectionReset.code();
pub const ERR_NOT_CONNECTED: i32 = ErrorCode::NotConnected.code();
pub const ERR_ADDR_IN_USE: i32 = ErrorCode::AddrInUse.code();
pub const ERR_ADDR_NOT_AVAILABLE: i32 = ErrorCode::AddrNotAvailable.code();
pub const ERR_WOULD_BLOCK: i32 = ErrorCode::WouldBlock.code();
pub const ERR_CLOSED: i32 = ErrorCode::Closed.code();
pub const ERR_PENDING: i32 = ErrorCode::Pending.code();
pub const ERR_IS_DIRECTORY: i32 = ErrorCode::IsDirectory.code();
pub const ERR_NOT_DIRECTORY: i32 = ErrorCode::NotDirectory.code();
pub const ERR_NOT_EMPTY: i32 = ErrorCode::NotEmpty.code();
pub const ERR_TOO_MANY_HANDLES: i32 = ErrorCode::TooManyHandles.code();
pub const ERR_LIMIT: i32 = ErrorCode::Limit.code();
pub const ERR_NOT_LOCAL: i32 = ErrorCode::NotLocal.code();
pub const ERR_NO_CONNECTION: i32 = ErrorCode::NoConnection.code();
pub const ERR_FULL: i32 = ErrorCode::Full.code();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_consecutive_and_round_trip() {
        for (i, c) in ErrorCode::ALL.into_iter().enumerate() {
            assert_eq!(c.code(), -(i as i32) - 1, "{}", c.name());
            assert_eq!(ErrorCode::from_code(c.code() as i64), Some(c));
        }
        assert_eq!(ErrorCode::from_code(0), None);
        assert_eq!(ErrorCode::from_code(-30), None);
    }
}
