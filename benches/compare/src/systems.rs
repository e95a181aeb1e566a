//! How each system runs a workload: the command lines, and reading their `result` lines.

use anyhow::{Context, bail};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The three systems compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum System {
    Warren,
    Beam,
    Tokio,
}

impl System {
    pub const ALL: [System; 3] = [System::Warren, System::Beam, System::Tokio];

    pub fn name(self) -> &'static str {
        match self {
            System::Warren => "warren",
            System::Beam => "Erlang/OTP",
            System::Tokio => "tokio",
        }
    }
}

/// Where the programs are.
pub struct Paths {
    pub warren: PathBuf,
    pub guest: PathBuf,
    pub echo_guest: PathBuf,
    pub tokio: PathBuf,
    /// Directory holding bench.beam.
    pub erlang: PathBuf,
}

impl Paths {
    pub fn new(root: &Path) -> Paths {
        let guests = root.join("target/guests/wasm32-wasip1/release");
        Paths {
            // `WARREN_BIN`: another warren (a build to compare with, or a script that runs
            // this one with other flags) for an A/B run.
            warren: std::env::var_os("WARREN_BIN")
                .map(PathBuf::from)
                .unwrap_or_else(|| root.join("target/release/warren")),
            guest: guests.join("compare-guest.wasm"),
            echo_guest: guests.join("echo.wasm"),
            tokio: root.join("target/release/compare-tokio"),
            erlang: root.join("target/compare-erlang"),
        }
    }

    /// The command that runs `workload args` on `system`. `processes` bounds warren's
    /// process table (the others need no such setting beyond BEAM's `+P`).
    pub fn command(
        &self,
        system: System,
        workload: &str,
        args: &[String],
        processes: usize,
    ) -> Command {
        match system {
            System::Warren => {
                let mut c = Command::new(&self.warren);
                c.arg("run")
                    .arg("--max-processes")
                    .arg(processes.to_string())
                    .args(["--dir", "/proc:/proc"]);
                if workload == "hibernate" || workload == "wake" {
                    // Hibernated processes need no instance: a small pool suffices.
                    c.args(["--max-instances", "2000"]);
                }
                if workload == "echo" {
                    c.arg(&self.echo_guest);
                } else {
                    c.arg(&self.guest).arg(workload);
                }
                c.args(args);
                c
            }
            System::Beam => {
                let mut c = Command::new("erl");
                c.args(["-noshell", "+P", "10000000", "-pa"])
                    .arg(&self.erlang)
                    .args(["-s", "bench", "main", workload]);
                if workload == "echo" {
                    // bench:run(echo) takes a port and listens on loopback.
                    c.arg("0");
                } else {
                    c.args(args);
                }
                c.args(["-s", "init", "stop"]);
                c
            }
            System::Tokio => {
                let mut c = Command::new(&self.tokio);
                c.arg(workload).args(args);
                c
            }
        }
    }
}

/// Show a command as it would be typed.
pub fn show(c: &Command) -> String {
    let mut parts = vec![c.get_program().to_string_lossy().into_owned()];
    parts.extend(c.get_args().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}

/// Run a workload to its end and return the value of its `result` line.
pub fn measure(mut cmd: Command, limit: Duration) -> anyhow::Result<f64> {
    let shown = show(&cmd);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {shown}"))?;
    let start = Instant::now();
    while child.try_wait()?.is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            bail!("{shown} took longer than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix("result ")?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .with_context(|| {
            format!(
                "no result from {shown} ({}):\n{stdout}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

/// A server child process, killed when dropped, and the address it listens on.
pub struct Server(Child, pub String);

impl Server {
    pub fn start(mut cmd: Command) -> anyhow::Result<Server> {
        let shown = show(&cmd);
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {shown}"))?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
        let addr = line
            .split("listening on ")
            .nth(1)
            .with_context(|| format!("no address in {shown}'s first line {line:?}"))?
            .trim()
            .to_string();
        // Let it settle (BEAM's schedulers, warren's pools).
        std::thread::sleep(Duration::from_millis(300));
        Ok(Server(child, addr))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
