//! Supervisors: processes that start children, watch them through links, and restart them
//! by a strategy — ordinary guest code on top of [`spawn_link`] and [`trap_exit`].
//!
//! A supervisor is started from a *spec*: a serializable value of a type implementing
//! [`Supervise`]. The spec travels to the new supervisor process as its captures; there,
//! [`Supervise::children`] builds each child's start function. Children are started in
//! order, linked to the supervisor, which traps exits. When a child exits:
//!
//! - its [`Restart`] policy decides whether it is restarted: `Permanent` always, `Transient`
//!   only after an abnormal exit, `Temporary` never (it is forgotten);
//! - the [`Strategy`] decides what is restarted with it: only it (`OneForOne`), every child
//!   (`OneForAll`), or it and the children started after it (`RestForOne`). Children to be
//!   restarted that are still running are stopped first (last started first), then all are
//!   started again in order;
//! - more than `max_restarts` restarts within `period` means something is badly wrong: the
//!   supervisor stops its children and exits abnormally, and the failure moves up the tree.
//!
//! A supervisor is a child like any other ([`Child::supervisor`]), so supervisors nest. If the
//! supervisor dies, its children, linked to it, die with it.
//!
//! **Stopping** (OTP's child `shutdown` spec): a child is stopped — when it is restarted with
//! a sibling, when the supervisor is asked to [`stop`], and when the supervisor itself gets
//! the exit signal [`ExitReason::Shutdown`] — by its [`Shutdown`]: `Timeout(t)` sends it the
//! exit signal `shutdown` and waits up to `t` for it to end before killing it (a child that
//! traps exits gets the time to finish its work; one that does not ends at once), `Infinity`
//! waits as long as it takes (the default for a nested supervisor, which stops its own
//! children first), `BrutalKill` kills it outright. Children stop last started first. A
//! supervisor that receives `shutdown` (from the runtime's graceful shutdown, or from the
//! process it is linked to: see [`start_link`]) stops its children so, then ends with
//! `shutdown` itself.
//!
//! **Hot code upgrade** ([`mod@crate::upgrade`]): a supervisor runs the version of the program it
//! was started on, and restarts its children on the version it runs. Declare its type with
//! [`supervisor_resume_point!`](crate::supervisor_resume_point!) and it moves to a newly
//! loaded version on its own: within [`UPGRADE_POLL`] of the load, or at once when a request
//! or an exit signal comes (handled by the new version's code). Its children then restart on
//! the new version, and a child purged with the oldest version is restarted on the newest.
//! Without the declaration it keeps its version, and a purge of that version ends it with
//! its children.
//!
//! A supervisor mostly waits. With [`Supervise::hibernate_after`] (OTP's `hibernate_after`)
//! it hibernates ([`hibernate`](fn@crate::hibernate)) once it has had nothing to do for that long, holding
//! no instance until the next request or exit signal; its children, links, name, restart
//! history and counters are the same when it wakes.

use crate::mailbox::{Mailbox, Reply, Signal};
use crate::process::{Pid, Process, SpawnError, spawn_link, trap_exit};
use crate::{ExitReason, Monitor};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Which children are restarted when one exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Strategy {
    /// Restart only the child that failed.
    OneForOne,
    /// Restart every child when one fails.
    OneForAll,
    /// Restart the failed child and those started after it.
    RestForOne,
}

/// When a child is restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Restart {
    /// Always.
    Permanent,
    /// Only after an abnormal exit.
    Transient,
    /// Never.
    Temporary,
}

/// How a child is stopped (OTP's `shutdown` child spec); see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Shutdown {
    /// Kill it at once: it gets no chance to finish.
    BrutalKill,
    /// Send it the exit signal `shutdown`, wait this long for it to end, then kill it.
    Timeout(Duration),
    /// Send it the exit signal `shutdown` and wait until it ends (a nested supervisor's
    /// default: it stops its own children, each within its own time).
    Infinity,
}

/// A worker's default shutdown time (OTP's 5000 ms).
pub const DEFAULT_SHUTDOWN: Shutdown = Shutdown::Timeout(Duration::from_secs(5));

/// One child: a name, a restart policy, how it is stopped, and how to start it.
pub struct Child {
    name: String,
    restart: Restart,
    shutdown: Shutdown,
    start: Box<dyn Fn() -> Result<Pid, SpawnError>>,
    mailbox: Option<crate::bound::MailboxBound>,
}

