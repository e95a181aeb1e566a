//! Processes: spawn a function with serialized captures, address a process by a typed handle,
//! watch it end.
//!
//! A spawned process is a fresh instance of the same module. It starts from the module's
//! initial memory: statics are per process, and nothing of the parent's heap exists there.
//! What it needs from the parent arrives as *captures*, which must be
//! `Serialize + DeserializeOwned` — a capture that cannot be sent is a compile error.

use crate::ExitReason;
use crate::bound::{MailboxBound, SendError};
use crate::mailbox::Mailbox;
use crate::{abi, raw};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

/// A process id, unique within the runtime for its whole life.
pub type Pid = u64;

/// The pid of the calling process.
pub fn this() -> Pid {
    crate::entry::install_hooks();
    // SAFETY: no arguments.
    unsafe { abi::this() as Pid }
}

/// A handle to a process whose mailbox takes messages of type `M`. It is plain data (a pid):
/// copy it, and send it to other processes inside messages.
#[derive(Serialize, Deserialize)]
#[serde(transparent, bound = "")]
pub struct Process<M> {
    pid: Pid,
    #[serde(skip)]
    _message: PhantomData<fn(M)>,
}

impl<M> Clone for Process<M> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M> Copy for Process<M> {}
impl<M> PartialEq for Process<M> {
    fn eq(&self, other: &Self) -> bool {
        self.pid == other.pid
    }
}
impl<M> Eq for Process<M> {}
impl<M> fmt::Debug for Process<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Process({})", self.pid)
    }
}

impl<M: Serialize> Process<M> {
    /// The calling process, seen as taking messages of type `M`.
    pub fn this() -> Self {
        Self::from_pid(this())
    }

    /// A handle for a pid. Sending to it is safe whatever the pid: a message to a process
    /// that is not alive is dropped, and one of the wrong type fails to decode in the
    /// receiver.
    pub fn from_pid(pid: Pid) -> Self {
        Process {
            pid,
            _message: PhantomData,
        }
    }

    /// The process's pid.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Send a message. Like Erlang's `!`, it never fails: a message to a process that has
    /// ended is dropped. Returns whether the process was alive to receive it.
    ///
    /// Handles in the message (sockets, files, streams...) move with it: the receiver owns
    /// them, and the sender's copies are dead. A message to a process that has ended is
    /// dropped with its handles. Panics if the message holds a handle this process does
    /// not own (already sent away), or holds handles and goes to a process of another node
    /// (handles cannot leave their node); [`Process::try_send`] returns those as errors.
    ///
    /// To a process of another node, `true` means the message is on its way (whether the
    /// process lives is known on its node); `false`, that its node is not connected. While
    /// the queue to that node holds more than the cluster's send mark (64 MiB by default),
    /// `send` waits for it to be published: a process sending faster than the link carries
    /// slows down, as in Erlang, instead of crowding out the others.
    ///
    /// To a process whose mailbox is bounded ([`crate::bound`]) and full, `send` does as the
    /// bound says: waits for room (block), returns `false` without sending (fail:
    /// [`Process::try_send`] tells this from a process that is gone), or returns `true`
    /// with the oldest or this message dropped.
    pub fn send(&self, message: &M) -> bool {
        match crate::handle::with_encoded_message(message, |bytes| raw::send(self.pid, 0, bytes)) {
            Ok(sent) => sent,
            Err(e) => panic!(
                "warren: cannot send a `{}`: {e}",
                std::any::type_name::<M>()
            ),
        }
    }

    /// [`Process::send`], returning an error instead of panicking when the message cannot
    /// be encoded, holds a handle this process does not own, or holds handles and goes to
    /// another node ([`SendError::Refused`]: nothing is sent then, and no handle moves: they
    /// stay usable here), or when the receiver's mailbox is full by a bound whose policy is
    /// to fail ([`SendError::Full`]; see [`crate::bound`]). `Ok(false)`: the process was not
    /// alive (the message and its handles are dropped).
    pub fn try_send(&self, message: &M) -> Result<bool, SendError> {
        self.send_until(message, None)
    }

    /// [`Process::try_send`], waiting at most `timeout` for room in a full bounded mailbox
    /// whose policy is to block ([`SendError::TimedOut`] then: nothing was sent).
    pub fn send_timeout(&self, message: &M, timeout: Duration) -> Result<bool, SendError> {
        self.send_until(message, std::time::Instant::now().checked_add(timeout))
    }

