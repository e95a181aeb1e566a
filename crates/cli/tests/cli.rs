//! The `warren` command: exit codes, one-line errors for bad files, flags, plain WASI
//! programs, the compiled-module cache, and hand-written modules that misuse the ABI.

mod common;
use common::{run_file, run_guest, warren};
use std::time::Duration;

#[test]
fn root_exit_codes_follow_the_root_process() {
    run_guest(&[], "test_guest", &["root_exit"]).assert_code(7);
    run_guest(&[], "test_guest", &["root_panic"])
        .assert_code(101)
        .assert_stderr_has(
            "root process 1 exited: panic: root says no at tests/guest/src/main.rs:",
        );
    run_guest(&[], "test_guest", &["root_trap"])
        .assert_code(1)
        .assert_stderr_has(
            "root process 1 exited: trap: wasm trap: wasm `unreachable` instruction executed",
        );
    run_guest(&[], "hello", &[]).assert_code(0);
}

#[test]
fn plain_wasi_program_runs_with_args_env_and_exit_code() {
    let run = run_guest(
        &["--env", "GREETING=hi", "--env", "EXIT_CODE=3"],
        "plain",
        &["a", "-b"],
    );
    run.assert_code(3)
        .assert_stdout_has("plain: args=[\"a\", \"-b\"]")
        .assert_stdout_has("plain: GREETING=hi");
}

fn one_line_error(run: &common::Run, needle: &str) {
    run.assert_code(2).assert_stderr_has(needle);
    assert_eq!(
        run.stderr.trim_end().lines().count(),
        1,
        "expected one line: {run:#?}"
    );
    assert!(!run.stderr.contains("backtrace"), "{run:#?}");
}

#[test]
fn bad_files_get_one_line_errors_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.wasm");
    one_line_error(
        &run_file(&[], &missing, &[]),
        "missing.wasm: cannot read: No such file",
    );

    let text = dir.path().join("notes.wasm");
    std::fs::write(&text, "hello, I am not wasm").unwrap();
    one_line_error(
        &run_file(&[], &text, &[]),
        "notes.wasm: not a WebAssembly module",
    );

    let corrupt = dir.path().join("corrupt.wasm");
    let mut bytes = std::fs::read(common::guest("plain")).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&corrupt, &bytes).unwrap();
    one_line_error(
        &run_file(&[], &corrupt, &[]),
        "corrupt.wasm: invalid module:",
    );

    let component = dir.path().join("component.wasm");
    std::fs::write(&component, b"\0asm\x0d\x00\x01\x00").unwrap();
    one_line_error(
        &run_file(&[], &component, &[]),
        "component.wasm: is a WebAssembly component",
    );

    let no_start = dir.path().join("no_start.wat");
    std::fs::write(&no_start, r#"(module (memory (export "memory") 1))"#).unwrap();
    one_line_error(
        &run_file(&[], &no_start, &[]),
        "no_start.wat: the module has no `_start` export",
    );

    let unknown_import = dir.path().join("unknown_import.wat");
    std::fs::write(
        &unknown_import,
        r#"(module (import "warren:process" "teleport" (func))
                   (memory (export "memory") 1) (func (export "_start")))"#,
    )
    .unwrap();
    one_line_error(
        &run_file(&[], &unknown_import, &[]),
        "unknown_import.wat: the module imports warren:process.teleport, which is not a function \
         of warren's ABI (docs/abi.md): was it built for another version of warren?",
    );
}

#[test]
fn max_memory_below_the_module_minimum_is_explained() {
    let plain = common::guest("plain");
    one_line_error(
        &run_file(&["--max-memory", "1M"], &plain, &[]),
        "plain.wasm: the module needs more memory at start than the memory limit per process allows (its memory has a minimum byte size of 1114112",
    );
}

#[test]
fn bad_flags_are_reported() {
    let plain = common::guest("plain");
    let run = run_file(&["--env", "NOEQUALS"], &plain, &[]);
    run.assert_code(2)
        .assert_stderr_has("--env \"NOEQUALS\": expected KEY=VALUE");
    let run = run_file(&["--dir", "/definitely/not/here"], &plain, &[]);
    run.assert_code(2).assert_stderr_has("not a directory");
    let run = run_file(&["--max-memory", "12Q"], &plain, &[]);
    run.assert_code(2).assert_stderr_has("is not a size");
    let run = run_file(&["--http-max-header-bytes", "1K"], &plain, &[]);
    run.assert_code(2).assert_stderr_has("is less than 8K");
    let run = run_file(&["--http-request-timeout", "0s"], &plain, &[]);
    run.assert_code(2)
        .assert_stderr_has("the time must be more than zero");
    let run = run_file(&["--http-header-timeout", "soon"], &plain, &[]);
    run.assert_code(2)
        .assert_stderr_has("is not a time like 30s, 500ms or 2m");
}

