//! How processes of one node act on one another — links, monitors, exit signals, kills and
//! messages — asserted inside the guest: `tests/semantics` is a `warren::tests!` program
//! (each test a process of its own; a failed assertion is reported with its panic), and this
//! test runs it under `warren run` and reads its report. The expectations live in the guest,
//! once.

mod common;
use common::{guest, run_with_limit, warren};
use std::time::Duration;

#[test]
fn links_monitors_exit_signals_kills_and_messages_behave_as_in_erlang() {
    let run = run_with_limit(
        warren().arg("run").arg(guest("semantics_guest")),
        Duration::from_secs(120),
    );
    assert!(
        run.stdout.contains("test result: ok. 10 passed; 0 failed"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    run.assert_code(0);
}
