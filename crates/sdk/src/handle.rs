//! Handles: a process's capabilities to host objects, and how they move in messages.
//!
//! A [`Handle`] owns one entry of the process's handle table; dropping it drops the entry
//! (the object lives on while anything else refers to it). Serializing a handle inside a
//! message *moves* it: the SDK collects the handles a message contains and, right before
//! the send (or spawn), asks the host to take them out of the sender's table; the receiver
//! claims them while decoding. The sender's own value is left holding a dead handle, so
//! using it afterwards fails with "not open in this process". A handle can only be
//! serialized inside a message or spawn captures: anywhere else serialization fails.

use crate::abi;
use serde::de::{self, Deserialize, Deserializer};
use serde::ser::{self, Serialize, Serializer};
use std::cell::{Cell, RefCell};
use std::io;

thread_local! {
    /// The handles of the message being encoded, in order of appearance.
    static OUTGOING: RefCell<Option<Vec<u32>>> = const { RefCell::new(None) };
    /// Whether a received message (whose handles can be claimed) is being decoded.
    static INCOMING: Cell<bool> = const { Cell::new(false) };
}

/// One entry of the calling process's handle table: an owned capability to a host object.
///
/// The SDK's socket, file and stream types wrap one. It is public so that a guest crate for
/// an embedder's own host module can wrap its own resources the same way, and have them move
/// in messages like warren's:
///
/// ```no_run
/// use serde::{Deserialize, Serialize};
///
/// #[link(wasm_import_module = "embed:counter")]
/// unsafe extern "C" {
///     fn open(name: *const u8, len: u32) -> i64;
/// }
///
/// #[derive(Serialize, Deserialize)]
/// #[serde(transparent)]
/// pub struct Counter {
///     handle: warren::Handle,
/// }
///
/// impl Counter {
///     pub fn open(name: &str) -> std::io::Result<Counter> {
///         // SAFETY: pointer and length of `name`, read during the call.
///         let r = unsafe { open(name.as_ptr(), name.len() as u32) };
///         Ok(Counter { handle: warren::Handle::from_result(r)? })
///     }
/// }
/// ```
///
/// Dropping it drops the handle (`warren:resource.drop`). Serializing it is only possible
/// inside a message or spawn captures, and moves it.
#[derive(Debug, PartialEq, Eq)]
pub struct Handle(u32);

impl Handle {
    /// Take ownership of a handle number a host call returned.
    pub fn from_raw(raw: u32) -> Self {
        Handle(raw)
    }

    /// A handle from a host call's result, or — for a negative result — the error it
    /// reported (with the host's text from `warren:resource.last_error`).
    pub fn from_result(r: i64) -> io::Result<Self> {
        if r < 0 {
            Err(error(r))
        } else {
            Ok(Handle(r as u32))
        }
    }

    /// The handle number, to pass to host calls.
    pub fn raw(&self) -> u32 {
        self.0
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: plain integer argument. A handle that was sent away is no longer in the
        // table (handles are never reused), and the host says so harmlessly.
        unsafe { abi::drop_handle(self.0) };
    }
}

impl Serialize for Handle {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let index = OUTGOING.with(|o| {
            o.borrow_mut().as_mut().map(|list| {
                list.push(self.0);
                list.len() as u32 - 1
            })
        });
        match index {
            Some(i) => s.serialize_u32(i),
            None => Err(ser::Error::custom(
                "a warren handle can only be serialized inside a message or spawn captures",
            )),
        }
    }
}

impl<'de> Deserialize<'de> for Handle {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let index = u32::deserialize(d)?;
        if !INCOMING.with(Cell::get) {
            return Err(de::Error::custom(
                "a warren handle can only be deserialized from a received message",
            ));
        }
        // SAFETY: plain integer argument.
        let r = unsafe { abi::claim(index) };
        Handle::from_result(r).map_err(|e| {
            de::Error::custom(format!(
                "cannot claim resource #{index} of the message: {e}"
            ))
        })
    }
}

/// Encode `value` as a message and move the handles it contains into it (the host takes
/// them from this process's table for the very next send or spawn).
pub(crate) fn encode_message<T: Serialize + ?Sized>(value: &T) -> io::Result<Vec<u8>> {
    encode_message_with_handles(value).map(|(bytes, _)| bytes)
}