#[test]
fn help_describes_the_flags() {
    let out = warren().args(["run", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--env",
        "--dir",
        "--max-processes",
        "--max-memory",
        "--max-fuel",
        "--wait",
        "vm.max_map_count",
        "--http-max-header-bytes",
        "--http-max-body-bytes",
        "--http-request-timeout",
        "--http-header-timeout",
        "--http-max-connections",
        "--observe",
        "--observe-allow-kill",
    ] {
        assert!(help.contains(flag), "help lacks {flag}:\n{help}");
    }
}

#[test]
fn observer_flags_are_checked_and_a_busy_address_is_a_clear_error() {
    let hello = common::guest("hello");
    let hello = hello.to_str().unwrap();
    let bad = run_file_args(&["run", "--observe", "localhost", hello]);
    assert_eq!(bad.status.code(), Some(2), "a socket address is needed");
    let alone = run_file_args(&["run", "--observe-allow-kill", hello]);
    assert_eq!(
        alone.status.code(),
        Some(2),
        "--observe-allow-kill needs --observe"
    );
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let busy = run_file_args(&["run", "--observe", &addr, hello]);
    assert_ne!(busy.status.code(), Some(0));
    let err = String::from_utf8_lossy(&busy.stderr);
    assert!(
        err.contains(&format!("observer: cannot listen on {addr}")),
        "{err}"
    );
}

fn run_file_args(args: &[&str]) -> std::process::Output {
    warren().args(args).output().unwrap()
}

/// `--preinit` runs `warren_preinit` once at load and starts every process from the memory
/// it left; one that calls an import cannot be snapshotted, and the module runs as it is.
#[test]
fn preinit_snapshots_the_start_up_or_runs_the_module_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let module = |name: &str, preinit: &str| {
        let file = dir.path().join(name);
        std::fs::write(
            &file,
            format!(
                r#"(module
                  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
                  (memory (export "memory") 1)
                  (func (export "warren_preinit") {preinit})
                  (func (export "_start") (call $exit (i32.load (i32.const 2000)))))"#
            ),
        )
        .unwrap();
        file
    };
    // A cache of this test's own, so what earlier runs cached cannot answer for this one.
    let cache = dir.path().join("cache");
    let run = |flags: &[&str], file: &std::path::Path| {
        let mut cmd = warren();
        cmd.env("WARREN_CACHE_DIR", &cache)
            .arg("run")
            .args(flags)
            .arg(file);
        common::run_with_limit(&mut cmd, std::time::Duration::from_secs(120))
    };
    let stores = module("stores.wat", "(i32.store (i32.const 2000) (i32.const 42))");
    for _ in 0..2 {
        run(&["--preinit"], &stores).assert_code(42); // compiled, then from the cache
        run(&[], &stores).assert_code(0);
    }
    let calls = module("calls.wat", "(call $exit (i32.const 9))");
    // Said on every run: a module that could not be pre-initialised is not cached as one.
    for _ in 0..2 {
        run(&["--preinit"], &calls)
            .assert_code(0)
            .assert_stderr_has("not pre-initialised");
    }
}

