//! How processes of one node behave and act on one another — links, monitors, exit
//! signals, kills, messages, names, timers, supervisors, and failures that stay where they
//! happen — asserted inside the guest. Each test is a process of its own (`warren::tests!`):
//! a failed assertion ends that test only, with its panic as the reason, and the harness
//! reports every test and exits with 101 if one failed. `crates/cli/tests/semantics.rs` runs
//! it under `warren run` and checks the report.
//!
//! Every act here goes through the runtime's one signal path (`ProcessTable::signal`, which
//! another node's signals reach through `ProcessTable::apply`): these tests are its local
//! half, `crates/cli/tests/cluster.rs` the remote one.

use std::time::Duration;
use warren::{ExitReason, Mailbox, Process, Signal};

mod failures;
mod flow;
mod links;
mod messages;
mod names;
mod supervisors;

use failures::*;
use flow::*;
use links::*;
use messages::*;
use names::*;
use supervisors::*;

/// How long a test waits for what it expects before it fails.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// A process that waits for one message, then ends normally.
fn idle() -> Process<()> {
    warren::spawn!(|m: Mailbox<()>| {
        m.receive();
    })
    .expect("spawn")
}

fn a_monitor_reports_the_exit_reason() {
    let (p, down) = warren::spawn_monitor!(|m: Mailbox<i32>| {
        let code = m.receive();
        warren::exit(ExitReason::Exit(code))
    })
    .expect("spawn");
    assert!(p.send(&7));
    assert_eq!(down.wait_timeout(WAIT), Some(ExitReason::Exit(7)));
}

fn monitoring_a_process_that_is_gone_reports_noproc() {
    let (p, down) = warren::spawn_monitor!(|_m: Mailbox<()>| {}).expect("spawn");
    assert_eq!(down.wait_timeout(WAIT), Some(ExitReason::Normal));
    assert_eq!(p.monitor().wait_timeout(WAIT), Some(ExitReason::NoProc));
}

fn a_cancelled_monitor_brings_no_down_and_another_still_does() {
    let p = idle();
    let first = p.monitor();
    let second = p.monitor();
    first.cancel();
    assert!(p.kill());
    assert_eq!(second.wait_timeout(WAIT), Some(ExitReason::Killed));
}

fn a_link_takes_down_the_other_side_with_the_original_reason() {
    // `middle` links to a process that panics; `middle` does not trap exits, so it ends
    // with `linked(origin, panic)` — and a watcher of `middle` sees that reason.
    let (_middle, down) = warren::spawn_monitor!(|m: Mailbox<()>| {
        let _doomed = warren::spawn_link!(|m: Mailbox<()>| {
            m.receive();
            panic!("boom");
        })
        .expect("spawn");
        _doomed.send(&());
        m.receive();
    })
    .expect("spawn");
    match down.wait_timeout(WAIT) {
        Some(ExitReason::Linked(_, reason)) => {
            assert!(
                matches!(*reason, ExitReason::Panic(ref m) if m.contains("boom")),
                "{reason}"
            )
        }
        other => panic!("expected linked(_, panic), got {other:?}"),
    }
}

fn a_process_trapping_exits_gets_them_as_messages() {
    warren::trap_exit(true);
    let me: Mailbox<()> = Mailbox::this();
    let p = warren::spawn_link!(|m: Mailbox<()>| {
        m.receive();
        warren::exit(ExitReason::Exit(3))
    })
    .expect("spawn");
    p.send(&());
    match me.receive_signal_timeout(WAIT) {
        Some(Signal::Exit { from, reason }) => {
            assert_eq!(from, p.pid());
            assert_eq!(reason, ExitReason::Exit(3));
        }
        _ => panic!("expected an exit signal from {}", p.pid()),
    }
    // A normal exit of a linked process arrives too while trapping.
    let q = warren::spawn_link!(|_m: Mailbox<()>| {}).expect("spawn");
    match me.receive_signal_timeout(WAIT) {
        Some(Signal::Exit { from, reason }) => {
            assert_eq!((from, reason), (q.pid(), ExitReason::Normal));
        }
        _ => panic!("expected the normal exit of {}", q.pid()),
    }
    warren::trap_exit(false);
}

fn linking_to_a_process_that_is_gone_signals_noproc_at_once() {
    warren::trap_exit(true);
    let me: Mailbox<()> = Mailbox::this();
    let (p, down) = warren::spawn_monitor!(|_m: Mailbox<()>| {}).expect("spawn");
    down.wait_timeout(WAIT).expect("the process ends");
    p.link();
    match me.receive_signal_timeout(WAIT) {
        Some(Signal::Exit { from, reason }) => {
            assert_eq!((from, reason), (p.pid(), ExitReason::NoProc));
        }
        _ => panic!("expected noproc from {}", p.pid()),
    }
    warren::trap_exit(false);
}

fn an_unlinked_process_ends_alone() {
    let p = idle();
    p.link();
    p.unlink();
    let down = p.monitor();
    assert!(p.kill());
    assert_eq!(down.wait_timeout(WAIT), Some(ExitReason::Killed));
    // Still here: the link was gone when `p` was killed (this test's process would have
    // ended with `linked(p, killed)` otherwise, and the harness would report it).
}

