//! Supervisors restart exactly what their strategy says, give up past their intensity,
//! follow each child's restart policy, and nest.

use crate::WAIT;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use warren::supervisor::{self, Child, Restart, Strategy, Supervise, Supervisor};
use warren::{ExitReason, Mailbox, Monitor, Process};

#[derive(Serialize, Deserialize, Clone)]
struct Tree {
    strategy: Strategy,
    max_restarts: usize,
}

fn idle_worker(_: (), mailbox: Mailbox<()>) {
    loop {
        mailbox.receive();
    }
}

/// A worker that ends normally on its first message.
fn one_shot_worker(_: (), mailbox: Mailbox<()>) {
    mailbox.receive();
}

impl Supervise for Tree {
    fn children(&self) -> Vec<Child> {
        ["a", "b", "c"]
            .into_iter()
            .map(|n| Child::worker(n, Restart::Permanent, (), idle_worker))
            .collect()
    }
    fn strategy(&self) -> Strategy {
        self.strategy
    }
    fn max_restarts(&self) -> usize {
        self.max_restarts
    }
    fn period(&self) -> Duration {
        Duration::from_secs(60)
    }
}

#[derive(Serialize, Deserialize, Clone)]
struct Policies;

impl Supervise for Policies {
    fn children(&self) -> Vec<Child> {
        vec![
            Child::worker("transient", Restart::Transient, (), one_shot_worker),
            Child::worker("temporary", Restart::Temporary, (), idle_worker),
            Child::worker("permanent", Restart::Permanent, (), one_shot_worker),
        ]
    }
}

#[derive(Serialize, Deserialize, Clone)]
struct Outer;

impl Supervise for Outer {
    fn children(&self) -> Vec<Child> {
        vec![
            Child::worker("w", Restart::Permanent, (), idle_worker),
            Child::supervisor(
                "inner",
                Restart::Permanent,
                Tree {
                    strategy: Strategy::OneForOne,
                    max_restarts: 5,
                },
            ),
        ]
    }
}

type Children = Vec<(String, Option<u64>)>;

fn children_of(sup: &Supervisor) -> Children {
    supervisor::which_children(sup).expect("supervisor alive")
}

fn pid_of(children: &[(String, Option<u64>)], name: &str) -> Option<u64> {
    children
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, p)| *p)
}

/// Wait until `done` holds for the supervisor's children (polling: a restart is not a
/// message to us), and return them.
fn children_when(sup: &Supervisor, what: &str, done: impl Fn(&Children) -> bool) -> Children {
    for _ in 0..5000 {
        let now = children_of(sup);
        if done(&now) {
            return now;
        }
        warren::sleep(Duration::from_millis(2));
    }
    panic!("{what}: not within 10 s; children: {:?}", children_of(sup));
}

/// Kill child `name` and wait until the supervisor reports it running again.
fn kill_and_wait(sup: &Supervisor, name: &str) -> Children {
    let before = pid_of(&children_of(sup), name).expect("child running");
    Process::<()>::from_pid(before).kill();
    children_when(sup, &format!("{name} restarted"), |now| {
        pid_of(now, name).is_some_and(|p| p != before)
    })
}

fn restarted(before: &[(String, Option<u64>)], after: &[(String, Option<u64>)]) -> Vec<String> {
    before
        .iter()
        .zip(after)
        .filter(|(b, a)| b.1 != a.1)
        .map(|(b, _)| b.0.clone())
        .collect()
}

fn monitors(children: &[(String, Option<u64>)]) -> Vec<Monitor> {
    children
        .iter()
        .filter_map(|(_, p)| *p)
        .map(|p| Process::<()>::from_pid(p).monitor())
        .collect()
}

pub(crate) fn each_strategy_restarts_exactly_what_it_says() {
    for (strategy, expected) in [
        (Strategy::OneForOne, &["b"][..]),
        (Strategy::OneForAll, &["a", "b", "c"][..]),
        (Strategy::RestForOne, &["b", "c"][..]),
    ] {
        let sup = supervisor::start(Tree {
            strategy,
            max_restarts: 5,
        })
        .expect("start");
        let before = children_of(&sup);
        let after = kill_and_wait(&sup, "b");
        assert_eq!(restarted(&before, &after), expected, "{strategy:?}");
        assert_eq!(supervisor::count_restarts(&sup), Some(1), "{strategy:?}");
        let old = monitors(&after);
        supervisor::stop(&sup);
        // Stopped by their shutdown spec: the exit signal `shutdown`, which ends a child
        // that does not trap exits at once.
        for m in old {
            assert_eq!(
                m.wait_timeout(WAIT),
                Some(ExitReason::Shutdown),
                "{strategy:?}"
            );
        }
    }
}

pub(crate) fn a_supervisor_past_its_intensity_ends_with_its_children() {
    let sup = supervisor::start(Tree {
        strategy: Strategy::OneForOne,
        max_restarts: 2,
    })
    .expect("start");
    let sup_down = sup.monitor();
    kill_and_wait(&sup, "a");
    kill_and_wait(&sup, "a");
    let children = children_of(&sup);
    let watched = monitors(&children);
    Process::<()>::from_pid(pid_of(&children, "a").expect("a runs")).kill();
    let reason = sup_down
        .wait_timeout(WAIT)
        .expect("the supervisor ends")
        .to_string();
    assert!(
        reason.contains("restart intensity exceeded: more than 2 restarts"),
        "{reason}"
    );
    for m in watched {
        // `a` killed here, the others stopped by the supervisor with `shutdown`.
        let r = m.wait_timeout(WAIT);
        assert!(
            matches!(r, Some(ExitReason::Killed | ExitReason::Shutdown)),
            "{r:?}"
        );
    }
}

pub(crate) fn restart_policies_decide_which_ended_children_come_back() {
    let sup = supervisor::start(Policies).expect("start");
    let c = children_of(&sup);
    let transient = Process::<()>::from_pid(pid_of(&c, "transient").expect("running"));
    let t_down = transient.monitor();
    transient.send(&()); // ends normally: not restarted
    t_down.wait_timeout(WAIT).expect("transient ends");
    Process::<()>::from_pid(pid_of(&c, "temporary").expect("running")).kill(); // never back
    let permanent = pid_of(&c, "permanent").expect("running");
    Process::<()>::from_pid(permanent).send(&()); // ends normally: restarted anyway
    let after = children_when(&sup, "permanent back, temporary gone", |now| {
        pid_of(now, "permanent").is_some_and(|p| p != permanent) && now.len() == 2
    });
    let shown: Vec<(&str, bool)> = after
        .iter()
        .map(|(n, p)| (n.as_str(), p.is_some()))
        .collect();
    assert_eq!(shown, [("transient", false), ("permanent", true)]);
    supervisor::stop(&sup);
}

pub(crate) fn a_crashed_inner_supervisor_is_restarted_with_its_workers() {
    let outer = supervisor::start(Outer).expect("start");
    let outer_before = children_of(&outer);
    let inner: Supervisor = Process::from_pid(pid_of(&outer_before, "inner").expect("running"));
    let inner_children = children_of(&inner);
    let after = kill_and_wait(&outer, "inner");
    let new_inner: Supervisor = Process::from_pid(pid_of(&after, "inner").expect("running"));
    let new_children = children_of(&new_inner);
    assert_eq!(pid_of(&after, "w"), pid_of(&outer_before, "w"), "w kept");
    assert_eq!(restarted(&inner_children, &new_children), ["a", "b", "c"]);
    supervisor::stop(&outer);
    assert!(supervisor::which_children(&new_inner).is_none(), "all gone");
}