    pub(crate) fn send_until(
        &self,
        message: &M,
        deadline: Option<std::time::Instant>,
    ) -> Result<bool, SendError> {
        let code = crate::handle::with_encoded_message(message, |bytes| {
            raw::send_code_until(self.pid, 0, bytes, deadline)
        })
        .map_err(SendError::Refused)?;
        match code {
            0 => Ok(true),
            code if code == abi::ERR_NOT_LOCAL => {
                Err(SendError::Refused(crate::handle::error(code as i64)))
            }
            code if code == abi::ERR_FULL => Err(SendError::Full),
            code if code == abi::ERR_TIMEOUT => Err(SendError::TimedOut),
            _ => Ok(false),
        }
    }

    /// The node this process runs on.
    pub fn node(&self) -> crate::node::Node {
        crate::node::Node::of(self.pid)
    }

    /// Watch this process: the returned [`Monitor`] yields its exit reason
    /// ([`ExitReason::NoProc`] if it has already ended).
    pub fn monitor(&self) -> Monitor {
        // SAFETY: plain integer argument.
        let tag = unsafe { abi::monitor(self.pid as i64) } as u64;
        Monitor { pid: self.pid, tag }
    }

    /// Link the calling process and this one: when either exits abnormally, the other exits
    /// too (reason [`ExitReason::Linked`]), unless it traps exits ([`trap_exit`]), in which
    /// case it receives a [`Signal::Exit`](crate::Signal). A normal exit does not propagate.
    /// Linking to a process that is not alive acts as if it had exited with `NoProc`.
    pub fn link(&self) {
        // SAFETY: plain integer argument.
        unsafe { abi::link(self.pid as i64) };
    }

    /// Remove the link between the calling process and this one, if any.
    pub fn unlink(&self) {
        // SAFETY: plain integer argument.
        unsafe { abi::unlink(self.pid as i64) }
    }

    /// Send this process an exit signal with `reason`, as if a process linked to it had
    /// exited so (Erlang's `exit(Pid, Reason)`): if it traps exits it receives a
    /// [`Signal::Exit`](crate::Signal); otherwise an abnormal reason ends it with
    /// [`ExitReason::Linked`] ([`ExitReason::Shutdown`] with itself: an order to stop) and a
    /// normal one is ignored. Unlike [`Process::kill`], it can be
    /// trapped. Returns false if the process was not alive.
    pub fn exit(&self, reason: &ExitReason) -> bool {
        let bytes = reason.clone().bounded().encode();
        // SAFETY: pointer and length of `bytes`, read during the call only.
        unsafe { abi::exit_signal(self.pid as i64, bytes.as_ptr(), bytes.len() as u32) == 0 }
    }

    /// Kill the process. Returns false if it was not alive.
    pub fn kill(&self) -> bool {
        // SAFETY: plain integer argument.
        unsafe { abi::kill(self.pid as i64) == 0 }
    }
}

/// Encode a message (moving the handles it holds into it); panics with the reason if it
/// cannot be.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    match crate::handle::encode_message(value) {
        Ok(bytes) => bytes,
        Err(e) => panic!(
            "warren: cannot send a `{}`: {e}",
            std::any::type_name::<T>()
        ),
    }
}

/// Watches one process; see [`Process::monitor`] and [`spawn_monitor`].
#[derive(Debug)]
pub struct Monitor {
    pid: Pid,
    tag: u64,
}

impl Monitor {
    /// Wait until the process ends and return why.
    pub fn wait(self) -> ExitReason {
        match self.wait_inner(None) {
            Some(r) => r,
            None => unreachable!("a receive without timeout returned nothing"),
        }
    }

    /// Like [`Monitor::wait`], but give up after `timeout` (the monitor stays active and
    /// can be waited on again).
    pub fn wait_timeout(&self, timeout: Duration) -> Option<ExitReason> {
        self.wait_inner(Some(timeout))
    }

    fn wait_inner(&self, timeout: Option<Duration>) -> Option<ExitReason> {
        raw::receive(self.tag, timeout, |bytes| {
            ExitReason::decode(bytes).unwrap_or_else(|| {
                ExitReason::Trap(format!("undecodable exit reason {bytes:?} from the host"))
            })
        })
    }

    pub(crate) fn tag(&self) -> u64 {
        self.tag
    }

    /// The pid being watched.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Stop watching; a DOWN that already arrived is discarded.
    pub fn cancel(self) {
        // SAFETY: plain integer arguments.
        unsafe { abi::demonitor(self.pid as i64, self.tag as i64) }
    }
}

