//! Hot code upgrade: named resume points, so a process moves to a new version of the
//! program at the points it chooses (docs/upgrade.md).
//!
//! The runtime holds at most two versions of the program, *current* and *old*. A process runs
//! the version it started on until it **hibernates at a named resume point**: it then wakes
//! on whatever version is current, entering the function of the same name in that version,
//! with its state (the captures) carried over. [`upgrade`] does the same at once, without
//! waiting for a message.
//!
//! A resume point is a plain function `fn(State, Mailbox<M>)` declared with
//! [`resume_point!`](crate::resume_point!) next to its definition. Its name is its Rust path
//! (`app::counter::serve`): function-table indices change between builds, names do not.
//!
//! ```no_run
//! use warren::{Mailbox, hibernate, resume_point};
//!
//! fn serve(count: u64, mailbox: Mailbox<u64>) {
//!     let add = mailbox.receive();
//!     // The next message wakes this on the current version: a new build's `serve`.
//!     hibernate(count + add, serve)
//! }
//! resume_point!(serve);
//! ```
//!
//! - A function hibernated at but not declared is an *unnamed* point: the process wakes on
//!   its own version while that is held, exactly as without upgrades.
//! - Closures and generic functions have no name that survives a rebuild: they are unnamed
//!   points, and [`upgrade`] refuses them.
//! - Renaming the crate or moving the function renames the point. A version without a point
//!   of that name ends the process that would wake there with
//!   `upgrade: version N has no resume point "app::counter::serve"`, and its supervisor
//!   restarts it.
//! - State: the captures are postcard, which is not self-describing. A state type that
//!   changed decodes through `resume_point!(serve, from: OldState => migrate)` arms (tried in
//!   order after the current type); a state that decodes as none of them ends the process
//!   with an `upgrade` reason naming the point, never a process running on garbage. An enum
//!   of versions (`enum State { V1(..), V2(..) }`, variants added only at the end) decodes
//!   across builds without any arm.

use crate::mailbox::Mailbox;
use crate::{ExitReason, abi};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Move the calling process to the current version of the program now: end its instance and
/// continue in `resume(captures, mailbox)` — the current version's function of that name —
/// without waiting for a message. Nothing queued is lost. With its own version current, it
/// continues in its own `resume`.
///
/// `resume` must be a function declared with [`resume_point!`](crate::resume_point!): a
/// closure or a generic function panics here (it has no name that survives a rebuild), and a
/// function that is not declared ends the process with an `upgrade` reason.
pub fn upgrade<C, M, F>(captures: C, resume: F) -> !
where
    C: Serialize + DeserializeOwned,
    M: Serialize + DeserializeOwned,
    F: Fn(C, Mailbox<M>) + Copy + 'static,
{
    let (trampoline, func, name) = resume_target::<C, M, F>(resume);
    if name.is_empty() {
        panic!(
            "warren::upgrade: `{}` is not a named function (a closure or a generic function); \
             upgrade at a function declared with warren::resume_point!",
            std::any::type_name::<F>()
        );
    }
    let args = crate::process::encode(&captures);
    // SAFETY: as in `hibernate`: both indices name functions of this module of the types
    // `warren_entry` calls them as; the arguments are read during the call, which does not
    // return.
    unsafe {
        abi::upgrade_version(
            trampoline,
            func,
            args.as_ptr(),
            args.len() as u32,
            name.as_ptr(),
            name.len() as u32,
        )
    }
}

/// In a server loop, after each message: [`upgrade`] to `resume` if a version of the program
/// other than the caller's is current, else give the state back and go on. A cheap check (one
/// host call, no allocation) that lets an ordinary `loop { receive; handle }` server pick up new
/// code without hibernating between messages. If `resume` is not a declared resume point (or
/// is a closure), the process stays on its version: this never ends it.
///
/// ```no_run
/// use warren::{Mailbox, resume_point, upgrade};
///
/// fn serve(mut total: u64, mailbox: Mailbox<u64>) {
///     loop {
///         total += mailbox.receive();
///         total = upgrade::checkpoint(total, serve);
///     }
/// }
/// resume_point!(serve);
/// ```
pub fn checkpoint<C, M, F>(captures: C, resume: F) -> C
where
    C: Serialize + DeserializeOwned,
    M: Serialize + DeserializeOwned,
    F: Fn(C, Mailbox<M>) + Copy + 'static,
{
    let (_, _, name) = resume_target::<C, M, F>(resume);
    if !name.is_empty() && changed_at(name) == Some(true) {
        upgrade(captures, resume)
    }
    captures
}

/// Whether a version of the program other than the caller's is current: an [`upgrade`] (or a
/// hibernation at a named point) would move it.
pub fn version_changed() -> bool {
    changed_at("") == Some(true)
}

/// Whether a version other than the caller's is current, if `name` is empty or a resume point
/// of the caller's version; `None` if it is not one.
pub(crate) fn changed_at(name: &str) -> Option<bool> {
    // SAFETY: pointer and length of `name`, read during the call.
    match unsafe { abi::version_changed(name.as_ptr(), name.len() as u32) } {
        0 => Some(false),
        1 => Some(true),
        _ => None,
    }
}

