//! `tests/semantics` — how processes behave and act on one another, asserted inside the guest
//! (a `warren::tests!` program) — under `warren run --preinit`: the module's start-up ran
//! once at load and every process starts from that image. (Without `--preinit` the program
//! runs in-process through the library: crates/runtime/tests/in_guest.rs.) This test reads the
//! harness's report, and the CLI's warnings: a module that could not be pre-initialised would
//! run without, and say so.

mod common;
use common::all_tests_pass;

#[test]
fn a_preinitialised_program_behaves_as_it_does_otherwise() {
    // With --preinit the SDK's start-up (panic hook, allocator, receive buffer) ran once at
    // load: processes start from that image, and every test passes as without it.
    let run = all_tests_pass(&["--max-processes", "1000", "--preinit"], "semantics_guest");
    // Not the warning of a module that could not be pre-initialised (and ran without).
    assert!(!run.stderr.contains("pre-initialised"), "{}", run.stderr);
}
