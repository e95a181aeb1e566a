//! The embedding example runs, and its guest used both warren's modules (spawn, messages,
//! the registry, host-side typed messages) and the host's own `embed:counter` module, whose
//! handles moved between processes.

#[path = "../../../tests/support/guests.rs"]
mod guests;

use std::process::Command;

#[test]
fn embed_host_runs_its_guest_with_both_kinds_of_module() {
    let out = Command::new(env!("CARGO_BIN_EXE_embed-host"))
        .arg(guests::guest("embed-guest"))
        .output()
        .expect("running embed-host");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "embed-host failed: {out:?}\n{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    // Four workers (warren:process), each reporting to the host's mailbox found by name
    // (warren:registry, warren:message) after adding to a counter whose handle it got in
    // its spawn captures (embed:counter through warren's resource table).
    let workers: Vec<&&str> = lines.iter().filter(|l| l.starts_with("worker ")).collect();
    assert_eq!(workers.len(), 4, "{stdout}");
    assert!(
        workers
            .iter()
            .any(|l| l.ends_with("(the counter was at 4000)")),
        "{stdout}"
    );
    assert_eq!(
        &lines[4..],
        [
            "the guest counted 4000",
            "root process exited: normal",
            "the host's counter says 4000",
            "processes left after shutdown: 0",
        ]
    );
}