/// The name [`hibernate`](crate::hibernate) and [`upgrade`] give `F` as a resume point.
pub(crate) fn name_of<F>() -> &'static str {
    resume_name::<F>()
}

/// The function-table indices `warren_entry` resumes `resume` through, and its name as a
/// resume point (empty if it has none: a closure, a generic function).
///
/// `F` must be zero-sized — a function item or a closure that captures nothing — so that a
/// monomorphised shim can call it with nothing but its type.
pub(crate) fn resume_target<C, M, F>(resume: F) -> (u32, u32, &'static str)
where
    C: DeserializeOwned,
    M: DeserializeOwned,
    F: Fn(C, Mailbox<M>) + Copy + 'static,
{
    const {
        assert!(
            std::mem::size_of::<F>() == 0,
            "warren: a resume function must be a function item or a closure that captures \
             nothing (not a fn pointer)"
        )
    };
    let _ = resume;
    let (trampoline, func) = crate::process::entry_indices::<C, M>(call_zero_sized::<C, M, F>);
    (trampoline, func, resume_name::<F>())
}

/// Call the zero-sized function `F`, made from nothing.
fn call_zero_sized<C, M, F: Fn(C, Mailbox<M>) + Copy>(captures: C, mailbox: Mailbox<M>) {
    // SAFETY: `F` is zero-sized (asserted at compile time in `resume_target`, the only place
    // this is named): a value of it has no bytes, so none can be invalid, and a function item
    // or a closure capturing nothing holds no state that could be missing.
    let f: F = unsafe { std::mem::zeroed() };
    f(captures, mailbox)
}

/// `F`'s path, if it names a function that keeps its name across builds: the name a
/// [`resume_point!`](crate::resume_point!) exports it under.
fn resume_name<F>() -> &'static str {
    let name = std::any::type_name::<F>();
    // A closure is `path::{{closure}}`. (A generic function, `path::f<T>`, is a point only
    // if that exact instance is exported: `supervisor_resume_point!` does it for
    // supervisors.)
    if name.contains('{') { "" } else { name }
}

/// Declare a resume point: export `f` (a `fn(State, Mailbox<M>)` of this module, not
/// generic) under its Rust path, so a process hibernated or upgrading at it wakes in the
/// function of the same name in a newer version of the program (see [`upgrade`]).
///
/// `from:` arms migrate a state whose type changed between versions (Erlang's
/// `code_change`): when the captures do not decode as `f`'s state, each `OldType => migrate`
/// is tried in order, `migrate(OldType) -> State`.
///
/// ```no_run
/// use serde::{Deserialize, Serialize};
/// use warren::{Mailbox, hibernate, resume_point};
///
/// #[derive(Serialize, Deserialize)]
/// struct Counter { count: u64, step: u64 }
///
/// fn serve(state: Counter, mailbox: Mailbox<()>) {
///     let () = mailbox.receive();
///     let next = Counter { count: state.count + state.step, ..state };
///     hibernate(next, serve)
/// }
/// // Version 1 kept a bare count.
/// resume_point!(serve, from: u64 => |count| Counter { count, step: 1 });
/// ```
#[macro_export]
macro_rules! resume_point {
    ($f:ident $(, from: $old:ty => $migrate:expr)* $(,)?) => {
        const _: () = {
            #[unsafe(export_name = concat!("warren_resume:", module_path!(), "::", stringify!($f)))]
            extern "C" fn warren_resume(args_len: u32) {
                $crate::__resume(
                    args_len,
                    concat!(module_path!(), "::", stringify!($f)),
                    $f,
                    |_bytes: &[u8]| {
                        $(
                            if let Ok(old) = $crate::__decode::<$old>(_bytes) {
                                return Some(($migrate)(old));
                            }
                        )*
                        None
                    },
                )
            }
        };
    };
}

/// The body of a [`resume_point!`](crate::resume_point!)'s export: fetch the captures, decode
/// them as `C` (or through `older`, the migrations), run `f`.
#[doc(hidden)]
pub fn __resume<C, M>(
    args_len: u32,
    name: &str,
    f: fn(C, Mailbox<M>),
    older: impl Fn(&[u8]) -> Option<C>,
) where
    C: DeserializeOwned,
    M: DeserializeOwned,
{
    crate::entry::install_hooks();
    let args = crate::entry::captures(args_len);
    let captures = match crate::handle::decode_message::<C>(&args) {
        Ok(c) => c,
        Err(e) => match older(&args) {
            Some(c) => c,
            None => crate::process::exit(ExitReason::Upgrade(format!(
                "the captures of {name} do not decode as this version's `{}` ({e}), nor as \
                 any of its `from:` types",
                std::any::type_name::<C>()
            ))),
        },
    };
    f(captures, Mailbox::new())
}

/// Decode captures as `T` (for [`resume_point!`](crate::resume_point!)'s `from:` arms).
#[doc(hidden)]
pub fn __decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    crate::handle::decode_message(bytes)
}