/// [`encode_message`], also returning the handles it attached, in order (the order the
/// receiver claims them in).
pub(crate) fn encode_message_with_handles<T: Serialize + ?Sized>(
    value: &T,
) -> io::Result<(Vec<u8>, Vec<u32>)> {
    let previous = OUTGOING.with(|o| o.borrow_mut().replace(Vec::new()));
    let encoded = postcard::to_stdvec(value);
    let handles = OUTGOING
        .with(|o| std::mem::replace(&mut *o.borrow_mut(), previous))
        .unwrap_or_default();
    let bytes = encoded.map_err(|e| encode_error::<T>(&e))?;
    attach(&handles)?;
    Ok((bytes, handles))
}

/// Messages that encode to at most this many bytes are encoded into a buffer on the shadow
/// stack, whose top page every call touches anyway, instead of a fresh vector on the heap:
/// a small send allocates nothing.
const SMALL_MESSAGE: usize = 256;

/// Encode `value` as a message, attach the handles it contains, and give its bytes to `f`
/// (the send): [`encode_message`] without a heap allocation for a message of up to
/// [`SMALL_MESSAGE`] bytes.
pub(crate) fn with_encoded_message<T: Serialize + ?Sized, R>(
    value: &T,
    f: impl FnOnce(&[u8]) -> R,
) -> io::Result<R> {
    let mut small = [0u8; SMALL_MESSAGE];
    let mut large = None;
    let previous = OUTGOING.with(|o| o.borrow_mut().replace(Vec::new()));
    let mut encoded = postcard::to_slice(value, &mut small).map(|bytes| bytes.len());
    if matches!(encoded, Err(postcard::Error::SerializeBufferFull)) {
        // Larger: again, into a vector, forgetting the handles the first try listed.
        OUTGOING.with(|o| *o.borrow_mut() = Some(Vec::new()));
        encoded = postcard::to_stdvec(value).map(|bytes| {
            let len = bytes.len();
            large = Some(bytes);
            len
        });
    }
    let handles = OUTGOING
        .with(|o| std::mem::replace(&mut *o.borrow_mut(), previous))
        .unwrap_or_default();
    let len = encoded.map_err(|e| encode_error::<T>(&e))?;
    attach(&handles)?;
    Ok(f(match &large {
        Some(bytes) => bytes,
        None => &small[..len],
    }))
}

fn encode_error<T: ?Sized>(e: &postcard::Error) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("cannot serialize a `{}`: {e}", std::any::type_name::<T>()),
    )
}

/// Move `handles` out of this process's table into the next message it sends.
fn attach(handles: &[u32]) -> io::Result<()> {
    if !handles.is_empty() {
        // SAFETY: pointer and length of `handles`, read during the call.
        let rc = unsafe { abi::attach(handles.as_ptr(), handles.len() as u32) };
        if rc < 0 {
            return Err(error(rc as i64));
        }
    }
    Ok(())
}

