//! Links beyond the basics in `main.rs`: a normal exit does not travel, a trapped exit keeps
//! its place among ordinary messages, a link to a process that is gone ends a process that
//! does not trap exits, and a chain of links fails as a unit with the original reason.

use crate::WAIT;
use std::time::Duration;
use warren::{ExitReason, Mailbox, Process, Signal};

pub(crate) fn a_normal_exit_does_not_travel_along_a_link() {
    let me: Process<bool> = Process::this();
    let mailbox: Mailbox<bool> = Mailbox::this();
    let (_p, down) = warren::spawn_monitor!(me; |mb: Mailbox<()>| {
        warren::spawn_link!(|_m: Mailbox<()>| {}).expect("spawn");
        let alive = mb.receive_timeout(Duration::from_millis(50)).is_none();
        me.send(&alive);
    })
    .expect("spawn");
    assert_eq!(
        mailbox.receive_timeout(WAIT),
        Some(true),
        "the parent lives on"
    );
    assert_eq!(down.wait_timeout(WAIT), Some(ExitReason::Normal));
}

pub(crate) fn a_trapped_exit_keeps_its_place_among_messages() {
    warren::trap_exit(true);
    let me: Process<u32> = Process::this();
    let mb: Mailbox<u32> = Mailbox::this();
    me.send(&7);
    let child = warren::spawn_link!(|_m: Mailbox<()>| panic!("trapped failure")).expect("spawn");
    match mb.receive_signal_timeout(WAIT) {
        Some(Signal::Message(7)) => {}
        other => panic!("expected the message 7 first, got {other:?}"),
    }
    match mb.receive_signal_timeout(WAIT) {
        Some(Signal::Exit { from, reason }) => {
            assert_eq!(from, child.pid());
            assert!(
                matches!(reason, ExitReason::Panic(ref m) if m.starts_with("trapped failure at ")),
                "{reason}"
            );
        }
        other => panic!("expected the child's exit, got {other:?}"),
    }
    warren::trap_exit(false);
}

pub(crate) fn a_link_to_a_process_that_is_gone_ends_a_process_not_trapping_exits() {
    let (dead, d) = warren::spawn_monitor!(|_m: Mailbox<()>| {}).expect("spawn");
    d.wait_timeout(WAIT).expect("the process ends");
    let (_p, down) = warren::spawn_monitor!(dead; |mb: Mailbox<()>| {
        dead.link();
        mb.receive();
    })
    .expect("spawn");
    assert_eq!(
        down.wait_timeout(WAIT),
        Some(ExitReason::Linked(dead.pid(), Box::new(ExitReason::NoProc)))
    );
}

pub(crate) fn a_chain_of_links_fails_as_a_unit_with_the_original_reason() {
    // a - b - c: c traps; b and then a end with c's reason.
    let (_a, down) = warren::spawn_monitor!(|mb: Mailbox<()>| {
        warren::spawn_link!(|mb: Mailbox<()>| {
            warren::spawn_link!(|_m: Mailbox<()>| std::arch::wasm32::unreachable()).expect("spawn");
            mb.receive();
        })
        .expect("spawn");
        mb.receive();
    })
    .expect("spawn");
    match down.wait_timeout(WAIT) {
        Some(ExitReason::Linked(_, reason)) => assert_eq!(
            reason.to_string(),
            "trap: wasm trap: wasm `unreachable` instruction executed \
             (in core::ops::function::FnOnce::call_once <- warren::entry::trampoline <- warren_entry)"
        ),
        other => panic!("expected linked(c, trap), got {other:?}"),
    }
}