fn an_exit_signal_ends_a_process_or_reaches_it_as_a_message() {
    // Not trapping: an abnormal reason ends it with linked(sender, reason); normal is ignored.
    let p = idle();
    let down = p.monitor();
    assert!(
        p.exit(&ExitReason::Normal),
        "a normal exit signal is delivered"
    );
    assert!(p.exit(&ExitReason::Exit(9)));
    match down.wait_timeout(WAIT) {
        Some(ExitReason::Linked(from, reason)) => {
            assert_eq!((from, *reason), (warren::this(), ExitReason::Exit(9)));
        }
        other => panic!("expected linked(me, exit(9)), got {other:?}"),
    }
    // Trapping: both arrive as messages, in order. It says when it traps (before that, an
    // abnormal exit signal would end it).
    let me = warren::this();
    let (t, watch) = warren::spawn_monitor!(me; |m: Mailbox<()>| {
        warren::trap_exit(true);
        Process::<()>::from_pid(me).send(&());
        let got: Vec<ExitReason> = (0..2)
            .map(|_| match m.receive_signal() {
                Signal::Exit { reason, .. } => reason,
                Signal::Message(()) => ExitReason::Trap("a message".into()),
            })
            .collect();
        assert_eq!(got, [ExitReason::Normal, ExitReason::Exit(4)]);
    })
    .expect("spawn");
    let ready: Mailbox<()> = Mailbox::this();
    ready
        .receive_timeout(WAIT)
        .expect("the process traps exits");
    assert!(t.exit(&ExitReason::Normal));
    assert!(t.exit(&ExitReason::Exit(4)));
    assert_eq!(watch.wait_timeout(WAIT), Some(ExitReason::Normal));
    // To a process that is gone: false.
    assert!(!t.exit(&ExitReason::Exit(4)));
}

fn a_kill_ends_even_a_process_trapping_exits() {
    let (p, down) = warren::spawn_monitor!(|m: Mailbox<()>| {
        warren::trap_exit(true);
        loop {
            let _ = m.receive_signal();
        }
    })
    .expect("spawn");
    assert!(p.kill());
    assert_eq!(down.wait_timeout(WAIT), Some(ExitReason::Killed));
    assert!(!p.kill(), "killing a process that is gone");
}

fn messages_between_two_processes_keep_their_order() {
    let (p, down) = warren::spawn_monitor!(|m: Mailbox<u32>| {
        for expected in 0..1000 {
            assert_eq!(m.receive(), expected);
        }
    })
    .expect("spawn");
    for i in 0..1000u32 {
        assert!(p.send(&i));
    }
    assert_eq!(down.wait_timeout(WAIT), Some(ExitReason::Normal));
    assert!(!p.send(&0), "a message to a process that is gone");
}

warren::tests!(
    a_monitor_reports_the_exit_reason,
    monitoring_a_process_that_is_gone_reports_noproc,
    a_cancelled_monitor_brings_no_down_and_another_still_does,
    a_link_takes_down_the_other_side_with_the_original_reason,
    a_process_trapping_exits_gets_them_as_messages,
    linking_to_a_process_that_is_gone_signals_noproc_at_once,
    an_unlinked_process_ends_alone,
    an_exit_signal_ends_a_process_or_reaches_it_as_a_message,
    a_kill_ends_even_a_process_trapping_exits,
    messages_between_two_processes_keep_their_order,
    // links.rs
    a_normal_exit_does_not_travel_along_a_link,
    a_trapped_exit_keeps_its_place_among_messages,
    a_link_to_a_process_that_is_gone_ends_a_process_not_trapping_exits,
    a_chain_of_links_fails_as_a_unit_with_the_original_reason,
    // messages.rs
    captures_of_many_shapes_arrive_intact,
    typed_messages_arrive_in_order_and_a_child_needs_no_captures,
    a_receive_times_out_on_an_empty_mailbox_then_gets_a_later_message,
    a_request_picks_its_reply_and_leaves_other_messages_in_order,
    a_message_larger_than_the_receive_buffer_arrives_intact,
    statics_are_per_process,
    // failures.rs
    a_panic_is_the_exit_reason_of_its_process_only,
    traps_end_only_the_process_that_traps,
    a_killed_process_is_gone_and_a_monitor_of_it_says_noproc,
    bad_abi_input_is_an_error_code_or_a_trap_of_the_caller,
    spawn_args_with_no_captures_left_is_an_error_code,
    busy_loops_do_not_starve_other_processes,
    exit_ends_the_caller_with_its_reason_from_any_depth,
    reserved_and_unheld_tags_cannot_be_forged,
    a_message_of_the_wrong_type_ends_the_receiver_with_a_clear_reason,
    // names.rs
    names_are_unique_found_by_others_and_freed_on_death,
    timers_deliver_unless_cancelled_and_a_sleeper_can_be_killed,
    // supervisors.rs
    each_strategy_restarts_exactly_what_it_says,
    a_supervisor_past_its_intensity_ends_with_its_children,
    restart_policies_decide_which_ended_children_come_back,
    a_crashed_inner_supervisor_is_restarted_with_its_workers,
    // flow.rs
    a_blocked_sender_waits_for_room_and_every_message_arrives_in_order,
    a_full_mailbox_that_fails_sends_hands_the_message_back,
    drop_oldest_keeps_the_newest_messages,
    drop_newest_keeps_the_oldest_messages,
    a_full_mailbox_whose_policy_is_to_end_ends_its_process,
    send_timeout_gives_up_on_a_mailbox_that_stays_full,
    a_request_to_a_full_mailbox_fails_or_times_out_unsent,
    a_sender_blocked_on_a_full_mailbox_can_be_killed,
    a_blocked_send_ends_when_the_receiver_dies,
    what_must_not_wait_goes_beyond_the_bound,
    a_process_bounds_only_itself_and_its_children,
    select_waits_for_room_in_any_of_several_mailboxes,
);
