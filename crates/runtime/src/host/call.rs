//! The one way a host call is written.
//!
//! # The model
//!
//! A host call is a named function of its module — a method on the module's view, or an
//! `async fn` taking the caller if it waits — that returns [`HostResult<R>`]:
//!
//! - `Ok(value)`: the guest gets `value`.
//! - `Err(HostError::Fail { code, message })`: the guest gets the negative `code`
//!   (`docs/abi.md`, "Conventions"), and `warren:resource.last_error` then tells
//!   `"<call>: <message>"`.
//! - `Err(HostError::Fault(problem))`: the process traps with `"<call>: <problem>"`.
//! - `Err(HostError::End(error))`: the instance ends with `error` (its own `exit` or
//!   hibernation, a kill, a quota it went over), which the runner turns into the exit reason
//!   (or, for a hibernation, into a wait for the next message).
//!
//! # Error code or trap: the rule
//!
//! A call **traps** only for what no correct guest does, whatever the state of the world:
//! a pointer or length outside linear memory, a count over a size the ABI fixes
//! (`MAX_ATTACHED`, `MAX_SELECT`), bytes that do not decode as the ABI's encodings (an exit
//! reason), an unknown `select` entry kind, or calls out of order (a `receive` while a
//! message is still pending for `take`). Continuing would hide a bug in the guest.
//!
//! Everything else is an **error code**: handles (closed, moved, of the wrong kind), pids
//! (not alive, or negative), names, tags, unknown flag bits, negative sizes, text that is not
//! UTF-8 or too long, limits reached, and every failure of the OS. These depend on values a
//! correct program can get wrong, or on the world; the guest decides what to do.
//!
//! # Registering calls
//!
//! [`host_calls!`](crate::host_calls) adds a module's calls to a linker, one line each:
//!
//! ```text
//! host_calls!(linker: T, PROCESS_MODULE, get, {
//!     // link(pid) -> i32: ...
//!     fn link(pid: i64) => |v| v.link(pid);
//!     // spawn_args(ptr, len) -> i32: ...
//!     fn spawn_args(ptr: u32, len: u32) => |v, mem| v.spawn_args(mem, ptr, len);
//!     // read(h, ptr, cap) -> i64: ...
//!     async fn read(h: u32, ptr: u32, cap: u32) => |c| read(c, get, h, ptr, cap);
//! });
//! ```
//!
//! A plain call gets its view `v`; with `mem` it also gets the bounds-checked
//! [`GuestMemory`] (both from one projection of the store, see [`sync_mem`]). A call that
//! waits is an `async fn` of the module taking the caller `c`; it is run through [`waited`]
//! and [`finish`], so a call that really suspended gives the process a fresh time slice
//! (waiting is not computing). Every failure is recorded the same way, whatever the form.

use super::abi::*;
use crate::io::IoFailure;
use crate::resources::HandleError;
use std::future::Future;
use std::ops::Range;
use std::task::Poll;
use wasmtime::{AsContextMut, Caller, Extern, Memory};

/// How a host call failed; see the module docs for which to use.
#[derive(Debug)]
pub enum HostError {
    /// The guest gets `code`; `message` is kept for `warren:resource.last_error`.
    Fail {
        /// The (negative) ABI error code.
        code: i32,
        /// What failed, for `last_error`.
        message: String,
    },
    /// The process traps: it passed something no correct guest passes.
    Fault(String),
    /// The process ends with this error (exit, kill, a quota).
    End(wasmtime::Error),
}

/// What every host call returns.
pub type HostResult<T> = Result<T, HostError>;

impl HostError {
    /// A failure the guest is told about with `code`.
    pub fn fail(code: i32, message: impl Into<String>) -> Self {
        HostError::Fail {
            code,
            message: message.into(),
        }
    }

    /// `ERR_BAD_ARGUMENT` with what was wrong.
    pub fn bad_argument(message: impl Into<String>) -> Self {
        HostError::fail(ERR_BAD_ARGUMENT, message)
    }

    /// A trap: the guest broke the ABI.
    pub fn fault(problem: impl Into<String>) -> Self {
        HostError::Fault(problem.into())
    }

    /// An OS error, with what was being done.
    pub fn io(context: impl std::fmt::Display, e: &std::io::Error) -> Self {
        IoFailure::io(context, e).into()
    }
}

impl From<IoFailure> for HostError {
    fn from(f: IoFailure) -> Self {
        HostError::Fail {
            code: f.code,
            message: f.message,
        }
    }
}