/// Why a spawn failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpawnError {
    /// The runtime's process limit is reached.
    ProcessLimit,
    /// The spawn options are invalid: more memory than the runtime allows, or a fuel
    /// budget in a runtime that does not count fuel.
    BadOptions,
    /// The host could not create the process (see the host's log).
    Failed(i64),
    /// The node to spawn on is not connected (or went down before it answered).
    NoConnection(String),
    /// The captures hold handles, which cannot leave their node (they stay with the caller).
    NotLocal,
    /// The other node refused: another module, its limits... (its reason).
    Remote(String),
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::ProcessLimit => write!(f, "the runtime's process limit is reached"),
            SpawnError::BadOptions => {
                write!(f, "invalid spawn options (limits above the runtime's?)")
            }
            SpawnError::Failed(code) => {
                write!(f, "the host could not create the process (error {code})")
            }
            SpawnError::NoConnection(why) => write!(f, "no connection: {why}"),
            SpawnError::NotLocal => write!(f, "handles in the captures cannot leave their node"),
            SpawnError::Remote(why) => write!(f, "the node refused: {why}"),
        }
    }
}

impl std::error::Error for SpawnError {}

/// Spawn `entry(captures, mailbox)` as a new process.
///
/// `entry` is a plain `fn` (a closure that captures nothing coerces to one); everything it
/// needs travels in `captures`, serialized. The [`spawn!`](crate::spawn!) macro writes the
/// capture tuple for you.
pub fn spawn<C, M>(captures: C, entry: fn(C, Mailbox<M>)) -> Result<Process<M>, SpawnError>
where
    C: Serialize + DeserializeOwned,
    M: Serialize + DeserializeOwned,
{
    SpawnOptions::new().spawn(captures, entry)
}

/// Limits and links for one spawn: `SpawnOptions::new().max_memory(1 << 20).spawn(c, f)`.
#[derive(Debug, Clone, Default)]
pub struct SpawnOptions {
    node: Option<crate::node::Node>,
    link: bool,
    max_memory: Option<usize>,
    max_fuel: Option<u64>,
    mailbox: Option<MailboxBound>,
}

impl SpawnOptions {
    /// Options that change nothing: the runtime's limits, no link, no monitor.
    pub fn new() -> Self {
        Self::default()
    }

    /// Start the process on `node` of the cluster (which runs the same module), not on
    /// this one. Its captures cannot hold handles.
    pub fn on(mut self, node: crate::node::Node) -> Self {
        self.node = Some(node);
        self
    }

    /// Link the new process to the caller before it runs.
    pub fn link(mut self) -> Self {
        self.link = true;
        self
    }

    /// The new process's maximum linear memory, in bytes (at most the runtime's).
    pub fn max_memory(mut self, bytes: usize) -> Self {
        self.max_memory = Some(bytes);
        self
    }

    /// The new process's compute budget, in fuel units (the runtime must count fuel).
    pub fn max_fuel(mut self, fuel: u64) -> Self {
        self.max_fuel = Some(fuel);
        self
    }

    /// Bound the new process's mailbox (see [`crate::bound`]) from before it runs, here or
    /// on another node.
    pub fn mailbox(mut self, bound: MailboxBound) -> Self {
        self.mailbox = Some(bound);
        self
    }

    /// Spawn `entry(captures, mailbox)` with these options (see [`spawn`]).
    pub fn spawn<C, M>(
        &self,
        captures: C,
        entry: fn(C, Mailbox<M>),
    ) -> Result<Process<M>, SpawnError>
    where
        C: Serialize + DeserializeOwned,
        M: Serialize + DeserializeOwned,
    {
        let pid = spawn_with(&captures, entry, 0, self)?;
        Ok(Process::from_pid(pid))
    }

    /// [`SpawnOptions::spawn`], monitored from before the process runs (see [`spawn_monitor`]).
    pub fn spawn_monitor<C, M>(
        &self,
        captures: C,
        entry: fn(C, Mailbox<M>),
    ) -> Result<(Process<M>, Monitor), SpawnError>
    where
        C: Serialize + DeserializeOwned,
        M: Serialize + DeserializeOwned,
    {
        let tag = raw::new_tag();
        let pid = spawn_with(&captures, entry, tag as i64, self)?;
        Ok((Process::from_pid(pid), Monitor { pid, tag }))
    }
}

