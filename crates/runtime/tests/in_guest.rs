//! The `warren::tests!` programs — `tests/semantics` (how processes behave and act on one
//! another) and `tests/resources` (host resources between processes) — run in-process
//! through [`Runtime`], as an embedder would: they need no flag of `warren run`. Each test of
//! a program is a process of its own that asserts inside the guest; the program prints its
//! report (on this test's standard output) and ends with status 0 when every test passed,
//! 101 otherwise — so the root's exit reason is the verdict, and the report says which test
//! failed and why.

#[path = "../../../tests/support/guests.rs"]
mod guests;
use std::time::Duration;
use warren_runtime::{ExitReason, Runtime};

/// Run every test of `guest` in a fresh runtime; all must pass. (`--preinit` is tried
/// through the CLI, which reports a module it could not pre-initialise:
/// crates/cli/tests/semantics.rs.)
fn all_pass(guest: &str) {
    let scheduler = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    scheduler.block_on(async {
        let runtime = Runtime::builder()
            .max_processes(1000)
            .arg(guest)
            .build_file(&guests::guest(guest))
            .unwrap();
        let root = runtime.start().unwrap();
        let verdict = tokio::time::timeout(Duration::from_secs(300), root.exited())
            .await
            .unwrap_or_else(|_| panic!("{guest} did not finish within 5 minutes"));
        assert_eq!(
            verdict,
            ExitReason::Normal,
            "{guest}: a test failed; its report above says which"
        );
        assert_eq!(runtime.shutdown(Duration::from_secs(10)).await, 0);
    });
}

#[test]
fn processes_behave_and_act_on_one_another_as_in_erlang() {
    all_pass("semantics_guest");
}

#[test]
fn resources_move_between_processes_and_live_while_referenced() {
    all_pass("resources_guest");
}