impl Child {
    /// A worker running `entry(captures.clone(), mailbox)`, linked to its supervisor, stopped
    /// by [`DEFAULT_SHUTDOWN`] unless [`Child::shutdown`] says otherwise.
    pub fn worker<C, M>(
        name: impl Into<String>,
        restart: Restart,
        captures: C,
        entry: fn(C, Mailbox<M>),
    ) -> Child
    where
        C: Serialize + DeserializeOwned + Clone + 'static,
        M: Serialize + DeserializeOwned + 'static,
    {
        Child {
            name: name.into(),
            restart,
            shutdown: DEFAULT_SHUTDOWN,
            start: Box::new(move || spawn_link(captures.clone(), entry).map(|p| p.pid())),
            mailbox: None,
        }
    }

    /// A nested supervisor started from `spec`, stopped with [`Shutdown::Infinity`] unless
    /// [`Child::shutdown`] says otherwise.
    pub fn supervisor<S: Supervise + Clone>(
        name: impl Into<String>,
        restart: Restart,
        spec: S,
    ) -> Child {
        Child {
            name: name.into(),
            restart,
            shutdown: Shutdown::Infinity,
            start: Box::new(move || spawn_link(spec.clone(), run::<S>).map(|p| p.pid())),
            mailbox: None,
        }
    }

    /// This child, stopped by `shutdown` (see [`Shutdown`]).
    pub fn shutdown(mut self, shutdown: Shutdown) -> Child {
        self.shutdown = shutdown;
        self
    }

    /// This child, with its mailbox bounded (see [`crate::bound`]) each time it starts.
    pub fn mailbox(mut self, bound: crate::bound::MailboxBound) -> Child {
        self.mailbox = Some(bound);
        self
    }
}

/// A supervisor's specification. Implement it on a serializable type holding what the
/// children need; [`start`] runs it as a new process.
pub trait Supervise: Serialize + DeserializeOwned + 'static {
    /// The children, in start order. Called in the supervisor process.
    fn children(&self) -> Vec<Child>;

    /// How children are restarted (default: one for one).
    fn strategy(&self) -> Strategy {
        Strategy::OneForOne
    }

    /// At most this many restarts within [`Supervise::period`]; one more makes the
    /// supervisor give up.
    fn max_restarts(&self) -> usize {
        3
    }

    /// The window in which [`Supervise::max_restarts`] restarts are allowed (default 5 s).
    fn period(&self) -> Duration {
        Duration::from_secs(5)
    }

    /// Hibernate after this long without a request or an exit signal (default: never).
    fn hibernate_after(&self) -> Option<Duration> {
        None
    }
}

/// Requests a supervisor answers.
#[derive(Serialize, Deserialize)]
pub enum SupervisorMsg {
    /// Each child's name and current pid (`None` while not running).
    WhichChildren(Reply<Vec<(String, Option<Pid>)>>),
    /// How many restarts the supervisor has done.
    CountRestarts(Reply<u64>),
    /// Stop the children (last started first) and end normally.
    Stop(Reply<()>),
}

/// A handle to a running supervisor.
pub type Supervisor = Process<SupervisorMsg>;

/// Start a supervisor process from `spec`, linked to nothing (see [`Child::supervisor`] for
/// nesting). Its children are started before it handles requests.
pub fn start<S: Supervise>(spec: S) -> Result<Supervisor, SpawnError> {
    crate::process::spawn(spec, run::<S>)
}

/// Start a supervisor process from `spec`, linked to the caller (OTP's `start_link`): the
/// usual way for a program's main process to start its tree. If the caller ends abnormally
/// the supervisor stops its children and ends too — with `shutdown` (the runtime's graceful
/// shutdown, which asks the oldest process of a linked group, usually the main one) it does
/// so in order, each child within its shutdown time.
pub fn start_link<S: Supervise>(spec: S) -> Result<Supervisor, SpawnError> {
    spawn_link(spec, run::<S>)
}

/// Ask a supervisor for its children. `None` if it has ended.
pub fn which_children(sup: &Supervisor) -> Option<Vec<(String, Option<Pid>)>> {
    sup.request(SupervisorMsg::WhichChildren).ok()
}

/// How many restarts a supervisor has done. `None` if it has ended.
pub fn count_restarts(sup: &Supervisor) -> Option<u64> {
    sup.request(SupervisorMsg::CountRestarts).ok()
}

/// Stop a supervisor and its children; returns once they are gone.
pub fn stop(sup: &Supervisor) {
    let _ = sup.request(SupervisorMsg::Stop);
}

struct Running {
    child: Child,
    pid: Option<Pid>,
    /// Its place in `Supervise::children()`, to find it again after a hibernation.
    index: u32,
}

