//! Helpers shared by the integration tests: build the guest programs once per test binary,
//! run the real `warren` binary with a time limit.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Every guest the tests use. Built together, once, into `target/guests`.
pub const GUESTS: &[&str] = &[
    "hello",
    "ping_pong",
    "ring",
    "spawn_many",
    "plain",
    "echo",
    "chat",
    "proxy",
    "kv",
    "test_guest",
];

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// Path of a guest's `.wasm`, building all guests first (once per test binary; cargo makes it
/// a no-op when they are fresh). The guest target dir is separate from the one `cargo test`
/// holds locked.
pub fn guest(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let root = repo_root();
        let target = root.join("target/guests");
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.current_dir(&root)
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip1",
                "--target-dir",
            ])
            .arg(&target);
        for g in GUESTS {
            cmd.args(["-p", g]);
        }
        let status = cmd.status().expect("running cargo to build the guests");
        assert!(status.success(), "building the guests failed");
        target.join("wasm32-wasip1/release")
    });
    dir.join(format!("{name}.wasm"))
}

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