/// Decode a received message (or spawn captures), claiming the handles it carries. The
/// bytes must be exactly one `T`: postcard would accept a longer message of another type
/// whose first bytes happen to decode (a `u8` from the front of a struct), so bytes left
/// over are an error too.
pub(crate) fn decode_message<T: de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let previous = INCOMING.with(|i| i.replace(true));
    let r = postcard::take_from_bytes(bytes);
    INCOMING.with(|i| i.set(previous));
    match r {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(format!(
            "{} bytes are left over after one value of the type: the message is of another type",
            rest.len()
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// The error a host call reported with `code` (a negative result), with the host's text for
/// it. For guest crates of embedders' host modules that report errors warren's way.
pub fn error(code: i64) -> io::Error {
    let kind = match code as i32 {
        abi::ERR_TIMEOUT => io::ErrorKind::TimedOut,
        abi::ERR_BAD_ARGUMENT => io::ErrorKind::InvalidInput,
        abi::ERR_BAD_HANDLE | abi::ERR_WRONG_HANDLE => io::ErrorKind::InvalidInput,
        abi::ERR_DENIED => io::ErrorKind::PermissionDenied,
        abi::ERR_NOT_FOUND => io::ErrorKind::NotFound,
        abi::ERR_EXISTS => io::ErrorKind::AlreadyExists,
        abi::ERR_CONNECTION_REFUSED => io::ErrorKind::ConnectionRefused,
        abi::ERR_CONNECTION_RESET => io::ErrorKind::ConnectionReset,
        abi::ERR_NOT_CONNECTED | abi::ERR_NO_CONNECTION => io::ErrorKind::NotConnected,
        abi::ERR_ADDR_IN_USE => io::ErrorKind::AddrInUse,
        abi::ERR_ADDR_NOT_AVAILABLE => io::ErrorKind::AddrNotAvailable,
        abi::ERR_WOULD_BLOCK | abi::ERR_FULL => io::ErrorKind::WouldBlock,
        abi::ERR_NO_PROCESS => io::ErrorKind::NotFound,
        abi::ERR_CLOSED => io::ErrorKind::BrokenPipe,
        abi::ERR_IS_DIRECTORY => io::ErrorKind::IsADirectory,
        abi::ERR_NOT_DIRECTORY => io::ErrorKind::NotADirectory,
        abi::ERR_NOT_EMPTY => io::ErrorKind::DirectoryNotEmpty,
        abi::ERR_TOO_MANY_HANDLES | abi::ERR_LIMIT => io::ErrorKind::QuotaExceeded,
        abi::ERR_IO => io::ErrorKind::Other,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, last_error())
}

/// The host's text for the last failed I/O call.
fn last_error() -> String {
    let mut buf = vec![0u8; 256];
    loop {
        // SAFETY: `buf` is a live buffer of its length, written during the call only.
        let n = unsafe { abi::last_error(buf.as_mut_ptr(), buf.len() as u32) } as usize;
        if n <= buf.len() {
            buf.truncate(n);
            return String::from_utf8_lossy(&buf).into_owned();
        }
        buf.resize(n, 0);
    }
}

/// A non-negative count from a host call, or its error.
pub(crate) fn check(r: i64) -> io::Result<u64> {
    if r < 0 { Err(error(r)) } else { Ok(r as u64) }
}

/// Read bytes the host writes into a buffer (retrying with the size it asks for).
pub(crate) fn bytes(call: impl FnMut(*mut u8, u32) -> i64) -> io::Result<Vec<u8>> {
    bytes_sized(64, call)
}

/// [`bytes`], starting with a buffer of `first` bytes (what usually fits: one call).
pub(crate) fn bytes_sized(
    first: usize,
    mut call: impl FnMut(*mut u8, u32) -> i64,
) -> io::Result<Vec<u8>> {
    // Not zeroed first: the host writes the whole text when it fits.
    let mut buf = Vec::<u8>::with_capacity(first);
    loop {
        let cap = buf.capacity();
        let n = check(call(buf.as_mut_ptr(), cap as u32))? as usize;
        if n <= cap {
            // SAFETY: the call wrote its `n` bytes at the start of the buffer's capacity
            // (a text that fits is written whole).
            unsafe { buf.set_len(n) };
            return Ok(buf);
        }
        buf.reserve_exact(n);
    }
}

/// Read text the host writes into a buffer.
pub(crate) fn text(call: impl FnMut(*mut u8, u32) -> i64) -> io::Result<String> {
    text_sized(64, call)
}

/// [`text`], starting with a buffer of `first` bytes.
pub(crate) fn text_sized(
    first: usize,
    call: impl FnMut(*mut u8, u32) -> i64,
) -> io::Result<String> {
    String::from_utf8(bytes_sized(first, call)?).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "the host sent text that is not UTF-8",
        )
    })
}

mod sealed {
    pub trait Sealed {}
}

/// A value that holds a handle: sockets, files, streams, futures. Lets generic calls
/// ([`crate::stream::copy`], [`crate::select`]) take any of them. Implemented by the SDK's
/// types only.
pub trait Resource: sealed::Sealed {
    #[doc(hidden)]
    fn raw_handle(&self) -> u32;
}

/// Something [`crate::stream::copy`] can read from: a [`crate::stream::ByteStream`] (which
/// moves into the copy), or a borrowed socket or file (which stays usable).
pub trait Readable: Resource {}

/// Something [`crate::stream::copy`] can write to: a socket, a file (at its cursor) or a
/// pipe's [`crate::stream::StreamWriter`].
pub trait Writable: Resource {}

/// Implement the handle traits for an SDK type with a `handle: Handle` field.
macro_rules! resource_type {
    ($t:ty $(, $extra:ident)*) => {
        impl crate::handle::sealed_impl::Sealed for $t {}
        impl crate::handle::Resource for $t {
            fn raw_handle(&self) -> u32 {
                self.handle.raw()
            }
        }
        $(impl crate::handle::$extra for $t {})*
        impl<'a> crate::handle::sealed_impl::Sealed for &'a $t {}
        impl<'a> crate::handle::Resource for &'a $t {
            fn raw_handle(&self) -> u32 {
                self.handle.raw()
            }
        }
        $(impl<'a> crate::handle::$extra for &'a $t {})*
    };
}
pub(crate) use resource_type;

pub(crate) mod sealed_impl {
    pub use super::sealed::Sealed;
}
