//! Real processes of a real guest (tests/guest): spawning with captures, messages, timeouts,
//! request/reply, and processes that fail alone.

mod common;
use common::run_guest;

fn scenario(name: &str) -> common::Run {
    let run = run_guest(&["--max-processes", "1000"], "test_guest", &[name]);
    run.assert_code(0);
    run
}

#[test]
fn captures_arrive_intact() {
    scenario("captures")
        .assert_stdout_has("captures equal: true")
        .assert_stdout_has("big sum: 1249975000 len: 50000");
}

#[test]
fn typed_messages_arrive_in_order() {
    let run = scenario("messages");
    assert_eq!(
        run.stdout_lines(),
        [
            "got Text(\"hello\")",
            "got Number(-42)",
            "got Bytes([1, 2, 3])",
            "no-capture child true exited: normal"
        ]
    );
}

#[test]
fn receive_timeout_expires_then_delivers() {
    assert_eq!(
        scenario("receive_timeout").stdout_lines(),
        ["empty: None", "later: Some(5)"]
    );
}

#[test]
fn request_reply_is_selective_and_keeps_order() {
    assert_eq!(
        scenario("request_reply").stdout_lines(),
        [
            "answer: Ok(42)",
            "then: first",
            "then: second",
            "ignored: Err(Timeout)",
            "dead: true",
            "left over: None"
        ]
    );
}

#[test]
fn child_panic_is_its_exit_reason_and_parent_goes_on() {
    scenario("child_panic")
        .assert_stdout_has("child: panic: boom 42 at tests/guest/src/main.rs:")
        .assert_stdout_has("parent still running: 1");
}

#[test]
fn child_traps_are_contained() {
    scenario("child_trap")
        .assert_stdout_has(
            "unreachable child: trap: wasm trap: wasm `unreachable` instruction executed",
        )
        .assert_stdout_has("out-of-bounds child: trap: wasm trap: out of bounds memory access")
        .assert_stdout_has("parent still running: true");
}

#[test]
fn memory_limit_kills_only_the_bomb() {
    let run = run_guest(
        &["--max-memory", "16M"],
        "test_guest",
        &["child_memory_bomb"],
    );
    run.assert_code(0)
        .assert_stdout_has("bomb: true")
        .assert_stdout_has("reason: limit: memory: growing linear memory to");
}

#[test]
fn kill_and_monitor_of_dead_process() {
    assert_eq!(
        scenario("kill").stdout_lines(),
        [
            "kill: true",
            "reason: killed",
            "kill again: false",
            "monitor dead: noproc"
        ]
    );
}

#[test]
fn spawn_stops_at_the_process_limit_and_runtime_stays_responsive() {
    let run = run_guest(&["--max-processes", "6"], "test_guest", &["spawn_limit"]);
    run.assert_code(0);
    assert_eq!(
        run.stdout_lines(),
        ["spawned before the limit: 5", "after freeing one: normal"]
    );
}

#[test]
fn running_out_of_instance_slots_names_the_flag_that_is_the_limit() {
    let run = run_guest(
        &["--max-processes", "100", "--max-instances", "5"],
        "test_guest",
        &["instance_limit"],
    );
    run.assert_code(0)
        .assert_stdout_has("a child ended: limit: processes: cannot create process");
    let line = run.line("a child ended:");
    assert!(
        line.contains("all 5 instance slots are taken") && line.contains("--max-instances"),
        "{line}"
    );
    assert!(!line.contains("max_map_count"), "{line}");
}

#[test]
fn statics_are_per_process() {
    assert_eq!(
        scenario("statics").stdout_lines(),
        ["child sees 0", "parent sees 41"]
    );
}

#[test]
fn a_preinitialised_program_behaves_as_it_does_otherwise() {
    // With --preinit the SDK's start-up (panic hook, allocator, receive buffer) ran once at
    // load: processes start from that image, and everything works as without it.
    for name in [
        "captures",
        "messages",
        "child_panic",
        "statics",
        "request_reply",
        "large_message",
        "links",
    ] {
        let plain = scenario(name);
        let pre = run_guest(
            &["--max-processes", "1000", "--preinit"],
            "test_guest",
            &[name],
        );
        pre.assert_code(0);
        assert!(
            !pre.stderr.contains("pre-initialised"),
            "{name}: {}",
            pre.stderr
        );
        assert_eq!(pre.stdout_lines(), plain.stdout_lines(), "{name}");
    }
}

#[test]
fn large_message_takes_the_pending_path_intact() {
    scenario("large_message").assert_stdout_has("large: 3000000 bytes intact: true");
}

#[test]
fn bad_abi_input_is_an_error_code_or_a_trap_of_the_caller() {
    let run = scenario("bad_abi");
    run.assert_stdout_has("send to unknown pid: -2")
        .assert_stdout_has("send to negative pid: -2")
        .assert_stdout_has("take with nothing pending: -3")
        .assert_stdout_has("spawn_args in root: -3")
        .assert_stdout_has("kill unknown: -2")
        .assert_stdout_has("send out of bounds: trap: warren:message.send: buffer at 0xffff0000 of 1048576 bytes is outside linear memory")
        .assert_stdout_has("receive into out-of-bounds buffer: trap: warren:message.receive: buffer at 0xfffffff0")
        .assert_stdout_has("spawn with out-of-bounds captures: trap: warren:process.spawn: buffer at 0xfffffff0")
        .assert_stdout_has("garbage child: trap: wasm trap: undefined element")
        .assert_stdout_has("spawn with garbage table indices: normal")
        .assert_stdout_has("parent still running: true");
}

