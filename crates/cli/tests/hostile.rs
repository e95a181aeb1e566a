//! Hostile guests against the real runtime (issue: no guest can crash, freeze or starve the
//! runtime). Each test runs a guest that tries one of the holes — a hand-written module, a
//! Rust scenario of `tests/guest`, or a module embedded through the library — and checks
//! that only the offender is affected and that it is told why.

mod common;
use common::{run_file, run_guest};
use std::time::Duration;
use warren_runtime::{ExitReason, Runtime};

/// A scenario of tests/guest/src/hostile.rs; it asserts inside and must end normally.
fn scenario(flags: &[&str], args: &[&str]) -> common::Run {
    let run = run_guest(flags, "test_guest", args);
    run.assert_code(0);
    run
}

/// `[7, 8 x 0] x 7281, 0`: a 64 KiB exit reason of nested `linked` kinds, as WAT data.
fn nested_reason() -> (String, usize) {
    let mut bytes = Vec::new();
    for _ in 0..7281 {
        bytes.push(7u8);
        bytes.extend_from_slice(&[0; 8]);
    }
    bytes.push(0);
    let text: String = bytes.iter().map(|b| format!("\\{b:02x}")).collect();
    (text, bytes.len())
}

#[test]
fn a_deeply_nested_exit_reason_ends_only_its_process() {
    let dir = tempfile::tempdir().unwrap();
    let (data, len) = nested_reason();
    for (name, call) in [
        (
            "exit",
            format!("(call $exit (i32.const 0) (i32.const {len}))"),
        ),
        (
            "exit_signal",
            format!("(drop (call $signal (call $self) (i32.const 0) (i32.const {len})))"),
        ),
    ] {
        let file = dir.path().join(format!("{name}.wat"));
        std::fs::write(
            &file,
            format!(
                r#"(module
  (import "warren:process" "exit" (func $exit (param i32 i32)))
  (import "warren:process" "exit_signal" (func $signal (param i64 i32 i32) (result i32)))
  (import "warren:process" "self" (func $self (result i64)))
  (memory (export "memory") 2)
  (data (i32.const 0) "{data}")
  (func (export "_start") {call}))"#
            ),
        )
        .unwrap();
        let run = run_file(&[], &file, &[]);
        // A clean trap of the root process (status 1), not an abort of the host (134).
        run.assert_code(1).assert_stderr_has(&format!(
            "warren:process.{name}: not an encoded exit reason"
        ));
    }
}

#[test]
fn a_text_module_may_begin_with_a_comment() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("commented.wat");
    std::fs::write(
        &file,
        ";; a guest written by hand\n(; a block (; nested ;) comment ;)\n\
         (module (memory (export \"memory\") 1) (func (export \"_start\")))",
    )
    .unwrap();
    run_file(&[], &file, &[]).assert_code(0);
}

#[test]
fn host_copies_yield_refuse_loops_and_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let flag = format!("{}:/data", dir.path().display());
    scenario(&["--dir", &flag], &["hostile_pumps"])
        .assert_stdout_has("host copies refused their loops, yielded and were bounded");
    // The file was never grown by a copy into itself.
    assert_eq!(
        std::fs::read(dir.path().join("grow")).unwrap(),
        b"0123456789"
    );
}

#[test]
fn quotas_end_only_the_offender() {
    scenario(&[], &["hostile_quotas", "16"])
        .assert_stdout_has("quotas ended only the offenders (16 names)");
}

#[test]
fn quotas_follow_the_command_line() {
    scenario(
        &[
            "--max-names",
            "3",
            "--max-timers",
            "5",
            "--max-mailbox",
            "4M",
        ],
        &["hostile_quotas", "3"],
    )
    .assert_stdout_has("quotas ended only the offenders (3 names)");
}

#[test]
fn a_fifo_in_a_granted_directory_does_not_block_a_worker() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let flag = format!("{}:/data", dir.path().display());
    scenario(&["--dir", &flag], &["hostile_fifo"]).assert_stdout_has("a fifo blocked no worker");
}

#[test]
fn the_module_cache_is_never_inside_a_granted_directory() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let module = dir.path().join("m.wat");
    std::fs::write(
        &module,
        "(module (memory (export \"memory\") 1) (func (export \"_start\")))",
    )
    .unwrap();
    let run = |flags: &[&str]| {
        let mut cmd = common::warren();
        cmd.env("WARREN_CACHE_DIR", &cache)
            .arg("run")
            .args(flags)
            .arg(&module);
        common::run_with_limit(&mut cmd, Duration::from_secs(60))
    };
    // Granting the directory that holds the cache: the cache is not used.
    let granted = format!("{}:/data", dir.path().display());
    run(&["--dir", &granted])
        .assert_code(0)
        .assert_stderr_has("not using the compiled-module cache");
    let entries = || std::fs::read_dir(&cache).map_or(0, |d| d.count());
    assert_eq!(entries(), 0);
    // Without the grant it is, and it is private.
    run(&[]).assert_code(0);
    assert_eq!(entries(), 1);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&cache).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    // A cache others may write to is not trusted.
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    run(&[])
        .assert_code(0)
        .assert_stderr_has("writable by nobody else");
}