impl From<HandleError> for HostError {
    fn from(e: HandleError) -> Self {
        let code = match e {
            HandleError::WrongKind { .. } => ERR_WRONG_HANDLE,
            HandleError::TooMany => ERR_TOO_MANY_HANDLES,
            HandleError::NoSuchHandle(_)
            | HandleError::Duplicate(_)
            | HandleError::NotInMessage(_) => ERR_BAD_HANDLE,
        };
        HostError::fail(code, e.to_string())
    }
}

impl From<crate::actor::QuotaError> for HostError {
    fn from(e: crate::actor::QuotaError) -> Self {
        HostError::End(wasmtime::Error::new(e))
    }
}

/// Which host call: its import module and function name, shown as `module.function`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallName {
    /// The import module, e.g. `warren:process`.
    pub module: &'static str,
    /// The function, e.g. `spawn`.
    pub name: &'static str,
}

impl CallName {
    /// The call `module.name`.
    pub const fn new(module: &'static str, name: &'static str) -> Self {
        CallName { module, name }
    }
}

impl std::fmt::Display for CallName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.module, self.name)
    }
}

/// A trap raised because a guest passed something no correct guest passes.
#[derive(Debug, thiserror::Error)]
#[error("{call}: {problem}")]
pub struct GuestFault {
    /// The call.
    pub call: CallName,
    /// What was wrong.
    pub problem: String,
}

/// What every call of a process shares: the guest's memory (looked up once) and the text of
/// its last failed call. Every view holds it as `call`.
#[derive(Debug, Default)]
pub struct CallState {
    memory: Option<Memory>,
    last_error: String,
    /// Time slices this process was preempted at since it last waited (see
    /// [`CallState::preempted`]).
    preemptions: u32,
    /// The process ends its time slice at its next epoch check to move to the scheduler's
    /// workers (see [`to_the_pool`]), not because its slice is over.
    moving: bool,
}

impl CallState {
    /// The process was preempted at the end of a time slice; whether it was preempted at the
    /// end of the slice before too, without waiting in between: computing, not just caught
    /// running by a tick.
    pub(crate) fn preempted(&mut self) -> bool {
        self.preemptions = self.preemptions.saturating_add(1);
        self.preemptions >= 2
    }

    /// Whether the slice that just ended was ended by [`to_the_pool`] (then it is not a
    /// preemption).
    pub(crate) fn take_moving(&mut self) -> bool {
        std::mem::take(&mut self.moving)
    }

    /// The guest's memory, resolved when the instance was made (so no call looks it up).
    pub(crate) fn set_memory(&mut self, memory: Memory) {
        self.memory = Some(memory);
    }

    /// The text of the last failed call (`warren:resource.last_error`).
    pub fn last_error(&self) -> &str {
        &self.last_error
    }

    fn record(&mut self, call: CallName, message: &str) {
        use std::fmt::Write;
        self.last_error.clear();
        let _ = write!(self.last_error, "{call}: {message}");
    }
}

/// A value a host call returns to wasm, and how an error code is returned in its place.
pub trait Returned: Sized {
    /// The value standing for error `code`.
    fn from_code(code: i32) -> Self;
}

impl Returned for i32 {
    fn from_code(code: i32) -> Self {
        code
    }
}

impl Returned for i64 {
    fn from_code(code: i32) -> Self {
        code as i64
    }
}

impl Returned for () {
    fn from_code(_: i32) -> Self {}
}

/// Turn a call's result into what wasmtime returns: a value, an error code (recorded for
/// `last_error`), or a trap naming the call.
pub fn outcome<R: Returned>(
    state: &mut CallState,
    call: CallName,
    r: HostResult<R>,
) -> wasmtime::Result<R> {
    match r {
        Ok(v) => Ok(v),
        Err(HostError::Fail { code, message }) => {
            state.record(call, &message);
            Ok(R::from_code(code))
        }
        Err(HostError::Fault(problem)) => Err(wasmtime::Error::new(GuestFault { call, problem })),
        Err(HostError::End(e)) => Err(e),
    }
}

/// Run a call that neither waits nor touches guest memory.
pub fn sync<T: 'static, R: Returned>(
    c: &mut Caller<'_, T>,
    call: CallName,
    state: impl Fn(&mut T) -> &mut CallState,
    body: impl FnOnce(&mut T) -> HostResult<R>,
) -> wasmtime::Result<R> {
    let r = body(c.data_mut());
    to_the_pool(c, &state);
    outcome(state(c.data_mut()), call, r)
}

