//! Each host module's calls, driven by small hand-written guests: what is an error code, what
//! traps (docs/abi.md, "Error code or trap: one rule"), and that every failure leaves its text
//! for `warren:resource.last_error`, naming the call.
//!
//! A guest asserts the codes itself (`$expect` traps on a mismatch, naming nothing: the
//! assertion is the line the test points at) and sends the host the `last_error` texts it
//! is asked to (`$report`), which the test then checks.

use std::time::Duration;
use warren_runtime::{ExitReason, Runtime};

/// Imports and helpers every guest has: `$expect(got, want)` and `$report` (sends the host
/// the current `last_error` text).
const PRELUDE: &str = r#"
  (import "warren:registry" "whereis" (func $whereis (param i32 i32) (result i64)))
  (import "warren:message" "send" (func $send (param i64 i64 i32 i32) (result i32)))
  (import "warren:resource" "last_error" (func $last_error (param i32 i32) (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 0) "host")
  (func $expect (param i64 i64) (if (i64.ne (local.get 0) (local.get 1)) (then unreachable)))
  (func $expect32 (param i32 i32) (if (i32.ne (local.get 0) (local.get 1)) (then unreachable)))
  (func $report
    (local $n i32)
    (local.set $n (i32.wrap_i64 (call $last_error (i32.const 50000) (i32.const 8000))))
    (drop (call $send (call $whereis (i32.const 0) (i32.const 4)) (i64.const 0)
                      (i32.const 50000) (local.get $n))))
"#;

/// Run a guest made of `PRELUDE`, `imports` and `_start`'s `body`; its exit reason and the
/// texts it reported.
fn run(imports: &str, body: &str) -> (ExitReason, Vec<String>) {
    let wat = format!("(module {imports} {PRELUDE} (func (export \"_start\") {body}))");
    let tokio = warren_runtime::scheduler().unwrap();
    tokio.block_on(async {
        let runtime = Runtime::builder()
            .max_processes(16)
            .max_memory(1 << 20)
            .build_bytes(wat.as_bytes())
            .unwrap_or_else(|e| panic!("{e}\n{wat}"));
        let host = runtime.host_mailbox().unwrap();
        host.register("host").unwrap();
        let reason = runtime.start().unwrap().exited().await;
        let mut reports = Vec::new();
        while let Some(bytes) = host.receive_bytes(Some(Duration::ZERO)).await {
            reports.push(String::from_utf8(bytes).unwrap());
        }
        runtime.shutdown(Duration::from_secs(5)).await;
        (reason, reports)
    })
}

/// Run a guest whose `_start` is `body`; it must trap with a message containing `expected`.
fn traps(imports: &str, body: &str, expected: &str) {
    match run(imports, body).0 {
        ExitReason::Trap(text) => assert!(text.contains(expected), "{text}"),
        other => panic!("expected a trap containing {expected:?}, the guest ended with {other}"),
    }
}

/// Each report starts with the first `*`-separated piece of its pattern and holds the
/// others in order.
fn assert_reports(got: &[String], want: &[&str]) {
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for (g, w) in got.iter().zip(want) {
        let mut pieces = w.split('*');
        let first = pieces.next().unwrap_or("");
        assert!(g.starts_with(first), "{g:?} does not start with {first:?}");
        let mut rest = &g[first.len()..];
        for p in pieces {
            let i = rest
                .find(p)
                .unwrap_or_else(|| panic!("{g:?} does not match {w:?}"));
            rest = &rest[i + p.len()..];
        }
    }
}

const PROCESS: &str = r#"
  (import "warren:process" "spawn" (func $spawn (param i32 i32 i32 i32 i64 i32 i64 i64) (result i64)))
  (import "warren:process" "monitor" (func $monitor (param i64) (result i64)))
  (import "warren:process" "link" (func $link (param i64) (result i32)))
  (import "warren:process" "kill" (func $kill (param i64) (result i32)))
  (import "warren:process" "exit" (func $exit (param i32 i32)))
  (import "warren:process" "exit_signal" (func $exit_signal (param i64 i32 i32) (result i32)))
  (import "warren:process" "spawn_args" (func $spawn_args (param i32 i32) (result i32)))
  (import "warren:process" "spawn_bound" (func $spawn_bound (param i64 i64 i32) (result i32)))
  (import "warren:process" "hibernate_watch" (func $hibernate_watch (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "warren:stream" "pipe" (func $pipe (param i32) (result i32)))
  (import "warren:message" "attach" (func $attach (param i32 i32) (result i32)))
  (data (i32.const 100) "\00")"#;

#[test]
fn process_calls_answer_codes_for_bad_values_and_trap_for_bad_encodings() {
    let (reason, reports) = run(
        PROCESS,
        r#"
        ;; unknown spawn flags, a negative limit, a monitor tag never made: ERR_BAD_ARGUMENT
        (call $expect (call $spawn (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
                                   (i64.const 0) (i32.const 6) (i64.const 0) (i64.const 0)) (i64.const -3))
        (call $report)
        (call $expect (call $spawn (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
                                   (i64.const 0) (i32.const 0) (i64.const -1) (i64.const 0)) (i64.const -3))
        (call $expect (call $spawn (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
                                   (i64.const 12345) (i32.const 0) (i64.const 0) (i64.const 0)) (i64.const -3))
        (call $report)
        ;; a negative pid is no process, for every call
        (call $expect (call $monitor (i64.const -1)) (i64.const -2))
        (call $report)
        (call $expect32 (call $link (i64.const -1)) (i32.const -2))
        (call $expect32 (call $kill (i64.const -1)) (i32.const -2))
        (call $expect32 (call $exit_signal (i64.const -1) (i32.const 100) (i32.const 1)) (i32.const -2))
        (call $expect32 (call $exit_signal (i64.const 999) (i32.const 100) (i32.const 1)) (i32.const -2))
        (call $report)
        ;; the root has no captures
        (call $expect32 (call $spawn_args (i32.const 0) (i32.const 0)) (i32.const -3))
        (call $report)
        ;; the next spawn's bound: as `bound`'s arguments
        (call $expect32 (call $spawn_bound (i64.const 4) (i64.const 0) (i32.const 0)) (i32.const 0))
        (call $expect32 (call $spawn_bound (i64.const -1) (i64.const 0) (i32.const 0)) (i32.const -3))
        (call $expect32 (call $spawn_bound (i64.const 1) (i64.const 0) (i32.const 9)) (i32.const -3))
        (call $report)
        ;; hibernate_watch: no handle #0 in the captures; a pipe's writer cannot be waited on
        (call $expect32 (call $hibernate_watch (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)) (i32.const -8))
        (call $report)
        (call $expect32 (call $pipe (i32.const 200)) (i32.const 0))
        (call $expect32 (call $attach (i32.const 200) (i32.const 1)) (i32.const 0))
        (call $expect32 (call $hibernate_watch (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)) (i32.const -9))
        (call $report)"#,
    );
    assert_eq!(reason, ExitReason::Normal);
    assert_reports(
        &reports,
        &[
            "warren:process.spawn: unknown flags 0x6",
            "warren:process.spawn: monitor tag 12345 is not a reference",
            "warren:process.monitor: -1 is not a pid",
            "warren:process.exit_signal: no process 999",
            "warren:process.spawn_args: this process has no captures",
            "warren:process.spawn_bound: unknown policy 9",
            "warren:process.hibernate_watch: the captures carry 0 handles",
            "warren:process.hibernate_watch: handle #0 of the captures is a stream-writer",
        ],
    );
    // A reason that does not decode, and a buffer outside memory, trap the caller.
    traps(
        PROCESS,
        "(call $exit (i32.const 100) (i32.const 0))",
        "warren:process.exit: not an encoded exit reason",
    );
    traps(
        PROCESS,
        "(drop (call $exit_signal (i64.const 1) (i32.const 65535) (i32.const 2)))",
        "warren:process.exit_signal: buffer at 0xffff of 2 bytes is outside linear memory",
    );
}

const MESSAGE: &str = r#"
  (import "warren:message" "receive" (func $receive (param i64 i32 i32 i64 i32) (result i64)))
  (import "warren:message" "try_receive" (func $try_receive (param i64 i32 i32 i32) (result i64)))
  (import "warren:message" "take" (func $take (param i32 i32) (result i32)))
  (import "warren:message" "attach" (func $attach (param i32 i32) (result i32)))
  (import "warren:message" "claim" (func $claim (param i32) (result i64)))
  (import "warren:message" "await_room" (func $await_room (param i64 i32 i64) (result i32)))
  (import "warren:message" "bound" (func $bound (param i64 i64 i64 i32) (result i32)))
  (import "warren:message" "queued" (func $queued (result i64)))
  (import "warren:process" "self" (func $self (result i64)))"#;

#[test]
fn message_calls_answer_codes_and_trap_out_of_order() {
    let (reason, reports) = run(
        MESSAGE,
        r#"
        ;; the reserved exit tag, a negative pid, a dead pid
        (call $expect32 (call $send (i64.const 1) (i64.const 1) (i32.const 0) (i32.const 1)) (i32.const -3))
        (call $report)
        (call $expect32 (call $send (i64.const -4) (i64.const 0) (i32.const 0) (i32.const 1)) (i32.const -2))
        (call $expect32 (call $send (i64.const 999) (i64.const 0) (i32.const 0) (i32.const 1)) (i32.const -2))
        ;; room: at once for this node's pids, and for a pid of a node not connected (the
        ;; send says so); a negative pid is none
        (call $expect32 (call $await_room (call $self) (i32.const 100) (i64.const -1)) (i32.const 0))
        (call $expect32 (call $await_room (i64.const 0x50000000001) (i32.const 100) (i64.const -1)) (i32.const 0))
        (call $expect32 (call $await_room (i64.const -4) (i32.const 0) (i64.const -1)) (i32.const -2))
        ;; bounds: its own mailbox (pid 0 or its pid); a negative limit, an unknown policy; a
        ;; pid that is not alive; none queued
        (call $expect32 (call $bound (i64.const 0) (i64.const 1) (i64.const 0) (i32.const 1)) (i32.const 0))
        (call $expect32 (call $bound (call $self) (i64.const 0) (i64.const 0) (i32.const 0)) (i32.const 0))
        (call $expect32 (call $bound (i64.const 0) (i64.const -1) (i64.const 0) (i32.const 0)) (i32.const -3))
        (call $expect32 (call $bound (i64.const 0) (i64.const 1) (i64.const 0) (i32.const 9)) (i32.const -3))
        (call $expect32 (call $bound (i64.const 999) (i64.const 1) (i64.const 0) (i32.const 0)) (i32.const -2))
        (call $expect (call $queued) (i64.const 0))
        ;; a tag filter below -1; an empty mailbox with a zero timeout
        (call $expect (call $receive (i64.const -2) (i32.const 0) (i32.const 8) (i64.const 0) (i32.const 0)) (i64.const -3))
        (call $report)
        (call $expect (call $receive (i64.const 0) (i32.const 0) (i32.const 8) (i64.const 0) (i32.const 0)) (i64.const -1))
        (call $report)
        ;; try_receive: a bad filter is an error; an empty mailbox is ERR_TIMEOUT, which is
        ;; not a failure (last_error still tells the receive's)
        (call $expect (call $try_receive (i64.const -2) (i32.const 0) (i32.const 8) (i32.const 0)) (i64.const -3))
        (call $report)
        (call $expect (call $try_receive (i64.const 0) (i32.const 0) (i32.const 8) (i32.const 0)) (i64.const -1))
        (call $report)
        ;; a queued message is taken at once: its bytes and its tag
        (i32.store (i32.const 300) (i32.const 0x00636261))
        (i64.store (i32.const 408) (i64.const 77))
        (call $expect32 (call $send (call $self) (i64.const 0) (i32.const 300) (i32.const 3)) (i32.const 0))
        (call $expect (call $try_receive (i64.const 0) (i32.const 400) (i32.const 8) (i32.const 408)) (i64.const 3))
        (call $expect32 (i32.load (i32.const 400)) (i32.const 0x00636261))
        (call $expect (i64.load (i32.const 408)) (i64.const 0))
        (call $expect (call $queued) (i64.const 0))
        ;; nothing pending; no resource to claim; attaching a handle never opened
        (call $expect32 (call $take (i32.const 0) (i32.const 1)) (i32.const -3))
        (call $expect (call $claim (i32.const 0)) (i64.const -8))
        (i32.store (i32.const 200) (i32.const 77))
        (call $expect32 (call $attach (i32.const 200) (i32.const 1)) (i32.const -8))
        (call $report)"#,
    );
    assert_eq!(reason, ExitReason::Normal);
    assert_reports(
        &reports,
        &[
            "warren:message.send: tag 1 (EXIT_TAG) is reserved",
            "warren:message.receive: invalid tag filter -2",
            "warren:message.receive: no message came in time",
            "warren:message.try_receive: invalid tag filter -2",
            "warren:message.try_receive: invalid tag filter -2",
            "warren:message.attach: handle 77 is not open",
        ],
    );
    // A receive while a message is pending for `take`, and too many handles at once, trap.
    traps(
        MESSAGE,
        r#"(drop (call $send (call $self) (i64.const 0) (i32.const 0) (i32.const 4)))
           (drop (call $receive (i64.const 0) (i32.const 0) (i32.const 1) (i64.const -1) (i32.const 0)))
           (drop (call $receive (i64.const 0) (i32.const 0) (i32.const 1) (i64.const -1) (i32.const 0)))"#,
        "warren:message.receive: a pending message was not taken first",
    );
    traps(
        MESSAGE,
        r#"(drop (call $send (call $self) (i64.const 0) (i32.const 0) (i32.const 4)))
           (drop (call $try_receive (i64.const 0) (i32.const 0) (i32.const 1) (i32.const 0)))
           (drop (call $try_receive (i64.const 0) (i32.const 0) (i32.const 1) (i32.const 0)))"#,
        "warren:message.try_receive: a pending message was not taken first",
    );
    traps(
        MESSAGE,
        "(drop (call $attach (i32.const 0) (i32.const 1025)))",
        "warren:message.attach: 1025 handles in one message",
    );
}

#[test]
fn registry_and_timer_calls_answer_codes() {
    let imports = r#"
      (import "warren:registry" "register" (func $register (param i32 i32 i64) (result i32)))
      (import "warren:registry" "unregister" (func $unregister (param i32 i32) (result i32)))
      (import "warren:timer" "send_after" (func $send_after (param i64 i32 i32 i64) (result i64)))
      (import "warren:timer" "cancel" (func $cancel (param i64) (result i32)))
      (data (i32.const 300) "\ff\fe")
      (data (i32.const 310) "svc")"#;
    let (reason, reports) = run(
        imports,
        r#"
        ;; an empty name, a name that is not UTF-8, a negative pid, a taken name
        (call $expect32 (call $register (i32.const 310) (i32.const 0) (i64.const 1)) (i32.const -3))
        (call $report)
        (call $expect32 (call $register (i32.const 300) (i32.const 2) (i64.const 1)) (i32.const -3))
        (call $report)
        (call $expect32 (call $register (i32.const 310) (i32.const 3) (i64.const -1)) (i32.const -2))
        (call $expect32 (call $register (i32.const 0) (i32.const 4) (i64.const 2)) (i32.const -6))
        (call $report)
        ;; whereis / unregister of a name nobody has
        (call $expect (call $whereis (i32.const 310) (i32.const 3)) (i64.const -2))
        (call $expect32 (call $unregister (i32.const 310) (i32.const 3)) (i32.const -2))
        (call $report)
        ;; timers: a negative delay; cancelling a timer that is not the caller's
        (call $expect (call $send_after (i64.const 1) (i32.const 0) (i32.const 1) (i64.const -5)) (i64.const -3))
        (call $expect32 (call $cancel (i64.const 42)) (i32.const -7))
        (call $report)"#,
    );
    assert_eq!(reason, ExitReason::Normal);
    assert_reports(
        &reports,
        &[
            "warren:registry.register: the name is empty",
            "warren:registry.register: the name is not UTF-8 text",
            "warren:registry.register: the name \"host\" is already registered",
            "warren:registry.unregister: no process is named \"svc\"",
            "warren:timer.cancel: no pending timer 42",
        ],
    );
}

#[test]
fn log_calls_answer_codes_and_trap_for_bad_pointers() {
    let imports = r#"
      (import "warren:log" "record" (func $log (param i32 i32 i32 i32 i32) (result i32)))
      (import "warren:log" "max_level" (func $max_level (result i32)))
      (data (i32.const 300) "\ff\fe")
      (data (i32.const 310) "app")"#;
    let (reason, reports) = run(
        imports,
        r#"
        ;; levels outside 1..=5
        (call $expect32 (call $log (i32.const 0) (i32.const 310) (i32.const 3) (i32.const 310) (i32.const 3)) (i32.const -3))
        (call $report)
        (call $expect32 (call $log (i32.const 6) (i32.const 310) (i32.const 3) (i32.const 310) (i32.const 3)) (i32.const -3))
        ;; a target over 256 bytes, a message over 8192, text that is not UTF-8
        (call $expect32 (call $log (i32.const 3) (i32.const 310) (i32.const 257) (i32.const 310) (i32.const 3)) (i32.const -3))
        (call $report)
        (call $expect32 (call $log (i32.const 3) (i32.const 310) (i32.const 3) (i32.const 310) (i32.const 8193)) (i32.const -3))
        (call $report)
        (call $expect32 (call $log (i32.const 3) (i32.const 310) (i32.const 3) (i32.const 300) (i32.const 2)) (i32.const -3))
        (call $report)
        ;; a good record is emitted or filtered (no subscriber here), never an error
        (if (i32.lt_s (call $log (i32.const 1) (i32.const 310) (i32.const 3) (i32.const 310) (i32.const 3)) (i32.const 0))
          (then unreachable))
        (if (i32.gt_u (call $max_level) (i32.const 5)) (then unreachable))"#,
    );
    assert_eq!(reason, ExitReason::Normal);
    assert_reports(
        &reports,
        &[
            "warren:log.record: log level 0 is not one of 1 (error) to 5 (trace)",
            "warren:log.record: the log target is 257 bytes (at most 256)",
            "warren:log.record: the log message is 8193 bytes (at most 8192)",
            "warren:log.record: the log message is not UTF-8 text",
        ],
    );
    traps(
        imports,
        "(drop (call $log (i32.const 3) (i32.const 310) (i32.const 3) (i32.const 65530) (i32.const 100)))",
        "warren:log.record",
    );
}

const IO: &str = r#"
  (import "warren:stream" "read" (func $read (param i32 i32 i32) (result i64)))
  (import "warren:stream" "pipe" (func $pipe (param i32) (result i32)))
  (import "warren:stream" "copy" (func $copy (param i32 i32) (result i64)))
  (import "warren:stream" "future_poll" (func $fpoll (param i32 i32) (result i32)))
  (import "warren:resource" "drop" (func $drop (param i32) (result i32)))
  (import "warren:net" "tcp_connect" (func $connect (param i32 i32) (result i64)))
  (import "warren:net" "tcp_shutdown" (func $shutdown (param i32 i32) (result i32)))
  (import "warren:fs" "open" (func $open (param i32 i32 i32) (result i64)))
  (import "warren:fs" "seek" (func $seek (param i32 i64 i32) (result i64)))
  (import "warren:select" "wait" (func $select (param i32 i32 i64) (result i32)))
  (data (i32.const 300) "10.1.2.3:80")
  (data (i32.const 320) "/data/x")"#;

#[test]
fn io_calls_answer_codes_and_name_the_call() {
    let (reason, reports) = run(
        IO,
        r#"
        ;; a handle never opened; the wrong kind of handle (a pipe's writer is not readable)
        (call $expect (call $read (i32.const 99) (i32.const 0) (i32.const 8)) (i64.const -8))
        (call $report)
        (call $expect32 (call $pipe (i32.const 100)) (i32.const 0))
        (call $expect (call $read (i32.load (i32.const 100)) (i32.const 0) (i32.const 8)) (i64.const -9))
        (call $report)
        (call $expect32 (call $fpoll (i32.load (i32.const 104)) (i32.const 0)) (i32.const -9))
        ;; a copy of a pipe into itself would feed itself forever: refused
        (call $expect (call $copy (i32.load (i32.const 104)) (i32.load (i32.const 100))) (i64.const -3))
        (call $report)
        (call $expect32 (call $drop (i32.const 99)) (i32.const -8))
        ;; the network allow-list (loopback only) and the granted directories (none)
        (call $expect (call $connect (i32.const 300) (i32.const 11)) (i64.const -10))
        (call $report)
        (call $expect (call $open (i32.const 320) (i32.const 7) (i32.const 1)) (i64.const -10))
        (call $report)
        ;; unknown flags and modes are argument values: ERR_BAD_ARGUMENT
        (call $expect (call $open (i32.const 320) (i32.const 7) (i32.const 64)) (i64.const -3))
        (call $report)
        (call $expect32 (call $shutdown (i32.const 99) (i32.const 3)) (i32.const -3))
        (call $expect (call $seek (i32.const 99) (i64.const 0) (i32.const 9)) (i64.const -3))
        (call $report)
        ;; select: a dropped handle; a tag filter below -1; nothing ready in time
        (i32.store (i32.const 400) (i32.const 2))
        (i32.store (i32.const 404) (i32.const 99))
        (call $expect32 (call $select (i32.const 400) (i32.const 1) (i64.const 0)) (i32.const -8))
        (i32.store (i32.const 400) (i32.const 1))
        (i64.store (i32.const 408) (i64.const -5))
        (call $expect32 (call $select (i32.const 400) (i32.const 1) (i64.const 0)) (i32.const -3))
        (i64.store (i32.const 408) (i64.const 0))
        (call $expect32 (call $select (i32.const 400) (i32.const 1) (i64.const 0)) (i32.const -1))
        (call $report)"#,
    );
    assert_eq!(reason, ExitReason::Normal);
    assert_reports(
        &reports,
        &[
            "warren:stream.read: handle 99 is not open",
            "warren:stream.read: handle * is a stream-writer, expected a readable handle",
            "warren:stream.copy: ",
            "warren:net.tcp_connect: connecting to 10.1.2.3:80 is not allowed by the network allow-list",
            "warren:fs.open: \"/data/x\" is not under a granted directory",
            "warren:fs.open: unknown open flags 0x40",
            "warren:fs.seek: invalid whence 9",
            "warren:select.wait: nothing was ready in 0 ms",
        ],
    );
    traps(
        IO,
        "(drop (call $select (i32.const 0) (i32.const 0) (i64.const 0)))",
        "warren:select.wait: 0 entries",
    );
    traps(
        IO,
        "(drop (call $select (i32.const 500) (i32.const 1) (i64.const 0)))",
        "warren:select.wait: unknown entry kind 0",
    );
    traps(
        IO,
        "(drop (call $pipe (i32.const 65533)))",
        "warren:stream.pipe: buffer at 0xfffd of 8 bytes is outside linear memory",
    );
}

#[test]
fn node_calls_outside_a_cluster_answer_no_connection_and_remote_pids_are_not_reached() {
    let imports = r#"
      (import "warren:node" "this" (func $this (result i64)))
      (import "warren:node" "list" (func $list (param i32 i32) (result i64)))
      (import "warren:node" "name" (func $name (param i64 i32 i32) (result i64)))
      (import "warren:node" "lookup" (func $lookup (param i32 i32) (result i64)))
      (import "warren:node" "spawn" (func $nspawn (param i64 i32 i32 i32 i32 i64 i32 i64 i64) (result i64)))
      (import "warren:node" "register_global" (func $regg (param i32 i32 i64) (result i32)))
      (import "warren:node" "whereis_global" (func $whereg (param i32 i32) (result i64)))
      (import "warren:process" "monitor" (func $monitor (param i64) (result i64)))
      (import "warren:process" "kill" (func $kill (param i64) (result i32)))
      (import "warren:message" "receive" (func $receive (param i64 i32 i32 i64 i32) (result i64)))
      (data (i32.const 310) "svc")"#;
    let (reason, reports) = run(
        imports,
        r#"
        (local $tag i64)
        (call $expect (call $this) (i64.const 0))
        (call $expect (call $list (i32.const 400) (i32.const 4)) (i64.const 0))
        (call $expect (call $name (i64.const 1) (i32.const 400) (i32.const 16)) (i64.const -28))
        (call $report)
        (call $expect (call $lookup (i32.const 310) (i32.const 3)) (i64.const -28))
        (call $expect (call $nspawn (i64.const 1) (i32.const 0) (i32.const 0) (i32.const 0)
                                    (i32.const 0) (i64.const 0) (i32.const 0) (i64.const 0)
                                    (i64.const 0)) (i64.const -28))
        (call $expect32 (call $regg (i32.const 310) (i32.const 3) (i64.const 1)) (i32.const -28))
        (call $expect (call $whereg (i32.const 310) (i32.const 3)) (i64.const -28))
        ;; a pid of node 5: not reachable; its monitor's DOWN is noconnection at once
        (call $expect32 (call $kill (i64.const 0x50000000001)) (i32.const -2))
        (local.set $tag (call $monitor (i64.const 0x50000000001)))
        (call $expect (call $receive (local.get $tag) (i32.const 500) (i32.const 16)
                                     (i64.const 0) (i32.const 0)) (i64.const 1))
        (call $expect32 (i32.load8_u (i32.const 500)) (i32.const 8))
        ;; a list buffer outside memory traps
        (drop (call $list (i32.const 65530) (i32.const 4)))"#,
    );
    assert!(
        matches!(&reason, ExitReason::Trap(t) if t.contains("warren:node.list")),
        "{reason}"
    );
    assert_reports(
        &reports,
        &["warren:node.name: this runtime is not in a cluster*--cluster"],
    );
}

#[test]
fn http_calls_check_handles_modes_and_buffers() {
    let imports = r#"
      (import "warren:net" "tcp_bind" (func $bind (param i32 i32) (result i64)))
      (import "warren:http" "serve" (func $serve (param i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
      (import "warren:http" "next" (func $next (param i32) (result i64)))
      (import "warren:http" "request_head" (func $head (param i32 i32 i32) (result i64)))
      (import "warren:http" "respond" (func $respond (param i32 i32 i32 i32 i32 i32 i32) (result i64)))
      (import "warren:http" "ws_close" (func $wsclose (param i32 i32 i32 i32) (result i32)))
      (data (i32.const 310) "127.0.0.1:0")"#;
    let (reason, reports) = run(
        imports,
        r#"
        (local $l i32)
        (local.set $l (i32.wrap_i64 (call $bind (i32.const 310) (i32.const 11))))
        ;; an unknown mode, then a handle that is not a listener
        (call $expect32 (call $serve (local.get $l) (i32.const 7) (i32.const 0) (i32.const 0)
                                     (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
                                     (i32.const 400)) (i32.const -3))
        (call $report)
        (call $expect32 (call $serve (i32.const 999) (i32.const 0) (i32.const 0) (i32.const 0)
                                     (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
                                     (i32.const 400)) (i32.const -8))
        ;; a real server on the listener: (server, future) at 400
        (call $expect32 (call $serve (local.get $l) (i32.const 0) (i32.const 0) (i32.const 0)
                                     (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
                                     (i32.const 400)) (i32.const 0))
        ;; the listener is not a request, a connection or a websocket
        (call $expect (call $next (local.get $l)) (i64.const -9))
        (call $expect (call $head (local.get $l) (i32.const 500) (i32.const 16)) (i64.const -9))
        (call $report)
        (call $expect (call $respond (i32.const 999) (i32.const 200) (i32.const 0) (i32.const 0)
                                     (i32.const 0) (i32.const 0) (i32.const 0)) (i64.const -8))
        (call $expect32 (call $wsclose (local.get $l) (i32.const 1000) (i32.const 0) (i32.const 0))
                        (i32.const -9))
        ;; an out buffer outside memory traps
        (drop (call $serve (local.get $l) (i32.const 0) (i32.const 0) (i32.const 0)
                           (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
                           (i32.const 65532)))"#,
    );
    assert!(
        matches!(&reason, ExitReason::Trap(t) if t.contains("warren:http.serve")),
        "{reason}"
    );
    assert_reports(
        &reports,
        &[
            "warren:http.serve: unknown serving mode 7*",
            "warren:http.request_head: *http-request*",
        ],
    );
}