/// [`spawn`], and link the new process to the caller before it runs (see [`Process::link`]).
pub fn spawn_link<C, M>(captures: C, entry: fn(C, Mailbox<M>)) -> Result<Process<M>, SpawnError>
where
    C: Serialize + DeserializeOwned,
    M: Serialize + DeserializeOwned,
{
    SpawnOptions::new().link().spawn(captures, entry)
}

/// End the calling process now with `reason`: its monitors see that reason, and an
/// abnormal one propagates along its links. (Reason texts are cut at 16 KiB.)
pub fn exit(reason: ExitReason) -> ! {
    // Texts are cut to what the host accepts (at a character boundary).
    let bytes = reason.bounded().encode();
    // SAFETY: pointer and length of `bytes`, read during the call, which does not return.
    unsafe { abi::exit(bytes.as_ptr(), bytes.len() as u32) }
}

/// Hibernate: end this process's instance — its memory, stack and pool slot go back to the
/// runtime — but not the process. Its pid, mailbox, links, monitors, registered names,
/// timers, `trap_exit` setting and handles stay. When a message (or an exit signal) is in its
/// mailbox, a fresh instance runs `resume(captures, mailbox)`; nothing queued is lost or
/// reordered, and senders see no difference.
///
/// An idle hibernated process costs a table entry, its mailbox and its captures, so a
/// program can keep one per connection or user even when most are idle. Waking costs a fresh
/// instance (a warm pool slot, microseconds): hibernate where waits are long, not between
/// every two messages. Statics start afresh in the new instance, like in a spawned process.
///
/// Handles in `captures` move into the resumed instance (with new numbers); others the
/// process holds stay in its table but are no longer named by anything.
/// [`hibernate!`](crate::hibernate!) takes a closure, like [`spawn!`](crate::spawn!).
///
/// `resume` is a function item or a closure that captures nothing. A function declared with
/// [`resume_point!`](crate::resume_point!) is a named resume point: the process then wakes on
/// the current version of the program, in its function of that name (hot code upgrade, see
/// [`upgrade`](crate::upgrade::upgrade)). Any other wakes on the process's own version.
pub fn hibernate<C, M, F>(captures: C, resume: F) -> !
where
    C: Serialize + DeserializeOwned,
    M: Serialize + DeserializeOwned,
    F: Fn(C, Mailbox<M>) + Copy + 'static,
{
    let args = encode(&captures);
    let (trampoline, func, name) = crate::upgrade::resume_target::<C, M, F>(resume);
    // SAFETY: as in `spawn_with`: both indices name functions of this module of the types
    // `warren_entry` calls them as; `args` and `name` are read during the call, which does
    // not return.
    unsafe {
        abi::hibernate(
            trampoline,
            func,
            args.as_ptr(),
            args.len() as u32,
            name.as_ptr(),
            name.len() as u32,
        )
    }
}

/// [`hibernate`](fn@hibernate), and wake also when a handle inside the captures is ready to read: a
/// connection or stream has data (or its end, or an error), a listener a connection to
/// accept, a UDP socket a datagram. `watch` picks the handle out of the captures.
///
/// So a process per connection costs a hibernated process while the peer is quiet:
///
/// ```no_run
/// use warren::net::TcpStream;
/// use warren::{Mailbox, hibernate_watching};
///
/// fn serve(conn: TcpStream, _mailbox: Mailbox<()>) {
///     let mut buf = [0u8; 4096];
///     match conn.read(&mut buf) {
///         Ok(0) | Err(_) => return, // the peer is gone
///         Ok(n) => { let _ = conn.write_all(&buf[..n]); }
///     }
///     hibernate_watching(conn, |c| c, serve)
/// }
/// ```
///
/// Panics if the watched handle is not in the captures, or is not one that can be waited on
/// (a pipe's writer, for one).
pub fn hibernate_watching<C, M, R, F>(captures: C, watch: impl FnOnce(&C) -> &R, resume: F) -> !
where
    C: Serialize + DeserializeOwned,
    M: Serialize + DeserializeOwned,
    R: crate::Resource + ?Sized,
    F: Fn(C, Mailbox<M>) + Copy + 'static,
{
    let watched = watch(&captures).raw_handle();
    let (args, handles) = match crate::handle::encode_message_with_handles(&captures) {
        Ok(x) => x,
        Err(e) => panic!(
            "warren: cannot hibernate with a `{}`: {e}",
            std::any::type_name::<C>()
        ),
    };
    let Some(index) = handles.iter().position(|h| *h == watched) else {
        panic!("warren::hibernate_watching: the watched handle is not in the captures");
    };
    let (trampoline, func, name) = crate::upgrade::resume_target::<C, M, F>(resume);
    // SAFETY: as in `hibernate`; `args` and `name` are read during the call, which returns
    // only on error.
    let rc = unsafe {
        abi::hibernate_watch(
            trampoline,
            func,
            args.as_ptr(),
            args.len() as u32,
            index as u32,
            name.as_ptr(),
            name.len() as u32,
        )
    };
    panic!(
        "warren::hibernate_watching: {}",
        crate::handle::error(rc as i64)
    )
}

