//! Helpers shared by the integration tests: build the guest programs once per test binary,
//! run the real `warren` binary with a time limit.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

#[path = "../../../../tests/support/guests.rs"]
mod guests;
#[allow(unused_imports)]
pub use guests::{guest, repo_root};

pub fn warren() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_warren"));
    // Tests share the compiled-module cache of the machine's user, like real runs do.
    cmd.env_remove("WARREN_LOG");
    cmd
}

/// What a run printed and how it ended.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "unexpected exit code; {self:#?}");
        self
    }

    pub fn assert_stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}; {self:#?}"
        );
        self
    }

    pub fn assert_stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}; {self:#?}"
        );
        self
    }

    pub fn stdout_lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

/// Run a command to its end, killing it if it takes longer than `limit` (a hung runtime
/// must fail the test, not hang the suite).
pub fn run_with_limit(cmd: &mut Command, limit: Duration) -> Run {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting warren");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("waiting for warren").is_some() {
            break;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collecting output");
            panic!(
                "warren did not finish within {limit:?}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("collecting output");
    Run {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// `warren run [flags] GUEST args...` with a two-minute limit.
pub fn run_guest(flags: &[&str], guest_name: &str, args: &[&str]) -> Run {
    let mut cmd = warren();
    cmd.arg("run").args(flags).arg(guest(guest_name)).args(args);
    run_with_limit(&mut cmd, Duration::from_secs(120))
}

/// `warren run [flags] FILE args...`.
pub fn run_file(flags: &[&str], file: &Path, args: &[&str]) -> Run {
    let mut cmd = warren();
    cmd.arg("run").args(flags).arg(file).args(args);
    run_with_limit(&mut cmd, Duration::from_secs(120))
}
