//! The raw imports of `docs/abi.md`. Private: safe code reaches them only through the SDK,
//! which is what keeps arbitrary integers from ever being called as functions.

// Codes, flags, kinds and tags come from `warren-abi`, the crate the host uses too.
pub use warren_abi::{
    ERR_ADDR_IN_USE, ERR_ADDR_NOT_AVAILABLE, ERR_BAD_ARGUMENT, ERR_BAD_HANDLE, ERR_CLOSED,
    ERR_CONNECTION_REFUSED, ERR_CONNECTION_RESET, ERR_DENIED, ERR_EXISTS, ERR_FULL, ERR_IO,
    ERR_IS_DIRECTORY, ERR_LIMIT, ERR_NAME_TAKEN, ERR_NO_CONNECTION, ERR_NO_PROCESS,
    ERR_NOT_CONNECTED, ERR_NOT_DIRECTORY, ERR_NOT_EMPTY, ERR_NOT_FOUND, ERR_NOT_LOCAL, ERR_PENDING,
    ERR_PROCESS_LIMIT, ERR_TIMEOUT, ERR_TOO_MANY_HANDLES, ERR_WOULD_BLOCK, ERR_WRONG_HANDLE,
    EXIT_TAG, HTTP_BODY_BYTES, HTTP_BODY_STREAM, HTTP_BODY_WRITER, HTTP_PER_CONNECTION,
    HTTP_PER_REQUEST, HTTP_TLS, RECEIVE_MESSAGES_AND_EXITS, SPAWN_LINK, WHEN_FULL_BLOCK,
    WHEN_FULL_DROP_NEWEST, WHEN_FULL_DROP_OLDEST, WHEN_FULL_END, WHEN_FULL_FAIL, WS_BINARY,
    WS_CLOSE, WS_TEXT,
};

// The imports themselves, one per host function, made from `warren_abi::calls::CALLS`.
mod imports;
pub use imports::*;
