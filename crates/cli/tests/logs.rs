//! Logs (README, "Logs"): guests log with the `log` facade (and `tracing` through its `log`
//! feature); the host prints each record with the process's pid, name and node, filtered by
//! `--log` (the RUST_LOG syntax) and formatted by `--log-format`; crashes and supervisor
//! restarts are records too; a process logging in a loop is held to `--max-log-rate`. The
//! guest is `test_guest logs` / `log_flood` (tests/guest/src/logs.rs).

mod common;
use common::run_guest;
use serde_json::Value;
use std::collections::HashMap;

/// The pid each named process printed (`NAME is PID`).
fn pids(stdout: &str) -> HashMap<String, u64> {
    stdout
        .lines()
        .filter_map(|l| {
            let (name, pid) = l.split_once(" is ")?;
            Some((name.to_string(), pid.trim().parse().ok()?))
        })
        .collect()
}

/// stderr's JSON lines (every line must be one).
fn json_lines(stderr: &str) -> Vec<Value> {
    stderr
        .lines()
        .filter(|l| !l.starts_with("warren: "))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn field<'a>(record: &'a Value, name: &str) -> &'a Value {
    &record["fields"][name]
}

#[test]
fn records_carry_pid_name_level_and_target_as_json_lines() {
    let run = run_guest(&["--log-format", "json"], "test_guest", &["logs"]);
    run.assert_code(0).assert_stdout_has("logs done");
    let pids = pids(&run.stdout);
    let records = json_lines(&run.stderr);
    let find = |target: &str, message: &str| -> &Value {
        records
            .iter()
            .find(|r| r["target"] == target && field(r, "message") == message)
            .unwrap_or_else(|| panic!("no {target} record {message:?} in {records:#?}"))
    };
    for i in 0..3 {
        let name = format!("worker-{i}");
        let pid = pids[&name];
        let info = find("app::worker", &format!("hello from {i}"));
        assert_eq!(info["level"], "INFO");
        assert_eq!(field(info, "pid"), pid);
        assert_eq!(field(info, "name"), name.as_str());
        assert_eq!(field(info, "node"), 0);
        let warn = find("app::other", &format!("warning from {i}"));
        assert_eq!(warn["level"], "WARN");
        assert_eq!(field(warn, "pid"), pid);
    }
    // The default filter is `info`: no debug record.
    assert!(
        !records.iter().any(|r| r["level"] == "DEBUG"),
        "{records:#?}"
    );
    // `tracing` in the guest reaches the same logger (its fields are in the message).
    let traced = records
        .iter()
        .find(|r| r["target"] == "app::traced")
        .unwrap_or_else(|| panic!("no tracing record in {records:#?}"));
    let text = field(traced, "message").as_str().unwrap_or_default();
    assert!(
        text.contains("through tracing") && text.contains("answer"),
        "{text}"
    );
    // A crash is one error record, with the process's name and the panic message.
    let crash = records
        .iter()
        .find(|r| r["target"] == "warren::process" && field(r, "name") == "crasher")
        .unwrap_or_else(|| panic!("no crash record in {records:#?}"));
    assert_eq!(crash["level"], "ERROR");
    assert_eq!(field(crash, "pid"), pids["crasher"]);
    let text = field(crash, "message").as_str().unwrap_or_default();
    assert!(text.contains("panic: boom in the crasher"), "{text}");
    // Its panic is not printed a second time by the guest's default hook.
    assert!(!run.stderr.contains("panicked at"), "{}", run.stderr);
    // The supervisor's restart is a warn record of its own.
    let restart = records
        .iter()
        .find(|r| r["target"] == "warren::supervisor")
        .unwrap_or_else(|| panic!("no restart record in {records:#?}"));
    assert_eq!(restart["level"], "WARN");
    let text = field(restart, "message").as_str().unwrap_or_default();
    assert!(
        text.contains("\"flaky\"")
            && text.contains("flaky fails once")
            && text.contains("restarting"),
        "{text}"
    );
}