/// After a call: a process polled on a tokio thread (woken there by I/O or a timer) that
/// has just woken or spawned processes of warren's scheduler ends its time slice at its
/// next epoch check, and goes on on the scheduler's workers, next to them. Had it stayed
/// until it waited, a request/reply with one of them could cross threads both ways for a
/// whole time slice: each time the reply beat its receive (the woken worker often takes the
/// very core the sender runs on), the receive found it queued and never waited.
fn to_the_pool<T>(c: &mut Caller<'_, T>, state: impl Fn(&mut T) -> &mut CallState) {
    if warren_sync::sched::handed_tasks_to_the_pool() {
        state(c.data_mut()).moving = true;
        c.as_context_mut().set_epoch_deadline(0);
    }
}

/// Run a call that reads or writes guest memory but does not wait.
pub fn sync_mem<T: 'static, R: Returned>(
    c: &mut Caller<'_, T>,
    call: CallName,
    state: impl Fn(&mut T) -> &mut CallState,
    body: impl FnOnce(&mut T, &mut GuestMemory<'_>) -> HostResult<R>,
) -> wasmtime::Result<R> {
    let r = match memory(c, &state) {
        Ok(mem) => {
            let (bytes, data) = mem.data_and_store_mut(&mut *c);
            body(data, &mut GuestMemory { bytes })
        }
        Err(e) => Err(e),
    };
    to_the_pool(c, &state);
    outcome(state(c.data_mut()), call, r)
}

pin_project_lite::pin_project! {
    /// A call's future that also tells whether it suspended on the way (it waited). A plain
    /// wrapper, not an `async fn`, so the call's future is stored once, in place (host calls are
    /// hot; an `async fn` would hold the future it was given and a pinned copy).
    pub struct Waited<F> {
        #[pin]
        call: F,
        suspended: bool,
    }
}

/// Run `call` to its end, and tell whether it suspended on the way (it waited).
pub fn waited<F: Future>(call: F) -> Waited<F> {
    Waited {
        call,
        suspended: false,
    }
}

impl<F: Future> Future for Waited<F> {
    type Output = (F::Output, bool);

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.call.poll(cx) {
            Poll::Ready(v) => Poll::Ready((v, *this.suspended)),
            Poll::Pending => {
                *this.suspended = true;
                Poll::Pending
            }
        }
    }
}

/// End a call that may have waited (see [`waited`]): after a wait the process gets a fresh
/// time slice, or its first loop back-edge would yield again; then as [`outcome`].
pub fn finish<T, R: Returned>(
    c: &mut Caller<'_, T>,
    call: CallName,
    state: impl Fn(&mut T) -> &mut CallState,
    (r, waited): (HostResult<R>, bool),
) -> wasmtime::Result<R> {
    if waited {
        c.as_context_mut().set_epoch_deadline(1);
        state(c.data_mut()).preemptions = 0;
    }
    to_the_pool(c, &state);
    outcome(state(c.data_mut()), call, r)
}

/// The calling instance's exported memory, looked up by name once and then kept in the
/// process's [`CallState`]: host calls are hot, export lookups are not free.
pub fn memory<T>(
    c: &mut Caller<'_, T>,
    state: impl Fn(&mut T) -> &mut CallState,
) -> HostResult<Memory> {
    if let Some(m) = state(c.data_mut()).memory {
        return Ok(m);
    }
    match c.get_export("memory") {
        Some(Extern::Memory(m)) => {
            state(c.data_mut()).memory = Some(m);
            Ok(m)
        }
        _ => Err(HostError::fault(
            "the module exports no memory named `memory`",
        )),
    }
}

/// The guest's memory with the store data beside it, for a call that waits and so cannot
/// hold either across an `.await`: take them again after each wait.
pub fn split<'a, T: 'static>(
    c: &'a mut Caller<'_, T>,
    state: impl Fn(&mut T) -> &mut CallState,
) -> HostResult<(GuestMemory<'a>, &'a mut T)> {
    let mem = memory(c, state)?;
    let (bytes, data) = mem.data_and_store_mut(c);
    Ok((GuestMemory { bytes }, data))
}

/// Bounds-checked access to the calling guest's linear memory, for the duration of one call
/// (design rule 1): the process is suspended in the call, so its memory cannot change under
/// us, and nothing keeps a slice past the return. Every failure is a fault (a trap).
pub struct GuestMemory<'m> {
    bytes: &'m mut [u8],
}

impl<'m> GuestMemory<'m> {
    /// Wrap a memory slice (for tests and host modules that already hold one).
    pub fn new(bytes: &'m mut [u8]) -> Self {
        GuestMemory { bytes }
    }

    /// The byte range `[ptr, ptr + len)`, if it lies inside memory.
    pub fn range(&self, ptr: u32, len: u32) -> HostResult<Range<usize>> {
        range(self.bytes.len(), ptr, len)
    }