/// Run `f` on a two-worker tokio runtime, as the CLI runs processes.
fn on_tokio<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// A runtime for a hand-written module, on the test's tokio runtime.
fn runtime_for(wat: &str) -> Runtime {
    Runtime::builder()
        .max_processes(100)
        .max_memory(1 << 20)
        .build_bytes(wat.as_bytes())
        .unwrap()
}

#[test]
fn a_kill_ends_a_process_waiting_in_its_start_function() {
    on_tokio(async {
        // The module's `start` function sleeps for a day during instantiation.
        let runtime = runtime_for(
            r#"(module
              (import "warren:timer" "sleep" (func $sleep (param i64)))
              (memory (export "memory") 1)
              (func $init (call $sleep (i64.const 86400000)))
              (start $init)
              (func (export "_start")))"#,
        );
        let started = runtime.start().unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(runtime.kill(started.pid));
        let reason = tokio::time::timeout(Duration::from_secs(10), started.exited())
            .await
            .expect("the kill ends instantiation");
        assert_eq!(reason, ExitReason::Killed);
        assert_eq!(runtime.process_count(), 0);
    });
}

#[test]
fn a_panicking_host_function_ends_only_its_caller() {
    on_tokio(async {
        let runtime = Runtime::builder()
            .max_processes(100)
            .max_memory(1 << 20)
            .host_module(|linker| {
                linker.func_wrap("test:host", "boom", || -> () {
                    panic!("an embedder's bug");
                })?;
                Ok(())
            })
            .build_bytes(
                br#"(module
                  (import "test:host" "boom" (func $boom))
                  (import "warren:message" "receive"
                    (func $receive (param i64 i32 i32 i64 i32) (result i64)))
                  (memory (export "memory") 1)
                  (func (export "_start")
                    ;; Wait for the host's word (so its monitor is in place), then call.
                    (drop (call $receive (i64.const 0) (i32.const 0) (i32.const 0)
                                         (i64.const -1) (i32.const 0)))
                    (call $boom))
                  (func (export "quiet")))"#,
            )
            .unwrap();
        let host = runtime.host_mailbox().unwrap();
        let started = runtime.start().unwrap();
        let watch = host.monitor(started.pid).unwrap();
        runtime.send(started.pid, &()).unwrap();
        let reason = tokio::time::timeout(Duration::from_secs(10), started.exited())
            .await
            .expect("the process ends");
        assert!(
            matches!(&reason, ExitReason::Trap(t) if t.contains("an embedder's bug")),
            "{reason}"
        );
        // Its monitors fire, the table forgets it, and the runtime goes on.
        assert_eq!(host.wait_exit(watch).await, reason);
        let other = runtime.start_export("quiet").unwrap();
        assert_eq!(other.exited().await, ExitReason::Normal);
        drop(host);
        assert_eq!(runtime.process_count(), 0);
    });
}

#[test]
fn timers_die_with_the_process_that_set_them() {
    on_tokio(async {
        // A process sets a timer for a day, to itself and to another pid, then ends.
        let runtime = runtime_for(
            r#"(module
              (import "warren:timer" "send_after" (func $after (param i64 i32 i32 i64) (result i64)))
              (import "warren:process" "self" (func $self (result i64)))
              (memory (export "memory") 1)
              (func (export "_start")
                (drop (call $after (call $self) (i32.const 0) (i32.const 1) (i64.const 86400000)))
                (drop (call $after (i64.const 1) (i32.const 0) (i32.const 1) (i64.const 86400000)))))"#,
        );
        let host = runtime.host_mailbox().unwrap();
        let started = runtime.start().unwrap();
        assert_eq!(started.exited().await, ExitReason::Normal);
        assert_eq!(runtime.pending_timers(), 0);
        drop(host);
    });
}

#[test]
fn a_process_whose_granted_directory_cannot_be_opened_ends_with_the_reason() {
    on_tokio(async {
        let dir = tempfile::tempdir().unwrap();
        let granted = dir.path().join("granted");
        std::fs::create_dir(&granted).unwrap();
        // Any WASI call builds the process's WASI context, preopens included.
        let runtime = Runtime::builder()
            .max_processes(10)
            .max_memory(1 << 20)
            .dir(&granted, "/data")
            .build_bytes(
                br#"(module
                  (import "wasi_snapshot_preview1" "args_sizes_get"
                    (func $sizes (param i32 i32) (result i32)))
                  (memory (export "memory") 1)
                  (func (export "_start")
                    (drop (call $sizes (i32.const 0) (i32.const 4)))
                    (loop $forever (br $forever))))"#,
            )
            .unwrap();
        std::fs::remove_dir(&granted).unwrap();
        let started = runtime.start().unwrap();
        let reason = tokio::time::timeout(Duration::from_secs(10), started.exited())
            .await
            .expect("the process ends");
        assert!(
            matches!(&reason, ExitReason::Trap(t) if t.starts_with("WASI: cannot open the granted directory")),
            "{reason}"
        );
    });
}
