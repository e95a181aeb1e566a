//! Processes under `warren run`'s limits — memory, process count, instance slots, fuel — and
//! hibernation, each a scenario of tests/guest that asserts inside the guest: a failed
//! expectation ends its root with the assertion's message, so these tests check the exit code
//! and the line the scenario prints when it got what it expected. How processes behave
//! whatever the flags is tests/semantics (crates/cli/tests/semantics.rs).

mod common;
use common::run_guest;

/// Run a scenario with these flags; it must end normally.
fn scenario(flags: &[&str], args: &[&str]) -> common::Run {
    let run = run_guest(flags, "test_guest", args);
    run.assert_code(0);
    run
}

#[test]
fn memory_limit_kills_only_the_bomb() {
    scenario(&["--max-memory", "16M"], &["child_memory_bomb"])
        .assert_stdout_has("memory bomb ended alone: limit: memory:");
}

#[test]
fn spawn_stops_at_the_process_limit_and_runtime_stays_responsive() {
    scenario(&["--max-processes", "6"], &["spawn_limit", "6"])
        .assert_stdout_has("spawn limit held at 6 and freed");
}

#[test]
fn running_out_of_instance_slots_names_the_flag_that_is_the_limit() {
    scenario(
        &["--max-processes", "100", "--max-instances", "5"],
        &["instance_limit", "5"],
    )
    .assert_stdout_has("a child ended: limit: processes: cannot create process");
}

#[test]
fn compute_budget_ends_only_the_busy_process() {
    scenario(&["--max-fuel", "50000000"], &["compute_bomb"])
        .assert_stdout_has("compute bomb ended alone");
}

#[test]
fn limits_per_spawn() {
    scenario(&[], &["spawn_limits"]).assert_stdout_has("spawn limits held (counting fuel: false)");
    scenario(&["--max-fuel", "100000000000"], &["spawn_limits", "fuel"])
        .assert_stdout_has("spawn limits held (counting fuel: true)");
}

#[test]
fn a_hibernating_process_keeps_its_messages_name_handles_timers_links_and_monitors() {
    scenario(&["--max-processes", "1000"], &["hibernate"])
        .assert_stdout_has("hibernate: messages, name, handle, timer, link and monitor kept");
}

#[test]
fn a_process_per_connection_hibernates_until_its_socket_has_data() {
    scenario(&["--max-processes", "1000"], &["hibernate_socket"])
        .assert_stdout_has("hibernate_socket: woken by its socket twice, ended at the peer's end");
}

#[test]
fn a_supervisor_with_hibernate_after_keeps_its_state_across_hibernations() {
    scenario(&["--max-processes", "1000"], &["hibernate_supervisor"]).assert_stdout_has(
        "hibernate_supervisor: children, restarts and their history kept across hibernations",
    );
}