    /// The `len` bytes at `ptr`.
    pub fn read(&self, ptr: u32, len: u32) -> HostResult<&[u8]> {
        let r = self.range(ptr, len)?;
        Ok(&self.bytes[r])
    }

    /// The `len` bytes at `ptr`, to write into.
    pub fn slice_mut(&mut self, ptr: u32, len: u32) -> HostResult<&mut [u8]> {
        let r = self.range(ptr, len)?;
        Ok(&mut self.bytes[r])
    }

    /// Copy `bytes` to `ptr`, which must have room for all of them.
    pub fn write(&mut self, ptr: u32, bytes: &[u8]) -> HostResult<()> {
        let len = u32::try_from(bytes.len()).map_err(|_| {
            HostError::fault(format!("{} bytes do not fit a wasm32 buffer", bytes.len()))
        })?;
        self.slice_mut(ptr, len)?.copy_from_slice(bytes);
        Ok(())
    }

    /// A u64 (little-endian) at `ptr`.
    pub fn write_u64(&mut self, ptr: u32, v: u64) -> HostResult<()> {
        self.write(ptr, &v.to_le_bytes())
    }

    /// Two u32 (little-endian) at `ptr`: e.g. a stream and its future.
    pub fn write_pair(&mut self, ptr: u32, a: u32, b: u32) -> HostResult<()> {
        let mut out = [0u8; 8];
        out[..4].copy_from_slice(&a.to_le_bytes());
        out[4..].copy_from_slice(&b.to_le_bytes());
        self.write(ptr, &out)
    }

    /// A text argument (a path, an address, a name) of at most `max` bytes: outside memory
    /// traps; not UTF-8 or too long is `ERR_BAD_ARGUMENT`, naming `what`.
    pub fn text(&self, ptr: u32, len: u32, max: u32, what: &str) -> HostResult<&str> {
        let bytes = self.read(ptr, len)?;
        if len > max {
            return Err(HostError::bad_argument(format!(
                "the {what} is {len} bytes (at most {max})"
            )));
        }
        std::str::from_utf8(bytes)
            .map_err(|_| HostError::bad_argument(format!("the {what} is not UTF-8 text")))
    }

    /// Write `text` to `[ptr, ptr + cap)` if it fits; its length either way (a length above
    /// `cap` tells the guest to retry with a larger buffer).
    pub fn write_text(&mut self, ptr: u32, cap: u32, text: &[u8]) -> HostResult<i64> {
        let out = self.slice_mut(ptr, cap)?;
        if let Some(out) = out.get_mut(..text.len()) {
            out.copy_from_slice(text);
        }
        Ok(text.len() as i64)
    }
}

/// Check that `[ptr, ptr + len)` lies inside a memory of `size` bytes; it as a range.
pub fn range(size: usize, ptr: u32, len: u32) -> HostResult<Range<usize>> {
    let start = ptr as usize;
    match start.checked_add(len as usize) {
        Some(end) if end <= size => Ok(start..end),
        _ => Err(HostError::fault(format!(
            "buffer at {ptr:#x} of {len} bytes is outside linear memory ({size} bytes)"
        ))),
    }
}

/// A pid argument: a negative number names no process.
pub fn pid_arg(pid: i64) -> HostResult<crate::actor::Pid> {
    u64::try_from(pid).map_err(|_| HostError::fail(ERR_NO_PROCESS, format!("{pid} is not a pid")))
}

/// The refusal of handles sent towards `to`, a process (or node) elsewhere.
pub(crate) fn not_local(to: crate::actor::Pid) -> HostError {
    HostError::fail(
        ERR_NOT_LOCAL,
        format!(
            "handles cannot leave their node: process {to} is on node {}; the handles stay \
             with the sender",
            warren_abi::node_of(to)
        ),
    )
}