/// A guest (a hand-written module, no SDK) calling the ABI with bad pointers traps alone, and
/// bad values come back as error codes.
#[test]
fn hand_written_module_misusing_the_abi() {
    let dir = tempfile::tempdir().unwrap();
    let codes = dir.path().join("codes.wat");
    std::fs::write(
        &codes,
        r#"(module
          (import "warren:message" "send" (func $send (param i64 i64 i32 i32) (result i32)))
          (import "warren:message" "take" (func $take (param i32 i32) (result i32)))
          (import "warren:message" "receive" (func $receive (param i64 i32 i32 i64 i32) (result i64)))
          (import "warren:process" "kill" (func $kill (param i64) (result i32)))
          (import "warren:process" "monitor" (func $monitor (param i64) (result i64)))
          (memory (export "memory") 1)
          (func (export "_start")
            ;; unknown pid: -2
            (if (i32.ne (call $send (i64.const 999999) (i64.const 0) (i32.const 0) (i32.const 4)) (i32.const -2))
              (then unreachable))
            ;; nothing pending: -3
            (if (i32.ne (call $take (i32.const 0) (i32.const 4)) (i32.const -3)) (then unreachable))
            ;; zero timeout with an empty mailbox: -1
            (if (i64.ne (call $receive (i64.const 0) (i32.const 0) (i32.const 16) (i64.const 0) (i32.const 0)) (i64.const -1))
              (then unreachable))
            ;; a message to itself (pid 1) with a buffer too small: pending, then taken
            (drop (call $send (i64.const 1) (i64.const 0) (i32.const 100) (i32.const 8)))
            (if (i64.ne (call $receive (i64.const 0) (i32.const 0) (i32.const 2) (i64.const -1) (i32.const 0)) (i64.const 8))
              (then unreachable))
            (if (i32.ne (call $take (i32.const 200) (i32.const 7)) (i32.const -3)) (then unreachable))
            (if (i32.ne (call $take (i32.const 200) (i32.const 8)) (i32.const 0)) (then unreachable))
            (if (i32.ne (call $kill (i64.const -1)) (i32.const -2)) (then unreachable))
            ;; a negative pid names no process, for every call: -2
            (if (i64.ne (call $monitor (i64.const -7)) (i64.const -2)) (then unreachable))
            ;; any negative tag filter but -1 is a bad argument: -3
            (if (i64.ne (call $receive (i64.const -5) (i32.const 0) (i32.const 2) (i64.const 0) (i32.const 0)) (i64.const -3))
              (then unreachable))))"#,
    )
    .unwrap();
    run_file(&[], &codes, &[]).assert_code(0);

    let cases = [
        (
            "(drop (call $send (i64.const 1) (i64.const 0) (i32.const 65530) (i32.const 100)))",
            "warren:message.send: buffer at 0xfffa of 100 bytes",
        ),
        (
            "(drop (call $send (i64.const 1) (i64.const 0) (i32.const -1) (i32.const -1)))",
            "warren:message.send: buffer at 0xffffffff of 4294967295 bytes",
        ),
        (
            "(drop (call $receive (i64.const 0) (i32.const 65536) (i32.const 1) (i64.const 0) (i32.const 0)))",
            "warren:message.receive: buffer at 0x10000 of 1 bytes",
        ),
        (
            "(drop (call $spawn (i32.const 0) (i32.const 0) (i32.const 70000) (i32.const 1) (i64.const 0) (i32.const 0) (i64.const 0) (i64.const 0)))",
            "warren:process.spawn: buffer at 0x11170",
        ),
        (
            "(call $exit (i32.const 0) (i32.const 3))",
            "warren:process.exit: not an encoded exit reason",
        ),
    ];
    for (i, (call, expected)) in cases.iter().enumerate() {
        let file = dir.path().join(format!("bad{i}.wat"));
        std::fs::write(
            &file,
            format!(
                r#"(module
                  (import "warren:message" "send" (func $send (param i64 i64 i32 i32) (result i32)))
                  (import "warren:message" "receive" (func $receive (param i64 i32 i32 i64 i32) (result i64)))
                  (import "warren:process" "spawn" (func $spawn (param i32 i32 i32 i32 i64 i32 i64 i64) (result i64)))
                  (import "warren:process" "exit" (func $exit (param i32 i32)))
                  (memory (export "memory") 1)
                  (data (i32.const 0) "\63\63\63")
                  (func (export "_start") {call}))"#
            ),
        )
        .unwrap();
        run_file(&[], &file, &[])
            .assert_code(1)
            .assert_stderr_has(expected);
    }
}

#[test]
fn second_run_uses_the_compiled_module_cache() {
    let cache = tempfile::tempdir().unwrap();
    let plain = common::guest("plain");
    let mut cmd = warren();
    cmd.env("WARREN_CACHE_DIR", cache.path())
        .arg("run")
        .arg(&plain);
    common::run_with_limit(&mut cmd, Duration::from_secs(120)).assert_code(0);
    let entries: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1, "one compiled module cached: {entries:?}");
    assert!(entries[0].extension().is_some_and(|e| e == "cwasm"));
    let written = std::fs::metadata(&entries[0]).unwrap().modified().unwrap();
    common::run_with_limit(&mut cmd, Duration::from_secs(120)).assert_code(0);
    let after = std::fs::metadata(&entries[0]).unwrap().modified().unwrap();
    assert_eq!(
        written, after,
        "the second run must load the cache, not recompile and rewrite it"
    );

    // A damaged cache entry is ignored and replaced, never fatal.
    std::fs::write(&entries[0], b"garbage").unwrap();
    common::run_with_limit(&mut cmd, Duration::from_secs(120)).assert_code(0);
    assert!(std::fs::metadata(&entries[0]).unwrap().len() > 1000);
}

#[test]
fn granted_directory_is_visible_to_the_guest_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x.txt"), "x").unwrap();
    let spec = format!("{}:/data", dir.path().display());
    run_guest(&["--dir", &spec, "--env", "LIST_DIR=/data"], "plain", &[])
        .assert_code(0)
        .assert_stdout_has("plain: /data: [\"x.txt\"]");
    run_guest(&["--env", "LIST_DIR=/data"], "plain", &[])
        .assert_code(0)
        .assert_stdout_has("plain: /data: [\"error:");
}

#[test]
fn asking_for_more_processes_than_the_os_allows_warns_once_with_the_fix() {
    let maps: u64 = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // One more process than the current vm.max_map_count supports.
    let n = (maps.saturating_sub(4096) / 6 + 1).to_string();
    let plain = common::guest("plain");
    let run = run_file(&["--max-processes", &n, "--max-memory", "2M"], &plain, &[]);
    run.assert_code(0)
        .assert_stderr_has("sysctl -w vm.max_map_count=");
    let warnings: Vec<_> = run
        .stderr
        .lines()
        .filter(|l| l.contains("vm.max_map_count"))
        .collect();
    assert_eq!(warnings.len(), 1, "{run:#?}");
}
