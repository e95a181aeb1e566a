//! Graceful shutdown scenarios (crates/cli/tests/shutdown.rs sends the signals):
//!
//! - `shutdown_tree`: the main process links a supervision tree and waits. On SIGTERM the
//!   runtime sends it `shutdown`; it ends, the supervisor (trapping exits) stops its
//!   children last started first, each by its shutdown spec. Children print when they stop
//!   (with the wall clock in ms, so the test can see a timeout was waited for).
//! - `shutdown_ignored`: a main process that traps exits and ignores `shutdown`: it is
//!   killed at `--shutdown-timeout`.

use serde::{Deserialize, Serialize};
use std::time::Duration;
use warren::supervisor::{self, Child, Restart, Shutdown, Supervise};
use warren::{ExitReason, Mailbox, Signal};

pub fn run(scenario: &str) -> bool {
    match scenario {
        "shutdown_tree" => tree(),
        "shutdown_ignored" => ignored(),
        _ => return false,
    }
    true
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// A worker that traps exits and, on `shutdown`, says so and ends with it.
fn polite(name: String, mailbox: Mailbox<()>) {
    warren::trap_exit(true);
    println!("{name} up");
    loop {
        if let Signal::Exit { reason, .. } = mailbox.receive_signal()
            && reason.is_shutdown()
        {
            println!("{name} stopping at {}", now_ms());
            warren::exit(ExitReason::Shutdown);
        }
    }
}

/// A worker that traps exits and ignores `shutdown`: its supervisor kills it at its timeout.
fn stubborn(name: String, mailbox: Mailbox<()>) {
    warren::trap_exit(true);
    println!("{name} up");
    loop {
        if let Signal::Exit { reason, .. } = mailbox.receive_signal() {
            println!("{name} ignores {reason} at {}", now_ms());
        }
    }
}

#[derive(Serialize, Deserialize, Clone)]
struct Outer;

impl Supervise for Outer {
    fn children(&self) -> Vec<Child> {
        vec![
            Child::worker("a", Restart::Permanent, "a".to_string(), polite),
            Child::supervisor("inner", Restart::Permanent, Inner),
            Child::worker(
                "stubborn",
                Restart::Permanent,
                "stubborn".to_string(),
                stubborn,
            )
            .shutdown(Shutdown::Timeout(Duration::from_millis(300))),
            Child::worker("c", Restart::Permanent, "c".to_string(), polite),
        ]
    }
}

#[derive(Serialize, Deserialize, Clone)]
struct Inner;

impl Supervise for Inner {
    fn children(&self) -> Vec<Child> {
        vec![
            Child::worker("x", Restart::Permanent, "x".to_string(), polite),
            Child::worker("y", Restart::Transient, "y".to_string(), polite),
        ]
    }
}

fn tree() {
    let tree = supervisor::start_link(Outer).expect("start the tree");
    // The supervisor starts its children before it answers (each prints `up` when it runs).
    let _ = supervisor::which_children(&tree);
    println!("tree up");
    let mailbox: Mailbox<()> = Mailbox::this();
    loop {
        mailbox.receive();
    }
}

fn ignored() {
    warren::trap_exit(true);
    println!("ignoring up");
    let mailbox: Mailbox<()> = Mailbox::this();
    loop {
        if let Signal::Exit { reason, .. } = mailbox.receive_signal() {
            println!("main ignores {reason}");
        }
    }
}