struct State {
    children: Vec<Running>,
    strategy: Strategy,
    max_restarts: usize,
    period: Duration,
    recent: VecDeque<Instant>,
    restarts: u64,
    /// Children the supervisor stopped itself: an exit signal they sent before being
    /// unlinked may still be queued, and must not count as a failure.
    stopped: Vec<Pid>,
}

/// The supervisor process.
fn run<S: Supervise>(spec: S, mailbox: Mailbox<SupervisorMsg>) {
    trap_exit(true);
    let mut st = State {
        children: spec
            .children()
            .into_iter()
            .zip(0..)
            .map(|(child, index)| Running {
                child,
                pid: None,
                index,
            })
            .collect(),
        strategy: spec.strategy(),
        max_restarts: spec.max_restarts(),
        period: spec.period(),
        recent: VecDeque::new(),
        restarts: 0,
        stopped: Vec::new(),
    };
    for i in 0..st.children.len() {
        if let Err(e) = start_child(&mut st, i) {
            stop_children(&mut st, 0);
            panic!(
                "supervisor: cannot start child {:?}: {e}",
                st.children[i].child.name
            );
        }
    }
    serve(spec, st, mailbox, None)
}

/// What a hibernating supervisor carries to its next instance (public only for
/// [`supervisor_resume_point!`](crate::supervisor_resume_point!)).
#[doc(hidden)]
#[derive(Serialize, Deserialize)]
pub struct Asleep<S> {
    spec: S,
    /// A request or exit signal received but not handled yet: the supervisor moved to a new
    /// version first, whose code handles it.
    pending: Option<Pending>,
    /// Each current child: its place in `children()`, its pid.
    children: Vec<(u32, Option<Pid>)>,
    /// The recent restarts, as milliseconds since the Unix epoch (wall clock: an `Instant`
    /// does not cross instances).
    recent_ms: Vec<u64>,
    restarts: u64,
    stopped: Vec<Pid>,
}

fn unix_ms(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A signal a supervisor carries across an upgrade, unhandled.
#[derive(Serialize, Deserialize)]
enum Pending {
    Message(SupervisorMsg),
    Exit(Pid, ExitReason),
}

/// How often a supervisor declared with
/// [`supervisor_resume_point!`](crate::supervisor_resume_point!) looks whether a new version
/// of the program was loaded, while nothing else wakes it.
pub const UPGRADE_POLL: Duration = Duration::from_secs(1);

/// Hibernate, carrying everything the supervisor knows.
fn sleep<S: Supervise>(spec: S, st: State) -> ! {
    crate::hibernate(asleep(spec, st, None), wake::<S>)
}

/// Move to the current version of the program, carrying everything the supervisor knows
/// and the signal it has not handled yet.
fn move_on<S: Supervise>(spec: S, st: State, pending: Option<Pending>) -> ! {
    crate::upgrade::upgrade(asleep(spec, st, pending), wake::<S>)
}

/// Everything the supervisor knows, to carry to its next instance.
fn asleep<S: Supervise>(spec: S, st: State, pending: Option<Pending>) -> Asleep<S> {
    let (now, wall) = (Instant::now(), std::time::SystemTime::now());
    Asleep {
        spec,
        pending,
        children: st.children.iter().map(|r| (r.index, r.pid)).collect(),
        recent_ms: st
            .recent
            .iter()
            .map(|t| unix_ms(wall - now.duration_since(*t)))
            .collect(),
        restarts: st.restarts,
        stopped: st.stopped,
    }
}

/// A supervisor's next instance, after a hibernation or an upgrade (public only for
/// [`supervisor_resume_point!`](crate::supervisor_resume_point!)).
#[doc(hidden)]
pub fn wake<S: Supervise>(asleep: Asleep<S>, mailbox: Mailbox<SupervisorMsg>) {
    let spec = asleep.spec;
    let mut all: Vec<Option<Child>> = spec.children().into_iter().map(Some).collect();
    let (now, wall) = (Instant::now(), unix_ms(std::time::SystemTime::now()));
    let st = State {
        children: asleep
            .children
            .into_iter()
            .filter_map(|(index, pid)| {
                let child = all.get_mut(index as usize)?.take()?;
                Some(Running { child, pid, index })
            })
            .collect(),
        strategy: spec.strategy(),
        max_restarts: spec.max_restarts(),
        period: spec.period(),
        recent: asleep
            .recent_ms
            .into_iter()
            .filter_map(|ms| now.checked_sub(Duration::from_millis(wall.saturating_sub(ms))))
            .collect(),
        restarts: asleep.restarts,
        stopped: asleep.stopped,
    };
    let pending = match asleep.pending {
        None => None,
        Some(Pending::Message(m)) => Some(Signal::Message(m)),
        Some(Pending::Exit(from, reason)) => Some(Signal::Exit { from, reason }),
    };
    serve(spec, st, mailbox, pending)
}

/// Whether a supervisor of type `S` may move to a new version now: its type is declared as
/// a resume point and another version is current. `None`: it is not declared.
fn may_move<S: Supervise>() -> Option<bool> {
    fn name_of<F>(_: F) -> &'static str {
        crate::upgrade::name_of::<F>()
    }
    crate::upgrade::changed_at(name_of(wake::<S>))
}