#[test]
fn the_filter_names_guest_targets_as_rust_log_does() {
    // Debug for one guest target only: nothing else is printed, crashes included.
    let run = run_guest(&["--log", "app::worker=debug"], "test_guest", &["logs"]);
    run.assert_code(0);
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| !l.starts_with("warren: "))
        .collect();
    for i in 0..3 {
        let name = format!("worker-{i}");
        for message in [format!("hello from {i}"), format!("debug from {i}")] {
            assert!(
                lines.iter().any(|l| l.contains("app::worker")
                    && l.contains(&message)
                    && l.contains(&format!("name=\"{name}\""))),
                "no {message:?} of {name} in {lines:#?}"
            );
        }
    }
    assert_eq!(lines.len(), 6, "{lines:#?}");
    // RUST_LOG is the default filter; --log wins over it.
    let mut cmd = common::warren();
    cmd.env("RUST_LOG", "app::other=warn")
        .args(["run"])
        .arg(common::guest("test_guest"))
        .arg("logs");
    let run = common::run_with_limit(&mut cmd, std::time::Duration::from_secs(120));
    let warnings = run
        .stderr
        .lines()
        .filter(|l| l.contains("app::other"))
        .count();
    assert_eq!(warnings, 3, "{}", run.stderr);
    assert!(!run.stderr.contains("app::worker"), "{}", run.stderr);
    // A filter that does not parse is refused before anything runs.
    let run = run_guest(&["--log", "app=loud"], "test_guest", &["logs"]);
    run.assert_code(2).assert_stderr_has("--log \"app=loud\"");
}

#[test]
fn a_logging_flood_is_held_to_the_rate_every_drop_counted_and_the_runtime_answers() {
    const COUNT: u64 = 200_000;
    let run = run_guest(
        &["--max-log-rate", "50", "--log-format", "json"],
        "test_guest",
        &["log_flood", &COUNT.to_string()],
    );
    run.assert_code(0)
        .assert_stdout_has(&format!("flood made {COUNT}"))
        .assert_stdout_has("pinged 1000 round trips")
        .assert_stdout_has("flood over");
    let records: Vec<Value> = json_lines(&run.stderr)
        .into_iter()
        .filter(|r| r["target"] == "app::flood")
        .collect();
    let emitted = records.len() as u64;
    let dropped: u64 = records
        .iter()
        .filter_map(|r| field(r, "dropped").as_u64())
        .sum();
    // Every record is accounted for: emitted, or dropped and counted on a later one.
    assert_eq!(
        emitted + dropped,
        COUNT + 1,
        "{emitted} emitted, {dropped} dropped"
    );
    // The first second's burst passes, then the rate holds: most were dropped.
    assert!(emitted >= 50, "{emitted} emitted");
    assert!(dropped > COUNT / 2, "{dropped} dropped of {COUNT}");
    let last = records.last().expect("the last record");
    assert_eq!(field(last, "message"), "flood over");
    assert!(field(last, "dropped").as_u64().is_some(), "{last}");
}

#[test]
fn stdio_prefix_marks_each_printed_line_with_its_pid() {
    let run = run_guest(&["--stdio-prefix"], "test_guest", &["logs"]);
    run.assert_code(0);
    for line in run.stdout.lines() {
        let (pid, rest) = line
            .strip_prefix('[')
            .and_then(|l| l.split_once("] "))
            .unwrap_or_else(|| panic!("an unprefixed line {line:?} in {}", run.stdout));
        // A process that says who it is says it under its own pid.
        if let Some((_, said)) = rest.split_once(" is ") {
            assert_eq!(pid, said, "{line}");
        }
    }
    assert!(run.stdout.contains("] worker-2 is "), "{}", run.stdout);
    assert!(run.stdout.contains("] logs done"), "{}", run.stdout);
}
