//! Safe wrappers over the raw message imports: send bytes, receive bytes by tag.

use crate::abi;
use std::cell::RefCell;
use std::time::Duration;

thread_local! {
    /// Reused receive buffer for messages over [`STACK_BUFFER`] (taken from the host after
    /// `receive` said their length).
    static BUFFER: RefCell<Vec<u8>> = RefCell::new(vec![0; 1024]);
}

/// Make the receive buffer now (module pre-initialisation: see `entry::warren_preinit`).
pub(crate) fn make_buffer() {
    BUFFER.with(|b| drop(b.borrow()));
}

pub(crate) fn send(pid: u64, tag: u64, bytes: &[u8]) -> bool {
    match send_code(pid, tag, bytes) {
        0 => true,
        abi::ERR_NOT_LOCAL => panic!(
            "warren: cannot send: {}",
            crate::handle::error(abi::ERR_NOT_LOCAL as i64)
        ),
        _ => false,
    }
}

/// `send`'s result code (0, ERR_NO_PROCESS, ERR_NOT_LOCAL, ERR_FULL...). While the queue to
/// the receiver's node is over its send mark, or the receiver's bounded mailbox is full and
/// its policy is to block, this waits for room, as Erlang suspends a sender on a busy
/// distribution port.
pub(crate) fn send_code(pid: u64, tag: u64, bytes: &[u8]) -> i32 {
    send_code_until(pid, tag, bytes, None)
}

/// [`send_code`], waiting for room until `deadline` at most: then `ERR_TIMEOUT`, nothing sent.
pub(crate) fn send_code_until(
    pid: u64,
    tag: u64,
    bytes: &[u8],
    deadline: Option<std::time::Instant>,
) -> i32 {
    loop {
        // SAFETY: the pointer and length describe `bytes`, which lives across the call; the
        // host only reads it during the call.
        let code = unsafe { abi::send(pid as i64, tag as i64, bytes.as_ptr(), bytes.len() as u32) };
        if code != abi::ERR_WOULD_BLOCK {
            return code;
        }
        let timeout = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
        // SAFETY: plain values.
        let waited =
            unsafe { abi::await_room(pid as i64, bytes.len() as u32, timeout_ms(timeout)) };
        if waited == abi::ERR_TIMEOUT {
            return abi::ERR_TIMEOUT;
        }
    }
}

pub(crate) fn new_tag() -> u64 {
    // SAFETY: no arguments.
    unsafe { abi::new_tag() as u64 }
}

/// A timeout in whole milliseconds for the host, rounded up (a wait is never shorter than
/// asked); -1 for none.
fn timeout_ms(timeout: Option<Duration>) -> i64 {
    match timeout {
        None => -1,
        Some(d) => i64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(i64::MAX),
    }
}

/// Wait for the first message with `tag` and hand its bytes to `f`. `None` on timeout.
pub(crate) fn receive<R>(
    tag: u64,
    timeout: Option<Duration>,
    f: impl FnOnce(&[u8]) -> R,
) -> Option<R> {
    receive_filtered(tag as i64, timeout, |_, bytes| f(bytes))
}

/// Wait for the first ordinary message or exit signal; `f` gets its tag and bytes.
pub(crate) fn receive_with_exits<R>(
    timeout: Option<Duration>,
    f: impl FnOnce(u64, &[u8]) -> R,
) -> Option<R> {
    receive_filtered(abi::RECEIVE_MESSAGES_AND_EXITS, timeout, f)
}

/// Messages up to this size are received into a buffer on the shadow stack, whose top page
/// every call touches anyway: a small message then touches none of the process's other
/// pages (the heap, the statics). A hop to a process that has not run for a while pays a TLB
/// and cache miss for every page it touches (docs/benchmarks.md). Larger messages wait in
/// the host and are taken into the reused heap buffer.
const STACK_BUFFER: usize = 512;

/// Receive with `filter`, waiting up to `timeout` (`None`: forever; zero: not at all).
fn receive_filtered<R>(
    filter: i64,
    timeout: Option<Duration>,
    f: impl FnOnce(u64, &[u8]) -> R,
) -> Option<R> {
    let mut small = std::mem::MaybeUninit::<[u8; STACK_BUFFER]>::uninit();
    let ptr = small.as_mut_ptr().cast::<u8>();
    let mut tag = 0u64;
    // A message already queued is taken with a plain call; only an empty mailbox pays for
    // the call that waits (docs/benchmarks.md, "Host-call fast paths"), and a zero timeout
    // never does: a poll returns at once.
    // SAFETY: `small` is a live buffer of STACK_BUFFER bytes and `tag` a live u64; the host
    // writes at most that many bytes and 8 bytes into them, during the call only.
    let mut n = unsafe { abi::try_receive(filter, ptr, STACK_BUFFER as u32, &mut tag) };
    if n == abi::ERR_TIMEOUT as i64 && timeout != Some(Duration::ZERO) {
        // SAFETY: as above.
        n = unsafe {
            abi::receive(
                filter,
                ptr,
                STACK_BUFFER as u32,
                timeout_ms(timeout),
                &mut tag,
            )
        };
    }
    if n == abi::ERR_TIMEOUT as i64 {
        return None;
    }
    assert!(n >= 0, "warren: receive failed with host error {n}");
    let n = n as usize;
    if n <= STACK_BUFFER {
        // SAFETY: the host wrote the message's `n` bytes at `ptr` (wasm memory the call was
        // given), so they are initialised; `small` outlives the slice.
        let bytes = unsafe { std::slice::from_raw_parts(ptr, n) };
        return Some(f(tag, bytes));
    }
    // Larger: the message waits in the host until taken.
    BUFFER.with(|cell| {
        let mut buf = cell.borrow_mut();
        if buf.len() < n {
            buf.resize(n, 0);
        }
        // SAFETY: `buf` holds at least `n` bytes, the pending message's length; the host writes
        // them during the call only.
        let rc = unsafe { abi::take(buf.as_mut_ptr(), n as u32) };
        assert_eq!(rc, 0, "warren: take of a pending {n}-byte message failed");
        let r = f(tag, &buf[..n]);
        if buf.len() > 64 * 1024 {
            // Do not keep a huge buffer around after a one-off large message.
            buf.truncate(1024);
            buf.shrink_to_fit();
        }
        Some(r)
    })
}