/// Answer requests and handle exit signals (`first`, then those received) until stopped
/// (or, with `hibernate_after`, idle; or, declared as a resume point, moved to a new version).
fn serve<S: Supervise>(
    spec: S,
    mut st: State,
    mailbox: Mailbox<SupervisorMsg>,
    first: Option<Signal<SupervisorMsg>>,
) {
    let idle = spec.hibernate_after();
    let moves = may_move::<S>().is_some();
    let mut active = Instant::now();
    let mut next = first;
    loop {
        let signal = match next.take() {
            Some(signal) => signal,
            None => {
                let wait = match (idle, moves) {
                    (None, false) => None,
                    (None, true) => Some(UPGRADE_POLL),
                    (Some(after), false) => Some(after.saturating_sub(active.elapsed())),
                    (Some(after), true) => {
                        Some(after.saturating_sub(active.elapsed()).min(UPGRADE_POLL))
                    }
                };
                let received = match wait {
                    None => Some(mailbox.receive_signal()),
                    Some(wait) => mailbox.receive_signal_timeout(wait),
                };
                match received {
                    Some(signal) => {
                        if moves && may_move::<S>() == Some(true) {
                            // The new version's code handles it.
                            let pending = match signal {
                                Signal::Message(m) => Pending::Message(m),
                                Signal::Exit { from, reason } => Pending::Exit(from, reason),
                            };
                            move_on(spec, st, Some(pending));
                        }
                        signal
                    }
                    None => {
                        if moves && may_move::<S>() == Some(true) {
                            move_on(spec, st, None);
                        }
                        if idle.is_some_and(|after| active.elapsed() >= after) {
                            sleep(spec, st);
                        }
                        continue;
                    }
                }
            }
        };
        active = Instant::now();
        match signal {
            Signal::Message(SupervisorMsg::WhichChildren(reply)) => {
                reply.send(
                    &st.children
                        .iter()
                        .map(|r| (r.child.name.clone(), r.pid))
                        .collect(),
                );
            }
            Signal::Message(SupervisorMsg::CountRestarts(reply)) => {
                reply.send(&st.restarts);
            }
            Signal::Message(SupervisorMsg::Stop(reply)) => {
                stop_children(&mut st, 0);
                reply.send(&());
                return;
            }
            Signal::Exit { from, reason } => child_exited(&mut st, from, reason),
        }
    }
}

fn start_child(st: &mut State, i: usize) -> Result<(), SpawnError> {
    let child = &st.children[i].child;
    let pid = (child.start)()?;
    if let Some(bound) = child.mailbox
        && let Err(e) = crate::bound::set(pid, Some(bound))
        && e.kind() != std::io::ErrorKind::NotFound
    {
        // Ours and alive (or just ended: NotFound): only a refused bound lands here, which a
        // `MailboxBound` cannot be. The child is not left running unbounded.
        Process::<()>::from_pid(pid).kill();
        return Err(SpawnError::BadOptions);
    }
    st.children[i].pid = Some(pid);
    Ok(())
}

/// Stop every running child from index `from` on, last started first.
fn stop_children(st: &mut State, from: usize) {
    for j in (from..st.children.len()).rev() {
        stop_child(st, j);
    }
}

