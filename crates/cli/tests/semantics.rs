//! How processes of one node behave and act on one another — links, monitors, exit
//! signals, kills, messages, names, timers, supervisors, contained failures — asserted inside
//! the guest: `tests/semantics` is a `warren::tests!` program (each test a process of its
//! own; a failed assertion is reported with its panic), and these tests run it under
//! `warren run` and read its report. The expectations live in the guest, once.

mod common;
use common::all_tests_pass;

#[test]
fn processes_behave_and_act_on_one_another_as_in_erlang() {
    all_tests_pass(&["--max-processes", "1000"], "semantics_guest");
}

#[test]
fn a_preinitialised_program_behaves_as_it_does_otherwise() {
    // With --preinit the SDK's start-up (panic hook, allocator, receive buffer) ran once at
    // load: processes start from that image, and every test passes as without it.
    let run = all_tests_pass(&["--max-processes", "1000", "--preinit"], "semantics_guest");
    // Not the warning of a module that could not be pre-initialised (and ran without).
    assert!(!run.stderr.contains("pre-initialised"), "{}", run.stderr);
}