#[test]
fn busy_loops_do_not_starve_other_processes() {
    let run = scenario("preemption");
    assert_eq!(
        run.stdout_lines(),
        [
            "round trips: 10000",
            "busy loop: killed",
            "busy loop: killed",
            "busy loop: killed",
            "busy loop: killed"
        ]
    );
}

#[test]
fn registry_names_are_unique_found_and_freed_on_death() {
    assert_eq!(
        scenario("registry").stdout_lines(),
        [
            "taken: Err(Taken)",
            "empty name: Err(BadName)",
            "long name: Err(BadName)",
            "worker up",
            "whereis worker is the worker: true",
            "after death: None",
            "dead pid: Err(NoProcess)",
            "unregister main: true",
            "unregister twice: false",
            "whereis main: None",
        ]
    );
}

#[test]
fn timers_deliver_cancel_and_sleep() {
    assert_eq!(
        scenario("timers").stdout_lines(),
        [
            "cancel: true",
            "first: 0",
            "second: 1",
            "nothing else: None",
            "third: 3",
            "cancel after firing: false",
            "slept at least 30 ms: true",
            "sleeper: killed",
        ]
    );
}

#[test]
fn links_propagate_trap_exit_and_kill() {
    assert_eq!(
        scenario("links").stdout_lines(),
        [
            "untrapped: linked process _ exited: panic: child failed",
            "normal exit leaves the parent alive: true",
            "then it ends: normal",
            "trapped: message 7, then exit from the child: true, reason: panic: trapped failure",
            "trapping process ends normally: normal",
            "unlinked: normal",
            "link to dead: linked process _ exited: noproc",
            "kill a trapping process: killed",
            "chain: linked process _ exited: trap: wasm trap: wasm `unreachable` instruction executed (in core::ops::function::FnOnce::call_once <- warren::entry::trampoline <- warren_entry)",
        ]
    );
}

#[test]
fn supervisors_restart_exactly_what_their_strategy_says() {
    assert_eq!(
        scenario("supervisor").stdout_lines(),
        [
            "OneForOne: restarted [\"b\"], restarts Some(1)",
            "OneForOne: stop ends the children: true",
            "OneForAll: restarted [\"a\", \"b\", \"c\"], restarts Some(1)",
            "OneForAll: stop ends the children: true",
            "RestForOne: restarted [\"b\", \"c\"], restarts Some(1)",
            "RestForOne: stop ends the children: true",
            "intensity: supervisor exits: true",
            "intensity: its children are gone: true",
            "policies: [\"transient:stopped\", \"permanent:running\"]",
            "nested: worker w kept: true",
            "nested: inner workers restarted: [\"a\", \"b\", \"c\"]",
            "nested: all gone after stop: true",
        ]
    );
}

#[test]
fn compute_budget_ends_only_the_busy_process() {
    let run = run_guest(&["--max-fuel", "50000000"], "test_guest", &["compute_bomb"]);
    run.assert_code(0);
    assert_eq!(
        run.stdout_lines(),
        [
            "bomb: limit: compute: the process used up its fuel budget",
            "parent still running: true"
        ]
    );
}

#[test]
fn exit_with_a_reason_and_exit_signals() {
    assert_eq!(
        scenario("exit").stdout_lines(),
        [
            "exit normal: normal",
            "exit code: exit(3)",
            "propagated: linked process _ exited: panic: giving up",
            "signal sent: true",
            "trapped exit signal from root: panic: stop",
            "trapper: normal",
            "normal signal ignored: None",
            "abnormal signal: linked process _ exited: limit: quota",
        ]
    );
}

#[test]
fn limits_per_spawn() {
    let without_fuel = scenario("spawn_limits");
    assert_eq!(
        without_fuel.stdout_lines(),
        [
            "small memory: true",
            "more than the runtime: Some(BadOptions)",
            "fuel: BadOptions",
            "more fuel than the runtime: Some(BadOptions)"
        ]
    );
    let with_fuel = run_guest(
        &["--max-fuel", "100000000000"],
        "test_guest",
        &["spawn_limits"],
    );
    with_fuel.assert_code(0);
    assert_eq!(
        with_fuel.stdout_lines()[2..],
        [
            "fuel: limit: compute: the process used up its fuel budget",
            "more fuel than the runtime: Some(BadOptions)"
        ]
    );
}

#[test]
fn a_hibernating_process_keeps_its_messages_name_handles_timers_links_and_monitors() {
    // The checks are asserts inside the guest (tests/guest/src/hibernate.rs): a failed one
    // ends the root with its message instead of this line.
    scenario("hibernate")
        .assert_stdout_has("hibernate: messages, name, handle, timer, link and monitor kept");
}

#[test]
fn a_process_per_connection_hibernates_until_its_socket_has_data() {
    scenario("hibernate_socket")
        .assert_stdout_has("hibernate_socket: woken by its socket twice, ended at the peer's end");
}

#[test]
fn a_supervisor_with_hibernate_after_keeps_its_state_across_hibernations() {
    scenario("hibernate_supervisor").assert_stdout_has(
        "hibernate_supervisor: children, restarts and their history kept across hibernations",
    );
}
