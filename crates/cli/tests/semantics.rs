//! How processes of one node behave and act on one another — links, monitors, exit
//! signals, kills, messages, names, timers, supervisors, contained failures — asserted inside
//! the guest: `tests/semantics` is a `warren::tests!` program (each test a process of its
//! own; a failed assertion is reported with its panic), and these tests run it under
//! `warren run` and read its report. The expectations live in the guest, once.

mod common;
use common::{guest, run_with_limit, warren};
use std::time::Duration;

/// The number of tests the guest has (its `--list`).
fn count() -> usize {
    let run = run_with_limit(
        warren()
            .arg("run")
            .arg(guest("semantics_guest"))
            .arg("--")
            .arg("--list"),
        Duration::from_secs(60),
    );
    run.assert_code(0);
    let n = run.stdout.lines().filter(|l| l.ends_with(": test")).count();
    assert!(n > 0, "no tests listed: {run:#?}");
    n
}

/// Run every test of the guest with these `warren run` flags; all must pass.
fn all_pass(flags: &[&str]) -> common::Run {
    let expected = format!("test result: ok. {} passed; 0 failed", count());
    let run = run_with_limit(
        warren()
            .arg("run")
            .args(flags)
            .arg(guest("semantics_guest")),
        Duration::from_secs(180),
    );
    assert!(
        run.stdout.contains(&expected),
        "expected {expected:?}\n{}\n{}",
        run.stdout,
        run.stderr
    );
    run.assert_code(0);
    run
}

#[test]
fn processes_behave_and_act_on_one_another_as_in_erlang() {
    all_pass(&["--max-processes", "1000"]);
}

#[test]
fn a_preinitialised_program_behaves_as_it_does_otherwise() {
    // With --preinit the SDK's start-up (panic hook, allocator, receive buffer) ran once at
    // load: processes start from that image, and every test passes as without it.
    let run = all_pass(&["--max-processes", "1000", "--preinit"]);
    // Not the warning of a module that could not be pre-initialised (and ran without).
    assert!(!run.stderr.contains("pre-initialised"), "{}", run.stderr);
}