/// Add host calls to a linker, each a line naming its arguments and the method (or `async
/// fn`) that does the work; see [`embed`](crate::embed) for the model.
///
/// `host_calls!(linker: T, MODULE, get, { ... })` where `T` is the store type parameter,
/// `MODULE` the import module name and `get` the view getter, whose view has a `call:
/// &mut CallState` field. Each entry is one of:
///
/// - `fn name(a: u32, b: i64) => |v| v.method(a, b);`
/// - `fn name(ptr: u32, len: u32) => |v, mem| v.method(mem, ptr, len);`
/// - `async fn name(h: u32) => |c| module_fn(c, get, h);`
///
/// The method returns `HostResult<R>` with `R` an `i32`, `i64` or `()`. A whole module of an
/// embedder's own:
///
/// ```
/// use warren_runtime::embed::{CallState, GuestMemory, HostError, HostResult, abi};
/// use warren_runtime::host_calls;
/// use warren_runtime::wasmtime::Linker;
///
/// /// What `my:tally` needs of the store: warren's per-call state and a number of its own.
/// pub struct TallyView<'a> {
///     pub call: &'a mut CallState,
///     pub total: &'a mut i64,
/// }
///
/// impl TallyView<'_> {
///     /// `add(by) -> i64`: the new total; ERR_BAD_ARGUMENT for a negative `by`.
///     fn add(&mut self, by: i64) -> HostResult<i64> {
///         if by < 0 {
///             return Err(HostError::bad_argument(format!("cannot add {by}")));
///         }
///         *self.total += by;
///         Ok(*self.total)
///     }
///
///     /// `describe(ptr, cap) -> i64`: the total as text at `ptr` if it fits `cap`; its
///     /// length. A buffer outside memory traps the caller.
///     fn describe(&mut self, mem: &mut GuestMemory<'_>, ptr: u32, cap: u32) -> HostResult<i64> {
///         mem.write_text(ptr, cap, self.total.to_string().as_bytes())
///     }
/// }
///
/// pub fn add_to_linker<T: Send + 'static>(
///     linker: &mut Linker<T>,
///     get: fn(&mut T) -> TallyView<'_>,
/// ) -> anyhow::Result<()> {
///     host_calls!(linker: T, "my:tally", get, {
///         fn add(by: i64) => |v| v.add(by);
///         fn describe(ptr: u32, cap: u32) => |v, mem| v.describe(mem, ptr, cap);
///     });
///     Ok(())
/// }
/// # assert_eq!(abi::ERR_BAD_ARGUMENT, -3);
/// ```
#[macro_export]
macro_rules! host_calls {
    ($linker:ident : $T:ident, $module:expr, $get:ident, { $($calls:tt)* }) => {
        $crate::host_calls!(@each $linker, $T, $module, $get; $($calls)*);
    };
    (@each $l:ident, $T:ident, $m:expr, $g:ident;) => {};
    (@each $l:ident, $T:ident, $m:expr, $g:ident;
        fn $name:ident($($a:ident : $t:ty),*) => |$v:ident, $mem:ident| $body:expr; $($rest:tt)*) => {
        $crate::host_calls!(@sync sync_mem, d, ($mem), $l, $T, $m, $g, $name, ($($a: $t),*), $v, $body);
        $crate::host_calls!(@each $l, $T, $m, $g; $($rest)*);
    };
    (@each $l:ident, $T:ident, $m:expr, $g:ident;
        fn $name:ident($($a:ident : $t:ty),*) => |$v:ident| $body:expr; $($rest:tt)*) => {
        $crate::host_calls!(@sync sync, d, (), $l, $T, $m, $g, $name, ($($a: $t),*), $v, $body);
        $crate::host_calls!(@each $l, $T, $m, $g; $($rest)*);
    };
    // A call that does not wait: `run` is `sync` or `sync_mem` (then `$mem` is bound too).
    (@sync $run:ident, $d:ident, ($($mem:ident)?), $l:ident, $T:ident, $m:expr, $g:ident,
        $name:ident, ($($a:ident : $t:ty),*), $v:ident, $body:expr) => {
        $l.func_wrap($m, stringify!($name),
            move |mut caller: $crate::wasmtime::Caller<'_, $T>, $($a: $t),*| {
                $crate::embed::__private::$run(
                    &mut caller,
                    $crate::embed::CallName::new($m, stringify!($name)),
                    |$d| $g($d).call,
                    |$d $(, $mem)?| {
                        #[allow(unused_mut)]
                        let mut $v = $g($d);
                        $body
                    },
                )
            })?;
    };
    (@each $l:ident, $T:ident, $m:expr, $g:ident;
        async fn $name:ident($($a:ident : $t:ty),*) => |$c:ident| $body:expr; $($rest:tt)*) => {
        $l.func_wrap_async($m, stringify!($name),
            move |mut caller: $crate::wasmtime::Caller<'_, $T>, ($($a,)*): ($($t,)*)| {
                Box::new(async move {
                    let r = $crate::embed::__private::waited({
                        let $c = &mut caller;
                        $body
                    })
                    .await;
                    $crate::embed::__private::finish(
                        &mut caller,
                        $crate::embed::CallName::new($m, stringify!($name)),
                        |d| $g(d).call,
                        r,
                    )
                })
            })?;
        $crate::host_calls!(@each $l, $T, $m, $g; $($rest)*);
    };
}