/// Choose whether exit signals from linked processes arrive as messages
/// ([`Mailbox::receive_signal`]) instead of ending the calling process. Returns the previous
/// setting. A [`Process::kill`] cannot be trapped.
pub fn trap_exit(on: bool) -> bool {
    // SAFETY: plain integer argument.
    unsafe { abi::trap_exit(on as i32) != 0 }
}

/// [`spawn`], and monitor the new process from before it runs: the [`Monitor`] reports its
/// real exit reason however quickly it ends.
pub fn spawn_monitor<C, M>(
    captures: C,
    entry: fn(C, Mailbox<M>),
) -> Result<(Process<M>, Monitor), SpawnError>
where
    C: Serialize + DeserializeOwned,
    M: Serialize + DeserializeOwned,
{
    SpawnOptions::new().spawn_monitor(captures, entry)
}

/// The function-table indices a new instance is entered through (`warren_entry`): the
/// type-tagged trampoline for `(C, M)` and the user's `entry`.
pub(crate) fn entry_indices<C, M>(entry: fn(C, Mailbox<M>)) -> (u32, u32)
where
    C: DeserializeOwned,
    M: DeserializeOwned,
{
    let trampoline = crate::entry::trampoline::<C, M> as fn(usize, Vec<u8>) as usize as u32;
    (trampoline, entry as usize as u32)
}

/// The spawn flags and limits of `options`, as the ABI takes them.
pub(crate) fn raw_options(options: &SpawnOptions) -> (u32, i64, i64) {
    (
        if options.link { abi::SPAWN_LINK } else { 0 },
        options
            .max_memory
            .map_or(0, |m| i64::try_from(m).unwrap_or(i64::MAX)),
        options
            .max_fuel
            .map_or(0, |f| i64::try_from(f).unwrap_or(i64::MAX)),
    )
}

fn spawn_with<C, M>(
    captures: &C,
    entry: fn(C, Mailbox<M>),
    monitor: i64,
    options: &SpawnOptions,
) -> Result<Pid, SpawnError>
where
    C: Serialize + DeserializeOwned,
    M: Serialize + DeserializeOwned,
{
    crate::entry::install_hooks();
    let args = encode(captures);
    let (trampoline, func) = entry_indices(entry);
    let (flags, max_memory, max_fuel) = raw_options(options);
    if let Some(bound) = options.mailbox {
        let (messages, bytes, when_full) = bound.raw();
        // SAFETY: plain integer arguments.
        if unsafe { abi::spawn_bound(messages, bytes, when_full) } < 0 {
            return Err(SpawnError::BadOptions);
        }
    }
    let (ptr, len) = (args.as_ptr(), args.len() as u32);
    // SAFETY: both indices are function-table entries of this module (which another node runs
    // too, checked by hash), taken from `fn` values of the types `warren_entry` and
    // `trampoline::<C, M>` will call them as; `args` lives across the call, which only reads
    // it.
    let pid = unsafe {
        match options.node {
            None => abi::spawn(
                trampoline, func, ptr, len, monitor, flags, max_memory, max_fuel,
            ),
            Some(node) => abi::node_spawn(
                node.number() as i64,
                trampoline,
                func,
                ptr,
                len,
                monitor,
                flags,
                max_memory,
                max_fuel,
            ),
        }
    };
    if pid >= 0 {
        return Ok(pid as Pid);
    }
    let text = || crate::handle::error(pid).to_string();
    Err(match pid as i32 {
        abi::ERR_PROCESS_LIMIT => SpawnError::ProcessLimit,
        abi::ERR_BAD_ARGUMENT => SpawnError::BadOptions,
        abi::ERR_NO_CONNECTION => SpawnError::NoConnection(text()),
        abi::ERR_NOT_LOCAL => SpawnError::NotLocal,
        _ if options.node.is_some() => SpawnError::Remote(text()),
        _ => SpawnError::Failed(pid),
    })
}