/// Stop child `j` if it runs, by its [`Shutdown`], and wait until it is gone.
fn stop_child(st: &mut State, j: usize) {
    if let Some(pid) = st.children[j].pid.take() {
        let p: Process<()> = Process::from_pid(pid);
        p.unlink();
        let monitor: Monitor = p.monitor();
        match st.children[j].child.shutdown {
            Shutdown::BrutalKill => {
                p.kill();
                monitor.wait();
            }
            Shutdown::Timeout(t) => {
                p.exit(&ExitReason::Shutdown);
                if monitor.wait_timeout(t).is_none() {
                    p.kill();
                    monitor.wait();
                }
            }
            Shutdown::Infinity => {
                p.exit(&ExitReason::Shutdown);
                monitor.wait();
            }
        }
        // Its exit signal, if it sent one before the unlink, is queued before the DOWN we
        // just took, so it will be handled soon: a bounded memory of stopped pids suffices.
        let bound = 64.max(2 * st.children.len());
        if st.stopped.len() >= bound {
            st.stopped.remove(0);
        }
        st.stopped.push(pid);
    }
}

fn child_exited(st: &mut State, from: Pid, reason: ExitReason) {
    if let Some(k) = st.stopped.iter().position(|&p| p == from) {
        st.stopped.swap_remove(k);
        return;
    }
    let Some(i) = st.children.iter().position(|r| r.pid == Some(from)) else {
        // Not a current child: the supervisor's parent (or an already stopped child), or the
        // node asking it to stop.
        if reason.is_shutdown() {
            stop_children(st, 0);
            crate::process::exit(ExitReason::Shutdown);
        }
        if !reason.is_normal() && !matches!(reason, ExitReason::NoProc) {
            // A linked non-child failed: fail with it, as Erlang's supervisors do.
            stop_children(st, 0);
            panic!("supervisor: linked process {from} exited: {reason}");
        }
        return;
    };
    st.children[i].pid = None;
    let restart = match st.children[i].child.restart {
        Restart::Permanent => true,
        // An ordered stop is not a failure (OTP: `shutdown` does not restart a transient).
        Restart::Transient => !reason.is_normal() && !reason.is_shutdown(),
        Restart::Temporary => false,
    };
    if !restart {
        if st.children[i].child.restart == Restart::Temporary {
            st.children.remove(i);
        }
        return;
    }
    let now = Instant::now();
    while st
        .recent
        .front()
        .is_some_and(|t| now.duration_since(*t) > st.period)
    {
        st.recent.pop_front();
    }
    st.recent.push_back(now);
    if st.recent.len() > st.max_restarts {
        stop_children(st, 0);
        panic!(
            "supervisor: restart intensity exceeded: more than {} restarts in {:?} (last: child {:?} exited: {reason})",
            st.max_restarts, st.period, st.children[i].child.name
        );
    }
    st.restarts += 1;
    #[cfg(feature = "log")]
    log::warn!(
        target: "warren::supervisor",
        "child {:?} (process {from}) exited: {reason}; restarting ({:?})",
        st.children[i].child.name,
        st.strategy
    );
    let first = match st.strategy {
        Strategy::OneForOne => i,
        Strategy::OneForAll => 0,
        Strategy::RestForOne => i,
    };
    let last = match st.strategy {
        Strategy::OneForOne => i + 1,
        _ => st.children.len(),
    };
    // Stop the siblings that restart with it, last started first (the failed one is gone).
    for j in (first..last).rev() {
        stop_child(st, j);
    }
    for j in first..last {
        if let Err(e) = start_child(st, j) {
            stop_children(st, 0);
            panic!(
                "supervisor: cannot restart child {:?}: {e}",
                st.children[j].child.name
            );
        }
    }
}

/// Declare a supervisor type (a [`Supervise`] implementation of this module, not generic) as
/// a resume point, so its supervisors move to a newly loaded version of the program (see
/// the module docs, "Hot code upgrade"):
///
/// ```no_run
/// use serde::{Deserialize, Serialize};
/// use warren::supervisor::{Child, Supervise};
///
/// #[derive(Serialize, Deserialize)]
/// struct Tree;
///
/// impl Supervise for Tree {
///     fn children(&self) -> Vec<Child> {
///         Vec::new()
///     }
/// }
/// warren::supervisor_resume_point!(Tree);
/// ```
#[macro_export]
macro_rules! supervisor_resume_point {
    ($supervisor:ident) => {
        const _: () = {
            #[unsafe(export_name = concat!(
                                "warren_resume:warren::supervisor::wake<", module_path!(), "::",
                                stringify!($supervisor), ">"
                            ))]
            extern "C" fn warren_resume(args_len: u32) {
                $crate::__resume(
                    args_len,
                    concat!(
                        "warren::supervisor::wake<",
                        module_path!(),
                        "::",
                        stringify!($supervisor),
                        ">"
                    ),
                    $crate::supervisor::wake::<$supervisor>,
                    |_: &[u8]| None,
                )
            }
        };
    };
}
